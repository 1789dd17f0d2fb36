"""P5: the TUI's first frame in a real terminal against a Textual hello-world app (issue 14).

    .venv/bin/python bench/p5_tui.py [--quick] [--runs N]

Each program is started in a fresh 120x40 tmux session on a private socket (as tests/e2e/test_tmux_demo.py
drives the demo), and the pane is read every 20 ms until it shows a known text: for ``maildoctor`` (no
command: the TUI's flow picker) the flow list's ``ses-delivery``, for the hello-world app its one line. The
time is from starting the session to that frame. The two alternate, ``--runs`` rounds (default 5), after
one warm-up run of each; medians. Target: maildoctor / hello world <= 1.5.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import Ratio, arguments, print_ratios

POLL = 0.02
DEADLINE = 30.0
HELLO_TEXT = "hello from a textual app"
HELLO_APP = f"""
from textual.app import App
from textual.widgets import Static


class Hello(App[None]):
    def compose(self):
        yield Static({HELLO_TEXT!r})


Hello().run()
"""
MAILDOCTOR_TEXT = "ses-delivery"


def first_frame(argv: list[str], text: str, folder: Path) -> float:
    """Seconds from starting ``argv`` in a new tmux session until its pane shows ``text``."""
    socket, config = folder / "tmux.sock", folder / "tmux.conf"
    config.write_text("set-option -g default-shell /bin/sh\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TMUX", "TMUX_PANE")}
    env |= {"TERM": "xterm-256color", "MAILDOCTOR_CONFIG": str(folder / "no-config.toml")}
    tmux = ["tmux", "-S", str(socket), "-f", str(config)]
    started = time.monotonic()
    try:
        subprocess.run(
            [*tmux, "new-session", "-d", "-s", "bench", "-x", "120", "-y", "40", *argv],
            env=env,
            check=True,
            timeout=10,
        )
        while time.monotonic() - started < DEADLINE:
            screen = subprocess.run(
                [*tmux, "capture-pane", "-p", "-t", "bench"], env=env, capture_output=True, text=True
            ).stdout
            if text in screen:
                return time.monotonic() - started
            time.sleep(POLL)
        raise SystemExit(f"{argv[0]}: {text!r} not shown after {DEADLINE:.0f} s; last screen:\n{screen}")
    finally:
        subprocess.run([*tmux, "kill-server"], env=env, capture_output=True, check=False)


def main() -> int:
    args = arguments(__doc__.splitlines()[0], runs=5)
    if shutil.which("tmux") is None:
        print("tmux is not installed: nothing measured")
        print_ratios(Ratio("tui/hello", float("nan"), 1.5))
        return 1
    with tempfile.TemporaryDirectory(prefix="maildoctor-p5-") as tmp:
        hello = Path(tmp) / "hello.py"
        hello.write_text(HELLO_APP, encoding="utf-8")
        sides = {
            "maildoctor": ([str(Path(sys.executable).parent / "maildoctor")], MAILDOCTOR_TEXT),
            "hello world": ([sys.executable, str(hello)], HELLO_TEXT),
        }
        times: dict[str, list[float]] = {name: [] for name in sides}
        for round_ in range(args.runs + (0 if args.quick else 1)):  # round 0: warm-up (not --quick)
            for name, (argv, text) in sides.items():
                folder = Path(tempfile.mkdtemp(dir=tmp))
                took = first_frame(argv, text, folder)
                if round_ or args.quick:
                    times[name].append(took)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(f"{name}: first frame after {value:.2f} s (median of {len(times[name])})")
    print_ratios(Ratio("tui/hello", medians["maildoctor"] / medians["hello world"], 1.5))
    return 0


if __name__ == "__main__":
    sys.exit(main())
