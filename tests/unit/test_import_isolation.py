"""The engine, checks and headless runner import no textual module (DESIGN.md: one direction of flow)."""

from __future__ import annotations

import subprocess
import sys

MODULES = [
    "maildoctor.engine",
    "maildoctor.checks",
    "maildoctor.headless",
    "maildoctor.cli",
    "maildoctor.transcript",
    "maildoctor.render",
    "maildoctor.flow.load",
    "maildoctor.clients",
    "maildoctor.config",
    "maildoctor.keymap",
]


def test_core_modules_import_no_textual() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {MODULES!r}:\n    importlib.import_module(name)\n"
        "from maildoctor.checks.registry import default_registry\ndefault_registry()\n"
        "print(sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
