"""The receiver's side of a bounce: what its policy or its authentication rules refused, in the user's terms.

These checks read what the bounce said (bounce.triage's facts) beside what the walk found on the sending
side (the account's reputation, how SES signs and which MAIL FROM it uses), and say what the receiver saw
and where to act; receiver.policy also reads SES's own open recommendations for the region (Virtual
Deliverability Manager's ListRecommendations), when the account has them. Postmaster and delisting pages are the receivers' and list operators' own
public pages.
"""

from __future__ import annotations

from pydantic import Field

from maildoctor.checks.common import capture, excerpt
from maildoctor.checks.registry import Args, CheckContext, CheckResult, Evidence, Facts, check
from maildoctor.clients.aws import AwsError

# The receiver's own pages for senders: reputation dashboards and how to ask for a review.
POSTMASTER = {
    "gmail": "Gmail Postmaster Tools (https://postmaster.google.com): domain and IP reputation, spam rate, "
    "authentication; Google's sender guidelines: https://support.google.com/a/answer/81126",
    "outlook": "Microsoft SNDS (https://sendersupport.olc.protection.outlook.com/snds/) and the delisting "
    "portal for Outlook.com and Hotmail (https://sender.office.com)",
    "yahoo": "Yahoo Sender Hub (https://senders.yahooinc.com): its sender requirements and feedback loop",
}
# Where a listing is looked up (and, for lists that allow it, removal asked for).
DELISTING = {
    "Spamhaus": "https://check.spamhaus.org",
    "Barracuda": "https://www.barracudacentral.org/lookups",
    "SpamCop": "https://www.spamcop.net/bl.shtml",
    "UCEPROTECT": "https://www.uceprotect.net/en/rblcheck.php",
    "Proofpoint": "https://ipcheck.proofpoint.com",
    "Cloudmark": "https://csi.cloudmark.com/en/reset/",
}
# Gmail's and Yahoo's requirements for bulk senders (from February 2024), as their guidelines list them.
BULK_RULES = (
    "SPF and DKIM for the sending domain, and a DMARC record (p=none at least) that one of them aligns with",
    "one-click unsubscribe (List-Unsubscribe and List-Unsubscribe-Post: List-Unsubscribe=One-Click, RFC 8058) "
    "on marketing mail, honoured within two days",
    "a spam rate under 0.3 % in Gmail Postmaster Tools (aim under 0.1 %)",
)


class PolicyArgs(Args):
    reply: str | None = Field(None, description="the receiver's reply, as the bounce quotes it")
    reason: str | None = Field(None, description="what the reply says, as bounce.triage labels it")
    blocklist: str | None = Field(None, description="the blocklist the reply names, if any")
    receiver: str | None = Field(None, description="gmail, outlook, yahoo or empty")
    bulk_sender_rule: bool | str | None = Field(None, description="whether the reply cites bulk-sender rules")
    bounce_rate: float | str | None = Field(None, description="the account's bounce rate (ses.account)")
    complaint_rate: float | str | None = Field(None, description="the account's complaint rate (ses.account)")
    region: str | None = Field(None, description="the SES region that sends")


class PolicyFacts(Facts):
    reason: str | None = Field(None, description="what the receiver's policy refused, as labelled")
    blocklist: str | None = Field(None, description="the blocklist the reply names")
    delisting: str | None = Field(None, description="where that listing is looked up")
    postmaster: str | None = Field(None, description="the receiver's pages for senders, when it is known")
    reputation: str | None = Field(None, description="the account's bounce and complaint rates, in words")
    bulk_sender_rules: str | None = Field(
        None, description="the bulk-sender rules, when the reply cites them"
    )
    advice: str | None = Field(None, description="what to do, as one paragraph in the user's values")
    recommendations: list[str] = Field(
        [], description="SES's open recommendations for the region (VDM), as 'IMPACT TYPE: description'"
    )
    recommendations_note: str | None = Field(
        None, description="why SES's recommendations could not be read, when they could not"
    )


def _rate(value: float | str | None) -> str:
    if isinstance(value, int | float):
        return f"{value * 100:.2f} %"
    return "not known"


@check(
    "receiver.policy",
    outcomes={"shown"},
    args=PolicyArgs,
    facts=PolicyFacts,
    iam_actions=("ses:ListRecommendations",),
)
async def policy_check(ctx: CheckContext[PolicyArgs]) -> CheckResult:
    """What the receiver's policy refused (a blocklist, a filter, reputation or a rate), SES's own open
    recommendations, and where to act."""
    args = ctx.args
    f = PolicyFacts(reason=args.reason, blocklist=args.blocklist or None)
    evidence = [Evidence("The receiver's reply", args.reply)] if args.reply else []
    region = args.region or ctx.clients.aws.region
    found = await capture(
        ctx.clients.aws.call("sesv2", "ListRecommendations", region=region, Filter={"STATUS": "OPEN"})
    )
    ask = f"$ aws sesv2 list-recommendations --filter STATUS=OPEN --region {region}"
    if isinstance(found, AwsError):  # the rest stands on the bounce alone: said, not fatal
        f.recommendations_note = f"SES's recommendations could not be read: {found}"
        evidence.append(Evidence(f"ListRecommendations ({region})", f"{ask}\n{found.code}: {found.message}"))
    else:
        f.recommendations = [
            f"{r.get('Impact', '?')} {r.get('Type', '?')}: {r.get('Description', '')}"
            + (f" ({str(r['ResourceArn']).rsplit('/', 1)[-1]})" if r.get("ResourceArn") else "")
            for r in found.get("Recommendations", [])
        ]
        evidence.append(
            Evidence(f"ListRecommendations ({region})", f"{ask}\n" + excerpt(found, ("Recommendations",)))
        )
    f.delisting = DELISTING.get(args.blocklist or "")
    f.postmaster = POSTMASTER.get((args.receiver or "").lower())
    f.reputation = (
        f"the account's highest hourly bounce rate in the last 24 hours is {_rate(args.bounce_rate)} (SES "
        f"reviews at 5 %) and its complaint rate {_rate(args.complaint_rate)} (SES reviews at 0.1 %)"
    )
    cited = args.bulk_sender_rule in (True, "True", "true")
    f.bulk_sender_rules = "; ".join(BULK_RULES) if cited else "none cited"
    advice = []
    if f.blocklist:
        advice.append(
            f"The reply names the {f.blocklist} blocklist: look the sending IP up at {f.delisting or 'its site'}. "
            "SES sends from shared IPs unless the account has dedicated IPs: a shared SES IP is AWS's to delist "
            "(open an AWS support case with the bounce); a dedicated IP is yours to ask removal for, after "
            "fixing what got it listed"
        )
    if f.recommendations:
        advice.append(f"SES's own open recommendations in {region}: " + "; ".join(f.recommendations))
    if f.postmaster:
        advice.append(f"See how the receiver rates your mail: {f.postmaster}")
    if args.reason == "rate-limit":
        advice.append(
            "The receiver limits how fast it accepts your mail: SES retries deferred mail for some hours; "
            "send more slowly to it, and warm up new domains or IPs gradually"
        )
    advice.append(f"Keep the list clean: {f.reputation}")
    if cited:
        advice.append(f"The reply cites the bulk-sender rules of Gmail and Yahoo: {f.bulk_sender_rules}")
    f.advice = ". ".join(advice) + "."
    what = f"{args.reason or 'policy'}: {f.blocklist}" if f.blocklist else args.reason or "policy"
    # the summary carries the advice: a remedy may quote only the summary of a step (it might have failed)
    summary = f"the receiver's policy refused the mail ({what}). {f.advice}"
    return CheckResult("shown", "info", summary, f, evidence)


class AuthenticationArgs(Args):
    domain: str | None = Field(None, description="the From domain")
    policy: str | None = Field(None, description="the DMARC policy that applies (ses.dmarc_alignment)")
    dkim_aligned: bool | str | None = Field(None, description="whether SES's DKIM signature aligns")
    spf_aligned: bool | str | None = Field(None, description="whether SES's MAIL FROM aligns")
    dkim_reason: str | None = Field(None, description="why DKIM aligns or not")
    spf_reason: str | None = Field(None, description="why SPF aligns or not")
    dkim_summary: str | None = Field(None, description="the DKIM step's summary")
    reply: str | None = Field(None, description="the receiver's reply")


class AuthenticationFacts(Facts):
    failed_part: str | None = Field(
        None,
        description="what fails as the receiver sees it: dkim, spf, both, or in-transit (SES's mail aligns)",
    )
    as_received: str | None = Field(None, description="how SES's mail authenticates, part by part, in words")


def _yes(value: bool | str | None) -> bool | None:
    if value in (True, "True", "true"):
        return True
    if value in (False, "False", "false"):
        return False
    return None


@check(
    "receiver.authentication",
    outcomes={"dns", "in-transit"},
    args=AuthenticationArgs,
    facts=AuthenticationFacts,
)
async def authentication_check(ctx: CheckContext[AuthenticationArgs]) -> CheckResult:
    """Which part of authentication the receiver saw fail: DKIM, SPF or DMARC alignment as SES sends the mail."""
    args = ctx.args
    dkim, spf = _yes(args.dkim_aligned), _yes(args.spf_aligned)
    parts = [
        f"DKIM: {args.dkim_reason or args.dkim_summary or 'not established by this walk'}",
        f"SPF: {args.spf_reason or 'not established by this walk'}",
        f"DMARC policy: {args.policy or 'none found, or it does not enforce'}",
    ]
    f = AuthenticationFacts(as_received="; ".join(parts))
    if dkim or spf:
        f.failed_part = "in-transit"
        how = " and ".join(x for x, ok in (("DKIM", dkim), ("SPF", spf)) if ok)
        summary = (
            f"as SES sends it, mail from {args.domain} aligns through {how}; the receiver saw it fail, so the "
            "message changed on the way (a forwarder or list rewrote it or re-sent it) or did not come from "
            f"SES with this identity: {f.as_received}"
        )
        return CheckResult("in-transit", "info", summary, f)
    failing = [x for x, ok in (("dkim", dkim), ("spf", spf)) if ok is False]
    f.failed_part = "both" if len(failing) == 2 else failing[0] if failing else "not-established"
    summary = f"as SES sends it, mail from {args.domain} cannot pass the receiver's check: {f.as_received}"
    return CheckResult("dns", "fail", summary, f)
