"""Read a pasted bounce (a non-delivery report) and say which layer to check first.

A pure parser, no I/O. It understands:

* RFC 3464 delivery status notifications: the ``message/delivery-status`` part of a MIME report
  (parsed with the ``email`` package), or the same fields pasted as header-like lines in plain text
  (Reporting-MTA, Remote-MTA, Final-Recipient, Action, Status, Diagnostic-Code, Arrival-Date);
* Gmail's "Send mail as" bounce ("misconfigured or out of date", ``CustomFromDenied``), with the relay's
  reply after "The response from the remote server was:";
* a bare SMTP reply such as ``535 Authentication Credentials Invalid`` or SES's
  ``554 Message rejected: Email address is not verified. ...``;
* the Date, From, To and Subject headers when the bounce was pasted with them.

:func:`parse_bounce` never raises: whatever it cannot read it leaves empty, and :func:`classify` then
answers ``unknown``.
"""

from __future__ import annotations

import email
import email.message
import email.utils
import re
from dataclasses import dataclass, field
from email.policy import compat32
from typing import Literal

Layer = Literal["credentials", "sending", "recipient", "dmarc", "unknown", "skipped"]
Source = Literal["gmail-send-as", "dsn", "smtp-reply", "unknown"]
Pathway = Literal["gmail-send-as", "smtp", ""]

LAYER_PHRASES: dict[str, str] = {
    "credentials": "SMTP credentials (the IAM key behind them)",
    "sending": "SES sending: the identity, the account (sandbox, pause, quota) and the IAM permission to send",
    "recipient": "the recipient address (the mailbox, and SES's suppression list)",
    "dmarc": "sender authentication (DMARC alignment of DKIM and SPF)",
    "unknown": "not clear from the bounce",
    "skipped": "no bounce given",
}


@dataclass
class Bounce:
    """What a bounce says. Empty strings (or ``None``) where the text does not say."""

    source: Source = "unknown"
    remote_reply: str = ""  # the SMTP reply line(s), verbatim
    smtp_code: int | None = None
    enhanced_status: str = ""  # e.g. "5.7.8"
    final_recipient: str = ""
    original_recipient: str = ""
    reporting_mta: str = ""
    remote_mta: str = ""
    action: str = ""
    status: str = ""  # the DSN Status field
    diagnostic_code: str = ""  # the DSN Diagnostic-Code, without its "smtp;" type
    date: str = ""  # ISO 8601, from the Date header or an Arrival-Date / Last-Attempt-Date
    header_from: str = ""
    header_to: str = ""
    subject: str = ""
    gmail_send_as: bool = False
    dsn_fields: dict[str, str] = field(default_factory=dict)  # every delivery-status field found

    @property
    def reply_line(self) -> str:
        """The reply on one line: continuation lines joined, whitespace collapsed."""
        return _one_line(self.remote_reply)

    @property
    def empty(self) -> bool:
        return self == Bounce()


@dataclass(frozen=True)
class Triage:
    """Where a bounce points: the layer to check first, the sending pathway if the bounce tells it."""

    layer: Layer
    pathway: Pathway
    explanation: str

    @property
    def layer_phrase(self) -> str:
        return LAYER_PHRASES[self.layer]


# ------------------------------------------------------------------------------------------------ parsing

_DSN_FIELDS = (
    "Reporting-MTA",
    "Received-From-MTA",
    "Arrival-Date",
    "Original-Envelope-Id",
    "Original-Recipient",
    "Final-Recipient",
    "Action",
    "Status",
    "Remote-MTA",
    "Diagnostic-Code",
    "Last-Attempt-Date",
    "Will-Retry-Until",
    "X-Postfix-Sender",
)
_DSN_FIELD_RE = re.compile(r"^[ \t]*(" + "|".join(_DSN_FIELDS) + r")[ \t]*:[ \t]*(.*)$", re.IGNORECASE)
_CANONICAL = {name.lower(): name for name in _DSN_FIELDS}

_GMAIL_SEND_AS_RE = re.compile(
    r"Send mail as|CustomFromDenied|misconfigured or out of date|different address or alias", re.IGNORECASE
)
_RESPONSE_MARKER_RE = re.compile(
    r"The response (?:from the remote server )?was:[ \t]*(.*)$", re.IGNORECASE | re.MULTILINE
)
_REPLY_LINE_RE = re.compile(r"^[ \t]*([45]\d\d)([ -])(.*)$")
_INLINE_REPLY_RE = re.compile(r"\b([45]\d\d)[ -]#?([245]\.\d{1,3}\.\d{1,3})\b[^\n]*")
_ENHANCED_RE = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_LEADING_ENHANCED_RE = re.compile(r"^[245]\d\d[ -]#?([245]\.\d{1,3}\.\d{1,3})\b")
_CODE_RE = re.compile(r"^([245]\d\d)(?:[ -]|$)")
_DSN_TYPE_RE = re.compile(r"^[A-Za-z0-9-]+[ \t]*;[ \t]*")
_WS_RE = re.compile(r"\s+")


def _one_line(text: str) -> str:
    """Multi-line SMTP replies ("550-5.1.1 a" / "550 5.1.1 b") shown as one line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        first = _CODE_RE.match(lines[0])
        if first:
            code = first.group(1)
            rest = []
            for line in lines[1:]:
                m = re.match(rf"^{code}[ -](?:#?[245]\.\d{{1,3}}\.\d{{1,3}}[ \t]+)?(.*)$", line)
                rest.append(m.group(1) if m else line)
            lines = [lines[0].replace(f"{code}-", f"{code} ", 1), *rest]
    return _WS_RE.sub(" ", " ".join(lines)).strip()


def _strip_type(value: str) -> str:
    """'rfc822; a@b.c' -> 'a@b.c', 'dns; mx.example.com' -> 'mx.example.com', 'smtp; 550 ...' -> '550 ...'"""
    return _DSN_TYPE_RE.sub("", value.strip(), count=1).strip()


def _address(value: str) -> str:
    """'rfc822; <a@b.c>' -> 'a@b.c'"""
    return _strip_type(value).strip("<>").strip()


def _iso_date(value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return ""
    return when.isoformat()


def _scan_dsn_fields(text: str) -> list[dict[str, str]]:
    """Header-like delivery-status fields in plain text, grouped: a new group starts where a field repeats
    (the per-message fields, then one group per recipient). Continuation lines are folded in."""
    groups: list[dict[str, str]] = [{}]
    last: str | None = None
    for line in text.splitlines():
        m = _DSN_FIELD_RE.match(line)
        if m:
            name = _CANONICAL[m.group(1).lower()]
            if name in groups[-1]:
                groups.append({})
            groups[-1][name] = m.group(2).strip()
            last = name
        elif last is not None and line[:1] in (" ", "\t") and line.strip():
            groups[-1][last] = f"{groups[-1][last]} {line.strip()}".strip()
        else:
            last = None
    return [g for g in groups if g]


def _mime_dsn_fields(message: email.message.Message) -> list[dict[str, str]]:
    """The field blocks of every message/delivery-status part."""
    groups: list[dict[str, str]] = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        blocks = payload if isinstance(payload, list) else []
        if not blocks and isinstance(payload, str):  # not parsed into blocks: read the text
            groups.extend(_scan_dsn_fields(payload))
            continue
        for block in blocks:
            if not isinstance(block, email.message.Message):
                continue
            fields = {
                _CANONICAL[k.lower()]: _WS_RE.sub(" ", str(v)).strip()
                for k, v in block.items()
                if k.lower() in _CANONICAL
            }
            if fields:
                groups.append(fields)
    return groups


def _readable_text(message: email.message.Message) -> str:
    """The human-readable text of a message: its text/plain (or text/html, tags dropped) parts, but not
    the original message a report quotes (message/rfc822, text/rfc822-headers)."""
    if not message.is_multipart():
        payload = message.get_payload(decode=True)
        if isinstance(payload, bytes):
            charset = message.get_content_charset() or "utf-8"
            try:
                return payload.decode(charset, errors="replace")
            except LookupError:
                return payload.decode("utf-8", errors="replace")
        raw = message.get_payload()
        return raw if isinstance(raw, str) else ""
    texts: list[str] = []
    stack: list[email.message.Message] = [message]
    while stack:
        part = stack.pop(0)
        kind = part.get_content_type()
        if kind in ("message/rfc822", "text/rfc822-headers", "message/delivery-status"):
            continue
        if part.is_multipart():
            inner = part.get_payload()
            if isinstance(inner, list):
                stack = [p for p in inner if isinstance(p, email.message.Message)] + stack
            continue
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                continue
            try:
                text = payload.decode(part.get_content_charset() or "utf-8", errors="replace")
            except LookupError:
                text = payload.decode("utf-8", errors="replace")
            if part.get_content_subtype() == "html":
                text = re.sub(r"<[^>]*>", "\n", text)
            texts.append(text)
    return "\n".join(texts)


def _decoded_single_part(message: email.message.Message) -> str | None:
    """The body of a single-part message sent as base64 or quoted-printable, decoded (with its
    charset; HTML tags dropped), its line ends normalised; None for any other message."""
    if message.is_multipart():
        return None
    encoding = str(message.get("Content-Transfer-Encoding", "") or "").strip().lower()
    if encoding not in ("base64", "quoted-printable"):
        return None
    body = _readable_text(message)
    if message.get_content_subtype() == "html":
        body = re.sub(r"<[^>]*>", "\n", body)
    return body.replace("\r\n", "\n").replace("\r", "\n")


def _reply_after_marker(text: str) -> str:
    """The reply Gmail quotes after "The response from the remote server was:" (or "The response was:")."""
    m = _RESPONSE_MARKER_RE.search(text)
    if not m:
        return ""
    same_line = m.group(1).strip()
    if same_line:
        return same_line
    lines: list[str] = []
    for line in text[m.end() :].splitlines():
        if not line.strip():
            if lines:
                break
            continue
        lines.append(line.strip())
    return "\n".join(lines)


def _reply_in_text(text: str) -> str:
    """The first SMTP reply in free text: lines starting with a 4xx/5xx code (with their continuation
    lines), else a code and an enhanced status inside a line ("Remote server returned '550 5.1.1 ...'")."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _REPLY_LINE_RE.match(line)
        if not m:
            continue
        code, sep = m.group(1), m.group(2)
        found = [line.strip()]
        while sep == "-" and i + 1 < len(lines):
            i += 1
            nxt = _REPLY_LINE_RE.match(lines[i])
            if not nxt or nxt.group(1) != code:
                break
            found.append(lines[i].strip())
            sep = nxt.group(2)
        return "\n".join(found)
    inline = _INLINE_REPLY_RE.search(text)
    if inline:
        return inline.group(0).strip().rstrip("'\"]>)").strip()
    return ""


def _looks_like_message(text: str) -> bool:
    first = text.lstrip().split("\n", 1)[0]
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9-]*:", first)) or first.startswith("From ")


def parse_bounce(text: str) -> Bounce:
    """Parse pasted bounce text (a whole message, a plain-text NDR, or just the reply). Never raises."""
    bounce = Bounce()
    if not isinstance(text, str) or not text.strip():
        return bounce
    text = text.replace("\r\n", "\n").replace("\r", "\n")

    readable = text
    dsn_groups: list[dict[str, str]] = []
    if _looks_like_message(text):
        # The email package is lenient, but this is pasted text of any shape: when it cannot be read as
        # a message, the plain-text reading below still applies.
        try:
            message = email.message_from_string(text.lstrip(), policy=compat32)
            bounce.header_from = _WS_RE.sub(" ", str(message.get("From", "") or "")).strip()
            bounce.header_to = _WS_RE.sub(" ", str(message.get("To", "") or "")).strip()
            bounce.subject = _WS_RE.sub(" ", str(message.get("Subject", "") or "")).strip()
            bounce.date = _iso_date(str(message.get("Date", "") or ""))
            dsn_groups = _mime_dsn_fields(message)
            decoded = _decoded_single_part(message)
            if decoded is not None:  # the body was base64 or quoted-printable: read what it says
                text = readable = decoded
            else:
                readable = _readable_text(message) if message.is_multipart() else text
        except Exception:
            readable, dsn_groups = text, []
    if not dsn_groups:
        dsn_groups = _scan_dsn_fields(text)

    _apply_dsn(bounce, dsn_groups)

    bounce.gmail_send_as = bool(_GMAIL_SEND_AS_RE.search(readable))
    reply = _reply_after_marker(readable)
    if not reply and bounce.diagnostic_code:
        reply = bounce.diagnostic_code
    if not reply:
        reply = _reply_in_text(readable)
    bounce.remote_reply = reply

    one_line = bounce.reply_line
    code = _CODE_RE.match(one_line)
    if code:
        bounce.smtp_code = int(code.group(1))
    status = _ENHANCED_RE.search(bounce.status)
    leading = _LEADING_ENHANCED_RE.match(one_line)
    anywhere = _ENHANCED_RE.search(one_line)
    if status:
        bounce.enhanced_status = status.group(1)
    elif leading:
        bounce.enhanced_status = leading.group(1)
    elif anywhere and bounce.smtp_code:
        bounce.enhanced_status = anywhere.group(1)

    if bounce.gmail_send_as:
        bounce.source = "gmail-send-as"
    elif bounce.dsn_fields:
        bounce.source = "dsn"
    elif bounce.remote_reply:
        bounce.source = "smtp-reply"
    return bounce


def _apply_dsn(bounce: Bounce, groups: list[dict[str, str]]) -> None:
    if not groups:
        return
    merged: dict[str, str] = {}
    for group in groups:
        for name, value in group.items():
            merged.setdefault(name, value)
    # The recipient to report: the first one that failed, else the first one with a recipient field.
    recipients = [g for g in groups if "Final-Recipient" in g or "Original-Recipient" in g]
    failed = [g for g in recipients if g.get("Action", "").strip().lower() == "failed"]
    chosen = (failed or recipients or [merged])[0]
    fields = {**merged, **chosen}
    bounce.dsn_fields = fields
    bounce.reporting_mta = _strip_type(fields.get("Reporting-MTA", ""))
    bounce.remote_mta = _strip_type(fields.get("Remote-MTA", ""))
    bounce.final_recipient = _address(fields.get("Final-Recipient", ""))
    bounce.original_recipient = _address(fields.get("Original-Recipient", ""))
    bounce.action = fields.get("Action", "").strip().lower()
    bounce.status = fields.get("Status", "").strip()
    bounce.diagnostic_code = _strip_type(fields.get("Diagnostic-Code", ""))
    if not bounce.date:
        bounce.date = _iso_date(fields.get("Arrival-Date", "")) or _iso_date(
            fields.get("Last-Attempt-Date", "")
        )


# ------------------------------------------------------------------------------------------- classifying


@dataclass(frozen=True)
class _Rule:
    layer: Layer
    pattern: re.Pattern[str]
    explanation: str


def _rule(layer: Layer, pattern: str, explanation: str) -> _Rule:
    return _Rule(layer, re.compile(pattern, re.IGNORECASE | re.MULTILINE), explanation)


# First match wins; the text matched is the reply, the DSN Status and Diagnostic-Code (or, when the bounce
# has none of those, its whole readable text).
_RULES: tuple[_Rule, ...] = (
    _rule(
        "credentials",
        r"Signature Version 2",
        "The SMTP password has the Signature Version 2 form, which SES stopped accepting in 2021; "
        "the password must be derived again from the key's secret with SigV4.",
    ),
    _rule(
        "sending",
        r"Account not subscribed",
        "SES refused the login because the key's AWS account is not signed up for SES "
        "(or SES is not available to it in this region).",
    ),
    _rule(
        "sending",
        r"not verified|Mail FROM domain is not verified",
        "SES took the login but refused the message: an address it was sent from (or, in the sandbox, "
        "to) is not a verified identity in the sending region.",
    ),
    _rule(
        "sending",
        r"Sending paused|Sending suspended|sending (?:is )?disabled",
        "SES refused the message because sending is paused for the account (by AWS, or by the account "
        "itself: the account step tells which).",
    ),
    _rule(
        "sending",
        r"Access denied: User|not authorized to perform\s+ses:|ses:SendRawEmail",
        "SES took the login but the IAM user behind the SMTP credentials may not ses:SendRawEmail "
        "for this identity.",
    ),
    _rule(
        "sending",
        r"quota exceeded|Maximum sending rate exceeded",
        "SES refused the message for the account's sending limits (the 24-hour quota or the rate).",
    ),
    _rule(
        "dmarc",
        r"5\.7\.26|DMARC|\bunauthenticated\b",
        "The receiving server refused the message because it did not pass DMARC: neither DKIM nor SPF "
        "authenticated it for the From domain.",
    ),
    _rule(
        "credentials",
        r"Authentication Credentials Invalid|\b5\.7\.8\b|authentication (?:failed|failure|required|unsuccessful)"
        r"|Username and Password not accepted|^(?:535|530)\b",
        "The SMTP server refused the login: the user name (an access key id) or the password is not "
        "accepted, e.g. the key was deleted or deactivated, or the password was derived from another key "
        "or for another region.",
    ),
    _rule(
        "recipient",
        r"suppression list",
        "SES did not send to this address because it is on the account's suppression list (an earlier "
        "bounce or complaint).",
    ),
    _rule(
        "recipient",
        r"\b5\.1\.\d{1,3}\b|\b5\.2\.2\b|address unknown|user unknown|unknown user|no such user"
        r"|does not exist|mailbox (?:unavailable|not found|full|is full|does not exist)|over ?quota"
        r"|^55[03]\b.*\bmailbox\b|Invalid email address",
        "The receiving side refused the recipient address: the mailbox does not exist, is full or is "
        "unavailable.",
    ),
)

_SES_SMTP_REPLY_RE = re.compile(
    r"Authentication Credentials Invalid|Signature Version 2 is deprecated|Account not subscribed to SES"
    r"|Email address is not verified|Sending (?:paused|suspended) for this account|ses:SendRawEmail|Throttling failure"
    r"|Mail FROM domain is not verified|Must issue a STARTTLS command first",
    re.IGNORECASE,
)
_SES_SMTP_HOST_RE = re.compile(r"email-smtp(?:-fips)?\.[a-z0-9-]+\.amazonaws\.com", re.IGNORECASE)


# Gmail "Send mail as" when the relay's EHLO (the second one, after STARTTLS) offers no AUTH: Gmail never
# logged in, so the credentials were not tried. The SMTP endpoint is the problem: a host that is not an SES
# SMTP endpoint (the MX or inbound-smtp.<region>.amazonaws.com, which receive and offer no AUTH), a port or
# TLS mode the relay does not serve that way, or a middlebox in between.
_NO_AUTH_OFFER_RE = re.compile(
    r"does not advertise AUTH|SENT_SECOND_EHLO|AUTH (?:capability|extension) (?:is )?not (?:supported|advertised)",
    re.IGNORECASE,
)
_NO_AUTH_OFFER = (
    "The SMTP server did not offer AUTH in its EHLO reply, so no login was even tried: this is the SMTP "
    "endpoint (its TLS and AUTH offer), not the credentials. The host set in the client is probably not "
    "an SES SMTP endpoint (the domain's MX or inbound-smtp.<region>.amazonaws.com receive mail and offer "
    "no AUTH; sending goes to email-smtp.<region>.amazonaws.com), or the port and TLS setting do not match "
    "(587 with STARTTLS, 465 with SSL), or a proxy in between strips STARTTLS or AUTH."
)


def classify(bounce: Bounce, text: str = "") -> Triage:
    """The layer to check first, the pathway when the bounce tells it, and a sentence on what it says."""
    if bounce.empty and not text.strip():
        return Triage("skipped", "", "No bounce was given.")
    signal = "\n".join(
        s for s in (bounce.reply_line, bounce.status, bounce.diagnostic_code) if s and s.strip()
    )
    if not signal:
        signal = text
    layer: Layer = "unknown"
    explanation = ""
    no_auth_offer = bool(_NO_AUTH_OFFER_RE.search(f"{signal}\n{bounce.remote_reply}\n{text}"))
    for rule in () if no_auth_offer else _RULES:
        if rule.pattern.search(signal):
            layer, explanation = rule.layer, rule.explanation
            break
    reply = bounce.reply_line
    if no_auth_offer:
        explanation = _NO_AUTH_OFFER  # the layer stays "unknown": no flow layer is the endpoint's yet
    elif layer == "unknown" and bounce.gmail_send_as:
        layer = "credentials"
        explanation = (
            "The bounce does not say why; with 'Send mail as' the usual cause is stale SMTP credentials."
        )
    elif layer == "unknown":
        explanation = (
            f"The reply {reply!r} does not point to one layer."
            if reply
            else "No SMTP reply or delivery status was found in the bounce."
        )
    if bounce.gmail_send_as:
        answered = f", which answered {reply!r}" if reply else ""
        explanation = (
            f"Gmail could not send through the SMTP server set in 'Send mail as'{answered}. {explanation}"
        )
    return Triage(layer, pathway_of(bounce), explanation)


def pathway_of(bounce: Bounce) -> Pathway:
    """How the bounced mail was sent, where the bounce shows it; ``""`` when it does not.

    Gmail's "Send mail as" bounce names its pathway. A reply only SES's SMTP interface gives (its login
    replies, or the message rejections an SMTP client sees) or a report naming ``email-smtp.*`` as the
    remote server means an SMTP client. A bounce SES itself sent (Reporting-MTA ``*.amazonses.com``)
    follows mail SES accepted through either the API or SMTP, so it does not tell.
    """
    if bounce.gmail_send_as:
        return "gmail-send-as"
    if _SES_SMTP_REPLY_RE.search(bounce.remote_reply):
        return "smtp"
    if _SES_SMTP_HOST_RE.search(f"{bounce.remote_mta} {bounce.reporting_mta}"):
        return "smtp"
    return ""
