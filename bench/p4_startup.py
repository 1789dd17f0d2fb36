"""P4: start-up against Python's own (issue 14).

    .venv/bin/python bench/p4_startup.py [--quick] [--runs N]

``maildoctor --version``, ``--help``, ``flows list`` and ``checks``, each as a subprocess of the venv's
console script, against ``python -c pass`` (the venv's python); the commands alternate, ``--runs`` rounds
(default 7; ``--quick``: one, no warm-up, no import report), medians. Then each command once more through a tiny wrapper that reports whether boto3 and
textual were imported by the time it exited. Targets: ``--version`` <= 3x ``python -c pass``;
``flows list`` <= 0.3 s.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchlib import Ratio, arguments, print_ratios

BIN = Path(sys.executable).parent
BASELINE = "python -c pass"
COMMANDS = {
    "--version": ["--version"],
    "--help": ["--help"],
    "flows list": ["flows", "list"],
    "checks": ["checks"],
}
HEAVY = ("boto3", "textual")
# Runs the CLI as the console script does, then says which heavy packages it had imported (on stderr).
WRAPPER = """
import atexit, json, sys
atexit.register(lambda: print("imported:" + json.dumps([m for m in {heavy!r} if m in sys.modules]), file=sys.stderr))
sys.argv = ["maildoctor", *{argv!r}]
from maildoctor.cli import entry
sys.exit(entry())
"""


def argv_of(name: str) -> list[str]:
    if name == BASELINE:
        return [sys.executable, "-c", "pass"]
    return [str(BIN / "maildoctor"), *COMMANDS[name]]


def timed(argv: list[str]) -> float:
    started = time.monotonic()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=_env())
    return time.monotonic() - started


def _env() -> dict[str, str]:
    env = os.environ.copy()
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return env


def imported(name: str) -> list[str]:
    code = WRAPPER.format(heavy=HEAVY, argv=COMMANDS[name])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env())
    line = next((ln for ln in done.stderr.splitlines() if ln.startswith("imported:")), "imported:null")
    found: list[str] | None = json.loads(line.removeprefix("imported:"))
    return found if found is not None else ["(the wrapper did not report)"]


def heavy_text(heavy: list[str]) -> str:
    return ", ".join(heavy) if heavy else "neither boto3 nor textual"


def main() -> int:
    args = arguments(__doc__.splitlines()[0], runs=7)
    names = [BASELINE, *COMMANDS]
    for name in [] if args.quick else names:  # warm-up: the OS's file cache, .pyc files written
        timed(argv_of(name))
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.runs):
        for name in names:
            times[name].append(timed(argv_of(name)))
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians[BASELINE]
    print(f"{BASELINE}: median {base:.3f} s over {args.runs} runs")
    for name in COMMANDS:
        print(
            f"maildoctor {name}: median {medians[name]:.3f} s, {medians[name] / base:.1f}x python -c pass; "
            f"imports {'(not checked with --quick)' if args.quick else heavy_text(imported(name))}"
        )
    print_ratios(
        Ratio("--version/python", medians["--version"] / base, 3),
        Ratio("flows-list-seconds", medians["flows list"], 0.3),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
