"""The history of the SMTP access key in CloudTrail: who deleted, deactivated or replaced it, and when.

CloudTrail records IAM calls in us-east-1 only, keeps them 90 days, and allows two LookupEvents requests
per second, each filtered by one attribute. So the check looks up the key (``ResourceName=<key id>``)
and its user (``ResourceName=<user>``, key events only), merges the two, and reads the user's keys as
they are now. It never sees SES sends or SMTP logins: CloudTrail does not record them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from maildoctor.checks.iam import (
    ago,
    arg,
    capture,
    dump,
    iso,
    key_id_problem,
    keys_text,
    newest_first,
    utc_now,
)
from maildoctor.checks.registry import CheckContext, CheckResult, Evidence, Status, check
from maildoctor.clients.aws import GLOBAL_REGION, AwsClient, AwsError

WINDOW = timedelta(days=90)  # CloudTrail's event history
MAX_PAGES = 5  # per lookup: 250 events
PAGE_SIZE = 50
REQUESTS_PER_SECOND = 2  # LookupEvents' limit, per account and region
KEY_EVENTS = ("CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey")
USER_EVENTS = (*KEY_EVENTS, "DeleteUser")
# the order of a rotation, for events in the same second
_ORDER = {"CreateAccessKey": 0, "UpdateAccessKey": 1, "DeleteAccessKey": 2, "DeleteUser": 3}


class RateLimit:
    """At most ``rate`` requests in any ``per`` seconds, across every task that shares it."""

    def __init__(self, rate: int = REQUESTS_PER_SECOND, per: float = 1.0) -> None:
        self.per = per
        self._sent: deque[float] = deque(maxlen=rate)
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            loop = asyncio.get_running_loop()
            if len(self._sent) == self._sent.maxlen:
                delay = self._sent[0] + self.per - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            self._sent.append(loop.time())


@dataclass(frozen=True)
class KeyEvent:
    """One IAM key event, read from its CloudTrail record."""

    event_id: str
    time: datetime
    name: str
    actor: str
    user: str | None
    key: str | None
    status: str | None
    source_ip: str | None

    def fact(self) -> dict[str, Any]:
        return {
            "time": iso(self.time),
            "event": self.name,
            "actor": self.actor,
            "user": self.user,
            "key": self.key,
            "status": self.status,
            "source_ip": self.source_ip,
            "event_id": self.event_id,
        }

    def line(self) -> str:
        """``2026-11-25 13:52 UTC  DeleteAccessKey AKIA… by alice``"""
        if self.name == "DeleteUser" or not self.key:
            what = f"{self.name} {self.user or '?'}"
        else:
            what = f"{self.name} {self.key}"
            if self.name == "UpdateAccessKey" and self.status:
                what += f" → {self.status}"
        return f"{stamp(self.time)}  {what} by {self.actor}"


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def parse_time(text: str) -> datetime | None:
    """An ISO 8601 time (``2026-11-26T09:00:00Z``) or an RFC 5322 date (a bounce's Date header); UTC if
    no zone is given; None if neither."""
    text = text.strip()
    if not text:
        return None
    parsed: datetime | None = None
    with contextlib.suppress(ValueError):
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" UTC", "+00:00"))
    if parsed is None:
        with contextlib.suppress(ValueError, TypeError, IndexError):
            parsed = parsedate_to_datetime(text)
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _actor(identity: dict[str, Any], fallback: str | None) -> str:
    """Who made the call: an IAM user's name, an assumed-role session's ARN, root, or a service."""
    kind = identity.get("type")
    if kind == "IAMUser" and identity.get("userName"):
        return str(identity["userName"])
    if kind == "Root":
        return "root"
    if kind == "AWSService":
        return str(identity.get("invokedBy") or "an AWS service")
    return str(identity.get("arn") or identity.get("principalId") or fallback or "unknown")


def _resource(item: dict[str, Any], rtype: str) -> str | None:
    for resource in item.get("Resources") or []:
        if resource.get("ResourceType") == rtype and resource.get("ResourceName"):
            return str(resource["ResourceName"])
    return None


def parse_event(item: dict[str, Any]) -> KeyEvent:
    """A LookupEvents entry, with its ``CloudTrailEvent`` JSON read for the key, user, status and actor."""
    try:
        record = json.loads(item.get("CloudTrailEvent") or "{}")
    except ValueError:
        record = {}
    if not isinstance(record, dict):
        record = {}
    name = str(item.get("EventName") or record.get("eventName") or "")
    request = record.get("requestParameters") or {}
    response = record.get("responseElements") or {}
    created = (response.get("accessKey") or {}) if name == "CreateAccessKey" else {}
    identity = record.get("userIdentity") or {}
    when = item.get("EventTime")
    if not isinstance(when, datetime):
        when = parse_time(str(record.get("eventTime") or "")) or datetime.fromtimestamp(0, UTC)
    user = request.get("userName") or created.get("userName") or _resource(item, "AWS::IAM::User")
    if not user and identity.get("type") == "IAMUser":  # a user acting on their own keys names no user
        user = identity.get("userName")
    status = request.get("status") if name == "UpdateAccessKey" else None
    if name == "CreateAccessKey":
        status = created.get("status") or "Active"
    return KeyEvent(
        event_id=str(item.get("EventId") or record.get("eventID") or ""),
        time=when if when.tzinfo else when.replace(tzinfo=UTC),
        name=name,
        actor=_actor(identity, item.get("Username")),
        user=str(user) if user else None,
        key=created.get("accessKeyId")
        or request.get("accessKeyId")
        or _resource(item, "AWS::IAM::AccessKey"),
        status=status,
        source_ip=record.get("sourceIPAddress"),
    )


@dataclass
class Lookup:
    """What one LookupEvents query (with its pages) returned."""

    value: str
    events: list[dict[str, Any]]
    pages: int
    truncated: bool


async def lookup(aws: AwsClient, limiter: RateLimit, value: str, start: datetime, end: datetime) -> Lookup:
    """Every event whose resource is ``value`` between start and end, following NextToken (at most
    MAX_PAGES pages), in us-east-1."""
    events: list[dict[str, Any]] = []
    token: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {
            "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": value}],
            "StartTime": start,
            "EndTime": end,
            "MaxResults": PAGE_SIZE,
        }
        if token:
            params["NextToken"] = token
        await limiter.wait()
        page = await aws.call("cloudtrail", "LookupEvents", region=GLOBAL_REGION, **params)
        pages += 1
        events.extend(page.get("Events", []))
        token = page.get("NextToken")
        if not token:
            return Lookup(value, events, pages, False)
        if pages >= MAX_PAGES:
            return Lookup(value, events, pages, True)


def _lookup_evidence(found: Lookup, kept: set[str], start: datetime, end: datetime) -> Evidence:
    title = (
        f"CloudTrail LookupEvents ResourceName={found.value} in {GLOBAL_REGION} ({iso(start)} → {iso(end)})"
    )
    head = f"{len(found.events)} event(s) in {found.pages} page(s)"
    if found.truncated:
        head += f"; stopped after {MAX_PAGES} pages, older events not read"
    lines = [head]
    for item in found.events:
        ev = parse_event(item)
        line = f"{iso(ev.time)}  {ev.name}  by {ev.actor}  from {ev.source_ip}  eventId {ev.event_id}"
        if ev.event_id not in kept:
            line += "  (not a key event: left out)"
        else:
            try:
                record = json.loads(item.get("CloudTrailEvent") or "{}")
                details = {
                    k: record.get(k) for k in ("requestParameters", "responseElements") if record.get(k)
                }
                if details:
                    line += "\n    " + json.dumps(details, separators=(", ", ": "))
            except ValueError:
                pass
        lines.append(line)
    return Evidence(title, "\n".join(lines))


def eventbridge_pattern(user: str | None) -> str:
    """An EventBridge rule pattern (in us-east-1) matching key changes of ``user`` (any user if None)."""
    detail: dict[str, Any] = {"eventSource": ["iam.amazonaws.com"], "eventName": list(KEY_EVENTS)}
    if user:
        detail["requestParameters"] = {"userName": [user]}
    pattern = {"source": ["aws.iam"], "detail-type": ["AWS API Call via CloudTrail"], "detail": detail}
    return json.dumps(pattern, indent=2)


def _empty_facts(key_id: str | None, user: str | None) -> dict[str, Any]:
    return {
        "key_id": key_id,
        "user": user,
        "events": [],
        "deleted_at": None,
        "deleted_by": None,
        "deactivated_at": None,
        "deactivated_by": None,
        "created_at": None,
        "created_by": None,
        "created_keys": [],
        "replacement_key": None,
        "current_active_key": None,
        "key_status_now": None,
        "user_exists": None,
        "timeline": [],
        "bounce_time": None,
        "bounce_after_change": None,
        "window_days": WINDOW.days,
        "window_start": None,
        "truncated": False,
        "notes": [],
        "eventbridge_pattern": eventbridge_pattern(user),
        "eventbridge_region": GLOBAL_REGION,
    }


def _newest_active(keys: list[dict[str, Any]]) -> str | None:
    return next((str(k["AccessKeyId"]) for k in newest_first(keys) if k.get("Status") == "Active"), None)


async def _owner(aws: AwsClient, key_id: str, notes: list[str]) -> tuple[str | None, bool, Evidence]:
    """(the IAM user that owns ``key_id`` now or None, whether IAM says the key does not exist, evidence)."""
    title = f"IAM GetAccessKeyLastUsed AccessKeyId={key_id}"
    try:
        found = await aws.call("iam", "GetAccessKeyLastUsed", region=GLOBAL_REGION, AccessKeyId=key_id)
    except AwsError as err:
        if err.code in ("NoSuchEntity", "NoSuchEntityException"):
            notes.append(
                f"{key_id} does not exist in IAM now, and CloudTrail's 90 days do not say whose it was"
            )
            return None, True, Evidence(title, f"{err.code}: {err.message}")
        notes.append(f"the key's user was not found: {err}")
        return None, False, Evidence(title, f"failed: {err}")
    user = found.get("UserName")
    return (str(user) if user else None), False, Evidence(title, dump(found))


@check(
    "cloudtrail.key_history",
    outcomes={"rotated", "quiet", "skipped"},
    args={"user", "bounce_time"},
    required_args={"smtp_username"},
    iam_actions=("cloudtrail:LookupEvents", "iam:ListAccessKeys", "iam:GetAccessKeyLastUsed"),
    timeout=60.0,
)
async def key_history_check(ctx: CheckContext) -> CheckResult:
    """CloudTrail's last 90 days for the SMTP access key: deleted, deactivated or replaced, by whom and when."""
    key_id = arg(ctx, "smtp_username")
    user_arg = arg(ctx, "user") or None
    if not key_id:
        return CheckResult(
            "skipped",
            "skipped",
            "no SMTP user name given: no key history to look up",
            _empty_facts(None, user_arg),
        )
    problem = key_id_problem(key_id)
    if problem is not None or key_id.startswith("ASIA"):
        why = (
            f"it looks like {problem}"
            if problem
            else "temporary (STS) keys are not created or rotated in IAM"
        )
        return CheckResult(
            "skipped",
            "skipped",
            f"no key history to look up for the SMTP user name: {why}",
            _empty_facts(None, user_arg),
        )
    facts = _empty_facts(key_id, user_arg)
    notes: list[str] = facts["notes"]
    bounce_text = arg(ctx, "bounce_time")
    bounce = parse_time(bounce_text) if bounce_text else None
    if bounce_text and bounce is None:
        notes.append(
            f"bounce_time {bounce_text!r} is not a time I can read (ISO 8601 or an RFC 5322 date): left out"
        )
    facts["bounce_time"] = iso(bounce)

    aws = ctx.clients.aws
    limiter = RateLimit()
    end = utc_now()
    start = end - WINDOW
    facts["window_start"] = iso(start)
    evidence: list[Evidence] = []

    # 1. events about the key, and (at the same time, when the user is known) about the user
    key_task = capture(lookup(aws, limiter, key_id, start, end))
    if user_arg:
        by_key, by_user = await asyncio.gather(key_task, capture(lookup(aws, limiter, user_arg, start, end)))
    else:
        by_key, by_user = await key_task, None
    if isinstance(by_key, AwsError):
        evidence.append(
            Evidence(f"CloudTrail LookupEvents ResourceName={key_id} in {GLOBAL_REGION}", str(by_key))
        )
        return CheckResult("error", "error", f"could not check: {by_key}", facts, evidence)
    key_events = [e for e in map(parse_event, by_key.events) if e.name in KEY_EVENTS]
    owner_evidence: list[Evidence] = []
    user = user_arg
    if user is None:
        named = Counter(e.user for e in key_events if e.user)
        user = named.most_common(1)[0][0] if named else None
        if user is None:  # no key events: ask IAM whose key it is
            user, gone, seen = await _owner(aws, key_id, notes)
            owner_evidence.append(seen)
            if gone:
                facts["key_status_now"] = "absent"
        facts["user"] = user
        facts["eventbridge_pattern"] = eventbridge_pattern(user)
        if user:
            by_user = await capture(lookup(aws, limiter, user, start, end))
    if isinstance(by_user, AwsError):
        evidence.append(
            Evidence(f"CloudTrail LookupEvents ResourceName={user} in {GLOBAL_REGION}", str(by_user))
        )
        return CheckResult("error", "error", f"could not check: {by_user}", facts, evidence)
    user_events = [e for e in map(parse_event, by_user.events) if e.name in USER_EVENTS] if by_user else []

    merged = {e.event_id: e for e in [*key_events, *user_events]}
    events = sorted(merged.values(), key=lambda e: (e.time, _ORDER.get(e.name, 9)))
    evidence.append(_lookup_evidence(by_key, set(merged), start, end))
    if by_user is not None:
        evidence.append(_lookup_evidence(by_user, set(merged), start, end))
    evidence.extend(owner_evidence)
    truncated = by_key.truncated or bool(by_user and by_user.truncated)
    facts["truncated"] = truncated
    if truncated:
        notes.append(f"more than {MAX_PAGES * PAGE_SIZE} events: only the newest were read")
    facts["events"] = [e.fact() for e in events]

    # 2. the user's keys as they are now
    keys: list[dict[str, Any]] | None = None
    if user:
        title = f"IAM ListAccessKeys UserName={user}"
        try:
            listed = await aws.call("iam", "ListAccessKeys", region=GLOBAL_REGION, UserName=user)
        except AwsError as err:
            evidence.append(Evidence(title, f"{err.code}: {err.message}"))
            if err.code in ("NoSuchEntity", "NoSuchEntityException"):
                facts["user_exists"] = False
                notes.append(f"the IAM user {user} no longer exists either")
                keys = []
            else:
                notes.append(f"the user's current keys were not read: {err}")
        else:
            keys = newest_first(listed.get("AccessKeyMetadata", []))
            facts["user_exists"] = True
            evidence.append(Evidence(title, keys_text(keys)))
    if keys is not None:
        facts["current_active_key"] = _newest_active(keys)
        this_now = next((k for k in keys if k.get("AccessKeyId") == key_id), None)
        facts["key_status_now"] = str(this_now.get("Status")) if this_now else "absent"
    else:
        this_now = None

    # 3. what happened to the key
    mine = [e for e in events if e.key == key_id]
    created = next((e for e in reversed(mine) if e.name == "CreateAccessKey"), None)
    deleted = next((e for e in reversed(mine) if e.name == "DeleteAccessKey"), None)
    updates = [e for e in mine if e.name == "UpdateAccessKey"]
    deactivated = next((e for e in reversed(updates) if e.status == "Inactive"), None)
    still_inactive = bool(updates) and updates[-1].status == "Inactive"
    created_at: datetime | None = created.time if created else None
    if created_at is None and this_now is not None and isinstance(this_now.get("CreateDate"), datetime):
        created_at = this_now["CreateDate"]
    creates = [e for e in events if e.name == "CreateAccessKey" and e.key]
    facts["created_keys"] = [{"key": e.key, "time": iso(e.time), "actor": e.actor} for e in creates]
    later = [e for e in creates if e.key != key_id and (created_at is None or e.time >= created_at)]
    active_now = {str(k.get("AccessKeyId")) for k in keys or [] if k.get("Status") == "Active"}
    replacement = next((e for e in reversed(later) if e.key in active_now), None) or (
        later[-1] if later else None
    )
    facts.update(
        created_at=iso(created.time) if created else None,
        created_by=created.actor if created else None,
        deleted_at=iso(deleted.time) if deleted else None,
        deleted_by=deleted.actor if deleted else None,
        deactivated_at=iso(deactivated.time) if deactivated else None,
        deactivated_by=deactivated.actor if deactivated else None,
        replacement_key=replacement.key if replacement else None,
    )

    # 4. the timeline, with the bounce in its place
    rows: list[tuple[datetime, int, str]] = [(e.time, 0, e.line()) for e in events]
    if bounce is not None:
        rows.append((bounce, 1, f"{stamp(bounce)}  ← bounce received"))
    rows.sort(key=lambda row: (row[0], row[1]))
    facts["timeline"] = [line for _, _, line in rows]
    change = deleted or (deactivated if still_inactive else None)
    if bounce is not None and change is not None:
        facts["bounce_after_change"] = bounce >= change.time

    # 5. the verdict
    who = user or "the key's user"
    if keys is not None and facts["user_exists"] is False:
        now_line = f"the user {user} no longer exists either"
    elif keys is not None:
        cak = facts["current_active_key"]
        now_line = f"{who}'s active key is now {cak}" if cak else f"{who} has no active key now"
    else:
        now_line = f"the replacement is {replacement.key}" if replacement else ""
    tail = f"; {now_line}" if now_line else ""
    if deleted is not None:
        summary = f"{key_id} was deleted {ago(deleted.time)} by {deleted.actor} ({stamp(deleted.time)}){tail}"
        return CheckResult("rotated", "fail", summary, facts, evidence)
    if deactivated is not None and still_inactive:
        summary = (
            f"{key_id} was deactivated {ago(deactivated.time)} by {deactivated.actor} "
            f"({stamp(deactivated.time)}){tail}"
        )
        return CheckResult("rotated", "fail", summary, facts, evidence)
    if replacement is not None:
        summary = (
            f"a new key {replacement.key} was created for {who} {ago(replacement.time)} by {replacement.actor} "
            f"({stamp(replacement.time)})"
        )
        status_now = facts["key_status_now"]
        status: Status = "fail"
        if status_now == "Active":
            summary += f"; {key_id} is still active: a rotation under way, move the client to the new key"
            status = "warn"
        elif status_now == "Inactive":
            summary += f"; {key_id} is inactive"
        elif status_now == "absent":
            summary += f"; {key_id} is gone (deleted more than 90 days ago or unrecorded)"
        return CheckResult("rotated", status, summary, facts, evidence)

    if not events:
        summary = f"no changes to {key_id}" + (f" or to {user}'s keys" if user else "")
        summary += " in CloudTrail's last 90 days (it keeps no more: older rotations are invisible)"
        if facts["key_status_now"] == "absent" and user:
            summary += f"; {key_id} is not among {user}'s keys, so it went more than 90 days ago"
        elif facts["key_status_now"] == "absent":
            summary += f"; IAM does not know {key_id}: deleted more than 90 days ago, or from another account"
        elif user is None:
            summary += "; its user is unknown (give `user` to look at the user's other keys)"
        return CheckResult("quiet", "info", summary, facts, evidence)
    if created is not None:
        summary = (
            f"no rotation: {key_id} was created {ago(created.time)} by {created.actor} "
            f"({stamp(created.time)}) and has not been deleted, deactivated or replaced since"
        )
    else:
        summary = (
            f"no rotation of {key_id} in CloudTrail's last 90 days ({len(events)} key event(s) of {who})"
        )
    return CheckResult("quiet", "pass", summary, facts, evidence)
