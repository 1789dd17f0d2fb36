"""The SMTP credential audit: every SES SMTP credential of the account, its rotation, and who would notice.

``audit.credentials`` finds the SMTP users -- IAM users that may ``ses:SendRawEmail`` (SimulatePrincipalPolicy
on the account's SES identities in the audited regions, as the credential path judges it: inline, attached
and group policies all count), console-made ``ses-smtp-user.*`` users, and users whose keys were last
used with ``ses`` -- and per key its status, age, last use and CloudTrail history (us-east-1, 90 days,
each key event looked up once by EventName for all users, as cloudtrail.key_history does), then gives
each key at most one key-state code (CONTRACT.md's order) and each user that looks like an SMTP user but
may not send ``smtp-user-cannot-send``. ``audit.rotation_alerts`` reads EventBridge's rules in us-east-1
and judges whether one fires on the SMTP users' key events (maildoctor.audit.rules). ``audit.finding``
turns one code's keys into a finding's evidence and fix (a remedy node follows it in the flow).

Read-only: ListUsers, ListAccessKeys, GetAccessKeyLastUsed, SimulatePrincipalPolicy, ListEmailIdentities,
LookupEvents, ListRules, GetCallerIdentity.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from maildoctor.audit import rules, texts
from maildoctor.checks import progress
from maildoctor.checks.cloudtrail import (
    CONSOLE_USER,
    KEY_EVENTS,
    TIME_BOUND,
    WINDOW,
    EventFact,
    KeyEvent,
    _compact_json,
    eventbridge_pattern,
    lookup,
    parse_event,
)
from maildoctor.checks.common import (
    Analysis,
    ago,
    capture,
    days_between,
    dump,
    iso,
    parse_time,
    stamp,
    utc_now,
)
from maildoctor.checks.iam import SEND_ACTION, _per_resource, keys_text, list_keys
from maildoctor.checks.registry import Args, CheckContext, CheckResult, Evidence, Facts, check
from maildoctor.clients.aws import AwsClient, AwsError

UNUSED_SINCE_ROTATION = "smtp-key-unused-since-rotation"
UNUSED = "smtp-key-unused"
ROTATION_DUE = "smtp-key-rotation-due"
CANNOT_SEND = "smtp-user-cannot-send"
ALERT_MISSING = "rotation-alert-missing"
SAYS = {
    UNUSED_SINCE_ROTATION: "no SES use of the new key since its rotation",
    UNUSED: "active keys not used in 90 days, or never",
    ROTATION_DUE: "active keys older than the rotation age",
    CANNOT_SEND: f"SMTP users that may not {SEND_ACTION}",
}
KEY_STATE_ORDER = (UNUSED_SINCE_ROTATION, UNUSED, ROTATION_DUE)  # CONTRACT.md: the first that applies
UNUSED_AFTER = timedelta(days=90)
ROTATION_SLACK = timedelta(days=1)  # an old key removed up to a day before its replacement was made
CONSOLE_ROTATION = timedelta(days=3)  # a console user replaced by another: removed within days of the new key
MAX_RESOURCES = 50  # identity ARNs per simulation
USERS_AT_ONCE = 8  # users read concurrently (3+ IAM calls each): a large account is not a burst
RULE_NAME = "smtp-key-changes"
SEND_POLICY = {"Version": "2012-10-17",
               "Statement": [{"Effect": "Allow", "Action": SEND_ACTION, "Resource": "*"}]}  # fmt: skip


# ------------------------------------------------------------------------------------------ the model


class CredentialsArgs(Args):
    regions: str | None = Field(
        None, description="the SES regions audited, comma-separated (default: the client's region)"
    )
    max_key_age: int = Field(90, ge=1, description="the rotation age in days: an active key older is due")


class LastUse(Facts):
    when: str | None = Field(None, description="when the key was last used (ISO 8601 UTC); None: never")
    service: str | None = Field(None, description="the service it was last used with (ses for SMTP)")
    region: str | None = Field(None, description="the region it was last used in")


class AuditItem(Facts):
    """One key (or user) an audit code applies to, with what its evidence and fix need."""

    user: str | None = Field(None, description="the IAM user")
    key_id: str | None = Field(None, description="the access key id (None for a user-level code)")
    status: str | None = Field(None, description="Active, Inactive or Expired")
    created: str | None = Field(None, description="when the key was created (ISO 8601 UTC)")
    age_days: int | None = Field(None, description="the key's age in days")
    last_used: str | None = Field(None, description="when it was last used (ISO 8601 UTC)")
    last_used_service: str | None = Field(None, description="the service it was last used with")
    last_used_region: str | None = Field(None, description="the region it was last used in")
    old_keys: list[str] = Field([], description="the keys this key replaced (deleted or deactivated)")
    old_key_change: str | None = Field(None, description="what happened to the old key, when and by whom")
    regions: list[str] = Field([], description="the regions to derive the SMTP password for")
    decision: str | None = Field(None, description="the send simulation's decision (user-level codes)")
    runbook: str | None = Field(None, description="the key's rotation runbook (markdown)")


class Credential(Facts):
    user: str | None = Field(None, description="the IAM user")
    user_arn: str | None = Field(None, description="the user's ARN")
    key_id: str | None = Field(None, description="the access key id")
    status: str | None = Field(None, description="Active, Inactive or Expired")
    created: str | None = Field(None, description="when the key was created (ISO 8601 UTC)")
    age_days: int | None = Field(None, description="the key's age in days")
    last_used: LastUse = Field(
        default_factory=LastUse, description="the key's last use (GetAccessKeyLastUsed)"
    )
    history: list[EventFact] = Field(
        [], description="CloudTrail's events of the key and the keys it replaced"
    )
    findings: list[str] = Field([], description="the audit codes of the key and of its user")
    found_by: list[str] = Field(
        [], description="why it counts as SMTP: send-permission, console-user, ses-use"
    )
    may_send: bool | None = Field(None, description=f"whether the user may {SEND_ACTION} (None: not known)")
    send_decision: str | None = Field(None, description="the simulation's decision, or why not known")
    replaced_keys: list[str] = Field([], description="the keys this key replaced in the last 90 days")
    ses_use_since_created: bool | None = Field(
        None, description="whether an SES use of the key is recorded since it was created"
    )
    regions: list[str] = Field([], description="the regions the key's SMTP password is needed for")
    runbook: str | None = Field(None, description="the rotation runbook of the key (markdown)")


class CredentialsFacts(Facts):
    account: str | None = Field(None, description="the AWS account audited")
    regions: list[str] = Field([], description="the SES regions audited")
    max_key_age: int | None = Field(None, description="the rotation age in days")
    users_checked: int | None = Field(None, description="how many IAM users were looked at")
    users: list[str] | None = Field(None, description="the SMTP users found (None: not known)")
    credentials: list[Credential] = Field([], description="every access key of the SMTP users")
    identities: list[str] = Field([], description="the SES identities of the audited regions")
    sender: str | None = Field(None, description="an address identity, to prove new credentials with")
    unused_since_rotation: list[AuditItem] | None = Field(
        None, description=f"the keys with {UNUSED_SINCE_ROTATION} (None: not known)"
    )
    unused: list[AuditItem] | None = Field(None, description=f"the keys with {UNUSED} (None: not known)")
    rotation_due: list[AuditItem] | None = Field(
        None, description=f"the keys with {ROTATION_DUE} (None: not known)"
    )
    cannot_send: list[AuditItem] | None = Field(
        None, description=f"the users with {CANNOT_SEND} (None: not known)"
    )
    pathways: str | None = Field(None, description="the sending pathways as found (a markdown table)")
    history_from: str | None = Field(None, description="the start of the CloudTrail history read")
    notes: list[str] = Field([], description="what could not be read, and what was left out")


# ------------------------------------------------------------------------------------------ reading


@dataclass
class UserRead:
    """What IAM said about one user."""

    name: str
    arn: str
    keys: list[dict[str, Any]] = field(default_factory=list)
    last_used: dict[str, dict[str, Any]] = field(default_factory=dict)  # key id -> AccessKeyLastUsed
    decision: str | None = None  # allowed, implicitDeny, explicitDeny; None: not known
    conditional: bool = False  # allowed only under conditions the simulation could not know
    problems: list[str] = field(default_factory=list)


async def list_users(aws: AwsClient) -> list[dict[str, Any]]:
    """IAM ListUsers, every page."""
    users: list[dict[str, Any]] = []
    marker: str | None = None
    for _ in range(200):
        params: dict[str, Any] = {"MaxItems": 100, **({"Marker": marker} if marker else {})}
        page = await aws.call("iam", "ListUsers", region=aws.global_region, **params)
        users += page.get("Users", [])
        marker = page.get("Marker")
        if not page.get("IsTruncated") or not marker:
            break
    return users


async def list_identities(aws: AwsClient, region: str) -> list[str]:
    """SES v2 ListEmailIdentities in ``region``, every page: the identity names."""
    names: list[str] = []
    token: str | None = None
    for _ in range(100):
        params: dict[str, Any] = {"PageSize": 100, **({"NextToken": token} if token else {})}
        page = await aws.call("sesv2", "ListEmailIdentities", region=region, **params)
        names += [
            str(i.get("IdentityName")) for i in page.get("EmailIdentities", []) if i.get("IdentityName")
        ]
        token = page.get("NextToken")
        if not token:
            break
    return names


def identity_arns(partition: str, account: str, by_region: dict[str, list[str]]) -> list[str]:
    arns = [
        f"arn:{partition}:ses:{r}:{account}:identity/{name}"
        for r, names in by_region.items()
        for name in names
    ]
    return arns[:MAX_RESOURCES] or ["*"]


async def simulate_send(aws: AwsClient, user: UserRead, resources: list[str]) -> Evidence:
    """May ``user`` ses:SendRawEmail on any of ``resources``: allowed on one is enough; a condition the
    simulation could not know (MissingContextValues) makes it conditional, not denied."""
    title = f"IAM SimulatePrincipalPolicy PolicySourceArn={user.arn} ActionNames=[{SEND_ACTION}]"
    try:
        sim = await aws.call(
            "iam",
            "SimulatePrincipalPolicy",
            region=aws.global_region,
            PolicySourceArn=user.arn,
            ActionNames=[SEND_ACTION],
            ResourceArns=resources,
        )
    except AwsError as err:
        user.problems.append(f"whether {user.name} may {SEND_ACTION} was not read: {err}")
        return Evidence(title, f"failed: {err}")
    per = _per_resource(sim.get("EvaluationResults", []))
    if any(decision == "allowed" and not missing for _, decision, missing, _ in per):
        user.decision = "allowed"
    elif any(missing for _, decision, missing, _ in per if decision != "explicitDeny"):
        user.conditional = True
    elif per:
        decisions = [decision for _, decision, _, _ in per]
        user.decision = "explicitDeny" if "explicitDeny" in decisions else decisions[0]
    shown = [{"resource": r, "decision": d, "missing_context": m, "matched": p} for r, d, m, p in per]
    return Evidence(title, dump(shown))


async def read_user(aws: AwsClient, user: UserRead, resources: list[str]) -> list[Evidence]:
    """The user's keys, each key's last use, and whether the user may send."""
    evidence = [await simulate_send(aws, user, resources)]
    title = f"IAM ListAccessKeys UserName={user.name}"
    try:
        user.keys = await list_keys(aws, user.name)
    except AwsError as err:
        user.problems.append(f"the keys of {user.name} were not read: {err}")
        return [*evidence, Evidence(title, f"failed: {err}")]
    evidence.append(Evidence(title, keys_text(user.keys)))
    ids = [str(k.get("AccessKeyId")) for k in user.keys]
    answers = await asyncio.gather(
        *(
            capture(aws.call("iam", "GetAccessKeyLastUsed", region=aws.global_region, AccessKeyId=i))
            for i in ids
        )
    )
    for key_id, got in zip(ids, answers, strict=True):
        title = f"IAM GetAccessKeyLastUsed AccessKeyId={key_id}"
        if isinstance(got, AwsError):
            user.problems.append(f"the last use of {key_id} was not read: {got}")
            evidence.append(Evidence(title, f"failed: {got}"))
            continue
        user.last_used[key_id] = got.get("AccessKeyLastUsed") or {}
        evidence.append(Evidence(title, dump(got.get("AccessKeyLastUsed") or {})))
    return evidence


# ------------------------------------------------------------------------------------------ judging


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    return parse_time(str(value)) if value else None


def last_use(answer: dict[str, Any]) -> tuple[datetime | None, str | None, str | None]:
    """(when, service, region) of GetAccessKeyLastUsed's AccessKeyLastUsed; IAM says N/A when never."""
    service = answer.get("ServiceName")
    region = answer.get("Region")
    return (
        _when(answer.get("LastUsedDate")),
        None if service in (None, "N/A") else str(service),
        None if region in (None, "N/A") else str(region),
    )


def is_smtp_user(user: UserRead) -> list[str]:
    """Why ``user`` counts as an SMTP user (empty: it does not)."""
    why = []
    if user.decision == "allowed" or user.conditional:
        why.append("send-permission")
    if CONSOLE_USER.match(user.name) or user.name.startswith("ses-smtp-user"):
        why.append("console-user")
    if any(last_use(u)[1] == "ses" for u in user.last_used.values()):
        why.append("ses-use")
    return why


def replaced_by(key_id: str, user: str, created: datetime | None, events: list[KeyEvent]) -> list[KeyEvent]:
    """The events that removed the keys ``key_id`` replaced: another key of the same user (or of a
    console user the SES console replaced) deleted or deactivated from a day before ``key_id`` was made."""
    if created is None:
        return []
    made = next((e for e in events if e.name == "CreateAccessKey" and e.key == key_id), None)
    if made is None and not any(e.time >= created - ROTATION_SLACK for e in events):
        return []
    since = (made.time if made else created) - ROTATION_SLACK
    console = CONSOLE_USER.match(user) is not None

    made_at = {e.key: e.time for e in events if e.name == "CreateAccessKey"}
    own = made.time if made else created

    def removes(e: KeyEvent) -> bool:
        removal = e.name == "DeleteAccessKey" or (e.name == "UpdateAccessKey" and e.status == "Inactive")
        if not removal or e.key is None or e.key == key_id or e.time < since:
            return False
        if e.key in made_at and made_at[e.key] > own:  # a key made after this one: not one it replaced
            return False
        if e.user == user:
            return True
        # the SES console replaces a user with a new ses-smtp-user.<date>: only a removal near this key's making
        other_console = e.user is not None and CONSOLE_USER.match(e.user) is not None
        return console and other_console and abs(e.time - own) <= CONSOLE_ROTATION

    return [e for e in events if removes(e)]


@dataclass
class Judged:
    credential: Credential
    item: AuditItem
    state_code: str | None


def judge_key(
    user: UserRead,
    key: dict[str, Any],
    events: list[KeyEvent] | None,
    regions: list[str],
    sender: str | None,
    max_age: int,
    now: datetime,
) -> Judged:
    """A key's facts and its key-state code: the first of CONTRACT.md's order that applies."""
    key_id = str(key.get("AccessKeyId"))
    created = _when(key.get("CreateDate"))
    when, service, region = last_use(user.last_used.get(key_id, {}))
    status = str(key.get("Status"))
    removed = replaced_by(key_id, user.name, created, events or [])
    old = list(dict.fromkeys(str(e.key) for e in removed))
    ses_since = service == "ses" and when is not None and (created is None or when >= created)
    # GetAccessKeyLastUsed names only the last service: a key used since with another one may have sent
    # through SES before that, and a key whose last use was not read is not known to be unused
    last_read = key_id in user.last_used
    ses_unknown = when is not None and service != "ses" and (created is None or when >= created)
    key_regions = [region] if service == "ses" and region else list(regions)
    history = [e for e in events or [] if e.key == key_id or e.key in old]
    item = AuditItem(
        user=user.name, key_id=key_id, status=status, created=iso(created),
        age_days=days_between(created, now) if created else None, last_used=iso(when),
        last_used_service=service, last_used_region=region, old_keys=old, regions=key_regions,
        old_key_change="; ".join(f"{e.key} {_removal(e)} {ago(e.time, now)} by {e.actor} ({stamp(e.time)})"
                                 for e in _last_per_key(removed)) or None,
    )  # fmt: skip
    code: str | None = None
    if status == "Active":
        if events is not None and old and last_read and not ses_since and not ses_unknown:
            code = UNUSED_SINCE_ROTATION
        elif last_read and (when is None or now - when > UNUSED_AFTER):
            code = UNUSED
        elif item.age_days is not None and item.age_days > max_age:
            code = ROTATION_DUE
    replaces = old[-1] if code == UNUSED_SINCE_ROTATION else None
    status_now = {str(k.get("AccessKeyId")): str(k.get("Status")) for k in user.keys}
    item.runbook = texts.runbook(
        user.name,
        key_id,
        key_regions,
        sender,
        replaces=replaces,
        old_status=status_now.get(replaces or key_id),
    )
    credential = Credential(
        user=user.name, user_arn=user.arn, key_id=key_id, status=status, created=iso(created),
        age_days=item.age_days, last_used=LastUse(when=iso(when), service=service, region=region),
        history=[e.fact() for e in history], findings=[code] if code else [], found_by=is_smtp_user(user),
        may_send=True if user.decision == "allowed" else (False if user.decision else None),
        send_decision=user.decision or ("allowed under conditions" if user.conditional else None),
        replaced_keys=old, ses_use_since_created=ses_since, regions=key_regions, runbook=item.runbook,
    )  # fmt: skip
    return Judged(credential, item, code)


def _last_per_key(events: list[KeyEvent]) -> list[KeyEvent]:
    """The latest event of each key (deleted after deactivated: deleted)."""
    return list({e.key: e for e in sorted(events, key=lambda e: e.time)}.values())


def _removal(e: KeyEvent) -> str:
    return "deleted" if e.name == "DeleteAccessKey" else "deactivated"


def cannot_send(user: UserRead, why: list[str]) -> AuditItem | None:
    """A user that looks like an SMTP user (console-made, or keys used with SES) but may not send."""
    looks = {"console-user", "ses-use"} & set(why)
    if not looks or user.decision not in ("implicitDeny", "explicitDeny"):
        return None
    return AuditItem(user=user.name, decision=user.decision)


# ------------------------------------------------------------------------------------------ the check


@dataclass
class CredentialsAnalysis(Analysis[CredentialsFacts]):
    users: list[UserRead] = field(default_factory=list)
    events: list[KeyEvent] | None = None
    unread: list[str] = field(default_factory=list)


def _regions(text: str | None, default: str) -> list[str]:
    regions = [r.strip() for r in (text or "").split(",") if r.strip()]
    return list(dict.fromkeys(regions)) or [default]


async def _identities(a: CredentialsAnalysis, aws: AwsClient, regions: list[str]) -> dict[str, list[str]]:
    found = await asyncio.gather(*(capture(list_identities(aws, r)) for r in regions))
    by_region: dict[str, list[str]] = {}
    for region, got in zip(regions, found, strict=True):
        title = f"SES ListEmailIdentities in {region}"
        if isinstance(got, AwsError):
            a.unread.append(f"the SES identities of {region} (who may send is judged on them): {got}")
            a.evidence.append(Evidence(title, f"failed: {got}"))
            continue
        by_region[region] = got
        a.evidence.append(Evidence(title, "\n".join(got) or "(no identities)"))
    a.facts.identities = [n for names in by_region.values() for n in names]
    a.facts.sender = next((n for n in a.facts.identities if "@" in n), None)
    return by_region


async def _history(a: CredentialsAnalysis, aws: AwsClient, now: datetime) -> None:
    """The key events of the last 90 days, each EventName looked up once for every user."""
    start = now - WINDOW
    a.facts.history_from = iso(start)
    deadline = asyncio.get_running_loop().time() + TIME_BOUND
    found = await asyncio.gather(*(capture(lookup(aws, name, start, now, deadline)) for name in KEY_EVENTS))
    events: list[KeyEvent] = []
    for name, got in zip(KEY_EVENTS, found, strict=True):
        title = f"CloudTrail LookupEvents EventName={name} in {aws.global_region}"
        if isinstance(got, AwsError):
            a.unread.append(f"the key history (CloudTrail {name}): {got}")
            a.evidence.append(Evidence(title, f"failed: {got}"))
            return
        if got.truncated:
            a.facts.notes.append(f"CloudTrail {name}: the time bound stopped the reading before 90 days")
        parsed = [parse_event(item) for item in got.events]
        events += parsed
        a.evidence.append(Evidence(title, "\n".join(e.line() for e in parsed) or "(no events)"))
    a.events = sorted(events, key=lambda e: e.time)


def _conclude(a: CredentialsAnalysis, regions: list[str], max_age: int, now: datetime) -> None:
    f = a.facts
    # an SMTP credential is a key: a user that may send but has none (a console user, a role's user) is not one
    smtp = [(u, why) for u in a.users if (why := is_smtp_user(u)) and (u.keys or u.problems)]
    f.users = [u.name for u, _ in smtp]
    codes: dict[str, list[AuditItem]] = {c: [] for c in KEY_STATE_ORDER}
    cannot: list[AuditItem] = []
    for user, why in smtp:
        blocked = cannot_send(user, why)
        if blocked is not None:
            cannot.append(blocked)
        for key in user.keys:
            judged = judge_key(user, key, a.events, regions, f.sender, max_age, now)
            if judged.state_code:
                codes[judged.state_code].append(judged.item)
            if blocked is not None and judged.credential.status == "Active":
                judged.credential.findings.append(CANNOT_SEND)
            f.credentials.append(judged.credential)
        if user.decision is None and not user.conditional:
            f.notes.append(f"whether {user.name} may {SEND_ACTION} is not known")
    f.unused_since_rotation = codes[UNUSED_SINCE_ROTATION] if a.events is not None else None
    f.unused, f.rotation_due, f.cannot_send = codes[UNUSED], codes[ROTATION_DUE], cannot
    f.pathways = texts.pathways(
        [
            (u.name, [str(k.get("AccessKeyId")) for k in u.keys if k.get("Status") == "Active"])
            for u, _ in smtp
        ]
    )
    # a user nothing could be read about may be an SMTP user too: what was not read is said, never dropped
    a.unread += [p for u in a.users for p in u.problems]
    left = len(a.users) - len(smtp)
    if left:
        f.notes.append(
            f"{left} IAM user(s) with no access key, or that neither may send nor look like SMTP "
            "users: left out"
        )


async def analyze_credentials(aws: AwsClient, regions_text: str | None, max_age: int) -> CredentialsAnalysis:
    now = utc_now()
    regions = _regions(regions_text, aws.region)
    a = CredentialsAnalysis(CredentialsFacts(regions=regions, max_key_age=max_age))
    try:
        caller = await aws.caller()
        a.facts.account = caller.account
        partition = caller.partition
    except AwsError as err:  # the identities' ARNs, and so who may send, rest on it
        a.unread.append(f"the account (sts:GetCallerIdentity, for the identities' ARNs): {err}")
        partition = aws.partition
    try:
        listed = await list_users(aws)
    except AwsError as err:
        a.evidence.append(Evidence("IAM ListUsers", f"failed: {err}"))
        return a.could_not_check(err)
    a.facts.users_checked = len(listed)
    a.evidence.append(
        Evidence("IAM ListUsers", "\n".join(str(u.get("UserName")) for u in listed) or "(none)")
    )
    by_region = await _identities(a, aws, regions)
    resources = identity_arns(partition, a.facts.account or "", by_region) if a.facts.account else ["*"]
    a.users = [UserRead(str(u.get("UserName")), str(u.get("Arn"))) for u in listed]
    progress.report(f"{len(a.users)} IAM users: keys, last use, send permission")
    gate = asyncio.Semaphore(USERS_AT_ONCE)

    async def one(user: UserRead) -> list[Evidence]:
        async with gate:
            return await read_user(aws, user, resources)

    read, _ = await asyncio.gather(asyncio.gather(*(one(u) for u in a.users)), _history(a, aws, now))
    a.evidence += [e for evidence in read for e in evidence]
    _conclude(a, regions, max_age, now)
    return _summarize(a)


def _summarize(a: CredentialsAnalysis) -> CredentialsAnalysis:
    f = a.facts
    if a.unread:
        return a.could_not_check("; ".join(a.unread))
    if not f.credentials:
        return a.conclude("none", "pass", f"no SES SMTP credentials among {f.users_checked} IAM user(s)")
    flagged = sum(1 for c in f.credentials if c.findings)
    summary = f"{len(f.credentials)} access key(s) of {len(f.users or [])} SMTP user(s)"
    summary += f": {flagged} with findings" if flagged else ", none with findings"
    return a.conclude("found", "warn" if flagged else "pass", summary)


@check(
    "audit.credentials",
    outcomes={"found", "none"},
    args=CredentialsArgs,
    facts=CredentialsFacts,
    iam_actions=(
        "iam:ListUsers",
        "iam:ListAccessKeys",
        "iam:GetAccessKeyLastUsed",
        "iam:SimulatePrincipalPolicy",
        "ses:ListEmailIdentities",
        "cloudtrail:LookupEvents",
        "sts:GetCallerIdentity",
    ),
    timeout=90.0,
)
async def credentials_check(ctx: CheckContext[CredentialsArgs]) -> CheckResult:
    """Every SES SMTP credential: the users that may send, their keys, last use and rotation history."""
    args = ctx.args
    return (await analyze_credentials(ctx.clients.aws, args.regions, args.max_key_age)).result()


# ------------------------------------------------------------------------------------------ alerts


class AlertArgs(Args):
    users: list[str] | None = Field(None, description="the SMTP users whose key events must be watched")
    account: str | None = Field(None, description="the account (for the SNS topic's ARN)")


class RuleFact(Facts):
    name: str | None = Field(None, description="the rule's name")
    state: str | None = Field(None, description="ENABLED or DISABLED")
    pattern: str | None = Field(None, description="its event pattern (JSON)")
    watches: list[str] = Field([], description="the SMTP users whose key events it matches")
    cannot_tell: list[str] = Field([], description="the users for whom its pattern cannot be judged ahead")


class AlertFacts(Facts):
    region: str = Field("us-east-1", description="where IAM's events arrive, and the rule must be")
    rules: list[RuleFact] = Field([], description="the rules with an event pattern read")
    users: list[str] = Field([], description="the SMTP users")
    watched: list[str] = Field([], description="the users an enabled rule watches")
    unwatched: list[str] = Field([], description="the users no enabled rule watches")
    cannot_tell: list[str] = Field([], description="the users whose watching rule cannot be judged")
    pattern: str | None = Field(None, description="the event pattern of the rule to create (JSON)")
    pattern_json: str | None = Field(None, description="the same on one line, for the command")
    rule_name: str = Field(RULE_NAME, description="the name of the rule to create")
    topic_arn: str | None = Field(None, description="the SNS topic the rule would send to")
    topic_policy: str | None = Field(None, description="the topic policy that lets EventBridge publish")
    notes: list[str] = Field([], description="rules left out, and why")


async def list_rules(aws: AwsClient) -> list[dict[str, Any]]:
    """EventBridge ListRules on the default bus in IAM's event region, every page."""
    found: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(100):
        params: dict[str, Any] = {"Limit": 100, **({"NextToken": token} if token else {})}
        page = await aws.call("events", "ListRules", region=aws.global_region, **params)
        found += page.get("Rules", [])
        token = page.get("NextToken")
        if not token:
            break
    return found


CONSOLE_PREFIX = "ses-smtp-user."


def suggested_pattern(users: list[str]) -> dict[str, Any]:
    """cloudtrail.eventbridge_pattern for the SMTP users: named, except console-made ones, matched by the
    console's prefix — its next rotation makes a new ``ses-smtp-user.<date>`` user, which a rule naming
    today's users would not see."""
    named = sorted({u for u in users if not CONSOLE_USER.match(u)})
    console = any(CONSOLE_USER.match(u) for u in users)
    only = named[0] if len(named) == 1 and not console else None
    pattern: dict[str, Any] = json.loads(eventbridge_pattern(only))
    if console or len(named) > 1:
        matchers: list[Any] = [*named, *([{"prefix": CONSOLE_PREFIX}] if console else [])]
        pattern["detail"]["requestParameters"] = {"userName": matchers}
    return pattern


def judge_rules(rules_read: list[dict[str, Any]], users: list[str], account: str | None) -> AlertFacts:
    """Which SMTP users an enabled rule watches (pure: from ListRules' answer)."""
    f = AlertFacts(users=list(users))
    for rule in rules_read:
        text = rule.get("EventPattern")
        if not text:
            continue  # a schedule: no events
        fact = RuleFact(name=rule.get("Name"), state=rule.get("State"), pattern=str(text))
        try:
            pattern = json.loads(str(text))
        except ValueError:
            f.notes.append(f"rule {fact.name}: its pattern is not JSON")
            continue
        for user in users:
            verdict, _ = rules.user_verdict(pattern, user, account)
            if verdict == "match":
                fact.watches.append(user)
            elif verdict == "unknown":
                fact.cannot_tell.append(user)
        f.rules.append(fact)
    # ENABLED, or ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS (EventBridge's Rule.State): both fire
    enabled = [r for r in f.rules if r.state and r.state.startswith("ENABLED")]
    for judged in f.rules:
        if judged not in enabled and judged.watches:
            f.notes.append(f"rule {judged.name} would match but is {judged.state}")
    f.watched = [u for u in users if any(u in r.watches for r in enabled)]
    f.cannot_tell = [u for u in users if u not in f.watched and any(u in r.cannot_tell for r in enabled)]
    f.unwatched = [u for u in users if u not in f.watched and u not in f.cannot_tell]
    todo = f.unwatched or f.cannot_tell
    if todo:
        pattern = suggested_pattern(todo)
        f.pattern, f.pattern_json = _compact_json(pattern), json.dumps(pattern, separators=(",", ":"))
    # the account not read: a placeholder the operator replaces, never "(unknown)" inside a command
    f.topic_arn = f"arn:aws:sns:{f.region}:{account or 'ACCOUNT_ID'}:{RULE_NAME}"
    statement = {"Sid": "EventBridgePublishes", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                 "Action": "sns:Publish", "Resource": f.topic_arn}  # fmt: skip
    f.topic_policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]}, separators=(",", ":"))
    return f


@check(
    "audit.rotation_alerts",
    outcomes={"watched", "missing", "no-users", "skipped"},
    args=AlertArgs,
    facts=AlertFacts,
    applies_when=("users",),
    iam_actions=("events:ListRules",),
    timeout=60.0,
)
async def rotation_alerts_check(ctx: CheckContext[AlertArgs]) -> CheckResult:
    """An enabled EventBridge rule in us-east-1 fires on every SMTP user's access-key events."""
    aws, users = ctx.clients.aws, list(ctx.args.users or [])
    if not users:
        return CheckResult("no-users", "skipped", "no SMTP users: no key events to watch", AlertFacts())
    title = f"EventBridge ListRules in {aws.global_region} (default event bus)"
    try:
        read = await list_rules(aws)
    except AwsError as err:
        return CheckResult("error", "error", f"could not check: {err}", AlertFacts(users=users),
                           [Evidence(title, f"failed: {err}")])  # fmt: skip
    f = judge_rules(read, users, ctx.args.account)
    f.region = aws.global_region
    shown = "\n".join(
        f"{r.name} ({r.state}) watches: {', '.join(r.watches) or 'none'}"
        + (f"; cannot tell for: {', '.join(r.cannot_tell)}" if r.cannot_tell else "")
        + f"\n    {r.pattern}"
        for r in f.rules
    )
    evidence = [Evidence(title, shown or "(no rules with an event pattern)")]
    if f.unwatched:
        summary = f"no enabled rule in {f.region} matches the key events of {', '.join(f.unwatched)}"
        return CheckResult("missing", "fail", summary, f, evidence)
    if f.cannot_tell:
        why = (
            f"whether a rule matches the key events of {', '.join(f.cannot_tell)} cannot be told ahead "
            "(its pattern tests fields known only when the event comes)"
        )
        return CheckResult("error", "error", f"could not check: {why}", f, evidence)
    return CheckResult(
        "watched", "pass", "every SMTP user's key events are matched by an enabled rule", f, evidence
    )


# ------------------------------------------------------------------------------------------ findings


class FindingArgs(Args):
    code: str = Field(description="the audit code")
    items: list[AuditItem] | None = Field(None, description="the keys or users the code applies to")


class FindingFacts(Facts):
    code: str | None = Field(None, description="the audit code")
    count: int = Field(0, description="how many keys (or users) it applies to")
    keys: list[str] = Field([], description="the access key ids")
    users: list[str] = Field([], description="the IAM users")
    old_keys: list[str] = Field([], description="the old keys clients probably still hold")
    items: list[AuditItem] = Field([], description="each key or user, with its evidence")
    details: str | None = Field(None, description="each key's evidence and fix (markdown)")
    commands: str | None = Field(None, description="the commands of the fix, as an sh block")


def _describe(code: str, item: AuditItem) -> str:
    """One key's line of evidence for ``code``."""
    used = (
        f"last used {item.last_used} with {item.last_used_service} in {item.last_used_region}"
        if item.last_used
        else "never used"
    )
    key = f"`{item.key_id}` of `{item.user}`"
    if code == UNUSED_SINCE_ROTATION:
        old = ", ".join(f"`{k}`" for k in item.old_keys)
        return (
            f"{key}, created {item.created}, has no SES use recorded since ({used}); it replaced {old} "
            f"({item.old_key_change}): a client still signs in with {old}"
        )
    if code == UNUSED:
        return f"{key}, created {item.created} ({item.age_days} days ago), is active and {used}"
    if code == ROTATION_DUE:
        return f"{key} is {item.age_days} days old (created {item.created}); {used}"
    return f"`{item.user}` may not {SEND_ACTION} ({item.decision})"


def _details(code: str, items: list[AuditItem]) -> str:
    parts = []
    for item in items:
        head = f"- {_describe(code, item)}"
        if item.runbook and code != CANNOT_SEND:
            head += "\n\n  **Runbook**\n\n  " + item.runbook.replace("\n", "\n  ")
        parts.append(head)
    return "\n\n".join(parts)


@check(
    "audit.finding",
    outcomes={"found", "none", "skipped"},
    args=FindingArgs,
    facts=FindingFacts,
    applies_when=("items",),
)
async def finding_check(ctx: CheckContext[FindingArgs]) -> CheckResult:
    """Whether an audit code applies to some key or user, with each one's evidence and fix."""
    code, items = ctx.args.code, list(ctx.args.items or [])
    keys = [i.key_id for i in items if i.key_id]
    users = list(dict.fromkeys(i.user for i in items if i.user))
    f = FindingFacts(code=code, count=len(items), keys=keys, users=users, items=items,
                     old_keys=[k for i in items for k in i.old_keys], details=_details(code, items) or None)  # fmt: skip
    if code == CANNOT_SEND and users:
        document = json.dumps(SEND_POLICY, separators=(",", ":"))
        f.commands = texts.shell(
            *(f"aws iam put-user-policy --user-name {u} --policy-name ses-send-raw --policy-document '{document}'"
              for u in users)
        )  # fmt: skip
    if not items:
        return CheckResult("none", "pass", f"{SAYS.get(code, code)}: none", f)
    named = ", ".join(f"{i.key_id} of {i.user}" if i.key_id else str(i.user) for i in items)
    if code == UNUSED_SINCE_ROTATION:
        named = ", ".join(
            f"{i.key_id} of {i.user} (a client still holds {', '.join(i.old_keys)})" for i in items
        )
    return CheckResult("found", "fail", f"{SAYS.get(code, code)}: {named}", f)
