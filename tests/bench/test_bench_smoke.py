"""Each bench script (bench/, issue 14) starts and prints its ratio line in its quick mode. Not a timed
test: the ratios' values are not checked, only that each is computed and set against its target."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
SCRIPTS = ["p1_walk.py", "p2_dns.py", "p3_sweep.py", "p4_startup.py", "p5_tui.py"]
# "ratios: NAME VALUE (target <= T: met)" with one or more "; "-separated ratios
RATIO = r"\S+ (-?[\d.]+|inf|nan) \(target [<>]= [\d.]+: (met|not met)\)"
RATIO_LINE = re.compile(rf"^ratios: {RATIO}(; {RATIO})*$")


def test_every_script_prints_its_ratio_line_in_quick_mode() -> None:
    scripts = [s for s in SCRIPTS if s != "p5_tui.py" or shutil.which("tmux")]
    # all at once: most of each script's time is waiting on the lab's latency or on a terminal
    running = {
        script: subprocess.Popen(
            [sys.executable, str(BENCH / script), "--quick"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for script in scripts
    }
    failures = []
    for script, process in running.items():
        try:
            out, err = process.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        lines = out.strip().splitlines()
        last = lines[-1] if lines else ""
        if process.returncode != 0 or not RATIO_LINE.match(last) or len(lines) < 2:
            failures.append(f"{script}: exit {process.returncode}, last line {last!r}\n{err[-2000:]}")
    assert not failures, "\n".join(failures)
    if "p5_tui.py" not in scripts:
        pytest.skip("tmux is not installed: p5_tui.py not run")
