"""Secret canaries: distinctive values for the SMTP password and the secret access key go through every
surface, and appear nowhere: `run --format json|markdown|text` (stdout, stderr, --output files), the
transcripts in the state dir, `transcript export` (markdown, json, html), logs, the TUI (screenshots of
every screen and step, the clipboard, its exports), the argv of every process, and the lab's own files.

Each test searches its places for every canary, also encoded (base64 as in SMTP AUTH, URL-quoted) and
as fragments (so a cut-off or wrapped secret is caught too), and prints how many places it searched."""

from __future__ import annotations

import ast
import base64
import contextlib
import html
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from click.testing import CliRunner
from textual.pilot import Pilot
from textual.widgets import Input

import maildoctor
from maildoctor.checks.registry import default_registry
from maildoctor.cli import main
from maildoctor.clients.settings import Settings
from maildoctor.lab import Lab
from maildoctor.lab.scenario import Scenario, load_scenario
from maildoctor.smtp_password import smtp_password_v4
from maildoctor.tui.app import MaildoctorApp
from maildoctor.tui.screens.export import ExportDialog, write_export
from maildoctor.tui.screens.remedy import RemedyScreen
from maildoctor.tui.screens.walk import WalkScreen
from maildoctor.tui.widgets.step_tree import StepItem

# The canaries: secret access keys (40 characters, as AWS makes them) and SigV4 SMTP passwords derived
# from them (44 characters starting with B), so that every check treats them as the real thing.
CANARY_SECRET = "CANARYsecretKEYdoNotLeak/7Qx+4b9Zt2Lm8Wv"
CANARY_OLD_SECRET = "CANARYoldSECRETgone/3Kp+8Rw2Yd6Nf1Hs5Tu0"
PASSWORD_OK = smtp_password_v4(CANARY_SECRET, "us-east-1")
PASSWORD_OTHER_REGION = smtp_password_v4(CANARY_SECRET, "us-west-2")
PASSWORD_OLD = smtp_password_v4(CANARY_OLD_SECRET, "us-east-1")
CANARIES = {
    "secret key": CANARY_SECRET,
    "old secret key": CANARY_OLD_SECRET,
    "smtp password": PASSWORD_OK,
    "smtp password (us-west-2)": PASSWORD_OTHER_REGION,
    "old smtp password": PASSWORD_OLD,
}
USERS = ("AKIAEXAMPLENEWKEY002", "AKIAEXAMPLEOLDKEY001")
FRAGMENT = 14  # a secret's first and last characters are searched for on their own too
Load = Callable[[Scenario], Scenario]  # the `load` fixture
PACKAGE = Path(maildoctor.__file__).parent


def needles() -> dict[str, str]:
    """Every form a canary could leak in: itself, URL-quoted, base64 (AUTH LOGIN), AUTH PLAIN's base64,
    and its first and last characters (a wrapped, cut or elided value)."""
    found: dict[str, str] = {}
    for name, value in CANARIES.items():
        found[name] = value
        found[f"{name}, url-quoted"] = quote(value, safe="")
        found[f"{name}, base64"] = base64.b64encode(value.encode()).decode()
        for user in USERS:
            plain = base64.b64encode(f"\0{user}\0{value}".encode()).decode()
            found[f"{name}, AUTH PLAIN as {user}"] = plain
        found[f"{name}, first {FRAGMENT} characters"] = value[:FRAGMENT]
        found[f"{name}, last {FRAGMENT} characters"] = value[-FRAGMENT:]
    assert len(set(found.values())) == len(found)
    return found


@dataclass
class Haystack:
    """The places a test searched, by name."""

    places: dict[str, str] = field(default_factory=dict)

    def add(self, place: str, text: str | bytes) -> None:
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        assert place not in self.places, place
        self.places[place] = text

    def add_files(self, label: str, folder: Path) -> int:
        files = [p for p in sorted(folder.rglob("*")) if p.is_file()]
        for path in files:
            self.add(f"{label}: {path.relative_to(folder)}", path.read_bytes())
        return len(files)

    def assert_clean(self, what: str) -> None:
        forms = needles()
        found = [
            f"{place}: {name}"
            for place, text in self.places.items()
            for name, needle in forms.items()
            if needle in text
        ]
        print(
            f"\n{what}: {len(self.places)} places searched for {len(forms)} canary forms, {len(found)} found"
        )
        assert not found, "\n".join(found)


# --- scenarios the canaries go through -------------------------------------------------------------


def canary_scenario(case: str) -> Scenario:
    """A shipped scenario whose SMTP user's key has the canary secret, with canary inputs."""
    base = "seed-incident" if case == "stale" else "all-clear"
    data = load_scenario(base).model_dump()
    for user in data["iam"]["users"]:
        for key in user["keys"]:
            if key["id"] == "AKIAEXAMPLENEWKEY002":
                key["secret"] = CANARY_SECRET
    password = {"ok": PASSWORD_OK, "other-region": PASSWORD_OTHER_REGION, "raw-secret": CANARY_SECRET,
                "stale": PASSWORD_OLD}[case]  # fmt: skip
    secret = CANARY_OLD_SECRET if case == "stale" else CANARY_SECRET
    inputs = {k: v for k, v in load_scenario(base).walk_inputs().items() if k != "smtp_password"}
    inputs |= {"smtp_password": password, "smtp_secret_key": secret}
    expect = {"ok": "all-clear", "other-region": "smtp-password-wrong", "raw-secret": "smtp-password-wrong",
              "stale": "smtp-credentials-stale"}[case]  # fmt: skip
    data |= {"name": f"canary-{case}", "extends": None, "expect": expect, "inputs": inputs}
    return Scenario.model_validate(data)


CASES = ("ok", "other-region", "raw-secret", "stale")


def test_the_canary_scenarios_are_what_they_claim() -> None:
    """Every canary case carries the canaries as its secret inputs (or the test would search for nothing)."""
    for case in CASES:
        inputs = canary_scenario(case).walk_inputs()
        assert inputs["smtp_password"] in CANARIES.values() and inputs["smtp_secret_key"] in CANARIES.values()
    assert PASSWORD_OK.startswith("B") and len(PASSWORD_OK) == 44 and len(CANARY_SECRET) == 40


# --- logs ------------------------------------------------------------------------------------------


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.lines.append(f"{record.name} {record.levelname} {self.format(record)}")


@contextlib.contextmanager
def every_log_record() -> Iterator[Records]:
    """Every log record of every logger (botocore, aiosmtplib, dnspython, maildoctor, the lab) at DEBUG."""
    root = logging.getLogger()
    records, level = Records(), root.level
    root.addHandler(records)
    root.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        root.removeHandler(records)
        root.setLevel(level)


# --- headless --------------------------------------------------------------------------------------


def run_args(
    scenario: Scenario, inputs_dir: Path, *extra: str, secret_on_stdin: bool = True
) -> tuple[list[str], dict[str, str], str]:
    """`maildoctor run ses-delivery` with the scenario's inputs: plain ones with --set (a bounce from a
    file), the password from MAILDOCTOR_INPUT_SMTP_PASSWORD and the key's secret on stdin (`@-`) or
    from MAILDOCTOR_INPUT_SMTP_SECRET_KEY."""
    args = ["run", "ses-delivery", *extra]
    env: dict[str, str] = {}
    stdin = ""
    for key, value in scenario.walk_inputs().items():
        if key == "smtp_password":
            env["MAILDOCTOR_INPUT_SMTP_PASSWORD"] = value
        elif key == "smtp_secret_key" and not secret_on_stdin:
            env["MAILDOCTOR_INPUT_SMTP_SECRET_KEY"] = value
        elif key == "smtp_secret_key":
            args += ["--set", "smtp_secret_key=@-"]
            stdin = value
        elif "\n" in value:
            path = inputs_dir / f"{scenario.name}-{key}.txt"
            path.write_text(value, encoding="utf-8")
            args += ["--set", f"{key}=@{path}"]
        elif value:
            args += ["--set", f"{key}={value}"]
    return args, env, stdin


def test_headless_reports_transcripts_exports_and_logs_carry_no_secret(
    lab: Lab, load: Load, state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hay = Haystack()
    inputs_dir, out_dir = tmp_path / "inputs", tmp_path / "out"
    inputs_dir.mkdir()
    out_dir.mkdir()
    runner = CliRunner()
    with every_log_record() as records:
        for i, case in enumerate(CASES):
            scenario = load(canary_scenario(case))
            for j, fmt in enumerate(("json", "markdown", "text")):
                # each format both to stdout and to --output, over the cases (a walk costs ~1 s)
                for to_file in [(i + j) % 2 == 1]:
                    # every record at DEBUG for one walk of each case (botocore's cost ~1 s a walk)
                    logging.getLogger().setLevel(logging.DEBUG if j == 0 else logging.INFO)
                    output = out_dir / f"{case}.{fmt}"
                    extra = ["--format", fmt, *(["--output", str(output)] if to_file else [])]
                    args, env, stdin = run_args(scenario, inputs_dir, *extra)
                    result = runner.invoke(main, args, input=stdin, env=env)
                    assert result.exit_code in (0, 1), (case, fmt, result.output)
                    where = f"run {case} --format {fmt}" + (" --output" if to_file else "")
                    hay.add(f"{where}: stdout", result.stdout)
                    hay.add(f"{where}: stderr", result.stderr)
                    if to_file:
                        hay.add(f"{where}: the file", output.read_text(encoding="utf-8"))
                    if fmt == "json":
                        report = json.loads(output.read_text() if to_file else result.stdout)
                        assert report["diagnosis"]["code"] == scenario.expect, (case, report["findings"])
                        assert report["inputs"]["smtp_password"] == "[secret]"
                        assert report["inputs"]["smtp_secret_key"] == "[secret]"
        # every saved session, exported in every format, to stdout and to a file
        transcripts = sorted((state_dir / "transcripts").glob("*.jsonl"))
        assert len(transcripts) == len(CASES) * 3
        listing = runner.invoke(main, ["transcript", "list"])
        hay.add("transcript list", listing.output)
        for path in transcripts:
            for fmt in ("markdown", "json", "html"):
                shown = runner.invoke(main, ["transcript", "export", str(path), "--format", fmt])
                assert shown.exit_code == 0, shown.output
                hay.add(f"transcript export {path.name} --format {fmt}", shown.output)
                target = out_dir / f"{path.stem}.export.{fmt}"
                written = runner.invoke(
                    main, ["transcript", "export", str(path), "--format", fmt, "--output", str(target)]
                )
                assert written.exit_code == 0 and target.is_file(), written.output
    saved = hay.add_files("state dir", state_dir)
    assert saved >= len(transcripts)
    hay.add_files("export files", out_dir)
    hay.add("log records", "\n".join(records.lines))
    assert records.lines  # the handler did hear the walks (botocore logs every request at DEBUG)
    hay.add_files("the lab's folder", lab.tls.ca_file.parent)
    hay.assert_clean("headless")


# --- the TUI ---------------------------------------------------------------------------------------

SIZE = (160, 50)
SVG_TEXT = re.compile(r'<text [^>]*?x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>')


def svg_rows(svg: str) -> str:
    """The screenshot as plain text, a line per row, so that a value split over styled runs is whole."""
    rows: dict[float, list[tuple[float, str]]] = {}
    for x, y, text in SVG_TEXT.findall(svg):
        rows.setdefault(float(y), []).append((float(x), html.unescape(text).replace("\xa0", " ")))
    return "\n".join("".join(t for _, t in sorted(row)) for _, row in sorted(rows.items()))


class Screens:
    def __init__(self, app: MaildoctorApp, hay: Haystack, case: str) -> None:
        self.app, self.hay, self.case, self.count = app, hay, case, 0

    def shoot(self, what: str) -> str:
        self.count += 1
        svg = self.app.export_screenshot()
        place = f"TUI {self.case} #{self.count} {what}"
        self.hay.add(f"{place}: svg", svg)
        text = svg_rows(svg)
        self.hay.add(f"{place}: text", text)
        return text


async def wait_until(pilot: Pilot[int], predicate: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {predicate}"
        await pilot.pause(0.02)


@pytest.mark.parametrize("case", ["stale", "ok"])
async def test_the_tui_shows_no_secret_on_any_screen_clipboard_or_export(
    case: str, lab: Lab, load: Load, state_dir: Path, tmp_path: Path
) -> None:
    scenario = load(canary_scenario(case))
    prefill = {k: v for k, v in scenario.walk_inputs().items() if v}
    assert prefill["smtp_password"] in CANARIES.values() and prefill["smtp_secret_key"] in CANARIES.values()
    app = MaildoctorApp(
        flow="ses-delivery", prefill=prefill, settings=Settings.resolve(), registry=default_registry()
    )
    hay = Haystack()
    shots = Screens(app, hay, case)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        form_text = shots.shoot("form")
        assert "smtp_password" in form_text  # the masked fields are on screen
        app.screen.query_one("#form").scroll_end(animate=False)
        await pilot.pause()
        shots.shoot("form, scrolled to the end")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.session is not None and app.session.walk.finished)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, WalkScreen)  # the walk stays on the walk; enter opens the fix
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RemedyScreen))
        if app.screen.findings:
            shots.shoot("remedy")
            await pilot.press("c")
            hay.add(f"TUI {case}: clipboard after c", app.clipboard)
            await pilot.press("y")
            hay.add(f"TUI {case}: clipboard after y", app.clipboard)
        else:
            shots.shoot("all clear")
        await pilot.press("b")
        await pilot.pause()
        walk = app.screen
        assert isinstance(walk, WalkScreen), walk
        # every line of the step tree selected in turn: each step's detail pane, evidence included
        tree = walk.step_tree
        for line in range(tree.last_line + 1):
            tree.cursor_line = line
            node = tree.cursor_node
            if node is not None and isinstance(node.data, StepItem):  # a layer's line shows no evidence
                await pilot.pause()
                assert walk.detail.shown is node.data
                shots.shoot(f"walk, step {node.data.index} {node.data.node}")
        assert shots.count > 10
        for fmt in ("markdown", "json"):  # through the dialog; html as the dialog writes it, below
            await pilot.press("e")
            await pilot.pause()
            dialog = app.screen
            assert isinstance(dialog, ExportDialog)
            await pilot.click(f"#fmt-{fmt}")
            path = dialog.query_one("#export-path", Input)
            path.value = str(tmp_path / f"tui.{fmt}")
            path.focus()
            await pilot.pause()
            shots.shoot(f"export dialog, {fmt}")
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen is walk, app.screen
        assert app.session is not None
        write_export(app.session, "html", tmp_path / "tui.html")
        await pilot.press("q")
    assert app.return_value == (0 if scenario.expect == "all-clear" else 1)
    assert len(list(tmp_path.glob("tui.*"))) == 3
    hay.add_files("TUI exports", tmp_path)
    hay.add_files("state dir", state_dir)
    hay.assert_clean(f"TUI {case} ({shots.count} screenshots)")


# --- processes -------------------------------------------------------------------------------------

FORBIDDEN_MODULES = {"subprocess", "multiprocessing", "pty", "webbrowser", "pexpect"}
FORBIDDEN_CALLS = {
    ("os", name)
    for name in (
        "system",
        "popen",
        "fork",
        "forkpty",
        "execv",
        "execve",
        "execvp",
        "execvpe",
        "execl",
        "execle",
        "execlp",
        "execlpe",
        "spawnv",
        "spawnve",
        "spawnvp",
        "spawnvpe",
        "spawnl",
        "posix_spawn",
        "posix_spawnp",
        "startfile",
    )
} | {("asyncio", "create_subprocess_exec"), ("asyncio", "create_subprocess_shell")}


def test_maildoctor_starts_no_process_at_all() -> None:
    """No module of maildoctor (the lab and the TUI included) imports a way to start a process, so no
    secret can reach another process's argv."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                module = (node.module or "").split(".")[0]
                names = [module] + [f"{module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                names = (
                    [f"{node.value.id}.{node.attr}"] if (node.value.id, node.attr) in FORBIDDEN_CALLS else []
                )
            else:
                continue
            bad = [n for n in names if n in FORBIDDEN_MODULES or tuple(n.split(".", 1)) in FORBIDDEN_CALLS]
            found += [f"{path.relative_to(PACKAGE)}:{node.lineno} {n}" for n in bad]
    assert not found, found


def proc_table() -> dict[int, tuple[int, bytes]]:
    """Every process now: pid -> (parent pid, argv as NUL-separated bytes)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (entry / "cmdline").read_bytes()
            stat = (entry / "stat").read_text()
            table[int(entry.name)] = (int(stat.rsplit(")", 1)[1].split()[1]), argv)
    return table


def watch(process: subprocess.Popen[bytes], deadline: float) -> tuple[int, set[int], list[bytes]]:
    """Poll /proc until ``process`` ends: (samples taken, descendants seen, every argv seen)."""
    samples, descendants, argvs = 0, set(), []
    while process.poll() is None and time.monotonic() < deadline:
        table = proc_table()
        samples += 1
        family = {process.pid}
        for _ in range(4):  # children, grandchildren ...
            family |= {pid for pid, (ppid, _) in table.items() if ppid in family}
        descendants |= family - {process.pid}
        argvs += [argv for _, argv in table.values()]
        time.sleep(0.01)
    return samples, descendants, argvs


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_no_process_has_a_secret_in_its_argv(lab: Lab, load: Load, state_dir: Path, tmp_path: Path) -> None:
    hay = Haystack()
    # the control: the scanner does see a secret in a process's argv
    decoy = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)", CANARY_SECRET])
    _, _, argvs = watch(decoy, time.monotonic() + 5)
    assert any(CANARY_SECRET.encode() in argv for argv in argvs)

    scenario = load(canary_scenario("stale"))
    args, env, _ = run_args(scenario, tmp_path, "--format", "json", secret_on_stdin=False)
    assert set(env) == {"MAILDOCTOR_INPUT_SMTP_PASSWORD", "MAILDOCTOR_INPUT_SMTP_SECRET_KEY"}
    process = subprocess.Popen(
        [sys.executable, "-m", "maildoctor", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        samples, descendants, argvs = watch(process, time.monotonic() + 60)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, err.decode()
    assert b'"smtp-credentials-stale"' in out
    assert samples > 3 and any(b"maildoctor" in a and b"ses-delivery" in a for a in argvs)  # we saw it run
    assert descendants == set(), f"maildoctor started processes: {descendants}"
    distinct = sorted(set(argvs))
    for i, argv in enumerate(distinct):
        hay.add(f"argv of process #{i}", argv)
    hay.add("maildoctor run: stdout", out)
    hay.add("maildoctor run: stderr", err)
    hay.add_files("state dir", state_dir)
    hay.assert_clean(f"argv ({samples} samples of /proc, {len(distinct)} distinct argv)")


def test_the_lab_command_writes_no_secret_to_its_files(tmp_path: Path) -> None:
    """`maildoctor lab --env-file` for a scenario holding the canaries: the env file and the lab's own
    folder (CA, certificates, written inputs) carry none of them."""
    scenario = canary_scenario("stale")
    scenario_file = tmp_path / "input" / "canary.yaml"
    scenario_file.parent.mkdir()
    scenario_file.write_text(yaml.safe_dump(scenario.model_dump(mode="json")), encoding="utf-8")
    env_file = tmp_path / "lab.env"
    lab = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "maildoctor",
            "lab",
            "--scenario",
            str(scenario_file),
            "--env-file",
            str(env_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    hay = Haystack()
    try:
        deadline = time.monotonic() + 60
        while not env_file.exists() and lab.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert env_file.exists(), lab.stderr.read().decode() if lab.poll() is not None and lab.stderr else ""
        text = env_file.read_text(encoding="utf-8")
        hay.add("lab --env-file", text)
        ca = re.search(r"MAILDOCTOR_SMTP_CA_FILE=(\S+)", text)
        assert ca, text
        folder = Path(ca.group(1).strip("'\""))
        assert hay.add_files("the lab's folder", folder.parent) >= 1
    finally:
        lab.send_signal(signal.SIGTERM)
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            lab.kill()
            lab.wait(timeout=5)
    assert lab.stderr is not None and lab.stdout is not None
    hay.add("lab: stderr", lab.stderr.read())
    printed = lab.stdout.read().decode()
    assert "export AWS_ENDPOINT_URL=" in printed
    # its `# walk it:` line hands out the scenario's own password, by design (see the test below)
    hay.add("lab: stdout but the walk hint", re.sub(r"(?m)^# walk it: .*$", "", printed))
    hay.assert_clean("lab files")


def test_the_lab_walk_hint_puts_no_secret_on_a_command_line(lab: Lab) -> None:
    """The command `maildoctor lab` suggests gives the scenario's secrets as MAILDOCTOR_INPUT_<NAME>
    assignments (the lab's own, public values), never as arguments."""
    from maildoctor.cli import walk_hint

    hint = walk_hint(canary_scenario("stale"), lab)
    assert "MAILDOCTOR_INPUT_SMTP_PASSWORD=" in hint
    command = re.sub(r"MAILDOCTOR_INPUT_[A-Z_]+=\S+ ", "", hint)
    hay = Haystack()
    hay.add("lab walk hint, without its environment assignments", command)
    hay.assert_clean("lab walk hint")
