"""The engine on flows whose checks are test doubles registered here (no network: this tests the walk)."""

from __future__ import annotations

import asyncio
import json
import textwrap

import pytest
from click.testing import CliRunner

from maildoctor import report
from maildoctor.checks.registry import CheckContext, CheckResult, Evidence, check
from maildoctor.cli import main
from maildoctor.clients import Clients
from maildoctor.clients.settings import Settings
from maildoctor.engine import FindingMade, StepFinished, Walk, WalkFinished, WalkStarted, WalkTruncated
from maildoctor.flow.load import parse_flow_text

CALLS: list[str] = []


@check("test.echo", outcomes={"pass", "fail"}, args={"value"})
async def echo(ctx: CheckContext) -> CheckResult:
    """Pass when value is 'ok'."""
    CALLS.append(ctx.arg("value"))
    ok = ctx.arg("value") == "ok"
    return CheckResult("pass" if ok else "fail", "pass" if ok else "fail", f"value is {ctx.arg('value')}",
                       facts={"value": ctx.arg("value")}, evidence=[Evidence("asked", ctx.arg("value"))])  # fmt: skip


@check("test.slow", outcomes={"pass"}, timeout=0.2)
async def slow(ctx: CheckContext) -> CheckResult:
    await asyncio.sleep(5)
    return CheckResult("pass", "pass", "never")


@check("test.boom", outcomes={"pass"})
async def boom(ctx: CheckContext) -> CheckResult:
    raise ConnectionResetError("peer went away")


FLOW = textwrap.dedent("""\
    name: t
    title: Test flow
    description: engine test
    inputs:
      value: {description: v}
      path: {description: which way, kind: choice, choices: [fast, slow]}
      password: {description: pw, secret: true}
    start: first
    nodes:
      first:
        kind: check
        title: First
        layer: one
        check: test.echo
        args: {value: "{value}"}
        next: {pass: ask, fail: broken, error: ask}
      broken:
        kind: remedy
        title: Broken value
        code: value-broken
        summary: "value was {first.value}"
        remedy: set value to ok instead of {value}
        continue: ask
      ask:
        kind: question
        title: Which way
        key: path
        prompt: Which way?
        options: [{value: fast, label: The fast way}, {value: slow, label: The slow way}]
        next: {fast: done, slow: wait}
      wait:
        kind: check
        title: Slow
        check: test.slow
        next: {pass: done, error: crash}
      crash:
        kind: check
        title: Crash
        check: test.boom
        next: {pass: done, error: done}
      done:
        kind: end
    """)


def walk(inputs: dict[str, str]) -> tuple[Walk, list[object]]:
    events: list[object] = []
    flow = parse_flow_text(FLOW, "t.yaml")
    return Walk(flow, inputs, Clients(Settings()), listeners=[events.append]), events


async def test_walk_records_steps_findings_and_events() -> None:
    w, events = walk({"value": "bad", "path": "fast"})
    await w.run()
    assert [s.node for s in w.steps] == ["first", "broken", "ask", "done"]
    assert [f.code for f in w.findings] == ["value-broken"]
    finding = w.findings[0]
    assert finding.summary == "value was bad"
    assert finding.remedy == "set value to ok instead of bad"
    assert finding.facts == {"value": "bad"}
    assert w.steps[2].summary == "The fast way (path=fast, from the input)"
    assert w.complete
    kinds = [type(e) for e in events]
    assert kinds[0] is WalkStarted and kinds[-1] is WalkFinished
    assert kinds.count(StepFinished) == 4 and kinds.count(FindingMade) == 1


async def test_unanswered_question_makes_the_walk_incomplete_naming_the_key() -> None:
    w, _ = walk({"value": "ok"})
    await w.run()
    assert not w.complete
    assert w.incomplete_reason == "question 'ask' needs an answer: set input 'path' to one of fast, slow"
    assert report.exit_code(report.build(w)) == 3


async def test_timeout_and_exception_become_error_steps_not_crashes() -> None:
    w, _ = walk({"value": "ok", "path": "slow"})
    await w.run()
    wait, crash = w.steps[2], w.steps[3]
    assert (wait.status, wait.outcome) == ("error", "error")
    assert wait.summary == "could not check: no answer within 0.2s"
    assert crash.summary == "could not check: ConnectionResetError: peer went away"
    assert w.complete  # the flow routed the errors onward


async def test_rerun_replaces_later_steps_and_their_findings() -> None:
    w, events = walk({"value": "bad", "path": "fast"})
    await w.run()
    w.inputs["value"] = "ok"
    await w.rerun(0)
    assert [s.node for s in w.steps] == ["first", "ask", "done"]
    assert w.findings == []
    assert any(isinstance(e, WalkTruncated) and e.index == 0 for e in events)


async def test_secrets_are_redacted_everywhere_in_the_report() -> None:
    w, _ = walk({"value": "hunter2-secret", "path": "fast", "password": "hunter2-secret"})
    await w.run()
    text = json.dumps(report.build(w))
    assert "hunter2-secret" not in text
    assert report.build(w)["inputs"]["password"] == "[secret]"


def test_secret_input_is_refused_on_the_command_line(tmp_path) -> None:
    flow = tmp_path / "t.yaml"
    flow.write_text(FLOW)
    result = CliRunner().invoke(main, ["run", str(flow), "--set", "password=hunter2"])
    assert result.exit_code == 2
    assert "'password' is a secret and is refused on the command line" in result.output
    assert "Traceback" not in result.output


def test_unknown_input_and_bad_choice_are_usage_errors(tmp_path) -> None:
    flow = tmp_path / "t.yaml"
    flow.write_text(FLOW)
    result = CliRunner().invoke(main, ["run", str(flow), "--set", "colour=red"])
    assert result.exit_code == 2
    assert "flow 't' has no input 'colour' (inputs: value, path, password)" in result.output
    result = CliRunner().invoke(main, ["run", str(flow), "--set", "path=sideways"])
    assert result.exit_code == 2
    assert "input 'path': 'sideways' is not one of fast, slow" in result.output


@pytest.mark.usefixtures("state_dir")
def test_headless_question_exit_3_and_secret_from_env_and_file(tmp_path, monkeypatch) -> None:
    flow = tmp_path / "t.yaml"
    flow.write_text(FLOW)
    monkeypatch.setenv("MAILDOCTOR_INPUT_PASSWORD", "from-env-secret")
    result = CliRunner().invoke(main, ["run", str(flow), "--set", "value=ok", "--format", "json"])
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data["inputs"]["password"] == "[secret]"
    assert data["incomplete_reason"].endswith("set input 'path' to one of fast, slow")
    secret_file = tmp_path / "pw"
    secret_file.write_text("from-file-secret\n")
    result = CliRunner().invoke(
        main, ["run", str(flow), "--set", "value=from-file-secret", "--set", f"password=@{secret_file}",
               "--set", "path=fast", "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "from-file-secret" not in result.stdout


async def test_reports_say_which_steps_could_not_be_checked() -> None:
    from maildoctor import render

    w, _ = walk({"value": "ok", "path": "slow"})
    await w.run()
    data = report.build(w)
    assert "  Not checked (2): Slow, Crash — the diagnosis may miss a cause there" in render.to_text(data)
    assert "**Not checked** (2): Slow, Crash" in render.to_markdown(data)
