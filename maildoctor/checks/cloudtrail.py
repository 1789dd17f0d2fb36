"""The history of the SMTP access key in CloudTrail: who deleted, deactivated or replaced it, and when.

CloudTrail records IAM calls in us-east-1 only, keeps them 90 days, and allows two LookupEvents requests
per second, each filtered by one attribute. Event history holds read events too (console views,
scanners: GetUser, ListAccessKeys …), so a lookup by ``ResourceName`` pages through them before it
reaches the rare write events; and ``AccessKeyId`` matches the key that *made* a call, not the key acted
on. So the check looks up each rare write event by ``EventName`` (CreateAccessKey, UpdateAccessKey,
DeleteAccessKey, CreateUser, DeleteUser), pages each to the end of the 90 days within a time bound,
keeps the events of the key and its user (and of a user made to replace it: the SES console rotates by
making a new ``ses-smtp-user.<yyyymmdd-hhmmss>`` user), and reads the users' keys as they are now.
Every LookupEvents call of a walk waits for its slot in the AWS client's pace (2 a second). It never sees SES sends or SMTP
logins: CloudTrail does not record them.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field

from maildoctor.checks import progress
from maildoctor.checks.common import (
    Analysis,
    ago,
    capture,
    dump,
    iso,
    parse_time,
    shell_block,
    stamp,
    utc_now,
)
from maildoctor.checks.iam import NO_SUCH_ENTITY, iam_does_not_hold, key_id_problem, keys_text, list_keys
from maildoctor.checks.registry import Args, CheckContext, CheckResult, Evidence, Facts, Status, check
from maildoctor.clients.aws import GLOBAL_REGION, AwsClient, AwsError

WINDOW = timedelta(days=90)  # CloudTrail's event history
PAGE_SIZE = 50
TIME_BOUND = 40.0  # seconds of paging, within the check's 60 s
KEY_EVENTS = ("CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey")
USER_EVENTS = (*KEY_EVENTS, "DeleteUser")
WRITE_EVENTS = ("CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey", "CreateUser", "DeleteUser")
CONSOLE_USER = re.compile(r"^ses-smtp-user\.\d{8}-\d{6}$")  # what the SES console names its users
# the order of a rotation, for events in the same second
_ORDER = {"CreateUser": -1, "CreateAccessKey": 0, "UpdateAccessKey": 1, "DeleteAccessKey": 2, "DeleteUser": 3}


# ------------------------------------------------------------------------------------------ the model


class KeyHistoryArgs(Args):
    smtp_username: str = Field(description="the SMTP user name: the access key id whose history to read")
    user: str | None = Field(None, description="the key's IAM user (else found from the events or from IAM)")
    bounce_time: str | None = Field(
        None, description="when the bounce came (ISO 8601 or an RFC 5322 date), to place it in the timeline"
    )


class EventFact(Facts):
    time: str | None = Field(None, description="when (ISO 8601 UTC)")
    event: str | None = Field(
        None, description="the IAM call: CreateAccessKey, UpdateAccessKey, DeleteAccessKey …"
    )
    actor: str | None = Field(None, description="who made the call")
    user: str | None = Field(None, description="the IAM user whose key it was")
    key: str | None = Field(None, description="the access key id")
    status: str | None = Field(None, description="the key's new status (Active or Inactive)")
    source_ip: str | None = Field(None, description="where the call came from")
    event_id: str | None = Field(None, description="CloudTrail's event id")


class CreatedKey(Facts):
    key: str | None = Field(None, description="the access key id created")
    time: str | None = Field(None, description="when (ISO 8601 UTC)")
    actor: str | None = Field(None, description="who created it")


class KeyHistoryFacts(Facts):
    key_id: str | None = Field(None, description="the access key id looked up (None when it is not one)")
    user: str | None = Field(None, description="the key's IAM user")
    events: list[EventFact] = Field([], description="the key events of the key and its user, oldest first")
    deleted_at: str | None = Field(None, description="when the key was deleted (ISO 8601 UTC)")
    deleted_by: str | None = Field(None, description="who deleted it")
    deactivated_at: str | None = Field(None, description="when the key was last deactivated (ISO 8601 UTC)")
    deactivated_by: str | None = Field(None, description="who deactivated it")
    created_at: str | None = Field(None, description="when the key was created, if within the window")
    created_by: str | None = Field(None, description="who created it")
    created_keys: list[CreatedKey] = Field([], description="the keys created in the window")
    replacement_key: str | None = Field(None, description="the key created to replace it")
    current_active_key: str | None = Field(None, description="the user's newest active key now")
    key_status_now: str | None = Field(None, description="the key's status now: Active, Inactive or absent")
    user_exists: bool | None = Field(None, description="whether the IAM user still exists")
    timeline: list[str] = Field([], description="the events and the bounce, one line each, oldest first")
    bounce_time: str | None = Field(None, description="when the bounce came (ISO 8601 UTC)")
    bounce_after_change: bool | None = Field(
        None, description="whether the bounce came after the key changed"
    )
    window_days: int = Field(WINDOW.days, description="how many days of history CloudTrail keeps")
    window_start: str | None = Field(None, description="the start of the history read (ISO 8601 UTC)")
    truncated: bool = Field(
        False, description="whether the time bound stopped the reading before the end of the 90 days"
    )
    read_back_to: str | None = Field(
        None,
        description="how far back the history was read (ISO 8601 UTC): the window start unless cut short",
    )
    replacement_user: str | None = Field(
        None,
        description="the IAM user made to replace the key's user (the SES console's ses-smtp-user.<date>)",
    )
    replacement_user_key: str | None = Field(None, description="that user's active key now")
    use_user: str | None = Field(
        None, description="the IAM user whose key the client should use: the replacement user, else the key's"
    )
    use_key: str | None = Field(None, description="the active key of that user to use")
    new_key_hint: str | None = Field(
        None,
        description="how to make a new key if nobody has the secret (never a command against a deleted user)",
    )
    notes: list[str] = Field([], description="what could not be read or was left out")
    eventbridge_pattern: str | None = Field(
        None, description="an EventBridge pattern for the user's key changes"
    )
    eventbridge_region: str = Field(GLOBAL_REGION, description="where that EventBridge rule must be")


# ---------------------------------------------------------------------------------------- CloudTrail


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

    def fact(self) -> EventFact:
        return EventFact(
            time=iso(self.time),
            event=self.name,
            actor=self.actor,
            user=self.user,
            key=self.key,
            status=self.status,
            source_ip=self.source_ip,
            event_id=self.event_id,
        )

    def line(self) -> str:
        """``2026-11-25 13:52 UTC  DeleteAccessKey AKIA… by alice``"""
        if self.name == "DeleteUser" or not self.key:
            what = f"{self.name} {self.user or '?'}"
        else:
            what = f"{self.name} {self.key}"
            if self.name == "UpdateAccessKey" and self.status:
                what += f" → {self.status}"
        return f"{stamp(self.time)}  {what} by {self.actor}"


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
    truncated: bool  # the time bound stopped it before the last page
    kept: int = 0  # how many of its events were about the key or its users


async def lookup(
    aws: AwsClient, name: str, start: datetime, end: datetime, deadline: float, region: str | None = None
) -> Lookup:
    """Every ``name`` event (an EventName) between start and end, in ``region`` (default: where IAM's
    events are, us-east-1), following NextToken to the last page unless the loop's clock passes
    ``deadline`` first."""
    loop = asyncio.get_running_loop()
    events: list[dict[str, Any]] = []
    token: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {
            "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": name}],
            "StartTime": start,
            "EndTime": end,
            "MaxResults": PAGE_SIZE,
        }
        if token:
            params["NextToken"] = token
        if pages and loop.time() >= deadline:
            return Lookup(name, events, pages, True)
        page = await aws.call("cloudtrail", "LookupEvents", region=region or aws.global_region, **params)
        pages += 1
        progress.report(f"CloudTrail {name}: {pages} page{'s' if pages != 1 else ''} read")
        events.extend(page.get("Events", []))
        token = page.get("NextToken")
        if not token:
            return Lookup(name, events, pages, False)


def _lookup_evidence(found: Lookup, kept: set[str], start: datetime, end: datetime) -> Evidence:
    title = f"CloudTrail LookupEvents EventName={found.value} in {GLOBAL_REGION} ({iso(start)} → {iso(end)})"
    head = f"{len(found.events)} event(s) in {found.pages} page(s)"
    if found.truncated:
        head += "; the time bound stopped the paging, older events not read"
    lines = [head]
    left_out = 0
    for item in found.events:
        ev = parse_event(item)
        if ev.event_id not in kept:
            left_out += 1
            continue
        line = f"{iso(ev.time)}  {ev.name}  {ev.user or '?'}  {ev.key or ''}  by {ev.actor}  from {ev.source_ip}  eventId {ev.event_id}"
        try:
            record = json.loads(item.get("CloudTrailEvent") or "{}")
            details = {k: record.get(k) for k in ("requestParameters", "responseElements") if record.get(k)}
            if details:
                line += "\n    " + json.dumps(details, separators=(", ", ": "))
        except ValueError:
            pass
        lines.append(line)
    if left_out:
        lines.append(f"({left_out} event(s) of other keys and users left out)")
    return Evidence(title, "\n".join(lines))


def eventbridge_pattern(user: str | None) -> str:
    """An EventBridge rule pattern (in us-east-1) matching key changes of ``user`` (any user if None)."""
    detail: dict[str, Any] = {"eventSource": ["iam.amazonaws.com"], "eventName": list(KEY_EVENTS)}
    if user:
        detail["requestParameters"] = {"userName": [user]}
    pattern = {"source": ["aws.iam"], "detail-type": ["AWS API Call via CloudTrail"], "detail": detail}
    return _compact_json(pattern)


def _compact_json(value: Any, indent: str = "") -> str:
    """JSON with one member per line but short lists and objects on their line (9 lines, not 30, for
    a pattern an operator reads in a fix and pastes into the console)."""
    flat = json.dumps(value)
    if not isinstance(value, dict) or len(flat) + len(indent) <= 80:
        return flat
    inner = indent + "  "
    members = [f"{inner}{json.dumps(k)}: {_compact_json(v, inner)}" for k, v in value.items()]
    return "{\n" + ",\n".join(members) + f"\n{indent}}}"


# ------------------------------------------------------------------------------------------ the check


@dataclass
class KeyHistoryAnalysis(Analysis[KeyHistoryFacts]):
    bounce: datetime | None = None
    events: list[KeyEvent] = field(default_factory=list)  # of the key and its user, oldest first
    keys: list[dict[str, Any]] | None = None  # the user's keys now, newest first; None if not read
    this_now: dict[str, Any] | None = None  # the key among them
    created: KeyEvent | None = None
    deleted: KeyEvent | None = None
    deactivated: KeyEvent | None = None
    still_inactive: bool = False
    replacement: KeyEvent | None = None
    read: list[KeyEvent] = field(default_factory=list)  # every write event read, of any key and user
    lookups: list[Lookup] = field(default_factory=list)
    deadline: float = 0.0  # the event loop's clock when the paging must stop


async def _owner(aws: AwsClient, key_id: str, notes: list[str]) -> tuple[str | None, bool, Evidence]:
    """(the IAM user that owns ``key_id`` now or None, whether IAM says the key does not exist, evidence)."""
    title = f"IAM GetAccessKeyLastUsed AccessKeyId={key_id}"
    try:
        found = await aws.call("iam", "GetAccessKeyLastUsed", region=aws.global_region, AccessKeyId=key_id)
    except AwsError as err:
        if iam_does_not_hold(err, key_id):  # NoSuchEntity (moto), or AccessDenied on the key (AWS)
            notes.append(
                f"{key_id} does not exist in IAM now, and CloudTrail's 90 days do not say whose it was"
            )
            return None, True, Evidence(title, f"{err.code}: {err.message}")
        notes.append(f"the key's user was not found: {err}")
        return None, False, Evidence(title, f"failed: {err}")
    user = found.get("UserName")
    return (str(user) if user else None), False, Evidence(title, dump(found))


def _bounce_time(a: KeyHistoryAnalysis, text: str | None) -> None:
    a.bounce = parse_time(text) if text else None
    if text and a.bounce is None:
        a.facts.notes.append(
            f"bounce_time {text!r} is not a time I can read (ISO 8601 or an RFC 5322 date): left out"
        )
    a.facts.bounce_time = iso(a.bounce)


def _lookup_failed(a: KeyHistoryAnalysis, value: str | None, err: AwsError) -> bool:
    a.evidence.append(Evidence(f"CloudTrail LookupEvents EventName={value} in {GLOBAL_REGION}", str(err)))
    a.could_not_check(err)
    return False


async def _find_user(
    a: KeyHistoryAnalysis, aws: AwsClient, key_id: str, key_events: list[KeyEvent]
) -> list[Evidence]:
    """The key's user, named by its events or else by IAM; the evidence of asking IAM."""
    named = Counter(e.user for e in key_events if e.user)
    user = named.most_common(1)[0][0] if named else None
    evidence = []
    if user is None:  # no key events: ask IAM whose key it is
        user, gone, seen = await _owner(aws, key_id, a.facts.notes)
        evidence.append(seen)
        if gone:
            a.facts.key_status_now = "absent"
    a.facts.user = user
    a.facts.eventbridge_pattern = eventbridge_pattern(user)
    return evidence


def _read_so_far(a: KeyHistoryAnalysis, lookups: list[Lookup], start: datetime) -> None:
    """Whether the time bound cut the history short, and how far back it was read."""
    f = a.facts
    cut = [found for found in lookups if found.truncated]
    f.truncated = bool(cut)
    if not cut:
        f.read_back_to = iso(start)
        return
    oldest = [min(e.time for e in map(parse_event, found.events)) for found in cut if found.events]
    back_to = max(oldest) if oldest else utc_now()
    f.read_back_to = iso(back_to)
    names = ", ".join(found.value for found in cut)
    f.notes.append(
        f"the time bound ({TIME_BOUND:.0f} s) cut the history short: {names} events read back to "
        f"{stamp(back_to)} only, not to the end of the 90 days"
    )


async def _look_up(
    a: KeyHistoryAnalysis, aws: AwsClient, names: tuple[str, ...], start: datetime, end: datetime
) -> bool:
    """The write events ``names``, each looked up by EventName (concurrently, on the client's one
    limiter), added to what was read; False (could not check) when a lookup failed."""
    found = await asyncio.gather(*(capture(lookup(aws, name, start, end, a.deadline)) for name in names))
    for name, got in zip(names, found, strict=True):
        if isinstance(got, AwsError):
            return _lookup_failed(a, name, got)
        a.lookups.append(got)
        a.read += map(parse_event, got.events)
    return True


def _keep_mine(a: KeyHistoryAnalysis, key_id: str, start: datetime, end: datetime) -> None:
    """The events of the key and its user kept, the lookups as evidence, how far back they read."""
    user = a.facts.user
    mine = [e for e in a.read if e.key == key_id or (user is not None and e.user == user)]
    _keep(a, mine)
    kept = {e.event_id for e in a.events}
    a.evidence[:0] = [_lookup_evidence(got, kept, start, end) for got in a.lookups]
    _read_so_far(a, a.lookups, start)


def _keep(a: KeyHistoryAnalysis, events: list[KeyEvent]) -> None:
    """``events`` added to the analysis' events: once each, oldest first."""
    merged = {e.event_id: e for e in [*a.events, *events]}
    a.events = sorted(merged.values(), key=lambda e: (e.time, _ORDER.get(e.name, 9)))
    a.facts.events = [e.fact() for e in a.events]


async def _read_keys(a: KeyHistoryAnalysis, aws: AwsClient, key_id: str) -> None:
    """The user's keys as they are now (when the user is known)."""
    f = a.facts
    if not f.user:
        return
    title = f"IAM ListAccessKeys UserName={f.user}"
    try:
        keys = await list_keys(aws, f.user)
    except AwsError as err:
        a.evidence.append(Evidence(title, f"{err.code}: {err.message}"))
        if err.code not in NO_SUCH_ENTITY:
            f.notes.append(f"the user's current keys were not read: {err}")
            return
        f.user_exists = False
        f.notes.append(f"the IAM user {f.user} no longer exists either")
        keys = []
    else:
        f.user_exists = True
        a.evidence.append(Evidence(title, keys_text(keys)))
    a.keys = keys
    f.current_active_key = next((str(k["AccessKeyId"]) for k in keys if k.get("Status") == "Active"), None)
    a.this_now = next((k for k in keys if k.get("AccessKeyId") == key_id), None)
    f.key_status_now = str(a.this_now.get("Status")) if a.this_now else "absent"


async def _replacement_user(a: KeyHistoryAnalysis, aws: AwsClient) -> None:
    """A console rotation: the key's user is gone (or has no active key) and the SES console made a new
    ``ses-smtp-user.<yyyymmdd-hhmmss>`` user since; that user and its active key, newest such user first."""
    f = a.facts
    made = [e for e in a.read if e.name == "CreateUser" and e.user and e.user != f.user]
    made = sorted((e for e in made if CONSOLE_USER.match(e.user or "")), key=lambda e: e.time, reverse=True)
    for created in made[:3]:
        name = str(created.user)
        title = f"IAM ListAccessKeys UserName={name}"
        try:
            keys = await list_keys(aws, name)
        except AwsError as err:
            a.evidence.append(Evidence(title, f"{err.code}: {err.message}"))
            if err.code not in NO_SUCH_ENTITY:
                f.notes.append(f"the keys of {name}, made by the SES console since, were not read: {err}")
                return
            continue
        a.evidence.append(Evidence(title, keys_text(keys)))
        active = next((str(k["AccessKeyId"]) for k in keys if k.get("Status") == "Active"), None)
        f.replacement_user, f.replacement_user_key = name, active
        _keep(a, [e for e in a.read if e.user == name and e.name in ("CreateUser", "CreateAccessKey")])
        if active:
            a.replacement = next(
                (e for e in a.read if e.name == "CreateAccessKey" and e.key == active), a.replacement
            )
            f.replacement_key = active
        return


def _what_to_use(a: KeyHistoryAnalysis) -> None:
    """The user and key the client should move to, and how to make a new key (never for a deleted user)."""
    f = a.facts
    if f.replacement_user:
        f.use_user, f.use_key = f.replacement_user, f.replacement_user_key
    elif f.user and f.user_exists:
        f.use_user, f.use_key = f.user, f.current_active_key
    if f.use_user:
        f.eventbridge_pattern = eventbridge_pattern(f.use_user)
        f.new_key_hint = (
            f"one for IAM user `{f.use_user}` (then delete the unused key):\n\n"
            f"{shell_block(f'aws iam create-access-key --user-name {f.use_user}')}"
        )
    elif f.user and f.user_exists is False:
        f.new_key_hint = (
            f"the IAM user `{f.user}` no longer exists, so make new SMTP credentials in the SES console "
            "(SMTP settings → Create SMTP credentials): it makes a new IAM user with a key and shows the "
            "SMTP password once."
        )
    else:
        f.new_key_hint = (
            "find the IAM user the SMTP credentials were made for (the SES console names its users "
            "`ses-smtp-user.<date>`) and make it one (put the user's name for USER):\n\n"
            + shell_block(
                'aws iam list-users --query "Users[].UserName"', "aws iam create-access-key --user-name USER"
            )
        )


def _what_happened(a: KeyHistoryAnalysis, key_id: str) -> None:
    """The key's creation, deletion, deactivation and replacement among the events."""
    mine = [e for e in a.events if e.key == key_id]
    a.created = next((e for e in reversed(mine) if e.name == "CreateAccessKey"), None)
    a.deleted = next((e for e in reversed(mine) if e.name == "DeleteAccessKey"), None)
    updates = [e for e in mine if e.name == "UpdateAccessKey"]
    a.deactivated = next((e for e in reversed(updates) if e.status == "Inactive"), None)
    a.still_inactive = bool(updates) and updates[-1].status == "Inactive"
    created_at: datetime | None = a.created.time if a.created else None
    if created_at is None and a.this_now is not None and isinstance(a.this_now.get("CreateDate"), datetime):
        created_at = a.this_now["CreateDate"]
    creates = [e for e in a.events if e.name == "CreateAccessKey" and e.key]
    later = [e for e in creates if e.key != key_id and (created_at is None or e.time >= created_at)]
    active_now = {str(k.get("AccessKeyId")) for k in a.keys or [] if k.get("Status") == "Active"}
    a.replacement = next((e for e in reversed(later) if e.key in active_now), None) or (
        later[-1] if later else None
    )
    f = a.facts
    f.created_keys = [CreatedKey(key=e.key, time=iso(e.time), actor=e.actor) for e in creates]
    f.created_at, f.created_by = (iso(a.created.time), a.created.actor) if a.created else (None, None)
    f.deleted_at, f.deleted_by = (iso(a.deleted.time), a.deleted.actor) if a.deleted else (None, None)
    f.deactivated_at, f.deactivated_by = (
        (iso(a.deactivated.time), a.deactivated.actor) if a.deactivated else (None, None)
    )
    f.replacement_key = a.replacement.key if a.replacement else None
    if f.replacement_user_key:
        f.replacement_key = f.replacement_user_key
        a.replacement = next(
            (e for e in a.read if e.name == "CreateAccessKey" and e.key == f.replacement_user_key),
            a.replacement,
        )


def _timeline(a: KeyHistoryAnalysis) -> None:
    """The events, with the bounce in its place; whether the bounce came after the key changed."""
    rows: list[tuple[datetime, int, str]] = [(e.time, 0, e.line()) for e in a.events]
    if a.bounce is not None:
        rows.append((a.bounce, 1, f"{stamp(a.bounce)}  ← bounce received"))
    rows.sort(key=lambda row: (row[0], row[1]))
    a.facts.timeline = [line for _, _, line in rows]
    change = a.deleted or (a.deactivated if a.still_inactive else None)
    if a.bounce is not None and change is not None:
        a.facts.bounce_after_change = a.bounce >= change.time


def _now_line(a: KeyHistoryAnalysis) -> str:
    """'; <the user's key now>' for a summary, or ''."""
    user, who = a.facts.user, a.facts.user or "the key's user"
    new_user, new_key = a.facts.replacement_user, a.facts.replacement_user_key
    if new_user:
        gone = "no longer exists" if a.facts.user_exists is False else "has no active key"
        has = f"whose active key is {new_key}" if new_key else "which has no active key"
        now_line = f"{user} {gone}: the SES console made {new_user} to replace it, {has}"
    elif a.keys is not None and a.facts.user_exists is False:
        now_line = f"the user {user} no longer exists either"
    elif a.keys is not None:
        cak = a.facts.current_active_key
        now_line = f"{who}'s active key is now {cak}" if cak else f"{who} has no active key now"
    else:
        now_line = f"the replacement is {a.replacement.key}" if a.replacement else ""
    return f"; {now_line}" if now_line else ""


def _rotated(a: KeyHistoryAnalysis, key_id: str, change: KeyEvent | None) -> KeyHistoryAnalysis:
    """The verdict when the key was deleted, deactivated (``change``) or replaced."""
    if change is not None:
        what = "deleted" if change is a.deleted else "deactivated"
        summary = (
            f"{key_id} was {what} {ago(change.time)} by {change.actor} ({stamp(change.time)}){_now_line(a)}"
        )
        return a.conclude("rotated", "fail", summary)
    new = a.replacement
    assert new is not None
    who = a.facts.user or "the key's user"
    summary = f"a new key {new.key} was created for {who} {ago(new.time)} by {new.actor} ({stamp(new.time)})"
    status_now = a.facts.key_status_now
    status: Status = "fail"
    if status_now == "Active":
        summary += f"; {key_id} is still active: a rotation under way, move the client to the new key"
        status = "warn"
    elif status_now == "Inactive":
        summary += f"; {key_id} is inactive"
    elif status_now == "absent":
        summary += f"; {key_id} is gone (deleted more than 90 days ago or unrecorded)"
    return a.conclude("rotated", status, summary)


def _quiet(a: KeyHistoryAnalysis, key_id: str) -> KeyHistoryAnalysis:
    """The verdict when the key was not rotated in the window."""
    user, status_now = a.facts.user, a.facts.key_status_now
    if not a.events:
        summary = f"no changes to {key_id}" + (f" or to {user}'s keys" if user else "")
        summary += " in CloudTrail's last 90 days (it keeps no more: older rotations are invisible)"
        if status_now == "absent" and user:
            summary += f"; {key_id} is not among {user}'s keys, so it went more than 90 days ago"
        elif status_now == "absent":
            summary += f"; IAM does not know {key_id}: deleted more than 90 days ago, or from another account"
        elif user is None:
            summary += "; its user is unknown (give `user` to look at the user's other keys)"
        return a.conclude("quiet", "info", summary)
    if a.created is not None:
        summary = (
            f"no rotation: {key_id} was created {ago(a.created.time)} by {a.created.actor} "
            f"({stamp(a.created.time)}) and has not been deleted, deactivated or replaced since"
        )
    else:
        who = user or "the key's user"
        summary = (
            f"no rotation of {key_id} in CloudTrail's last 90 days ({len(a.events)} key event(s) of {who})"
        )
    return a.conclude("quiet", "pass", summary)


async def analyze_key_history(
    aws: AwsClient, key_id: str, user: str | None, bounce_time: str | None
) -> KeyHistoryAnalysis:
    """CloudTrail's key events for ``key_id`` (and its user), the user's keys now, and what happened."""
    a = KeyHistoryAnalysis(
        KeyHistoryFacts(key_id=key_id, user=user, eventbridge_pattern=eventbridge_pattern(user))
    )
    problem = key_id_problem(key_id)
    if problem is not None or key_id.startswith("ASIA"):
        a.facts.key_id = None
        why = (
            f"it looks like {problem}"
            if problem
            else "temporary (STS) keys are not created or rotated in IAM"
        )
        return a.conclude("skipped", "skipped", f"no key history to look up for the SMTP user name: {why}")
    _bounce_time(a, bounce_time)
    end = utc_now()
    start = end - WINDOW
    a.facts.window_start = iso(start)
    a.deadline = asyncio.get_running_loop().time() + TIME_BOUND
    if not await _look_up(a, aws, KEY_EVENTS, start, end):
        return a
    if not a.facts.user:
        a.evidence += await _find_user(a, aws, key_id, [e for e in a.read if e.key == key_id])
    await _read_keys(a, aws, key_id)
    f = a.facts
    if f.user and (f.user_exists is False or (a.keys is not None and not f.current_active_key)):
        # gone or keyless: replaced by a user the SES console made? (a console rotation)
        if not await _look_up(a, aws, ("CreateUser", "DeleteUser"), start, end):
            return a
        await _replacement_user(a, aws)
    _keep_mine(a, key_id, start, end)
    _what_happened(a, key_id)
    _what_to_use(a)
    _timeline(a)
    change = a.deleted or (a.deactivated if a.still_inactive else None)
    if change is not None or a.replacement is not None:
        _rotated(a, key_id, change)
    else:
        _quiet(a, key_id)
    if a.facts.truncated and a.facts.read_back_to:
        back_to = parse_time(a.facts.read_back_to) or end
        a.summary += f" (history read back to {stamp(back_to)} only: the time bound cut it short)"
    return a


@check(
    "cloudtrail.key_history",
    outcomes={"rotated", "quiet", "skipped"},
    args=KeyHistoryArgs,
    facts=KeyHistoryFacts,
    iam_actions=("cloudtrail:LookupEvents", "iam:ListAccessKeys", "iam:GetAccessKeyLastUsed"),
    timeout=60.0,
)
async def key_history_check(ctx: CheckContext[KeyHistoryArgs]) -> CheckResult:
    """CloudTrail's last 90 days for the SMTP access key: deleted, deactivated or replaced, by whom and when."""
    args = ctx.args
    return (
        await analyze_key_history(ctx.clients.aws, args.smtp_username, args.user, args.bounce_time)
    ).result()
