"""The lab serves a scenario's EventBridge rules (moto, seeded at load): ListRules over real HTTP shows
each rule's pattern and state as the scenario wrote them, on the default bus of the rule's region."""

from __future__ import annotations

import json

import boto3
import pytest

from maildoctor.lab import Lab
from maildoctor.lab.scenario import ScenarioError, load_scenario


def _rules(lab: Lab, region: str = "us-east-1") -> dict[str, dict]:
    client = boto3.client(
        "events",
        region_name=region,
        endpoint_url=lab.aws.endpoint_url,
        aws_access_key_id="AKIALABOPERATOR00001",
        aws_secret_access_key="lab/operator/secret/not/a/real/key/000001",
    )
    return {r["Name"]: r for r in client.list_rules()["Rules"]}


def test_rules_are_seeded_with_their_patterns_and_states(load, lab: Lab) -> None:
    scenario = load("audit-findings")
    rules = _rules(lab)
    assert set(rules) == {r.name for r in scenario.eventbridge}
    for rule in scenario.eventbridge:
        assert json.loads(rules[rule.name]["EventPattern"]) == rule.pattern
        assert rules[rule.name]["State"] == rule.state


def test_a_schedule_rule_has_no_pattern_and_other_regions_are_empty(load, lab: Lab) -> None:
    load("audit-clean")
    rules = _rules(lab)
    assert "EventPattern" not in rules["nightly-report"]
    assert rules["nightly-report"]["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert _rules(lab, "us-west-2") == {}


def test_loading_another_scenario_forgets_the_rules(load, lab: Lab) -> None:
    load("audit-findings")
    load("all-clear")
    assert _rules(lab) == {}


def test_a_rule_needs_a_pattern_or_a_schedule(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ndescription: d\nexpect: all-clear\neventbridge:\n  - {name: nothing}\n")
    with pytest.raises(ScenarioError, match="a pattern or a schedule"):
        load_scenario(str(bad))
