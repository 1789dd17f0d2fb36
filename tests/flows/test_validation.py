"""Flow files: every malformed flow gets one clear line per error, naming file, line and node."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from maildoctor.cli import main
from maildoctor.flow.load import FlowErrors, builtin_flow_paths, load_flow, parse_flow_text
from maildoctor.flow.schema import generate

GOOD = """\
name: tiny
title: Tiny
description: a small valid flow
inputs:
  domain: {description: the domain, required: true, kind: domain}
start: spf
nodes:
  spf:
    kind: check
    title: SPF of {domain}
    check: dns.spf
    args: {domain: "{domain}"}
    next: {pass: done, missing: fix, invalid: fix, error: done}
  fix:
    kind: remedy
    title: Fix SPF
    code: spf-missing
    summary: "{spf.summary}"
    remedy: add a record for {domain}
    continue: done
  done:
    kind: end
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(FlowErrors) as caught:
        parse_flow_text(textwrap.dedent(text), "flows/x.yaml")
    return [str(e) for e in caught.value.errors]


def test_the_good_flow_loads() -> None:
    flow = parse_flow_text(GOOD, "flows/x.yaml")
    assert flow.start == "spf"
    assert flow.routes("fix") == {"continue": "done"}


def test_target_that_does_not_exist_names_file_line_and_node() -> None:
    text = GOOD.replace("missing: fix,", "missing: fxi,")
    assert errors_of(text) == [
        "flows/x.yaml:13: node 'spf': outcome 'missing' goes to 'fxi', which does not exist (did you mean 'fix'?)"
    ]


def test_missing_start_node() -> None:
    assert (
        errors_of(GOOD.replace("start: spf", "start: begin"))[0]
        == "flows/x.yaml:6: start node 'begin' does not exist"
    )


def test_unrouted_and_unknown_outcomes() -> None:
    text = GOOD.replace("invalid: fix, error: done", "error: done, broken: fix")
    assert errors_of(text) == [
        "flows/x.yaml:13: node 'spf': outcome 'invalid' of check 'dns.spf' is not routed",
        "flows/x.yaml:13: node 'spf': routes outcome 'broken', which check 'dns.spf' never returns "
        "(it returns error, invalid, missing, pass)",
    ]


def test_unregistered_check_is_named_with_a_suggestion() -> None:
    assert errors_of(GOOD.replace("check: dns.spf", "check: dns.sfp")) == [
        "flows/x.yaml:11: node 'spf': check 'dns.sfp' is not registered (did you mean 'dns.spf'?)"
    ]


def test_unreachable_node() -> None:
    text = GOOD + "  orphan:\n    kind: end\n"
    assert errors_of(text) == ["flows/x.yaml:23: node 'orphan': is not reachable from the start node 'spf'"]


def test_cycle_without_exit() -> None:
    text = GOOD.replace(
        "next: {pass: done, missing: fix, invalid: fix, error: done}",
        "next: {pass: fix, missing: fix, invalid: fix, error: fix}",
    ).replace("continue: done", "continue: spf")
    errors = errors_of(text)
    assert "flows/x.yaml:8: node 'spf': is caught in a cycle with no way out (spf → fix → spf)" in errors
    assert "flows/x.yaml:14: node 'fix': is caught in a cycle with no way out (fix → spf → fix)" in errors
    assert any("node 'done': is not reachable" in e for e in errors)


def test_placeholder_that_names_no_input() -> None:
    assert errors_of(
        GOOD.replace("remedy: add a record for {domain}", "remedy: add a record for {domian}")
    ) == ["flows/x.yaml:19: node 'fix': remedy: placeholder '{domian}' names no declared input"]


def test_placeholder_that_names_no_node() -> None:
    assert errors_of(GOOD.replace('summary: "{spf.summary}"', 'summary: "{spff.summary}"')) == [
        "flows/x.yaml:18: node 'fix': summary: placeholder '{spff.summary}' names no node 'spff'"
    ]


def test_unknown_field_and_bad_kind_are_model_errors_with_lines() -> None:
    text = GOOD.replace("    kind: remedy\n", "    kind: remedy\n    colour: red\n").replace(
        "  done:\n    kind: end\n", "  done:\n    kind: finish\n"
    )
    errors = errors_of(text)
    assert "flows/x.yaml:16: node 'fix': unknown field 'colour'" in errors
    assert any(e.startswith("flows/x.yaml:22: node 'done': ") and "'finish'" in e for e in errors)


def test_missing_required_field_and_wrong_argument() -> None:
    text = GOOD.replace("    title: Fix SPF\n", "").replace(
        'args: {domain: "{domain}"}', 'args: {domian: "{domain}"}'
    )
    errors = errors_of(text)
    assert "flows/x.yaml:14: node 'fix': missing field 'title'" in errors


def test_check_argument_errors() -> None:
    errors = errors_of(GOOD.replace('args: {domain: "{domain}"}', 'args: {domian: "{domain}"}'))
    assert errors == [
        "flows/x.yaml:12: node 'spf': check 'dns.spf' needs argument 'domain'",
        "flows/x.yaml:12: node 'spf': check 'dns.spf' takes no argument 'domian' (it takes domain, require_include)",
    ]


def test_question_key_and_options_must_be_routed() -> None:
    text = GOOD.replace("start: spf", "start: ask") + textwrap.indent(
        textwrap.dedent("""\
        ask:
          kind: question
          title: Pathway
          key: pathway
          prompt: How is the mail sent?
          options: [{value: api, label: SES API}, {value: smtp, label: SMTP}]
          next: {api: spf}
        """),
        "  ",
    )
    assert errors_of(text) == [
        "flows/x.yaml:29: node 'ask': option 'smtp' is not routed",
        "flows/x.yaml:26: node 'ask': question key 'pathway' is not a declared input",
    ]


def test_yaml_syntax_error_and_duplicate_key() -> None:
    assert errors_of("name: x\nnodes: [\n")[0].startswith("flows/x.yaml:3: not valid YAML")
    assert errors_of(GOOD.replace("  fix:\n", "  spf:\n")) == [
        "flows/x.yaml:14: node 'spf': 'nodes.spf' is given twice"
    ]


def test_shipped_flows_are_valid() -> None:
    paths = builtin_flow_paths()
    assert {p.stem for p in paths} >= {"dns-auth"}
    for path in paths:
        load_flow(path)


def test_flows_check_reports_every_error_and_exits_2(tmp_path: Path) -> None:
    bad1 = tmp_path / "a.yaml"
    bad1.write_text(GOOD.replace("check: dns.spf", "check: dns.nope"))
    bad2 = tmp_path / "b.yaml"
    bad2.write_text(GOOD.replace("start: spf", "start: nowhere"))
    good = tmp_path / "c.yaml"
    good.write_text(GOOD)
    result = CliRunner().invoke(main, ["flows", "check", str(bad1), str(bad2), str(good)])
    assert result.exit_code == 2
    assert f"{bad1}:11: node 'spf': check 'dns.nope' is not registered" in result.output
    assert f"{bad2}:6: start node 'nowhere' does not exist" in result.output
    assert f"{good}: ok" in result.output
    assert "Traceback" not in result.output


def test_committed_schema_has_not_drifted() -> None:
    committed = (Path(__file__).parents[2] / "flows" / "flow.schema.json").read_text()
    assert committed == generate(), "run `make schema` and commit flows/flow.schema.json"


# --- the linter knows the check contract ---------------------------------------------------------------


def test_a_misspelt_fact_is_one_clear_line() -> None:
    text = GOOD.replace('summary: "{spf.summary}"', 'summary: "{spf.problemz}"')
    assert errors_of(text) == [
        "flows/x.yaml:18: node 'fix': summary: placeholder '{spf.problemz}': node 'spf' has no fact "
        "'problemz' (did you mean 'spf.problems'?)"
    ]


def test_step_facts_and_a_question_key_are_facts_too() -> None:
    flow = parse_flow_text(
        GOOD.replace('"{spf.summary}"', '"{spf.summary} {spf.outcome} {spf.step_status}"'), "x"
    )
    assert flow.nodes["fix"].kind == "remedy"


def test_an_unknown_remedy_code_is_one_clear_line() -> None:
    text = GOOD.replace("code: spf-missing", "code: spf-mising")
    assert errors_of(text) == [
        "flows/x.yaml:17: node 'fix': code 'spf-mising' is not a diagnosis code of CONTRACT.md "
        "(did you mean 'spf-missing'?)"
    ]


def test_a_verdict_code_is_not_a_remedy_code() -> None:
    text = GOOD.replace("code: spf-missing", "code: all-clear")
    assert errors_of(text) == [
        "flows/x.yaml:17: node 'fix': code 'all-clear' is a verdict the walk reaches by itself, not a finding"
    ]


def test_a_loop_through_checks_only_is_one_clear_line() -> None:
    text = GOOD.replace("next: {pass: done, missing: fix, invalid: fix, error: done}",
                        "next: {pass: done, missing: fix, invalid: fix, error: spf}")  # fmt: skip
    assert errors_of(text) == [
        "flows/x.yaml:8: node 'spf': is on a loop that passes through no question (spf → spf)"
    ]


def test_a_loop_through_a_question_is_allowed() -> None:
    text = GOOD.replace(
        "inputs:\n", "inputs:\n  again: {description: 'again?', kind: choice, choices: ['yes', 'no']}\n"
    )
    text = text.replace("error: done}", "error: ask}") + (
        "  ask:\n"
        "    kind: question\n"
        "    title: Try again?\n"
        "    key: again\n"
        "    prompt: Try again?\n"
        '    options: [{value: "yes", label: Again}, {value: "no", label: Stop}]\n'
        '    next: {"yes": spf, "no": done}\n'
    )
    assert parse_flow_text(text, "x").nodes["ask"].kind == "question"


def test_a_literal_argument_is_checked_against_the_argument_model() -> None:
    text = GOOD.replace('args: {domain: "{domain}"}', 'args: {domain: "{domain}", require_include: [a, b]}')
    errors = errors_of(text)
    assert len(errors) == 1 and errors[0].startswith("flows/x.yaml:12: node 'spf': ")


def test_an_argument_the_check_does_not_take() -> None:
    text = GOOD.replace('args: {domain: "{domain}"}', 'args: {domain: "{domain}", colour: red}')
    assert errors_of(text) == [
        "flows/x.yaml:12: node 'spf': check 'dns.spf' takes no argument 'colour' (it takes domain, require_include)"
    ]


def test_flows_check_on_a_probe_flow_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    probe = tmp_path / "probe.yaml"
    probe.write_text(GOOD.replace('"{spf.summary}"', '"{spf.misspelt}"'))
    result = CliRunner().invoke(main, ["flows", "check", str(probe)])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "node 'fix': summary: placeholder '{spf.misspelt}': node 'spf' has no fact 'misspelt'" in line


def test_the_registry_is_passed_in() -> None:
    from maildoctor.checks.registry import Registry

    with pytest.raises(FlowErrors) as caught:
        parse_flow_text(GOOD, "flows/x.yaml", Registry())
    errors = [str(e) for e in caught.value.errors]
    assert errors == ["flows/x.yaml:11: node 'spf': check 'dns.spf' is not registered"]
