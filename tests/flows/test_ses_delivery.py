"""`maildoctor run ses-delivery` against the lab: every shipped scenario reaches its diagnosis code,
and the seed incident is diagnosed end to end with the user's own values in the remedy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from maildoctor.cli import main
from maildoctor.flow.commands import SHELL_BLOCK, stray_commands
from maildoctor.flow.templates import UNKNOWN
from maildoctor.lab import Lab
from maildoctor.lab.scenario import Scenario, load_scenario, scenario_paths
from tests.flows.test_read_only import policy_actions, read_only_problems


def walk(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fmt: str = "json"
) -> tuple[int, str]:
    """Run the walk as a user would: plain inputs with --set, the bounce from a file, the secret from the env."""
    result = invoke_walk(scenario, monkeypatch, tmp_path, fmt)
    return result.exit_code, result.stdout


def invoke_walk(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fmt: str = "json", *extra: str
) -> Result:
    args = ["run", "ses-delivery", "--format", fmt, *extra]
    for key, value in scenario.walk_inputs().items():
        if key == "smtp_password":
            monkeypatch.setenv("MAILDOCTOR_INPUT_SMTP_PASSWORD", value)
        elif "\n" in value:
            path = tmp_path / f"{key}.txt"
            path.write_text(value)
            args += ["--set", f"{key}=@{path}"]
        elif value:
            args += ["--set", f"{key}={value}"]
    return CliRunner().invoke(main, args)


# scenarios whose world leaves a step unable to check, by design (the step's node ids)
UNCHECKED_ON_PURPOSE: dict[str, list[str]] = {}
WALKED: set[str] = set()  # scenarios walked below, and the AWS actions their walks made
USED: set[str] = set()


@pytest.mark.parametrize("name", [p.stem for p in scenario_paths()])
def test_every_scenario_reaches_its_diagnosis(name: str, load, lab: Lab, monkeypatch, tmp_path) -> None:
    """...and every AWS operation the walk made is a read on the allow-list and in `iam-policy`."""
    scenario = load(name)
    lab.aws.clear_operations()
    code, out = walk(scenario, monkeypatch, tmp_path)
    report = json.loads(out)
    assert report["diagnosis"]["code"] == scenario.expect, [
        (f["code"], f["summary"]) for f in report["findings"]
    ]
    assert code == (0 if scenario.expect == "all-clear" else 1)
    assert report["complete"] is True
    # a world the lab describes is checked whole: faults that throttle still leave nothing unchecked
    assert UNCHECKED_ON_PURPOSE.get(name, []) == [u["node"] for u in report["unchecked"]], report["unchecked"]
    if scenario.expect == "all-clear":
        assert report["findings"] == []
    for finding in report["findings"]:  # every command of a fix can be copied and run as it is (y)
        assert not stray_commands(finding["remedy"]), (finding["code"], stray_commands(finding["remedy"]))
        assert all(UNKNOWN not in block for block in SHELL_BLOCK.findall(finding["remedy"])), finding[
            "remedy"
        ]
    made = lab.aws.operations()
    assert made and not read_only_problems(made, "ses-delivery", f"ses-delivery over {name}", USED)
    WALKED.add(name)


def test_every_action_of_the_policy_is_made_by_some_scenario_walk() -> None:
    if {p.stem for p in scenario_paths()} != WALKED:
        pytest.skip("needs every scenario walk above (run the whole file)")
    unused = policy_actions("ses-delivery") - USED
    assert not unused, f"in the ses-delivery policy but made by no scenario walk: {sorted(unused)}"


def test_seed_incident_names_the_deleted_key_who_when_and_the_current_key(
    load, monkeypatch, tmp_path
) -> None:
    scenario = load("seed-incident")
    code, out = walk(scenario, monkeypatch, tmp_path)
    assert code == 1
    report = json.loads(out)
    assert [f["code"] for f in report["findings"]] == ["smtp-credentials-stale"]
    steps = {s["node"]: s for s in report["steps"]}
    assert (steps["route"]["outcome"], steps["route"]["answered_by"]) == ("gmail-send-as", "earlier steps")
    assert "pathway" not in report["inputs"]  # from the bounce: never asked, and not taken for an input
    history = steps["history-stale"]["facts"]
    assert history["deleted_by"] == "alice"
    assert history["user"] == "ses-smtp-user"
    assert history["current_active_key"] == "AKIAEXAMPLENEWKEY002"
    assert history["deleted_at"]  # an ISO time three days ago
    # the key history set beside the bounce (two days ago, after the deletion three days ago)
    assert [line.split("  ", 1)[1] for line in history["timeline"]][-2:] == [
        "DeleteAccessKey AKIAEXAMPLEOLDKEY001 by alice",
        "← bounce received",
    ]
    assert steps["login"]["facts"]["reply"] == "535 Authentication Credentials Invalid"
    remedy = report["diagnosis"]["remedy"]
    assert "AKIAEXAMPLEOLDKEY001" in remedy
    assert "| Username | `AKIAEXAMPLENEWKEY002` |" in remedy
    assert "| SMTP Server | `email-smtp.us-east-1.amazonaws.com` |" in remedy
    assert "maildoctor smtp-password --region us-east-1" in remedy
    assert '"userName": [\n' in remedy or '"ses-smtp-user"' in remedy
    # every layer before the credentials was checked and passed
    for node in ("account", "identity", "dkim", "mail-from", "spf", "dmarc", "alignment", "suppression"):
        assert steps[node]["status"] in ("pass", "info", "skipped"), (node, steps[node]["summary"])
    assert scenario.walk_inputs()["smtp_password"] not in out


def test_two_layers_report_both_findings(load, lab: Lab, monkeypatch, tmp_path) -> None:
    base = load_scenario("dkim-records-missing")
    both = base.model_copy(update={"suppression": load_scenario("recipient-suppressed").suppression})
    load(both)
    code, out = walk(both, monkeypatch, tmp_path)
    report = json.loads(out)
    assert code == 1
    assert [f["code"] for f in report["findings"]] == ["dkim-records-missing", "recipient-suppressed"]
    assert report["diagnosis"]["code"] == "recipient-suppressed"  # ranked: it drops the mail outright


def test_markdown_report_of_the_seed_incident(load, monkeypatch, tmp_path) -> None:
    scenario = load("seed-incident")
    code, out = walk(scenario, monkeypatch, tmp_path, fmt="markdown")
    assert code == 1
    assert out.startswith("# Mail delivery diagnosis: smtp-credentials-stale\n")
    assert "## Findings (most likely root cause first)" in out
    assert scenario.walk_inputs()["smtp_password"] not in out
