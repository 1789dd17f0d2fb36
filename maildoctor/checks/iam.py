"""The IAM access key behind the SES SMTP credentials: does it exist, is it active, may its user send.

An SES SMTP user name is an IAM user's access key id (``AKIA…``); the password is derived from that key's
secret. When the key is deleted (a rotation) or deactivated, every client still configured with it
gets ``535 Authentication Credentials Invalid``; when the user lacks ``ses:SendRawEmail`` the login
works and the send is refused with ``554 Access denied``. Read-only calls only.

The helpers here (:func:`key_id_problem`, :func:`iso`, :func:`ago`, :func:`dump`) are shared with the
CloudTrail check.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from maildoctor.checks.registry import CheckContext, CheckResult, Evidence, check
from maildoctor.clients.aws import GLOBAL_REGION, AwsError
from maildoctor.flow.templates import UNKNOWN

T = TypeVar("T")

KEY_ID = re.compile(r"^(AKIA|ASIA)[A-Z0-9]{16}$")
SEND_ACTION = "ses:SendRawEmail"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SMTP_PASSWORD = re.compile(r"^[AB][A-Za-z0-9+/]{42}[A-Za-z0-9+/=]$")  # base64(0x02|0x04 + 32 bytes)
_ARN = re.compile(r"^arn:(?P<partition>[^:]+):iam::(?P<account>\d{12}):")


# ------------------------------------------------------------------------------------------ helpers


def iso(value: datetime | None) -> str | None:
    """A datetime as ISO 8601 in UTC with a Z (``2026-11-25T13:52:00Z``); None stays None."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def utc_now() -> datetime:
    return datetime.now(UTC)


def ago(when: datetime, now: datetime | None = None) -> str:
    """How long ago, for a person: '3 days ago', '2 hours ago', '5 minutes ago', 'just now'."""
    seconds = ((now or utc_now()) - when).total_seconds()
    if seconds < 0:
        return "in the future"
    if seconds >= 23.5 * 3600:
        n, unit = round(seconds / 86400), "day"
    elif seconds >= 59.5 * 60:
        n, unit = round(seconds / 3600), "hour"
    elif seconds >= 30:
        n, unit = round(seconds / 60), "minute"
    else:
        return "just now"
    return f"{n} {unit}{'' if n == 1 else 's'} ago"


def days_between(earlier: datetime, later: datetime | None = None) -> int:
    """Whole days, rounded (a key created "200 days ago" a few seconds ago is 200 days old)."""
    return round(((later or utc_now()) - earlier).total_seconds() / 86400)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def dump(value: Any) -> str:
    """An AWS response (or part of it) as indented JSON, datetimes as ISO strings."""
    return json.dumps(value, indent=2, default=_json_default, ensure_ascii=False)


def key_id_problem(value: str) -> str | None:
    """None when ``value`` is shaped like an access key id; else what it looks like instead."""
    if KEY_ID.match(value):
        return None
    if KEY_ID.match(value.upper()):
        return "an access key id in lower case (key ids are upper case, and the user name must match exactly)"
    if _EMAIL.match(value):
        return "an email address"
    if _SMTP_PASSWORD.match(value):
        return "an SMTP password (are the user name and the password swapped?)"
    if re.match(r"^(AKIA|ASIA)", value, re.IGNORECASE):
        return f"a mistyped access key id ({len(value)} characters; key ids have 20, A-Z and 0-9 only)"
    return "something else"


def _time(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


async def capture(awaitable: Awaitable[T]) -> T | AwsError:
    """The awaitable's result, or the AwsError it raised (to gather calls without losing the others)."""
    try:
        return await awaitable
    except AwsError as err:
        return err


def newest_first(keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ListAccessKeys' AccessKeyMetadata, newest key first."""
    return sorted(
        keys, key=lambda k: _time(k.get("CreateDate")) or datetime.min.replace(tzinfo=UTC), reverse=True
    )


def keys_text(keys: list[dict[str, Any]]) -> str:
    """ListAccessKeys' answer for evidence: one key a line."""
    lines = [
        f"{k.get('AccessKeyId')}  {k.get('Status')}  created {iso(_time(k.get('CreateDate')))}" for k in keys
    ]
    return "\n".join(lines) or "(no access keys)"


def arg(ctx: CheckContext, name: str) -> str:
    """A node argument, empty when unset or when its placeholder named a fact an earlier step did not
    have (templates show those as "(unknown)")."""
    value = ctx.arg(name)
    return "" if value == UNKNOWN else value


def _error_result(err: AwsError, facts: dict[str, Any], evidence: list[Evidence]) -> CheckResult:
    return CheckResult("error", "error", f"could not check: {err}", facts, evidence)


# ------------------------------------------------------------------------------------------ the check


def _empty_facts(key_id: str | None) -> dict[str, Any]:
    return {
        "key_id": key_id,
        "key_type": None,
        "looks_like": None,
        "user": None,
        "user_arn": None,
        "status": None,
        "created": None,
        "age_days": None,
        "last_used": None,
        "last_used_service": None,
        "last_used_region": None,
        "other_keys": [],
        "active_keys": [],
        "current_key": None,
        "may_send_raw": None,
        "decision": None,
        "simulated_resources": [],
        "send_check_note": None,
    }


def _identity_arns(user_arn: str, sender: str, region: str) -> list[str]:
    """The SES identity ARNs SES authorizes a send from ``sender`` against: the address and its domain."""
    match = _ARN.match(user_arn)
    if not match or "@" not in sender or not region:
        return ["*"]
    prefix = f"arn:{match['partition']}:ses:{region}:{match['account']}:identity/"
    domain = sender.rsplit("@", 1)[1].lower()
    return [prefix + sender, prefix + domain]


async def _may_send(
    ctx: CheckContext, user: str, sender: str, region: str
) -> tuple[str | None, list[str], dict[str, Any], list[Evidence]]:
    """GetUser, then SimulatePrincipalPolicy for ses:SendRawEmail.

    Returns (user ARN, the resources simulated, facts to merge, evidence). A failure of either call
    leaves ``may_send_raw`` None and says why in ``send_check_note``: the key's state is still known.
    """
    aws = ctx.clients.aws
    evidence: list[Evidence] = []
    try:
        got = await aws.call("iam", "GetUser", region=GLOBAL_REGION, UserName=user)
    except AwsError as err:
        evidence.append(Evidence(f"IAM GetUser UserName={user}", f"failed: {err}"))
        return None, [], {"send_check_note": f"{SEND_ACTION} not checked: {err}"}, evidence
    user_info = got.get("User", {})
    arn = str(user_info.get("Arn") or "")
    evidence.append(
        Evidence(
            f"IAM GetUser UserName={user}",
            dump(
                {
                    k: user_info.get(k)
                    for k in ("UserName", "UserId", "Arn", "CreateDate", "PasswordLastUsed")
                    if k in user_info
                }
            ),
        )
    )
    resources = _identity_arns(arn, sender, region) if sender else ["*"]
    title = f"IAM SimulatePrincipalPolicy PolicySourceArn={arn} ActionNames=[{SEND_ACTION}] ResourceArns={resources}"
    try:
        sim = await aws.call(
            "iam",
            "SimulatePrincipalPolicy",
            region=GLOBAL_REGION,
            PolicySourceArn=arn,
            ActionNames=[SEND_ACTION],
            ResourceArns=resources,
        )
    except AwsError as err:
        evidence.append(Evidence(title, f"failed: {err}"))
        return arn, resources, {"send_check_note": f"{SEND_ACTION} not checked: {err}"}, evidence
    results = sim.get("EvaluationResults", [])
    evidence.append(
        Evidence(
            title,
            dump(
                [
                    {
                        k: r.get(k)
                        for k in ("EvalActionName", "EvalResourceName", "EvalDecision", "MatchedStatements")
                    }
                    for r in results
                ]
            ),
        )
    )
    decisions = [str(r.get("EvalDecision", "")) for r in results]
    if not decisions:
        return (
            arn,
            resources,
            {"send_check_note": f"{SEND_ACTION} not checked: the simulation returned nothing"},
            evidence,
        )
    # SES authorizes against one of the sender's identities: any allowed one is enough to send.
    if "allowed" in decisions:
        decision = "allowed"
    elif "explicitDeny" in decisions:
        decision = "explicitDeny"
    else:
        decision = decisions[0]
    return arn, resources, {"may_send_raw": decision == "allowed", "decision": decision}, evidence


@check(
    "iam.smtp_key",
    outcomes={"active", "not-found", "inactive", "temporary-key", "not-authorized", "not-a-key", "skipped"},
    args={"smtp_username", "sender", "region"},
    iam_actions=(
        "iam:GetAccessKeyLastUsed",
        "iam:ListAccessKeys",
        "iam:GetUser",
        "iam:SimulatePrincipalPolicy",
    ),
)
async def smtp_key_check(ctx: CheckContext) -> CheckResult:
    """The SMTP user name is an existing, active access key whose user may ses:SendRawEmail.

    Optional ``sender`` (the From address) and ``region`` (the SES region) make the permission check
    simulate on the sender's SES identity ARNs instead of ``*``, so that a policy scoped to the identity
    is judged right.
    """
    value = arg(ctx, "smtp_username")
    if not value:
        return CheckResult(
            "skipped", "skipped", "no SMTP user name given: no access key to check", _empty_facts(None)
        )
    facts = _empty_facts(value)
    problem = key_id_problem(value)
    if problem is not None:
        facts.update(key_id=None, looks_like=problem)
        return CheckResult(
            "not-a-key",
            "fail",
            f"SES SMTP user names are access key ids like AKIA…; this looks like {problem}",
            facts,
        )
    if value.startswith("ASIA"):
        facts["key_type"] = "temporary"
        return CheckResult(
            "temporary-key",
            "fail",
            f"{value} is a temporary (STS) access key id: temporary credentials cannot be SES SMTP "
            "credentials; use a long-term access key (AKIA…) of an IAM user",
            facts,
        )
    facts["key_type"] = "long-term"
    aws = ctx.clients.aws
    evidence: list[Evidence] = []

    # 1. whose key is it, and when was it last used
    title = f"IAM GetAccessKeyLastUsed AccessKeyId={value}"
    try:
        last = await aws.call("iam", "GetAccessKeyLastUsed", region=GLOBAL_REGION, AccessKeyId=value)
    except AwsError as err:
        evidence.append(Evidence(title, f"{err.code}: {err.message}"))
        if err.code in ("NoSuchEntity", "NoSuchEntityException"):
            return CheckResult(
                "not-found",
                "fail",
                f"access key {value} does not exist in this account: deleted (a rotation?) or from another account",
                facts,
                evidence,
            )
        return _error_result(err, facts, evidence)
    evidence.append(Evidence(title, dump(last)))
    user = str(last.get("UserName") or "")
    used = last.get("AccessKeyLastUsed") or {}
    last_used = _time(used.get("LastUsedDate"))
    facts.update(
        user=user or None,
        last_used=iso(last_used),
        last_used_service=used.get("ServiceName"),
        last_used_region=used.get("Region"),
    )
    if not user:  # not seen in practice: IAM always names the owner of a key it knows
        return CheckResult(
            "error", "error", f"could not check: IAM did not say whose key {value} is", facts, evidence
        )

    # 2. the user's keys, and (concurrently) whether the user may send
    sender = arg(ctx, "sender")
    region = arg(ctx, "region") or ctx.clients.aws.region
    listed_task = aws.call("iam", "ListAccessKeys", region=GLOBAL_REGION, UserName=user)
    may_task = _may_send(ctx, user, sender, region)
    listed_or_error, (arn, resources, send_facts, send_evidence) = await asyncio.gather(
        capture(listed_task), may_task
    )
    title = f"IAM ListAccessKeys UserName={user}"
    if isinstance(listed_or_error, AwsError):
        evidence.append(Evidence(title, f"failed: {listed_or_error}"))
        evidence.extend(send_evidence)
        return _error_result(listed_or_error, facts, evidence)
    keys = newest_first(listed_or_error.get("AccessKeyMetadata", []))
    evidence.append(Evidence(title, keys_text(keys)))
    evidence.extend(send_evidence)
    facts.update(send_facts)
    facts.update(user_arn=arn, simulated_resources=resources)

    this = next((k for k in keys if k.get("AccessKeyId") == value), None)
    others = [k for k in keys if k.get("AccessKeyId") != value]
    facts["other_keys"] = [
        {"id": k.get("AccessKeyId"), "status": k.get("Status"), "created": iso(_time(k.get("CreateDate")))}
        for k in others
    ]
    facts["active_keys"] = [str(k.get("AccessKeyId")) for k in keys if k.get("Status") == "Active"]
    newest_other_active = next((k.get("AccessKeyId") for k in others if k.get("Status") == "Active"), None)
    if this is None:  # deleted between the two calls
        facts["current_key"] = newest_other_active
        return CheckResult(
            "not-found",
            "fail",
            f"access key {value} does not exist any more: it was deleted from {user} just now",
            facts,
            evidence,
        )
    status = str(this.get("Status"))
    created = _time(this.get("CreateDate"))
    facts.update(
        status=status,
        created=iso(created),
        age_days=days_between(created) if created else None,
        current_key=newest_other_active or (value if status == "Active" else None),
    )

    if status != "Active":
        now_key = (
            f"{user}'s active key is now {newest_other_active}"
            if newest_other_active
            else f"{user} has no active key"
        )
        return CheckResult(
            "inactive",
            "fail",
            f"access key {value} of {user} is {status} (deactivated, e.g. step one of a rotation); {now_key}",
            facts,
            evidence,
        )
    if facts["may_send_raw"] is False:
        return CheckResult(
            "not-authorized",
            "fail",
            f"user {user} may not {SEND_ACTION} ({facts['decision']}): SMTP sends need it",
            facts,
            evidence,
        )
    parts = [f"{value} is an active access key of IAM user {user}"]
    details = [f"created {ago(created)}" if created else None]
    if last_used is not None:
        where = f" with {facts['last_used_service']} in {facts['last_used_region']}"
        details.append(f"last used {ago(last_used)}{where}")
    else:
        details.append("never used")
    parts.append(f" ({', '.join(d for d in details if d)})")
    if facts["may_send_raw"]:
        parts.append(f"; the user may {SEND_ACTION}")
    else:
        parts.append(f"; {facts['send_check_note']}")
    return CheckResult("active", "pass", "".join(parts), facts, evidence)
