"""What every check module shares: one time format, the could-not-check result, evidence as JSON.

Facts hold times as ISO 8601 in UTC with a ``Z`` (:func:`iso`); people read them as
``2026-11-25 13:52 UTC`` (:func:`stamp`) or "3 days ago" (:func:`ago`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Generic, Self, TypeVar

from maildoctor.checks.registry import CheckResult, Evidence, Facts, Status
from maildoctor.clients.aws import AwsError

T = TypeVar("T")
F = TypeVar("F", bound=Facts)


# --------------------------------------------------------------------------------------------- times


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """A datetime as ISO 8601 in UTC with a Z (``2026-11-25T13:52:00Z``); None stays None."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def stamp(when: datetime) -> str:
    """A time for a person: ``2026-11-25 13:52 UTC``."""
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def parse_time(text: str | None) -> datetime | None:
    """An ISO 8601 time (``2026-11-26T09:00:00Z``) or an RFC 5322 date (a bounce's Date header); UTC if
    no zone is given; None if neither."""
    text = (text or "").strip()
    if not text:
        return None
    parsed: datetime | None = None
    with contextlib.suppress(ValueError):
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" UTC", "+00:00"))
    if parsed is None:
        with contextlib.suppress(ValueError, TypeError, IndexError):
            parsed = parsedate_to_datetime(text)
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def ago(when: datetime, now: datetime | None = None) -> str:
    """How long ago, for a person: '3 days ago', '2 hours ago', '5 minutes ago', 'just now'."""
    seconds = ((now or utc_now()) - when).total_seconds()
    if seconds < 0:
        return "in the future"
    if seconds >= 23.5 * 3600:
        n, unit = round(seconds / 86400), "day"
    elif seconds >= 59.5 * 60:
        n, unit = round(seconds / 3600), "hour"
    elif seconds >= 30:
        n, unit = round(seconds / 60), "minute"
    else:
        return "just now"
    return f"{n} {unit}{'' if n == 1 else 's'} ago"


def days_between(earlier: datetime, later: datetime | None = None) -> int:
    """Whole days, rounded (a key created "200 days ago" a few seconds ago is 200 days old)."""
    return round(((later or utc_now()) - earlier).total_seconds() / 86400)


# ------------------------------------------------------------------------------------------ evidence


def jsonable(value: Any) -> Any:
    """A boto3 answer made JSON-safe: datetimes as ISO 8601 (UTC), bytes as text, tuples as lists."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def dump(value: Any) -> str:
    """An AWS answer (or part of it) as indented JSON for evidence, datetimes as ISO strings."""
    return json.dumps(jsonable(value), indent=2, ensure_ascii=False, default=str)


def excerpt(response: dict[str, Any], keys: tuple[str, ...] | list[str]) -> str:
    """A few keys of an answer as indented JSON."""
    return dump({k: response[k] for k in keys if k in response})


# ------------------------------------------------------------------------------------------- results


def could_not_check(err: AwsError | str, facts: Facts, evidence: list[Evidence] | None = None) -> CheckResult:
    """The result of a check that could not establish what it exists to establish."""
    return CheckResult("error", "error", f"could not check: {err}", facts, list(evidence or []))


async def capture(awaitable: Awaitable[T]) -> T | AwsError:
    """The awaitable's result, or the AwsError it raised (to gather calls without losing the others)."""
    try:
        return await awaitable
    except AwsError as err:
        return err


@dataclass
class Analysis(Generic[F]):
    """What an ``analyze_*`` function found, for a thin check to report: its outcome, status, summary,
    facts and evidence; with ``error`` set it could not check, and the result says why."""

    facts: F
    outcome: str = "error"
    status: Status = "error"
    summary: str = ""
    evidence: list[Evidence] = field(default_factory=list)
    error: AwsError | str | None = None

    def conclude(self, outcome: str, status: Status, summary: str) -> Self:
        self.outcome, self.status, self.summary = outcome, status, summary
        return self

    def could_not_check(self, err: AwsError | str) -> Self:
        self.error = err
        return self

    def result(self) -> CheckResult:
        if self.error is not None:
            return could_not_check(self.error, self.facts, self.evidence)
        return CheckResult(self.outcome, self.status, self.summary, self.facts, self.evidence)


def shell_block(*commands: str) -> str:
    """Commands as a remedy shows them: a fenced ``sh`` block (what the TUI's copy-commands key copies)."""
    return "```sh\n" + "\n".join(commands) + "\n```"
