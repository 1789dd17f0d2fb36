"""bounce.triage: read a pasted bounce and say which layer to check first (parser: maildoctor.bounce)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from maildoctor.checks.registry import Args, CheckContext, CheckResult, Evidence, Facts, check

if TYPE_CHECKING:  # the parser (and its email modules) is imported when a bounce is read
    from maildoctor.bounce import Bounce

_SOURCES = {
    "gmail-send-as": "Gmail 'Send mail as' bounce",
    "dsn": "delivery status notification",
    "smtp-reply": "SMTP reply",
    "ses-notification": "SES notification",
    "unknown": "bounce",
}


class TriageArgs(Args):
    bounce: str | None = Field(None, description="the bounce text: a DSN, a pasted message or an SMTP reply")


class RecipientFacts(Facts):
    address: str | None = Field(None, description="the recipient's address (Final-Recipient)")
    action: str | None = Field(
        None, description="what the reporter did for it (failed, delayed, delivered …)"
    )
    status: str | None = Field(None, description="the enhanced status code for it (e.g. 5.1.1)")
    reply_code: int | None = Field(None, description="the remote server's SMTP reply code for it (e.g. 550)")
    diagnostic: str | None = Field(None, description="the remote server's reply or the reporter's diagnostic")
    remote_mta: str | None = Field(None, description="the server that answered for it")


class TriageFacts(Facts):
    pathway: str | None = Field(None, description="the sending pathway the bounce shows (e.g. gmail-send-as)")
    layer: str | None = Field(None, description="the layer the bounce points to, in words")
    remote_reply: str | None = Field(None, description="the remote server's reply, as quoted")
    smtp_code: int | None = Field(None, description="the SMTP reply code (e.g. 535)")
    enhanced_status: str | None = Field(None, description="the enhanced status code (e.g. 5.7.8)")
    final_recipient: str | None = Field(None, description="the recipient the report is about")
    reporting_mta: str | None = Field(None, description="the server that wrote the report")
    remote_mta: str | None = Field(None, description="the server that refused the mail")
    action: str | None = Field(None, description="the DSN action (failed, delayed …)")
    diagnostic_code: str | None = Field(None, description="the DSN Diagnostic-Code field")
    bounce_time: str | None = Field(None, description="when the bounce was written (its Date header)")
    subject: str | None = Field(None, description="the bounce's Subject")
    gmail_send_as: bool = Field(False, description="whether Gmail's 'Send mail as' relay wrote it")
    source: str | None = Field(
        None, description="what kind of text it is: gmail-send-as, dsn, smtp-reply or unknown"
    )
    explanation: str | None = Field(None, description="why the bounce points where it does")
    reason: str | None = Field(
        None, description="a short label of the cause (no-such-user, mailbox-full, blocklist, spam, dmarc …)"
    )
    blocklist: str | None = Field(None, description="the blocklist the reply names (e.g. Spamhaus)")
    receiver: str | None = Field(
        None, description="the big receiver that refused it: gmail, outlook or yahoo"
    )
    bulk_sender_rule: bool = Field(
        False, description="whether the reply cites Gmail's or Yahoo's bulk-sender requirements"
    )
    recipients: list[RecipientFacts] = Field(
        [], description="every recipient the report names, with its status"
    )
    event_type: str | None = Field(
        None, description="for an SES notification: Bounce, Complaint, Delivery, Reject, DeliveryDelay …"
    )
    bounce_type: str | None = Field(None, description="an SES Bounce's bounceType (Permanent, Transient …)")
    bounce_sub_type: str | None = Field(
        None, description="an SES Bounce's bounceSubType (OnAccountSuppressionList, Suppressed, General …)"
    )
    sender: str | None = Field(None, description="the sender an SES notification names (mail.source)")
    sending_account_id: str | None = Field(None, description="the AWS account an SES notification names")
    sending_region: str | None = Field(None, description="the SES region an SES notification names")


@check(
    "bounce.triage",
    outcomes={"credentials", "sending", "recipient", "dmarc", "policy", "delivered", "unknown", "skipped"},
    args=TriageArgs,
    facts=TriageFacts,
    applies_when=("bounce",),
)
async def triage_check(ctx: CheckContext[TriageArgs]) -> CheckResult:
    """Read the bounce text: the remote server's reply, and the layer it points to."""
    from maildoctor.bounce import read

    text = ctx.args.bounce or ""
    bounce, triage, event = read(text)
    facts = TriageFacts(
        pathway=triage.pathway,
        layer=triage.layer_phrase,
        remote_reply=bounce.remote_reply,
        smtp_code=bounce.smtp_code,
        enhanced_status=bounce.enhanced_status,
        final_recipient=bounce.final_recipient,
        reporting_mta=bounce.reporting_mta,
        remote_mta=bounce.remote_mta,
        action=bounce.action,
        diagnostic_code=bounce.diagnostic_code,
        bounce_time=bounce.date,
        subject=bounce.subject,
        gmail_send_as=bounce.gmail_send_as,
        source=bounce.source,
        explanation=triage.explanation,
        reason=triage.reason,
        blocklist=triage.blocklist,
        receiver=triage.receiver,
        bulk_sender_rule=triage.bulk_sender_rule,
        recipients=[
            RecipientFacts(
                address=r.address,
                action=r.action,
                status=r.status,
                reply_code=r.reply_code,
                diagnostic=r.diagnostic,
                remote_mta=r.remote_mta,
            )
            for r in bounce.recipients
        ],
    )
    if event is not None:
        facts.event_type, facts.bounce_type, facts.bounce_sub_type = (
            event.event_type, event.bounce_type or None, event.bounce_sub_type or None,
        )  # fmt: skip
        facts.sender, facts.sending_account_id = event.sender or None, event.sending_account_id or None
        facts.sending_region = event.region or None
    if triage.layer == "skipped":
        return CheckResult("skipped", "skipped", "no bounce given", facts)

    what = _SOURCES[bounce.source]
    if event is not None:
        kinds = "/".join(k for k in (event.bounce_type, event.bounce_sub_type or event.delay_type) if k)
        what = f"SES {event.event_type} notification" + (f" ({kinds})" if kinds else "")
    reply = bounce.reply_line
    if triage.layer == "delivered":  # nothing failed on the way: nothing to check first
        summary = f"{what}: {triage.explanation}"
    elif event is not None and triage.layer != "unknown":  # SES's own words say more than the reply
        summary = f"{what}: {triage.explanation} — check {triage.layer_phrase} first"
    elif triage.layer == "unknown":
        said = f": the reply {reply!r}" if reply else ": no SMTP reply or delivery status found in it"
        summary = f"{what}{said} — it does not point to one layer"
    else:
        said = f' answered "{reply}"' if reply else " gave no reply"
        subject = "the relay" if bounce.gmail_send_as else "the server"
        summary = f"{what}: {subject}{said} — check {triage.layer_phrase} first"
    return CheckResult(triage.layer, "info", summary, facts, _evidence(bounce))


def _evidence(bounce: Bounce) -> list[Evidence]:
    evidence = []
    if bounce.remote_reply:
        evidence.append(Evidence("The remote server's reply, as quoted in the bounce", bounce.remote_reply))
    fields = [
        ("Date", bounce.date),
        ("From", bounce.header_from),
        ("To", bounce.header_to),
        ("Subject", bounce.subject),
        *bounce.dsn_fields.items(),
    ]
    shown = "\n".join(f"{name}: {value}" for name, value in fields if value)
    if shown:
        evidence.append(Evidence("Bounce headers and delivery status fields", shown))
    return evidence


# ------------------------------------------------------------------------------------ the explanation

# The findings (diagnosis codes, by prefix) that explain a bounce pointing at each layer.
EXPLAINS: dict[str, tuple[str, ...]] = {
    "credentials": ("smtp-",),
    "sending": (
        "identity-",
        "account-",
        "quota-",
        "sending-rate-",
        "mail-from-not-verified",
        "smtp-not-authorized",
    ),
    "recipient": ("recipient-", "account-sandbox"),
    "dmarc": ("dmarc-", "dkim-", "spf-", "mail-from-", "receiver-authentication"),
    "policy": ("receiver-policy",),
    "unknown": ("",),  # any finding may be what the bounce is about
}
# Layers where the bounce alone supports a finding when no check explains it (the flow's remedy says
# what the receiver or SES said and what could not be established); elsewhere it stays open (error).
ON_ITS_OWN = ("credentials", "recipient", "dmarc", "policy")


class ExplainArgs(Args):
    layer: str | None = Field(None, description="the layer the bounce points to (bounce.triage's outcome)")
    reply: str | None = Field(None, description="the reply the bounce quotes")
    status: str | int | None = Field(
        None, description="the bounce's status or reply code (none: it reports no failure)"
    )


class ExplainFacts(Facts):
    explained_by: list[str] = Field([], description="the findings of this walk that explain the bounce")
    layer: str | None = Field(None, description="the layer the bounce points to")


@check(
    "bounce.explained",
    outcomes={"explained", *ON_ITS_OWN, "skipped"},
    args=ExplainArgs,
    facts=ExplainFacts,
    applies_when=("layer",),
    reads_earlier_steps=True,  # the findings made so far explain the bounce
)
async def explained_check(ctx: CheckContext[ExplainArgs]) -> CheckResult:
    """A bounce is evidence: some finding of the walk explains the failure it reports."""
    layer = ctx.args.layer or ""
    if layer == "delivered":
        summary = (
            "SES delivered the message: no failure to explain on the way; the recipient's own filters remain"
        )
        return CheckResult("skipped", "skipped", summary, ExplainFacts(layer=layer))
    if layer not in EXPLAINS or (layer == "unknown" and not ctx.args.status):
        return CheckResult("skipped", "skipped", "the bounce reports no failure to explain", ExplainFacts())
    codes = [str(f["code"]) for f in ctx.facts.values() if f.get("code") and f.get("step_status") != "error"]
    by = [c for c in codes if c.startswith(EXPLAINS[layer])]
    facts = ExplainFacts(explained_by=by, layer=layer)
    reply = f'"{ctx.args.reply}"' if ctx.args.reply else "a failure"
    if by:
        return CheckResult(
            "explained", "pass", f"the bounce's {reply} is explained by {', '.join(by)}", facts
        )
    if layer not in ON_ITS_OWN:
        # the bounce points nowhere in particular, or at a layer that checked fine: it stays open
        summary = f"could not check: the bounce reports {reply}, and no layer checked explains it"
        return CheckResult("error", "error", summary, facts)
    return CheckResult(
        layer, "fail", f"the bounce reports {reply}, and no finding of this walk explains it", facts
    )
