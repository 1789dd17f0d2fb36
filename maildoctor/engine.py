"""The walk: follows a flow's graph, runs checks, records steps and findings, and emits events.

This module knows nothing of any surface. The TUI, the headless runner and the transcript writer each
subscribe to the same events; questions go through an ``Asker`` that each surface provides.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from maildoctor.checks import progress
from maildoctor.checks.registry import (
    ERROR_OUTCOME,
    STEP_FACTS,
    CheckResult,
    CheckSpec,
    Evidence,
    Registry,
    Status,
    default_registry,
)
from maildoctor.clients import Clients, pace
from maildoctor.flow import reach
from maildoctor.flow.model import CheckNode, EndNode, Flow, Node, QuestionNode, RemedyNode
from maildoctor.flow.templates import render, resolve

MAX_STEPS = 500  # a guard: validation refuses loops that do not pass through a question
WALK_BUDGET = 180.0  # seconds: no walk takes longer; checks that would are reported as not checked


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
    answered_by: str | None = None  # question steps: input, earlier answer, earlier steps or operator

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
    cause_index: int | None = None  # the check step whose outcome led to this finding
    cause_node: str | None = None


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
class StepProgress:
    """How far the running check ``index`` has got ("12 of 33 regions read")."""

    index: int
    node: str
    text: str


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


Event = WalkStarted | StepStarted | StepProgress | StepFinished | FindingMade | WalkTruncated | WalkFinished
Listener = Callable[[Event], None]


class Asker(Protocol):
    async def ask(self, node_id: str, question: QuestionNode) -> str | None:
        """Return the chosen option value, or None when no one can answer."""


class CannotAsk:
    """The headless asker: nobody is there; the walk stops and names the input that would answer."""

    async def ask(self, node_id: str, question: QuestionNode) -> str | None:
        return None


# --- the walk -----------------------------------------------------------------------------------------


@dataclass
class _Made:
    """What a node kind's handler decided; the walk builds the Step from it in one place."""

    status: Status
    summary: str
    outcome: str | None = None
    next: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)
    check: str | None = None
    answered_by: str | None = None
    ran: tuple[float, float, str] | None = (
        None  # a check started ahead: its start, end (monotonic), ISO start
    )


@dataclass
class _Ahead:
    """A check started before the walk reached its node, with the arguments it was started with."""

    args: dict[str, Any]
    started: float
    started_at: str
    task: asyncio.Task[CheckResult] | None = None
    ended: float = 0.0
    progress: str | None = None  # the newest, shown once the walk reaches the node
    index: int | None = None  # the step it became


class Walk:
    def __init__(
        self,
        flow: Flow,
        inputs: Mapping[str, str],
        clients: Clients,
        *,
        registry: Registry | None = None,
        asker: Asker | None = None,
        listeners: list[Listener] | None = None,
        budget: float = WALK_BUDGET,
        ahead: bool = True,
    ) -> None:
        """``ahead``: start checks whose arguments are known before the walk reaches them (False: one
        check at a time, in the walk's order)."""
        self.flow = flow
        self.ahead = ahead
        self._started: dict[str, _Ahead] = {}
        # a node's place in the flow: its checks' calls wait for SES's slots before those of later nodes
        self._rank = {node_id: rank for rank, node_id in enumerate(flow.nodes)}
        self.budget = budget  # the time the checks of one run may take together (questions excluded)
        self._spent = 0.0
        self.inputs: dict[str, str] = {k: v for k, v in inputs.items() if v}
        self.clients = clients
        self.registry = registry if registry is not None else default_registry()
        self.asker: Asker = asker or CannotAsk()
        self.listeners: list[Listener] = list(listeners or [])
        self.steps: list[Step] = []
        self.findings: list[Finding] = []
        self.incomplete_reason: str | None = None
        self.finished = False
        self.started_at = _now()
        self.finished_at: str | None = None
        self._handlers: dict[type, Callable[[str, Any], Awaitable[_Made]]] = {
            CheckNode: self._check,
            QuestionNode: self._question,
            RemedyNode: self._remedy,
            EndNode: self._end,
        }

    # -- public API

    @property
    def complete(self) -> bool:
        return self.finished and self.incomplete_reason is None

    def answers(self) -> dict[str, str]:
        """The answers given to questions on this walk, by input key (kept apart from the inputs)."""
        out: dict[str, str] = {}
        for step in self.steps:
            if step.kind == "question" and step.outcome is not None:
                node = self.flow.nodes[step.node]
                assert isinstance(node, QuestionNode)
                out[node.key] = step.outcome
        return out

    def values(self) -> dict[str, str]:
        """What ``{input}`` placeholders see: the inputs, and the answers given so far."""
        return {**self.answers(), **self.inputs}

    def facts(self) -> dict[str, dict[str, Any]]:
        """Facts of the steps so far by node id, with each step's summary, outcome and status
        (``step_status``; a check's own fact may be called ``status``).

        A step that could not check (status ``error``) shows only its summary, outcome and status: a
        remedy or a later check never rests on facts that were not established."""
        out: dict[str, dict[str, Any]] = {}
        for step in self.steps:
            own = {"summary": step.summary, "outcome": step.outcome, "step_status": step.status}
            assert own.keys() == STEP_FACTS.keys()
            out[step.node] = own if step.status == "error" else {**own, **step.facts}
        return out

    def render(self, text: str) -> str:
        return render(text, self.values(), self.facts())

    async def run(self) -> Walk:
        """Walk from the start node to the end."""
        self._emit(WalkStarted(self))
        await self._walk_from(self.flow.start)
        return self

    async def rerun(self, index: int) -> Walk:
        """Run step ``index`` again and walk on from there; later steps are replaced (a question is
        asked again: its earlier answer goes with it)."""
        node = self.steps[index].node
        self.truncate(index)
        await self._walk_from(node)
        return self

    def truncate(self, index: int) -> None:
        self._spent = 0.0  # a re-run gets the whole budget again
        self.clients.forget()  # and reads afresh what the operator may have changed meanwhile
        self._drop_ahead()
        del self.steps[index:]
        self.findings = [f for f in self.findings if f.step_index < index]
        self.finished = False
        self.finished_at = None
        self.incomplete_reason = None
        self._emit(WalkTruncated(index))

    # -- the loop

    async def _walk_from(self, node_id: str | None) -> None:
        try:
            while node_id is not None:
                if len(self.steps) >= MAX_STEPS:
                    self.incomplete_reason = f"stopped after {MAX_STEPS} steps: the flow loops"
                    break
                if self.ahead:
                    self._start_ahead(node_id)
                step = await self._step(node_id, self.flow.nodes[node_id])
                node_id = step.next
        finally:
            self._drop_ahead()  # checks of ways the walk did not take, or all of them when it is cancelled
        self.finished = True
        self.finished_at = _now()
        self._emit(WalkFinished(self))

    async def _step(self, node_id: str, node: Node) -> Step:
        """Run one node and record it: the one place a Step is built."""
        index = len(self.steps)
        title = self.render(node.title)
        layer = self._layer_of(node)
        self._emit(StepStarted(index, node_id, title, layer, node.kind))
        started, started_at = time.monotonic(), _now()
        made = await self._handlers[type(node)](node_id, node)
        ended = time.monotonic()
        if made.ran is not None:  # a check started ahead: its step says when it really ran
            started, ended, started_at = made.ran
        step = Step(
            index=index,
            node=node_id,
            kind=node.kind,
            title=title,
            layer=layer,
            status=made.status,
            summary=made.summary,
            check=made.check,
            outcome=made.outcome,
            next=made.next,
            facts=made.facts,
            evidence=made.evidence,
            duration_ms=int((ended - started) * 1000),
            started_at=started_at,
            answered_by=made.answered_by,
        )
        self.steps.append(step)
        self._emit(StepFinished(step))
        if isinstance(node, RemedyNode) and node.code not in {f.code for f in self.findings}:
            # one finding per code: a later layer that meets the same problem adds no second one
            self._make_finding(step, node)
        return step

    async def _check(self, node_id: str, node: CheckNode) -> _Made:
        spec = self.registry[node.check]
        facts, values = self.facts(), self.values()
        args = {name: resolve(text, values, facts) for name, text in node.args.items()}
        left = self.budget - self._spent
        if left <= 0:
            summary = f"could not check: the walk used up its {self.budget:g}s before this step"
            facts_unknown = spec.facts().model_dump(mode="json")
            return _Made(
                "error", summary, ERROR_OUTCOME, node.next[ERROR_OUTCOME], facts_unknown, check=node.check
            )
        started, index, ran = time.monotonic(), len(self.steps), None
        timeout = min(node.timeout or spec.timeout, left)
        ahead = self._started.pop(node_id, None)
        if ahead is not None and ahead.task is not None and ahead.args == args:
            ahead.index = index
            if ahead.progress is not None:
                self._emit(StepProgress(index, node_id, ahead.progress))
            try:
                # the step's own time limit runs from now, as for a check run here: waiting for SES's
                # slots behind earlier steps before the walk came here does not count against it
                result = await asyncio.wait_for(asyncio.shield(ahead.task), timeout)
                ran = (ahead.started, ahead.ended, ahead.started_at)
            except TimeoutError:
                ahead.task.cancel()
                result = spec.timed_out(timeout)
        else:
            if ahead is not None and ahead.task is not None:
                ahead.task.cancel()  # started with other arguments than it has now: run it afresh
            reporting = progress.reporting_to(lambda text: self._emit(StepProgress(index, node_id, text)))
            with reporting, pace.priority(self._rank[node_id]):
                result = await spec.run(self.clients, args, self._facts_for(spec, facts), timeout=timeout)
        self._spent += time.monotonic() - started
        return _Made(
            ran=ran,
            status=result.status,
            summary=result.summary,
            outcome=result.outcome,
            next=node.next[result.outcome],
            facts=result.facts.model_dump(mode="json"),
            evidence=result.evidence,
            check=node.check,
        )

    # -- checks started ahead of the walk

    def _start_ahead(self, current: str) -> None:
        """Start every check the walk will reach from ``current`` whatever happens (every way on passes
        through it) and whose arguments are final; their calls wait for SES's slots behind the walk's
        current step (``pace.priority``: a node's rank is its place in the flow). Checks that read
        earlier steps beyond their arguments wait for the walk."""
        left = self.budget - self._spent
        if left <= 0:
            return
        facts, values = self.facts(), self.values()
        known = reach.knowledge(self.flow, values, facts)
        sure = reach.sure_nodes(self.flow, current, lambda q: reach.settled_answer(q, known, self.render))
        done = {step.node for step in self.steps}
        for node_id, node in self.flow.nodes.items():
            if node_id == current or node_id not in sure or node_id in done or node_id in self._started:
                continue
            if not isinstance(node, CheckNode):
                continue
            spec = self.registry[node.check]
            if spec.reads_earlier_steps or not all(known.final(text) for text in node.args.values()):
                continue
            args = {name: resolve(text, values, facts) for name, text in node.args.items()}
            ahead = _Ahead(args, time.monotonic(), _now())

            def told(text: str, ahead: _Ahead = ahead, node_id: str = node_id) -> None:
                ahead.progress = text
                if ahead.index is not None:  # the walk has reached it: the surface shows it now
                    self._emit(StepProgress(ahead.index, node_id, text))

            # the check's coroutine is made inside the task: one cancelled before it starts leaves none
            # unawaited behind. Its limit is the walk's budget: the step's own runs once the walk is there.
            run = functools.partial(spec.run, self.clients, args, self._facts_for(spec, facts), timeout=left)
            # the task keeps this receiver and this rank (it copies the context)
            with progress.reporting_to(told), pace.priority(self._rank[node_id]):
                ahead.task = asyncio.ensure_future(_timed(run, ahead))
            self._started[node_id] = ahead

    @staticmethod
    def _facts_for(spec: CheckSpec, facts: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Earlier steps' facts only for a check that declares it reads them: one that forgot to say so
        sees none (and fails its tests) instead of stale facts when it is started ahead."""
        return facts if spec.reads_earlier_steps else {}

    def _drop_ahead(self) -> None:
        for ahead in self._started.values():
            if ahead.task is not None:
                ahead.task.cancel()
        self._started.clear()

    async def _question(self, node_id: str, node: QuestionNode) -> _Made:
        values = [o.value for o in node.options]
        answer, answered_by = self.inputs.get(node.key), "input"
        if answer is None and node.key in self.answers():  # an earlier question with the same key
            answer, answered_by = self.answers()[node.key], "earlier answer"
        if answer is None and node.default:
            found = self.render(node.default)
            if found in values:
                answer, answered_by = found, "earlier steps"
        if answer is None:
            answer, answered_by = await self.asker.ask(node_id, node), "operator"
        if answer is None:
            self.incomplete_reason = (
                f"question '{node_id}' needs an answer: set input '{node.key}' to one of {', '.join(values)}"
            )
            return _Made("skipped", f"unanswered: {self.render(node.prompt)}")
        if answer not in values:
            self.incomplete_reason = (
                f"'{answer}' is not an answer to '{node_id}' (one of {', '.join(values)})"
            )
            return _Made("error", self.incomplete_reason)
        label = next(o.label for o in node.options if o.value == answer)
        return _Made(
            status="info",
            summary=f"{label} ({node.key}={answer}, from the {answered_by})",
            outcome=answer,
            next=node.next[answer],
            facts={node.key: answer},
            answered_by=answered_by,
        )

    async def _remedy(self, node_id: str, node: RemedyNode) -> _Made:
        status: Status = (
            "fail" if node.severity == "error" else "warn" if node.severity == "warning" else "info"
        )
        return _Made(status, self.render(node.summary), node.code, node.continue_, {"code": node.code})

    async def _end(self, node_id: str, node: EndNode) -> _Made:
        reason = self.render(node.reason)
        if node.incomplete:
            self.incomplete_reason = reason or "the walk could not finish"
        return _Made("error" if node.incomplete else "info", reason or "end of the walk")

    def _cause_of(self, step: Step) -> Step | None:
        """The check step that led to a remedy: the nearest check before it on the walk's path."""
        return next((s for s in reversed(self.steps[: step.index]) if s.kind == "check"), None)

    def _make_finding(self, step: Step, node: RemedyNode) -> None:
        cause = self._cause_of(step)
        finding = Finding(
            code=node.code,
            severity=node.severity,
            title=step.title,
            summary=step.summary,
            remedy=self.render(node.remedy).strip(),
            facts=dict(cause.facts) if cause else {},
            node=step.node,
            layer=step.layer,
            rank=node.rank,
            step_index=step.index,
            cause_index=cause.index if cause else None,
            cause_node=cause.node if cause else None,
        )
        self.findings.append(finding)
        self._emit(FindingMade(finding))

    def _layer_of(self, node: Node) -> str:
        """A node's layer; a remedy without one belongs to the layer of the step that led to it."""
        if isinstance(node, EndNode):
            return ""
        return node.layer or (self.steps[-1].layer if self.steps else "")

    def _emit(self, event: Event) -> None:
        for listener in self.listeners:
            listener(event)


async def _timed(run: Callable[[], Awaitable[CheckResult]], ahead: _Ahead) -> CheckResult:
    try:
        return await run()
    finally:
        ahead.ended = time.monotonic()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
