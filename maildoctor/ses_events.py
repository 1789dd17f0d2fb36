"""Read an SES event notification (the JSON that SNS, EventBridge or a configuration set delivers) and
say which layer it points at. Pure: no I/O.

Field names follow the SES Developer Guide ("Contents of notifications for Amazon SES" and "Contents of
event data that Amazon SES publishes to Amazon SNS"):

* identity notifications name the type ``notificationType``; configuration-set event publishing names it
  ``eventType`` (same objects: ``mail``, ``bounce``, ``complaint``, ``delivery``, ``reject``, ``failure``,
  ``deliveryDelay``, ...);
* SNS wraps it as a JSON string in ``Message`` of ``{"Type": "Notification", ...}`` (a Lambda receives
  that inside ``{"Records": [{"Sns": {...}}]}``); EventBridge puts it in ``detail`` of
  ``{"source": "aws.ses", "detail-type": ..., "region": ..., "detail": {...}}``.

:func:`parse_ses_event` never raises: anything that is not such a notification is ``None``.
"""

from __future__ import annotations

import email.utils
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

EVENT_TYPES = (
    "Bounce",
    "Complaint",
    "Delivery",
    "Reject",
    "DeliveryDelay",
    "Rendering Failure",
    "Send",
    "Open",
    "Click",
    "Subscription",
)
# the object that holds each event type's details, as the guide names it
DETAIL_KEYS = {
    "Bounce": "bounce",
    "Complaint": "complaint",
    "Delivery": "delivery",
    "Reject": "reject",
    "DeliveryDelay": "deliveryDelay",
    "Rendering Failure": "failure",
    "Send": "send",
    "Open": "open",
    "Click": "click",
    "Subscription": "subscription",
}
_BY_FOLDED = {re.sub(r"[\s_-]", "", name).lower(): name for name in EVENT_TYPES}

# a notification is a few KiB (its headers are cut at 10 KB); larger text is not one
MAX_TEXT = 2 * 1024 * 1024
_ARN_REGION_RE = re.compile(r"^arn:aws[a-z-]*:ses:([a-z0-9-]+):")
# the address type of a DSN field ("smtp; 550 ...", "dsn; a27-23.smtp-out...")
_TYPE_PREFIX_RE = re.compile(r"^\s*(?:smtp|dsn|dns|rfc822|x-[a-z0-9-]+)\s*;\s*", re.IGNORECASE)


@dataclass(frozen=True)
class SesRecipient:
    """One recipient the event is about. Empty strings where the notification does not say."""

    address: str
    action: str = ""
    status: str = ""
    diagnostic_code: str = ""  # without its "smtp;" type


@dataclass(frozen=True)
class SesEvent:
    """What an SES event notification says. Empty strings where it does not say."""

    event_type: str  # one of EVENT_TYPES
    envelope: str = "plain"  # plain, sns or eventbridge
    bounce_type: str = ""  # Permanent, Transient, Undetermined
    bounce_sub_type: str = ""
    delay_type: str = ""
    complaint_feedback_type: str = ""
    complaint_sub_type: str = ""
    recipients: tuple[SesRecipient, ...] = ()
    sender: str = ""  # the envelope sender (mail.source), else the From address
    from_header: str = ""
    subject: str = ""
    timestamp: str = ""  # ISO 8601, of the event (else of the mail)
    sending_account_id: str = ""
    region: str = ""
    source_arn: str = ""
    message_id: str = ""
    reporting_mta: str = ""
    remote_mta: str = ""
    smtp_response: str = ""  # the receiving server's reply to a delivery
    expiration_time: str = ""  # when SES stops retrying a delayed message
    configuration_set: str = ""
    reject_reason: str = ""
    template_name: str = ""
    error_message: str = ""  # a rendering failure's

    @property
    def recipient(self) -> str:
        """The first recipient the event is about, or ''."""
        return self.recipients[0].address if self.recipients else ""


# ------------------------------------------------------------------------------------------- parsing


def parse_ses_event(text: str) -> SesEvent | None:
    """The SES event in ``text`` (plain, SNS or EventBridge JSON), or None for anything else."""
    if not isinstance(text, str) or len(text) > MAX_TEXT or not text.lstrip().startswith("{"):
        return None
    outer = _loads(text)
    if outer is None:
        return None
    found = _unwrap(outer)
    if found is None:
        return None
    body, envelope, region = found
    try:
        return _event(body, envelope, region)
    except (TypeError, ValueError, AttributeError):  # pragma: no cover - every read is type-checked
        return None


def _loads(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # torn, not JSON, or nested beyond Python's stack
        return None
    return data if isinstance(data, dict) else None


def _unwrap(data: dict[str, Any]) -> tuple[dict[str, Any], str, str] | None:
    """(the notification itself, its envelope, the envelope's region) or None."""
    records = data.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], dict):
        sns = records[0].get("Sns")  # a Lambda's SNS event: the SNS message is one level down
        if isinstance(sns, dict):
            data = sns
    if isinstance(data.get("Message"), str) and data.get("Type", "Notification") == "Notification":
        inner = _loads(data["Message"])
        return (inner, "sns", "") if inner is not None and _event_type(inner) else None
    if data.get("source") == "aws.ses" and isinstance(data.get("detail"), dict):
        detail = data["detail"]
        return (detail, "eventbridge", _str(data, "region")) if _event_type(detail) else None
    return (data, "plain", "") if _event_type(data) else None


def _event_type(data: Mapping[str, Any]) -> str:
    """The event type, spelled as the guide spells it, or '' when it is not an SES event."""
    raw = data.get("eventType", data.get("notificationType"))
    if not isinstance(raw, str) or not isinstance(data.get("mail"), dict):
        return ""
    return _BY_FOLDED.get(re.sub(r"[\s_-]", "", raw).lower(), "")


def _event(body: dict[str, Any], envelope: str, envelope_region: str) -> SesEvent:
    event_type = _event_type(body)
    mail = _dict(body, "mail")
    detail = _dict(body, DETAIL_KEYS[event_type])
    common = _dict(mail, "commonHeaders")
    from_header = _first_str(common.get("from"))
    source_arn = _str(mail, "sourceArn")
    arn_region = _ARN_REGION_RE.match(source_arn)
    return SesEvent(
        event_type=event_type,
        envelope=envelope,
        bounce_type=_str(detail, "bounceType"),
        bounce_sub_type=_str(detail, "bounceSubType"),
        delay_type=_str(detail, "delayType"),
        complaint_feedback_type=_str(detail, "complaintFeedbackType"),
        complaint_sub_type=_str(detail, "complaintSubType"),
        recipients=_recipients(event_type, detail, mail),
        sender=_address(_str(mail, "source")) or _address(from_header),
        from_header=from_header,
        subject=_str(common, "subject"),
        timestamp=_str(detail, "timestamp") or _str(mail, "timestamp"),
        sending_account_id=_str(mail, "sendingAccountId"),
        region=arn_region.group(1) if arn_region else envelope_region,
        source_arn=source_arn,
        message_id=_str(mail, "messageId"),
        reporting_mta=_untyped(_str(detail, "reportingMTA")),
        remote_mta=_str(detail, "remoteMtaIp"),
        smtp_response=_str(detail, "smtpResponse"),
        expiration_time=_str(detail, "expirationTime"),
        configuration_set=_first_str(_dict(mail, "tags").get("ses:configuration-set")),
        reject_reason=_str(detail, "reason"),
        template_name=_str(detail, "templateName"),
        error_message=_str(detail, "errorMessage"),
    )


_RECIPIENT_LISTS = {
    "Bounce": "bouncedRecipients",
    "Complaint": "complainedRecipients",
    "Delivery": "recipients",
    "DeliveryDelay": "delayedRecipients",
}


def _recipients(
    event_type: str, detail: Mapping[str, Any], mail: Mapping[str, Any]
) -> tuple[SesRecipient, ...]:
    """The recipients the event is about: its own list, else the mail's destinations."""
    key = _RECIPIENT_LISTS.get(event_type)
    items = detail.get(key) if key else None
    if not isinstance(items, list):
        items = mail.get("destination")
    if not isinstance(items, list):
        return ()
    found = []
    for item in items[:1000]:  # a notification names at most the mail's recipients; keep it bounded
        if isinstance(item, str) and item:  # Delivery and mail.destination list bare addresses
            found.append(SesRecipient(address=item))
        elif isinstance(item, dict) and _str(item, "emailAddress"):
            found.append(
                SesRecipient(
                    address=_str(item, "emailAddress"),
                    action=_str(item, "action"),
                    status=_str(item, "status"),
                    diagnostic_code=_untyped(_str(item, "diagnosticCode")),
                )
            )
    return tuple(found)


def _dict(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value.strip() if isinstance(value, str) else ""


def _first_str(value: object) -> str:
    """The first string of a JSON list (SES lists the From addresses and tag values), or ''."""
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0].strip()
    return ""


def _address(value: str) -> str:
    """The address in a header-like value ("Admin <admin@example.com>" -> "admin@example.com")."""
    return email.utils.parseaddr(value)[1] if value else ""


def _untyped(value: str) -> str:
    """A DSN field without its type: "smtp; 550 5.1.1 user unknown" -> "550 5.1.1 user unknown"."""
    return _TYPE_PREFIX_RE.sub("", value, count=1)


# ------------------------------------------------------------------------------------------- layers

# SES's review and pause levels for the complaint rate (SES Developer Guide, reputation metrics)
COMPLAINT_REVIEW = "0.1 %"
COMPLAINT_PAUSE = "0.5 %"


def event_layer(event: SesEvent) -> tuple[str, str, str]:
    """(layer, reason, explanation): the layer of maildoctor.bounce the event points at (plus
    "delivered"), a short reason, and what it means in words. Layer "" says: read the recipient's
    diagnostic code with the ordinary bounce classifier."""
    handler = _LAYERS.get(event.event_type, _other)
    return handler(event)


def _who(event: SesEvent) -> str:
    return event.recipient or "the recipient"


def _bounce(event: SesEvent) -> tuple[str, str, str]:
    who, sub = _who(event), event.bounce_sub_type
    if sub == "OnAccountSuppressionList":
        return (
            "recipient",
            "account-suppressed",
            f"SES did not send to {who}: the address is on the account's suppression list"
            f"{_in_region(event)}. SES accepted the message but did not try to deliver it (this does not "
            "count toward the bounce rate); the suppression step checks the list and says how to remove "
            "the address once it is known to be valid.",
        )
    if sub == "Suppressed":
        return (
            "recipient",
            "global-suppressed",
            f"SES did not send to {who}: the address is on SES's global suppression list, kept by SES for "
            "addresses that recently hard-bounced for any SES customer. The account cannot read it or "
            "remove an address from it; SES removes the address itself after a while (longer after each "
            "hard bounce, up to 14 days). It counts toward the bounce rate: remove the address from the "
            "mailing list unless you are sure it is valid.",
        )
    if sub in ("NoEmail", "MailboxFull"):
        what = "does not exist" if sub == "NoEmail" else "is full"
        reason = "no-such-mailbox" if sub == "NoEmail" else "mailbox-full"
        return (
            "recipient",
            reason,
            f"The receiving server says the mailbox of {who} {what} ({_diagnostic(event)}).",
        )
    if sub in ("ContentRejected", "AttachmentRejected"):
        what = "content" if sub == "ContentRejected" else "an attachment"
        reason = "content-rejected" if sub == "ContentRejected" else "attachment-rejected"
        return (
            "policy",
            reason,
            f"The receiving server refused the mail to {who} for its {what} ({_diagnostic(event)}): its "
            "filters, not SES, decided.",
        )
    kind = (event.bounce_type or "undetermined").lower()
    return (
        "",
        (sub or "undetermined").lower(),
        f"A {kind} bounce of subtype {sub or 'none'}: its diagnostic code says more ({_diagnostic(event)}).",
    )


def _complaint(event: SesEvent) -> tuple[str, str, str]:
    who = _who(event)
    if event.complaint_sub_type == "OnAccountSuppressionList":
        return (
            "recipient",
            "account-suppressed",
            f"SES did not send to {who}: the address is on the account's suppression list{_in_region(event)}.",
        )
    feedback = f" (feedback type {event.complaint_feedback_type})" if event.complaint_feedback_type else ""
    return (
        "policy",
        "complaint",
        f"The mail was delivered and {who} marked it as spam{feedback}. Complaints count toward the "
        f"account's complaint rate: SES reviews an account at {COMPLAINT_REVIEW} and may pause its sending "
        f"at {COMPLAINT_PAUSE}; with the account-level suppression list on for complaints, SES no longer "
        "sends to that address.",
    )


def _delivery(event: SesEvent) -> tuple[str, str, str]:
    when = f" at {event.timestamp}" if event.timestamp else ""
    details = [
        f"remote MTA {event.remote_mta}" if event.remote_mta else "",
        _quoted_reply(event.smtp_response),
    ]
    said = "; ".join(d for d in details if d)
    return (
        "delivered",
        "delivered",
        f"SES delivered the mail to {_who(event)}'s receiving server{when}"
        f"{f' ({said})' if said else ''}: SES's part is done. What is left is on the recipient's side: "
        "their own filters, the spam or junk folder, or rules that move or delete the mail.",
    )


def _quoted_reply(reply: str) -> str:
    return f"its reply: {reply}" if reply else ""


def _reject(event: SesEvent) -> tuple[str, str, str]:
    reason = f" (reason: {event.reject_reason})" if event.reject_reason else ""
    return (
        "sending",
        "virus",
        f"SES rejected the message before sending it: a virus was found in it{reason}. SES did not try to "
        "deliver it; remove the infected content or attachment and send again.",
    )


# delayType -> (layer, reason, what it means); from the guide's DeliveryDelay object
_DELAYS: dict[str, tuple[str, str, str]] = {
    "MailboxFull": ("recipient", "mailbox-full", "the recipient's mailbox is full"),
    "SpamDetected": (
        "policy",
        "spam-detected",
        "the receiving server got an unusually large amount of unsolicited mail from the account",
    ),
    "IPFailure": (
        "policy",
        "ip-blocked",
        "the receiving provider blocks or throttles the IP address SES sends from",
    ),
    "RecipientServerError": (
        "unknown",
        "recipient-server-error",
        "the receiving server has a temporary problem",
    ),
    "TransientCommunicationFailure": (
        "unknown",
        "transient-communication-failure",
        "a temporary failure in the SMTP conversation with the receiving server",
    ),
    "InternalFailure": ("unknown", "internal-failure", "an issue inside SES held the message"),
    "SendingDeferral": ("unknown", "sending-deferral", "SES deferred the message internally"),
    "BYOIPHostNameLookupUnavailable": (
        "unknown",
        "byoip-hostname-lookup",
        "SES could not look up the DNS host name of the account's own (BYOIP) addresses",
    ),
}


def _delay(event: SesEvent) -> tuple[str, str, str]:
    until = f"; SES keeps trying until {event.expiration_time}" if event.expiration_time else ""
    known = _DELAYS.get(event.delay_type)
    if known is None:  # General, Undetermined or a new type: the diagnostic code says more
        return (
            "",
            (event.delay_type or "undetermined").lower(),
            f"Delivery to {_who(event)} is delayed ({_diagnostic(event)}){until}.",
        )
    layer, reason, what = known
    return layer, reason, f"Delivery to {_who(event)} is delayed: {what}{until}."


def _rendering_failure(event: SesEvent) -> tuple[str, str, str]:
    template = f" {event.template_name!r}" if event.template_name else ""
    error = f": {event.error_message}" if event.error_message else ""
    return (
        "sending",
        "rendering-failure",
        f"SES did not send the mail: the template{template} could not be rendered with the data given{error}. "
        "Check that the template data supplies every variable the template uses.",
    )


def _other(event: SesEvent) -> tuple[str, str, str]:
    if event.event_type == "Send":
        return (
            "unknown",
            "sent",
            "SES accepted the send request; this event does not say what happened after it.",
        )
    what = {
        "Open": "opened it",
        "Click": "clicked a link in it",
        "Subscription": "changed their subscription",
    }
    return (
        "delivered",
        event.event_type.lower(),
        f"The mail arrived: {_who(event)} {what.get(event.event_type, 'received it')}.",
    )


_LAYERS = {
    "Bounce": _bounce,
    "Complaint": _complaint,
    "Delivery": _delivery,
    "Reject": _reject,
    "DeliveryDelay": _delay,
    "Rendering Failure": _rendering_failure,
}


def _in_region(event: SesEvent) -> str:
    return f" in {event.region}" if event.region else ""


def _diagnostic(event: SesEvent) -> str:
    first = event.recipients[0] if event.recipients else None
    if first and first.diagnostic_code:
        return first.diagnostic_code
    if first and first.status:
        return f"status {first.status}"
    return "no diagnostic code given"
