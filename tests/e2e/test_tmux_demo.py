"""`maildoctor demo` in a real terminal: tmux on a private socket, driven only by keys a new user would
press, read back with `capture-pane` (DESIGN.md), and what the TUI copies read from tmux's paste buffer
(tmux takes the OSC 52 clipboard sequence as a buffer). At 120×40: form → walk → remedy → export → quit;
the export and the autosaved transcript carry the diagnosis but never the SMTP password, and quitting
stops the lab. At 80×24: the keys do what the footer says, copied commands run, nothing is cut."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from maildoctor.lab.scenario import load_scenario

POLL = 0.2
DEADLINE = 60.0
SESSION = "demo"


class Terminal:
    """A tmux session (120×40 unless told) on its own socket and config, running one program under /bin/sh, which
    writes the program's exit status to a file (tmux's own pane_dead_status is not reliable: it was
    seen to stay empty while the program had ended). The pane stays after the end (remain-on-exit), so
    its last screen can still be read."""

    def __init__(self, folder: Path, size: tuple[int, int] = (120, 40)) -> None:
        self.socket = folder / "tmux.sock"
        self.config = folder / "tmux.conf"
        self.size = size
        self.config.write_text(
            "set-option -g default-shell /bin/sh\nset-option -g remain-on-exit on\n"
            "set-option -g set-clipboard on\n",  # an application's OSC 52 copy becomes a paste buffer
            encoding="utf-8",
        )
        self.status_file = folder / "exit-status"
        self.env = {
            k: v
            for k, v in os.environ.items()
            # COLUMNS/LINES (set by pytest-xdist's workers) would override the pane's size for Rich
            if k not in ("NO_COLOR", "TMUX", "TMUX_PANE", "COLUMNS", "LINES")
            and not k.startswith(("AWS_", "MAILDOCTOR_"))
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
        width, height = (str(n) for n in self.size)
        self.tmux("new-session", "-d", "-s", SESSION, "-x", width, "-y", height, "-c", str(cwd), command)

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

    def wait_exit(self, what: str, deadline: float = 10.0) -> str:
        """The program's exit status, once it has ended within ``deadline`` seconds (else the test fails)."""
        end = time.monotonic() + deadline
        while (status := self.exit_status()) is None:
            if time.monotonic() > end:
                pytest.fail(f"{what} did not exit within {deadline:g} s of q; the screen:\n{self.screen()}")
            time.sleep(POLL)
        return status

    def clipboard(self) -> str:
        """What the program copied last (tmux's newest paste buffer), or ''."""
        return self.tmux("show-buffer", check=False).stdout

    def kill(self) -> None:
        self.tmux("kill-server", check=False)


def field(screen: str) -> str | None:
    """The text in the export dialog's path field (the line right below "Write to"; inside the input's
    edges when they show), or None when no dialog is on screen."""
    lines = screen.splitlines()
    for number, line in enumerate(lines[:-1]):
        if "Write to" in line:
            text = lines[number + 1].strip().strip("█").strip()
            if match := re.search(r"▊(.*)▎", text):
                text = match[1]
            return text.strip()
    return None


def short_folder() -> Path:
    """A new folder with a short path (pytest's own, under xdist, are too long for the export field)."""
    folder = Path(tempfile.mkdtemp(prefix="md-"))
    FOLDERS.append(folder)
    return folder


FOLDERS: list[Path] = []


@pytest.fixture(autouse=True)
def _remove_short_folders() -> Iterator[None]:
    yield
    while FOLDERS:
        shutil.rmtree(FOLDERS.pop(), ignore_errors=True)


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
    state = short_folder() / "s"  # so that the export path fits the dialog's field
    report = tmp_path / "incident.md"
    term = Terminal(tmp_path)
    try:
        term.start([sys.executable, "-m", "maildoctor", "demo", "--state-dir", str(state)], cwd=tmp_path)

        # the form, filled in from the scenario: enter starts the walk
        term.wait_for("the demo's form", lambda s: "admin@example.com" in s and "Start" in s)
        pid = term.program_pid()
        lab_ports = listening_ports(pid) if pid is not None else set()
        term.keys("Enter")

        # the walk ends on the diagnosis and stays on the walk; enter opens the fix
        term.wait_for(
            "the finished walk", lambda s: "Finished: 1 finding, most likely smtp-credentials-stale" in s
        )
        term.keys("Enter")
        term.wait_for(
            "the stale-credentials remedy",
            lambda s: "Most likely root cause: smtp-credentials-stale" in s and "AKIAEXAMPLENEWKEY002" in s,
        )

        # export: e opens the dialog on a path it proposes in the state directory's exports folder; tab
        # to the field, clear it, type a path of our own, enter writes. Each edit is seen on screen
        # before the next key: keys sent in one burst race in the terminal's input, as for a user.
        term.keys("e")
        term.wait_for(
            "the export dialog",
            lambda s: "Export the transcript" in s and (field(s) or "").startswith(str(state / "exports")),
        )
        term.keys("Tab")
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
        status = term.wait_exit("the demo")
        assert status == "0", f"the demo exited with {status}; the screen:\n{term.screen()}"
        if pid is not None and Path("/proc/net/tcp").exists():
            assert len(lab_ports) >= 3, f"expected the lab's AWS, DNS and SMTP ports, found {lab_ports}"
        assert all(refuses(port) for port in lab_ports), f"a lab port is still open: {lab_ports}"
        assert not any(secret in s for s in term.screens), "the SMTP password was on screen"
    finally:
        term.kill()


def words_whole(screen: str, line: str) -> bool:
    """Every word of ``line`` appears whole on ``screen`` (a wrapped line breaks between words only)."""
    shown = set(re.findall(r"\S+", screen))
    return all(word in shown for word in re.findall(r"\S+", line))


@pytest.mark.timeout(150)
def test_demo_at_80x24_keys_do_what_the_footer_says(tmp_path: Path) -> None:
    """Issue 13 at the smallest usual terminal: the form's keys, the walk that stays, enter for the fix,
    PageDown in the fix, y copying exactly the shell commands, the export dialog's keys and its care with
    an existing file, and the key timeline's words whole."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    state = short_folder() / "s"  # so that the export path fits the dialog's field at 80 columns
    term = Terminal(tmp_path, size=(80, 24))
    try:
        term.start([sys.executable, "-m", "maildoctor", "demo", "--state-dir", str(state)], cwd=tmp_path)

        # the form: its footer shows only keys that cannot be text; b is a letter of the field, esc goes back
        screen = term.wait_for("the demo's form", lambda s: "admin@example.com" in s and "Start" in s)
        footer = screen.rstrip().splitlines()[-1]
        assert "esc Back" in footer and " b " not in footer and "q Quit" not in footer.replace("^q", ""), (
            footer
        )
        term.keys("b")
        term.wait_for("b typed into the sender field", lambda s: "admin@example.comb" in s)
        term.keys("BSpace")
        term.wait_for(
            "the sender as it was", lambda s: "admin@example.comb" not in s and "admin@example.com" in s
        )
        term.keys("Escape")
        term.wait_for("the flow picker", lambda s: "What is wrong with your mail?" in s)
        screen = term.screen()
        assert screen.index("ses-delivery") < screen.index("dns-auth")  # the main flow first
        term.keys("Enter")
        term.wait_for("the form again", lambda s: "admin@example.com" in s and "Start" in s)
        term.keys("Enter")

        # the walk stays on the walk when it ends, and says so; enter opens the fix
        term.wait_for("the walk's end, said in a notice", lambda s: "The walk finished: 1 finding" in s)
        time.sleep(1.0)
        screen = term.screen()
        assert "Most likely root cause" not in screen and "Live SMTP login" in screen
        term.keys("Enter")
        screen = term.wait_for("the fix", lambda s: "Most likely root cause: smtp-credentials-stale" in s)
        assert "DeleteAccessKey" not in screen  # the timeline is below the fold at 24 rows ...
        term.keys("PageDown")  # ... and PageDown brings it up without tabbing to the pane first
        timeline = "DeleteAccessKey AKIAEXAMPLEOLDKEY001 by alice"
        screen = term.wait_for("the key timeline", lambda s: "DeleteAccessKey" in s)
        assert words_whole(screen, timeline) and words_whole(
            screen, "UpdateAccessKey AKIAEXAMPLEOLDKEY001 → Inactive by alice"
        )

        # y: exactly the fix's shell commands, which a shell can run as they are
        term.keys("y")
        copied = ""
        end = time.monotonic() + 10
        while not copied and time.monotonic() < end:
            copied = term.clipboard()
            time.sleep(POLL)
        assert copied == (
            "maildoctor smtp-password --region us-east-1\naws iam create-access-key --user-name ses-smtp-user\n"
        ), copied
        check = subprocess.run(["sh", "-n"], input=copied, text=True, capture_output=True)
        assert check.returncode == 0, check.stderr  # no date, no JSON brace: valid shell

        # the export dialog: focus on the formats (down down enter: HTML), the exports folder of the
        # state directory; q closes it without typing into the path
        exports = state / "exports"
        term.keys("e")
        term.wait_for("the export dialog", lambda s: (field(s) or "").startswith(str(exports)))
        term.keys("q")
        term.wait_for("the dialog closed by q", lambda s: "Export the transcript" not in s)
        term.keys("e")
        term.wait_for("the export dialog again", lambda s: (field(s) or "").endswith(".md"))
        term.keys("Down")
        term.keys("Down")
        term.keys("Enter")  # ↓ ↓ enter: the third format
        term.wait_for("HTML chosen", lambda s: (field(s) or "").endswith(".html"))
        term.keys("Tab")
        term.keys("Tab")  # the path, then Write
        term.keys("Enter")
        term.wait_for(
            "the HTML export written",
            lambda s: "Export the transcript" not in s and any(exports.glob("*.html")),
        )
        written = next(exports.glob("*.html"))
        first = written.read_text(encoding="utf-8")
        assert "smtp-credentials-stale" in first
        written.write_text("kept", encoding="utf-8")
        term.keys("e")
        term.wait_for("the export dialog a third time", lambda s: (field(s) or "").endswith(".md"))
        term.keys("Down")
        term.keys("Down")
        term.keys("Enter")
        term.wait_for("HTML chosen again", lambda s: (field(s) or "").endswith(".html"))
        term.keys("Tab")
        term.keys("Tab")
        term.keys("Enter")
        term.wait_for("the warning that the file exists", lambda s: "exists" in s and "Write again" in s)
        assert written.read_text(encoding="utf-8") == "kept"  # not overwritten without asking
        term.keys("Escape")
        term.wait_for("the dialog closed by esc", lambda s: "Export the transcript" not in s)
        assert written.read_text(encoding="utf-8") == "kept"

        term.keys("q")
        term.wait_exit("the demo")
    finally:
        term.kill()
