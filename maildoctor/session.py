"""One walk for any surface: the walk, autosave, redaction, ranking and the verdict.

The headless runner, the TUI and transcript export all go through a :class:`Session`. Everything a
surface receives from it — events, steps, findings, the report, the verdict — is already redacted, so a
new widget cannot show a secret; and the verdict is decided once (``report.diagnosis_dict``), so every
surface says the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from maildoctor import report
from maildoctor import transcript as transcripts
from maildoctor.checks.registry import Registry, default_registry
from maildoctor.clients import Clients, credentials
from maildoctor.clients.settings import Settings
from maildoctor.engine import (
    Asker,
    Event,
    Finding,
    FindingMade,
    Listener,
    Step,
    StepFinished,
    StepProgress,
    StepStarted,
    Walk,
)
from maildoctor.flow.model import CheckNode, Flow
from maildoctor.transcript import TranscriptError, TranscriptWriter

T = TypeVar("T")


@dataclass(frozen=True)
class Verdict:
    """What the walk established, as every surface says it."""

    code: str  # the most likely root cause's code, all-clear or inconclusive
    title: str
    summary: str
    remedy: str
    findings: int
    unchecked: tuple[dict[str, Any], ...]
    complete: bool
    exit_code: int

    @property
    def all_clear(self) -> bool:
        """Every step checked and nothing was found (``all-clear``, or the audit's ``audit-clean``)."""
        return self.code in report.CLEAN_CODES

    @property
    def inconclusive(self) -> bool:
        return self.code == report.INCONCLUSIVE

    def headline(self) -> str:
        """One line for a status bar."""
        if self.findings:
            more = f" ({self.findings} findings)" if self.findings > 1 else ""
            return f"most likely root cause: {self.code}{more}"
        if self.inconclusive:
            return f"inconclusive: {self.title.removeprefix('No problem found, but ')}"
        return f"all clear: {self.title[:1].lower()}{self.title[1:]}"

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Verdict:
        """The verdict of a report (live, or rebuilt from a transcript)."""
        diagnosis = data["diagnosis"]
        return cls(
            code=diagnosis["code"],
            title=diagnosis["title"],
            summary=diagnosis["summary"],
            remedy=diagnosis["remedy"],
            findings=len(data["findings"]),
            unchecked=tuple(data["unchecked"]),
            complete=data["complete"],
            exit_code=report.exit_code(data),
        )


def prepare_credentials(
    flow: Flow | None, settings: Settings, registry: Registry | None = None
) -> str | None:
    """Resolve the AWS credentials in the foreground, before any walk (an MFA code is asked for on the
    terminal now, never inside a worker), when ``flow`` calls AWS (``None``: any flow may be picked).
    Returns the one line that says why there are none, with the fix; the walk then reports every AWS
    step as not checked with that cause."""
    if flow is not None:  # (no flow: the TUI's picker — loading the checks would only delay its frame)
        checks = registry if registry is not None else default_registry()
        if not any(
            isinstance(node, CheckNode) and node.check in checks and checks[node.check].iam_actions
            for node in flow.nodes.values()
        ):
            return None
    return credentials.resolve(settings.profile).problem


class Session:
    def __init__(
        self,
        flow: Flow,
        inputs: Mapping[str, str],
        settings: Settings,
        *,
        registry: Registry | None = None,
        asker: Asker | None = None,
        autosave: bool = True,
    ) -> None:
        self.walk = Walk(flow, inputs, Clients(settings), registry=registry, asker=asker)
        self.redact = report.redactor_for(self.walk)
        self._listeners: list[Listener] = []
        self.writer: TranscriptWriter | None = None
        self.autosave_error: str | None = None
        self.walk.listeners.append(self._forward)
        if autosave:
            try:
                self.writer = TranscriptWriter(settings.resolved_state_dir(), self.walk, self.redact)
            except TranscriptError as exc:  # the walk still runs; export then works from memory
                self.autosave_error = str(exc)
            else:
                self._listeners.append(self.writer)
        self.running = False
        self._closed = False

    # -- events, redacted

    def subscribe(self, listener: Listener) -> None:
        """``listener`` gets every event of the walk, with steps and findings already redacted."""
        self._listeners.append(listener)

    def _forward(self, event: Event) -> None:
        shown = self._redacted(event)
        for listener in self._listeners:
            listener(shown)

    def _redacted(self, event: Event) -> Event:
        if isinstance(event, StepStarted):
            return replace(event, title=self.redact(event.title))
        if isinstance(event, StepProgress):
            return replace(event, text=self.redact(event.text))
        if isinstance(event, StepFinished):
            return StepFinished(self.redact_step(event.step))
        if isinstance(event, FindingMade):
            return FindingMade(self.redact_finding(event.finding))
        return event

    def redact_step(self, step: Step) -> Step:
        evidence = [self._scrubbed(e, "title", "text") for e in step.evidence]
        return replace(self._scrubbed(step, "title", "summary", "facts"), evidence=evidence)

    def redact_finding(self, finding: Finding) -> Finding:
        return self._scrubbed(finding, "title", "summary", "remedy", "facts")

    def _scrubbed(self, item: T, *fields: str) -> T:
        """A copy of a dataclass with ``fields`` redacted."""
        return replace(item, **{name: self.redact(getattr(item, name)) for name in fields})  # type: ignore[type-var]

    # -- the walk

    async def run(self) -> None:
        self.running = True
        try:
            await self.walk.run()
        finally:
            self.running = False

    async def rerun(self, index: int) -> None:
        self.running = True
        try:
            await self.walk.rerun(index)
        finally:
            self.running = False

    @property
    def session_id(self) -> str:
        return self.writer.session if self.writer else ""

    def shown(self, text: str) -> str:
        """Flow text (a question's prompt) with the walk's values filled in, redacted."""
        return str(self.redact(self.walk.render(text)))

    def steps(self) -> list[Step]:
        return [self.redact_step(s) for s in self.walk.steps]

    def findings(self) -> list[Finding]:
        """The findings, most likely root cause first (the report's ranking)."""
        return sorted(
            (self.redact_finding(f) for f in self.walk.findings),
            key=lambda f: report.rank_key(report.finding_dict(f)),
        )

    def report(self) -> dict[str, Any]:
        """The redacted report of the walk as it stands."""
        return report.build(self.walk, self.session_id)

    def verdict(self) -> Verdict:
        return Verdict.of(self.report())

    def export_data(self) -> dict[str, Any]:
        """What an export renders: the autosaved transcript, or the walk in memory without one."""
        if self.writer is not None:
            return transcripts.load(self.writer.path)
        return self.report()

    def exit_status(self) -> int:
        """CONTRACT.md: 0 all clear · 1 findings · 3 unfinished or inconclusive."""
        if self.running or not self.walk.finished:
            return 3
        return self.verdict().exit_code

    def interrupt(self, reason: str = "interrupted") -> None:
        """Record in the transcript that the walk stopped before its end."""
        if self.writer is not None and not self._closed and (self.running or not self.walk.finished):
            self.writer.interrupted(reason)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self._closed = True
