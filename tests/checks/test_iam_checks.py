"""The IAM key and CloudTrail history checks against the lab's AWS endpoint (real boto3 over HTTP, no mocks).

Times in the lab are relative to when a scenario is loaded, so expected times are bracketed by the
clock read just before and just after ``load``.
"""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from maildoctor.checks.cloudtrail import KeyHistoryFacts
from maildoctor.checks.common import parse_time
from maildoctor.checks.iam import SmtpKeyFacts
from maildoctor.checks.registry import CheckResult, default_registry
from maildoctor.lab.scenario import Scenario, load_scenario
from tests.flows.test_ses_delivery import walk
from tests.helpers import assert_json_safe

OLD = "AKIAEXAMPLEOLDKEY001"
NEW = "AKIAEXAMPLENEWKEY002"
ROT = "AKIAEXAMPLEROTKEY004"
SMTP_USER = "ses-smtp-user"
ACCOUNT = "123456789012"
SECRET = "6N2DMWYY2PEFKCBiF4Aul0QhaTgPpshCizOEzNs4"
OTHER_SECRET = "xodeUHFE7bsw4msohjLHuOQ+2ahnuV43KFcL5S/M"
FOREIGN = "AKIAEXAMPLEFORGN0005"
FOREIGN_ACCOUNT = "210987654321"
# how the lab's IAM answers GetAccessKeyLastUsed for a key it does not hold: like AWS (403 AccessDenied on
# the key) or like moto (404 NoSuchEntity); every key-state behaviour must hold in both
MODES = pytest.mark.parametrize("mode", ["aws", "moto"])


async def run(run_check: Any, name: str, **args: str | None) -> CheckResult:
    result: CheckResult = await run_check(name, **args)
    assert result.outcome in default_registry()[name].all_outcomes
    assert "\n" not in result.summary
    assert isinstance(result.facts, default_registry()[name].facts)
    assert_json_safe(facts(result))
    json.dumps(facts(result))
    return result


def facts(result: CheckResult) -> dict[str, Any]:
    """The step's facts as the flows and reports see them."""
    return result.facts.model_dump(mode="json")


def evidence_text(result: CheckResult) -> str:
    return "\n".join(f"{e.title}\n{e.text}" for e in result.evidence)


def when(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


class Clock:
    """The lab's "now" lies between ``before`` and ``after`` (whole seconds, as the lab keeps them)."""

    def __init__(self, load: Any, scenario: str | Scenario) -> None:
        self.before = datetime.now(UTC).replace(microsecond=0)
        load(scenario)
        self.after = datetime.now(UTC)

    def assert_at(self, iso: str | None, offset: timedelta) -> datetime:
        assert iso is not None
        got = when(iso)
        assert self.before + offset <= got <= self.after + offset, (iso, offset)
        return got


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def world(users: list[dict[str, Any]], cloudtrail: list[dict[str, Any]], name: str = "iam-test") -> Scenario:
    return Scenario.model_validate(
        {
            "name": name,
            "description": "IAM keys and their CloudTrail history only",
            "expect": "all-clear",
            "iam": {"users": users},
            "cloudtrail": cloudtrail,
        }
    )


def smtp_user(
    *keys: dict[str, Any], policy: dict[str, Any] | None = None, name: str = SMTP_USER
) -> dict[str, Any]:
    return {
        "name": name,
        "policies": [policy or {"name": "ses-send-raw", "actions": ["ses:SendRawEmail"]}],
        "keys": list(keys),
    }


def key(key_id: str, secret: str = SECRET, **more: Any) -> dict[str, Any]:
    return {"id": key_id, "secret": secret, **more}


# --------------------------------------------------------------------------------------- registration


def test_checks_are_registered() -> None:
    specs = default_registry()
    smtp_key = specs["iam.smtp_key"]
    assert smtp_key.outcomes == {
        "active",
        "not-found",
        "other-account",
        "inactive",
        "expired",
        "temporary-key",
        "not-authorized",
        "not-a-key",
        "skipped",
    }
    assert smtp_key.arg_names == {"smtp_username", "sender", "region", "recipient"}
    assert smtp_key.required_args == frozenset()
    assert smtp_key.applies_when == ("smtp_username",)
    assert smtp_key.facts is SmtpKeyFacts
    assert set(smtp_key.iam_actions) == {
        "iam:GetAccessKeyLastUsed",
        "iam:ListAccessKeys",
        "iam:GetUser",
        "iam:SimulatePrincipalPolicy",
        "sts:GetAccessKeyInfo",
        "sts:GetCallerIdentity",
    }
    history = specs["cloudtrail.key_history"]
    assert history.outcomes == {"rotated", "quiet", "skipped"}
    assert history.arg_names == {"smtp_username", "user", "bounce_time"}
    assert history.required_args == {"smtp_username"}
    assert history.applies_when == ()
    assert history.facts is KeyHistoryFacts
    assert set(history.iam_actions) == {
        "cloudtrail:LookupEvents",
        "iam:ListAccessKeys",
        "iam:GetAccessKeyLastUsed",
    }
    # the facts the flows' remedies name ({key.user}, {history-stale.timeline} …)
    assert {"user", "current_key", "decision"} <= smtp_key.fact_names()
    assert {
        "user", "current_active_key", "deactivated_at", "deactivated_by", "timeline",
        "eventbridge_pattern", "eventbridge_region",
    } <= history.fact_names()  # fmt: skip
    for spec in (smtp_key, history):
        assert spec.description
        # read-only: every action reads (SimulatePrincipalPolicy evaluates, it changes nothing)
        assert all(
            a.split(":")[1].startswith(("Get", "List", "Lookup", "Simulate")) for a in spec.iam_actions
        )


# ------------------------------------------------------------------------------- the seed incident


def in_mode(name: str, mode: str, **changes: Any) -> Scenario:
    """A shipped scenario with the lab's IAM answering like ``mode`` (and other top-level changes)."""
    return load_scenario(name).model_copy(update={"iam_answers": mode, **changes})


def seed_answer(mode: str, key_id: str = OLD) -> str:
    """What the lab's IAM answers GetAccessKeyLastUsed for a key it does not hold, in ``mode``."""
    if mode == "moto":
        return "NoSuchEntity"
    return (
        "AccessDenied: User: arn:aws:iam::123456789012:user/lab-operator is not authorized to perform: "
        f"iam:GetAccessKeyLastUsed on resource: access key {key_id}"
    )


@MODES
async def test_seed_incident_key_is_gone(load: Any, run_check: Any, mode: str) -> None:
    load(in_mode("seed-incident", mode))
    r = await run(run_check, "iam.smtp_key", smtp_username=OLD)
    assert (r.outcome, r.status) == ("not-found", "fail")
    assert r.summary == (
        "access key AKIAEXAMPLEOLDKEY001 no longer exists: it is a key of this account (123456789012) that "
        "IAM does not hold any more, so it was deleted (a rotation?)"
    )
    f = facts(r)
    assert f["key_id"] == OLD and (f["key_account"], f["checked_account"]) == (ACCOUNT, ACCOUNT)
    assert f["user"] is None and f["status"] is None and f["current_key"] is None
    assert [e.title for e in r.evidence] == [
        "IAM GetAccessKeyLastUsed AccessKeyId=AKIAEXAMPLEOLDKEY001",
        "STS GetAccessKeyInfo AccessKeyId=AKIAEXAMPLEOLDKEY001",
        "STS GetCallerIdentity",
    ]
    assert r.evidence[0].text.startswith(seed_answer(mode))


@MODES
def test_seed_incident_walk_is_credentials_stale_in_both_modes(
    load: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, mode: str
) -> None:
    code, out = walk(load(in_mode("seed-incident", mode)), monkeypatch, tmp_path)
    report = json.loads(out)
    assert (code, report["diagnosis"]["code"]) == (1, "smtp-credentials-stale")
    steps = {s["node"]: s for s in report["steps"]}
    assert (steps["key"]["status"], steps["history-stale"]["status"]) == ("fail", "fail")
    assert "| Username | `AKIAEXAMPLENEWKEY002` |" in report["diagnosis"]["remedy"]
    assert "is active" not in report["diagnosis"]["remedy"]


@MODES
async def test_a_key_of_another_account(load: Any, run_check: Any, mode: str) -> None:
    load(in_mode("smtp-key-other-account", mode))
    r = await run(run_check, "iam.smtp_key", smtp_username=FOREIGN)
    assert (r.outcome, r.status) == ("other-account", "fail")
    assert r.summary == (
        "access key AKIAEXAMPLEFORGN0005 belongs to another AWS account (210987654321), not the one checked "
        "(123456789012): walk again with credentials of account 210987654321"
    )
    f = facts(r)
    assert (f["key_account"], f["checked_account"], f["user"]) == (FOREIGN_ACCOUNT, ACCOUNT, None)
    assert r.evidence[0].text.startswith(seed_answer(mode, FOREIGN))
    assert '"Account": "210987654321"' in r.evidence[1].text


@MODES
def test_a_key_of_another_account_walks_to_its_remedy(
    load: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, mode: str
) -> None:
    code, out = walk(load(in_mode("smtp-key-other-account", mode)), monkeypatch, tmp_path)
    report = json.loads(out)
    assert (code, report["diagnosis"]["code"]) == (1, "smtp-key-other-account")
    remedy = report["diagnosis"]["remedy"]
    assert "AWS account `210987654321`" in remedy and "checked account `123456789012`" in remedy
    assert "--profile NAME" in remedy
    steps = {s["node"]: s for s in report["steps"]}
    assert "535 Authentication Credentials Invalid" in steps["login"]["summary"]  # SES's answer too


def expired_world(mode: str) -> Scenario:
    """smtp-key-inactive, the client's key Expired instead of Inactive."""
    data = load_scenario("smtp-key-inactive").model_dump()
    data["iam"]["users"][0]["keys"][0]["status"] = "Expired"
    data |= {"name": "smtp-key-expired", "iam_answers": mode}
    return Scenario.model_validate(data)


@MODES
async def test_an_expired_key_is_expired_not_deactivated(load: Any, run_check: Any, mode: str) -> None:
    load(expired_world(mode))
    r = await run(run_check, "iam.smtp_key", smtp_username=NEW)
    assert (r.outcome, r.status, facts(r)["status"]) == ("expired", "fail", "Expired")
    assert r.summary == (
        "access key AKIAEXAMPLENEWKEY002 of ses-smtp-user is Expired: IAM no longer accepts it, so neither "
        "does SES SMTP; ses-smtp-user's active key is now AKIAEXAMPLEROTKEY004"
    )
    assert "deactivated" not in r.summary


@MODES
def test_an_expired_key_walks_to_a_new_key(
    load: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, mode: str
) -> None:
    code, out = walk(load(expired_world(mode)), monkeypatch, tmp_path)
    report = json.loads(out)
    assert (code, report["diagnosis"]["code"]) == (1, "smtp-key-inactive")
    assert report["diagnosis"]["title"] == "The SMTP credentials belong to an expired access key"
    remedy = report["diagnosis"]["remedy"]
    assert "current active key: `AKIAEXAMPLEROTKEY004`" in remedy
    assert "--status Active" not in remedy  # no reactivation promised for an expired key
    steps = {s["node"]: s for s in report["steps"]}
    assert "535 Authentication Credentials Invalid" in steps["login"]["summary"]


@MODES
async def test_get_access_key_info_denied_is_an_error_not_a_guess(
    load: Any, run_check: Any, fault: Any, mode: str
) -> None:
    load(in_mode("seed-incident", mode))
    fault("aws-deny:sts:GetAccessKeyInfo")
    r = await run(run_check, "iam.smtp_key", smtp_username=OLD)
    assert (r.outcome, r.status) == ("error", "error")
    answered = "NoSuchEntity" if mode == "moto" else "AccessDenied on the key itself"
    assert r.summary.startswith(
        f"could not check: IAM answers {answered} for access key AKIAEXAMPLEOLDKEY001, so this account does "
        "not hold it; whether it was deleted here or is another account's key is not known: "
        "not allowed to call sts:GetAccessKeyInfo"
    ), r.summary
    assert facts(r)["key_account"] is None and facts(r)["checked_account"] == ACCOUNT


async def test_denied_on_anything_but_the_key_is_an_error(load: Any, run_check: Any, fault: Any) -> None:
    load("seed-incident")
    fault("aws-deny:iam:GetAccessKeyLastUsed")  # "... on resource: *": a missing permission, not the key
    r = await run(run_check, "iam.smtp_key", smtp_username=NEW)
    assert (r.outcome, r.status) == ("error", "error")
    assert "not allowed to call iam:GetAccessKeyLastUsed" in r.summary
    assert [e.title for e in r.evidence] == ["IAM GetAccessKeyLastUsed AccessKeyId=AKIAEXAMPLENEWKEY002"]


@MODES
def test_a_key_state_error_still_reads_the_history(
    load: Any, fault: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, mode: str
) -> None:
    scenario = load(in_mode("seed-incident", mode))
    fault("aws-deny:sts:GetAccessKeyInfo")
    code, out = walk(scenario, monkeypatch, tmp_path)
    report = json.loads(out)
    steps = {s["node"]: s for s in report["steps"]}
    assert steps["key"]["status"] == "error"
    assert steps["history-key-unread"]["status"] == "fail"  # CloudTrail establishes the deletion
    assert (code, report["diagnosis"]["code"]) == (1, "smtp-credentials-stale")
    remedy = report["diagnosis"]["remedy"]
    assert "AKIAEXAMPLEOLDKEY001 was deleted 3 days ago by alice" in remedy
    assert "active key\n   `AKIAEXAMPLENEWKEY002`" in remedy
    assert "is active" not in remedy


@pytest.mark.parametrize("give_user", [False, True], ids=["user-from-events", "user-given"])
async def test_seed_incident_history_is_a_rotation(load: Any, run_check: Any, give_user: bool) -> None:
    clock = Clock(load, "seed-incident")
    args = {"user": SMTP_USER} if give_user else {}
    bounce = (clock.before - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    r = await run(run_check, "cloudtrail.key_history", smtp_username=OLD, bounce_time=bounce, **args)
    f = facts(r)
    assert (r.outcome, r.status) == ("rotated", "fail")
    assert f["key_id"] == OLD and f["user"] == SMTP_USER
    deleted = clock.assert_at(f["deleted_at"], -timedelta(days=3))
    assert f["deleted_by"] == "alice"
    assert f["deactivated_at"] == f["deleted_at"] and f["deactivated_by"] == "alice"
    assert f["replacement_key"] == NEW
    assert f["current_active_key"] == NEW
    assert f["key_status_now"] == "absent" and f["user_exists"] is True
    # the key's creation, 400 days ago, is beyond CloudTrail's 90 days
    assert f["created_at"] is None
    assert f["created_keys"] == [{"key": NEW, "time": f["deleted_at"], "actor": "alice"}]
    assert r.summary == (
        f"AKIAEXAMPLEOLDKEY001 was deleted 3 days ago by alice ({stamp(deleted)}); "
        "ses-smtp-user's active key is now AKIAEXAMPLENEWKEY002"
    )
    # the three events of the rotation, oldest first, each once although both lookups return them
    assert [(e["event"], e["key"], e["status"], e["actor"]) for e in f["events"]] == [
        ("CreateAccessKey", NEW, "Active", "alice"),
        ("UpdateAccessKey", OLD, "Inactive", "alice"),
        ("DeleteAccessKey", OLD, None, "alice"),
    ]
    assert all(e["source_ip"] == "198.51.100.7" and e["user"] == SMTP_USER for e in f["events"])
    assert len({e["event_id"] for e in f["events"]}) == 3
    day = stamp(deleted)
    assert f["timeline"] == [
        f"{day}  CreateAccessKey AKIAEXAMPLENEWKEY002 by alice",
        f"{day}  UpdateAccessKey AKIAEXAMPLEOLDKEY001 → Inactive by alice",
        f"{day}  DeleteAccessKey AKIAEXAMPLEOLDKEY001 by alice",
        f"{stamp(when(f['bounce_time']))}  ← bounce received",
    ]
    assert f["bounce_after_change"] is True
    assert f["eventbridge_region"] == "us-east-1"
    text = evidence_text(r)
    assert "CloudTrail LookupEvents EventName=DeleteAccessKey in us-east-1" in text
    assert "CloudTrail LookupEvents EventName=CreateAccessKey in us-east-1" in text
    assert '"accessKeyId": "AKIAEXAMPLEOLDKEY001"' in text
    assert "AKIAEXAMPLENEWKEY002  Active  created" in text


async def test_bounce_is_placed_in_time_order(load: Any, run_check: Any) -> None:
    clock = Clock(load, "seed-incident")
    before_rotation = clock.before - timedelta(days=5)
    # an RFC 5322 date, as in a bounce's Date header
    header = before_rotation.strftime("%a, %d %b %Y %H:%M:%S +0000")
    r = await run(run_check, "cloudtrail.key_history", smtp_username=OLD, bounce_time=header)
    assert facts(r)["bounce_time"] == before_rotation.isoformat().replace("+00:00", "Z")
    assert facts(r)["timeline"][0] == f"{stamp(before_rotation)}  ← bounce received"
    assert len(facts(r)["timeline"]) == 4
    assert facts(r)["bounce_after_change"] is False

    r = await run(run_check, "cloudtrail.key_history", smtp_username=OLD, bounce_time="last tuesday")
    assert facts(r)["bounce_time"] is None and len(facts(r)["timeline"]) == 3
    assert facts(r)["notes"] == [
        "bounce_time 'last tuesday' is not a time I can read (ISO 8601 or an RFC 5322 date): left out"
    ]


async def test_eventbridge_pattern_names_the_user(load: Any, run_check: Any) -> None:
    load("seed-incident")
    r = await run(run_check, "cloudtrail.key_history", smtp_username=OLD)
    pattern = json.loads(facts(r)["eventbridge_pattern"])
    assert pattern == {
        "source": ["aws.iam"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["iam.amazonaws.com"],
            "eventName": ["CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey"],
            "requestParameters": {"userName": ["ses-smtp-user"]},
        },
    }
    assert facts(r)["eventbridge_region"] == "us-east-1"


async def test_unknown_placeholders_arrive_as_none(load: Any, run_check: Any) -> None:
    # a flow passes a fact an earlier step did not have as None: the key check had no user
    load("seed-incident")
    r = await run(run_check, "cloudtrail.key_history", smtp_username=OLD, user=None, bounce_time=None)
    assert (r.outcome, facts(r)["user"], facts(r)["bounce_time"], facts(r)["notes"]) == (
        "rotated",
        SMTP_USER,
        None,
        [],
    )
    r = await run(run_check, "iam.smtp_key", smtp_username=None)
    assert (r.outcome, r.status, r.summary) == ("skipped", "skipped", "not checked: no smtp username given")
    assert facts(r) == SmtpKeyFacts().model_dump(mode="json") and r.evidence == []


# ------------------------------------------------------------------------------------- all clear


async def test_all_clear_key_is_active(load: Any, run_check: Any) -> None:
    clock = Clock(load, "all-clear")
    r = await run(run_check, "iam.smtp_key", smtp_username=NEW)
    f = facts(r)
    assert (r.outcome, r.status) == ("active", "pass")
    assert r.summary == (
        "AKIAEXAMPLENEWKEY002 is an active access key of IAM user ses-smtp-user (created 200 days ago, "
        "last used 2 hours ago with ses in us-east-1); the user may ses:SendRawEmail"
    )
    assert (f["user"], f["user_arn"]) == (SMTP_USER, f"arn:aws:iam::{ACCOUNT}:user/ses-smtp-user")
    assert (f["status"], f["age_days"], f["key_type"]) == ("Active", 200, "long-term")
    clock.assert_at(f["created"], -timedelta(days=200))
    clock.assert_at(f["last_used"], -timedelta(hours=2))
    assert (f["last_used_service"], f["last_used_region"]) == ("ses", "us-east-1")
    assert f["other_keys"] == [] and f["active_keys"] == [NEW] and f["current_key"] == NEW
    assert (f["may_send_raw"], f["decision"], f["simulated_resources"]) == (True, "allowed", ["*"])
    titles = [e.title for e in r.evidence]
    assert titles[:3] == [
        "IAM GetAccessKeyLastUsed AccessKeyId=AKIAEXAMPLENEWKEY002",
        "IAM ListAccessKeys UserName=ses-smtp-user",
        "IAM GetUser UserName=ses-smtp-user",
    ]
    assert titles[3].startswith("IAM SimulatePrincipalPolicy PolicySourceArn=arn:aws:iam::123456789012:")
    assert '"EvalDecision": "allowed"' in evidence_text(r)
    assert '"SourcePolicyId": "ses-send-raw"' in evidence_text(r)


@pytest.mark.parametrize("give_user", [False, True], ids=["user-from-iam", "user-given"])
async def test_all_clear_history_is_quiet(load: Any, run_check: Any, give_user: bool) -> None:
    load("all-clear")
    args = {"user": SMTP_USER} if give_user else {}
    r = await run(run_check, "cloudtrail.key_history", smtp_username=NEW, **args)
    f = facts(r)
    # the key's one CreateAccessKey was 200 days ago: outside CloudTrail's 90 days
    assert (r.outcome, r.status) == ("quiet", "info")
    assert r.summary == (
        "no changes to AKIAEXAMPLENEWKEY002 or to ses-smtp-user's keys in CloudTrail's last 90 days "
        "(it keeps no more: older rotations are invisible)"
    )
    assert f["events"] == [] and f["timeline"] == [] and f["created_keys"] == []
    assert f["user"] == SMTP_USER
    assert (f["current_active_key"], f["key_status_now"], f["replacement_key"]) == (NEW, "Active", None)
    assert f["deleted_at"] is f["deactivated_at"] is None
    if not give_user:  # no key events name the user: IAM was asked whose key it is
        assert "IAM GetAccessKeyLastUsed AccessKeyId=AKIAEXAMPLENEWKEY002" in [e.title for e in r.evidence]


# ----------------------------------------------------------------------------- the other key worlds


async def test_inactive_key_points_at_the_current_one(load: Any, run_check: Any) -> None:
    clock = Clock(load, "smtp-key-inactive")
    r = await run(run_check, "iam.smtp_key", smtp_username=NEW)
    f = facts(r)
    assert (r.outcome, r.status) == ("inactive", "fail")
    assert r.summary == (
        "access key AKIAEXAMPLENEWKEY002 of ses-smtp-user is Inactive (deactivated, e.g. step one of a "
        "rotation); ses-smtp-user's active key is now AKIAEXAMPLEROTKEY004"
    )
    assert f["status"] == "Inactive" and f["current_key"] == ROT and f["active_keys"] == [ROT]
    assert [(k["id"], k["status"]) for k in f["other_keys"]] == [(ROT, "Active")]
    clock.assert_at(f["other_keys"][0]["created"], -timedelta(days=1))

    r = await run(run_check, "cloudtrail.key_history", smtp_username=NEW, user=SMTP_USER)
    f = facts(r)
    assert (r.outcome, r.status) == ("rotated", "fail")
    deactivated = clock.assert_at(f["deactivated_at"], -timedelta(days=1))
    assert f["deactivated_by"] == "alice" and f["deleted_at"] is None
    assert (f["replacement_key"], f["current_active_key"], f["key_status_now"]) == (ROT, ROT, "Inactive")
    assert r.summary == (
        f"AKIAEXAMPLENEWKEY002 was deactivated 1 day ago by alice ({stamp(deactivated)}); "
        "ses-smtp-user's active key is now AKIAEXAMPLEROTKEY004"
    )


async def test_user_without_send_raw_is_not_authorized(load: Any, run_check: Any) -> None:
    load("smtp-not-authorized")
    r = await run(run_check, "iam.smtp_key", smtp_username=NEW)
    assert (r.outcome, r.status) == ("not-authorized", "fail")
    assert r.summary == "user ses-smtp-user may not ses:SendRawEmail (implicitDeny): SMTP sends need it"
    assert (facts(r)["may_send_raw"], facts(r)["decision"], facts(r)["status"]) == (
        False,
        "implicitDeny",
        "Active",
    )


async def test_explicit_deny_wins(load: Any, run_check: Any) -> None:
    deny = {"name": "no-raw", "actions": ["ses:SendRawEmail"], "effect": "Deny"}
    user = smtp_user(key(NEW))
    user["policies"] = [{"name": "ses-all", "actions": ["ses:*"]}, deny]
    load(world([user], []))
    r = await run(run_check, "iam.smtp_key", smtp_username=NEW)
    assert r.outcome == "not-authorized"
    assert r.summary == "user ses-smtp-user may not ses:SendRawEmail (explicitDeny): SMTP sends need it"


async def test_policy_scoped_to_the_identity(load: Any, run_check: Any) -> None:
    domain_arn = f"arn:aws:ses:us-east-1:{ACCOUNT}:identity/example.com"
    scoped = {"name": "send-as-example", "actions": ["ses:SendRawEmail"], "resource": domain_arn}
    load(world([smtp_user(key(NEW), policy=scoped)], []))
    # simulated on "*", a policy that names the identity does not match: judged by the sender it does
    r = await run(run_check, "iam.smtp_key", smtp_username=NEW)
    assert (r.outcome, facts(r)["decision"]) == ("not-authorized", "implicitDeny")
    r = await run(
        run_check, "iam.smtp_key", smtp_username=NEW, sender="admin@example.com", region="us-east-1"
    )
    assert (r.outcome, r.status, facts(r)["may_send_raw"]) == ("active", "pass", True)
    assert facts(r)["simulated_resources"] == [
        f"arn:aws:ses:us-east-1:{ACCOUNT}:identity/admin@example.com",
        domain_arn,
    ]
    # the same sender in another region is another identity
    r = await run(
        run_check, "iam.smtp_key", smtp_username=NEW, sender="admin@example.com", region="eu-west-1"
    )
    assert r.outcome == "not-authorized"


async def test_never_used_key(load: Any, run_check: Any) -> None:
    load(world([smtp_user(key(NEW, created="-10d"))], []))
    r = await run(run_check, "iam.smtp_key", smtp_username=NEW)
    assert r.outcome == "active"
    assert (facts(r)["last_used"], facts(r)["last_used_service"], facts(r)["last_used_region"]) == (
        None,
        "N/A",
        "N/A",
    )
    assert r.summary == (
        "AKIAEXAMPLENEWKEY002 is an active access key of IAM user ses-smtp-user (created 10 days ago, "
        "never used); the user may ses:SendRawEmail"
    )


# ------------------------------------------------------------------------------ not a usable key id


async def test_temporary_key(load: Any, run_check: Any) -> None:
    load("all-clear")
    r = await run(run_check, "iam.smtp_key", smtp_username="ASIAEXAMPLETEMPKEY05")
    assert (r.outcome, r.status) == ("temporary-key", "fail")
    assert r.summary == (
        "ASIAEXAMPLETEMPKEY05 is a temporary (STS) access key id: temporary credentials cannot be SES SMTP "
        "credentials; use a long-term access key (AKIA…) of an IAM user"
    )
    assert facts(r)["key_type"] == "temporary" and r.evidence == []
    r = await run(run_check, "cloudtrail.key_history", smtp_username="ASIAEXAMPLETEMPKEY05")
    assert (r.outcome, r.status) == ("skipped", "skipped")


NOT_KEYS = [
    ("admin@example.com", "an email address"),
    ("ses-smtp-user", "something else"),
    ("akiaexamplenewkey002", "an access key id in lower case"),
    ("AKIAEXAMPLENEWKEY02", "a mistyped access key id (19 characters; key ids have 20, A-Z and 0-9 only)"),
    (
        "BMPPgbAHoFVbze1Ud0oA5uNdXRwUXUZ+qOwphGJbl/cS",
        "an SMTP password (are the user name and the password swapped?)",
    ),
]


async def test_not_a_key(load: Any, run_check: Any) -> None:
    load("all-clear")
    for value, looks_like in NOT_KEYS:
        r = await run(run_check, "iam.smtp_key", smtp_username=value)
        assert (r.outcome, r.status) == ("not-a-key", "fail")
        assert r.summary.startswith(
            f"SES SMTP user names are access key ids like AKIA…; this looks like {looks_like}"
        )
        assert (
            facts(r)["key_id"] is None and facts(r)["looks_like"].startswith(looks_like) and r.evidence == []
        )
        assert value not in r.summary  # a password pasted as the user name must not reach a transcript
        r = await run(run_check, "cloudtrail.key_history", smtp_username=value)
        assert r.outcome == "skipped" and value not in r.summary


async def test_empty_user_name(load: Any, run_check: Any) -> None:
    load("all-clear")
    for blank in ("", "  "):
        r = await run(run_check, "iam.smtp_key", smtp_username=blank)
        assert (r.outcome, r.status) == ("skipped", "skipped")
        # the history needs a key id: without one the engine does not run it
        r = await run(run_check, "cloudtrail.key_history", smtp_username=blank)
        assert (r.outcome, r.status) == ("error", "error")
        assert r.summary == "could not check: no smtp username given"
        assert facts(r) == KeyHistoryFacts().model_dump(mode="json")


# ----------------------------------------------------------------------------------- more history


async def test_rotation_by_an_assumed_role_and_the_user_deleted(load: Any, run_check: Any) -> None:
    clock = Clock(
        load,
        world(
            [],
            [
                {
                    "event": "CreateAccessKey",
                    "time": "-30d",
                    "actor": "alice",
                    "user": "old-smtp",
                    "key": OLD,
                },
                {
                    "event": "DeleteAccessKey",
                    "time": "-2h",
                    "actor": "Admin/bob@example.com",
                    "user": "old-smtp",
                    "key": OLD,
                },
                {"event": "DeleteUser", "time": "-1h", "actor": "Admin/bob@example.com", "user": "old-smtp"},
            ],
        ),
    )
    r = await run(run_check, "iam.smtp_key", smtp_username=OLD)
    assert r.outcome == "not-found"
    r = await run(run_check, "cloudtrail.key_history", smtp_username=OLD)
    f = facts(r)
    role = f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/bob@example.com"
    assert (r.outcome, r.status) == ("rotated", "fail")
    assert (f["user"], f["deleted_by"], f["user_exists"]) == ("old-smtp", role, False)
    created = clock.assert_at(f["created_at"], -timedelta(days=30))
    deleted = clock.assert_at(f["deleted_at"], -timedelta(hours=2))
    assert f["created_by"] == "alice" and f["replacement_key"] is None and f["current_active_key"] is None
    assert r.summary == (
        f"AKIAEXAMPLEOLDKEY001 was deleted 2 hours ago by {role} ({stamp(deleted)}); "
        "the user old-smtp no longer exists either"
    )
    gone = clock.assert_at(f["events"][-1]["time"], -timedelta(hours=1))
    assert f["timeline"] == [
        f"{stamp(created)}  CreateAccessKey AKIAEXAMPLEOLDKEY001 by alice",
        f"{stamp(deleted)}  DeleteAccessKey AKIAEXAMPLEOLDKEY001 by {role}",
        f"{stamp(gone)}  DeleteUser old-smtp by {role}",
    ]
    assert "NoSuchEntity" in evidence_text(r)


async def test_rotation_under_way_warns(load: Any, run_check: Any) -> None:
    clock = Clock(
        load,
        world(
            [smtp_user(key(OLD, created="-120d"), key(NEW, OTHER_SECRET, created="-20m"))],
            [{"event": "CreateAccessKey", "time": "-20m", "actor": "alice", "user": SMTP_USER, "key": NEW}],
        ),
    )
    r = await run(run_check, "iam.smtp_key", smtp_username=OLD)
    assert (r.outcome, facts(r)["current_key"], facts(r)["active_keys"]) == ("active", NEW, [NEW, OLD])
    r = await run(run_check, "cloudtrail.key_history", smtp_username=OLD, user=SMTP_USER)
    created = clock.assert_at(facts(r)["created_keys"][0]["time"], -timedelta(minutes=20))
    assert (r.outcome, r.status, facts(r)["replacement_key"]) == ("rotated", "warn", NEW)
    assert r.summary == (
        f"a new key AKIAEXAMPLENEWKEY002 was created for ses-smtp-user 20 minutes ago by alice "
        f"({stamp(created)}); AKIAEXAMPLEOLDKEY001 is still active: a rotation under way, move the client "
        "to the new key"
    )


async def test_recent_key_without_rotation_is_quiet(load: Any, run_check: Any) -> None:
    clock = Clock(
        load,
        world(
            [smtp_user(key(NEW, created="-10d"))],
            [{"event": "CreateAccessKey", "time": "-10d", "actor": "alice", "user": SMTP_USER, "key": NEW}],
        ),
    )
    r = await run(run_check, "cloudtrail.key_history", smtp_username=NEW)
    created = clock.assert_at(facts(r)["created_at"], -timedelta(days=10))
    assert (r.outcome, r.status) == ("quiet", "pass")
    assert r.summary == (
        f"no rotation: AKIAEXAMPLENEWKEY002 was created 10 days ago by alice ({stamp(created)}) and has not "
        "been deleted, deactivated or replaced since"
    )


async def test_every_page_is_read(load: Any, run_check: Any) -> None:
    # 61 events about one key (more than one page of 50): it was switched off and on every hour
    toggles = [
        {
            "event": "UpdateAccessKey",
            "time": f"-{hour}h",
            "actor": "alice",
            "user": SMTP_USER,
            "key": NEW,
            "status": "Inactive" if hour % 2 else "Active",
        }
        for hour in range(2, 62)
    ]
    create = {"event": "CreateAccessKey", "time": "-70h", "actor": "alice", "user": SMTP_USER, "key": NEW}
    load(world([smtp_user(key(NEW, created="-70h"))], [create, *toggles]))
    r = await run(run_check, "cloudtrail.key_history", smtp_username=NEW)
    f = facts(r)
    assert len(f["events"]) == 61 and len({e["event_id"] for e in f["events"]}) == 61
    assert [e["event"] for e in f["events"]] == ["CreateAccessKey"] + ["UpdateAccessKey"] * 60
    assert [e["status"] for e in f["events"][1:]] == (["Inactive", "Active"] * 30)  # -61h … -2h
    assert f["truncated"] is False
    assert "60 event(s) in 2 page(s)" in evidence_text(r)  # EventName=UpdateAccessKey
    # switched back on last: no rotation
    assert (r.outcome, r.status, f["deactivated_by"]) == ("quiet", "pass", "alice")


# ------------------------------------------------------------------------------------ failures


async def test_unreachable_aws_is_an_error(
    load: Any, run_check: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    load("seed-incident")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{probe.getsockname()[1]}")
    r = await run(run_check, "iam.smtp_key", smtp_username=OLD)
    assert (r.outcome, r.status) == ("error", "error")
    assert r.summary.startswith(
        "could not check: iam:GetAccessKeyLastUsed in us-east-1 failed: EndpointConnectionError"
    )
    r = await run(run_check, "cloudtrail.key_history", smtp_username=OLD)
    assert (r.outcome, r.status) == ("error", "error")
    assert r.summary.startswith(
        "could not check: cloudtrail:LookupEvents in us-east-1 failed: EndpointConnectionError"
    )


# --------------------------------------------------------------------------------------- helpers


def test_parse_time() -> None:
    utc = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    assert parse_time("2026-11-26T09:00:00Z") == utc
    assert parse_time("2026-11-26T10:00:00+01:00") == utc
    assert parse_time("2026-11-26 09:00") == utc
    assert parse_time("Thu, 26 Nov 2026 09:00:00 +0000") == utc
    assert parse_time("Thu, 26 Nov 2026 04:00:00 -0500") == utc
    assert parse_time("yesterday") is None and parse_time("") is None
