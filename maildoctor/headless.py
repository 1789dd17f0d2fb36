"""The headless runner: walk a flow without a screen and print the report (never imports textual)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from maildoctor import render, report
from maildoctor.clients.settings import Settings
from maildoctor.engine import Event, StepFinished, StepStarted
from maildoctor.flow.model import Flow
from maildoctor.session import Session


class Progress:
    """One line per step on stderr, so that a slow check is visibly running (only on a terminal)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepStarted) and event.kind == "check":
            self.stream.write(f"… {event.title}\r")
            self.stream.flush()
        elif isinstance(event, StepFinished):
            step = event.step
            icon = render.ICONS.get(step.status, "?")
            self.stream.write(f"\x1b[2K{icon} {step.title}: {step.summary}\n")
            self.stream.flush()


def run(
    flow: Flow,
    inputs: Mapping[str, str],
    settings: Settings,
    *,
    fmt: str = "text",
    output: Path | None = None,
    autosave: bool = True,
) -> int:
    """Walk ``flow`` and write the report; returns the exit status of CONTRACT.md."""
    session = Session(flow, inputs, settings, autosave=autosave)
    if sys.stderr.isatty() and (output is not None or not sys.stdout.isatty() or fmt != "text"):
        session.subscribe(Progress(sys.stderr))
    try:
        asyncio.run(session.run())
    except KeyboardInterrupt:
        session.interrupt()
        raise
    finally:
        session.close()
    data = session.report()
    text = render.FORMATS[fmt](data)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
    if session.writer and sys.stderr.isatty():
        sys.stderr.write(f"transcript saved: {session.writer.path}\n")
    return report.exit_code(data)
