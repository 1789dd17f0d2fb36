"""cloudtrail.sending_pause against the lab: LookupEvents over real HTTP, in the SES region. Expected
values are worked out by hand from the scenario files (the lab's ROLE/SESSION actor becomes an
assumed-role ARN, as CloudTrail records a Lambda's execution role)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from maildoctor.checks.registry import default_registry
from maildoctor.lab.scenario import LAB_ACCOUNT_ID, Scenario, load_scenario

GUARD_ARN = f"arn:aws:sts::{LAB_ACCOUNT_ID}:assumed-role/SesBounceGuard/lambda"


def paused(*events: dict[str, Any]) -> Scenario:
    """account-paused-by-owner with its SES events replaced."""
    data = load_scenario("account-paused-by-owner").model_dump()
    iam_events = [e for e in data["cloudtrail"] if e["user"]]
    data.update(name="test", cloudtrail=[*iam_events, *events])
    return Scenario.model_validate(data)


def test_registered() -> None:
    spec = default_registry()["cloudtrail.sending_pause"]
    assert spec.outcomes == {"found", "not-found"}
    assert spec.iam_actions == ("cloudtrail:LookupEvents",)
    assert spec.arg_names == {"region"}


async def test_the_pause_by_a_role_session(load, run_check) -> None:
    load("account-paused-by-owner")
    r = await run_check("cloudtrail.sending_pause", region="us-east-1")
    assert (r.outcome, r.status) == ("found", "info")
    f = r.facts
    assert (f.paused_by, f.paused_by_arn, f.newest_disabled, f.region) == (
        "SesBounceGuard/lambda",
        GUARD_ARN,
        True,
        "us-east-1",
    )
    two_hours = datetime.now(UTC) - timedelta(hours=2)
    assert f.paused_at is not None
    assert abs(datetime.fromisoformat(f.paused_at) - two_hours) < timedelta(minutes=5)
    assert (f.paused_ago, f.source_ip) == ("2 hours ago", "198.51.100.7")
    assert [(e.event, e.enabled) for e in f.events] == [("PutAccountSendingAttributes", False)]
    assert r.summary.startswith(
        f"SesBounceGuard/lambda ({GUARD_ARN}) paused sending in us-east-1 with PutAccountSendingAttributes at "
    )
    assert "(2 hours ago), from 198.51.100.7" in r.summary
    text = "\n".join(e.text for e in r.evidence)
    assert "AttributeKey=EventName,AttributeValue=UpdateAccountSendingEnabled" in text
    assert "AttributeKey=EventName,AttributeValue=PutAccountSendingAttributes" in text


async def test_the_newest_event_wins_v1_by_a_user(load, run_check) -> None:
    load(paused(
        {"event": "PutAccountSendingAttributes", "time": "-5d", "actor": "SesBounceGuard/lambda", "enabled": False},
        {"event": "UpdateAccountSendingEnabled", "time": "-4d", "actor": "alice", "enabled": True},
        {"event": "UpdateAccountSendingEnabled", "time": "-3h", "actor": "alice", "enabled": False},
    ))  # fmt: skip
    r = await run_check("cloudtrail.sending_pause", region="us-east-1")
    assert r.outcome == "found"
    assert (r.facts.paused_by, r.facts.paused_by_arn) == (
        "alice",
        f"arn:aws:iam::{LAB_ACCOUNT_ID}:user/alice",
    )
    assert [(e.event, e.enabled, e.actor) for e in r.facts.events] == [
        ("UpdateAccountSendingEnabled", False, "alice"),
        ("UpdateAccountSendingEnabled", True, "alice"),
        ("PutAccountSendingAttributes", False, "SesBounceGuard/lambda"),
    ]


async def test_a_pause_in_another_region_is_not_this_one(load, run_check) -> None:
    load(paused({"event": "PutAccountSendingAttributes", "time": "-2h", "actor": "SesBounceGuard/lambda",
                 "region": "us-west-2", "enabled": False}))  # fmt: skip
    r = await run_check("cloudtrail.sending_pause", region="us-east-1")
    assert (r.outcome, r.facts.events, r.facts.paused_by) == ("not-found", [], None)
    assert r.summary == (
        "no UpdateAccountSendingEnabled or PutAccountSendingAttributes event in us-east-1 in the last 90 days: "
        "the pause is older than CloudTrail's event history"
    )


async def test_the_newest_event_turned_sending_on(load, run_check) -> None:
    load(paused(
        {"event": "PutAccountSendingAttributes", "time": "-2d", "actor": "SesBounceGuard/lambda", "enabled": False},
        {"event": "PutAccountSendingAttributes", "time": "-1d", "actor": "alice", "enabled": True},
    ))  # fmt: skip
    r = await run_check("cloudtrail.sending_pause", region="us-east-1")
    assert (r.outcome, r.facts.newest_disabled, r.facts.paused_by) == ("not-found", False, None)
    assert "turned sending on" in r.summary


async def test_lookup_denied_is_an_error(load, run_check, fault) -> None:
    load("account-paused-by-owner")
    fault("aws-deny:cloudtrail:LookupEvents")
    r = await run_check("cloudtrail.sending_pause", region="us-east-1")
    assert (r.outcome, r.status) == ("error", "error")
    assert r.summary.startswith("could not check: not allowed to call cloudtrail:LookupEvents in us-east-1")
