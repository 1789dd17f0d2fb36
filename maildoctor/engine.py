"""The walk: follows a flow's graph, runs checks, records steps and findings, and emits events.

This module knows nothing of any surface. The TUI, the headless runner and the transcript writer each
subscribe to the same events; questions go through an ``Asker`` that each surface provides.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from maildoctor.checks.registry import ERROR_OUTCOME, CheckContext, CheckResult, Evidence, Status, registry
from maildoctor.clients import Clients
from maildoctor.flow.model import CheckNode, EndNode, Flow, QuestionNode, RemedyNode
from maildoctor.flow.templates import render

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
MAX_STEPS = 500  # a guard against a flow that validation let through with a loop


@dataclass
class Step:
    index: int
    node: str
    kind: str
    title: str
    layer: str
    status: Status
    summary: str
    check: str | None = None
    outcome: str | None = None
    next: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)
    duration_ms: int = 0
    started_at: str = ""

    @property
    def why(self) -> str:
        """Why the walk went where it did, in words."""
        if self.next is None:
            return "the walk ends here"
        if self.kind == "check":
            return f"outcome '{self.outcome}' leads to '{self.next}'"
        if self.kind == "question":
            return f"answer '{self.outcome}' leads to '{self.next}'"
        return f"continues to '{self.next}'"


@dataclass
class Finding:
    code: str
    severity: str
    title: str
    summary: str
    remedy: str
    facts: dict[str, Any]
    node: str
    layer: str
    rank: int
    step_index: int

    def sort_key(self) -> tuple[int, int, int]:
        return (SEVERITY_ORDER.get(self.severity, 9), self.rank, self.step_index)


# --- events -------------------------------------------------------------------------------------------


@dataclass
class WalkStarted:
    walk: Walk


@dataclass
class StepStarted:
    index: int
    node: str
    title: str
    layer: str
    kind: str


@dataclass
class StepFinished:
    step: Step


@dataclass
class FindingMade:
    finding: Finding


@dataclass
class WalkTruncated:
    """Steps from ``index`` on were dropped (re-run or back); their findings with them."""

    index: int


@dataclass
class WalkFinished:
    walk: Walk


Event = WalkStarted | StepStarted | StepFinished | FindingMade | WalkTruncated | WalkFinished
Listener = Callable[[Event], None]


class Asker(Protocol):
    async def ask(self, node_id: str, question: QuestionNode) -> str | None:
        """Return the chosen option value, or None when no one can answer."""


class CannotAsk:
    """The headless asker: nobody is there; the walk stops and names the input that would answer."""

    async def ask(self, node_id: str, question: QuestionNode) -> str | None:
        return None


# --- the walk -----------------------------------------------------------------------------------------


class Walk:
    def __init__(
        self,
        flow: Flow,
        inputs: Mapping[str, str],
        clients: Clients,
        *,
        asker: Asker | None = None,
        listeners: list[Listener] | None = None,
    ) -> None:
        self.flow = flow
        self.inputs: dict[str, str] = dict(inputs)
        self.clients = clients
        self.asker: Asker = asker or CannotAsk()
        self.listeners: list[Listener] = list(listeners or [])
        self.steps: list[Step] = []
        self.findings: list[Finding] = []
        self.incomplete_reason: str | None = None
        self.finished = False
        self.started_at = _now()
        self.finished_at: str | None = None

    # -- public API

    @property
    def complete(self) -> bool:
        return self.finished and self.incomplete_reason is None

    def facts(self) -> dict[str, dict[str, Any]]:
        """Facts of the steps so far by node id, with each step's summary, outcome and status
        (``step_status``; a check's own fact may be called ``status``)."""
        out: dict[str, dict[str, Any]] = {}
        for step in self.steps:
            out[step.node] = {
                "summary": step.summary,
                "outcome": step.outcome,
                "step_status": step.status,
                **step.facts,
            }
        return out

    def diagnosis(self) -> Finding | None:
        """The most likely root cause: the worst, lowest-ranked, earliest finding."""
        return min(self.findings, key=Finding.sort_key) if self.findings else None

    def ranked_findings(self) -> list[Finding]:
        return sorted(self.findings, key=Finding.sort_key)

    async def run(self) -> Walk:
        """Walk from the start node to the end."""
        self._emit(WalkStarted(self))
        await self._walk_from(self.flow.start)
        return self

    async def rerun(self, index: int) -> Walk:
        """Run step ``index`` again and walk on from there; later steps are replaced."""
        node = self.steps[index].node
        self.truncate(index)
        await self._walk_from(node)
        return self

    def truncate(self, index: int) -> None:
        del self.steps[index:]
        self.findings = [f for f in self.findings if f.step_index < index]
        self.finished = False
        self.finished_at = None
        self.incomplete_reason = None
        self._emit(WalkTruncated(index))

    # -- the loop

    async def _walk_from(self, node_id: str | None) -> None:
        while node_id is not None:
            if len(self.steps) >= MAX_STEPS:
                self.incomplete_reason = f"stopped after {MAX_STEPS} steps: the flow loops"
                break
            node = self.flow.nodes[node_id]
            index = len(self.steps)
            title = render(node.title, self.inputs, self.facts())
            self._emit(StepStarted(index, node_id, title, self._layer_of(node), node.kind))
            started, started_at = time.monotonic(), _now()
            if isinstance(node, CheckNode):
                step = await self._run_check(index, node_id, node)
            elif isinstance(node, QuestionNode):
                step = await self._ask(index, node_id, node)
            elif isinstance(node, RemedyNode):
                step = self._remedy(index, node_id, node)
            else:
                step = self._end(index, node_id, node)
            step.duration_ms = int((time.monotonic() - started) * 1000)
            step.started_at = started_at
            self.steps.append(step)
            self._emit(StepFinished(step))
            if isinstance(node, RemedyNode) and node.code not in {f.code for f in self.findings}:
                # one finding per code: a later layer that meets the same problem adds no second one
                self._make_finding(step, node)
            node_id = step.next
        self.finished = True
        self.finished_at = _now()
        self._emit(WalkFinished(self))

    async def _run_check(self, index: int, node_id: str, node: CheckNode) -> Step:
        spec = registry()[node.check]
        facts = self.facts()
        args = {name: render(value, self.inputs, facts) for name, value in node.args.items()}
        ctx = CheckContext(clients=self.clients, args=args, inputs=self.inputs, facts=facts)
        timeout = node.timeout or spec.timeout
        try:
            result = await asyncio.wait_for(spec.fn(ctx), timeout=timeout)
            if result.outcome not in spec.all_outcomes:  # a bug in the check, not in the world
                raise RuntimeError(f"check {node.check} returned undeclared outcome {result.outcome!r}")
        except TimeoutError:
            result = CheckResult(ERROR_OUTCOME, "error", f"could not check: no answer within {timeout:g}s")
        except Exception as exc:  # a check failing is evidence, never a crash
            result = CheckResult(
                ERROR_OUTCOME,
                "error",
                f"could not check: {type(exc).__name__}: {exc}",
                evidence=[Evidence("error", f"{type(exc).__name__}: {exc}")],
            )
        target = node.next[result.outcome]
        return Step(
            index=index,
            node=node_id,
            kind="check",
            title=render(node.title, self.inputs, facts),
            layer=node.layer,
            status=result.status,
            summary=result.summary,
            check=node.check,
            outcome=result.outcome,
            next=target,
            facts=result.facts,
            evidence=result.evidence,
        )

    async def _ask(self, index: int, node_id: str, node: QuestionNode) -> Step:
        values = [o.value for o in node.options]
        answer = self.inputs.get(node.key) or None
        answered_by = "input"
        if answer is None and node.default:
            found = render(node.default, self.inputs, self.facts())
            if found in values:
                answer, answered_by = found, "earlier steps"
        if answer is None:
            answer = await self.asker.ask(node_id, node)
            answered_by = "operator"
        step = Step(
            index=index,
            node=node_id,
            kind="question",
            title=node.title,
            layer=node.layer,
            status="info",
            summary="",
        )
        if answer is None:
            self.incomplete_reason = (
                f"question '{node_id}' needs an answer: set input '{node.key}' to one of {', '.join(values)}"
            )
            step.status = "skipped"
            step.summary = f"unanswered: {node.prompt}"
            return step
        if answer not in values:
            self.incomplete_reason = (
                f"'{answer}' is not an answer to '{node_id}' (one of {', '.join(values)})"
            )
            step.status = "error"
            step.summary = self.incomplete_reason
            return step
        self.inputs[node.key] = answer
        label = next(o.label for o in node.options if o.value == answer)
        step.summary = f"{label} ({node.key}={answer}, from the {answered_by})"
        step.outcome = answer
        step.facts = {node.key: answer}
        step.next = node.next[answer]
        return step

    def _remedy(self, index: int, node_id: str, node: RemedyNode) -> Step:
        facts = self.facts()
        return Step(
            index=index,
            node=node_id,
            kind="remedy",
            title=render(node.title, self.inputs, facts),
            layer=self._layer_of(node),
            status="fail" if node.severity == "error" else "warn" if node.severity == "warning" else "info",
            summary=render(node.summary, self.inputs, facts),
            outcome=node.code,
            next=node.continue_,
            facts={"code": node.code},
        )

    def _make_finding(self, step: Step, node: RemedyNode) -> None:
        facts = self.facts()
        evidence_step = self.steps[step.index - 1] if step.index > 0 else None
        finding = Finding(
            code=node.code,
            severity=node.severity,
            title=step.title,
            summary=step.summary,
            remedy=render(node.remedy, self.inputs, facts).strip(),
            facts=dict(evidence_step.facts) if evidence_step else {},
            node=step.node,
            layer=step.layer,
            rank=node.rank,
            step_index=step.index,
        )
        self.findings.append(finding)
        self._emit(FindingMade(finding))

    def _end(self, index: int, node_id: str, node: EndNode) -> Step:
        reason = render(node.reason, self.inputs, self.facts())
        if node.incomplete:
            self.incomplete_reason = reason or "the walk could not finish"
        return Step(
            index=index,
            node=node_id,
            kind="end",
            title=node.title,
            layer="",
            status="error" if node.incomplete else "info",
            summary=reason or "end of the walk",
        )

    def _layer_of(self, node: object) -> str:
        """A node's layer; a remedy without one belongs to the layer of the step that led to it."""
        if isinstance(node, EndNode):
            return ""
        return getattr(node, "layer", "") or (self.steps[-1].layer if self.steps else "")

    def _emit(self, event: Event) -> None:
        for listener in self.listeners:
            listener(event)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
