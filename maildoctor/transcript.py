"""Transcripts: every session appended to a JSONL file as each step finishes, and exported later.

Each line is flushed and fsynced when written, so a crash loses no finished step. The writer listens to
a :class:`maildoctor.session.Session`, whose events are already redacted: secret values never reach
the disk.
"""

from __future__ import annotations

import json
import os
import secrets as random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from maildoctor import report
from maildoctor.engine import Event, FindingMade, StepFinished, Walk, WalkFinished, WalkStarted, WalkTruncated
from maildoctor.errors import MaildoctorError


class TranscriptError(MaildoctorError):
    pass


def transcripts_dir(state_dir: Path) -> Path:
    return state_dir / "transcripts"


def new_session_id(flow: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{flow}-{random.token_hex(2)}"


class TranscriptWriter:
    """A session listener that autosaves the walk (its events arrive redacted)."""

    def __init__(self, state_dir: Path, walk: Walk, redact: report.Redactor) -> None:
        self.walk = walk
        self.redact = redact  # the session's: events come redacted, the header is redacted here
        self.session = new_session_id(walk.flow.name)
        folder = transcripts_dir(state_dir)
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.path = folder / f"{self.session}.jsonl"
            self._file: IO[str] | None = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (kept open)
        except OSError as exc:
            raise TranscriptError(f"cannot write transcripts in {folder}: {exc.strerror}") from None

    def __call__(self, event: Event) -> None:
        if isinstance(event, WalkStarted):
            self._write({"type": "session", **self.redact(report.header_dict(self.walk, self.session))})
        elif isinstance(event, StepFinished):
            self._write({"type": "step", **report.step_dict(event.step)})
        elif isinstance(event, FindingMade):
            self._write({"type": "finding", **report.finding_dict(event.finding)})
        elif isinstance(event, WalkTruncated):
            self._write({"type": "truncate", "index": event.index})
        elif isinstance(event, WalkFinished):
            self._write(
                {
                    "type": "end",
                    "complete": self.walk.complete,
                    "incomplete_reason": self.walk.incomplete_reason,
                    "finished_at": self.walk.finished_at,
                }
            )

    def interrupted(self, reason: str = "interrupted") -> None:
        self._write({"type": "end", "complete": False, "incomplete_reason": reason, "finished_at": None})

    def _write(self, record: dict[str, Any]) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass
class SessionInfo:
    path: Path
    session: str
    flow: str
    started_at: str
    steps: int
    diagnosis: str
    complete: bool


def load(path: Path) -> dict[str, Any]:
    """Rebuild the report of a saved session (tolerating a torn last line after a crash)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TranscriptError(f"{path}: cannot read: {exc.strerror}") from None
    header: dict[str, Any] | None = None
    steps: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    end: dict[str, Any] = {
        "complete": False,
        "incomplete_reason": "the session ended without finishing",
        "finished_at": None,
    }
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                break  # torn final write
            raise TranscriptError(f"{path}:{number}: not a transcript line") from None
        kind = record.pop("type", None)
        if kind == "session":
            header = record
        elif kind == "step":
            del steps[record["index"] :]
            steps.append(record)
        elif kind == "finding":
            findings.append(record)
        elif kind == "truncate":
            del steps[record["index"] :]
            findings = [f for f in findings if f["step_index"] < record["index"]]
        elif kind == "end":
            end = record
    if header is None:
        raise TranscriptError(f"{path}: not a maildoctor transcript (no session line)")
    return report.assemble(
        header, steps, findings, end["complete"], end["incomplete_reason"], end["finished_at"]
    )


def list_sessions(state_dir: Path) -> list[SessionInfo]:
    sessions = []
    for path in sorted(transcripts_dir(state_dir).glob("*.jsonl")):
        try:
            data = load(path)
        except TranscriptError:
            continue
        sessions.append(
            SessionInfo(
                path,
                data["session"],
                data["flow"],
                data["started_at"],
                len(data["steps"]),
                data["diagnosis"]["code"],
                data["complete"],
            )
        )
    return sessions


def resolve(state_dir: Path, ref: str) -> Path:
    """A transcript by path, by session id, or 'latest'."""
    candidate = Path(ref).expanduser()
    if candidate.is_file():
        return candidate
    folder = transcripts_dir(state_dir)
    if ref == "latest":
        found = sorted(folder.glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
        if found:
            return found[-1]
        raise TranscriptError(f"no saved sessions in {folder}")
    by_id = folder / f"{ref}.jsonl"
    if by_id.is_file():
        return by_id
    raise TranscriptError(f"no transcript {ref!r}: not a file, and no session with that id in {folder}")
