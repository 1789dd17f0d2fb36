"""SES checks: the identity, the account, Easy DKIM, the custom MAIL FROM domain, DMARC alignment of SES
mail, and the account-level suppression list in every region.

Only read-only SES v2 calls (plus STS GetCallerIdentity for the account id and CloudWatch
GetMetricStatistics for the reputation rates). An :class:`AwsError` on a check's main call gives the
outcome ``error`` with ``could not check: <the error>`` (an AccessDenied names the missing permission).
Evidence shows each request as the AWS CLI would make it and an excerpt of the answer; times in facts
are ISO 8601 UTC. Each long check is an ``analyze_*`` function (it only reads) and a thin check around
it. The DNS parts reuse :mod:`maildoctor.checks.dns`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from maildoctor.checks import progress
from maildoctor.checks.common import Analysis, capture, excerpt, jsonable, utc_now
from maildoctor.checks.dns import (
    DKIM_ZONE,
    DkimFacts,
    DkimLookup,
    DnsQuery,
    MailFromAnalysis,
    MailFromRecords,
    analyze_dmarc,
    analyze_mail_from,
    check_dkim_keys,
    check_dkim_tokens,
)
from maildoctor.checks.registry import Args, CheckContext, CheckResult, Evidence, Facts, check
from maildoctor.clients.aws import AwsClient, AwsError, RegionSet, partition_of
from maildoctor.dnsauth.domains import (
    normalize_domain,
    organizational_domain,
    relaxed_aligned,
    strict_aligned,
)

BOUNCE_REVIEW = 0.05
COMPLAINT_REVIEW = 0.001
BOUNCE_PAUSE = 0.10
COMPLAINT_PAUSE = 0.005
NOT_FOUND = "NotFoundException"


# --------------------------------------------------------------------------------------------- helpers


class RegionArgs(Args):
    region: str | None = Field(None, description="the SES region that sends (default: the AWS client's)")


class DomainArgs(RegionArgs):
    domain: str = Field(description="the From domain, or an address in it")


def _region(args: RegionArgs, aws: AwsClient) -> str:
    return (args.region or aws.region).strip().lower()


DomainAnalysis = Callable[[AwsClient, DnsQuery, str, str], Awaitable[Analysis[Any]]]


async def _for_domain(ctx: CheckContext[DomainArgs], analyze: DomainAnalysis) -> CheckResult:
    """Run ``analyze(aws, dns, region, who)`` for a check of the From domain (``who``: the domain, or
    the sender's address, whose own identity can override its domain's settings), and report it."""
    aws, who = ctx.clients.aws, ctx.args.domain.strip()
    return (await analyze(aws, ctx.clients.dns, _region(ctx.args, aws), who)).result()


def _num(value: Any) -> int | float | None:
    if value is None:
        return None
    number = float(value)
    return int(number) if number.is_integer() else number


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.3g}%"


def _cli(operation: str, region: str, **params: str) -> str:
    command = "".join("-" + c.lower() if c.isupper() else c for c in operation).lstrip("-")
    args = " ".join(
        f"--{''.join('-' + c.lower() if c.isupper() else c for c in k).lstrip('-')} {v}"
        for k, v in params.items()
    )
    return f"$ aws sesv2 {command} {args} --region {region}".replace("  ", " ")


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


def identity_names(who: str) -> list[str]:
    """The identities that can stand for an address or a domain: the address itself (if it is one),
    the address without its +label (a verified ``user@d`` covers ``user+tag@d``), then its domain and
    the parents of that (:func:`domain_chain`)."""
    addresses: list[str] = []
    if "@" in who:
        local, _, host = who.rpartition("@")
        base = local.split("+", 1)[0]
        addresses = list(dict.fromkeys([who] + ([f"{base}@{host}"] if base and base != local else [])))
    return addresses + domain_chain(who)


IDENTITY_KEYS = ("IdentityType", "VerifiedForSendingStatus", "VerificationStatus", "VerificationInfo",
                 "DkimAttributes", "MailFromAttributes", "ConfigurationSetName")  # fmt: skip


class IdentitySummary(Facts):
    name: str = Field(description="the identity: an address or a domain")
    type: str | None = Field(None, description="EMAIL_ADDRESS or DOMAIN")
    verification_status: str | None = Field(None, description="SUCCESS, PENDING, FAILED, …")
    verified_for_sending: bool = Field(False, description="whether SES lets it send")


class FoundElsewhere(IdentitySummary):
    region: str = Field(description="the region it was found in")


class UncheckedRegion(Facts):
    region: str = Field(description="the region that could not be checked")
    code: str = Field(description="the error code")
    reason: str = Field(description="what went wrong")


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
    def error_type(self) -> str | None:
        """VerificationInfo.ErrorType: why SES could not verify it."""
        error_type = ((self.response or {}).get("VerificationInfo") or {}).get("ErrorType")
        return str(error_type) if error_type else None

    @property
    def dkim(self) -> dict[str, Any]:
        return dict((self.response or {}).get("DkimAttributes") or {})

    @property
    def mail_from(self) -> dict[str, Any]:
        return dict((self.response or {}).get("MailFromAttributes") or {})

    @property
    def configuration_set(self) -> str | None:
        """The identity's default configuration set (ConfigurationSetName), if any."""
        name = (self.response or {}).get("ConfigurationSetName")
        return str(name) if name else None

    def summary(self) -> IdentitySummary:
        return IdentitySummary(
            name=self.name,
            type=self.type,
            verification_status=self.status,
            verified_for_sending=self.verified,
        )

    def evidence(self) -> Evidence:
        ask = _cli("GetEmailIdentity", self.region, EmailIdentity=self.name)
        if self.error is not None:
            answer = f"{self.error.code}: {self.error.message}"
        elif self.response is None:
            answer = f"{NOT_FOUND}: Email identity {self.name} does not exist."
        else:
            answer = excerpt(self.response, IDENTITY_KEYS)
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


@dataclass
class ConfigurationSetLookup:
    """A configuration set read with GetConfigurationSet (``response`` None when it could not be read)."""

    name: str
    region: str
    response: dict[str, Any] | None = None
    error: AwsError | None = None

    @property
    def sending_enabled(self) -> bool | None:
        if self.response is None:
            return None
        return bool((self.response.get("SendingOptions") or {}).get("SendingEnabled", True))

    @property
    def suppressed_reasons(self) -> list[str] | None:
        """The set's suppression override; None when it has none (the account's list then applies)."""
        options = (self.response or {}).get("SuppressionOptions")
        if not isinstance(options, dict) or "SuppressedReasons" not in options:
            return None
        return [str(r) for r in options.get("SuppressedReasons") or []]

    def evidence(self) -> Evidence:
        ask = _cli("GetConfigurationSet", self.region, ConfigurationSetName=self.name)
        if self.error is not None:
            answer = f"{self.error.code}: {self.error.message}"
        else:
            answer = excerpt(self.response or {}, ("SendingOptions", "SuppressionOptions"))
        return Evidence(f"GetConfigurationSet {self.name} ({self.region})", f"{ask}\n{answer}")


async def get_configuration_set(aws: AwsClient, region: str, name: str) -> ConfigurationSetLookup:
    try:
        answer = await aws.call("sesv2", "GetConfigurationSet", region=region, ConfigurationSetName=name)
    except AwsError as err:
        return ConfigurationSetLookup(name, region, error=err)
    return ConfigurationSetLookup(name, region, response=answer)


def sending_identity(lookups: Sequence[IdentityLookup]) -> IdentityLookup | None:
    """The identity SES sends as: the most specific verified one (the address, then its domains)."""
    return next((lk for lk in lookups if lk.verified), None)


def _first_error(lookups: Iterable[IdentityLookup]) -> AwsError | None:
    return next((lk.error for lk in lookups if lk.error is not None), None)


async def _account_and_partition(aws: AwsClient) -> tuple[str, str]:
    """The account id ('*' when STS would not say) and the partition (aws, aws-cn, aws-us-gov)."""
    try:
        caller = await aws.caller()
    except AwsError:
        return "*", aws.partition  # the client region's partition, from botocore's data
    return caller.account or "*", caller.partition


# ------------------------------------------------------------------------------ regions of the account


@dataclass
class RegionSweep:
    """How the other regions of a sweep answered: those whose error means "not enabled in this account"
    (inferred when account:ListRegions did not answer), and those that could not be checked."""

    regions: RegionSet
    inferred: list[str]
    unchecked: list[UncheckedRegion]

    @property
    def not_enabled(self) -> list[str]:
        return sorted({*self.regions.disabled, *self.inferred})

    def note(self, listing: bool = True) -> str | None:
        """The one line that says which regions were not checked because the account has them off
        (naming them for evidence, counting them for a summary)."""
        notes = [n for n in [self.regions.note(listing)] if n]
        if self.inferred:
            names = f": {', '.join(self.inferred)}" if listing else ""
            notes.append(
                f"{len(self.inferred)} region(s) refused the security token: not enabled in this account "
                f"(account:ListRegions was not allowed, so this is inferred){names}"
            )
        return "; ".join(notes) or None


def sort_region_errors(regions: RegionSet, errors: dict[str, AwsError], own_answered: bool) -> RegionSweep:
    """Sort the other regions' errors: a refused token while the sending region answered and the
    account's regions are unknown is a region not enabled (not a permission); any other error is an
    unchecked region, said as AwsError says it (an explicit deny as an organisation or boundary policy)."""
    inferred: list[str] = []
    unchecked: list[UncheckedRegion] = []
    for r, err in sorted(errors.items()):
        if err.kind == "token-refused" and own_answered and not regions.known:
            inferred.append(r)
        else:
            unchecked.append(UncheckedRegion(region=r, code=err.code, reason=str(err)))
    return RegionSweep(regions, inferred, unchecked)


def _domain_identity(lookups: Sequence[IdentityLookup], chain: Sequence[str]) -> IdentityLookup | None:
    """The most specific domain identity among ``chain`` that exists."""
    by_name = {lk.name: lk for lk in lookups}
    for name in chain:
        lk = by_name.get(name)
        if lk is not None and lk.found:
            return lk
    return None


@dataclass
class CoveringIdentity:
    """The most specific domain identity that covers a domain (itself or a parent) in a region."""

    identity: IdentityLookup | None
    lookups: list[IdentityLookup]
    error: AwsError | None  # a lookup that failed (it matters when no identity was found)

    def evidence(self) -> list[Evidence]:
        return [lk.evidence() for lk in self.lookups]


async def covering_identity(aws: AwsClient, region: str, domain: str) -> CoveringIdentity:
    chain = domain_chain(domain)
    lookups = await get_identities(aws, region, chain)
    return CoveringIdentity(_domain_identity(lookups, chain), lookups, _first_error(lookups))


async def mail_from_identity(aws: AwsClient, region: str, who: str) -> CoveringIdentity:
    """The identity whose MAIL FROM setting SES uses for ``who``: a verified address identity (the
    address, or it without its +label) with its own MAIL FROM domain overrides its domain's; else the
    domain identity that covers the domain."""
    addresses = [n for n in identity_names(who) if "@" in n]
    own, covering = await asyncio.gather(
        get_identities(aws, region, addresses), covering_identity(aws, region, normalize_domain(who))
    )
    lookups = [*own, *covering.lookups]
    address = next((lk for lk in own if lk.verified and lk.mail_from.get("MailFromDomain")), None)
    error = _first_error(own) if address is None else None
    # an address that could not be read may override the domain's setting: then nothing is known
    return CoveringIdentity(None if error else address or covering.identity, lookups, error or covering.error)


# ------------------------------------------------------------------------------------------ identity


class IdentityArgs(RegionArgs):
    sender: str = Field(description="the sender's address (or its domain)")


class IdentityFacts(Facts):
    sender: str | None = Field(None, description="the sender as given")
    domain: str | None = Field(None, description="the sender's domain")
    region: str | None = Field(None, description="the SES region checked")
    identities: list[IdentitySummary] = Field(
        [], description="the identities for the sender found in the region"
    )
    verified_identity: str | None = Field(None, description="the identity verified for sending, if any")
    identity_arn: str | None = Field(None, description="the ARN of that identity (or of the one to create)")
    found_in_regions: list[str] = Field([], description="other regions where an identity for it exists")
    found_elsewhere: list[FoundElsewhere] = Field([], description="the identities for it in other regions")
    unchecked_regions: list[UncheckedRegion] = Field(
        [], description="other regions that could not be checked"
    )
    regions_not_enabled: list[str] = Field(
        [], description="SES regions not enabled in this account: not searched (said once, not unchecked)"
    )
    verification_error: str | None = Field(None, description="SES's VerificationInfo.ErrorType, if any")
    account_id: str | None = Field(None, description="the AWS account id ('*' when STS would not say)")
    configuration_set: str | None = Field(
        None, description="the sending identity's default configuration set (ConfigurationSetName), if any"
    )
    configuration_set_sending_enabled: bool | None = Field(
        None, description="whether that set lets mail through (SendingOptions.SendingEnabled; None: not read)"
    )
    configuration_set_command: str | None = Field(
        None, description="the AWS CLI command that turns sending of that set back on (when it is paused)"
    )


@check(
    "ses.identity",
    outcomes={"pass", "not-found", "unverified", "configuration-set-paused"},
    args=IdentityArgs,
    facts=IdentityFacts,
    iam_actions=(
        "ses:GetEmailIdentity",
        "ses:GetConfigurationSet",
        "sts:GetCallerIdentity",
        "account:ListRegions",
    ),
)
async def identity_check(ctx: CheckContext[IdentityArgs]) -> CheckResult:
    """The sender's address or domain (or a parent domain) is an SES identity verified for sending."""
    aws = ctx.clients.aws
    return (await analyze_identity(aws, _region(ctx.args, aws), ctx.args.sender)).result()


async def analyze_identity(aws: AwsClient, region: str, sender: str) -> Analysis[IdentityFacts]:
    """Find the identity that sends for ``sender`` in ``region`` (the address, its domain or a parent
    domain); when there is none, look for one in the other SES regions."""
    domain = normalize_domain(sender)
    names = identity_names(sender)
    facts = IdentityFacts(sender=sender, domain=domain, region=region)
    lookups, (account, partition) = await asyncio.gather(
        get_identities(aws, region, names), _account_and_partition(aws)
    )
    a = Analysis(facts, evidence=[lk.evidence() for lk in lookups])
    err = _first_error(lookups)
    if err is not None:
        return a.could_not_check(err)
    found = [lk for lk in lookups if lk.found]
    verified = next((lk for lk in found if lk.verified), None)  # the address first, then the domains
    subject = verified or (found[0] if found else None)
    facts.identities = [lk.summary() for lk in found]
    facts.identity_arn = (
        f"arn:{partition}:ses:{region}:{account}:identity/{subject.name if subject else domain}"
    )
    facts.account_id = account
    error_types = [lk.error_type for lk in ([verified] if verified else found) if lk.error_type]
    facts.verification_error = error_types[0] if error_types else None
    if verified is not None:
        facts.verified_identity = verified.name
        kind = "address" if verified.type == "EMAIL_ADDRESS" else "domain"
        summary = f"{verified.name} is verified for sending in {region}"
        if verified.name.lower() != sender.lower():
            summary += f" (the {kind} identity covers {sender})"
        return await _configuration_set_verdict(a, aws, region, verified, summary)
    if found:
        return a.conclude("unverified", "fail", _unverified_summary(found, region))
    return await _search_other_regions(a, aws, region, names)


def configuration_set_command(name: str, region: str) -> str:
    return (
        f"aws sesv2 put-configuration-set-sending-options --configuration-set-name {name} --sending-enabled "
        f"--region {region}"
    )


async def _configuration_set_verdict(
    a: Analysis[IdentityFacts], aws: AwsClient, region: str, verified: IdentityLookup, summary: str
) -> Analysis[IdentityFacts]:
    """A verified identity whose default configuration set has sending paused sends nothing through it."""
    name = verified.configuration_set
    if name is None:
        return a.conclude("pass", "pass", summary)
    cs = await get_configuration_set(aws, region, name)
    a.evidence.append(cs.evidence())
    f = a.facts
    f.configuration_set, f.configuration_set_sending_enabled = name, cs.sending_enabled
    if cs.error is not None:
        return a.conclude(
            "pass", "warn", f"{summary}; its default configuration set {name} could not be read: {cs.error}"
        )
    if cs.sending_enabled is False:
        f.configuration_set_command = configuration_set_command(name, region)
        summary = (
            f"{summary}, but its default configuration set {name} has sending paused (SendingOptions."
            f"SendingEnabled false): SES refuses every message sent with {name}"
        )
        return a.conclude("configuration-set-paused", "fail", summary)
    return a.conclude("pass", "pass", f"{summary} (default configuration set {name}, sending enabled)")


def _unverified_summary(found: Sequence[IdentityLookup], region: str) -> str:
    parts = []
    for lk in found:
        part = f"{lk.name} ({lk.status or 'unknown status'}"
        if lk.error_type:
            part += f", error {lk.error_type}"
        dkim_status = lk.dkim.get("Status")
        if lk.type == "DOMAIN" and dkim_status and dkim_status != "SUCCESS":
            part += f", DKIM {dkim_status}: SES verifies a domain through its DKIM records"
        if lk.type == "EMAIL_ADDRESS" and lk.status == "PENDING":
            part += ": the link in SES's verification mail has not been followed"
        parts.append(part + ")")
    return (
        f"{' and '.join(parts)} {'exists' if len(found) == 1 else 'exist'} in {region} but "
        f"{'is' if len(found) == 1 else 'are'} not verified for sending"
    )


async def _search_other_regions(
    a: Analysis[IdentityFacts], aws: AwsClient, region: str, names: list[str]
) -> Analysis[IdentityFacts]:
    """Not in the sending region: is it verified somewhere else? (A common slip: a different region.)"""
    facts = a.facts
    regions = await aws.ses_regions()
    others = [r for r in regions.enabled if r != region]  # a disabled region cannot hold one
    per_region = await asyncio.gather(*(get_identities(aws, r, names) for r in others))
    absent: list[str] = []
    errors: dict[str, AwsError] = {}
    for other, lookups in zip(others, per_region, strict=True):
        hits = [lk for lk in lookups if lk.found]
        error = _first_error(lookups)
        facts.found_elsewhere += [FoundElsewhere(region=other, **lk.summary().model_dump()) for lk in hits]
        if error is not None and not hits:
            errors[other] = error
        elif not hits:
            absent.append(other)
    sweep = sort_region_errors(regions, errors, own_answered=True)
    facts.unchecked_regions, facts.regions_not_enabled = sweep.unchecked, sweep.not_enabled
    facts.found_in_regions = sorted({f.region for f in facts.found_elsewhere})
    lines = [
        f"{f.region}: {f.name} ({f.type}, {f.verification_status}"
        + (", verified for sending)" if f.verified_for_sending else ", not verified for sending)")
        for f in facts.found_elsewhere
    ]
    lines += [f"{u.region}: could not check: {u.reason}" for u in facts.unchecked_regions]
    lines.append(f"not found in {len(absent)} other region(s): {', '.join(absent) or '-'}")
    note = sweep.note(listing=False)  # the summary counts them; the evidence names them
    if note:
        lines.append(sweep.note() or "")
    title = f"GetEmailIdentity {', '.join(names)} in {len(others)} other regions"
    a.evidence.append(Evidence(title, "\n".join(lines)))
    summary = _not_found_summary(facts, region, names) + (f"; {note}" if note else "")
    return a.conclude("not-found", "fail", summary)


def _not_found_summary(facts: IdentityFacts, region: str, names: list[str]) -> str:
    if len(names) == 1:
        summary = f"{facts.domain} is not an SES identity in {region}"
    elif len(names) == 2:
        summary = f"neither {names[0]} nor {names[1]} is an SES identity in {region}"
    else:
        summary = f"none of {', '.join(names)} is an SES identity in {region}"
    if facts.found_in_regions:
        found = ", ".join(facts.found_in_regions)
        return summary + f"; found in {found}: send from there, or create and verify it in {region}"
    summary += "; not in any other SES region either"
    if facts.unchecked_regions:
        summary += f" ({len(facts.unchecked_regions)} region(s) could not be checked)"
    return summary


# ------------------------------------------------------------------------------------------- account

ACCOUNT_KEYS = ("ProductionAccessEnabled", "SendingEnabled", "EnforcementStatus", "SendQuota", "Details")
_METRICS = ("Reputation.BounceRate", "Reputation.ComplaintRate")


class AccountArgs(RegionArgs):
    recipient: str | None = Field(None, description="a recipient, to see whether the sandbox lets it receive")
    reply: str | None = Field(
        None, description="the reply a bounce quotes, to recognise SES refusing sends over the maximum rate"
    )


# SES's reply to a send over the account's maximum send rate (the SES guide's SMTP response codes)
MAX_RATE_RE = re.compile(r"Maximum sending rate exceeded", re.IGNORECASE)


class AccountFacts(Facts):
    region: str | None = Field(None, description="the SES region checked")
    recipient: str | None = Field(None, description="the recipient checked against the sandbox, if given")
    production_access: bool | None = Field(None, description="whether the account is out of the sandbox")
    sending_enabled: bool | None = Field(None, description="whether sending is enabled (SendingEnabled)")
    enforcement_status: str | None = Field(None, description="HEALTHY, PROBATION or SHUTDOWN")
    review_status: str | None = Field(None, description="the status of the latest account review, if any")
    max_24h_send: int | float | None = Field(None, description="the 24-hour sending quota (-1: unlimited)")
    sent_last_24h: int | float | None = Field(None, description="the messages sent in the last 24 hours")
    quota_used_pct: float | None = Field(None, description="the share of the quota used, in percent")
    max_send_rate: int | float | None = Field(None, description="the most messages per second")
    bounce_rate: float | None = Field(None, description="the highest hourly bounce rate in the last 24 hours")
    complaint_rate: float | None = Field(None, description="the highest hourly complaint rate in 24 hours")
    bounce_review_level: float = Field(BOUNCE_REVIEW, description="the bounce rate at which SES reviews")
    complaint_review_level: float = Field(
        COMPLAINT_REVIEW, description="the complaint rate at which SES reviews"
    )
    recipient_verified: bool | None = Field(None, description="whether the recipient is a verified identity")
    metric_errors: list[str] = Field([], description="why a reputation rate could not be read")
    problems: list[str] = Field([], description="what stops or threatens sending")
    paused_by: str | None = Field(
        None,
        description="who paused sending: 'aws' (enforcement: PROBATION or SHUTDOWN) or 'account' (SendingEnabled "
        "false while HEALTHY: the account's own UpdateAccountSendingEnabled / PutAccountSendingAttributes)",
    )
    resume_command: str | None = Field(
        None, description="the AWS CLI command that turns sending back on (for a pause by the account)"
    )
    rate_reply: str | None = Field(
        None, description="the bounce's 'Maximum sending rate exceeded' reply, when it quotes one"
    )


def resume_command(region: str) -> str:
    return f"aws sesv2 put-account-sending-attributes --sending-enabled --region {region}"


@check(
    "ses.account",
    outcomes={
        "pass",
        "sandbox",
        "sending-paused",
        "paused-by-account",
        "under-review",
        "quota-exhausted",
        "rate-exceeded",
    },
    args=AccountArgs,
    facts=AccountFacts,
    iam_actions=("ses:GetAccount", "ses:GetEmailIdentity", "cloudwatch:GetMetricStatistics"),
)
async def account_check(ctx: CheckContext[AccountArgs]) -> CheckResult:
    """The SES account may send: production access, sending enabled, healthy, quota left."""
    aws = ctx.clients.aws
    now = utc_now().replace(microsecond=0)
    a = await analyze_account(aws, _region(ctx.args, aws), ctx.args.recipient, now)
    return _rate_verdict(a, ctx.args.reply).result()


def _rate_verdict(a: Analysis[AccountFacts], reply: str | None) -> Analysis[AccountFacts]:
    """An account that may send, and a bounce quoting SES's 'Maximum sending rate exceeded': the client
    sends faster than the account's maximum send rate (SES counts per second; the quota left says nothing)."""
    f = a.facts
    if a.outcome != "pass" or not reply or not MAX_RATE_RE.search(reply):
        return a
    f.rate_reply = reply.strip()
    rate = f"{f.max_send_rate:g}" if isinstance(f.max_send_rate, int | float) else "its maximum"
    summary = (
        f"SES refused sends over the account's maximum send rate in {f.region} ({rate} messages a second): "
        f"the bounce quotes {f.rate_reply!r}; the account may otherwise send ({f.sent_last_24h} of "
        f"{f.max_24h_send} sent in 24 h)"
    )
    return a.conclude("rate-exceeded", "fail", summary)


async def _max_rate(aws: AwsClient, region: str, metric: str, now: datetime) -> dict[str, Any]:
    """The highest value of an AWS/SES reputation metric over the last 24 hours, by the hour."""
    return await aws.call(
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


def _metric_evidence(region: str, now: datetime, answers: Sequence[dict[str, Any] | AwsError]) -> Evidence:
    lines = []
    for metric, answer in zip(_METRICS, answers, strict=True):
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
        lines.append(f"{head}\n{body}")
    return Evidence(f"CloudWatch AWS/SES reputation, last 24 h ({region})", "\n".join(lines))


async def analyze_account(
    aws: AwsClient, region: str, recipient: str | None, now: datetime
) -> Analysis[AccountFacts]:
    """Read the account in ``region`` (GetAccount), its reputation rates over the 24 hours before
    ``now`` and, given a recipient, whether it is a verified identity (the sandbox delivers only to
    those); and say whether the account may send."""
    answer, bounce, complaint, lookups = await asyncio.gather(
        capture(aws.call("sesv2", "GetAccount", region=region)),
        capture(_max_rate(aws, region, _METRICS[0], now)),
        capture(_max_rate(aws, region, _METRICS[1], now)),
        get_identities(aws, region, identity_names(recipient) if recipient else []),
    )
    a = Analysis(AccountFacts(region=region, recipient=recipient))
    ask = _cli("GetAccount", region)
    if isinstance(answer, AwsError):
        a.evidence.append(Evidence(f"GetAccount ({region})", f"{ask}\n{answer.code}: {answer.message}"))
        return a.could_not_check(answer)
    a.evidence = [
        Evidence(f"GetAccount ({region})", f"{ask}\n" + excerpt(answer, ACCOUNT_KEYS)),
        _metric_evidence(region, now, [bounce, complaint]),
        *(lk.evidence() for lk in lookups),  # is the recipient verified (the sandbox delivers only to those)?
    ]
    _read_account(a.facts, answer, bounce, complaint)
    recipient_error = _first_error(lookups)
    if any(lk.verified for lk in lookups):
        a.facts.recipient_verified = True
    elif lookups and recipient_error is None:
        a.facts.recipient_verified = False
    state = _account_state(a.facts)
    a.facts.problems = state.problems
    rates = (
        f"bounce {_rate_text(a.facts.bounce_rate, bounce)}, "
        f"complaint {_rate_text(a.facts.complaint_rate, complaint)}"
    )
    return _account_verdict(a, state, recipient_error, rates)


def _read_account(
    facts: AccountFacts,
    acct: dict[str, Any],
    bounce: dict[str, Any] | AwsError,
    complaint: dict[str, Any] | AwsError,
) -> None:
    quota = acct.get("SendQuota") or {}
    max_24h = _num(quota.get("Max24HourSend"))
    sent = _num(quota.get("SentLast24Hours")) or 0
    facts.production_access = bool(acct.get("ProductionAccessEnabled"))
    facts.sending_enabled = bool(acct.get("SendingEnabled", True))
    facts.enforcement_status = acct.get("EnforcementStatus")
    facts.review_status = ((acct.get("Details") or {}).get("ReviewDetails") or {}).get("Status")
    facts.max_24h_send = max_24h
    facts.sent_last_24h = sent
    facts.quota_used_pct = round(sent / max_24h * 100, 1) if max_24h and max_24h > 0 else None
    facts.max_send_rate = _num(quota.get("MaxSendRate"))
    facts.bounce_rate, facts.complaint_rate = _rate_of(bounce), _rate_of(complaint)
    facts.metric_errors = [str(x) for x in (bounce, complaint) if isinstance(x, AwsError)]


@dataclass
class _AccountState:
    """What stands in the way of sending, by kind, in the order the problems are listed."""

    paused: list[str]
    exhausted: str | None
    review: list[str]
    other: list[str]  # the sandbox, or a pending or failed review

    @property
    def problems(self) -> list[str]:
        return [*self.paused, *([self.exhausted] if self.exhausted else []), *self.review, *self.other]


def _rate_reason(what: str, rate: float | None, review: float, pause: float) -> list[str]:
    if rate is None or rate < review:
        return []
    level, limit = ("pause", pause) if rate >= pause else ("review", review)
    return [f"the {what} rate {_pct(rate)} is at or above the {_pct(limit)} {level} level"]


def _account_state(f: AccountFacts) -> _AccountState:
    paused = [
        reason
        for reason, on in (
            ("sending is disabled (SendingEnabled false)", not f.sending_enabled),
            ("the account is shut down (EnforcementStatus SHUTDOWN)", f.enforcement_status == "SHUTDOWN"),
        )
        if on
    ]
    max_24h, sent = f.max_24h_send, f.sent_last_24h or 0
    exhausted = None
    if max_24h is not None and max_24h > 0 and sent >= max_24h:
        exhausted = f"the 24-hour quota is used up: {sent} of {max_24h} sent in the last 24 hours"
    review = (
        ["the account is on probation (EnforcementStatus PROBATION)"]
        if f.enforcement_status == "PROBATION"
        else []
    )
    review += _rate_reason("bounce", f.bounce_rate, BOUNCE_REVIEW, BOUNCE_PAUSE)
    review += _rate_reason("complaint", f.complaint_rate, COMPLAINT_REVIEW, COMPLAINT_PAUSE)
    other = []
    if not f.production_access:
        request = f" (production access request: {f.review_status})" if f.review_status else ""
        if f.recipient and f.recipient_verified is False:
            other.append(
                f"the account is in the SES sandbox{request} and {f.recipient} is not a verified identity"
            )
        else:
            other.append(
                f"the account is in the SES sandbox{request}: it delivers only to verified identities"
            )
    elif f.review_status in ("PENDING", "DENIED", "FAILED"):
        other.append(f"the latest account review (ReviewDetails) is {f.review_status}")
    return _AccountState(paused, exhausted, review, other)


def _account_verdict(
    a: Analysis[AccountFacts], state: _AccountState, recipient_error: AwsError | None, rates: str
) -> Analysis[AccountFacts]:
    f = a.facts
    region, problems = f.region, state.problems

    def also(shown: Sequence[str]) -> str:
        rest = [p for p in problems if p not in shown]
        return f"; also: {'; '.join(rest)}" if rest else ""

    if state.paused:
        # SendingEnabled false with a healthy account: the account paused itself (API or console), not AWS
        if f.enforcement_status == "HEALTHY" and not f.sending_enabled:
            f.paused_by, f.resume_command = "account", resume_command(region or "")
            summary = (
                f"sending is paused for the account in {region} by the account itself: SendingEnabled is false "
                f"while the enforcement status is HEALTHY (AWS has not paused it){also(state.paused)}"
            )
            return a.conclude("paused-by-account", "fail", summary)
        f.paused_by = "aws"
        summary = (
            f"sending is paused for the account in {region}: {'; '.join(state.paused)}{also(state.paused)}"
        )
        return a.conclude("sending-paused", "fail", summary)
    if state.exhausted:
        summary = (
            f"the 24-hour sending quota in {region} is used up: {f.sent_last_24h} of {f.max_24h_send} "
            "messages sent in the last 24 hours; SES refuses more until the window moves on or the quota is "
            f"raised{also([state.exhausted])}"
        )
        return a.conclude("quota-exhausted", "fail", summary)
    if state.review:
        summary = f"the account in {region} is under review: {'; '.join(state.review)}{also(state.review)}"
        return a.conclude("under-review", "warn", summary)
    if not f.production_access:
        return _sandbox_verdict(a, recipient_error)
    used = f" ({f.quota_used_pct}%)" if f.quota_used_pct is not None else ""
    summary = (
        f"the account in {region} has production access and may send: {f.sent_last_24h} of {f.max_24h_send} "
        f"sent in 24 h{used}, {rates}{also([])}"
    )
    return a.conclude("pass", "warn" if problems else "pass", summary)


def _sandbox_verdict(a: Analysis[AccountFacts], recipient_error: AwsError | None) -> Analysis[AccountFacts]:
    f = a.facts
    region, recipient = f.region, f.recipient
    request = f"; the production access request is {f.review_status}" if f.review_status else ""
    if recipient and f.recipient_verified is False:
        summary = (
            f"the account is in the SES sandbox in {region} and {recipient} is not a verified identity "
            f"there: the sandbox delivers only to verified addresses and domains{request}"
        )
        return a.conclude("sandbox", "fail", summary)
    if recipient and f.recipient_verified:
        summary = (
            f"the account is in the SES sandbox in {region}, but {recipient} is a verified identity, "
            f"so the sandbox lets it receive{request}"
        )
        return a.conclude("pass", "pass", summary)
    why = (
        f"could not tell whether {recipient} is verified: {recipient_error}"
        if recipient_error
        else "no recipient given to check"
    )
    summary = (
        f"the account is in the SES sandbox in {region}: it delivers only to verified addresses and "
        f"domains ({why}){request}"
    )
    return a.conclude("pass", "warn", summary)


# ---------------------------------------------------------------------------------------------- DKIM


class SesDkimFacts(DkimFacts):
    region: str | None = Field(None, description="the SES region checked")
    identity: str | None = Field(None, description="the domain identity that covers the domain")
    status: str | None = Field(None, description="the identity's DKIM status (SUCCESS, PENDING, FAILED …)")
    signing_enabled: bool | None = Field(None, description="whether SES signs its mail with DKIM")
    origin: str | None = Field(
        None,
        description="AWS_SES (Easy DKIM), EXTERNAL (your own key, BYODKIM) or AWS_SES_<REGION> (Deterministic "
        "Easy DKIM: replicated from a parent identity in that region)",
    )
    signing_hosted_zone: str | None = Field(
        None, description="the zone the Easy DKIM CNAMEs point into (SES's SigningHostedZone)"
    )
    parent_region: str | None = Field(
        None, description="Deterministic Easy DKIM: the region of the parent identity whose records are used"
    )


@check(
    "ses.dkim",
    outcomes={"pass", "records-missing", "not-verified", "not-enabled"},
    args=DomainArgs,
    facts=SesDkimFacts,
    iam_actions=("ses:GetEmailIdentity",),
)
async def dkim_check(ctx: CheckContext[DomainArgs]) -> CheckResult:
    """SES signs for the domain with DKIM: signing on, the Easy DKIM CNAMEs in DNS, status SUCCESS."""
    return await _for_domain(ctx, analyze_dkim)


async def analyze_dkim(aws: AwsClient, dns: DnsQuery, region: str, who: str) -> Analysis[SesDkimFacts]:
    """How SES signs for ``who``'s domain: the domain identity that covers it, its DKIM settings and
    (Easy DKIM) the CNAME records in DNS."""
    domain = normalize_domain(who)
    covering = await covering_identity(aws, region, domain)
    a = Analysis(SesDkimFacts(domain=domain, region=region), evidence=covering.evidence())
    identity = covering.identity
    if identity is None:
        if covering.error is not None:
            return a.could_not_check(covering.error)
        return a.conclude(
            "not-enabled", "skipped", f"no domain identity for {domain} in {region}: DKIM not checked"
        )
    f, dkim = a.facts, identity.dkim
    f.identity, f.status = identity.name, dkim.get("Status")
    f.signing_enabled = bool(dkim.get("SigningEnabled"))
    f.origin = dkim.get("SigningAttributesOrigin") or "AWS_SES"
    f.tokens = [str(t) for t in dkim.get("Tokens") or []]
    if f.origin == "EXTERNAL":
        # BYODKIM: Tokens holds the selector; the record is a TXT with the public key, no CNAMEs
        if not f.tokens:
            return _byodkim_verdict(a)
        keys = await check_dkim_keys(dns, identity.name, f.tokens)
        a.evidence += keys.evidence()
        return _byodkim_verdict(a, keys)
    if f.origin.startswith("AWS_SES_"):  # DEED: the parent's tokens and records, published once
        f.parent_region = f.origin.removeprefix("AWS_SES_").lower().replace("_", "-")
    f.signing_hosted_zone = str(dkim.get("SigningHostedZone") or DKIM_ZONE).rstrip(".").lower()
    if not f.tokens:
        f.problems = [f"no Easy DKIM tokens for {f.identity} (DKIM status {f.status})"]
        summary = f"DKIM is not set up for {f.identity}{_via(f)} (no Easy DKIM tokens, status {f.status})"
        return a.conclude("not-enabled", "warn", summary if f.signing_enabled else _not_signing(f))
    found = await check_dkim_tokens(dns, identity.name, f.tokens, f.signing_hosted_zone)
    a.evidence += found.evidence()
    return _easy_dkim_verdict(a, found)


def _via(f: SesDkimFacts) -> str:
    return f" (through the parent identity {f.identity})" if f.identity != f.domain else ""


def _not_signing(f: SesDkimFacts) -> str:
    return (
        f"SES does not sign mail from {f.domain} with DKIM{_via(f)} (SigningEnabled false): DMARC can only "
        "align through SPF"
    )


def _byodkim_verdict(a: Analysis[SesDkimFacts], keys: DkimLookup | None = None) -> Analysis[SesDkimFacts]:
    f = a.facts
    note = (
        f"{f.identity} uses your own DKIM key (BYODKIM): its record is the TXT record at "
        f"<your selector>._domainkey.{f.identity}, not checked here (SES named no selector)"
    )
    if keys is not None:
        keys.fill(f)
        if keys.wrong:
            summary = keys.wrong_summary(f.identity or "") + f" (BYODKIM; SES reports DKIM status {f.status})"
            return a.conclude("records-missing", "fail", summary)
        if keys.failed:
            return a.could_not_check(keys.failure())
        names = ", ".join(r.name for r in keys.records)
        note = f"{f.identity} uses your own DKIM key (BYODKIM): the public key is published at {names}"
    if f.status != "SUCCESS":
        f.problems = [f"DKIM status {f.status}"]
        return a.conclude(
            "not-verified", "fail", f"SES reports DKIM status {f.status} for {f.identity}{_via(f)}; {note}"
        )
    if not f.signing_enabled:
        return a.conclude("not-enabled", "warn", _not_signing(f))
    return a.conclude("pass", "pass", f"SES signs for {f.domain}{_via(f)} with DKIM, status SUCCESS; {note}")


def _easy_dkim_verdict(a: Analysis[SesDkimFacts], found: DkimLookup) -> Analysis[SesDkimFacts]:
    f = a.facts
    found.fill(f)
    if f.status != "SUCCESS":
        f.problems.append(f"SES reports DKIM status {f.status}")
    if not f.signing_enabled:
        f.problems.append("DKIM signing is disabled (SigningEnabled false)")
    if found.wrong:
        summary = found.wrong_summary(f.identity or "") + f" (SES reports DKIM status {f.status})"
        if f.parent_region:
            summary += (
                f"; the identity is replicated from {f.parent_region} (Deterministic Easy DKIM): these are "
                "the parent identity's records"
            )
        return a.conclude("records-missing", "fail", summary)
    if found.failed:
        return a.could_not_check(found.failure())
    if f.status != "SUCCESS":
        if f.status == "FAILED":
            when = (
                "SES has stopped checking (FAILED): now that the records are right, restart DKIM "
                "verification for the identity (SES console: the identity's DKIM panel)"
            )
        else:
            when = (
                "SES re-checks the records on its own schedule (it can take up to 72 hours after they appear)"
            )
        summary = (
            f"all {len(found.records)} DKIM CNAME records for {f.identity} are right, but SES reports DKIM "
            f"status {f.status}: {when}"
        )
        if not f.signing_enabled:
            summary += "; signing is also disabled"
        return a.conclude("not-verified", "fail", summary)
    if not f.signing_enabled:
        return a.conclude("not-enabled", "warn", _not_signing(f))
    summary = (
        f"SES signs for {f.domain}{_via(f)} with Easy DKIM (status SUCCESS); all {len(found.records)} CNAME "
        "records are in place"
    )
    return a.conclude("pass", "pass", summary)


# ----------------------------------------------------------------------------------------- MAIL FROM

_BEHAVIOR = {
    "REJECT_MESSAGE": "BehaviorOnMxFailure is REJECT_MESSAGE: SES rejects mail from this identity "
    "('Mail FROM domain is not verified') until the MAIL FROM domain verifies",
    "USE_DEFAULT_VALUE": "BehaviorOnMxFailure is USE_DEFAULT_VALUE: SES falls back to a MAIL FROM under "
    "amazonses.com, so mail goes out but SPF does not align",
}


class SesMailFromFacts(MailFromRecords):
    domain: str | None = Field(None, description="the From domain")
    identity: str | None = Field(None, description="the domain identity that covers it")
    status: str | None = Field(None, description="SES's MailFromDomainStatus (SUCCESS, PENDING, FAILED …)")
    behavior_on_mx_failure: str | None = Field(None, description="USE_DEFAULT_VALUE or REJECT_MESSAGE")
    identity_type: str | None = Field(
        None, description="EMAIL_ADDRESS when the address identity's own MAIL FROM overrides its domain's"
    )
    reset_command: str | None = Field(
        None,
        description="the AWS CLI command that sets the MAIL FROM domain again, which makes SES check it anew "
        "(after a FAILED status SES no longer checks it by itself)",
    )
    what_now: str | None = Field(None, description="what SES does next about an unverified MAIL FROM domain")


@check(
    "ses.mail_from",
    outcomes={"pass", "skipped", "not-verified", "mx-missing", "spf-missing"},
    args=DomainArgs,
    facts=SesMailFromFacts,
    iam_actions=("ses:GetEmailIdentity",),
)
async def mail_from_ses_check(ctx: CheckContext[DomainArgs]) -> CheckResult:
    """The identity's custom MAIL FROM domain has its MX and SPF records and SES has verified it."""
    return await _for_domain(ctx, analyze_ses_mail_from)


async def analyze_ses_mail_from(
    aws: AwsClient, dns: DnsQuery, region: str, who: str
) -> Analysis[SesMailFromFacts]:
    """The custom MAIL FROM domain SES uses for ``who`` (an address identity's own, else that of the
    domain identity that covers its domain): what SES says of it, and its MX and SPF records
    (:func:`maildoctor.checks.dns.analyze_mail_from`)."""
    domain = normalize_domain(who)
    covering = await mail_from_identity(aws, region, who)
    facts = SesMailFromFacts(
        domain=domain, region=region, expected_mx=f"feedback-smtp.{region}.amazonses.com"
    )
    a = Analysis(facts, evidence=covering.evidence())
    identity = covering.identity
    if identity is None:
        if covering.error is not None:
            return a.could_not_check(covering.error)
        summary = f"no domain identity for {domain} in {region}: no custom MAIL FROM domain to check"
        return a.conclude("skipped", "skipped", summary)
    facts.identity_type = identity.type
    attrs = identity.mail_from
    mail_from = normalize_domain(str(attrs.get("MailFromDomain") or ""))
    facts.identity, facts.mail_from_domain = identity.name, mail_from or None
    facts.status, facts.behavior_on_mx_failure = (
        attrs.get("MailFromDomainStatus"),
        attrs.get("BehaviorOnMxFailure"),
    )
    if not mail_from:
        summary = "no custom MAIL FROM domain: SES uses amazonses.com, so SPF cannot align"
        return a.conclude("skipped", "info", summary)
    facts.reset_command = (
        f"aws sesv2 put-email-identity-mail-from-attributes --email-identity {identity.name} --mail-from-domain "
        f"{mail_from} --behavior-on-mx-failure {facts.behavior_on_mx_failure or 'USE_DEFAULT_VALUE'} "
        f"--region {region}"
    )
    records = await analyze_mail_from(dns, mail_from, region, identity.name)
    a.evidence += records.evidence
    return _ses_mail_from_verdict(a, records)


def _ses_mail_from_verdict(
    a: Analysis[SesMailFromFacts], records: MailFromAnalysis
) -> Analysis[SesMailFromFacts]:
    f = a.facts
    for name in MailFromRecords.model_fields:  # the DNS side, as dns.mail_from found it
        setattr(f, name, getattr(records.facts, name))
    mail_from, status, behavior = f.mail_from_domain, f.status, f.behavior_on_mx_failure
    status_problem = None
    if status != "SUCCESS":
        status_problem = f"SES reports the MAIL FROM status of {mail_from} as {status}"
        if behavior in _BEHAVIOR:
            status_problem += f"; {_BEHAVIOR[str(behavior)]}"
        f.problems = [*f.problems, status_problem]
        if status == "FAILED":  # SES gave up on it: only setting the MAIL FROM domain again restarts it
            f.what_now = (
                "SES no longer re-checks a MAIL FROM domain at FAILED: fix the records, then set the MAIL FROM "
                "domain again (the command below), which makes SES check it anew"
            )
        else:
            f.what_now = (
                "SES re-checks on its own schedule (within 72 hours of the records resolving); setting the MAIL "
                "FROM domain again (the command below) makes it check at once"
            )
    own = f" (the address identity {f.identity}'s own setting)" if f.identity_type == "EMAIL_ADDRESS" else ""
    dns = records.result()
    if dns.outcome in ("mx-missing", "spf-missing", "error"):
        summary = dns.summary + own
        if status_problem and dns.outcome != "error":
            summary += f" (SES status {status}, BehaviorOnMxFailure {behavior})"
            if status == "FAILED":
                summary += "; after fixing it, set the MAIL FROM domain again: SES no longer re-checks it"
        return a.conclude(dns.outcome, dns.status, summary)
    if status_problem:
        recheck = (
            "SES no longer re-checks it: set the MAIL FROM domain again"
            if status == "FAILED"
            else "SES re-checks on its own schedule"
        )
        summary = (
            f"the MX and SPF records of {mail_from}{own} are right, but SES reports its MAIL FROM status as "
            f"{status} ({recheck}); " + _BEHAVIOR.get(str(behavior), f"BehaviorOnMxFailure {behavior}")
        )
        return a.conclude("not-verified", "fail", summary)
    found = dns.summary.removeprefix(f"MAIL FROM {mail_from}: ")
    summary = f"custom MAIL FROM {mail_from}{own} is verified (SUCCESS): {found}"
    return a.conclude("pass", "warn" if dns.status == "warn" else "pass", summary)


# ------------------------------------------------------------------------------------ DMARC alignment


class AlignmentFacts(Facts):
    domain: str | None = Field(None, description="the From domain")
    region: str | None = Field(None, description="the SES region checked")
    policy: str | None = Field(None, description="the DMARC policy that applies to the domain")
    adkim: str | None = Field(None, description="DKIM alignment asked for: r (relaxed) or s (strict)")
    aspf: str | None = Field(None, description="SPF alignment asked for: r (relaxed) or s (strict)")
    dkim_aligned: bool | None = Field(None, description="whether SES's DKIM signature aligns")
    spf_aligned: bool | None = Field(None, description="whether SES's MAIL FROM (SPF) aligns")
    dkim_reason: str | None = Field(None, description="why DKIM aligns or not")
    spf_reason: str | None = Field(None, description="why SPF aligns or not")
    dmarc_record: str | None = Field(None, description="the DMARC record")
    found_at: str | None = Field(None, description="where the DMARC record was found (_dmarc.<domain>)")
    identity: str | None = Field(None, description="the domain identity that covers the domain")
    signing_domain: str | None = Field(None, description="the d= SES signs with, when it signs")
    mail_from_domain: str | None = Field(None, description="the identity's custom MAIL FROM domain, if any")


@check(
    "ses.dmarc_alignment",
    outcomes={"pass", "unaligned", "skipped"},
    args=DomainArgs,
    facts=AlignmentFacts,
    iam_actions=("ses:GetEmailIdentity",),
)
async def dmarc_alignment_check(ctx: CheckContext[DomainArgs]) -> CheckResult:
    """Mail SES sends for the From domain can pass DMARC: DKIM or SPF aligns as the policy asks."""
    return await _for_domain(ctx, analyze_alignment)


async def analyze_alignment(aws: AwsClient, dns: DnsQuery, region: str, who: str) -> Analysis[AlignmentFacts]:
    """Whether mail SES sends for ``who`` (a domain or an address) can pass its DMARC policy: the
    policy, and how SES signs (DKIM d=, the domain identity that covers the domain) and what MAIL FROM
    it uses (SPF: an address identity's own MAIL FROM overrides its domain's)."""
    domain = normalize_domain(who)
    dmarc, covering, sender = await asyncio.gather(
        analyze_dmarc(dns, domain),
        covering_identity(aws, region, domain),
        mail_from_identity(aws, region, who),
    )
    record, identity = dmarc.parsed, covering.identity
    facts = AlignmentFacts(
        domain=domain,
        region=region,
        policy=dmarc.effective_policy,
        adkim=record.adkim if record else None,
        aspf=record.aspf if record else None,
        dmarc_record=record.text if record else None,
        found_at=dmarc.found_at,
    )
    a = Analysis(facts, evidence=dmarc.evidence())
    if dmarc.outcome == "error":
        return a.conclude("error", "error", dmarc.summary)
    if record is None or facts.policy in (None, "none") or len(dmarc.records) > 1:
        if record is None:
            why = "no DMARC record"
        elif len(dmarc.records) > 1:
            why = f"{len(dmarc.records)} DMARC records at {dmarc.found_at} (receivers then apply none)"
        else:
            why = f"the DMARC policy at {dmarc.found_at} is {facts.policy or 'missing or invalid'}"
        return a.conclude("skipped", "skipped", f"{why}: DMARC does not enforce")
    a.evidence += covering.evidence()
    if sender.identity is not None and sender.identity.type == "EMAIL_ADDRESS":  # its MAIL FROM is used
        a.evidence.append(sender.identity.evidence())
    if identity is None and covering.error is not None:
        return a.could_not_check(covering.error)
    facts.identity = identity.name if identity else None
    facts.dkim_aligned, facts.dkim_reason, facts.signing_domain = _dkim_alignment(
        identity, domain, region, record.adkim
    )
    mail_from_owner = sender.identity if sender.identity is not None else identity
    attrs = mail_from_owner.mail_from if mail_from_owner else {}
    facts.mail_from_domain = normalize_domain(str(attrs.get("MailFromDomain") or "")) or None
    facts.spf_aligned, facts.spf_reason = _spf_alignment(
        facts.mail_from_domain, attrs.get("MailFromDomainStatus"), domain, record.aspf
    )
    head = f"DMARC p={facts.policy} (adkim={record.adkim}, aspf={record.aspf})"
    if facts.dkim_aligned or facts.spf_aligned:
        how = " and ".join(x for x, ok in (("DKIM", facts.dkim_aligned), ("SPF", facts.spf_aligned)) if ok)
        reason = facts.dkim_reason if facts.dkim_aligned else facts.spf_reason
        return a.conclude("pass", "pass", f"{head}: SES mail from {domain} aligns through {how}: {reason}")
    summary = (
        f"{head} and SES mail from {domain} cannot align: DKIM: {facts.dkim_reason}; SPF: {facts.spf_reason}"
    )
    return a.conclude("unaligned", "fail", summary)


def _dkim_alignment(
    identity: IdentityLookup | None, domain: str, region: str, adkim: str
) -> tuple[bool, str, str | None]:
    """Whether SES's DKIM signature aligns, why, and its d= (SES signs with d=<the domain identity>
    when Easy DKIM or BYODKIM is on and verified)."""
    if identity is None:
        return False, (
            f"no domain identity covers {domain} in {region}: SES signs only with d=amazonses.com, "
            "which does not align"
        ), None  # fmt: skip
    dkim, d = identity.dkim, identity.name
    if not dkim.get("SigningEnabled"):
        return False, f"SES does not sign with DKIM for {d} (SigningEnabled false)", None
    if dkim.get("Status") != "SUCCESS":
        why = f"DKIM for {d} is not verified (status {dkim.get('Status')}): SES does not sign with it yet"
        return False, why, None
    if adkim == "s":
        ok = strict_aligned(d, domain)
        why = (
            f"d={d} equals the From domain (strict)"
            if ok
            else f"d={d} is not exactly {domain}, and adkim=s requires that"
        )
        return ok, why, d
    ok = relaxed_aligned(d, domain)
    why = (
        f"d={d} has the same organizational domain as {domain} (relaxed)"
        if ok
        else f"d={d} is not in {domain}'s organizational domain"
    )
    return ok, why, d


def _spf_alignment(mail_from: str | None, status: str | None, domain: str, aspf: str) -> tuple[bool, str]:
    """Whether SES's MAIL FROM aligns, and why: only a custom MAIL FROM domain that SES has verified can
    (else the MAIL FROM is under amazonses.com)."""
    if not mail_from:
        return (
            False,
            "no custom MAIL FROM domain: SES uses a MAIL FROM under amazonses.com, which does not align",
        )
    if status != "SUCCESS":
        return False, (
            f"the custom MAIL FROM {mail_from} is not verified (status {status}): SES falls back to "
            "amazonses.com or rejects the mail"
        )  # fmt: skip
    if aspf == "s":
        ok = strict_aligned(mail_from, domain)
        return ok, (
            f"MAIL FROM {mail_from} equals the From domain (strict)"
            if ok
            else f"aspf=s requires the MAIL FROM to be exactly {domain}; {mail_from} is a subdomain"
        )  # fmt: skip
    ok = relaxed_aligned(mail_from, domain)
    return ok, (
        f"MAIL FROM {mail_from} has the same organizational domain as {domain} (relaxed)"
        if ok
        else f"MAIL FROM {mail_from} is not in {domain}'s organizational domain"
    )  # fmt: skip


# --------------------------------------------------------------------------------------- suppression


class SuppressionArgs(RegionArgs):
    recipient: str | None = Field(None, description="the recipient address to look up")
    sender: str | None = Field(
        None,
        description="the sender, whose identity's default configuration set can override the suppression",
    )


class Suppressed(Facts):
    region: str = Field(description="the region whose suppression list holds the address")
    reason: str | None = Field(None, description="BOUNCE or COMPLAINT")
    last_update_time: str | None = Field(None, description="when it was put on the list (ISO 8601 UTC)")


class SuppressionFacts(Facts):
    recipient: str | None = Field(None, description="the recipient looked up")
    region: str | None = Field(None, description="the sending region")
    suppressed: bool = Field(False, description="whether it is suppressed in the sending region")
    reason: str | None = Field(None, description="why (BOUNCE or COMPLAINT), in the sending region")
    last_update_time: str | None = Field(None, description="since when, in the sending region (ISO 8601 UTC)")
    other_regions: list[Suppressed] = Field([], description="the other regions where it is suppressed")
    unchecked_regions: list[UncheckedRegion] = Field([], description="the regions that could not be checked")
    regions_checked: int = Field(0, description="how many regions answered")
    regions_not_enabled: list[str] = Field(
        [], description="SES regions not enabled in this account: not swept (said once, not unchecked)"
    )
    remedy_command: str | None = Field(
        None, description="the AWS CLI command that removes it in the sending region"
    )
    remedy_commands: list[str] = Field(
        [], description="the commands that remove it wherever it is suppressed"
    )
    account_suppressed_reasons: list[str] | None = Field(
        None,
        description="the reasons the account suppresses for in the sending region (GetAccount "
        "SuppressionAttributes.SuppressedReasons; None: not read)",
    )
    configuration_set: str | None = Field(
        None, description="the sender identity's default configuration set, if any"
    )
    configuration_set_suppressed_reasons: list[str] | None = Field(
        None, description="that set's suppression override (SuppressionOptions; None: it has none)"
    )
    effective_suppressed_reasons: list[str] | None = Field(
        None,
        description="the reasons SES suppresses mail from the sender for: the configuration set's override "
        "when it has one, else the account's (None: not known, the entry is taken to apply)",
    )
    entry_applies: bool | None = Field(
        None, description="whether the sending region's entry stops the sender's mail under those settings"
    )


# Regions launched before 2019-03-20 are enabled in every account and cannot be disabled (AWS Account
# Management guide, "Enable or disable AWS Regions in your account"); GovCloud and China have no opt-in.
DEFAULT_REGIONS = frozenset({
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
    "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2",
})  # fmt: skip


def always_enabled(region: str) -> bool:
    return region in DEFAULT_REGIONS or partition_of(region) != "aws"


def _delete_command(recipient: str, region: str) -> str:
    return f"aws sesv2 delete-suppressed-destination --email-address {recipient} --region {region}"


@check(
    "ses.suppression",
    outcomes={"pass", "suppressed", "skipped"},
    args=SuppressionArgs,
    facts=SuppressionFacts,
    applies_when=("recipient",),
    iam_actions=(
        "ses:GetSuppressedDestination",
        "ses:GetAccount",
        "ses:GetEmailIdentity",
        "ses:GetConfigurationSet",
        "account:ListRegions",
    ),
)
async def suppression_check(ctx: CheckContext[SuppressionArgs]) -> CheckResult:
    """The recipient is not on the account-level suppression list as SES applies it to the sender's mail
    (the account's reasons, or the sender identity's configuration set's); other regions shown."""
    aws, args = ctx.clients.aws, ctx.args
    return (await analyze_suppression(aws, _region(args, aws), args.recipient or "", args.sender)).result()


@dataclass
class _SuppressionSettings:
    account: list[str] | None
    configuration_set: str | None
    set_reasons: list[str] | None
    evidence: list[Evidence]
    notes: list[str]

    @property
    def effective(self) -> list[str] | None:
        return self.set_reasons if self.set_reasons is not None else self.account


async def _suppression_settings(aws: AwsClient, region: str, sender: str | None) -> _SuppressionSettings:
    """Which reasons SES suppresses for, for mail from ``sender`` in ``region``: the sender identity's
    default configuration set's SuppressionOptions when it has them, else the account's."""
    account, lookups = await asyncio.gather(
        capture(aws.call("sesv2", "GetAccount", region=region)),
        get_identities(aws, region, identity_names(sender) if sender else []),
    )
    out = _SuppressionSettings(None, None, None, [], [])
    ask = _cli("GetAccount", region)
    if isinstance(account, AwsError):
        out.evidence.append(Evidence(f"GetAccount ({region})", f"{ask}\n{account.code}: {account.message}"))
        out.notes.append(f"the account's suppression settings could not be read ({account})")
    else:
        attrs = account.get("SuppressionAttributes") or {}
        out.account = [str(r) for r in attrs.get("SuppressedReasons") or []]
        out.evidence.append(
            Evidence(f"GetAccount ({region})", f"{ask}\n" + excerpt(account, ("SuppressionAttributes",)))
        )
    out.evidence += [lk.evidence() for lk in lookups]
    identity = sending_identity(lookups)
    if identity is None or identity.configuration_set is None:
        return out
    cs = await get_configuration_set(aws, region, identity.configuration_set)
    out.configuration_set = cs.name
    out.evidence.append(cs.evidence())
    if cs.error is not None:
        out.notes.append(f"the configuration set {cs.name} could not be read ({cs.error})")
    else:
        out.set_reasons = cs.suppressed_reasons
    return out


async def analyze_suppression(
    aws: AwsClient, region: str, recipient: str, sender: str | None = None
) -> Analysis[SuppressionFacts]:
    """Look ``recipient`` up on the account-level suppression list of every SES region the account has
    enabled, at once (a disabled region is not called: it can hold no list)."""
    # Regions that are always enabled are read at once, while ListRegions says which others are on.
    first = [r for r in dict.fromkeys([region, *aws.known_ses_regions()]) if r == region or always_enabled(r)]
    read = progress.Counter(len(first), "regions read")

    async def read_one(r: str) -> dict[str, Any] | AwsError:
        answer = await capture(
            aws.call("sesv2", "GetSuppressedDestination", region=r, EmailAddress=recipient)
        )
        read.tick()
        return answer

    reads = {r: asyncio.ensure_future(read_one(r)) for r in first}
    settings_task = asyncio.ensure_future(_suppression_settings(aws, region, sender))
    try:
        enabled = await aws.ses_regions()
        regions = list(dict.fromkeys([region, *enabled.enabled]))
        read.total = len(regions)
        for r in regions:
            if r not in reads:
                reads[r] = asyncio.ensure_future(read_one(r))
        answers = await asyncio.gather(*(reads[r] for r in regions))
        settings = await settings_task
    finally:
        for task in [*reads.values(), settings_task]:
            task.cancel()  # a region ListRegions left out, or all of them when the check is cancelled
    facts = SuppressionFacts(
        recipient=recipient,
        region=region,
        remedy_command=_delete_command(recipient, region),
        account_suppressed_reasons=settings.account,
        configuration_set=settings.configuration_set,
        configuration_set_suppressed_reasons=settings.set_reasons,
        effective_suppressed_reasons=settings.effective,
    )
    a = Analysis(facts)
    own, own_error, errors = _sort_suppression(facts, regions, answers)
    ask = _cli("GetSuppressedDestination", region, EmailAddress=recipient)
    if own_error is not None:
        a.evidence = [
            Evidence(f"GetSuppressedDestination ({region})", f"{ask}\n{own_error.code}: {own_error.message}")
        ]
        return a.could_not_check(own_error)
    sweep = sort_region_errors(enabled, errors, own_answered=True)
    facts.unchecked_regions, facts.regions_not_enabled = sweep.unchecked, sweep.not_enabled
    note = sweep.note(listing=False)  # the summary counts them; the evidence names them
    own_answer = answers[0]
    if isinstance(own_answer, AwsError):
        own_text = f"{own_answer.code}: {own_answer.message}"
    else:
        own_text = excerpt(own_answer, ("SuppressedDestination",))
    lines = [f"{o.region}: {o.reason} since {o.last_update_time}" for o in facts.other_regions]
    lines += [f"{u.region}: could not check: {u.reason}" for u in facts.unchecked_regions]
    lines.append(f"{facts.regions_checked} of {len(regions)} regions answered")
    if note:
        lines.append(sweep.note() or "")
    a.evidence = [
        Evidence(f"GetSuppressedDestination ({region})", f"{ask}\n{own_text}"),
        Evidence(f"GetSuppressedDestination {recipient} in every SES region", "\n".join(lines)),
        *settings.evidence,
    ]
    facts.remedy_commands = [
        _delete_command(recipient, e.region) for e in ([own] if own else []) + facts.other_regions
    ]
    if own is not None and settings.effective is not None and own.reason not in settings.effective:
        facts.entry_applies = False
        return _not_applied_verdict(a, own, settings, note)
    facts.entry_applies = own is not None or None
    return _suppression_verdict(a, own, "; ".join(n for n in [*settings.notes, note or ""] if n) or None)


def _reasons(reasons: list[str]) -> str:
    return " and ".join(reasons) if reasons else "nothing"


def _not_applied_verdict(
    a: Analysis[SuppressionFacts], own: Suppressed, settings: _SuppressionSettings, note: str | None
) -> Analysis[SuppressionFacts]:
    """On the list, for a reason the settings that apply to the sender's mail do not suppress."""
    f = a.facts
    if settings.set_reasons is not None:
        whose = f"the configuration set {settings.configuration_set} (the sender identity's default) overrides the account and suppresses {_reasons(settings.set_reasons)}"
    else:
        whose = f"the account suppresses {_reasons(settings.account or [])} only"
    summary = (
        f"{f.recipient} is on the account-level suppression list in {f.region} ({own.reason}, since "
        f"{own.last_update_time}), but {whose}: the entry does not stop this mail"
        + (f"; {note}" if note else "")
    )
    f.suppressed, f.reason, f.last_update_time = True, own.reason, own.last_update_time
    return a.conclude("pass", "info", summary)


def _sort_suppression(
    facts: SuppressionFacts, regions: list[str], answers: Sequence[dict[str, Any] | AwsError]
) -> tuple[Suppressed | None, AwsError | None, dict[str, AwsError]]:
    """Put each region's answer in ``facts``; give the sending region's entry (None when it is not
    suppressed there) or its error, and the other regions' errors."""
    own: Suppressed | None = None
    own_error: AwsError | None = None
    errors: dict[str, AwsError] = {}
    for r, answer in zip(regions, answers, strict=True):
        if isinstance(answer, AwsError) and answer.code != NOT_FOUND:
            if r == facts.region:
                own_error = answer
            else:
                errors[r] = answer
            continue
        facts.regions_checked += 1
        if isinstance(answer, AwsError):  # NotFound: not suppressed there
            continue
        destination = answer.get("SuppressedDestination") or {}
        entry = Suppressed(
            region=r,
            reason=destination.get("Reason"),
            last_update_time=jsonable(destination.get("LastUpdateTime")),
        )
        if r == facts.region:
            own = entry
        else:
            facts.other_regions += [entry]
    return own, own_error, errors


def _suppression_verdict(
    a: Analysis[SuppressionFacts], own: Suppressed | None, note: str | None
) -> Analysis[SuppressionFacts]:
    f = a.facts
    recipient, region, others = f.recipient, f.region, f.other_regions
    listed = ", ".join(f"{o.region} ({o.reason})" for o in others)
    elsewhere = f"; also suppressed in {listed}" if others else ""
    unchecked_note = (
        f"; {len(f.unchecked_regions)} region(s) could not be checked" if f.unchecked_regions else ""
    ) + (f"; {note}" if note else "")
    if own is not None:
        f.suppressed, f.reason, f.last_update_time = True, own.reason, own.last_update_time
        summary = (
            f"{recipient} is on the account-level suppression list in {region} ({own.reason}, since "
            f"{own.last_update_time}): SES accepts mail to it and does not deliver it"
            f"{elsewhere}{unchecked_note}"
        )
        return a.conclude("suppressed", "fail", summary)
    if others:
        summary = (
            f"{recipient} is not suppressed in {region}, the sending region; it is in {listed}, which "
            f"matters only for mail sent from there{unchecked_note}"
        )
        return a.conclude("pass", "info", summary)
    summary = (
        f"{recipient} is not on the suppression list in {region} nor in any of {f.regions_checked - 1} other "
        f"regions{unchecked_note}"
    )
    return a.conclude("pass", "pass", summary)
