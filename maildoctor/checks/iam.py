"""The IAM access key behind the SES SMTP credentials: does it exist, is it active, may its user send.

An SES SMTP user name is an IAM user's access key id (``AKIA…``); the password is derived from that key's
secret. When the key is deleted (a rotation) or deactivated, every client still configured with it
gets ``535 Authentication Credentials Invalid``; when the user lacks ``ses:SendRawEmail`` the login
works and the send is refused with ``554 Access denied``. Read-only calls only.

The key helpers here (:func:`key_id_problem`, :func:`list_keys`, :func:`keys_text`) are shared with the
CloudTrail check.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from maildoctor.checks.common import Analysis, ago, capture, days_between, dump, iso
from maildoctor.checks.registry import Args, CheckContext, CheckResult, Evidence, Facts, check
from maildoctor.clients.aws import GLOBAL_REGION, AwsClient, AwsError

KEY_ID = re.compile(r"^(AKIA|ASIA)[A-Z0-9]{16}$")
SEND_ACTION = "ses:SendRawEmail"
NO_SUCH_ENTITY = ("NoSuchEntity", "NoSuchEntityException")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SMTP_PASSWORD = re.compile(r"^[AB][A-Za-z0-9+/]{42}[A-Za-z0-9+/=]$")  # base64(0x02|0x04 + 32 bytes)
_ARN = re.compile(r"^arn:(?P<partition>[^:]+):iam::(?P<account>\d{12}):")


# ------------------------------------------------------------------------------------------ helpers


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


def newest_first(keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ListAccessKeys' AccessKeyMetadata, newest key first."""
    return sorted(
        keys, key=lambda k: _time(k.get("CreateDate")) or datetime.min.replace(tzinfo=UTC), reverse=True
    )


async def list_keys(aws: AwsClient, user: str) -> list[dict[str, Any]]:
    """IAM ListAccessKeys for ``user``: the AccessKeyMetadata, newest key first (raises AwsError)."""
    listed = await aws.call("iam", "ListAccessKeys", region=GLOBAL_REGION, UserName=user)
    return newest_first(listed.get("AccessKeyMetadata", []))


def keys_text(keys: list[dict[str, Any]]) -> str:
    """ListAccessKeys' answer for evidence: one key a line."""
    lines = [
        f"{k.get('AccessKeyId')}  {k.get('Status')}  created {iso(_time(k.get('CreateDate')))}" for k in keys
    ]
    return "\n".join(lines) or "(no access keys)"


# ------------------------------------------------------------------------------------------ the model


class SmtpKeyArgs(Args):
    smtp_username: str | None = Field(None, description="the SMTP user name: an IAM access key id (AKIA…)")
    sender: str | None = Field(
        None, description="the From address, to simulate the send on its SES identities"
    )
    region: str | None = Field(None, description="the SES region of those identities (default: the client's)")


class OtherKey(Facts):
    id: str | None = Field(None, description="the access key id")
    status: str | None = Field(None, description="Active or Inactive")
    created: str | None = Field(None, description="when it was created (ISO 8601 UTC)")


class SmtpKeyFacts(Facts):
    key_id: str | None = Field(None, description="the access key id checked (None when it is not one)")
    key_type: Literal["long-term", "temporary"] | None = Field(
        None, description="long-term (AKIA…, an IAM user's) or temporary (ASIA…, STS)"
    )
    looks_like: str | None = Field(None, description="what the user name looks like when it is not a key id")
    user: str | None = Field(None, description="the IAM user that owns the key")
    user_arn: str | None = Field(None, description="that user's ARN")
    status: str | None = Field(None, description="the key's status: Active or Inactive")
    created: str | None = Field(None, description="when the key was created (ISO 8601 UTC)")
    age_days: int | None = Field(None, description="the key's age in whole days")
    last_used: str | None = Field(None, description="when the key was last used (ISO 8601 UTC)")
    last_used_service: str | None = Field(
        None, description="the service it was last used with (N/A if never)"
    )
    last_used_region: str | None = Field(None, description="the region it was last used in (N/A if never)")
    other_keys: list[OtherKey] = Field([], description="the user's other access keys")
    active_keys: list[str] = Field([], description="the user's active access key ids, newest first")
    current_key: str | None = Field(None, description="the key the client should use: the newest active one")
    may_send_raw: bool | None = Field(
        None, description=f"whether the user may {SEND_ACTION} (None: not checked)"
    )
    decision: str | None = Field(
        None, description="the policy simulation's decision (allowed, implicitDeny …)"
    )
    simulated_resources: list[str] = Field([], description="the resource ARNs the send was simulated on")
    send_check_note: str | None = Field(None, description=f"why {SEND_ACTION} was not checked")


@dataclass
class SmtpKeyAnalysis(Analysis[SmtpKeyFacts]):
    created: datetime | None = None
    last_used: datetime | None = None


@dataclass
class SendCheck:
    """Whether a user may ses:SendRawEmail: GetUser, then SimulatePrincipalPolicy."""

    arn: str | None = None
    resources: list[str] = field(default_factory=list)
    decision: str | None = None
    note: str | None = None
    evidence: list[Evidence] = field(default_factory=list)

    def apply(self, facts: SmtpKeyFacts) -> None:
        facts.user_arn, facts.simulated_resources = self.arn, self.resources
        facts.send_check_note = self.note
        if self.decision is not None:
            facts.may_send_raw, facts.decision = self.decision == "allowed", self.decision


# ----------------------------------------------------------------------------------- may the user send


def _identity_arns(user_arn: str, sender: str, region: str) -> list[str]:
    """The SES identity ARNs SES authorizes a send from ``sender`` against: the address and its domain."""
    match = _ARN.match(user_arn)
    if not match or "@" not in sender or not region:
        return ["*"]
    prefix = f"arn:{match['partition']}:ses:{region}:{match['account']}:identity/"
    domain = sender.rsplit("@", 1)[1].lower()
    return [prefix + sender, prefix + domain]


def _decision(results: list[dict[str, Any]]) -> str | None:
    """SES authorizes against one of the sender's identities: any allowed one is enough to send."""
    decisions = [str(r.get("EvalDecision", "")) for r in results]
    if not decisions:
        return None
    if "allowed" in decisions:
        return "allowed"
    return "explicitDeny" if "explicitDeny" in decisions else decisions[0]


async def _may_send(aws: AwsClient, user: str, sender: str | None, region: str) -> SendCheck:
    """A failure of either call leaves the decision None and says why in the note: the key's state is
    still known."""
    send = SendCheck()
    try:
        got = await aws.call("iam", "GetUser", region=GLOBAL_REGION, UserName=user)
    except AwsError as err:
        send.evidence.append(Evidence(f"IAM GetUser UserName={user}", f"failed: {err}"))
        send.note = f"{SEND_ACTION} not checked: {err}"
        return send
    info = got.get("User", {})
    keep = ("UserName", "UserId", "Arn", "CreateDate", "PasswordLastUsed")
    send.evidence.append(
        Evidence(f"IAM GetUser UserName={user}", dump({k: info[k] for k in keep if k in info}))
    )
    arn = send.arn = str(info.get("Arn") or "")
    send.resources = _identity_arns(arn, sender, region) if sender else ["*"]
    title = f"IAM SimulatePrincipalPolicy PolicySourceArn={arn} ActionNames=[{SEND_ACTION}] ResourceArns={send.resources}"
    try:
        sim = await aws.call(
            "iam",
            "SimulatePrincipalPolicy",
            region=GLOBAL_REGION,
            PolicySourceArn=arn,
            ActionNames=[SEND_ACTION],
            ResourceArns=send.resources,
        )
    except AwsError as err:
        send.evidence.append(Evidence(title, f"failed: {err}"))
        send.note = f"{SEND_ACTION} not checked: {err}"
        return send
    results = sim.get("EvaluationResults", [])
    shown = ("EvalActionName", "EvalResourceName", "EvalDecision", "MatchedStatements")
    send.evidence.append(Evidence(title, dump([{k: r.get(k) for k in shown} for r in results])))
    send.decision = _decision(results)
    if send.decision is None:
        send.note = f"{SEND_ACTION} not checked: the simulation returned nothing"
    return send


# ------------------------------------------------------------------------------------------ the key


def _shape(a: SmtpKeyAnalysis, value: str) -> bool:
    """Conclude when ``value`` is not a long-term access key id (nothing to ask IAM); True if so."""
    problem = key_id_problem(value)
    if problem is not None:
        a.facts.key_id, a.facts.looks_like = None, problem
        a.conclude(
            "not-a-key",
            "fail",
            f"SES SMTP user names are access key ids like AKIA…; this looks like {problem}",
        )
        return True
    if value.startswith("ASIA"):
        a.facts.key_type = "temporary"
        a.conclude(
            "temporary-key",
            "fail",
            f"{value} is a temporary (STS) access key id: temporary credentials cannot be SES SMTP "
            "credentials; use a long-term access key (AKIA…) of an IAM user",
        )
        return True
    a.facts.key_type = "long-term"
    return False


async def _owner(a: SmtpKeyAnalysis, aws: AwsClient, value: str) -> str | None:
    """GetAccessKeyLastUsed: whose key it is and when it was last used; None (concluded) if not known."""
    title = f"IAM GetAccessKeyLastUsed AccessKeyId={value}"
    try:
        last = await aws.call("iam", "GetAccessKeyLastUsed", region=GLOBAL_REGION, AccessKeyId=value)
    except AwsError as err:
        a.evidence.append(Evidence(title, f"{err.code}: {err.message}"))
        if err.code in NO_SUCH_ENTITY:
            a.conclude(
                "not-found",
                "fail",
                f"access key {value} does not exist in this account: deleted (a rotation?) or from another account",
            )
        else:
            a.could_not_check(err)
        return None
    a.evidence.append(Evidence(title, dump(last)))
    user = str(last.get("UserName") or "")
    used = last.get("AccessKeyLastUsed") or {}
    a.last_used = _time(used.get("LastUsedDate"))
    f = a.facts
    f.user, f.last_used = user or None, iso(a.last_used)
    f.last_used_service, f.last_used_region = used.get("ServiceName"), used.get("Region")
    if not user:  # not seen in practice: IAM always names the owner of a key it knows
        a.could_not_check(f"IAM did not say whose key {value} is")
        return None
    return user


def _key_state(a: SmtpKeyAnalysis, value: str, user: str, keys: list[dict[str, Any]]) -> bool:
    """The key among its user's keys, and the user's current key; True (concluded) if it is gone."""
    f = a.facts
    this = next((k for k in keys if k.get("AccessKeyId") == value), None)
    others = [k for k in keys if k.get("AccessKeyId") != value]
    f.other_keys = [
        OtherKey(id=k.get("AccessKeyId"), status=k.get("Status"), created=iso(_time(k.get("CreateDate"))))
        for k in others
    ]
    f.active_keys = [str(k.get("AccessKeyId")) for k in keys if k.get("Status") == "Active"]
    newest_other_active = next((k.get("AccessKeyId") for k in others if k.get("Status") == "Active"), None)
    if this is None:  # deleted between the two calls
        f.current_key = newest_other_active
        a.conclude(
            "not-found",
            "fail",
            f"access key {value} does not exist any more: it was deleted from {user} just now",
        )
        return True
    f.status = str(this.get("Status"))
    a.created = _time(this.get("CreateDate"))
    f.created, f.age_days = iso(a.created), (days_between(a.created) if a.created else None)
    f.current_key = newest_other_active or (value if f.status == "Active" else None)
    return False


def _verdict(a: SmtpKeyAnalysis, value: str, user: str) -> SmtpKeyAnalysis:
    f = a.facts
    if f.status != "Active":
        now_key = (
            f"{user}'s active key is now {f.current_key}" if f.current_key else f"{user} has no active key"
        )
        return a.conclude(
            "inactive",
            "fail",
            f"access key {value} of {user} is {f.status} (deactivated, e.g. step one of a rotation); {now_key}",
        )
    if f.may_send_raw is False:
        return a.conclude(
            "not-authorized", "fail", f"user {user} may not {SEND_ACTION} ({f.decision}): SMTP sends need it"
        )
    details = [f"created {ago(a.created)}" if a.created else None]
    if a.last_used is not None:
        details.append(f"last used {ago(a.last_used)} with {f.last_used_service} in {f.last_used_region}")
    else:
        details.append("never used")
    may = f"the user may {SEND_ACTION}" if f.may_send_raw else f.send_check_note
    summary = (
        f"{value} is an active access key of IAM user {user} ({', '.join(d for d in details if d)}); {may}"
    )
    return a.conclude("active", "pass", summary)


async def analyze_smtp_key(aws: AwsClient, value: str, sender: str | None, region: str) -> SmtpKeyAnalysis:
    """Whose key ``value`` is, its state among its user's keys, and whether the user may send."""
    a = SmtpKeyAnalysis(SmtpKeyFacts(key_id=value))
    if _shape(a, value):
        return a
    user = await _owner(a, aws, value)
    if user is None:
        return a
    # the user's keys, and (concurrently) whether the user may send
    listed, send = await asyncio.gather(capture(list_keys(aws, user)), _may_send(aws, user, sender, region))
    title = f"IAM ListAccessKeys UserName={user}"
    if isinstance(listed, AwsError):
        a.evidence += [Evidence(title, f"failed: {listed}"), *send.evidence]
        return a.could_not_check(listed)
    a.evidence += [Evidence(title, keys_text(listed)), *send.evidence]
    send.apply(a.facts)
    if _key_state(a, value, user, listed):
        return a
    return _verdict(a, value, user)


@check(
    "iam.smtp_key",
    outcomes={"active", "not-found", "inactive", "temporary-key", "not-authorized", "not-a-key", "skipped"},
    args=SmtpKeyArgs,
    facts=SmtpKeyFacts,
    applies_when=("smtp_username",),
    iam_actions=(
        "iam:GetAccessKeyLastUsed",
        "iam:ListAccessKeys",
        "iam:GetUser",
        "iam:SimulatePrincipalPolicy",
    ),
)
async def smtp_key_check(ctx: CheckContext[SmtpKeyArgs]) -> CheckResult:
    """The SMTP user name is an existing, active access key whose user may ses:SendRawEmail.

    Optional ``sender`` (the From address) and ``region`` (the SES region) make the permission check
    simulate on the sender's SES identity ARNs instead of ``*``, so that a policy scoped to the identity
    is judged right.
    """
    aws = ctx.clients.aws
    value = ctx.args.smtp_username or ""  # present: applies_when
    return (await analyze_smtp_key(aws, value, ctx.args.sender, ctx.args.region or aws.region)).result()
