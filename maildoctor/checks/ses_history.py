"""Who paused SES sending for the account: the pause as CloudTrail recorded it.

An account whose ``SendingEnabled`` is false while its enforcement status is HEALTHY paused itself:
someone (a person, or automation such as a bounce-rate guard) called SES v1 ``UpdateAccountSendingEnabled``
or SES v2 ``PutAccountSendingAttributes``. CloudTrail records SES management calls in the region they
were made in (not in us-east-1 as for IAM), for 90 days; this check looks both event names up there,
newest first, and says who made the newest one, when, from where, and whether it disabled sending.
Every LookupEvents call waits for its slot in the AWS client's pace (2 a second).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field

from maildoctor.checks.cloudtrail import WINDOW, Lookup, lookup
from maildoctor.checks.common import Analysis, ago, capture, iso, parse_time, stamp, utc_now
from maildoctor.checks.registry import Args, CheckContext, CheckResult, Evidence, Facts, check
from maildoctor.clients.aws import AwsClient, AwsError

PAUSE_EVENTS = ("UpdateAccountSendingEnabled", "PutAccountSendingAttributes")  # SES v1, SES v2
TIME_BOUND = 20.0  # seconds of paging, within the check's timeout


class PauseHistoryArgs(Args):
    region: str | None = Field(
        None, description="the SES region whose sending is paused (default: the client's)"
    )


class PauseEvent(Facts):
    time: str | None = Field(None, description="when (ISO 8601 UTC)")
    event: str | None = Field(
        None, description="UpdateAccountSendingEnabled (v1) or PutAccountSendingAttributes (v2)"
    )
    enabled: bool | None = Field(
        None, description="what the call set sending to (None when the record does not say)"
    )
    actor: str | None = Field(
        None, description="who: the IAM user name, ROLE/SESSION for a role, root, or a service"
    )
    arn: str | None = Field(None, description="the caller's ARN")
    invoked_by: str | None = Field(None, description="the AWS service that made the call for them, if any")
    source_ip: str | None = Field(None, description="where the call came from")
    user_agent: str | None = Field(None, description="the caller's user agent (SDK, CLI, console)")
    event_id: str | None = Field(None, description="CloudTrail's event id")


class PauseHistoryFacts(Facts):
    region: str | None = Field(None, description="the region looked up (SES events are recorded there)")
    events: list[PauseEvent] = Field([], description="the sending on/off events of the 90 days, newest first")
    newest_disabled: bool | None = Field(None, description="whether the newest event turned sending off")
    paused_by: str | None = Field(None, description="who made the newest pause (user, ROLE/SESSION, root)")
    paused_by_arn: str | None = Field(None, description="the ARN of who paused it")
    paused_at: str | None = Field(None, description="when sending was paused (ISO 8601 UTC)")
    paused_ago: str | None = Field(None, description="how long ago, for a person ('2 hours ago')")
    invoked_by: str | None = Field(None, description="the AWS service that paused it for them, if any")
    source_ip: str | None = Field(None, description="where the pause came from")
    user_agent: str | None = Field(None, description="the pausing caller's user agent")
    window_days: int = Field(WINDOW.days, description="how many days of history CloudTrail keeps")
    truncated: bool = Field(False, description="whether the time bound stopped the reading early")


def _actor(identity: dict[str, Any], fallback: str | None) -> str | None:
    kind = identity.get("type")
    arn = str(identity.get("arn") or "")
    if kind == "IAMUser" and identity.get("userName"):
        return str(identity["userName"])
    if kind == "AssumedRole" and ":assumed-role/" in arn:
        return arn.split(":assumed-role/", 1)[1]  # ROLE/SESSION
    if kind == "Root":
        return "root"
    if kind == "AWSService":
        return str(identity.get("invokedBy") or "an AWS service")
    return arn or fallback


def _enabled(name: str, request: dict[str, Any]) -> bool | None:
    value = request.get("enabled") if name == "UpdateAccountSendingEnabled" else request.get("sendingEnabled")
    return value if isinstance(value, bool) else None


def parse_pause_event(item: dict[str, Any]) -> PauseEvent:
    """A LookupEvents entry, with its ``CloudTrailEvent`` JSON read for who, from where and on or off."""
    try:
        record = json.loads(item.get("CloudTrailEvent") or "{}")
    except ValueError:
        record = {}
    record = record if isinstance(record, dict) else {}
    name = str(item.get("EventName") or record.get("eventName") or "")
    identity = record.get("userIdentity") or {}
    when = item.get("EventTime")
    if not isinstance(when, datetime):
        when = parse_time(str(record.get("eventTime") or ""))
    return PauseEvent(
        time=iso(when),
        event=name,
        enabled=_enabled(name, record.get("requestParameters") or {}),
        actor=_actor(identity, item.get("Username")),
        arn=identity.get("arn"),
        invoked_by=identity.get("invokedBy"),
        source_ip=record.get("sourceIPAddress"),
        user_agent=record.get("userAgent"),
        event_id=str(item.get("EventId") or record.get("eventID") or "") or None,
    )


def _evidence(region: str, name: str, answer: Lookup | AwsError, start: datetime, end: datetime) -> Evidence:
    ask = (
        f"$ aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue={name} "
        f"--start-time {iso(start)} --end-time {iso(end)} --region {region}"
    )
    if isinstance(answer, AwsError):
        return Evidence(f"CloudTrail {name} ({region})", f"{ask}\n{answer.code}: {answer.message}")
    lines = [
        f"{len(answer.events)} event(s)" + ("; the time bound stopped the paging" if answer.truncated else "")
    ]
    for item in answer.events[:10]:
        ev = parse_pause_event(item)
        lines.append(
            f"{ev.time} {ev.event} enabled={ev.enabled} by {ev.actor} ({ev.arn}) from {ev.source_ip}"
        )
    return Evidence(f"CloudTrail {name} ({region})", f"{ask}\n" + "\n".join(lines))


def _who(ev: PauseEvent) -> str:
    who = ev.actor or "an unknown caller"
    if ev.arn and ev.arn != who:
        who += f" ({ev.arn})"
    if ev.invoked_by:
        who += f" through {ev.invoked_by}"
    return who


async def analyze_pause_history(aws: AwsClient, region: str, now: datetime) -> Analysis[PauseHistoryFacts]:
    """Look both pause event names up in ``region`` over the 90 days before ``now``; the newest first."""
    start, end = now - WINDOW + timedelta(minutes=1), now
    deadline = asyncio.get_running_loop().time() + TIME_BOUND
    answers = await asyncio.gather(
        *(capture(lookup(aws, n, start, end, deadline, region=region)) for n in PAUSE_EVENTS)
    )
    facts = PauseHistoryFacts(region=region)
    a = Analysis(
        facts,
        evidence=[_evidence(region, n, x, start, end) for n, x in zip(PAUSE_EVENTS, answers, strict=True)],
    )
    errors = [x for x in answers if isinstance(x, AwsError)]
    found = [x for x in answers if not isinstance(x, AwsError)]
    if errors and not any(x.events for x in found):
        return a.could_not_check(errors[0])
    events = [parse_pause_event(item) for x in found for item in x.events]
    events.sort(key=lambda e: e.time or "", reverse=True)
    facts.events, facts.truncated = events, any(x.truncated for x in found)
    unread = f" ({errors[0]})" if errors else ""
    if not events:
        summary = (
            f"no UpdateAccountSendingEnabled or PutAccountSendingAttributes event in {region} in the last "
            f"{WINDOW.days} days: the pause is older than CloudTrail's event history{unread}"
        )
        return a.conclude("not-found", "info", summary)
    newest = events[0]
    facts.newest_disabled = newest.enabled is False
    if not facts.newest_disabled:
        summary = (
            f"the newest sending event in {region} ({newest.event}, {newest.time}, by {_who(newest)}) "
            f"{'turned sending on' if newest.enabled else 'does not say on or off'}; no pause after it in "
            f"the last {WINDOW.days} days{unread}"
        )
        return a.conclude("not-found", "info", summary)
    facts.paused_by, facts.paused_by_arn, facts.paused_at = newest.actor, newest.arn, newest.time
    facts.invoked_by, facts.source_ip, facts.user_agent = (
        newest.invoked_by,
        newest.source_ip,
        newest.user_agent,
    )
    when = parse_time(newest.time) or now
    facts.paused_ago = ago(when, now)
    summary = (
        f"{_who(newest)} paused sending in {region} with {newest.event} at {stamp(when.astimezone(UTC))} "
        f"({facts.paused_ago}), from {newest.source_ip or 'an unknown address'}"
        + (f" ({newest.user_agent})" if newest.user_agent else "")
        + unread
    )
    return a.conclude("found", "info", summary)


@check(
    "cloudtrail.sending_pause",
    outcomes={"found", "not-found"},
    args=PauseHistoryArgs,
    facts=PauseHistoryFacts,
    iam_actions=("cloudtrail:LookupEvents",),
    timeout=45.0,
)
async def sending_pause_check(ctx: CheckContext[PauseHistoryArgs]) -> CheckResult:
    """CloudTrail, in the SES region, names who paused the account's sending and when."""
    aws = ctx.clients.aws
    region = (ctx.args.region or aws.region).strip().lower()
    return (await analyze_pause_history(aws, region, utc_now().replace(microsecond=0))).result()
