"""The IAM access key behind the SES SMTP credentials: does it exist, is it active, may its user send.

An SES SMTP user name is an IAM user's access key id (``AKIA…``); the password is derived from that key's
secret. When the key is deleted (a rotation) or deactivated, every client still configured with it
gets ``535 Authentication Credentials Invalid``; when the user lacks ``ses:SendRawEmail`` the login
works and the send is refused with ``554 Access denied``. Read-only calls only.

A key IAM does not hold (GetAccessKeyLastUsed answers moto's ``NoSuchEntity``, or real IAM's probable
``AccessDenied ... on resource: access key AKIA...``) is placed with ``sts:GetAccessKeyInfo`` (the account
that owns any key id, deleted ones included) against ``sts:GetCallerIdentity``: deleted from this
account, another account's key, or (either STS call failing) not known, never a guess. A key whose status
is ``Expired`` (IAM's third status) is reported as expired, not as deactivated.

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
from maildoctor.clients.aws import AwsClient, AwsError

KEY_ID = re.compile(r"^(AKIA|ASIA)[A-Z0-9]{16}$")
SEND_ACTION = "ses:SendRawEmail"
NO_SUCH_ENTITY = ("NoSuchEntity", "NoSuchEntityException")
DENIED = ("AccessDenied", "AccessDeniedException")
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
    listed = await aws.call("iam", "ListAccessKeys", region=aws.global_region, UserName=user)
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
    recipient: str | None = Field(None, description="a recipient, for policies conditioned on ses:Recipients")


class OtherKey(Facts):
    id: str | None = Field(None, description="the access key id")
    status: str | None = Field(None, description="Active, Inactive or Expired")
    created: str | None = Field(None, description="when it was created (ISO 8601 UTC)")


class SmtpKeyFacts(Facts):
    key_id: str | None = Field(None, description="the access key id checked (None when it is not one)")
    key_type: Literal["long-term", "temporary"] | None = Field(
        None, description="long-term (AKIA…, an IAM user's) or temporary (ASIA…, STS)"
    )
    looks_like: str | None = Field(None, description="what the user name looks like when it is not a key id")
    user: str | None = Field(None, description="the IAM user that owns the key")
    user_arn: str | None = Field(None, description="that user's ARN")
    status: str | None = Field(None, description="the key's status: Active, Inactive or Expired")
    created: str | None = Field(None, description="when the key was created (ISO 8601 UTC)")
    age_days: int | None = Field(None, description="the key's age in whole days")
    last_used: str | None = Field(None, description="when the key was last used (ISO 8601 UTC)")
    last_used_service: str | None = Field(
        None, description="the service it was last used with (N/A if never)"
    )
    last_used_region: str | None = Field(None, description="the region it was last used in (N/A if never)")
    key_account: str | None = Field(
        None,
        description="the AWS account that owns the key (sts:GetAccessKeyInfo), when IAM does not hold it",
    )
    checked_account: str | None = Field(
        None, description="the AWS account checked (sts:GetCallerIdentity), when IAM does not hold the key"
    )
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
    """The SES identity ARNs SES may authorize a send from ``sender`` against: the address, its domain
    and the domain's parents (a verified parent domain covers its subdomains)."""
    match = _ARN.match(user_arn)
    if not match or "@" not in sender or not region:
        return ["*"]
    prefix = f"arn:{match['partition']}:ses:{region}:{match['account']}:identity/"
    labels = sender.rsplit("@", 1)[1].lower().rstrip(".").split(".")
    domains = [".".join(labels[i:]) for i in range(max(len(labels) - 1, 1))]
    return [prefix + sender, *(prefix + d for d in domains)]


def _send_context(
    sender: str | None, recipient: str | None, display_name: str | None
) -> list[dict[str, Any]]:
    """The ses:* condition keys of an SMTP send that are known: SES sets them from the message."""
    entries: list[dict[str, Any]] = []
    if sender and "@" in sender:
        entries.append(
            {"ContextKeyName": "ses:FromAddress", "ContextKeyValues": [sender], "ContextKeyType": "string"}
        )
    if recipient and "@" in recipient:
        entries.append(
            {
                "ContextKeyName": "ses:Recipients",
                "ContextKeyValues": [recipient],
                "ContextKeyType": "stringList",
            }
        )
    if display_name:
        entries.append(
            {
                "ContextKeyName": "ses:FromDisplayName",
                "ContextKeyValues": [display_name],
                "ContextKeyType": "string",
            }
        )
    return entries


def _per_resource(results: list[dict[str, Any]]) -> list[tuple[str, str, list[str], list[str]]]:
    """(resource, decision, missing context keys, matched policy ids) per simulated resource: from
    ResourceSpecificResults (the top-level EvalDecision is the most restrictive across the resources),
    or the top level when the simulation was on ``*``."""
    out = []
    for result in results:
        specific = result.get("ResourceSpecificResults") or []
        for r in specific or [result]:
            decision = r.get("EvalResourceDecision") or r.get("EvalDecision") or ""
            missing = r.get("MissingContextValues") or (
                result.get("MissingContextValues") if not specific else []
            )
            matched = [
                str(m.get("SourcePolicyId"))
                for m in r.get("MatchedStatements") or []
                if m.get("SourcePolicyId")
            ]
            out.append((str(r.get("EvalResourceName") or "*"), str(decision), list(missing or []), matched))
    return out


async def _may_send(
    aws: AwsClient,
    user: str,
    sender: str | None,
    region: str,
    recipient: str | None = None,
    display_name: str | None = None,
) -> SendCheck:
    """Whether ``user`` may ses:SendRawEmail as ``sender``, as IAM evaluates it: simulated on the sender's
    address, domain and parent domains, with the ses:* context keys known; allowed on any of them is
    enough. Context keys the policies need and were not given (MissingContextValues) make the answer
    unknown (decision None, said in the note), not denied. A failure of either call leaves the decision
    None and says why in the note: the key's state is still known."""
    send = SendCheck()
    try:
        got = await aws.call("iam", "GetUser", region=aws.global_region, UserName=user)
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
    context = _send_context(sender, recipient, display_name)
    shown_context = ", ".join(f"{c['ContextKeyName']}={c['ContextKeyValues'][0]}" for c in context) or "none"
    title = (
        f"IAM SimulatePrincipalPolicy PolicySourceArn={arn} ActionNames=[{SEND_ACTION}] "
        f"ResourceArns={send.resources} ContextEntries=[{shown_context}]"
    )
    params: dict[str, Any] = {
        "PolicySourceArn": arn,
        "ActionNames": [SEND_ACTION],
        "ResourceArns": send.resources,
    }
    if context:
        params["ContextEntries"] = context
    try:
        sim = await aws.call("iam", "SimulatePrincipalPolicy", region=aws.global_region, **params)
    except AwsError as err:
        send.evidence.append(Evidence(title, f"failed: {err}"))
        send.note = f"{SEND_ACTION} not checked: {err}"
        return send
    results = sim.get("EvaluationResults", [])
    per = _per_resource(results)
    shown = ("EvalActionName", "EvalDecision", "MatchedStatements", "MissingContextValues")
    each = ("EvalResourceName", "EvalResourceDecision", "MatchedStatements", "MissingContextValues")
    send.evidence.append(
        Evidence(
            title,
            dump(
                [
                    {k: r.get(k) for k in shown}
                    | {
                        "ResourceSpecificResults": [
                            {k: x.get(k) for k in each} for x in r.get("ResourceSpecificResults") or []
                        ]
                    }
                    for r in results
                ]
            ),
        )
    )
    decisions = [decision for _, decision, _, _ in per]
    missing_keys = list(
        dict.fromkeys(k for _, decision, ks, _ in per if decision != "explicitDeny" for k in ks)
    )
    if not decisions:
        send.note = f"{SEND_ACTION} not checked: the simulation returned nothing"
    elif any(decision == "allowed" and not missing for _, decision, missing, _ in per):
        send.decision = "allowed"
    elif missing_keys:  # allowed or denied only for want of a value (ForAllValues: passes on none)
        send.note = (
            f"unknown whether {user} may {SEND_ACTION}: a policy statement of {user} has a condition on "
            f"{', '.join(missing_keys)}, which was not known to the simulation (not denied: IAM could not "
            "decide)"
        )
    else:
        send.decision = "explicitDeny" if "explicitDeny" in decisions else decisions[0]
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
        last = await aws.call("iam", "GetAccessKeyLastUsed", region=aws.global_region, AccessKeyId=value)
    except AwsError as err:
        a.evidence.append(Evidence(title, f"{err.code}: {err.message}"))
        if iam_does_not_hold(err, value):
            await _not_held(a, aws, value, err)
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


def iam_does_not_hold(err: AwsError, key_id: str) -> bool:
    """Whether GetAccessKeyLastUsed's error says this account's IAM does not hold ``key_id`` (deleted, or
    another account's): moto's NoSuchEntity, or AccessDenied naming the key itself as the resource
    (``... on resource: access key AKIA...``), what real IAM is taken to answer. A missing permission on a
    key it holds names the user (or ``*``) and is not this."""
    if err.code in NO_SUCH_ENTITY:
        return True
    return err.code in DENIED and f"access key {key_id}" in err.message


async def _not_held(a: SmtpKeyAnalysis, aws: AwsClient, value: str, err: AwsError) -> None:
    """IAM does not hold the key: sts:GetAccessKeyInfo (the owner of any key id, deleted ones included)
    against sts:GetCallerIdentity tells "deleted from this account" from "another account's key"."""
    answered = "NoSuchEntity" if err.code in NO_SUCH_ENTITY else f"{err.code} on the key itself"
    info, caller = await asyncio.gather(
        capture(aws.call("sts", "GetAccessKeyInfo", region=aws.global_region, AccessKeyId=value)),
        capture(aws.call("sts", "GetCallerIdentity", region=aws.global_region)),
    )
    for title, got in (
        (f"STS GetAccessKeyInfo AccessKeyId={value}", info),
        ("STS GetCallerIdentity", caller),
    ):
        shown = f"failed: {got}" if isinstance(got, AwsError) else dump({"Account": got.get("Account")})
        a.evidence.append(Evidence(title, shown))
    f = a.facts
    if not isinstance(info, AwsError):
        f.key_account = str(info.get("Account") or "") or None
    if not isinstance(caller, AwsError):
        f.checked_account = str(caller.get("Account") or "") or None
    failed = next((g for g in (info, caller) if isinstance(g, AwsError)), None)
    why = f"IAM answers {answered} for access key {value}, so this account does not hold it"
    if failed is not None or f.key_account is None or f.checked_account is None:
        cause = str(failed) if failed is not None else "STS did not name the accounts"
        a.could_not_check(
            f"{why}; whether it was deleted here or is another account's key is not known: {cause}"
        )
        return
    if f.key_account == f.checked_account:
        a.conclude(
            "not-found",
            "fail",
            f"access key {value} no longer exists: it is a key of this account ({f.checked_account}) that "
            "IAM does not hold any more, so it was deleted (a rotation?)",
        )
        return
    a.conclude(
        "other-account",
        "fail",
        f"access key {value} belongs to another AWS account ({f.key_account}), not the one checked "
        f"({f.checked_account}): walk again with credentials of account {f.key_account}",
    )


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
        if f.status == "Expired":
            return a.conclude(
                "expired",
                "fail",
                f"access key {value} of {user} is Expired: IAM no longer accepts it, so neither does SES "
                f"SMTP; {now_key}",
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


async def analyze_smtp_key(
    aws: AwsClient, value: str, sender: str | None, region: str, recipient: str | None = None
) -> SmtpKeyAnalysis:
    """Whose key ``value`` is, its state among its user's keys, and whether the user may send."""
    a = SmtpKeyAnalysis(SmtpKeyFacts(key_id=value))
    if _shape(a, value):
        return a
    user = await _owner(a, aws, value)
    if user is None:
        return a
    # the user's keys, and (concurrently) whether the user may send
    listed, send = await asyncio.gather(
        capture(list_keys(aws, user)), _may_send(aws, user, sender, region, recipient)
    )
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
    outcomes={
        "active",
        "not-found",
        "other-account",
        "inactive",
        "expired",
        "temporary-key",
        "not-authorized",
        "not-a-key",
        "skipped",
    },
    args=SmtpKeyArgs,
    facts=SmtpKeyFacts,
    applies_when=("smtp_username",),
    iam_actions=(
        "iam:GetAccessKeyLastUsed",
        "iam:ListAccessKeys",
        "iam:GetUser",
        "iam:SimulatePrincipalPolicy",
        "sts:GetAccessKeyInfo",
        "sts:GetCallerIdentity",
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
    region = ctx.args.region or aws.region
    return (await analyze_smtp_key(aws, value, ctx.args.sender, region, ctx.args.recipient)).result()
