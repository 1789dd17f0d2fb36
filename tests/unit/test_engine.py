"""The engine on flows whose checks are test doubles in a registry of this test's own (no network:
this tests the walk), and the CLI on a flow whose only check reads text (bounce.triage)."""

from __future__ import annotations

import asyncio
import json
import textwrap

import pytest
from click.testing import CliRunner
from pydantic import Field

from maildoctor import report
from maildoctor.checks.registry import Args, CheckContext, CheckResult, Evidence, Facts, Registry
from maildoctor.cli import main
from maildoctor.clients import Clients
from maildoctor.clients.settings import Settings
from maildoctor.engine import FindingMade, StepFinished, Walk, WalkFinished, WalkStarted, WalkTruncated
from maildoctor.flow.load import parse_flow_text
from maildoctor.flow.model import QuestionNode

CHECKS = Registry()
CALLS: list[str | None] = []


class ValueArgs(Args):
    value: str | None = Field(None, description="the value to judge")


class ValueFacts(Facts):
    value: str | None = Field(None, description="the value judged")


class NeedsArgs(Args):
    host: str = Field(description="a required argument")
    recipient: str | None = Field(None, description="the check applies only with it")


@CHECKS.check("test.echo", outcomes={"pass", "fail"}, args=ValueArgs, facts=ValueFacts)
async def echo(ctx: CheckContext[ValueArgs]) -> CheckResult:
    """Pass when value is 'ok'."""
    CALLS.append(ctx.args.value)
    ok = ctx.args.value == "ok"
    return CheckResult("pass" if ok else "fail", "pass" if ok else "fail", f"value is {ctx.args.value}",
                       ValueFacts(value=ctx.args.value), [Evidence("asked", str(ctx.args.value))])  # fmt: skip


@CHECKS.check("test.slow", outcomes={"pass"}, facts=ValueFacts, timeout=0.2)
async def slow(ctx: CheckContext[Args]) -> CheckResult:
    """Never answers in time."""
    await asyncio.sleep(5)
    return CheckResult("pass", "pass", "never", ValueFacts())


@CHECKS.check("test.boom", outcomes={"pass"}, facts=ValueFacts)
async def boom(ctx: CheckContext[Args]) -> CheckResult:
    """Raises."""
    raise ConnectionResetError("peer went away")


@CHECKS.check("test.needs", outcomes={"pass", "skipped"}, args=NeedsArgs, applies_when=("recipient",))
async def needs(ctx: CheckContext[NeedsArgs]) -> CheckResult:
    """Runs only with a host and a recipient."""
    return CheckResult("pass", "pass", f"{ctx.args.recipient} at {ctx.args.host}")


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
        code: spf-invalid
        summary: "value was {first.value}"
        remedy: set value to ok instead of {value}
        continue: ask
      ask:
        kind: question
        title: Which way for {value}?
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
        title: Done with {value}
    """)


def walk(inputs: dict[str, str], asker: object = None) -> tuple[Walk, list[object]]:
    events: list[object] = []
    flow = parse_flow_text(FLOW, "t.yaml", CHECKS)
    return Walk(
        flow, inputs, Clients(Settings()), registry=CHECKS, asker=asker, listeners=[events.append]
    ), events  # type: ignore[arg-type]


class Operator:
    """Answers each question with the next of ``answers`` and counts the questions asked."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked = 0

    async def ask(self, node_id: str, question: QuestionNode) -> str | None:
        self.asked += 1
        return self.answers.pop(0) if self.answers else None


async def test_walk_records_steps_findings_and_events() -> None:
    w, events = walk({"value": "bad", "path": "fast"})
    await w.run()
    assert [s.node for s in w.steps] == ["first", "broken", "ask", "done"]
    assert [f.code for f in w.findings] == ["spf-invalid"]
    finding = w.findings[0]
    assert finding.summary == "value was bad"
    assert finding.remedy == "set value to ok instead of bad"
    assert finding.facts == {"value": "bad"}
    assert (finding.cause_index, finding.cause_node) == (0, "first")
    assert w.steps[2].summary == "The fast way (path=fast, from the input)"
    assert w.complete
    kinds = [type(e) for e in events]
    assert kinds[0] is WalkStarted and kinds[-1] is WalkFinished
    assert kinds.count(StepFinished) == 4 and kinds.count(FindingMade) == 1


async def test_titles_of_every_kind_are_rendered() -> None:
    w, _ = walk({"value": "bad", "path": "fast"})
    await w.run()
    assert [s.title for s in w.steps] == ["First", "Broken value", "Which way for bad?", "Done with bad"]


async def test_answers_are_kept_apart_from_inputs_and_a_rerun_question_asks_again() -> None:
    operator = Operator("fast", "fast")
    w, _ = walk({"value": "ok"}, operator)
    await w.run()
    assert operator.asked == 1
    assert w.inputs == {"value": "ok"}  # the answer is not an input
    assert w.answers() == {"path": "fast"}
    assert w.steps[1].answered_by == "operator"
    assert w.steps[1].summary == "The fast way (path=fast, from the operator)"
    await w.rerun(1)
    assert operator.asked == 2  # asked again, not taken "from the input"
    assert w.steps[1].summary == "The fast way (path=fast, from the operator)"
    data = report.build(w)
    assert data["answers"] == {"ask": "fast"}
    assert data["steps"][1]["answered_by"] == "operator"


async def test_a_finding_records_the_check_that_caused_it_when_a_question_stands_between() -> None:
    flow = parse_flow_text(
        FLOW.replace("next: {fast: done, slow: wait}", "next: {fast: late, slow: wait}")
        + "  late:\n    kind: remedy\n    title: Late\n    code: dmarc-invalid\n"
        '    summary: "late after {first.value}"\n    remedy: fix it\n',
        "t.yaml",
        CHECKS,
    )
    w = Walk(flow, {"value": "ok", "path": "fast"}, Clients(Settings()), registry=CHECKS)
    await w.run()
    assert [s.node for s in w.steps] == ["first", "ask", "late"]
    (finding,) = w.findings
    assert (finding.cause_index, finding.cause_node, finding.facts) == (0, "first", {"value": "ok"})


async def test_unanswered_question_makes_the_walk_incomplete_naming_the_key() -> None:
    w, _ = walk({"value": "ok"})
    await w.run()
    assert not w.complete
    assert w.incomplete_reason == "question 'ask' needs an answer: set input 'path' to one of fast, slow"
    assert report.exit_code(report.build(w)) == 3


async def test_timeout_and_exception_become_error_steps_with_not_known_facts() -> None:
    w, _ = walk({"value": "ok", "path": "slow"})
    await w.run()
    wait, crash = w.steps[2], w.steps[3]
    assert (wait.status, wait.outcome) == ("error", "error")
    assert wait.summary == "could not check: no answer within 0.2s"
    assert crash.summary == "could not check: ConnectionResetError: peer went away"
    assert wait.facts == crash.facts == {"value": None}  # the facts model's defaults
    assert w.complete  # the flow routed the errors onward


async def test_the_walk_has_a_time_budget_and_says_which_steps_it_left_unchecked() -> None:
    flow = parse_flow_text(FLOW, "t.yaml", CHECKS)
    w = Walk(flow, {"value": "ok", "path": "slow"}, Clients(Settings()), registry=CHECKS, budget=0.1)
    await w.run()
    wait, crash = w.steps[2], w.steps[3]
    assert wait.summary == "could not check: no answer within 0.1s"  # the budget, not its own 0.2s
    assert (crash.status, crash.summary) == (
        "error",
        "could not check: the walk used up its 0.1s before this step",
    )
    assert crash.facts == {"value": None}


async def test_nothing_found_with_steps_that_could_not_check_is_inconclusive_exit_3() -> None:
    w, _ = walk({"value": "ok", "path": "slow"})
    await w.run()
    data = report.build(w)
    assert data["findings"] == []
    assert data["diagnosis"]["code"] == "inconclusive"
    assert data["diagnosis"]["title"] == "No problem found, but 2 steps could not check"
    assert [u["node"] for u in data["unchecked"]] == ["wait", "crash"]
    assert data["unchecked"][0]["reason"] == "no answer within 0.2s"
    assert report.exit_code(data) == 3


async def test_all_clear_only_when_every_step_checked() -> None:
    w, _ = walk({"value": "ok", "path": "fast"})
    await w.run()
    data = report.build(w)
    assert (data["diagnosis"]["code"], data["unchecked"], report.exit_code(data)) == ("all-clear", [], 0)


async def test_required_arguments_and_applies_when_are_enforced_by_the_contract() -> None:
    spec = CHECKS["test.needs"]
    clients = Clients(Settings())
    missing = await spec.run(clients, {"recipient": "a@example.net"})
    assert (missing.outcome, missing.status, missing.summary) == (
        "error",
        "error",
        "could not check: no host given",
    )
    skipped = await spec.run(clients, {"host": "mx.example.net", "recipient": "  "})
    assert (skipped.outcome, skipped.summary) == ("skipped", "not checked: no recipient given")
    ran = await spec.run(clients, {"host": "mx.example.net", "recipient": "a@example.net"})
    assert (ran.outcome, ran.summary) == ("pass", "a@example.net at mx.example.net")


async def test_a_fact_not_known_reaches_a_check_as_none_never_as_display_text() -> None:
    CALLS.clear()
    flow = parse_flow_text(
        FLOW.replace('args: {value: "{value}"}', 'args: {value: "{crash.value}"}'), "t.yaml", CHECKS
    )
    w = Walk(flow, {"path": "fast"}, Clients(Settings()), registry=CHECKS)
    await w.run()
    assert CALLS == [None]


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


async def test_reports_say_which_steps_could_not_be_checked() -> None:
    from maildoctor import render

    w, _ = walk({"value": "ok", "path": "slow"})
    await w.run()
    data = report.build(w)
    assert "  Not checked (2): Slow, Crash — the diagnosis may miss a cause there" in render.to_text(data)
    assert "**Not checked** (2): Slow, Crash" in render.to_markdown(data)


# --- the CLI, on a flow of shipped checks that need no network -------------------------------------------

CLI_FLOW = textwrap.dedent("""\
    name: t
    title: Test flow
    description: CLI test
    inputs:
      value: {description: v}
      path: {description: which way, kind: choice, choices: [fast, slow]}
      password: {description: pw, secret: true}
    start: ask
    nodes:
      ask:
        kind: question
        title: Which way
        key: path
        prompt: Which way?
        options: [{value: fast, label: The fast way}, {value: slow, label: The slow way}]
        next: {fast: read, slow: read}
      read:
        kind: check
        title: Read the reply
        check: bounce.triage
        args: {bounce: "535 Authentication Credentials Invalid ({value} / {password})"}
        next: {credentials: fix, sending: done, recipient: done, dmarc: done, policy: done, delivered: done,
               unknown: done, skipped: done, error: done}
      fix:
        kind: remedy
        title: Wrong password
        code: smtp-password-wrong
        summary: "{read.remote_reply}"
        remedy: set the password again
        continue: done
      done:
        kind: end
    """)


def test_secret_input_is_refused_on_the_command_line(tmp_path) -> None:
    flow = tmp_path / "t.yaml"
    flow.write_text(CLI_FLOW)
    result = CliRunner().invoke(main, ["run", str(flow), "--set", "password=hunter2"])
    assert result.exit_code == 2
    assert "'password' is a secret and is refused on the command line" in result.output
    assert "Traceback" not in result.output


def test_unknown_input_and_bad_choice_are_usage_errors(tmp_path) -> None:
    flow = tmp_path / "t.yaml"
    flow.write_text(CLI_FLOW)
    result = CliRunner().invoke(main, ["run", str(flow), "--set", "colour=red"])
    assert result.exit_code == 2
    assert "flow 't' has no input 'colour' (inputs: value, path, password)" in result.output
    result = CliRunner().invoke(main, ["run", str(flow), "--set", "path=sideways"])
    assert result.exit_code == 2
    assert "input 'path': 'sideways' is not one of fast, slow" in result.output


@pytest.mark.usefixtures("state_dir")
def test_headless_question_exit_3_and_secret_from_env_and_file(tmp_path, monkeypatch) -> None:
    flow = tmp_path / "t.yaml"
    flow.write_text(CLI_FLOW)
    monkeypatch.setenv("MAILDOCTOR_INPUT_PASSWORD", "from-env-secret")
    result = CliRunner().invoke(main, ["run", str(flow), "--set", "value=ok", "--format", "json"])
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data["inputs"]["password"] == "[secret]"
    assert data["incomplete_reason"].endswith("set input 'path' to one of fast, slow")
    secret_file = tmp_path / "pw"
    secret_file.write_text("from-file-secret\n")
    result = CliRunner().invoke(
        main, ["run", str(flow), "--set", "value=plain", "--set", f"password=@{secret_file}",
               "--set", "path=fast", "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["diagnosis"]["code"] == "smtp-password-wrong"
    assert "(plain / [secret])" in data["findings"][0]["summary"]  # the check saw it; the report does not
    assert "from-file-secret" not in result.stdout


# --- checks started ahead: the step's time limit, and the facts a check sees ----------------------

GATE: dict[str, asyncio.Event] = {}


@CHECKS.check("test.hold", outcomes={"pass"}, facts=ValueFacts)
async def hold(ctx: CheckContext[Args]) -> CheckResult:
    """Takes 0.5 s, then opens the gate the next check waits for (a shared resource, as SES's slots)."""
    await asyncio.sleep(0.5)
    GATE["open"].set()
    return CheckResult("pass", "pass", "held", ValueFacts())


@CHECKS.check("test.after", outcomes={"pass"}, facts=ValueFacts, timeout=0.3)
async def after(ctx: CheckContext[Args]) -> CheckResult:
    """Waits for the gate, then answers at once; it sees earlier steps' facts only if it says it reads them."""
    await GATE["open"].wait()
    return CheckResult("pass", "pass", f"saw {sorted(ctx.facts)}", ValueFacts())


AHEAD_FLOW = textwrap.dedent("""\
    name: ahead
    title: Ahead
    description: a check started ahead waits behind an earlier one
    start: first
    nodes:
      first: {kind: check, title: First, check: test.hold, next: {pass: second, error: second}}
      second: {kind: check, title: Second, check: test.after, next: {pass: done, error: done}}
      done: {kind: end, title: End}
""")


@pytest.mark.parametrize("ahead", [False, True])
def test_a_check_started_ahead_gets_its_whole_time_limit_from_when_the_walk_reaches_it(ahead: bool) -> None:
    """Waiting behind the steps before it (0.5 s, over its 0.3 s limit) does not count against it, and it
    sees no earlier facts (it does not declare reads_earlier_steps), as when run one at a time."""
    GATE["open"] = asyncio.Event()
    flow = parse_flow_text(AHEAD_FLOW, "ahead.yaml", CHECKS)
    walk = Walk(flow, {}, Clients(Settings()), registry=CHECKS, ahead=ahead)
    asyncio.run(walk.run())
    second = walk.steps[1]
    assert (second.status, second.summary) == ("pass", "saw []")
