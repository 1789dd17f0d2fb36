"""Transcripts: every session appended to a JSONL file as each step finishes, and exported later.

Each line is flushed and fsynced when written, so a crash loses no finished step. The writer listens to
a :class:`maildoctor.session.Session`, whose events are already redacted: secret values never reach
the disk.
"""

from __future__ import annotations

import json
import os
import secrets as random
from collections.abc import Callable
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


_OPT_STR = (str, type(None))
_OPT_INT = (int, type(None))
# the fields every record of a kind must have (as the writer writes them), with their JSON types
_SHAPES: dict[str, dict[str, tuple[type, ...]]] = {
    "session": {"session": (str,), "flow": (str,), "inputs": (dict,), "started_at": _OPT_STR},
    "step": {
        "index": (int,),
        "node": (str,),
        "kind": (str,),
        "title": (str,),
        "layer": _OPT_STR,
        "check": _OPT_STR,
        "status": (str,),
        "outcome": _OPT_STR,
        "summary": (str,),
        "facts": (dict,),
        "evidence": (list,),
    },
    "finding": {
        "code": (str,),
        "severity": (str,),
        "title": (str,),
        "summary": (str,),
        "remedy": (str,),
        "facts": (dict,),
        "node": (str,),
        "rank": (int,),
        "step_index": (int,),
    },
    "truncate": {"index": (int,)},
    "end": {"complete": (bool,), "incomplete_reason": _OPT_STR, "finished_at": _OPT_STR},
}


def _shape_problem(kind: str, record: dict[str, Any]) -> str | None:
    for name, types in _SHAPES.get(kind, {}).items():
        if name not in record:
            return f"a {kind} line without its '{name}' field"
        value = record[name]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            return f"a {kind} line whose '{name}' is {type(value).__name__}"
    if kind == "session" and not all(isinstance(v, str) for v in record["inputs"].values()):
        return "a session line whose inputs are not all text"
    if kind == "step" and not all(
        isinstance(e, dict) and isinstance(e.get("title"), str) and isinstance(e.get("text"), str)
        for e in record["evidence"]
    ):
        return "a step line whose evidence is not a list of {title, text}"
    return None


def load(path: Path) -> dict[str, Any]:
    """Rebuild the report of a saved session (tolerating a torn last line after a crash). A file
    that is missing, unreadable, binary or not a transcript is one TranscriptError naming it."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise TranscriptError(f"{path}: is a folder, not a transcript file") from None
    except OSError as exc:
        raise TranscriptError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if b"\x00" in data:
        raise TranscriptError(f"{path}: not a maildoctor transcript (binary data, NUL bytes)")
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise TranscriptError(f"{path}: not a maildoctor transcript (not UTF-8 text)") from None
    header: dict[str, Any] | None = None
    steps: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    end: dict[str, Any] = {
        "complete": False,
        "incomplete_reason": "the session ended without finishing",
        "finished_at": None,
    }
    last = max((n for n, line in enumerate(lines, 1) if line.strip()), default=0)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            if number == last and header is not None:
                break  # torn final write
            raise TranscriptError(f"{path}:{number}: not a transcript line (not JSON)") from None
        if not isinstance(record, dict) or not isinstance(record.get("type"), str):
            raise TranscriptError(f"{path}:{number}: not a transcript line (no record type)")
        kind = record.pop("type")
        problem = _shape_problem(kind, record)
        if problem:
            raise TranscriptError(f"{path}:{number}: not a transcript line ({problem})")
        if kind == "session":
            header = record
        elif kind == "step":
            del steps[max(record["index"], 0) :]
            steps.append(record)
        elif kind == "finding":
            findings.append(record)
        elif kind == "truncate":
            del steps[max(record["index"], 0) :]
            findings = [f for f in findings if f["step_index"] < record["index"]]
        elif kind == "end":
            end = record
    if header is None:
        raise TranscriptError(f"{path}: not a maildoctor transcript (no session line)")
    try:
        return report.assemble(
            header, steps, findings, end["complete"], end["incomplete_reason"], end["finished_at"]
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TranscriptError(f"{path}: not a complete maildoctor transcript ({exc!r})") from None


def list_sessions(state_dir: Path) -> list[SessionInfo]:
    """The saved sessions, newest first (the one an operator looks for is the walk just made)."""
    found: list[tuple[float, SessionInfo]] = []
    for path in transcripts_dir(state_dir).glob("*.jsonl"):
        try:
            data = load(path)
        except TranscriptError:
            continue
        info = SessionInfo(
            path,
            data["session"],
            data["flow"],
            data["started_at"],
            len(data["steps"]),
            data["diagnosis"]["code"],
            data["complete"],
        )
        found.append((_started(info), info))
    found.sort(key=lambda pair: (pair[0], pair[1].session), reverse=True)
    return [info for _, info in found]


def _started(info: SessionInfo) -> float:
    """When a session started (its header's time; the file's for a header without a usable one)."""
    try:
        when = datetime.fromisoformat(info.started_at or "")
    except ValueError:
        try:
            return info.path.stat().st_mtime
        except OSError:
            return 0.0
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def resolve(state_dir: Path, ref: str) -> Path:
    """A transcript by path, by session id, or 'latest'."""
    try:
        candidate = Path(ref).expanduser()
    except RuntimeError:  # "~nosuchuser/..."
        candidate = Path(ref)
    if _is(candidate, Path.is_file):
        return candidate
    folder = transcripts_dir(state_dir)
    if ref == "latest":
        found = sorted(folder.glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
        if found:
            return found[-1]
        raise TranscriptError(f"no saved sessions in {folder}")
    by_id = folder / f"{ref}.jsonl"
    if _is(by_id, Path.is_file):
        return by_id
    if _is(candidate, Path.is_dir):
        raise TranscriptError(f"{ref}: is a folder, not a transcript file")
    if "/" in ref or os.sep in ref or ref.endswith(".jsonl"):
        raise TranscriptError(f"{ref}: no such file")
    raise TranscriptError(f"no transcript {ref!r}: not a file, and no session with that id in {folder}")


def _is(path: Path, test: Callable[[Path], bool]) -> bool:
    """``path.is_file()`` / ``is_dir()`` that answers False for a name the system cannot even look up
    (too long, a NUL in it) instead of raising."""
    try:
        return test(path)
    except (OSError, ValueError):
        return False
