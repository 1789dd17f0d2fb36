"""The headless runner: walk a flow without a screen and print the report (never imports textual)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from maildoctor import render, report
from maildoctor.clients.settings import Settings
from maildoctor.engine import Event, StepFinished, StepProgress, StepStarted
from maildoctor.errors import MaildoctorError
from maildoctor.flow.model import Flow
from maildoctor.session import Session, prepare_credentials
from maildoctor.transcript import new_session_id

EXTENSIONS = {"text": "txt", "json": "json", "markdown": "md"}


class OutputError(MaildoctorError):
    """``--output`` names a place the report cannot be written (exit code 2, before any walk)."""


def shows_progress(fmt: str, stderr_is_terminal: bool) -> bool:
    """Whether the walk prints each step on stderr as it finishes: only for ``--format text`` with
    stderr on a terminal (a pipe, a log file, json and markdown get nothing extra on stderr)."""
    return fmt == "text" and stderr_is_terminal


def check_output(path: Path) -> None:
    """Refuse, before the walk, an ``--output`` that cannot be written: a folder, a missing or
    read-only folder, a read-only file."""
    where = f"--output {path}"
    try:
        if path.is_dir():
            raise OutputError(f"{where}: is a folder; give a file name (e.g. {path / 'report.md'})")
        folder = path.parent
        if not folder.exists():
            raise OutputError(f"{where}: the folder {folder} does not exist")
        if not folder.is_dir():
            raise OutputError(f"{where}: {folder} is not a folder")
        if path.exists():
            if not os.access(path, os.W_OK):
                raise OutputError(f"{where}: the file is not writable")
        elif not os.access(folder, os.W_OK | os.X_OK):
            raise OutputError(f"{where}: cannot create files in {folder} (permission denied)")
    except (OSError, ValueError) as exc:
        raise OutputError(f"{where}: cannot be used ({getattr(exc, 'strerror', None) or exc})") from None


def write_report(text: str, output: Path, fmt: str, state_dir: Path, session_id: str) -> str | None:
    """Write the report to ``output``. When that fails, save it in ``<state>/reports/<session>.<ext>``
    (or, failing that too, print it on stdout) and return the line to show on stderr: the report is
    never lost."""
    try:
        output.write_text(text, encoding="utf-8")
        return None
    except OSError as exc:
        why = exc.strerror or str(exc)
    saved = state_dir / "reports" / f"{session_id}.{EXTENSIONS.get(fmt, 'txt')}"
    try:
        saved.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        saved.write_text(text, encoding="utf-8")
    except OSError as exc:
        sys.stdout.write(text)
        sys.stdout.flush()
        return (
            f"maildoctor: could not write the report to {output} ({why}), nor to {saved} "
            f"({exc.strerror or exc}); it is printed on stdout instead"
        )
    return f"maildoctor: could not write the report to {output} ({why}); saved it to {saved}"


class Progress:
    """One line per step on stderr, so that a slow check is visibly running (only on a terminal)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.titles: dict[int, str] = {}

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepStarted) and event.kind == "check":
            self.titles[event.index] = event.title
            self.stream.write(f"… {event.title}\r")
            self.stream.flush()
        elif isinstance(event, StepProgress):  # the same line, rewritten: how far the check has got
            self.stream.write(f"\x1b[2K… {self.titles.get(event.index, '')}: {event.text}\r")
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
    renderer: Callable[[str, Mapping[str, Any]], str] | None = None,
) -> int:
    """Walk ``flow`` and write the report; returns the exit status of CONTRACT.md.

    ``renderer(fmt, report)`` writes the report (default: ``render.FORMATS``; the audit has its own).
    A bad ``output`` is refused before anything is walked (OutputError)."""
    if output is not None:
        check_output(output)
    problem = prepare_credentials(flow, settings)
    if problem is not None:
        sys.stderr.write(f"maildoctor: {problem} (the AWS steps are reported as not checked)\n")
    session = Session(flow, inputs, settings, autosave=autosave)
    if shows_progress(fmt, _is_terminal(sys.stderr)):
        session.subscribe(Progress(sys.stderr))
    try:
        asyncio.run(session.run())
    except KeyboardInterrupt:
        session.interrupt()
        raise
    finally:
        session.close()
    data = session.report()
    text = renderer(fmt, data) if renderer is not None else render.FORMATS[fmt](data)
    if output is None:
        sys.stdout.write(text)
    else:
        trouble = write_report(
            text,
            output,
            fmt,
            settings.resolved_state_dir(),
            session.session_id or new_session_id(flow.name),
        )
        if trouble:
            sys.stderr.write(trouble + "\n")
    if session.writer and sys.stderr.isatty():
        sys.stderr.write(f"transcript saved: {session.writer.path}\n")
    return report.exit_code(data)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
