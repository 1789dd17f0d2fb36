"""Headless progress on a terminal's stderr: a line per step, rewritten in place while a slow check
tells how far it has got."""

from __future__ import annotations

import io

from maildoctor.engine import Step, StepFinished, StepProgress, StepStarted
from maildoctor.headless import Progress


def test_a_running_check_rewrites_its_line_with_its_progress_then_ends_it() -> None:
    out = io.StringIO()
    show = Progress(out)
    show(StepStarted(3, "suppression", "Suppression lists", "Recipient", "check"))
    show(StepProgress(3, "suppression", "12 of 33 regions read"))
    step = Step(3, "suppression", "check", "Suppression lists", "Recipient", "pass", "not suppressed")
    show(StepFinished(step))
    text = out.getvalue()
    assert "… Suppression lists: 12 of 33 regions read\r" in text
    # the line is cleared before the finished step is written over it
    assert text.endswith("\x1b[2K✔ Suppression lists: not suppressed\n")
    assert text.index("12 of 33") < text.index("not suppressed")
