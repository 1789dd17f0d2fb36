"""CloudTrail and IAM as they really answer (issue 10, items 2-4), over real HTTP against the lab.

- CloudTrail: the rare write events looked up by EventName (an event history full of read events does
  not bury them), one LookupEvents limiter per AWS client, paging to the end of the 90 days within a
  time bound (and saying so when the bound cut it short).
- A console rotation: the replacement ``ses-smtp-user.<date>`` user and its key, never a command
  against the deleted user.
- The permission to send as IAM evaluates it: ResourceSpecificResults per identity (address, domain,
  parent domains), ses:* context keys, missing context values as "unknown".
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from maildoctor.checks import cloudtrail
from maildoctor.checks.cloudtrail import analyze_key_history
from maildoctor.checks.iam import _may_send
from maildoctor.checks.registry import CheckResult, default_registry
from maildoctor.clients import Clients
from maildoctor.clients.aws import AwsClient
from maildoctor.clients.settings import Settings
from maildoctor.lab import Lab
from maildoctor.lab.scenario import Scenario, load_scenario
from tests.flows.test_ses_delivery import walk
from tests.helpers import assert_json_safe

OLD = "AKIAEXAMPLEOLDKEY001"
NEW = "AKIAEXAMPLENEWKEY002"
CONSOLE_KEY = "AKIAEXAMPLECONSOLE05"
OLD_USER = "ses-smtp-user.20251027-080000"
NEW_USER = "ses-smtp-user.20261128-101500"
SECRET = "6N2DMWYY2PEFKCBiF4Aul0QhaTgPpshCizOEzNs4"
ARN = "arn:aws:ses:us-east-1:123456789012:identity/"


async def run(run_check: Any, name: str, **args: str | None) -> CheckResult:
    result: CheckResult = await run_check(name, **args)
    assert result.outcome in default_registry()[name].all_outcomes
    assert "\n" not in result.summary
    assert_json_safe(result.facts.model_dump(mode="json"))
    return result


def facts(result: CheckResult) -> dict[str, Any]:
    return result.facts.model_dump(mode="json")


def evidence_text(result: CheckResult) -> str:
    return "\n".join(f"{e.title}\n{e.text}" for e in result.evidence)


def aws_client() -> AwsClient:
    return Clients(Settings.resolve()).aws


def with_policy(base: str, policy: dict[str, Any], name: str = "policy-test") -> Scenario:
    """``base`` with the SMTP user's only policy replaced by ``policy``."""
    scenario = load_scenario(base)
    users = [u.model_dump() for u in scenario.iam.users]
    for user in users:
        if user["name"] == "ses-smtp-user":
            user["policies"] = [policy]
    data = {**scenario.model_dump(), "name": name, "iam": {"users": users}}
    return Scenario.model_validate(data)


def lab_trail() -> Any:
    return boto3.client("cloudtrail", region_name="us-east-1")


# ------------------------------------------------------------------------------------ CloudTrail


async def test_history_is_looked_up_by_event_name(load: Any, run_check: Any, lab: Lab) -> None:
    load("seed-incident")
    lab.aws.clear_operations()
    r = await run(run_check, "cloudtrail.key_history", smtp_username=OLD)
    assert (r.outcome, facts(r)["replacement_key"], facts(r)["deleted_by"]) == ("rotated", NEW, "alice")
    titles = [e.title for e in r.evidence if e.title.startswith("CloudTrail")]
    # the user still has an active key: no need for the user events
    assert [t.split()[2] for t in titles] == [
        "EventName=CreateAccessKey",
        "EventName=UpdateAccessKey",
        "EventName=DeleteAccessKey",
    ]
    assert not any("ResourceName" in t for t in titles)
    assert all(
        op == ("cloudtrail", "LookupEvents", "us-east-1")
        for op in lab.aws.operations()
        if op[0] == "cloudtrail"
    )
    f = facts(r)
    assert f["truncated"] is False and f["read_back_to"] == f["window_start"]
    assert (f["use_user"], f["use_key"]) == ("ses-smtp-user", NEW)
    # the command alone in a sh block (what the TUI's copy-commands key copies), for the user in use
    assert "```sh\naws iam create-access-key --user-name ses-smtp-user\n```" in f["new_key_hint"]


async def test_lab_lookup_by_event_name_and_read_events(load: Any) -> None:
    load("event-history-reads")
    trail = lab_trail()
    # a lookup by the user's name pages through the read events before the rotation
    by_user = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": "ses-smtp-user"}], MaxResults=50
    )
    assert {e["EventName"] for e in by_user["Events"]} <= {
        "GetUser",
        "ListAccessKeys",
        "GetAccessKeyLastUsed",
        "ListUsers",
    }
    assert by_user["NextToken"]
    assert all(e["ReadOnly"] == "true" for e in by_user["Events"])
    # by EventName: only that event, across users and keys
    deletes = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "DeleteAccessKey"}]
    )["Events"]
    assert [
        (e["EventName"], json.loads(e["CloudTrailEvent"])["requestParameters"]["accessKeyId"])
        for e in deletes
    ] == [("DeleteAccessKey", OLD)]
    writes = trail.lookup_events(LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "false"}])
    assert all(e["ReadOnly"] == "false" for e in writes["Events"]) and "NextToken" not in writes


async def test_read_events_do_not_bury_the_rotation(load: Any, run_check: Any) -> None:
    load("event-history-reads")
    r = await run(run_check, "cloudtrail.key_history", smtp_username=OLD)
    f = facts(r)
    assert (r.outcome, f["user"], f["replacement_key"], f["current_active_key"]) == (
        "rotated",
        "ses-smtp-user",
        NEW,
        NEW,
    )
    assert [e["event"] for e in f["events"]] == ["CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey"]
    assert f["truncated"] is False


async def test_one_pace_per_client_shared_by_concurrent_lookups(load: Any) -> None:
    load("seed-incident")
    aws = aws_client()
    loop = asyncio.get_running_loop()
    started = loop.time()
    # two key-history reads on one client (as two steps of one walk): 6 LookupEvents calls, 2 a second
    first, second = await asyncio.gather(
        analyze_key_history(aws, OLD, None, None), analyze_key_history(aws, OLD, None, None)
    )
    assert loop.time() - started >= 2.0
    assert first.outcome == second.outcome == "rotated"


async def test_the_time_bound_is_said(load: Any, run_check: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    toggles = [
        {"event": "UpdateAccessKey", "time": f"-{hour}h", "actor": "alice", "user": "ses-smtp-user",
         "key": NEW, "status": "Inactive" if hour % 2 else "Active"}
        for hour in range(2, 62)
    ]  # fmt: skip
    scenario = load_scenario("all-clear")
    load(Scenario.model_validate({**scenario.model_dump(), "name": "bound", "cloudtrail": toggles}))
    monkeypatch.setattr(cloudtrail, "TIME_BOUND", 0.0)  # every lookup stops after its first page
    r = await run(run_check, "cloudtrail.key_history", smtp_username=NEW)
    f = facts(r)
    assert f["truncated"] is True
    assert len([e for e in f["events"] if e["event"] == "UpdateAccessKey"]) == 50
    assert f["read_back_to"] and f["read_back_to"] > f["window_start"]
    assert any("the time bound (0 s) cut the history short: UpdateAccessKey events" in n for n in f["notes"])
    assert r.summary.endswith("only: the time bound cut it short)")
    assert "the time bound stopped the paging" in evidence_text(r)


# ------------------------------------------------------------------------------ console rotation


async def test_console_rotation_names_the_replacement_user(load: Any, run_check: Any) -> None:
    load("console-rotation")
    r = await run(run_check, "cloudtrail.key_history", smtp_username=OLD)
    f = facts(r)
    assert (r.outcome, f["user"], f["user_exists"]) == ("rotated", OLD_USER, False)
    assert (f["replacement_user"], f["replacement_user_key"], f["replacement_key"]) == (
        NEW_USER,
        CONSOLE_KEY,
        CONSOLE_KEY,
    )
    assert (f["use_user"], f["use_key"]) == (NEW_USER, CONSOLE_KEY)
    assert OLD_USER not in f["new_key_hint"] and NEW_USER in f["new_key_hint"]
    assert NEW_USER in json.loads(f["eventbridge_pattern"])["detail"]["requestParameters"]["userName"]
    assert f"the SES console made {NEW_USER} to replace it, whose active key is {CONSOLE_KEY}" in r.summary
    assert [(e["event"], e["user"]) for e in f["events"]][-3:] == [
        ("CreateAccessKey", NEW_USER),
        ("DeleteAccessKey", OLD_USER),
        ("DeleteUser", OLD_USER),
    ]
    assert ("CreateUser", NEW_USER) in [(e["event"], e["user"]) for e in f["events"]]


def test_console_rotation_remedy(load: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    scenario = load("console-rotation")
    code, out = walk(scenario, monkeypatch, tmp_path)
    report = json.loads(out)
    assert (code, report["diagnosis"]["code"]) == (1, "smtp-credentials-stale")
    remedy = report["diagnosis"]["remedy"]
    assert f"IAM user `{NEW_USER}`, active key\n`{CONSOLE_KEY}`" in remedy
    assert f"| Username | `{CONSOLE_KEY}` |" in remedy
    assert f"aws iam create-access-key --user-name {NEW_USER}" in remedy
    assert f"--user-name {OLD_USER}" not in remedy


async def test_deleted_user_without_replacement_gets_no_command(load: Any, run_check: Any) -> None:
    scenario = load_scenario("console-rotation")
    users = [u.model_dump() for u in scenario.iam.users if u.name == "alice"]
    trail = [e.model_dump() for e in scenario.cloudtrail if e.user != NEW_USER]
    load(
        Scenario.model_validate(
            {**scenario.model_dump(), "name": "gone", "iam": {"users": users}, "cloudtrail": trail}
        )
    )
    r = await run(run_check, "cloudtrail.key_history", smtp_username=OLD)
    f = facts(r)
    assert (f["user"], f["user_exists"], f["replacement_user"], f["use_user"]) == (
        OLD_USER,
        False,
        None,
        None,
    )
    assert "create-access-key" not in f["new_key_hint"] and "SES console" in f["new_key_hint"]


# --------------------------------------------------------------------------- permission to send


async def test_from_address_condition_allowed_with_the_sender(load: Any, run_check: Any) -> None:
    load("smtp-authorized-from-address")
    r = await run(
        run_check, "iam.smtp_key", smtp_username=NEW, sender="admin@example.com", region="us-east-1"
    )
    assert (r.outcome, facts(r)["may_send_raw"], facts(r)["decision"]) == ("active", True, "allowed")
    text = evidence_text(r)
    assert "ContextEntries=[ses:FromAddress=admin@example.com]" in text
    assert '"EvalResourceDecision": "allowed"' in text


async def test_from_address_condition_without_the_sender_is_unknown(load: Any, run_check: Any) -> None:
    load("smtp-authorized-from-address")
    r = await run(run_check, "iam.smtp_key", smtp_username=NEW)
    f = facts(r)
    assert (f["may_send_raw"], f["decision"], f["simulated_resources"]) == (None, None, ["*"])
    assert "unknown whether ses-smtp-user may ses:SendRawEmail" in f["send_check_note"]
    assert "ses:FromAddress" in f["send_check_note"] and "not denied" in f["send_check_note"]
    assert r.outcome != "not-authorized"


async def test_from_address_condition_denied(load: Any, run_check: Any) -> None:
    load("smtp-not-authorized-from-address")
    r = await run(
        run_check, "iam.smtp_key", smtp_username=NEW, sender="admin@example.com", region="us-east-1"
    )
    assert (r.outcome, facts(r)["may_send_raw"], facts(r)["decision"]) == (
        "not-authorized",
        False,
        "implicitDeny",
    )


@pytest.mark.parametrize(
    "sender", ["admin@example.com", "admin@mail.example.com"], ids=["domain", "parent-domain"]
)
async def test_domain_scoped_policy_is_allowed(load: Any, run_check: Any, sender: str) -> None:
    load("domain-scoped-policy")
    r = await run(run_check, "iam.smtp_key", smtp_username=NEW, sender=sender, region="us-east-1")
    f = facts(r)
    assert (f["may_send_raw"], f["decision"]) == (True, "allowed")
    assert (
        f["simulated_resources"][0] == f"{ARN}{sender}"
        and f["simulated_resources"][-1] == f"{ARN}example.com"
    )
    results = json.loads(r.evidence[-1].text)[0]
    assert results["EvalDecision"] == "implicitDeny"  # the top level: the most restrictive
    per = {x["EvalResourceName"]: x for x in results["ResourceSpecificResults"]}
    assert per[f"{ARN}{sender}"]["EvalResourceDecision"] == "implicitDeny"
    assert per[f"{ARN}example.com"]["EvalResourceDecision"] == "allowed"
    assert per[f"{ARN}example.com"]["MatchedStatements"][0]["SourcePolicyId"] == "ses-send-on-domain"


async def test_lab_simulation_shape(load: Any) -> None:
    load("domain-scoped-policy")
    iam = boto3.client("iam", region_name="us-east-1")
    answer = iam.simulate_principal_policy(
        PolicySourceArn="arn:aws:iam::123456789012:user/ses-smtp-user",
        ActionNames=["ses:SendRawEmail"],
        ResourceArns=[f"{ARN}admin@example.com", f"{ARN}example.com"],
    )["EvaluationResults"]
    assert len(answer) == 1  # one per action
    assert answer[0]["EvalDecision"] == "implicitDeny"  # the most restrictive across the resources
    assert [
        (r["EvalResourceName"], r["EvalResourceDecision"]) for r in answer[0]["ResourceSpecificResults"]
    ] == [
        (f"{ARN}admin@example.com", "implicitDeny"),
        (f"{ARN}example.com", "allowed"),
    ]


async def test_recipients_condition_needs_the_recipient(load: Any) -> None:
    policy = {"name": "to-partners", "actions": ["ses:SendRawEmail"],
              "condition": {"ForAllValues:StringLike": {"ses:Recipients": ["*@example.net"]},
                            "StringEquals": {"ses:FromAddress": "admin@example.com"}}}  # fmt: skip
    load(with_policy("all-clear", policy))
    aws = aws_client()
    unknown = await _may_send(aws, "ses-smtp-user", "admin@example.com", "us-east-1")
    assert unknown.decision is None and unknown.note and "ses:Recipients" in unknown.note
    assert "ses:FromAddress" not in unknown.note  # that one was given
    allowed = await _may_send(
        aws, "ses-smtp-user", "admin@example.com", "us-east-1", recipient="guest@example.net"
    )
    assert (allowed.decision, allowed.note) == ("allowed", None)
    denied = await _may_send(
        aws, "ses-smtp-user", "admin@example.com", "us-east-1", recipient="x@example.org"
    )
    assert denied.decision == "implicitDeny"
    named = await _may_send(
        aws, "ses-smtp-user", "admin@example.com", "us-east-1", "guest@example.net", "Admin"
    )
    assert "ses:FromDisplayName=Admin" in named.evidence[-1].title
