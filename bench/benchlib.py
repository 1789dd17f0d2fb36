"""What the bench scripts share: the lab with its latency, a walk run in process, and the output lines.

Every script prints one line per measure and, last, one line that starts with ``ratios:`` and gives each
ratio with its target and "met" / "not met" (tests/bench/test_bench_smoke.py looks for that line).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maildoctor.lab import Lab

if TYPE_CHECKING:
    from maildoctor.engine import Walk

# The latencies (ms): per AWS call, per DNS answer, per SMTP reply.
LATENCY_MS = {"aws": 80, "dns": 30, "smtp": 100}
QUICK_SCALE = 0.1  # --quick: a tenth of each latency, one run: the script is exercised, not measured
ROOT = Path(__file__).resolve().parent.parent


def arguments(
    description: str, runs: int = 1, extra: Callable[[argparse.ArgumentParser], object] | None = None
) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a smoke run: small latencies, one run")
    parser.add_argument("--runs", type=int, default=runs, help=f"runs of each side (default {runs})")
    if extra is not None:
        extra(parser)
    args = parser.parse_args()
    if args.quick:
        args.runs = 1
    return args


def latencies(quick: bool) -> dict[str, int]:
    """Latency per layer in ms (a tenth under --quick)."""
    scale = QUICK_SCALE if quick else 1.0
    return {layer: max(1, round(ms * scale)) for layer, ms in LATENCY_MS.items()}


def latency_faults(ms: Mapping[str, int]) -> list[str]:
    return [f"{layer}-slow:{value}" for layer, value in ms.items() if value]


@contextlib.contextmanager
def running_lab(scenario: str) -> Iterator[Lab]:
    """The lab with ``scenario`` loaded, this process's environment pointed at it, a private state dir."""
    with tempfile.TemporaryDirectory(prefix="maildoctor-bench-") as state:
        os.environ["MAILDOCTOR_STATE_DIR"] = state
        lab = Lab().start()
        try:
            lab.load(scenario)
            os.environ.update(lab.env())
            yield lab
        finally:
            lab.stop()


def walk(
    flow_name: str, inputs: Mapping[str, str], *, ahead: bool = True, listeners: list[Any] | None = None
) -> tuple[float, Walk, str]:
    """Walk ``flow_name`` in process as the headless runner does (its flow, the environment's settings,
    fresh clients); returns (seconds, the walk, its diagnosis code)."""
    from maildoctor import report
    from maildoctor.clients import Clients
    from maildoctor.clients.settings import Settings
    from maildoctor.engine import Walk
    from maildoctor.flow.load import find_flow, load_flow

    flow = load_flow(find_flow(flow_name))
    walker = Walk(flow, dict(inputs), Clients(Settings.resolve()), ahead=ahead, listeners=listeners or [])
    started = time.monotonic()
    asyncio.run(walker.run())
    took = time.monotonic() - started
    return took, walker, report.build(walker)["diagnosis"]["code"]


@dataclass(frozen=True)
class Ratio:
    name: str
    value: float
    target: float
    at_most: bool = True  # the target is a ceiling (False: a floor)

    @property
    def met(self) -> bool:
        return self.value <= self.target if self.at_most else self.value >= self.target

    def __str__(self) -> str:
        sign = "<=" if self.at_most else ">="
        return f"{self.name} {self.value:.2f} (target {sign} {self.target:g}: {'met' if self.met else 'not met'})"


def ratio(part: float, whole: float) -> float:
    return part / whole if whole > 0 else float("inf")


def print_ratios(*ratios: Ratio) -> None:
    print("ratios: " + "; ".join(str(r) for r in ratios), flush=True)
