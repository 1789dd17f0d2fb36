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
import quopri
import re
from dataclasses import dataclass, field, replace
from email.policy import compat32
from typing import Literal, cast

from maildoctor.ses_events import SesEvent, event_layer, parse_ses_event

Layer = Literal["credentials", "sending", "recipient", "dmarc", "policy", "delivered", "unknown", "skipped"]
Source = Literal["gmail-send-as", "dsn", "smtp-reply", "ses-notification", "unknown"]
Pathway = Literal["gmail-send-as", "smtp", ""]

LAYER_PHRASES: dict[str, str] = {
    "credentials": "SMTP credentials (the IAM key behind them)",
    "sending": "SES sending: the identity, the account (sandbox, pause, quota) and the IAM permission to send",
    "recipient": "the recipient address (the mailbox, and SES's suppression list)",
    "dmarc": "sender authentication (DMARC alignment of DKIM and SPF)",
    "policy": "the receiver's policy (blocklists, spam and content filters, reputation, rate limits)",
    "delivered": "nothing on the way: SES delivered it (the recipient's own filters, spam folder or rules)",
    "unknown": "not clear from the bounce",
    "skipped": "no bounce given",
}


@dataclass
class RecipientReport:
    """What a report says about one recipient. Empty strings (or ``None``) where it does not say."""

    address: str = ""  # the Final-Recipient (else the Original-Recipient)
    action: str = ""  # failed, delayed, delivered, relayed, expanded (lower case)
    status: str = ""  # the enhanced status code that applies, e.g. "5.1.1" (see _status_and_code)
    reply_code: int | None = None  # the remote server's SMTP reply code, e.g. 550
    diagnostic: str = ""  # the remote server's reply or the reporter's diagnostic, on one line
    remote_mta: str = ""
    original_recipient: str = ""

    @property
    def failed(self) -> bool:
        return self.action == "failed" or (not self.action and self.status.startswith("5"))


@dataclass
class Bounce:
    """What a bounce says. Empty strings (or ``None``) where the text does not say.

    The single-recipient fields (``final_recipient``, ``enhanced_status``, ``smtp_code`` …) are those of
    the first failed recipient; ``recipients`` has every recipient the report names.
    """

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
    recipients: list[RecipientReport] = field(default_factory=list)
    report_text: str = ""  # the report's own human-readable text (not the original it quotes), cut short

    @classmethod
    def from_recipients(cls, recipients: list[RecipientReport], **fields: object) -> Bounce:
        """A Bounce built from recipient reports read elsewhere (e.g. an SES event notification); the
        single-recipient fields come from the first failed recipient, ``fields`` set the rest (source,
        reporting_mta, date, header_from, subject, remote_reply …)."""
        bounce = cls(**fields)  # type: ignore[arg-type]
        bounce.recipients = list(recipients)
        _fill_from_recipient(bounce)
        return bounce

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
    reason: str = ""  # a short label: no-such-user, mailbox-full, blocklist, spam, dmarc, quota …
    blocklist: str = ""  # the blocklist the reply names, e.g. "Spamhaus"
    receiver: str = ""  # gmail, outlook, yahoo: who refused it, where the bounce shows it
    bulk_sender_rule: bool = False  # the reply cites Gmail's/Yahoo's bulk-sender requirements

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
        encoding = str(part.get("Content-Transfer-Encoding", "") or "").strip().lower()
        if encoding == "quoted-printable" and isinstance(payload, list):  # parsed before decoding: redo
            raw = "\n".join(b.as_string() for b in payload if isinstance(b, email.message.Message))
            payload = quopri.decodestring(raw.encode("utf-8", "replace")).decode("utf-8", "replace")
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
    if not dsn_groups and readable is not text:  # fields pasted in an encoded text part
        dsn_groups = _scan_dsn_fields(readable)
    if not dsn_groups:
        dsn_groups = _scan_dsn_fields(text)

    _apply_dsn(bounce, dsn_groups)

    bounce.gmail_send_as = bool(_GMAIL_SEND_AS_RE.search(readable))
    reply = _reply_after_marker(readable)
    if not reply and bounce.diagnostic_code and not _is_exit_status(bounce.dsn_fields):
        reply = bounce.diagnostic_code
    if not reply:
        reply = _reply_in_text(readable)
    bounce.remote_reply = reply
    bounce.report_text = _report_text(readable)
    if not bounce.recipients:
        bounce.recipients = _text_recipients(readable)
    _codes_from_transcript(bounce.recipients, readable)
    _read_codes(bounce, readable)
    _fill_from_recipient(bounce)

    if bounce.gmail_send_as:
        bounce.source = "gmail-send-as"
    elif bounce.dsn_fields:
        bounce.source = "dsn"
    elif bounce.remote_reply:
        bounce.source = "smtp-reply"
    return bounce


def _read_codes(bounce: Bounce, readable: str) -> None:
    """The reply code and enhanced status of the whole report, from its reply (else its text); a report
    about one recipient gives them to that recipient where its own fields did not say."""
    if not bounce.recipients and not _CODE_RE.match(bounce.reply_line):
        # a plain-text report (Exim's "host mx [ip]: 550 ..."): the first reply in its text
        transcript = _TRANSCRIPT_REPLY_RE.search(readable)
        if transcript:
            bounce.smtp_code = int(transcript.group(1))
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
    if len(bounce.recipients) == 1:
        only = bounce.recipients[0]
        only.status = only.status or bounce.enhanced_status
        only.reply_code = only.reply_code if only.reply_code is not None else bounce.smtp_code


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
    bounce.recipients = [_recipient_of(g) for g in (recipients or [fields])]
    if not bounce.date:
        bounce.date = _iso_date(fields.get("Arrival-Date", "")) or _iso_date(
            fields.get("Last-Attempt-Date", "")
        )


def _is_exit_status(group: dict[str, str]) -> bool:
    """An X-Unix diagnostic is a local program's exit status (Sendmail's "X-Unix; 77"), not a reply."""
    return group.get("Diagnostic-Code", "").strip().lower().startswith("x-unix")


def _recipient_of(group: dict[str, str]) -> RecipientReport:
    """One recipient's delivery-status fields as a report."""
    diagnostic = _one_line(_strip_type(group.get("Diagnostic-Code", "")))
    read = "" if _is_exit_status(group) else diagnostic
    status, code = _status_and_code(group.get("Status", ""), read)
    return RecipientReport(
        address=_address(group.get("Final-Recipient", "")) or _address(group.get("Original-Recipient", "")),
        action=group.get("Action", "").strip().lower(),
        status=status,
        reply_code=code,
        diagnostic=diagnostic,
        remote_mta=_strip_type(group.get("Remote-MTA", "")),
        original_recipient=_address(group.get("Original-Recipient", "")),
    )


# A reply code with its enhanced status inside a diagnostic: "550 5.1.1", "550-'5.7.1", "said: 554 5.6.0".
_PAIR_RE = re.compile(r"(?<![\d.])([245]\d\d)[ -]+['\"]?#?([245]\.\d{1,3}\.\d{1,3})\b")
_LEADING_CODE_RE = re.compile(
    r"(?:^|\bsaid:\s*|\bto me:\s*|^\S+;\s*|(?<=\s))([245]\d\d)(?:[ -]['\"]|[ -](?=[A-Za-z])|$)", re.IGNORECASE
)
_GENERIC_STATUS_RE = re.compile(r"^[245]\.0\.0$")


def _status_and_code(status_field: str, diagnostic: str) -> tuple[str, int | None]:
    """The enhanced status and reply code for one recipient.

    The remote server's own reply, quoted in the diagnostic, says more than the reporter's Status field
    (which is often generic: 5.0.0, or 4.4.7 for "gave up retrying"), unless it is generic itself;
    where the diagnostic quotes
    several replies (an expiry with the last attempt's answer inside), the last one is the cause.
    """
    found = _ENHANCED_RE.search(status_field)
    status = found.group(1) if found else ""
    pairs = _PAIR_RE.findall(diagnostic)
    if pairs:
        code, quoted = pairs[-1]
        if not status or not _GENERIC_STATUS_RE.match(quoted):
            status = quoted
        return status, int(code)
    if not status or _GENERIC_STATUS_RE.match(status):
        # a status with no reply code before it: SES's "5.3.0 - Other mail system problem 550-'...'",
        # Postfix's "said: 501 Rcpt-To validation failed: ... 5.7.1 This system ..."
        specific = [s for s in _ENHANCED_RE.findall(diagnostic) if not _GENERIC_STATUS_RE.match(s)]
        status = specific[0] if specific else status
    leading = _LEADING_CODE_RE.search(diagnostic)
    return status, int(leading.group(1)) if leading else None


# A reply in a session transcript or an MTA's text: "<<< 550 5.1.1 ...", "host mx[ip]: 550 ...",
# "said: 550 ...", or a line starting with the code.
_TRANSCRIPT_REPLY_RE = re.compile(
    r"(?:^[ \t]*(?:<<<[ \t]*)?|\]:[ \t]*|\b(?:said|was):[ \t]*|\(reason:[ \t]*)([245]\d\d)(?:[ -]|$)(.*)$",
    re.MULTILINE | re.IGNORECASE,
)


def _report_text(readable: str) -> str:
    """The report's own words: its text up to the original message it quotes, short."""
    if _looks_like_message(readable):
        readable = readable.split("\n\n", 1)[-1]
    kept: list[str] = []
    for line in readable.splitlines():
        if re.match(
            r"^[ \t]*(?:-{3,}.*(?:original|copy of the message|message text)|Received:|Return-path:)",
            line,
            re.I,
        ):
            break
        kept.append(line)
    return "\n".join(kept)[:_REPORT_TEXT_CHARS]


# Exim's plain-text report: each failed address on its own indented line, its reply indented below.
# (Bare: "<address>:" below an address is the RCPT TO it answers, not another recipient.)
_TEXT_ADDRESS_RE = re.compile(r"^[ \t]{1,8}([^\s@<>():\"]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}):?[ \t]*$")

_ORIGINAL_MESSAGE_RE = re.compile(r"^(?:-{3,}|Return-path:|Received:)", re.IGNORECASE)


def _text_recipients(text: str) -> list[RecipientReport]:
    """The recipients of a report without delivery-status fields, where it lists them one per line with
    the remote server's answer indented below (Exim); empty when the text has no such list."""
    found: list[RecipientReport] = []
    block: list[str] = []

    def close() -> None:
        if found and block:
            joined = "\n".join(block)
            reply = _TRANSCRIPT_REPLY_RE.search(joined)
            # the reply runs to the end of the block (Exim folds it over several lines)
            diagnostic = _one_line(joined[reply.start() :] if reply else joined)
            found[-1].diagnostic = diagnostic
            found[-1].status, code = _status_and_code("", diagnostic)
            found[-1].reply_code = int(reply.group(1)) if reply else code
        block.clear()

    if _looks_like_message(text):  # the headers (a folded X-Failed-Recipients) are not the list
        text = text.split("\n\n", 1)[-1]
    for line in text.splitlines():
        if _ORIGINAL_MESSAGE_RE.match(line):  # the quoted original begins: its addresses are not reports
            break
        m = _TEXT_ADDRESS_RE.match(line)
        if m:
            close()
            found.append(RecipientReport(address=m.group(1), action="failed"))
        elif found and line[:1] in (" ", "\t") and line.strip():
            block.append(line.strip())
        elif found and block:
            close()
    close()
    return found


def _codes_from_transcript(recipients: list[RecipientReport], text: str) -> None:
    """Recipients whose delivery-status fields carry no reply code (Sendmail's "X-Unix; 77", an empty
    Diagnostic-Code) take it from the report's text: the reply next to their address, else, for a
    report about one recipient, the first reply in it."""
    lacking = [r for r in recipients if r.reply_code is None]
    if not lacking:
        return
    replies = [m.group(0) for m in _TRANSCRIPT_REPLY_RE.finditer(text)]
    for r in lacking:
        near = [line for line in replies if r.address and r.address.lower() in line.lower()]
        line = near[0] if near else replies[0] if len(recipients) == 1 and replies else ""
        if not line:
            continue
        status, code = _status_and_code(r.status, _one_line(line))
        r.reply_code = code if code is not None else r.reply_code
        r.status = status


def _fill_from_recipient(bounce: Bounce) -> None:
    """The single-recipient fields from the first failed recipient (else the first), where unset."""
    if not bounce.recipients:
        return
    first = next((r for r in bounce.recipients if r.failed), bounce.recipients[0])
    bounce.final_recipient = bounce.final_recipient or first.address
    bounce.original_recipient = bounce.original_recipient or first.original_recipient
    bounce.action = bounce.action or first.action
    bounce.remote_mta = bounce.remote_mta or first.remote_mta
    bounce.diagnostic_code = bounce.diagnostic_code or first.diagnostic
    bounce.remote_reply = bounce.remote_reply or first.diagnostic
    bounce.enhanced_status = first.status or bounce.enhanced_status
    bounce.smtp_code = first.reply_code if first.reply_code is not None else bounce.smtp_code
    if bounce.smtp_code is None:
        code = _CODE_RE.match(bounce.reply_line)
        bounce.smtp_code = int(code.group(1)) if code else None


# ------------------------------------------------------------------------------------------- classifying


@dataclass(frozen=True)
class _Rule:
    layer: Layer
    reason: str
    pattern: re.Pattern[str]
    explanation: str


def _rule(layer: Layer, reason: str, pattern: str, explanation: str) -> _Rule:
    return _Rule(layer, reason, re.compile(pattern, re.IGNORECASE | re.MULTILINE), explanation)


_POLICY_WHY = "The receiving server refused the mail by its own policy"

# Rules on the words of the reply (the reply, the DSN Status and Diagnostic-Code; when those match
# nothing, the report's own text). First match wins, so the order carries meaning: SES's own replies
# first (they are exact), then the receiver's authentication rules, then its policy (blocklists and
# filters quote addresses and "rejected" too), then the recipient, then the receiver's generic refusals.
_RULES: tuple[_Rule, ...] = (
    # -- the SMTP credentials and SES's sending side: SES's own replies
    _rule(
        "credentials",
        "auth",
        r"Signature Version 2",
        "The SMTP password has the Signature Version 2 form, which SES stopped accepting in 2021; "
        "the password must be derived again from the key's secret with SigV4.",
    ),
    _rule(
        "sending",
        "not-subscribed",
        r"Account not subscribed",
        "SES refused the login because the key's AWS account is not signed up for SES "
        "(or SES is not available to it in this region).",
    ),
    _rule(
        "sending",
        "not-verified",
        r"not verified|Mail FROM domain is not verified",
        "SES took the login but refused the message: an address it was sent from (or, in the sandbox, "
        "to) is not a verified identity in the sending region.",
    ),
    _rule(
        "sending",
        "paused",
        r"Sending paused|Sending suspended|sending (?:is )?disabled",
        "SES refused the message because sending is paused for the account (by AWS, or by the account "
        "itself: the account step tells which).",
    ),
    _rule(
        "sending",
        "not-authorized",
        r"Access denied: User|not authorized to perform\s+ses:|ses:SendRawEmail",
        "SES took the login but the IAM user behind the SMTP credentials may not ses:SendRawEmail "
        "for this identity.",
    ),
    _rule(
        "sending",
        "quota",
        r"Daily message quota exceeded|sending quota",
        "SES refused the message: the account's 24-hour sending quota is used up.",
    ),
    _rule(
        "sending",
        "sending-rate",
        r"Maximum sending rate exceeded|Throttling failure",
        "SES refused the message: it came faster than the account's maximum sending rate.",
    ),
    _rule(
        "recipient",
        "suppressed",
        r"suppression list",
        "SES did not send to this address because it is on a suppression list (an earlier bounce or "
        "complaint).",
    ),
    # -- the receiver's authentication rules (DMARC, DKIM, SPF as the receiver evaluates them)
    _rule(
        "dmarc",
        "dmarc",
        r"\b5\.7\.26\b|\b5\.7\.509\b|\bDMARC\b",
        "The receiving server refused the message because it did not pass DMARC: neither DKIM nor SPF "
        "authenticated it for the From domain.",
    ),
    _rule(
        "dmarc",
        "spf",
        # (a failure, not advice such as "set up SPF records")
        r"per it'?s SPF|Bad SPF|SPF (?:check |validation )?fail|does not pass SPF|SPF\W+(?:fail|softfail)",
        "The receiving server refused the message because SPF did not authorise the sending IP for the "
        "MAIL FROM domain.",
    ),
    _rule(
        "dmarc",
        "dkim",
        r"\bDKIM\b.{0,40}\b(?:fail|invalid|missing|did not|does not)|(?:fail|invalid|missing)\w*\s+DKIM",
        "The receiving server refused the message because its DKIM signature did not verify.",
    ),
    _rule(
        "dmarc",
        "auth",
        r"\b5\.7\.515\b|\bunauthenticated\b|does not have authentication information"
        r"|fails? to pass authentication|not authenticated|sender requirements",
        "The receiving server refused the message as unauthenticated: its sender authentication rules "
        "(DKIM, SPF, DMARC alignment) were not met.",
    ),
    # -- SMTP AUTH (after the receiver's authentication wording, which also says "authentication")
    _rule(
        "credentials",
        "auth",
        r"Authentication Credentials Invalid|\b5\.7\.8\b|authentication (?:failed|failure|required|unsuccessful)"
        r"|Username and Password not accepted|^(?:535|530)\b",
        "The SMTP server refused the login: the user name (an access key id) or the password is not "
        "accepted, e.g. the key was deleted or deactivated, or the password was derived from another key "
        "or for another region.",
    ),
    # -- the receiver's policy: named blocklists and filters
    _rule(
        "policy",
        "blocklist",
        r"blocked using|\b(?:black|block|deny|ban)[ -]?list(?:ed)? (?:at|on|in|by)\b|(?:been|is|are) (?:black|block)listed"
        r"|\bon (?:our|a|the) (?:black|block) ?list|\bDNSBL\b|\bRBL\b|Spamhaus|Barracuda|SpamCop|SORBS|UCEPROTECT"
        r"|Proofpoint|Cloudmark|abuseat|\blisted (?:at|on|in)\b|banned sending IP|Blocked for abuse"
        r"|blacklisted by",
        "The receiving server refused the mail because the sending IP or domain is on a blocklist.",
    ),
    _rule(
        "policy",
        "reverse-dns",
        r"reverse DNS|\brDNS\b|\bPTR\b|IP name lookup failed|\b5\.7\.25\b|unverif[iy]able sending IP"
        r"|mismatches client ip",
        f"{_POLICY_WHY}: the sending IP has no reverse DNS (PTR) that matches.",
    ),
    _rule(
        "policy",
        "virus",
        r"\bvirus",
        f"{_POLICY_WHY}: its filter found a virus in the message.",
    ),
    _rule(
        "policy",
        "spam",
        r"\bspam\b|\bUBE\b|scored as spam|likely suspicious",
        f"{_POLICY_WHY}: its filter classified the message as spam.",
    ),
    _rule(
        "policy",
        "reputation",
        r"reputation|user complaints|unexpected volume",
        f"{_POLICY_WHY}: the sending IP's or domain's reputation.",
    ),
    _rule(
        "policy",
        "rate-limit",
        r"rate limit|unusual rate|receiving mail at a rate|too many (?:connections|recipients|messages)"
        r"|\b4\.7\.28\b|rate that prevents|reached your (?:daily|hourly) \w+ quota",
        f"{_POLICY_WHY}: it limits how fast it takes mail from this sender (try again slower).",
    ),
    _rule(
        "policy",
        "content",
        r"content (?:rejected|presents)|message content|Header error|Protocol violation",
        f"{_POLICY_WHY}: its content filter refused the message.",
    ),
    # -- the sender's address refused (RFC 3463's X.1.7/X.1.8 say it too): the receiver's rule, even
    # when the words ("does not exist") sound like a recipient's
    _rule(
        "policy",
        "sender-rejected",
        r"Domain of sender address|Sender address rejected|sender (?:domain|address) (?:does not exist|is invalid)"
        r"|Unroutable sender|From:? Domain is invalid|provide a valid From",
        f"{_POLICY_WHY}: it refused the sender's address or domain.",
    ),
    # -- the recipient
    _rule(
        "recipient",
        "not-accepting",
        r"does not accept mail|doesn't receive email|Null MX|not accept(?:ing)? mail",
        "The recipient's domain does not accept mail (it publishes no mail server, or a null MX).",
    ),
    _rule(
        "recipient",
        "mailbox-full",
        r"mailbox (?:is )?full|over ?quota|quota exceeded|out of storage|insufficient (?:disk )?space"
        r"|mailbox (?:size|storage) limit|\bfull mailbox",
        "The recipient's mailbox is full.",
    ),
    _rule(
        "recipient",
        "disabled",
        r"\b(?:disabled|inactive|discontinued|deactivated)\b|temporar(?:y|ily) locked"
        r"|account (?:is |has been )?(?:locked|suspended)",
        "The recipient's mailbox is disabled or inactive.",
    ),
    _rule(
        "recipient",
        "moved",
        r"has moved|no longer (?:valid|available|in use)|\b5\.1\.6\b",
        "The recipient's address has moved: the mailbox is no longer used.",
    ),
    _rule(
        "recipient",
        "host-unknown",
        r"Host (?:or domain name )?not found|Host unknown|unknown host|Invalid domain|domain is not reachable"
        r"|Name service error|no such domain|domain (?:may |does )?not exist",
        "The recipient's domain cannot be found or reached (no such host, no MX).",
    ),
    _rule(
        "recipient",
        "no-such-user",
        r"address unknown|user unknown|unknown user|no such (?:user|mailbox|recipient)|does not exist"
        r"|doesn't exist|mailbox (?:unavailable|not found|does not exist)|User not found|RecipientNotFound"
        r"|recipient name is not recognized|Unknown Recipient|Invalid (?:email address|recipient)"
        r"|address couldn't be found|Address not found|doesn't have a \S+ account|Recipient address rejected"
        r"|^55[03]\b.*\bmailbox\b",
        "The receiving side refused the recipient address: the mailbox does not exist.",
    ),
    # -- the receiver's generic refusals: a policy, without saying which
    _rule(
        "policy",
        "policy",
        r"policy|Client host rejected|Sender address rejected|Domain of sender address|smtp server of your ISP"
        r"|Unroutable sender|refused to talk|Service not available|not accepting connections|\bblocked\b"
        # a receiver's bare "Access denied" (RFC 3463's 5.7.1: delivery not authorized); SES's own
        # "Access denied: User ..." is the IAM permission, matched above
        r"|\bAccess denied\b",
        f"{_POLICY_WHY} (the reply names no list or filter).",
    ),
)

# Enhanced status codes whose meaning (RFC 3463, and the big receivers' own) is one layer, for replies
# whose words match no rule.
_STATUS_RULES: tuple[tuple[re.Pattern[str], Layer, str, str], ...] = (
    (re.compile(r"^5\.1\.[26]$"), "recipient", "host-unknown", "The recipient's domain cannot be found."),
    (
        re.compile(r"^5\.1\.(?:[013-5]|1\d|3\d\d)$"),
        "recipient",
        "no-such-user",
        "The receiving side refused the recipient address: the mailbox does not exist.",
    ),
    (re.compile(r"^5\.2\.1$"), "recipient", "disabled", "The recipient's mailbox is disabled."),
    (re.compile(r"^[45]\.2\.2$"), "recipient", "mailbox-full", "The recipient's mailbox is full."),
    (re.compile(r"^5\.4\.4$"), "recipient", "host-unknown", "The recipient's domain cannot be routed to."),
    (re.compile(r"^5\.7\.26$"), "dmarc", "dmarc", "The receiving server refused the message: DMARC failed."),
    (re.compile(r"^4\.7\.28$"), "policy", "rate-limit", f"{_POLICY_WHY}: a rate limit."),
)

_SENDER_STATUS_RE = re.compile(r"^5\.1\.[78]$")  # RFC 3463: bad sender's mailbox / system address
_BLOCKLISTS: tuple[tuple[str, str], ...] = (
    (r"spamhaus", "Spamhaus"),
    (r"barracuda", "Barracuda"),
    (r"spamcop", "SpamCop"),
    (r"sorbs", "SORBS"),
    (r"uceprotect", "UCEPROTECT"),
    (r"proofpoint", "Proofpoint"),
    (r"cloudmark", "Cloudmark"),
    (r"abuseat|\bcbl\b", "CBL"),
    (r"sender\.office\.com|banned sending IP", "Microsoft"),
)
_BLOCKED_USING_RE = re.compile(r"blocked using ([A-Za-z0-9.-]+\.[A-Za-z]{2,})", re.IGNORECASE)
_RECEIVERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("gmail", re.compile(r"\bgsmtp\b|google\.com|gmail|googlemail", re.IGNORECASE)),
    (
        "outlook",
        re.compile(
            r"outlook\.com|hotmail|\blive\.com|office365|microsoft|sender\.office\.com", re.IGNORECASE
        ),
    ),
    ("yahoo", re.compile(r"yahoo|verizonmedia|yahoodns|\baol\.com", re.IGNORECASE)),
)
_BULK_SENDER_RE = re.compile(
    r"one-click unsubscribe|List-Unsubscribe|spam rate|bulk sender|sender requirements|bulk-sender"
    r"|sender guidelines",
    re.IGNORECASE,
)
_REPORT_TEXT_CHARS = 4000  # enough for any report's own text; the quoted original is cut off before


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


def classify(bounce: Bounce, text: str = "", layer: Layer | None = None, reason: str = "") -> Triage:
    """The layer to check first, the pathway when the bounce tells it, and a sentence on what it says.

    ``layer`` (and ``reason``) decided elsewhere, e.g. from an SES notification's bounce type, are kept;
    the rest (receiver, blocklist, bulk-sender rule, pathway) is still read from the bounce.
    """
    if bounce.empty and not text.strip() and layer is None:
        return Triage("skipped", "", "No bounce was given.")
    signal = "\n".join(
        s
        for s in (bounce.reply_line, bounce.status, bounce.diagnostic_code, *_other_diagnostics(bounce))
        if s and s.strip()
    )
    fallback = bounce.report_text or ("" if signal else text)
    context = f"{signal}\n{bounce.remote_reply}\n{text}"
    no_auth_offer = bool(_NO_AUTH_OFFER_RE.search(context))
    if layer is not None:
        found: tuple[Layer, str, str] = (layer, reason, LAYER_PHRASES.get(layer, ""))
    elif no_auth_offer:
        found = ("unknown", "no-auth-offer", _NO_AUTH_OFFER)  # no flow layer is the endpoint's yet
    else:
        found = _match_rules(signal, bounce.enhanced_status, fallback)
    layer, reason, explanation = found
    reply = bounce.reply_line
    if layer == "unknown" and bounce.gmail_send_as and not no_auth_offer:
        layer, reason = "credentials", "auth"
        explanation = (
            "The bounce does not say why; with 'Send mail as' the usual cause is stale SMTP credentials."
        )
    elif layer == "unknown" and not no_auth_offer:
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
    words = f"{signal}\n{fallback}"
    return Triage(
        layer,
        pathway_of(bounce),
        explanation,
        reason=reason,
        blocklist=blocklist_of(words) if reason == "blocklist" else "",
        receiver=receiver_of(bounce),
        bulk_sender_rule=bool(_BULK_SENDER_RE.search(words)),
    )


def _other_diagnostics(bounce: Bounce) -> list[str]:
    """The diagnostics of the report's other failed recipients (the first one's is the reply)."""
    return [r.diagnostic for r in bounce.recipients if r.failed and r.diagnostic != bounce.diagnostic_code]


def _match_rules(signal: str, status: str, fallback: str) -> tuple[Layer, str, str]:
    """The first rule the reply's words match, else the meaning of its enhanced status, else the first
    rule the report's own text matches (reports that quote no reply: Exchange 2003, Gmail's)."""
    if _SENDER_STATUS_RE.match(status):  # the code says the sender's address is what was refused
        return "policy", "sender-rejected", f"{_POLICY_WHY}: it refused the sender's address or domain."
    for rule in _RULES:
        if signal and rule.pattern.search(signal):
            return rule.layer, rule.reason, rule.explanation
    for pattern, layer, reason, explanation in _STATUS_RULES:
        if pattern.match(status):
            return layer, reason, explanation
    for rule in _RULES:
        if fallback and rule.pattern.search(fallback):
            return rule.layer, rule.reason, rule.explanation
    return "unknown", "", ""


def blocklist_of(text: str) -> str:
    """The blocklist a reply names ("Spamhaus", or the zone after "blocked using"), else ""."""
    for pattern, name in _BLOCKLISTS:
        if re.search(pattern, text, re.IGNORECASE):
            return name
    zone = _BLOCKED_USING_RE.search(text)
    return zone.group(1).rstrip(".;") if zone else ""


def receiver_of(bounce: Bounce) -> str:
    """Which big receiver refused the mail: from the remote MTA, the reply, then the reporting MTA."""
    for where in (bounce.remote_mta, bounce.reply_line, bounce.reporting_mta):
        for name, pattern in _RECEIVERS:
            if where and pattern.search(where):
                return name
    return ""


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


# ------------------------------------------------------------------------------ SES event notifications


def read(text: str) -> tuple[Bounce, Triage, SesEvent | None]:
    """Read any bounce input: an SES event notification (plain JSON, SNS or EventBridge envelope) by
    what SES says of it, anything else as a report or a reply. The one entry point of every surface."""
    event = parse_ses_event(text) if isinstance(text, str) else None
    if event is None:
        bounce = parse_bounce(text)
        return bounce, classify(bounce, text), None
    bounce = bounce_of(event)
    layer, reason, explanation = event_layer(event)
    if not layer:  # SES does not say (General, Undetermined): the receiver's reply does
        return bounce, classify(bounce, bounce.remote_reply), event
    triage = classify(bounce, "", layer=cast(Layer, layer), reason=reason)
    return bounce, replace(triage, explanation=explanation), event


def bounce_of(event: SesEvent) -> Bounce:
    """The recipients and reply an SES notification reports, as a Bounce."""
    recipients = [
        RecipientReport(
            address=r.address,
            action=r.action.lower(),
            status=r.status,
            reply_code=_reply_code(r.diagnostic_code),
            diagnostic=_one_line(r.diagnostic_code),
            remote_mta=event.remote_mta,
        )
        for r in event.recipients
    ]
    reply = (
        next((r.diagnostic_code for r in event.recipients if r.diagnostic_code), "") or event.smtp_response
    )
    return Bounce.from_recipients(
        recipients,
        source="ses-notification",
        remote_reply=reply,
        reporting_mta=event.reporting_mta,
        date=event.timestamp,
        header_from=event.from_header or event.sender,
        subject=event.subject,
    )


def _reply_code(diagnostic: str) -> int | None:
    code = _CODE_RE.match(_one_line(diagnostic))
    return int(code.group(1)) if code else None
