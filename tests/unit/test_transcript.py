"""Transcripts: written step by step, redacted, rebuilt after a crash, exported in three formats."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import Field

from maildoctor import transcript
from maildoctor.checks.registry import Args, CheckContext, CheckResult, Facts, Registry
from maildoctor.cli import main
from maildoctor.clients.settings import Settings
from maildoctor.engine import StepFinished
from maildoctor.flow.load import parse_flow_text
from maildoctor.session import Session

CHECKS = Registry()


class EchoArgs(Args):
    pw: str | None = Field(None, description="the password")


class EchoFacts(Facts):
    sent: str | None = Field(None, description="what was sent")


@CHECKS.check("test.password_echo", outcomes={"fail"}, args=EchoArgs, facts=EchoFacts)
async def password_echo(ctx: CheckContext[EchoArgs]) -> CheckResult:
    """Puts the secret into its evidence, as an SMTP dialogue might."""
    return CheckResult("fail", "fail", f"server said no to {ctx.args.pw}", EchoFacts(sent=ctx.args.pw))


FLOW = textwrap.dedent("""\
    name: tr
    title: Transcript flow
    description: transcript test
    inputs:
      smtp_password: {description: pw, secret: true}
    start: login
    nodes:
      login:
        kind: check
        title: Login
        check: test.password_echo
        args: {pw: "{smtp_password}"}
        next: {fail: fix, error: done}
      fix:
        kind: remedy
        title: Bad password
        code: smtp-password-wrong
        summary: "{login.summary}"
        remedy: "the password {smtp_password} is wrong"
        continue: done
      done:
        kind: end
    """)
SECRET = "BSuperSecretSmtpPassword0000000000000000000"


async def test_every_step_is_on_disk_when_it_finishes_and_no_secret_is(tmp_path: Path) -> None:
    flow = parse_flow_text(FLOW, "tr.yaml", CHECKS)
    session = Session(flow, {"smtp_password": SECRET}, Settings(state_dir=tmp_path), registry=CHECKS)
    writer = session.writer
    assert writer is not None
    seen_on_disk: list[int] = []

    def after_write(event: object) -> None:
        if isinstance(event, StepFinished):
            assert SECRET not in json.dumps(event.step.facts)  # what a surface receives is redacted
            seen_on_disk.append(len(writer.path.read_text().splitlines()))

    session.subscribe(after_write)
    await session.run()
    session.close()
    raw = writer.path.read_text()
    assert SECRET not in raw
    assert seen_on_disk == [2, 3, 5]  # session line, then each step as it finishes (+ the finding)
    data = transcript.load(writer.path)
    assert data["diagnosis"]["code"] == "smtp-password-wrong"
    assert data["inputs"] == {"smtp_password": "[secret]"}
    assert data["steps"][0]["summary"] == "server said no to [secret]"


def test_a_torn_last_line_after_a_crash_loses_only_that_line(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    lines = [
        {"type": "session", "maildoctor": "0.1.0", "session": "s", "flow": "tr", "flow_title": "T", "inputs": {},
         "started_at": "2026-11-28T10:00:00Z"},
        {"type": "step", "index": 0, "node": "login", "kind": "check", "title": "Login", "layer": "", "check": "x",
         "status": "pass", "outcome": "pass", "summary": "fine", "facts": {}, "evidence": [], "next": "done",
         "why": "", "started_at": "", "duration_ms": 3},
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(x) for x in lines) + '\n{"type": "step", "ind')
    data = transcript.load(path)
    assert [s["node"] for s in data["steps"]] == ["login"]
    assert data["complete"] is False


@pytest.mark.usefixtures("state_dir")
def test_list_and_export_in_every_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flow_file = tmp_path / "tr.yaml"
    flow_file.write_text(FLOW.replace("test.password_echo", "bounce.triage").replace(
        'args: {pw: "{smtp_password}"}', 'args: {bounce: "535 5.7.8 no to {smtp_password}"}'
    ).replace("next: {fail: fix, error: done}", "next: {credentials: fix, sending: done, recipient: done, "
              "dmarc: done, policy: done, delivered: done, unknown: done, skipped: done, error: done}"))  # fmt: skip
    secret_file = tmp_path / "pw"
    secret_file.write_text(SECRET)
    runner = CliRunner()
    result = runner.invoke(main, ["run", str(flow_file), "--set", f"smtp_password=@{secret_file}"])
    assert result.exit_code == 1
    listing = runner.invoke(main, ["transcript", "list"])
    assert listing.exit_code == 0
    assert " tr " in listing.output and "smtp-password-wrong" in listing.output
    for fmt, marker in [("markdown", "# Mail delivery diagnosis: smtp-password-wrong"), ("json", '"code": "smtp-password-wrong"'),
                        ("html", "<h1>Mail delivery diagnosis: smtp-password-wrong</h1>")]:  # fmt: skip
        out = tmp_path / f"export.{fmt}"
        result = runner.invoke(
            main, ["transcript", "export", "latest", "--format", fmt, "--output", str(out)]
        )
        assert result.exit_code == 0, result.output
        text = out.read_text()
        assert marker in text
        assert SECRET not in text


@pytest.mark.usefixtures("state_dir")
def test_export_of_a_missing_transcript_is_a_clear_error() -> None:
    result = CliRunner().invoke(main, ["transcript", "export", "nope"])
    assert result.exit_code == 2
    assert result.output.startswith("maildoctor: no transcript 'nope'")


def saved_session(state_dir: Path, session: str, started_at: str, *, complete: bool) -> Path:
    """A transcript as the writer leaves it: the session line, one step, the end line if it finished."""
    folder = transcript.transcripts_dir(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    records = [
        {"type": "session", "maildoctor": "0.1.0", "session": session, "flow": "tr", "flow_title": "T",
         "inputs": {}, "started_at": started_at},
        {"type": "step", "index": 0, "node": "login", "kind": "check", "title": "Login", "layer": "", "check": "x",
         "status": "pass", "outcome": "pass", "summary": "fine", "facts": {}, "evidence": [], "next": "done",
         "why": "", "started_at": started_at, "duration_ms": 3},
    ]  # fmt: skip
    if complete:
        records.append(
            {"type": "end", "complete": True, "incomplete_reason": None, "finished_at": started_at}
        )
    path = folder / f"{session}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_transcript_list_is_newest_first_under_a_header_naming_the_columns(state_dir: Path) -> None:
    older = saved_session(state_dir, "20261128-090000-tr-aaaa", "2026-11-28T09:00:00Z", complete=True)
    newer = saved_session(state_dir, "20261128-100500-tr-bbbb", "2026-11-28T10:05:00Z", complete=False)
    os.utime(newer, (1_000_000, 1_000_000))  # the start time orders them, not when the file was touched
    result = CliRunner().invoke(main, ["transcript", "list"])
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["SESSION", "STARTED", "FLOW", "DIAGNOSIS", "STEPS", "FILE"]
    assert [row.split()[0] for row in rows] == [newer.stem, older.stem]
    for row, path in zip(rows, (newer, older), strict=True):
        # every cell starts under its column's name
        assert row[header.index("STARTED") :].startswith("2026-11-28T")
        assert row[header.index("FLOW") :].startswith("tr ")
        assert row[header.index("STEPS") :].startswith("1 ")
        assert row[header.index("FILE") :] == str(path)
    assert "(unfinished)" in rows[0] and "(unfinished)" not in rows[1]


def test_transcript_list_of_an_empty_state_dir_says_so_without_a_header(state_dir: Path) -> None:
    result = CliRunner().invoke(main, ["transcript", "list"])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr.startswith(f"no saved sessions in {state_dir}")
