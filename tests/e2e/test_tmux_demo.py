"""`maildoctor demo` in a real terminal: tmux on a private socket, driven only by keys a new user would
press, read back with `capture-pane` (DESIGN.md). Form → walk → remedy → export → quit; the export and
the autosaved transcript carry the diagnosis but never the SMTP password, and quitting stops the lab."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from maildoctor.lab.scenario import load_scenario

POLL = 0.2
DEADLINE = 60.0
SESSION = "demo"


class Terminal:
    """A 120×40 tmux session on its own socket and config, running one program under /bin/sh, which
    writes the program's exit status to a file (tmux's own pane_dead_status is not reliable: it was
    seen to stay empty while the program had ended). The pane stays after the end (remain-on-exit), so
    its last screen can still be read."""

    def __init__(self, folder: Path) -> None:
        self.socket = folder / "tmux.sock"
        self.config = folder / "tmux.conf"
        self.config.write_text(
            "set-option -g default-shell /bin/sh\nset-option -g remain-on-exit on\n", encoding="utf-8"
        )
        self.status_file = folder / "exit-status"
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("NO_COLOR", "TMUX", "TMUX_PANE") and not k.startswith(("AWS_", "MAILDOCTOR_"))
        }
        self.env |= {"TERM": "xterm-256color", "MAILDOCTOR_CONFIG": str(folder / "no-config.toml")}
        self.screens: list[str] = []  # every screen read, to check that no secret was ever shown

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-S", str(self.socket), "-f", str(self.config), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=10,
            check=check,
        )

    def start(self, argv: list[str], cwd: Path) -> None:
        command = f"{shlex.join(argv)}; echo $? > {shlex.quote(str(self.status_file))}"
        self.tmux("new-session", "-d", "-s", SESSION, "-x", "120", "-y", "40", "-c", str(cwd), command)

    def program_pid(self) -> int | None:
        """The program's process id: the child of the pane's shell (Linux /proc; None elsewhere)."""
        shell = int(self.pane("pane_pid"))
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == shell:
                    return int(stat.parent.name)
        return None

    def exit_status(self) -> str | None:
        """The program's exit status once it has ended, else None."""
        try:
            return self.status_file.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", SESSION, *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", SESSION, "-l", text)

    def screen(self) -> str:
        text = self.tmux("capture-pane", "-p", "-t", SESSION).stdout
        self.screens.append(text)
        return text

    def pane(self, field: str) -> str:
        return self.tmux("display-message", "-p", "-t", SESSION, f"#{{{field}}}").stdout.strip()

    def wait_for(self, what: str, ok: Callable[[str], bool], deadline: float = DEADLINE) -> str:
        """Poll the screen until ``ok(screen)``; fail with the last screen (and the program's end)."""
        end = time.monotonic() + deadline
        while True:
            text = self.screen()
            if ok(text):
                return text
            status = self.exit_status()
            if status is not None or time.monotonic() > end:
                why = f"the program ended (status {status})" if status else f"{deadline:.0f} s passed"
                text = self.screen()  # with whatever it printed last
                pytest.fail(f"waiting for {what}: {why}; the last screen was:\n{text}", pytrace=False)
            time.sleep(POLL)

    def kill(self) -> None:
        self.tmux("kill-server", check=False)


def field(screen: str) -> str | None:
    """The text in the export dialog's path field (the first input below "Write to"), or None."""
    lines = screen.splitlines()
    for number, line in enumerate(lines):
        if "Write to" in line:
            for below in lines[number + 1 : number + 4]:
                if match := re.search(r"▊(.*)▎", below):
                    if set(match[1]) <= set("▔▁"):
                        continue  # the input's border
                    return match[1].strip()
    return None


def listening_ports(pid: int) -> set[int]:
    """The TCP ports a process listens on (Linux /proc; empty elsewhere)."""
    try:
        inodes = {
            os.readlink(fd)[len("socket:[") : -1]
            for fd in (f"/proc/{pid}/fd/{name}" for name in os.listdir(f"/proc/{pid}/fd"))
            if os.readlink(fd).startswith("socket:[")
        }
    except OSError:
        return set()
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def refuses(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


@pytest.mark.timeout(120)
def test_demo_in_a_real_terminal(tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    secret = load_scenario("seed-incident").walk_inputs()["smtp_password"]  # derived, deterministic
    state = tmp_path / "state"
    report = tmp_path / "incident.md"
    term = Terminal(tmp_path)
    try:
        term.start([sys.executable, "-m", "maildoctor", "demo", "--state-dir", str(state)], cwd=tmp_path)

        # the form, filled in from the scenario: enter starts the walk
        term.wait_for("the demo's form", lambda s: "admin@example.com" in s and "Start" in s)
        pid = term.program_pid()
        lab_ports = listening_ports(pid) if pid is not None else set()
        term.keys("Enter")

        # the walk ends on the diagnosis; the fix follows by itself, or with enter on the finished walk
        screen = term.wait_for(
            "the diagnosis smtp-credentials-stale",
            lambda s: "smtp-credentials-stale" in s and ("Most likely root cause" in s or "Finished" in s),
        )
        if "Most likely root cause" not in screen:
            term.keys("Enter")
        screen = term.wait_for(
            "the stale-credentials remedy",
            lambda s: "Most likely root cause: smtp-credentials-stale" in s and "AKIAEXAMPLENEWKEY002" in s,
        )

        # export: e opens the dialog on a proposed path (in the demo's working directory, the tmp dir);
        # clear the field, type a path of our own, enter writes. Each edit is seen on screen before the
        # next key: keys sent in one burst race in the terminal's input, as they would for a user.
        term.keys("e")
        term.wait_for(
            "the export dialog", lambda s: "Export the transcript" in s and (field(s) or "").startswith("./")
        )
        term.keys("End")
        term.keys("C-u")
        term.wait_for("the path field to be empty", lambda s: field(s) == "")
        term.type(f"./{report.name}")
        term.wait_for("the typed export path", lambda s: field(s) == f"./{report.name}")
        term.keys("Enter")
        term.wait_for(
            "the export to be written", lambda s: "Export the transcript" not in s and report.exists()
        )
        text = report.read_text(encoding="utf-8")
        assert "smtp-credentials-stale" in text and "AKIAEXAMPLEOLDKEY001" in text
        assert secret not in text

        # the walk was autosaved as it went, without the password either
        transcripts = sorted((state / "transcripts").glob("*.jsonl"))
        assert len(transcripts) == 1, transcripts
        saved = transcripts[0].read_text(encoding="utf-8")
        assert "smtp-credentials-stale" in saved and secret not in saved

        # q quits: the program ends at once (exit status 0: the demo's findings are not a failure)
        term.keys("q")
        end = time.monotonic() + 10
        while (status := term.exit_status()) is None:
            if time.monotonic() > end:
                pytest.fail(f"the demo did not exit within 10 s of q; the screen:\n{term.screen()}")
            time.sleep(POLL)
        assert status == "0", f"the demo exited with {status}; the screen:\n{term.screen()}"
        if pid is not None and Path("/proc/net/tcp").exists():
            assert len(lab_ports) >= 3, f"expected the lab's AWS, DNS and SMTP ports, found {lab_ports}"
        assert all(refuses(port) for port in lab_ports), f"a lab port is still open: {lab_ports}"
        assert not any(secret in s for s in term.screens), "the SMTP password was on screen"
    finally:
        term.kill()
