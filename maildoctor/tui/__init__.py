"""The terminal UI (Textual). Only this package imports textual; the CLI imports it lazily.

``run_tui(flow=..., prefill=..., settings=..., keymap=..., on_ready=...)`` runs it and returns the exit
status; ``MaildoctorApp`` is the App itself (for tests and embedding).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from maildoctor.tui.app import MaildoctorApp, run_tui

__all__ = ["MaildoctorApp", "run_tui"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from maildoctor.tui import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
