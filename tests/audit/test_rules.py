"""EventBridge pattern matching against an IAM key event (pure functions, no lab)."""

from __future__ import annotations

import json

import pytest

from maildoctor.audit.rules import key_event, matches, user_verdict
from maildoctor.checks.audit import judge_rules, suggested_pattern
from maildoctor.checks.cloudtrail import eventbridge_pattern

EVENT = key_event("ses-smtp-user", "DeleteAccessKey", "123456789012")
BASE = {"source": ["aws.iam"], "detail-type": ["AWS API Call via CloudTrail"]}


@pytest.mark.parametrize(
    ("pattern", "verdict"),
    [
        ({"source": ["aws.iam"]}, "match"),  # fields the pattern does not name match anything
        ({"source": ["aws.ec2"]}, "no-match"),
        ({"source": ["aws.ec2", "aws.iam"]}, "match"),  # a list is an OR
        ({**BASE, "detail": {"eventName": ["CreateAccessKey"]}}, "no-match"),
        ({**BASE, "detail": {"eventName": ["CreateAccessKey", "DeleteAccessKey"]}}, "match"),
        ({"detail": {"requestParameters": {"userName": ["someone-else"]}}}, "no-match"),
        ({"detail": {"requestParameters": {"userName": [{"prefix": "ses-smtp"}]}}}, "match"),
        ({"detail": {"requestParameters": {"userName": [{"prefix": "app-"}]}}}, "no-match"),
        ({"detail": {"requestParameters": {"userName": [{"suffix": "-user"}]}}}, "match"),
        ({"detail": {"requestParameters": {"userName": [{"anything-but": "alice"}]}}}, "match"),
        ({"detail": {"requestParameters": {"userName": [{"anything-but": ["ses-smtp-user"]}]}}}, "no-match"),
        ({"detail": {"requestParameters": {"userName": [{"anything-but": {"prefix": "ses-"}}]}}}, "no-match"),
        ({"detail": {"eventName": [{"equals-ignore-case": "deleteaccesskey"}]}}, "match"),
        ({"detail": {"eventName": [{"wildcard": "*AccessKey"}]}}, "match"),
        ({"detail": {"eventName": [{"wildcard": "Create*"}]}}, "no-match"),
        ({"detail": {"eventSource": [{"exists": True}]}}, "match"),
        ({"detail": {"eventSource": [{"exists": False}]}}, "no-match"),
        # fields known only when the event comes: never a guess
        ({"detail": {"userIdentity": {"type": ["Root"]}}}, "unknown"),
        ({**BASE, "detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/8"}]}}, "unknown"),
        # a known no-match decides even beside an unknown field
        ({"source": ["aws.s3"], "detail": {"userIdentity": {"type": ["Root"]}}}, "no-match"),
        ({"$or": [{"source": ["aws.s3"]}, {"detail": {"eventName": ["DeleteAccessKey"]}}]}, "match"),
        ({"$or": [{"source": ["aws.s3"]}, {"detail": {"userIdentity": {"type": ["Root"]}}}]}, "unknown"),
        ({"detail": "not an object"}, "unknown"),
        ({}, "unknown"),
    ],
)
def test_a_pattern_against_a_key_event(pattern: dict, verdict: str) -> None:
    assert matches(pattern, EVENT) == verdict


def test_the_pattern_maildoctor_suggests_matches_the_users_key_events_only() -> None:
    for user in ("ses-smtp-user", None):
        pattern = json.loads(eventbridge_pattern(user))
        assert user_verdict(pattern, "ses-smtp-user") == (
            "match",
            ["CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey"],
        )
    assert user_verdict(json.loads(eventbridge_pattern("ses-smtp-user")), "relay")[0] == "no-match"
    several = suggested_pattern(["relay", "app"])
    assert several["detail"]["requestParameters"] == {"userName": ["app", "relay"]}
    assert user_verdict(several, "app")[0] == "match" and user_verdict(several, "other")[0] == "no-match"


def _rule(name: str, pattern: dict | None, state: str = "ENABLED") -> dict:
    return {"Name": name, "State": state, **({"EventPattern": json.dumps(pattern)} if pattern else {})}


def test_rules_judged_per_user_enabled_only() -> None:
    read = [
        _rule("only-app", {**BASE, "detail": {"requestParameters": {"userName": ["app"]}}}),
        _rule("everyone-but-off", {"source": ["aws.iam"]}, state="DISABLED"),
        _rule("who-did-it", {"detail": {"userIdentity": {"type": ["Root"]}}}),
        _rule("schedule", None),
    ]
    f = judge_rules(read, ["app", "relay"], "123456789012")
    assert (f.watched, f.unwatched, f.cannot_tell) == (["app"], [], ["relay"])
    assert [r.name for r in f.rules] == ["only-app", "everyone-but-off", "who-did-it"]  # no schedule
    assert any("everyone-but-off" in n and "DISABLED" in n for n in f.notes)
    assert f.pattern is not None and json.loads(f.pattern)["detail"]["requestParameters"] == {
        "userName": ["relay"]
    }
    assert f.topic_arn == "arn:aws:sns:us-east-1:123456789012:smtp-key-changes"
    # the account not read: the commands carry a placeholder to replace, never "(unknown)"
    without = judge_rules(read[:2], ["app", "relay"], None)
    assert (without.unwatched, without.topic_arn) == (
        ["relay"],
        "arn:aws:sns:us-east-1:ACCOUNT_ID:smtp-key-changes",
    )
    # a rule enabled for all CloudTrail management events fires too (EventBridge's Rule.State)
    also = judge_rules(
        [_rule("all", BASE, state="ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")], ["app"], None
    )
    assert (also.watched, also.unwatched) == (["app"], [])


def test_the_suggested_rule_still_fires_after_the_next_console_rotation() -> None:
    """The SES console rotates by making a new ses-smtp-user.<date> user: the rule matches that prefix,
    and names the other users."""
    pattern = suggested_pattern(["ses-smtp-user.20260101-120000", "relay"])
    assert pattern["detail"]["requestParameters"] == {"userName": ["relay", {"prefix": "ses-smtp-user."}]}
    assert user_verdict(pattern, "ses-smtp-user.20270101-090000")[0] == "match"  # next year's console user
    assert user_verdict(pattern, "relay")[0] == "match" and user_verdict(pattern, "other")[0] == "no-match"
