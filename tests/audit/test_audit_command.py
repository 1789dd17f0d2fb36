"""`maildoctor audit` over the lab: CONTRACT.md's audit JSON, codes and exit codes, checked against each
scenario's own data; the seed incident's audit names the key Gmail still holds; read-only."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from maildoctor.audit.rules import user_verdict
from maildoctor.audit_command import with_connection_options
from maildoctor.checks.common import parse_time
from maildoctor.flow.commands import SHELL_BLOCK, shell_blocks, stray_commands
from maildoctor.flow.templates import UNKNOWN
from maildoctor.lab import Lab
from maildoctor.lab.scenario import LAB_ACCOUNT_ID, Scenario, load_scenario, parse_when
from maildoctor.lab.scenario import now as scenario_now
from tests.flows.test_read_only import read_only_problems

AUDIT_KEYS = ["maildoctor", "account", "regions", "credentials", "findings", "unchecked", "diagnosis"]
CREDENTIAL_KEYS = ["user", "key_id", "status", "created", "last_used", "history", "findings"]
KEY_STATE = ("smtp-key-unused-since-rotation", "smtp-key-unused", "smtp-key-rotation-due")


def audit(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(with_connection_options(), list(args))
    return result.exit_code, result.stdout, result.stderr


def audit_json(*args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = audit("--format", "json", *args)
    assert out, err
    return code, json.loads(out)


def near(when: str | None, expected: datetime | None) -> bool:
    if expected is None:
        return when is None
    got = parse_time(when)
    return got is not None and abs(got - expected) < timedelta(minutes=5)


def check_credentials_against(scenario: Scenario, report: dict[str, Any], users: set[str]) -> None:
    """Every key of the scenario's SMTP users, as the scenario describes it."""
    now = scenario_now()
    rows = {c["key_id"]: c for c in report["credentials"]}
    expected = {k.id: (u, k) for u in scenario.iam.users if u.name in users for k in u.keys}
    assert set(rows) == set(expected)
    for key_id, (user, key) in expected.items():
        row = rows[key_id]
        assert list(row) == CREDENTIAL_KEYS
        assert (row["user"], row["status"]) == (user.name, key.status)
        assert near(row["created"], parse_when(key.created, now))
        used = parse_when(key.last_used, now) if key.last_used else None
        assert near(row["last_used"]["when"], used)
        assert (row["last_used"]["service"], row["last_used"]["region"]) == (
            (key.last_used_service, key.last_used_region) if used else (None, None)
        )
        assert [e["key"] for e in row["history"]] == [
            e.key for e in scenario.cloudtrail
            if e.event in ("CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey")
            and parse_when(e.time, now) > now - timedelta(days=90)
            and (e.key == key_id or (e.user == user.name and e.key not in expected))
        ]  # fmt: skip


def check_shape(report: dict[str, Any]) -> None:
    assert list(report) == AUDIT_KEYS
    assert report["account"] == LAB_ACCOUNT_ID and report["regions"] == ["us-east-1"]
    assert list(report["diagnosis"]) == ["code", "title", "remedy"]
    for finding in report["findings"]:
        assert list(finding) == ["code", "severity", "summary", "facts"]
    for row in report["credentials"]:
        assert len([c for c in row["findings"] if c in KEY_STATE]) <= 1  # one key-state code at most


def test_a_clean_account_audits_clean(load) -> None:
    scenario = load("audit-clean")
    code, report = audit_json()
    check_shape(report)
    assert code == 0, report["findings"]
    assert report["findings"] == [] and report["unchecked"] == []
    assert report["diagnosis"]["code"] == "audit-clean"
    assert "Sending pathways" in report["diagnosis"]["remedy"]
    check_credentials_against(scenario, report, {"ses-smtp-user"})
    (row,) = report["credentials"]
    assert row["findings"] == []
    assert [(e["event"], e["key"]) for e in row["history"]] == [
        ("CreateAccessKey", "AKIAEXAMPLENEWKEY002"),
        ("UpdateAccessKey", "AKIAEXAMPLEOLDKEY001"),
        ("DeleteAccessKey", "AKIAEXAMPLEOLDKEY001"),
    ]


# The scenario's design (its comments): what each SMTP user's key must be flagged with.
FINDINGS_BY_KEY = {
    "AKIAEXAMPLENEWKEY002": [],  # healthy, and the one user the enabled rule watches
    "AKIAEXAMPLERELAYNEW6": ["smtp-key-unused-since-rotation", "rotation-alert-missing"],
    "AKIAEXAMPLELEGACY007": ["smtp-key-rotation-due", "rotation-alert-missing"],
    "AKIAEXAMPLECONSOLE08": ["smtp-key-unused", "rotation-alert-missing"],
    "AKIAEXAMPLEMAILERA09": ["smtp-user-cannot-send", "rotation-alert-missing"],
}


def test_several_smtp_users_give_every_code_once(load, lab: Lab) -> None:
    scenario = load("audit-findings")
    lab.aws.clear_operations()
    code, report = audit_json()
    made = lab.aws.operations()
    check_shape(report)
    assert code == 1
    assert sorted(f["code"] for f in report["findings"]) == sorted(scenario.audit_expect or [])
    assert report["diagnosis"]["code"] == "smtp-key-unused-since-rotation"  # the error ranked first
    check_credentials_against(scenario, report, {u.name for u in scenario.iam.users})
    assert {c["key_id"]: c["findings"] for c in report["credentials"]} == FINDINGS_BY_KEY
    by_code = {f["code"]: f for f in report["findings"]}
    assert by_code["smtp-key-unused-since-rotation"]["facts"]["old_keys"] == ["AKIAEXAMPLERELAYOLD5"]
    assert by_code["smtp-key-rotation-due"]["facts"]["keys"] == ["AKIAEXAMPLELEGACY007"]
    assert by_code["smtp-user-cannot-send"]["facts"]["users"] == ["mailer-app"]
    missing = by_code["rotation-alert-missing"]["facts"]
    assert missing["unwatched"] == [
        "relay-lambda", "legacy-smtp", "ses-smtp-user.20261110-093000", "mailer-app"
    ]  # fmt: skip
    assert missing["watched"] == ["ses-smtp-user"]
    # the rule to create names the unwatched users, a console user by the console's prefix (its next
    # rotation makes a new ses-smtp-user.<date>), and matches each of them
    rule = json.loads(missing["pattern_json"])
    assert rule["detail"]["requestParameters"]["userName"] == [
        "legacy-smtp", "mailer-app", "relay-lambda", {"prefix": "ses-smtp-user."}
    ]  # fmt: skip
    assert all(user_verdict(rule, user)[0] == "match" for user in missing["unwatched"])
    assert not read_only_problems(made, "smtp-audit", "audit over audit-findings", set())
    assert {op for _, op, _ in made} >= {"ListUsers", "ListRules", "LookupEvents", "SimulatePrincipalPolicy"}


def test_a_longer_rotation_age_drops_rotation_due(load) -> None:
    load("audit-findings")
    code, report = audit_json("--max-key-age", "800")
    assert code == 1
    assert "smtp-key-rotation-due" not in [f["code"] for f in report["findings"]]


def test_the_seed_incident_audit_names_the_key_gmail_still_holds(load) -> None:
    load("seed-incident")
    code, report = audit_json()
    assert code == 1
    assert report["diagnosis"]["code"] == "smtp-key-unused-since-rotation"
    finding = next(f for f in report["findings"] if f["code"] == "smtp-key-unused-since-rotation")
    assert finding["facts"]["keys"] == ["AKIAEXAMPLENEWKEY002"]  # the new key nobody uses
    assert finding["facts"]["old_keys"] == ["AKIAEXAMPLEOLDKEY001"]  # what Gmail still holds
    assert "a client still holds AKIAEXAMPLEOLDKEY001" in finding["summary"]
    remedy = report["diagnosis"]["remedy"]
    gmail = remedy.index('Gmail "Send mail as"')
    assert gmail < remedy.index("An app or server")  # Gmail first
    assert "| Username | `AKIAEXAMPLENEWKEY002` |" in remedy
    assert "| SMTP Server | `email-smtp.us-east-1.amazonaws.com` |" in remedy
    assert "AKIAEXAMPLEOLDKEY001` is deleted already" in remedy  # nothing to deactivate
    row = next(c for c in report["credentials"] if c["key_id"] == "AKIAEXAMPLENEWKEY002")
    assert row["findings"] == ["smtp-key-unused-since-rotation", "rotation-alert-missing"]
    assert [(e["event"], e["key"]) for e in row["history"]][-2:] == [
        ("UpdateAccessKey", "AKIAEXAMPLEOLDKEY001"),
        ("DeleteAccessKey", "AKIAEXAMPLEOLDKEY001"),
    ]


@pytest.mark.parametrize("scenario", ["audit-findings", "seed-incident"])
def test_every_command_of_every_fix_is_in_an_sh_block_and_runs_as_written(load, scenario: str) -> None:
    load(scenario)
    code, out, _ = audit("--format", "markdown")
    assert code == 1
    assert out.startswith("# SES SMTP credential audit")
    assert not stray_commands(out), stray_commands(out)
    assert all(UNKNOWN not in block for block in SHELL_BLOCK.findall(out))
    commands = "".join(shell_blocks(out))
    assert "aws iam create-access-key --user-name" in commands or scenario == "seed-incident"
    assert "maildoctor run ses-delivery --set sender=admin@example.com" in commands
    assert "smtp_password=@-" in commands  # the secret from stdin, never on the command line
    assert "aws events put-rule --region us-east-1 --name smtp-key-changes --event-pattern '" in commands
    assert f"--targets Id=sns,Arn=arn:aws:sns:us-east-1:{LAB_ACCOUNT_ID}:smtp-key-changes" in commands
    for line in commands.splitlines():  # every event pattern in a command is valid JSON
        if "--event-pattern '" in line:
            json.loads(line.split("--event-pattern '", 1)[1].split("'", 1)[0])


def test_text_lists_every_key(load) -> None:
    scenario = load("audit-findings")
    code, out, _ = audit()
    assert code == 1
    for user in scenario.iam.users:
        assert all(k.id in out for k in user.keys)
    assert "diagnosis: smtp-key-unused-since-rotation" in out


def test_what_cannot_be_read_is_unchecked_with_exit_3(load, fault) -> None:
    load("audit-clean")
    fault("aws-deny:iam:ListUsers")
    code, report = audit_json()
    assert code == 3
    assert report["diagnosis"]["code"] == "inconclusive"
    (unchecked,) = report["unchecked"]
    assert "iam:ListUsers" in unchecked["reason"]


def test_findings_with_something_unread_still_exit_1(load, fault) -> None:
    load("audit-findings")
    fault("aws-deny:events:ListRules")
    code, report = audit_json()
    assert code == 1
    assert "rotation-alert-missing" not in [f["code"] for f in report["findings"]]  # not claimed unread
    assert ["events:ListRules" in u["reason"] for u in report["unchecked"]] == [True]


def test_usage_errors_exit_2(load, tmp_path) -> None:
    load("audit-clean")
    assert audit("--region", "mars-1")[0] == 2
    assert audit("--max-key-age", "0")[0] == 2
    assert audit("--output", str(tmp_path / "no" / "such" / "dir.json"))[0] == 2


def test_output_and_regions(load, tmp_path) -> None:
    load("audit-clean")
    out = tmp_path / "audit.json"
    code, stdout, _ = audit(
        "--format", "json", "--output", str(out), "--region", "us-east-1", "--region", "us-west-2"
    )
    assert (code, stdout) == (0, "")
    assert json.loads(out.read_text())["regions"] == ["us-east-1", "us-west-2"]


def test_every_audit_scenario_loads_and_says_its_codes() -> None:
    for name in ("audit-clean", "audit-findings"):
        scenario = load_scenario(name)
        assert scenario.audit_expect is not None and scenario.expect == "all-clear"


def test_importing_the_command_costs_click_only() -> None:
    import subprocess
    import sys

    code = (
        "import sys, maildoctor.audit_command as a; "
        "print(sorted(m for m in ('boto3', 'botocore', 'asyncio', 'pydantic', 'maildoctor.session', "
        "'maildoctor.checks', 'textual') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_iam_policy_covers_the_audit() -> None:
    from maildoctor.cli import main

    result = CliRunner().invoke(main, ["iam-policy", "smtp-audit"])
    actions = {a for s in json.loads(result.stdout)["Statement"] for a in s["Action"]}
    assert actions == {
        "iam:ListUsers", "iam:ListAccessKeys", "iam:GetAccessKeyLastUsed", "iam:SimulatePrincipalPolicy",
        "ses:ListEmailIdentities", "cloudtrail:LookupEvents", "sts:GetCallerIdentity", "events:ListRules",
    }  # fmt: skip


def test_a_console_rotation_replaces_the_old_users_key(load, tmp_path) -> None:
    """The SES console rotates by making a new ses-smtp-user.<date> user: the deleted key of the old
    console user is what the new user's key replaced."""
    load("console-rotation")  # the new key is in use since: nothing to say about it but the alert
    code, report = audit_json()
    rows = {c["key_id"]: c for c in report["credentials"]}
    assert rows["AKIAEXAMPLECONSOLE05"]["findings"] == ["rotation-alert-missing"]
    assert ("DeleteAccessKey", "AKIAEXAMPLEOLDKEY001") in [
        (e["event"], e["key"]) for e in rows["AKIAEXAMPLECONSOLE05"]["history"]
    ]
    unused = tmp_path / "console-unused.yaml"
    unused.write_text(
        "name: console-unused\ndescription: the console's new key, never used\nextends: console-rotation\n"
        "expect: smtp-credentials-stale\niam:\n  users:\n    - name: ses-smtp-user.20261128-101500\n"
        "      policies: [{name: AmazonSesSendingAccess, actions: ['ses:SendRawEmail']}]\n"
        "      keys: [{id: AKIAEXAMPLECONSOLE05, secret: 7rUeZ0bOGkIYYO2Jz1l3M0VZl3X5dsIh1XoRbS9k, created: -3d}]\n"
    )
    load(str(unused))
    code, report = audit_json()
    assert code == 1
    finding = next(f for f in report["findings"] if f["code"] == "smtp-key-unused-since-rotation")
    assert (finding["facts"]["keys"], finding["facts"]["old_keys"]) == (
        ["AKIAEXAMPLECONSOLE05"],
        ["AKIAEXAMPLEOLDKEY001"],
    )


def test_a_rule_that_cannot_be_judged_ahead_is_not_called_a_watch(load, tmp_path) -> None:
    """A pattern on who made the call (userIdentity) cannot be judged before the event comes: the audit
    says so (unchecked, exit 3) instead of claiming either a watch or a missing alert."""
    path = tmp_path / "audit-rule-unknown.yaml"
    path.write_text(
        "name: audit-rule-unknown\ndescription: a rule on the caller\nextends: audit-clean\n"
        "expect: all-clear\naudit_expect: []\neventbridge:\n  - name: root-only\n    pattern:\n"
        "      source: [aws.iam]\n      detail: {userIdentity: {type: [Root]}}\n"
    )
    load(str(path))
    code, report = audit_json()
    assert code == 3, report["findings"]
    assert report["findings"] == []
    (unchecked,) = report["unchecked"]
    assert "ses-smtp-user" in unchecked["reason"] and "cannot be told ahead" in unchecked["reason"]


def test_a_user_whose_send_permission_could_not_be_simulated_is_never_called_clean(load, fault) -> None:
    load("audit-clean")
    fault("aws-deny:iam:SimulatePrincipalPolicy")
    code, report = audit_json()
    assert code == 3 and report["diagnosis"]["code"] != "audit-clean"
    assert any("SimulatePrincipalPolicy" in u["reason"] for u in report["unchecked"]), report["unchecked"]


def test_a_key_whose_last_use_was_not_read_is_not_called_unused(load, fault) -> None:
    load("audit-findings")
    fault("aws-deny:iam:GetAccessKeyLastUsed")
    code, report = audit_json()
    assert code == 3
    for row in report["credentials"]:
        assert not {"smtp-key-unused-since-rotation", "smtp-key-unused"} & set(row["findings"]), row


def test_who_may_send_is_not_judged_without_the_identities_it_rests_on(load, fault) -> None:
    load("domain-scoped-policy")  # a user allowed to send as the domain's identity only
    fault("aws-deny:sesv2:ListEmailIdentities")
    code, report = audit_json()
    assert code == 3
    assert "smtp-user-cannot-send" not in [f["code"] for f in report["findings"]]
    assert any("ListEmailIdentities" in u["reason"] for u in report["unchecked"]), report["unchecked"]
