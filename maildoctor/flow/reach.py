"""Where a walk will still go, and which placeholders can no longer change.

The engine starts a check ahead of the walk only when both hold: every way on from the walk's node
passes through the check's node (so its answer will be used), and its arguments are final (the inputs
and steps they name are known for good). Then the tree, the transcript and the report read as if the
checks had run one after another, because they are still consumed in the walk's order.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from maildoctor.flow.model import Flow, QuestionNode

State = Literal["known", "absent", "pending"]


@dataclass(frozen=True)
class Knowledge:
    """What a walk knows at one moment: the inputs and answers, the facts of the steps done (by node),
    and the question keys that may still get an answer."""

    values: Mapping[str, str]
    facts: Mapping[str, Mapping[str, Any]]
    nodes: frozenset[str]
    open_keys: frozenset[str]

    def state(self, name: str) -> State:
        """``known`` (it has a value), ``absent`` (it never will) or ``pending`` (a step or an answer
        to come may give it one)."""
        if "." in name:
            node, _, key = name.partition(".")
            if node in self.facts:
                return "known" if self.facts[node].get(key) not in (None, "") else "absent"
            return "pending" if node in self.nodes else "absent"
        if self.values.get(name):
            return "known"
        return "pending" if name in self.open_keys else "absent"

    def final(self, text: str) -> bool:
        """Whether ``text`` resolves now to what it will resolve to later (each ``{a|b}`` takes its first
        known alternative, so one still pending before a known one keeps it open)."""
        for field in placeholders_of(text):
            for name in field.split("|"):
                state = self.state(name)
                if state == "pending":
                    return False
                if state == "known":
                    break
        return True


def placeholders_of(text: str) -> list[str]:
    """The placeholder fields of ``text`` with their alternatives together (``a|b``)."""
    return [field for _, field, _, _ in string.Formatter().parse(text) if field is not None]


def knowledge(flow: Flow, values: Mapping[str, str], facts: Mapping[str, Mapping[str, Any]]) -> Knowledge:
    keys = {node.key for node in flow.nodes.values() if isinstance(node, QuestionNode)}
    return Knowledge(values, facts, frozenset(flow.nodes), frozenset(k for k in keys if not values.get(k)))


def settled_answer(question: QuestionNode, known: Knowledge, render: Callable[[str], str]) -> str | None:
    """The answer a question will take without asking anyone, when it is already certain: its input or an
    earlier answer, or its default once the steps it names are done; None when it is still open."""
    options = {o.value for o in question.options}
    given = known.values.get(question.key)
    if given:
        return given if given in options else None
    if question.default and known.final(question.default):
        found = render(question.default)
        return found if found in options else None
    return None


def sure_nodes(flow: Flow, start: str, answer: Callable[[QuestionNode], str | None]) -> set[str]:
    """The nodes on every way from ``start`` to the end of the walk (``start`` included). A question
    whose ``answer`` is certain has only that way on; an open one may be where the walk ends."""

    def ways_on(node_id: str) -> set[str]:
        node = flow.nodes[node_id]
        routes = flow.routes(node_id)
        if isinstance(node, QuestionNode):
            # an open question may end the walk (nobody answers headless, the operator quits): nothing
            # behind it is sure to be reached until it is answered
            chosen = answer(node)
            return {routes[chosen]} if chosen is not None and chosen in routes else set()
        return set(routes.values())

    reachable, todo = {start}, [start]
    while todo:
        for nxt in ways_on(todo.pop()):
            if nxt not in reachable:
                reachable.add(nxt)
                todo.append(nxt)
    successors = {n: ways_on(n) for n in reachable}
    # the greatest fixpoint of sure(n) = {n} ∪ ⋂ sure(successors of n): loops (through questions) settle
    sure = {n: set(reachable) if successors[n] else {n} for n in reachable}
    changed = True
    while changed:
        changed = False
        for n in reachable:
            if not successors[n]:
                continue
            new = {n} | set.intersection(*(sure[s] for s in successors[n]))
            if new != sure[n]:
                sure[n], changed = new, True
    return sure[start]
