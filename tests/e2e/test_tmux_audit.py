"""The audit in a real terminal: `maildoctor --flow smtp-audit` in tmux against a lab this process
runs (the seed incident's account), driven by keys and read back with `capture-pane`. The walk ends on
the walk; enter opens the audit screen, whose row for the new key carries the seed's code and whose
evidence names the old key that Gmail still holds; y copies the runbook's commands; q quits with the
findings' exit status."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from maildoctor.lab import Lab
from maildoctor.lab.scenario import load_scenario
from tests.e2e.test_tmux_demo import POLL, Terminal, short_folder

NEW_KEY, OLD_KEY = "AKIAEXAMPLENEWKEY002", "AKIAEXAMPLEOLDKEY001"
CODE = "smtp-key-unused-since-rotation"
HELD = re.compile(rf"A client still holds\s+{OLD_KEY}")


def flat(screen: str) -> str:
    """The screen's words on one line: a status line wraps where the terminal's width has it."""
    return " ".join(screen.split())


def row_of(screen: str, key: str) -> str | None:
    """The table line that shows ``key``, or None."""
    return next((line for line in screen.splitlines() if key in line and "│" not in line), None)


@pytest.mark.timeout(150)
def test_the_audit_screen_in_a_real_terminal(tmp_path: Path, lab: Lab) -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    lab.load(load_scenario("seed-incident"))
    state = short_folder() / "s"
    term = Terminal(tmp_path, size=(100, 40))
    term.env |= lab.env()  # the TUI's AWS calls go to this process's lab
    for name in ("COLUMNS", "LINES"):  # xdist's workers set 80×24, which Rich takes over the pane's size
        term.env.pop(name, None)
    try:
        argv = [sys.executable, "-m", "maildoctor", "--flow", "smtp-audit", "--state-dir", str(state)]
        term.start(argv, cwd=tmp_path)
        term.wait_for("the audit's form", lambda s: "Audit the SES SMTP credentials" in s and "Start" in s)
        term.keys("Enter")

        # the walk ends on the walk, and says that enter opens the audit
        term.wait_for("the finished audit walk", lambda s: f"most likely {CODE} · ⏎: the audit" in flat(s))
        term.keys("Enter")
        screen = term.wait_for(
            "the audit screen", lambda s: f"Most likely root cause: {CODE}" in flat(s) and "Copy runbook" in s
        )

        # the row of the new key carries the seed's code; the selected key's evidence names the old key
        row = row_of(screen, NEW_KEY)
        assert row is not None and CODE in row, screen
        assert screen.index(NEW_KEY) < screen.index("AKIAEXAMPLEALICE0003")  # the first row, selected
        term.wait_for(f"the evidence that a client holds {OLD_KEY}", lambda s: HELD.search(s) is not None)

        # y: exactly the runbook's commands, which a shell can run as they are
        term.keys("y")
        copied = ""
        end = time.monotonic() + 10
        while not copied and time.monotonic() < end:
            copied = term.clipboard()
            time.sleep(POLL)
        assert "maildoctor smtp-password --region us-east-1\n" in copied, copied
        assert f"--set smtp_username={NEW_KEY}" in copied and "**" not in copied
        check = subprocess.run(["sh", "-n"], input=copied, text=True, capture_output=True)
        assert check.returncode == 0, check.stderr

        # f: every finding, the rotation alert's among them; b back to the audit
        term.keys("f")
        term.wait_for("the findings", lambda s: "rotation-alert-missing" in s and "Copy commands" in s)
        term.keys("b")
        term.wait_for("the audit again", lambda s: "Copy runbook" in s and row_of(s, NEW_KEY) is not None)

        term.keys("q")
        status = term.wait_exit("maildoctor")
        assert status == "1", f"exit status {status} (findings: 1); the screen:\n{term.screen()}"
        transcripts = sorted((state / "transcripts").glob("*.jsonl"))
        assert len(transcripts) == 1 and CODE in transcripts[0].read_text(encoding="utf-8")
    finally:
        term.kill()
