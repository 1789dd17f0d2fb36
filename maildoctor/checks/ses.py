"""SES checks: the identity, the account, Easy DKIM, the custom MAIL FROM domain, DMARC alignment of SES
mail, and the account-level suppression list in every region.

Only read-only SES v2 calls (plus STS GetCallerIdentity for the account id and CloudWatch
GetMetricStatistics for the reputation rates). An :class:`AwsError` on a check's main call gives the
outcome ``error`` with ``could not check: <the error>`` (an AccessDenied names the missing permission).
Evidence shows each request as the AWS CLI would make it and an excerpt of the answer; facts are
JSON-safe (datetimes as ISO 8601 strings). The DNS parts reuse :mod:`maildoctor.checks.dns`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from maildoctor.checks.dns import (
    DKIM_TTL,
    analyze_dmarc,
    check_dkim_tokens,
    mail_from_check,
)
from maildoctor.checks.registry import CheckContext, CheckResult, Evidence, Status, check
from maildoctor.clients.aws import AwsClient, AwsError
from maildoctor.clients.dns import DnsAnswer
from maildoctor.dnsauth.domains import (
    normalize_domain,
    organizational_domain,
    relaxed_aligned,
    strict_aligned,
    zone_line,
)

BOUNCE_REVIEW = 0.05
COMPLAINT_REVIEW = 0.001
BOUNCE_PAUSE = 0.10
COMPLAINT_PAUSE = 0.005
NOT_FOUND = "NotFoundException"

T = TypeVar("T")


# --------------------------------------------------------------------------------------------- helpers


def _region(ctx: CheckContext) -> str:
    return (ctx.arg("region") or ctx.clients.aws.region).strip().lower()


def jsonable(value: Any) -> Any:
    """A boto3 answer made JSON-safe: datetimes as ISO 8601 (UTC), bytes as text, tuples as lists."""
    if isinstance(value, datetime):
        when = value if value.tzinfo else value.replace(tzinfo=UTC)
        return when.astimezone(UTC).isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _num(value: Any) -> int | float | None:
    if value is None:
        return None
    number = float(value)
    return int(number) if number.is_integer() else number


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.3g}%"


def _excerpt(response: dict[str, Any], keys: Sequence[str]) -> str:
    """A few keys of an answer as indented JSON."""
    picked = {k: response[k] for k in keys if k in response}
    return json.dumps(jsonable(picked), indent=2)


def _cli(operation: str, region: str, **params: str) -> str:
    command = "".join("-" + c.lower() if c.isupper() else c for c in operation).lstrip("-")
    args = " ".join(
        f"--{''.join('-' + c.lower() if c.isupper() else c for c in k).lstrip('-')} {v}"
        for k, v in params.items()
    )
    return f"$ aws sesv2 {command} {args} --region {region}".replace("  ", " ")


def _could_not(err: AwsError, facts: dict[str, Any], evidence: list[Evidence]) -> CheckResult:
    return CheckResult("error", "error", f"could not check: {err}", facts, evidence)


async def _attempt(call: Awaitable[T]) -> T | AwsError:
    """The answer, or the AwsError that came back instead (so that one gather sees every region)."""
    try:
        return await call
    except AwsError as err:
        return err


def domain_chain(domain: str) -> list[str]:
    """The domain and its parents down to the organizational domain, most specific first:
    ``a.b.example.co.uk`` -> ``a.b.example.co.uk, b.example.co.uk, example.co.uk``. An SES domain
    identity covers its subdomains, so each of these can be the identity that sends for ``domain``."""
    domain = normalize_domain(domain)
    if not domain:
        return []
    org = organizational_domain(domain)
    if org == domain or not domain.endswith("." + org):
        return [domain]
    labels = domain.split(".")
    depth = len(org.split("."))
    return [".".join(labels[i:]) for i in range(len(labels) - depth + 1)]


IDENTITY_KEYS = ("IdentityType", "VerifiedForSendingStatus", "VerificationStatus", "VerificationInfo",
                 "DkimAttributes", "MailFromAttributes")  # fmt: skip


@dataclass
class IdentityLookup:
    """One GetEmailIdentity: the answer (None when SES says NotFound) or the error."""

    name: str
    region: str
    response: dict[str, Any] | None = None
    error: AwsError | None = None

    @property
    def found(self) -> bool:
        return self.response is not None

    @property
    def verified(self) -> bool:
        return bool(self.response and self.response.get("VerifiedForSendingStatus"))

    @property
    def type(self) -> str | None:
        return self.response.get("IdentityType") if self.response else None

    @property
    def status(self) -> str | None:
        return self.response.get("VerificationStatus") if self.response else None

    @property
    def dkim(self) -> dict[str, Any]:
        return dict((self.response or {}).get("DkimAttributes") or {})

    @property
    def mail_from(self) -> dict[str, Any]:
        return dict((self.response or {}).get("MailFromAttributes") or {})

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "verification_status": self.status,
            "verified_for_sending": self.verified,
        }

    def evidence(self) -> Evidence:
        ask = _cli("GetEmailIdentity", self.region, EmailIdentity=self.name)
        if self.error is not None:
            answer = f"{self.error.code}: {self.error.message}"
        elif self.response is None:
            answer = f"{NOT_FOUND}: Email identity {self.name} does not exist."
        else:
            answer = _excerpt(self.response, IDENTITY_KEYS)
        return Evidence(f"GetEmailIdentity {self.name} ({self.region})", f"{ask}\n{answer}")


async def get_identity(aws: AwsClient, region: str, name: str) -> IdentityLookup:
    """GetEmailIdentity, with NotFound as an answer and any other failure kept in ``error``."""
    try:
        response = await aws.call("sesv2", "GetEmailIdentity", region=region, EmailIdentity=name)
    except AwsError as err:
        if err.code == NOT_FOUND:
            return IdentityLookup(name, region)
        return IdentityLookup(name, region, error=err)
    return IdentityLookup(name, region, response=response)


async def get_identities(aws: AwsClient, region: str, names: Iterable[str]) -> list[IdentityLookup]:
    return list(await asyncio.gather(*(get_identity(aws, region, n) for n in dict.fromkeys(names))))


def _first_error(lookups: Iterable[IdentityLookup]) -> AwsError | None:
    return next((lk.error for lk in lookups if lk.error is not None), None)


async def _account_id(aws: AwsClient) -> str:
    try:
        answer = await aws.call("sts", "GetCallerIdentity")
    except AwsError:
        return "*"
    return str(answer.get("Account") or "*")


def _domain_identity(lookups: Sequence[IdentityLookup], chain: Sequence[str]) -> IdentityLookup | None:
    """The most specific domain identity among ``chain`` that exists."""
    by_name = {lk.name: lk for lk in lookups}
    for name in chain:
        lk = by_name.get(name)
        if lk is not None and lk.found:
            return lk
    return None


# ------------------------------------------------------------------------------------------ identity


@check(
    "ses.identity",
    outcomes={"pass", "not-found", "unverified"},
    args={"sender", "region"},
    required_args={"sender"},
    iam_actions=("ses:GetEmailIdentity", "sts:GetCallerIdentity"),
)
async def identity_check(ctx: CheckContext) -> CheckResult:
    """The sender's address or domain (or a parent domain) is an SES identity verified for sending."""
    aws = ctx.clients.aws
    sender = ctx.arg("sender")
    region = _region(ctx)
    domain = normalize_domain(sender)
    address = sender if "@" in sender else None
    chain = domain_chain(domain)
    facts: dict[str, Any] = {
        "sender": sender,
        "domain": domain,
        "region": region,
        "identities": [],
        "verified_identity": None,
        "identity_arn": None,
        "found_in_regions": [],
        "found_elsewhere": [],
        "unchecked_regions": [],
        "verification_error": None,
        "account_id": None,
    }
    if not domain:
        return CheckResult("error", "error", "could not check: no sender address given", facts)
    names = ([address] if address else []) + chain
    lookups, account = await asyncio.gather(get_identities(aws, region, names), _account_id(aws))
    evidence = [lk.evidence() for lk in lookups]
    err = _first_error(lookups)
    if err is not None:
        return _could_not(err, facts, evidence)
    found = [lk for lk in lookups if lk.found]
    facts["identities"] = [lk.summary() for lk in found]
    verified = next((lk for lk in found if lk.verified), None)  # the address first, then the domains
    subject = verified or (found[0] if found else None)
    arn_name = subject.name if subject else domain
    facts["identity_arn"] = f"arn:aws:ses:{region}:{account}:identity/{arn_name}"
    facts["account_id"] = account
    error_types = [
        str((lk.response or {}).get("VerificationInfo", {}).get("ErrorType"))
        for lk in ([verified] if verified else found)
        if (lk.response or {}).get("VerificationInfo", {}).get("ErrorType")
    ]
    facts["verification_error"] = error_types[0] if error_types else None

    if verified is not None:
        facts["verified_identity"] = verified.name
        kind = "address" if verified.type == "EMAIL_ADDRESS" else "domain"
        summary = f"{verified.name} is verified for sending in {region}"
        if verified.name.lower() != sender.lower():
            summary += f" (the {kind} identity covers {sender})"
        return CheckResult("pass", "pass", summary, facts, evidence)

    if found:
        parts = []
        for lk in found:
            part = f"{lk.name} ({lk.status or 'unknown status'}"
            error_type = (lk.response or {}).get("VerificationInfo", {}).get("ErrorType")
            if error_type:
                part += f", error {error_type}"
            dkim_status = lk.dkim.get("Status")
            if lk.type == "DOMAIN" and dkim_status and dkim_status != "SUCCESS":
                part += f", DKIM {dkim_status}: SES verifies a domain through its DKIM records"
            if lk.type == "EMAIL_ADDRESS" and lk.status == "PENDING":
                part += ": the link in SES's verification mail has not been followed"
            parts.append(part + ")")
        summary = (
            f"{' and '.join(parts)} {'exists' if len(found) == 1 else 'exist'} in {region} but "
            f"{'is' if len(found) == 1 else 'are'} not verified for sending"
        )
        return CheckResult("unverified", "fail", summary, facts, evidence)

    # Not in the sending region: is it verified somewhere else? (A common slip: a different region.)
    others = [r for r in aws.ses_regions() if r != region]
    elsewhere_names = ([address] if address else []) + chain
    per_region = await asyncio.gather(*(get_identities(aws, r, elsewhere_names) for r in others))
    found_elsewhere: list[dict[str, Any]] = []
    unchecked: list[dict[str, str]] = []
    absent: list[str] = []
    for other, region_lookups in zip(others, per_region, strict=True):
        hits = [lk for lk in region_lookups if lk.found]
        error = _first_error(region_lookups)
        for lk in hits:
            found_elsewhere.append({"region": other, **lk.summary()})
        if error is not None and not hits:
            unchecked.append({"region": other, "code": error.code, "reason": str(error)})
        elif not hits:
            absent.append(other)
    regions = sorted({f["region"] for f in found_elsewhere})
    facts["found_in_regions"] = regions
    facts["found_elsewhere"] = found_elsewhere
    facts["unchecked_regions"] = unchecked
    lines = [
        f"{f['region']}: {f['name']} ({f['type']}, {f['verification_status']}"
        + (", verified for sending)" if f["verified_for_sending"] else ", not verified for sending)")
        for f in found_elsewhere
    ]
    lines += [f"{u['region']}: could not check: {u['reason']}" for u in unchecked]
    lines.append(f"not found in {len(absent)} other region(s): {', '.join(absent) or '-'}")
    evidence.append(
        Evidence(
            f"GetEmailIdentity {', '.join(elsewhere_names)} in {len(others)} other regions",
            "\n".join(lines),
        )
    )
    if len(elsewhere_names) == 1:
        summary = f"{domain} is not an SES identity in {region}"
    elif len(elsewhere_names) == 2:
        summary = f"neither {elsewhere_names[0]} nor {elsewhere_names[1]} is an SES identity in {region}"
    else:
        summary = f"none of {', '.join(elsewhere_names)} is an SES identity in {region}"
    if regions:
        summary += f"; found in {', '.join(regions)}: send from there, or create and verify it in {region}"
    else:
        summary += "; not in any other SES region either"
        if unchecked:
            summary += f" ({len(unchecked)} region(s) could not be checked)"
    return CheckResult("not-found", "fail", summary, facts, evidence)


# ------------------------------------------------------------------------------------------- account


async def _max_rate(aws: AwsClient, region: str, metric: str, now: datetime) -> dict[str, Any]:
    """The highest value of an AWS/SES reputation metric over the last 24 hours, by the hour."""
    answer = await aws.call(
        "cloudwatch",
        "GetMetricStatistics",
        region=region,
        Namespace="AWS/SES",
        MetricName=metric,
        StartTime=now - timedelta(hours=24),
        EndTime=now,
        Period=3600,
        Statistics=["Maximum"],
    )
    return answer


def _rate_of(answer: dict[str, Any] | AwsError) -> float | None:
    if isinstance(answer, AwsError):
        return None
    points = [p.get("Maximum") for p in answer.get("Datapoints") or []]
    values = [float(v) for v in points if v is not None]
    return max(values) if values else None


def _rate_text(rate: float | None, answer: dict[str, Any] | AwsError) -> str:
    if isinstance(answer, AwsError):
        return f"unknown ({answer.code})"
    return "no data" if rate is None else _pct(rate)


@check(
    "ses.account",
    outcomes={"pass", "sandbox", "sending-paused", "under-review", "quota-exhausted"},
    args={"region", "recipient"},
    iam_actions=("ses:GetAccount", "ses:GetEmailIdentity", "cloudwatch:GetMetricStatistics"),
)
async def account_check(ctx: CheckContext) -> CheckResult:
    """The SES account may send: production access, sending enabled, healthy, quota left."""
    aws = ctx.clients.aws
    region = _region(ctx)
    recipient = ctx.arg("recipient")
    now = datetime.now(UTC).replace(microsecond=0)
    facts: dict[str, Any] = {"region": region, "recipient": recipient or None}
    recipient_names = ([recipient] if "@" in recipient else []) + domain_chain(recipient) if recipient else []
    account_answer, bounce_answer, complaint_answer, recipient_lookups = await asyncio.gather(
        _attempt(aws.call("sesv2", "GetAccount", region=region)),
        _attempt(_max_rate(aws, region, "Reputation.BounceRate", now)),
        _attempt(_max_rate(aws, region, "Reputation.ComplaintRate", now)),
        get_identities(aws, region, recipient_names),
    )
    ask = _cli("GetAccount", region)
    if isinstance(account_answer, AwsError):
        evidence = [
            Evidence(f"GetAccount ({region})", f"{ask}\n{account_answer.code}: {account_answer.message}")
        ]
        return _could_not(account_answer, facts, evidence)
    acct = account_answer
    evidence = [
        Evidence(
            f"GetAccount ({region})",
            f"{ask}\n"
            + _excerpt(
                acct,
                ("ProductionAccessEnabled", "SendingEnabled", "EnforcementStatus", "SendQuota", "Details"),
            ),
        )
    ]
    quota = acct.get("SendQuota") or {}
    max_24h = _num(quota.get("Max24HourSend"))
    sent = _num(quota.get("SentLast24Hours")) or 0
    used_pct = round(sent / max_24h * 100, 1) if max_24h and max_24h > 0 else None
    production = bool(acct.get("ProductionAccessEnabled"))
    sending = bool(acct.get("SendingEnabled", True))
    enforcement = acct.get("EnforcementStatus")
    review = ((acct.get("Details") or {}).get("ReviewDetails") or {}).get("Status")
    bounce, complaint = _rate_of(bounce_answer), _rate_of(complaint_answer)
    metric_lines = []
    for metric, answer in (
        ("Reputation.BounceRate", bounce_answer),
        ("Reputation.ComplaintRate", complaint_answer),
    ):
        head = (
            f"$ aws cloudwatch get-metric-statistics --namespace AWS/SES --metric-name {metric} "
            f"--statistics Maximum --period 3600 --start-time {(now - timedelta(hours=24)).isoformat()} "
            f"--end-time {now.isoformat()} --region {region}"
        )
        if isinstance(answer, AwsError):
            body = f"{answer.code}: {answer.message}"
        else:
            points = sorted(answer.get("Datapoints") or [], key=lambda p: p.get("Timestamp") or now)
            body = f"{len(points)} datapoint(s)" + (
                "; highest " + _pct(max(float(p.get("Maximum", 0)) for p in points))
                if points
                else ": no data"
            )
        metric_lines.append(f"{head}\n{body}")
    evidence.append(Evidence(f"CloudWatch AWS/SES reputation, last 24 h ({region})", "\n".join(metric_lines)))

    # Is the recipient a verified identity (the sandbox delivers only to those)?
    recipient_verified: bool | None = None
    recipient_error = _first_error(recipient_lookups)
    if recipient_lookups:
        evidence += [lk.evidence() for lk in recipient_lookups]
        if any(lk.verified for lk in recipient_lookups):
            recipient_verified = True
        elif recipient_error is None:
            recipient_verified = False

    facts.update(
        production_access=production,
        sending_enabled=sending,
        enforcement_status=enforcement,
        review_status=review,
        max_24h_send=max_24h,
        sent_last_24h=sent,
        quota_used_pct=used_pct,
        max_send_rate=_num(quota.get("MaxSendRate")),
        bounce_rate=bounce,
        complaint_rate=complaint,
        bounce_review_level=BOUNCE_REVIEW,
        complaint_review_level=COMPLAINT_REVIEW,
        recipient_verified=recipient_verified,
        metric_errors=[str(a) for a in (bounce_answer, complaint_answer) if isinstance(a, AwsError)],
    )

    problems: list[str] = []
    paused: list[str] = []
    if not sending:
        paused.append("sending is disabled (SendingEnabled false)")
    if enforcement == "SHUTDOWN":
        paused.append("the account is shut down (EnforcementStatus SHUTDOWN)")
    problems += paused
    exhausted = max_24h is not None and max_24h > 0 and sent >= max_24h
    if exhausted:
        problems.append(f"the 24-hour quota is used up: {sent} of {max_24h} sent in the last 24 hours")
    review_reasons: list[str] = []
    if enforcement == "PROBATION":
        review_reasons.append("the account is on probation (EnforcementStatus PROBATION)")
    if bounce is not None and bounce >= BOUNCE_REVIEW:
        level = "pause" if bounce >= BOUNCE_PAUSE else "review"
        limit = BOUNCE_PAUSE if level == "pause" else BOUNCE_REVIEW
        review_reasons.append(
            f"the bounce rate {_pct(bounce)} is at or above the {_pct(limit)} {level} level"
        )
    if complaint is not None and complaint >= COMPLAINT_REVIEW:
        level = "pause" if complaint >= COMPLAINT_PAUSE else "review"
        limit = COMPLAINT_PAUSE if level == "pause" else COMPLAINT_REVIEW
        review_reasons.append(
            f"the complaint rate {_pct(complaint)} is at or above the {_pct(limit)} {level} level"
        )
    problems += review_reasons
    if not production:
        request = f" (production access request: {review})" if review else ""
        if recipient and recipient_verified is False:
            problems.append(
                f"the account is in the SES sandbox{request} and {recipient} is not a verified identity"
            )
        else:
            problems.append(
                f"the account is in the SES sandbox{request}: it delivers only to verified identities"
            )
    elif review in ("PENDING", "DENIED", "FAILED"):
        problems.append(f"the latest account review (ReviewDetails) is {review}")
    facts["problems"] = problems

    def also(shown: Sequence[str]) -> str:
        rest = [p for p in problems if p not in shown]
        return f"; also: {'; '.join(rest)}" if rest else ""

    if paused:
        summary = f"sending is paused for the account in {region}: {'; '.join(paused)}{also(paused)}"
        return CheckResult("sending-paused", "fail", summary, facts, evidence)
    if exhausted:
        shown = [problems[len(paused)]]
        summary = (
            f"the 24-hour sending quota in {region} is used up: {sent} of {max_24h} messages sent in the last "
            f"24 hours; SES refuses more until the window moves on or the quota is raised{also(shown)}"
        )
        return CheckResult("quota-exhausted", "fail", summary, facts, evidence)
    if review_reasons:
        summary = (
            f"the account in {region} is under review: {'; '.join(review_reasons)}{also(review_reasons)}"
        )
        return CheckResult("under-review", "warn", summary, facts, evidence)
    if not production:
        request = f"; the production access request is {review}" if review else ""
        if recipient and recipient_verified is False:
            summary = (
                f"the account is in the SES sandbox in {region} and {recipient} is not a verified identity "
                f"there: the sandbox delivers only to verified addresses and domains{request}"
            )
            return CheckResult("sandbox", "fail", summary, facts, evidence)
        if recipient and recipient_verified:
            summary = (
                f"the account is in the SES sandbox in {region}, but {recipient} is a verified identity, "
                f"so the sandbox lets it receive{request}"
            )
            return CheckResult("pass", "pass", summary, facts, evidence)
        why = (
            f"could not tell whether {recipient} is verified: {recipient_error}"
            if recipient_error
            else "no recipient given to check"
        )
        summary = (
            f"the account is in the SES sandbox in {region}: it delivers only to verified addresses and "
            f"domains ({why}){request}"
        )
        return CheckResult("pass", "warn", summary, facts, evidence)
    rates = f"bounce {_rate_text(bounce, bounce_answer)}, complaint {_rate_text(complaint, complaint_answer)}"
    used = f" ({used_pct}%)" if used_pct is not None else ""
    summary = (
        f"the account in {region} has production access and may send: {sent} of {max_24h} sent in 24 h"
        f"{used}, {rates}{also([])}"
    )
    return CheckResult("pass", "warn" if problems else "pass", summary, facts, evidence)


# ---------------------------------------------------------------------------------------------- DKIM

_WRONG = ("missing", "no-cname", "wrong-target")


async def _covering_domain_identity(
    aws: AwsClient, region: str, domain: str
) -> tuple[IdentityLookup | None, list[IdentityLookup], AwsError | None]:
    """The most specific domain identity that covers ``domain`` (itself or a parent) in ``region``."""
    chain = domain_chain(domain)
    lookups = await get_identities(aws, region, chain)
    return _domain_identity(lookups, chain), lookups, _first_error(lookups)


def _dkim_records_to_add(records: list[dict[str, Any]]) -> list[str]:
    return [zone_line(r["name"], DKIM_TTL, "CNAME", r["expected"] + ".") for r in records]


@check(
    "ses.dkim",
    outcomes={"pass", "records-missing", "not-verified", "not-enabled"},
    args={"domain", "region"},
    required_args={"domain"},
    iam_actions=("ses:GetEmailIdentity",),
)
async def dkim_check(ctx: CheckContext) -> CheckResult:
    """SES signs for the domain with DKIM: signing on, the Easy DKIM CNAMEs in DNS, status SUCCESS."""
    aws = ctx.clients.aws
    region = _region(ctx)
    domain = normalize_domain(ctx.arg("domain"))
    facts: dict[str, Any] = {
        "domain": domain,
        "region": region,
        "identity": None,
        "status": None,
        "signing_enabled": None,
        "origin": None,
        "tokens": [],
        "records": [],
        "records_to_add": [],
        "missing_count": 0,
    }
    if not domain:
        return CheckResult("error", "error", "could not check: no domain given", facts)
    identity, lookups, err = await _covering_domain_identity(aws, region, domain)
    evidence = [lk.evidence() for lk in lookups]
    if err is not None and identity is None:
        return _could_not(err, facts, evidence)
    if identity is None:
        summary = f"no domain identity for {domain} in {region}: DKIM not checked"
        return CheckResult("not-enabled", "skipped", summary, facts, evidence)
    dkim = identity.dkim
    status = dkim.get("Status")
    signing = bool(dkim.get("SigningEnabled"))
    origin = dkim.get("SigningAttributesOrigin") or "AWS_SES"
    tokens = [str(t) for t in dkim.get("Tokens") or []]
    name = identity.name
    via = f" (through the parent identity {name})" if name != domain else ""
    facts.update(identity=name, status=status, signing_enabled=signing, origin=origin, tokens=tokens)

    not_signing = f"SES does not sign mail from {domain} with DKIM{via} (SigningEnabled false): DMARC can only align through SPF"
    if origin == "EXTERNAL":
        note = (
            f"{name} uses your own DKIM key (BYODKIM): its record is the TXT record at "
            f"<your selector>._domainkey.{name}, not checked here"
        )
        facts["problems"] = []
        if status != "SUCCESS":
            summary = f"SES reports DKIM status {status} for {name}{via}; {note}"
            facts["problems"] = [f"DKIM status {status}"]
            return CheckResult("not-verified", "fail", summary, facts, evidence)
        if not signing:
            return CheckResult("not-enabled", "warn", not_signing, facts, evidence)
        return CheckResult(
            "pass", "pass", f"SES signs for {domain}{via} with DKIM, status SUCCESS; {note}", facts, evidence
        )

    if not tokens:
        facts["problems"] = [f"no Easy DKIM tokens for {name} (DKIM status {status})"]
        summary = f"DKIM is not set up for {name}{via} (no Easy DKIM tokens, status {status})"
        if not signing:
            summary = not_signing
        return CheckResult("not-enabled", "warn", summary, facts, evidence)

    records, answers = await check_dkim_tokens(ctx.clients.dns, name, tokens)
    evidence += [_dns_evidence(a) for a in answers]
    wrong = [r for r in records if r["status"] in _WRONG]
    failed = [r for r in records if r["status"] != "ok" and r["status"] not in _WRONG]
    problems = [r["detail"] for r in wrong + failed]
    if status != "SUCCESS":
        problems.append(f"SES reports DKIM status {status}")
    if not signing:
        problems.append("DKIM signing is disabled (SigningEnabled false)")
    facts.update(
        records=records,
        missing_count=len(wrong),
        records_to_add=_dkim_records_to_add(wrong),
        problems=problems,
    )
    if wrong:
        unchecked = f"; {len(failed)} could not be checked" if failed else ""
        summary = (
            f"{len(wrong)} of {len(records)} DKIM CNAME records for {name} missing or wrong: "
            + "; ".join(r["detail"] for r in wrong)
            + f"{unchecked} (SES reports DKIM status {status})"
        )
        return CheckResult("records-missing", "fail", summary, facts, evidence)
    if failed:
        first = failed[0]["detail"]
        more = f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""
        return CheckResult("error", "error", f"could not check: {first}{more}", facts, evidence)
    if status != "SUCCESS":
        if status == "FAILED":
            when = (
                "SES has stopped checking (FAILED): now that the records are right, restart DKIM "
                "verification for the identity (SES console: the identity's DKIM panel)"
            )
        else:
            when = (
                "SES re-checks the records on its own schedule (it can take up to 72 hours after they appear)"
            )
        summary = (
            f"all {len(records)} DKIM CNAME records for {name} are right, but SES reports DKIM status {status}: "
            f"{when}"
        )
        if not signing:
            summary += "; signing is also disabled"
        return CheckResult("not-verified", "fail", summary, facts, evidence)
    if not signing:
        return CheckResult("not-enabled", "warn", not_signing, facts, evidence)
    summary = f"SES signs for {domain}{via} with Easy DKIM (status SUCCESS); all {len(records)} CNAME records are in place"
    return CheckResult("pass", "pass", summary, facts, evidence)


def _dns_evidence(answer: DnsAnswer) -> Evidence:
    return Evidence(f"{answer.rdtype} {answer.name}", answer.describe())


# ----------------------------------------------------------------------------------------- MAIL FROM

_BEHAVIOR = {
    "REJECT_MESSAGE": "BehaviorOnMxFailure is REJECT_MESSAGE: SES rejects mail from this identity "
    "('Mail FROM domain is not verified') until the MAIL FROM domain verifies",
    "USE_DEFAULT_VALUE": "BehaviorOnMxFailure is USE_DEFAULT_VALUE: SES falls back to a MAIL FROM under "
    "amazonses.com, so mail goes out but SPF does not align",
}


@check(
    "ses.mail_from",
    outcomes={"pass", "skipped", "not-verified", "mx-missing", "spf-missing"},
    args={"domain", "region"},
    required_args={"domain"},
    iam_actions=("ses:GetEmailIdentity",),
)
async def mail_from_ses_check(ctx: CheckContext) -> CheckResult:
    """The identity's custom MAIL FROM domain has its MX and SPF records and SES has verified it."""
    aws = ctx.clients.aws
    region = _region(ctx)
    domain = normalize_domain(ctx.arg("domain"))
    expected = f"feedback-smtp.{region}.amazonses.com"
    facts: dict[str, Any] = {
        "domain": domain,
        "identity": None,
        "mail_from_domain": None,
        "region": region,
        "status": None,
        "behavior_on_mx_failure": None,
        "mx": [],
        "expected_mx": expected,
        "spf_record": None,
        "problems": [],
        "records_to_add": [],
    }
    if not domain:
        return CheckResult("error", "error", "could not check: no domain given", facts)
    identity, lookups, err = await _covering_domain_identity(aws, region, domain)
    evidence = [lk.evidence() for lk in lookups]
    if err is not None and identity is None:
        return _could_not(err, facts, evidence)
    if identity is None:
        summary = f"no domain identity for {domain} in {region}: no custom MAIL FROM domain to check"
        return CheckResult("skipped", "skipped", summary, facts, evidence)
    attrs = identity.mail_from
    mail_from = normalize_domain(str(attrs.get("MailFromDomain") or ""))
    status = attrs.get("MailFromDomainStatus")
    behavior = attrs.get("BehaviorOnMxFailure")
    facts.update(identity=identity.name, mail_from_domain=mail_from or None, status=status,
                 behavior_on_mx_failure=behavior)  # fmt: skip
    if not mail_from:
        summary = "no custom MAIL FROM domain: SES uses amazonses.com, so SPF cannot align"
        return CheckResult("skipped", "info", summary, facts, evidence)

    dns_ctx = CheckContext(
        clients=ctx.clients,
        args={"mail_from_domain": mail_from, "region": region, "identity_domain": identity.name},
        inputs=ctx.inputs,
        facts=ctx.facts,
    )
    dns_result = await mail_from_check(dns_ctx)
    evidence += dns_result.evidence
    dns_facts = dns_result.facts
    problems = list(dns_facts.get("problems") or [])
    facts.update(
        mx=list(dns_facts.get("mx") or []),
        expected_mx=dns_facts.get("expected_mx", expected),
        spf_record=dns_facts.get("spf_record"),
        spf_records=list(dns_facts.get("spf_records") or []),
        records_to_add=list(dns_facts.get("records_to_add") or []),
    )
    status_problem = None
    if status != "SUCCESS":
        status_problem = f"SES reports the MAIL FROM status of {mail_from} as {status}"
        if behavior in _BEHAVIOR:
            status_problem += f"; {_BEHAVIOR[behavior]}"
        problems.append(status_problem)
    facts["problems"] = problems

    if dns_result.outcome in ("mx-missing", "spf-missing", "error"):
        summary = dns_result.summary
        if status_problem and dns_result.outcome != "error":
            summary += f" (SES status {status}, BehaviorOnMxFailure {behavior})"
        return CheckResult(dns_result.outcome, dns_result.status, summary, facts, evidence)
    if status_problem:
        summary = (
            f"the MX and SPF records of {mail_from} are right, but SES reports its MAIL FROM status as "
            f"{status} (SES re-checks on its own schedule); {_BEHAVIOR.get(str(behavior), f'BehaviorOnMxFailure {behavior}')}"
        )
        return CheckResult("not-verified", "fail", summary, facts, evidence)
    summary = f"custom MAIL FROM {mail_from} is verified (SUCCESS): {dns_result.summary.removeprefix(f'MAIL FROM {mail_from}: ')}"
    status_out: Status = "warn" if dns_result.status == "warn" else "pass"
    return CheckResult("pass", status_out, summary, facts, evidence)


# ------------------------------------------------------------------------------------ DMARC alignment


@check(
    "ses.dmarc_alignment",
    outcomes={"pass", "unaligned", "skipped"},
    args={"domain", "region"},
    required_args={"domain"},
    iam_actions=("ses:GetEmailIdentity",),
)
async def dmarc_alignment_check(ctx: CheckContext) -> CheckResult:
    """Mail SES sends for the From domain can pass DMARC: DKIM or SPF aligns as the policy asks."""
    aws = ctx.clients.aws
    region = _region(ctx)
    domain = normalize_domain(ctx.arg("domain"))
    facts: dict[str, Any] = {
        "domain": domain,
        "region": region,
        "policy": None,
        "adkim": None,
        "aspf": None,
        "dkim_aligned": None,
        "spf_aligned": None,
        "dkim_reason": None,
        "spf_reason": None,
        "dmarc_record": None,
        "found_at": None,
    }
    if not domain:
        return CheckResult("error", "error", "could not check: no domain given", facts)
    dmarc, (identity, lookups, err) = await asyncio.gather(
        analyze_dmarc(ctx.clients.dns, domain), _covering_domain_identity(aws, region, domain)
    )
    evidence = [_dns_evidence(a) for a in dmarc.answers]
    record = dmarc.parsed
    policy = dmarc.effective_policy
    facts.update(
        policy=policy,
        adkim=record.adkim if record else None,
        aspf=record.aspf if record else None,
        dmarc_record=record.text if record else None,
        found_at=dmarc.found_at,
    )
    if dmarc.outcome == "error":
        return CheckResult("error", "error", dmarc.summary, facts, evidence)
    if record is None or policy in (None, "none") or len(dmarc.records) > 1:
        if record is None:
            why = "no DMARC record"
        elif len(dmarc.records) > 1:
            why = f"{len(dmarc.records)} DMARC records at {dmarc.found_at} (receivers then apply none)"
        else:
            why = f"the DMARC policy at {dmarc.found_at} is {policy or 'missing or invalid'}"
        return CheckResult("skipped", "skipped", f"{why}: DMARC does not enforce", facts, evidence)
    evidence += [lk.evidence() for lk in lookups]
    if err is not None and identity is None:
        return _could_not(err, facts, evidence)
    assert record is not None
    adkim, aspf = record.adkim, record.aspf

    # DKIM: SES signs with d=<the domain identity> when Easy DKIM (or BYODKIM) is on and verified.
    dkim_aligned = False
    signing_domain: str | None = None
    if identity is None:
        dkim_reason = (
            f"no domain identity covers {domain} in {region}: SES signs only with d=amazonses.com, "
            "which does not align"
        )
    else:
        dkim = identity.dkim
        if not dkim.get("SigningEnabled"):
            dkim_reason = f"SES does not sign with DKIM for {identity.name} (SigningEnabled false)"
        elif dkim.get("Status") != "SUCCESS":
            dkim_reason = f"DKIM for {identity.name} is not verified (status {dkim.get('Status')}): SES does not sign with it yet"
        else:
            signing_domain = identity.name
            if adkim == "s":
                dkim_aligned = strict_aligned(signing_domain, domain)
                dkim_reason = (
                    f"d={signing_domain} equals the From domain (strict)"
                    if dkim_aligned
                    else f"d={signing_domain} is not exactly {domain}, and adkim=s requires that"
                )
            else:
                dkim_aligned = relaxed_aligned(signing_domain, domain)
                dkim_reason = (
                    f"d={signing_domain} has the same organizational domain as {domain} (relaxed)"
                    if dkim_aligned
                    else f"d={signing_domain} is not in {domain}'s organizational domain"
                )

    # SPF: only through a custom MAIL FROM domain that SES has verified (else MAIL FROM is amazonses.com).
    spf_aligned = False
    mail_from: str | None = None
    attrs = identity.mail_from if identity else {}
    configured = normalize_domain(str(attrs.get("MailFromDomain") or ""))
    if not configured:
        spf_reason = (
            "no custom MAIL FROM domain: SES uses a MAIL FROM under amazonses.com, which does not align"
        )
    elif attrs.get("MailFromDomainStatus") != "SUCCESS":
        spf_reason = (
            f"the custom MAIL FROM {configured} is not verified (status {attrs.get('MailFromDomainStatus')}): "
            "SES falls back to amazonses.com or rejects the mail"
        )
    else:
        mail_from = configured
        if aspf == "s":
            spf_aligned = strict_aligned(mail_from, domain)
            spf_reason = (
                f"MAIL FROM {mail_from} equals the From domain (strict)"
                if spf_aligned
                else f"aspf=s requires the MAIL FROM to be exactly {domain}; {mail_from} is a subdomain"
            )
        else:
            spf_aligned = relaxed_aligned(mail_from, domain)
            spf_reason = (
                f"MAIL FROM {mail_from} has the same organizational domain as {domain} (relaxed)"
                if spf_aligned
                else f"MAIL FROM {mail_from} is not in {domain}'s organizational domain"
            )
    facts.update(
        dkim_aligned=dkim_aligned,
        spf_aligned=spf_aligned,
        dkim_reason=dkim_reason,
        spf_reason=spf_reason,
        identity=identity.name if identity else None,
        signing_domain=signing_domain,
        mail_from_domain=mail_from or configured or None,
    )
    head = f"DMARC p={policy} (adkim={adkim}, aspf={aspf})"
    if dkim_aligned or spf_aligned:
        how = " and ".join(x for x, ok in (("DKIM", dkim_aligned), ("SPF", spf_aligned)) if ok)
        reason = dkim_reason if dkim_aligned else spf_reason
        summary = f"{head}: SES mail from {domain} aligns through {how}: {reason}"
        return CheckResult("pass", "pass", summary, facts, evidence)
    summary = f"{head} and SES mail from {domain} cannot align: DKIM: {dkim_reason}; SPF: {spf_reason}"
    return CheckResult("unaligned", "fail", summary, facts, evidence)


# --------------------------------------------------------------------------------------- suppression


_OPT_IN = ("UnrecognizedClientException", "InvalidClientTokenId", "AuthFailure", "OptInRequired")


@check(
    "ses.suppression",
    outcomes={"pass", "suppressed", "skipped"},
    args={"recipient", "region"},
    iam_actions=("ses:GetSuppressedDestination",),
)
async def suppression_check(ctx: CheckContext) -> CheckResult:
    """The recipient is not on the account-level suppression list (in the sending region; others shown)."""
    aws = ctx.clients.aws
    region = _region(ctx)
    recipient = ctx.arg("recipient")
    command = f"aws sesv2 delete-suppressed-destination --email-address {recipient} --region {region}"
    facts: dict[str, Any] = {
        "recipient": recipient or None,
        "region": region,
        "suppressed": False,
        "reason": None,
        "last_update_time": None,
        "other_regions": [],
        "unchecked_regions": [],
        "regions_checked": 0,
        "remedy_command": command if recipient else None,
    }
    if not recipient:
        return CheckResult("skipped", "skipped", "no recipient given: suppression not checked", facts)
    regions = list(dict.fromkeys([region, *aws.ses_regions()]))
    answers = await asyncio.gather(
        *(
            _attempt(aws.call("sesv2", "GetSuppressedDestination", region=r, EmailAddress=recipient))
            for r in regions
        )
    )
    ask = _cli("GetSuppressedDestination", region, EmailAddress=recipient)
    own: dict[str, Any] | None = None
    own_error: AwsError | None = None
    own_answer = answers[0]
    others: list[dict[str, Any]] = []
    unchecked: list[dict[str, str]] = []
    checked = 0
    for r, answer in zip(regions, answers, strict=True):
        entry: dict[str, Any] | None = None
        if isinstance(answer, AwsError):
            if answer.code != NOT_FOUND:
                if r == region:
                    own_error = answer
                else:
                    why = " (is the region enabled for the account?)" if answer.code in _OPT_IN else ""
                    unchecked.append({"region": r, "code": answer.code, "reason": f"{answer}{why}"})
                continue
        else:
            destination = answer.get("SuppressedDestination") or {}
            entry = {
                "region": r,
                "reason": destination.get("Reason"),
                "last_update_time": jsonable(destination.get("LastUpdateTime")),
            }
        checked += 1
        if r == region:
            own = entry
        elif entry is not None:
            others.append(entry)
    facts.update(other_regions=others, unchecked_regions=unchecked, regions_checked=checked)
    if own_error is not None:
        evidence = [
            Evidence(f"GetSuppressedDestination ({region})", f"{ask}\n{own_error.code}: {own_error.message}")
        ]
        return _could_not(own_error, facts, evidence)
    if isinstance(own_answer, AwsError):
        own_text = f"{own_answer.code}: {own_answer.message}"
    else:
        own_text = _excerpt(own_answer, ("SuppressedDestination",))
    evidence = [Evidence(f"GetSuppressedDestination ({region})", f"{ask}\n{own_text}")]
    lines = [f"{o['region']}: {o['reason']} since {o['last_update_time']}" for o in others]
    lines += [f"{u['region']}: could not check: {u['reason']}" for u in unchecked]
    lines.append(f"{checked} of {len(regions)} regions answered")
    evidence.append(Evidence(f"GetSuppressedDestination {recipient} in every SES region", "\n".join(lines)))
    facts["remedy_commands"] = [
        f"aws sesv2 delete-suppressed-destination --email-address {recipient} --region {e['region']}"
        for e in ([own] if own else []) + others
    ]
    listed = ", ".join(f"{o['region']} ({o['reason']})" for o in others)
    elsewhere = f"; also suppressed in {listed}" if others else ""
    unchecked_note = f"; {len(unchecked)} region(s) could not be checked" if unchecked else ""
    if own is not None:
        facts.update(suppressed=True, reason=own["reason"], last_update_time=own["last_update_time"])
        summary = (
            f"{recipient} is on the account-level suppression list in {region} ({own['reason']}, since "
            f"{own['last_update_time']}): SES accepts mail to it and does not deliver it{elsewhere}"
            f"{unchecked_note}"
        )
        return CheckResult("suppressed", "fail", summary, facts, evidence)
    if others:
        summary = (
            f"{recipient} is not suppressed in {region}, the sending region; it is in "
            f"{listed}, which matters only for mail "
            f"sent from there{unchecked_note}"
        )
        return CheckResult("pass", "info", summary, facts, evidence)
    summary = f"{recipient} is not on the suppression list in {region} nor in any of {checked - 1} other regions{unchecked_note}"
    return CheckResult("pass", "pass", summary, facts, evidence)
