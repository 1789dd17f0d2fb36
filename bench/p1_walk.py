"""P1: the seed walk against its critical path and the serial sum (issue 14).

    .venv/bin/python bench/p1_walk.py [--quick]

The seed incident (scenario ``seed-incident``, flow ``ses-delivery``) walked in process against the lab,
three times: one check at a time (``Walk(ahead=False)``) with latency, to attribute the lab's timed call log
to the steps; then as maildoctor walks (the default), without latency and with 80 ms per AWS call, 30 ms
per DNS answer and 100 ms per SMTP reply. Prints:

- added: the walk's time with latency minus without;
- serial: every AWS call, DNS answer and SMTP reply of the walk with latency, times its latency (as if
  nothing overlapped);
- critical: the longest chain of round trips that depend on each other. Each step's own depth is the
  longest chain of its calls that do not overlap in time (times their latency); steps depend on the
  earlier steps their arguments name (``{node.fact}``; inputs are known at once); the critical path is the
  longest path over those dependencies.

``--one-at-a-time`` times the two walks one check at a time too: the walk as it was before checks started
ahead of it. Targets: added / critical <= 1.3, serial / added >= 3. All three walks must reach the same
diagnosis (exit status 1 otherwise).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from benchlib import Ratio, arguments, latencies, latency_faults, print_ratios, ratio, running_lab, walk

from maildoctor.engine import Event, StepFinished, StepStarted, Walk
from maildoctor.flow.model import CheckNode, QuestionNode
from maildoctor.flow.templates import placeholders
from maildoctor.lab import Lab, TimedCall

SCENARIO, FLOW = "seed-incident", "ses-delivery"


@dataclass
class Window:
    """When a step ran, in ``time.monotonic()`` seconds, and the calls made meanwhile."""

    index: int
    start: float
    end: float = float("inf")
    calls: list[TimedCall] = field(default_factory=list)


class StepClock:
    """A walk listener: each step's monotonic window."""

    def __init__(self) -> None:
        self.windows: dict[int, Window] = {}

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepStarted):
            self.windows[event.index] = Window(event.index, time.monotonic())
        elif isinstance(event, StepFinished):
            self.windows[event.step.index].end = time.monotonic()


def attribute(windows: dict[int, Window], calls: Sequence[TimedCall]) -> list[TimedCall]:
    """Put each call in the window it started in; returns the calls that started in none."""
    stray: list[TimedCall] = []
    for call in calls:
        home = next((w for w in windows.values() if w.start <= call.start <= w.end), None)
        (home.calls if home else stray).append(call)
    return stray


def chain_depth(calls: Sequence[TimedCall], seconds: dict[str, float]) -> float:
    """The longest chain of calls that do not overlap in time, weighted by each call's latency."""
    ordered = sorted(calls, key=lambda c: c.end)
    best: list[float] = []
    for i, call in enumerate(ordered):
        before = [best[j] for j in range(i) if ordered[j].end <= call.start]
        best.append(seconds[call.layer] + max(before, default=0.0))
    return max(best, default=0.0)


def dependencies(walker: Walk) -> dict[int, set[int]]:
    """For each step, the earlier steps its node's arguments (a question's default) wait for."""
    latest: dict[str, int] = {}  # node id -> its latest step so far
    answered_by: dict[str, int] = {}  # question key -> the step that answered it
    facts = walker.facts()
    deps: dict[int, set[int]] = {}
    for step in walker.steps:
        node = walker.flow.nodes[step.node]
        texts = list(node.args.values()) if isinstance(node, CheckNode) else []
        if isinstance(node, QuestionNode) and node.default:
            texts.append(node.default)
        deps[step.index] = set()
        for text in texts:
            for field_ in placeholders(text):
                deps[step.index] |= _waits_for(field_, walker.inputs, facts, latest, answered_by)
        latest[step.node] = step.index
        if isinstance(node, QuestionNode):
            answered_by[node.key] = step.index
    return deps


def _waits_for(
    field_: str,
    inputs: dict[str, str],
    facts: dict[str, dict[str, object]],
    latest: dict[str, int],
    answered_by: dict[str, int],
) -> set[int]:
    """The steps a placeholder ``a|b|...`` waits for: each alternative up to the first one known."""
    waits: set[int] = set()
    for name in field_.split("|"):
        if "." not in name:
            if inputs.get(name):
                return waits  # an input: known before the walk starts
            if name in answered_by:
                waits.add(answered_by[name])
                return waits
            continue
        node, _, key = name.partition(".")
        if node in latest:
            waits.add(latest[node])
            if facts.get(node, {}).get(key) not in (None, ""):
                return waits
    return waits


def critical_path(
    walker: Walk, windows: dict[int, Window], seconds: dict[str, float]
) -> tuple[float, list[str]]:
    """The longest path over the steps' dependencies, each step weighted by its own chain depth; with
    the steps on it that make round trips ("key 0.16s")."""
    deps = dependencies(walker)
    own = {i: chain_depth(w.calls, seconds) for i, w in windows.items()}
    finish: dict[int, float] = {}
    via: dict[int, int | None] = {}
    for step in walker.steps:  # in walk order: dependencies are always earlier steps
        before = max(deps[step.index], key=lambda d: finish[d], default=None)
        finish[step.index] = own.get(step.index, 0.0) + (finish[before] if before is not None else 0.0)
        via[step.index] = before
    if not finish:
        return 0.0, []
    end = max(finish, key=lambda i: finish[i])
    path: list[str] = []
    at: int | None = end
    while at is not None:
        if own.get(at, 0.0) > 0:
            path.append(f"{walker.steps[at].node} {own[at]:.2f}s")
        at = via[at]
    return finish[end], path[::-1]


def serial_sum(calls: Sequence[TimedCall], seconds: dict[str, float]) -> tuple[float, dict[str, int]]:
    counts = {layer: sum(1 for c in calls if c.layer == layer) for layer in seconds}
    return sum(counts[layer] * seconds[layer] for layer in seconds), counts


def main() -> int:
    args = arguments(__doc__.splitlines()[0], extra=serial_option)
    ms = latencies(args.quick)
    seconds = {layer: value / 1000 for layer, value in ms.items()}
    with running_lab(SCENARIO) as lab:
        inputs = lab.scenario.walk_inputs() if lab.scenario else {}
        critical, path, serial_code, stray = one_at_a_time(lab, inputs, ms, seconds)
        without, with_latency, calls, codes = side_by_side(lab, inputs, ms, ahead=not args.one_at_a_time)
    added = with_latency - without
    serial, counts = serial_sum(calls, seconds)
    latency_text = ", ".join(f"{layer} {value} ms" for layer, value in ms.items())
    print(f"latency per round trip: {latency_text}")
    print(f"walked {'one check at a time' if args.one_at_a_time else 'as maildoctor walks (checks ahead)'}")
    print(f"walk without latency: {without:.2f} s; with: {with_latency:.2f} s")
    print(f"added by latency: {added:.2f} s")
    print(
        f"serial sum: {serial:.2f} s ({counts['aws']} AWS calls, {counts['dns']} DNS answers, "
        f"{counts['smtp']} SMTP replies)"
    )
    print(f"critical path: {critical:.2f} s ({' -> '.join(path) or 'no round trips'})")
    if added <= 0:
        print("note: latency added nothing measurable to the walk (one run each: noise)")
    if stray:
        print(f"calls outside any step (not attributed): {len(stray)}")
    print(f"diagnosis: {serial_code} one check at a time; {codes[0]} without latency; {codes[1]} with")
    print_ratios(
        Ratio("added/critical", ratio(added, critical), 1.3),
        Ratio("serial/added", ratio(serial, added), 3, at_most=False),
    )
    return 0 if len({serial_code, *codes}) == 1 else 1


def one_at_a_time(
    lab: Lab, inputs: dict[str, str], ms: dict[str, int], seconds: dict[str, float]
) -> tuple[float, list[str], str, list[TimedCall]]:
    """The walk one check at a time with latency: the call log attributed to steps, the critical path."""
    clock = StepClock()
    lab.set_faults(latency_faults(ms))
    lab.clear_calls()
    _, walker, code = walk(FLOW, inputs, ahead=False, listeners=[clock])
    stray = attribute(clock.windows, lab.calls())
    critical, path = critical_path(walker, clock.windows, seconds)
    return critical, path, code, stray


def serial_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--one-at-a-time",
        action="store_true",
        help="time the walk one check at a time (Walk(ahead=False)): the walk before checks ran ahead",
    )


def side_by_side(
    lab: Lab, inputs: dict[str, str], ms: dict[str, int], *, ahead: bool
) -> tuple[float, float, list[TimedCall], tuple[str, str]]:
    """The walk timed without latency then with (one run each, one after the other)."""
    lab.clear_faults()
    without, _, code_without = walk(FLOW, inputs, ahead=ahead)
    lab.set_faults(latency_faults(ms))
    lab.clear_calls()
    with_latency, _, code_with = walk(FLOW, inputs, ahead=ahead)
    calls = lab.calls()
    lab.clear_faults()
    return without, with_latency, calls, (code_without, code_with)


if __name__ == "__main__":
    sys.exit(main())
