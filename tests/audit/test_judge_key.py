"""A key's state code from what IAM and CloudTrail said (pure: plain unit tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from maildoctor.checks.audit import UNUSED_SINCE_ROTATION, UserRead, judge_key
from maildoctor.checks.cloudtrail import KeyEvent

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def event(name: str, key: str, days_ago: float, user: str = "relay", status: str | None = None) -> KeyEvent:
    return KeyEvent(
        f"id-{name}-{key}", NOW - timedelta(days=days_ago), name, "alice", user, key, status, None
    )


def key(key_id: str, days_old: float) -> dict[str, object]:
    return {"AccessKeyId": key_id, "Status": "Active", "CreateDate": NOW - timedelta(days=days_old)}


def judged(user: UserRead, events: list[KeyEvent]) -> str | None:
    return judge_key(user, user.keys[0], events, ["us-east-1"], None, 90, NOW).state_code


def test_the_seeds_pattern_a_new_key_with_no_ses_use_since_the_old_one_was_removed() -> None:
    user = UserRead("relay", "arn", keys=[key("AKIANEW", 3)], last_used={"AKIANEW": {}})
    events = [event("CreateAccessKey", "AKIANEW", 3), event("DeleteAccessKey", "AKIAOLD", 3)]
    assert judged(user, events) == UNUSED_SINCE_ROTATION


def test_a_key_used_since_with_another_service_is_not_known_to_have_no_ses_use() -> None:
    """GetAccessKeyLastUsed names only the last service: sts an hour ago hides any SES use before it."""
    used = {
        "AKIANEW": {"LastUsedDate": NOW - timedelta(hours=1), "ServiceName": "sts", "Region": "us-east-1"}
    }
    user = UserRead("relay", "arn", keys=[key("AKIANEW", 3)], last_used=used)
    events = [event("CreateAccessKey", "AKIANEW", 3), event("DeleteAccessKey", "AKIAOLD", 3)]
    assert judged(user, events) != UNUSED_SINCE_ROTATION


def test_a_scratch_key_made_and_removed_after_this_one_is_not_one_it_replaced() -> None:
    used = {"AKIA1": {"LastUsedDate": NOW - timedelta(hours=1), "ServiceName": "ses", "Region": "us-east-1"}}
    user = UserRead("relay", "arn", keys=[key("AKIA1", 200)], last_used=used)
    events = [event("CreateAccessKey", "AKIA3", 10), event("DeleteAccessKey", "AKIA3", 9)]
    result = judge_key(user, user.keys[0], events, ["us-east-1"], None, 90, NOW)
    assert result.item.old_keys == [] and result.state_code != UNUSED_SINCE_ROTATION


def test_a_key_whose_last_use_was_not_read_gets_no_code_that_rests_on_it() -> None:
    user = UserRead("relay", "arn", keys=[key("AKIANEW", 3)], last_used={})  # GetAccessKeyLastUsed denied
    events = [event("CreateAccessKey", "AKIANEW", 3), event("DeleteAccessKey", "AKIAOLD", 3)]
    assert judged(user, events) is None
