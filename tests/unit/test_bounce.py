"""The bounce parser on hand-written bounces (texts from ses-facts.md and RFC 3464); expected values by hand."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maildoctor.bounce import Bounce, RecipientReport, classify, parse_bounce
from maildoctor.checks.bounce import ExplainFacts, TriageFacts
from maildoctor.checks.registry import CheckResult, default_registry
from maildoctor.clients import Clients
from maildoctor.clients.settings import Settings

GMAIL_SEND_AS = """\
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: sailing.ops@gmail.com
Subject: Delivery Status Notification (Failure)
Date: Mon, 23 Nov 2026 18:04:11 -0800

** Message not delivered **

You're sending this from a different address or alias using the 'Send mail as' feature.
The settings for your 'Send mail as' account are misconfigured or out of date. Check those settings and try resending.
Learn more at https://support.google.com/mail/?p=CustomFromDenied

The response from the remote server was:
535 Authentication Credentials Invalid
"""

# A Postfix-style RFC 3464 report: text part, delivery-status part (two recipients, one failed), the
# original message (whose body has a line that must not be taken for the reply).
DSN = """\
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: admin@example.com
Subject: Undelivered Mail Returned to Sender
Date: Tue, 24 Nov 2026 10:15:02 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
    boundary="B0UND4RY"

--B0UND4RY
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

--B0UND4RY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: Tue, 24 Nov 2026 10:15:01 +0000

Final-Recipient: rfc822; friend@example.net
Action: delivered
Status: 2.0.0

Final-Recipient: rfc822; nobody@example.net
Original-Recipient: rfc822;nobody@example.net
Action: failed
Status: 5.1.1
Remote-MTA: dns; mailstore.example.net
Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.net>: Recipient address
    rejected: User unknown in local recipient table

--B0UND4RY
Content-Type: message/rfc822

From: admin@example.com
To: nobody@example.net
Subject: hi

535 a line of the original message, not the reply

--B0UND4RY--
"""

# The same fields pasted as plain text (no MIME), relayed by the sender's own MTA to SES SMTP.
PLAIN_DSN_VIA_SES_SMTP = """\
Reporting-MTA: dns; relay.example.com
Arrival-Date: Wed, 25 Nov 2026 08:00:00 +0000

Final-Recipient: rfc822; guest@example.net
Action: failed
Status: 5.0.0
Remote-MTA: dns; email-smtp.us-east-1.amazonaws.com
Diagnostic-Code: smtp; 554 Message rejected: Email address is not verified. The
    following identities failed the check in region US-EAST-1: admin@example.com
"""

NOT_VERIFIED = (
    "554 Message rejected: Email address is not verified. The following identities failed the check in "
    "region US-EAST-1: a@b.c"
)
SIGV2 = (
    "535 Signature Version 2 is deprecated for use with SES from March 26, 2021. "
    "Please migrate to Signature Version 4."
)
DMARC = """\
550-5.7.26 Unauthenticated email from example.com is not accepted due to
550-5.7.26 domain's DMARC policy. Please contact the administrator of
550 5.7.26 example.com domain if this was a legitimate mail.
"""


def test_gmail_send_as_bounce() -> None:
    bounce = parse_bounce(GMAIL_SEND_AS)
    assert bounce.source == "gmail-send-as"
    assert bounce.gmail_send_as is True
    assert bounce.remote_reply == "535 Authentication Credentials Invalid"
    assert bounce.smtp_code == 535
    assert bounce.enhanced_status == ""  # SES's 535 carries none
    assert bounce.date == "2026-11-23T18:04:11-08:00"
    assert bounce.subject == "Delivery Status Notification (Failure)"
    assert bounce.header_from == "Mail Delivery Subsystem <mailer-daemon@googlemail.com>"
    triage = classify(bounce, GMAIL_SEND_AS)
    assert (triage.layer, triage.pathway) == ("credentials", "gmail-send-as")
    assert triage.layer_phrase == "SMTP credentials (the IAM key behind them)"
    assert "Send mail as" in triage.explanation
    assert "535 Authentication Credentials Invalid" in triage.explanation


def test_gmail_send_as_body_only_with_a_blank_line_and_multi_line_reply() -> None:
    text = (
        "The settings for your 'Send mail as' account are misconfigured or out of date.\n"
        "The response from the remote server was:\n\n"
        "530-5.7.0 Must issue a STARTTLS command first\n530 5.7.0 see the docs\n\nfooter"
    )
    bounce = parse_bounce(text)
    assert bounce.remote_reply == "530-5.7.0 Must issue a STARTTLS command first\n530 5.7.0 see the docs"
    assert bounce.reply_line == "530 5.7.0 Must issue a STARTTLS command first see the docs"
    assert (bounce.smtp_code, bounce.enhanced_status) == (530, "5.7.0")
    assert classify(bounce, text).layer == "credentials"


def test_gmail_send_as_without_a_reply_still_points_at_credentials() -> None:
    text = (
        "Your 'Send mail as' account settings are misconfigured or out of date. Learn more: CustomFromDenied"
    )
    bounce = parse_bounce(text)
    assert bounce.source == "gmail-send-as" and bounce.remote_reply == ""
    assert (classify(bounce, text).layer, classify(bounce, text).pathway) == ("credentials", "gmail-send-as")


def test_the_seed_incident_bounce(load_seed_bounce: str) -> None:
    bounce = parse_bounce(load_seed_bounce)
    assert bounce.source == "gmail-send-as"
    assert bounce.remote_reply == "535 Authentication Credentials Invalid"
    assert bounce.header_to == "sailing.ops@gmail.com"
    triage = classify(bounce, load_seed_bounce)
    assert (triage.layer, triage.pathway) == ("credentials", "gmail-send-as")


@pytest.fixture
def load_seed_bounce() -> str:
    from maildoctor.lab.scenario import load_scenario

    return load_scenario("seed-incident").walk_inputs()["bounce"]


def test_rfc3464_multipart_report() -> None:
    bounce = parse_bounce(DSN)
    assert bounce.source == "dsn"
    assert bounce.final_recipient == "nobody@example.net"  # the failed one, not the delivered one
    assert bounce.original_recipient == "nobody@example.net"
    assert bounce.action == "failed"
    assert bounce.status == "5.1.1"
    assert bounce.enhanced_status == "5.1.1"
    assert bounce.reporting_mta == "mx.example.net"
    assert bounce.remote_mta == "mailstore.example.net"
    assert bounce.diagnostic_code == (
        "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown in local recipient table"
    )
    assert bounce.remote_reply == bounce.diagnostic_code
    assert bounce.smtp_code == 550
    assert bounce.date == "2026-11-24T10:15:02+00:00"
    assert bounce.gmail_send_as is False
    triage = classify(bounce, DSN)
    assert (triage.layer, triage.pathway) == ("recipient", "")


def test_plain_text_dsn_relayed_to_ses_smtp() -> None:
    bounce = parse_bounce(PLAIN_DSN_VIA_SES_SMTP)
    assert bounce.source == "dsn"
    assert bounce.final_recipient == "guest@example.net"
    assert bounce.remote_mta == "email-smtp.us-east-1.amazonaws.com"
    assert bounce.reporting_mta == "relay.example.com"
    assert bounce.diagnostic_code == (
        "554 Message rejected: Email address is not verified. The following identities failed the "
        "check in region US-EAST-1: admin@example.com"
    )
    assert (bounce.smtp_code, bounce.enhanced_status) == (554, "5.0.0")
    assert bounce.date == "2026-11-25T08:00:00+00:00"  # Arrival-Date, there is no Date header
    triage = classify(bounce, PLAIN_DSN_VIA_SES_SMTP)
    assert (triage.layer, triage.pathway) == ("sending", "smtp")


def test_bounce_sent_by_ses_itself_does_not_tell_the_pathway() -> None:
    text = (
        "Reporting-MTA: dns; a8-30.smtp-out.amazonses.com\n\n"
        "Final-Recipient: rfc822; old-list@example.net\nAction: failed\nStatus: 5.1.1\n"
        "Diagnostic-Code: smtp; Amazon SES did not send the message to this address because it is on "
        "the suppression list for your account.\n"
    )
    bounce = parse_bounce(text)
    assert bounce.reporting_mta == "a8-30.smtp-out.amazonses.com"
    triage = classify(bounce, text)
    assert (triage.layer, triage.pathway) == ("recipient", "")
    assert "suppression list" in triage.explanation


def test_bare_535() -> None:
    text = "535 Authentication Credentials Invalid"
    bounce = parse_bounce(text)
    assert (bounce.source, bounce.remote_reply, bounce.smtp_code) == ("smtp-reply", text, 535)
    triage = classify(bounce, text)
    assert (triage.layer, triage.pathway) == ("credentials", "smtp")


def test_bare_not_verified() -> None:
    bounce = parse_bounce(NOT_VERIFIED)
    assert (bounce.source, bounce.remote_reply, bounce.smtp_code) == ("smtp-reply", NOT_VERIFIED, 554)
    triage = classify(bounce, NOT_VERIFIED)
    assert (triage.layer, triage.pathway) == ("sending", "smtp")
    assert "not a verified identity" in triage.explanation


def test_sigv2_deprecated() -> None:
    bounce = parse_bounce(SIGV2)
    assert bounce.smtp_code == 535
    triage = classify(bounce, SIGV2)
    assert (triage.layer, triage.pathway) == ("credentials", "smtp")
    assert "Signature Version 2" in triage.explanation


def test_dmarc_rejection() -> None:
    bounce = parse_bounce(DMARC)
    assert (bounce.smtp_code, bounce.enhanced_status) == (550, "5.7.26")
    assert bounce.remote_reply == DMARC.strip()
    triage = classify(bounce, DMARC)
    assert (triage.layer, triage.pathway) == ("dmarc", "")


@pytest.mark.parametrize(
    ("text", "layer"),
    [
        ("454 Throttling failure: Daily message quota exceeded.", "sending"),
        ("454 4.7.0 Temporary authentication failure", "credentials"),
        ("535 Account not subscribed to SES", "sending"),
        ("554 Message rejected: Sending paused for this account. For more information, see", "sending"),
        (  # SES's reply while the account's sending is disabled (ses-facts.md, seen in public client code)
            "554 Message rejected: Sending suspended for this account. For more information, please check "
            "the inbox of the email address associated with your AWS account.",
            "sending",
        ),
        (
            "554 Access denied: User arn:aws:iam::123456789012:user/ses-smtp-user is not authorized to "
            "perform ses:SendRawEmail on resource arn:aws:ses:us-east-1:123456789012:identity/example.com",
            "sending",
        ),
        ("530 Authentication required", "credentials"),
        ("552-5.2.2 The recipient's inbox is out of storage space.\n552 5.2.2 Please try later", "recipient"),
        ("553 <nobody@example.net> address unknown", "recipient"),
        ("550 Requested action not taken: mailbox unavailable", "recipient"),
        ("Remote server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; not found'", "recipient"),
        ("552 Message is too long.", "unknown"),
    ],
)
def test_classification_table(text: str, layer: str) -> None:
    assert classify(parse_bounce(text), text).layer == layer


def test_garbage_is_unknown() -> None:
    text = "lorem ipsum dolor sit amet\nnothing: to see here\n12 monkeys"
    bounce = parse_bounce(text)
    assert (bounce.source, bounce.remote_reply, bounce.smtp_code) == ("unknown", "", None)
    triage = classify(bounce, text)
    assert (triage.layer, triage.pathway) == ("unknown", "")


@pytest.mark.parametrize("text", ["", "   \n\t\n"])
def test_empty_is_skipped(text: str) -> None:
    bounce = parse_bounce(text)
    assert bounce.empty
    assert classify(bounce, text).layer == "skipped"


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.text(alphabet=st.sampled_from(list('Content-Type:multipart/report;boundary="x"\n--x 550 5.1.1;'))),
        st.lists(
            st.sampled_from(
                [
                    "Content-Type: multipart/report; boundary=b",
                    "Content-Type: message/delivery-status",
                    "--b",
                    "--b--",
                    "Date: ",
                    "Date: Tue, 99 Foo 20261 99:99:99",
                    "Final-Recipient: rfc822;",
                    "Diagnostic-Code: smtp;",
                    "Arrival-Date: never",
                    "The response from the remote server was:",
                    "550-5.1.1",
                    "535",
                    "Content-Transfer-Encoding: base64",
                    "Content-Type: text/plain; charset=no-such-charset",
                    "",
                    "  folded",
                ]
            )
        ).map("\n".join),
    )
)
def test_parser_never_raises(text: str) -> None:
    bounce = parse_bounce(text)
    triage = classify(bounce, text)
    assert triage.layer in ("credentials", "sending", "recipient", "dmarc", "policy", "unknown", "skipped")
    assert triage.pathway in ("gmail-send-as", "smtp", "")


# ---------------------------------------------------------------------------- every recipient of a report


def test_every_recipient_of_a_dsn() -> None:
    bounce = parse_bounce(DSN)
    got = [(r.address, r.action, r.status, r.reply_code) for r in bounce.recipients]
    assert got == [
        ("friend@example.net", "delivered", "2.0.0", None),
        ("nobody@example.net", "failed", "5.1.1", 550),
    ]
    assert bounce.recipients[1].diagnostic.startswith(
        "550 5.1.1 <nobody@example.net>: Recipient address rejected"
    )
    assert bounce.final_recipient == "nobody@example.net"  # the first failed one, as before


def _dsn(status: str, diagnostic: str) -> str:
    return (
        "Reporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; a@example.net\nAction: failed\n"
        f"Status: {status}\nDiagnostic-Code: {diagnostic}\n"
    )


@pytest.mark.parametrize(
    ("status", "diagnostic", "want"),
    [
        # the reporter's generic 5.0.0 says less than the remote server's own 5.7.1
        ("5.0.0", "smtp; 550 5.7.1 Client host rejected", ("5.7.1", 550)),
        # "gave up retrying" (4.4.7) quoting the last attempt's answer: that answer is the cause
        (
            "4.4.7",
            "smtp; 554 4.4.7 Message expired: unable to deliver.<421 4.4.2 Connection timed out>",
            ("4.4.2", 421),
        ),
        # Postfix quoting the remote server after "said:", the status further on
        (
            "5.0.0",
            "X-Postfix; host mx[192.0.2.1] said: 501 Rcpt-To validation failed: 5.7.1 no relay",
            ("5.7.1", 501),
        ),
        # a generic status in the reply does not replace a specific one in the Status field
        ("5.1.1", "smtp; 550 5.0.0 No", ("5.1.1", 550)),
        # an exit status of a local program is not an SMTP reply
        ("5.3.0", "X-Unix; 255", ("5.3.0", None)),
    ],
)
def test_status_and_reply_per_recipient(status: str, diagnostic: str, want: tuple[str, int | None]) -> None:
    (only,) = parse_bounce(_dsn(status, diagnostic)).recipients
    assert (only.status, only.reply_code) == want


EXIM_TWO_RECIPIENTS = """From: Mail Delivery System <Mailer-Daemon@mx.example.org>
Subject: Mail delivery failed: returning message to sender

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  one@example.jp
    SMTP error from remote mail server after RCPT TO:<one@example.jp>:
    host mx.example.jp [192.0.2.153]: 550 5.1.1 <one@example.jp>... User Unknown
  two@example.jp
    SMTP error from remote mail server after end of data:
    host mx.example.jp [192.0.2.153]:
    552 5.2.2 Mailbox full

------ This is a copy of the message, including all the headers. ------

Return-path: <me@example.org>
To: three@example.jp
"""


def test_exim_plain_text_recipients() -> None:
    bounce = parse_bounce(EXIM_TWO_RECIPIENTS)
    got = [(r.address, r.status, r.reply_code) for r in bounce.recipients]
    assert got == [("one@example.jp", "5.1.1", 550), ("two@example.jp", "5.2.2", 552)]
    assert (bounce.final_recipient, bounce.enhanced_status, bounce.smtp_code) == (
        "one@example.jp",
        "5.1.1",
        550,
    )


def test_sendmail_transcript_gives_the_reply_code() -> None:
    text = (
        "   ----- Transcript of session follows -----\n... while talking to mx.example.net.:\n"
        ">>> RCPT To:<a@example.net>\n<<< 550 5.1.1 <a@example.net>... User unknown\n\n"
        + _dsn("5.1.1", "X-Unix; 67")
    )
    (only,) = parse_bounce(text).recipients
    assert (only.status, only.reply_code) == ("5.1.1", 550)


def test_a_bounce_built_from_recipients_read_elsewhere() -> None:
    recipients = [
        RecipientReport(address="ok@example.net", action="delivered", status="2.0.0", reply_code=250),
        RecipientReport(
            address="gone@example.net",
            action="failed",
            status="5.1.1",
            reply_code=550,
            diagnostic="550 5.1.1 no such user",
        ),
    ]
    bounce = Bounce.from_recipients(recipients, source="dsn", reporting_mta="a1-2.smtp-out.amazonses.com")
    assert (bounce.final_recipient, bounce.enhanced_status, bounce.smtp_code) == (
        "gone@example.net",
        "5.1.1",
        550,
    )
    assert bounce.remote_reply == "550 5.1.1 no such user"
    assert classify(bounce).layer == "recipient"
    # a layer decided elsewhere (an SES notification's bounce type) is kept
    triage = classify(bounce, layer="policy", reason="content")
    assert (triage.layer, triage.reason) == ("policy", "content")


# ------------------------------------------------------------------------------------------ classification


@pytest.mark.parametrize(
    ("reply", "layer", "reason"),
    [
        (
            "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
            "policy",
            "blocklist",
        ),
        ("550 5.7.1 IP address blacklisted by recipient", "policy", "blocklist"),
        (
            "550 Messages from 192.0.2.1 weren't sent: part of their network is on our block list",
            "policy",
            "blocklist",
        ),
        ("550 5.7.1 Fix reverse DNS for 192.0.2.1", "policy", "reverse-dns"),
        ("550 5.7.1 This message has been scored as spam", "policy", "spam"),
        ("550 Virus Detected; Content Rejected", "policy", "virus"),
        (
            "451 4.7.650 The mail server has been temporarily rate limited due to IP reputation.",
            "policy",
            "reputation",
        ),
        ("421 4.7.28 Our system has detected an unusual rate of unsolicited mail", "policy", "rate-limit"),
        ("452 4.3.2 Too many connections", "policy", "rate-limit"),
        ("554 5.7.9 Message not accepted for policy reasons.", "policy", "policy"),
        (
            "553 5.1.8 <a@b.example>... Domain of sender address a@b.example does not exist",
            "policy",
            "sender-rejected",
        ),
        ("550 5.7.26 This mail has been blocked because the sender is unauthenticated.", "dmarc", "dmarc"),
        (
            "550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification",
            "dmarc",
            "dmarc",
        ),
        (
            "550 5.7.515 Access denied, sending domain doesn't meet the required authentication level",
            "dmarc",
            "auth",
        ),
        ("550 5.1.0 192.0.2.1 is not allowed to send from <example.net> per it's SPF Record", "dmarc", "spf"),
        ("552 5.2.2 <a@example.net> Quota exceeded (mailbox for user is full)", "recipient", "mailbox-full"),
        ("550 5.2.1 The email account that you tried to reach is disabled.", "recipient", "disabled"),
        ("550 5.4.4 Invalid domain", "recipient", "host-unknown"),
        ("550 Host does not accept mail", "recipient", "not-accepting"),
        ("550 User not found", "recipient", "no-such-user"),
        ("454 Throttling failure: Daily message quota exceeded.", "sending", "quota"),
        ("454 Throttling failure: Maximum sending rate exceeded.", "sending", "sending-rate"),
        ("550 Rejected", "unknown", ""),  # says nothing: unknown, not a guess
    ],
)
def test_layers_and_reasons(reply: str, layer: str, reason: str) -> None:
    triage = classify(parse_bounce(reply), reply)
    assert (triage.layer, triage.reason) == (layer, reason)


def test_blocklist_receiver_and_bulk_sender_rule() -> None:
    text = _dsn("5.7.1", "smtp; 554 5.7.1 Client host [192.0.2.1] blocked using b.barracudacentral.org")
    assert classify(parse_bounce(text), text).blocklist == "Barracuda"
    zone = "554 5.7.1 Client host rejected: blocked using rbl.example.org; see http://rbl.example.org/"
    assert classify(parse_bounce(zone), zone).blocklist == "rbl.example.org"
    gmail = (
        "550-5.7.26 Your email has been blocked because the sender is unauthenticated. Gmail requires all\n"
        "550 5.7.26 bulk senders to authenticate. https://support.google.com/mail/answer/81126 - gsmtp"
    )
    triage = classify(parse_bounce(gmail), gmail)
    assert (triage.layer, triage.receiver, triage.bulk_sender_rule) == ("dmarc", "gmail", True)
    yahoo = "421 4.7.0 [TSS04] Messages temporarily deferred due to user complaints; see https://postmaster.yahooinc.com"
    assert classify(parse_bounce(yahoo), yahoo).receiver == "yahoo"
    outlook = _dsn("5.7.606", "smtp; 550 5.7.606 Access denied, banned sending IP [192.0.2.1]").replace(
        "Action: failed", "Action: failed\nRemote-MTA: dns; example-com.mail.protection.outlook.com"
    )
    triage = classify(parse_bounce(outlook), outlook)
    assert (triage.layer, triage.reason, triage.receiver, triage.bulk_sender_rule) == (
        "policy",
        "blocklist",
        "outlook",
        False,
    )


def test_exchange_report_without_a_reply_reads_its_text() -> None:
    text = (
        "Your message\n\n  To:      a@example.jp\n\ndid not reach the following recipient(s):\n\n"
        "a@example.jp on Thu, 29 Apr 2010 00:00:00 -0000\n    The recipient name is not recognized\n"
    )
    triage = classify(parse_bounce(text), text)
    assert (triage.layer, triage.reason) == ("recipient", "no-such-user")


# ------------------------------------------------------------------------------ the checks that use it


async def _run(
    check: str, values: dict[str, object], facts: dict[str, dict[str, object]] | None = None
) -> CheckResult:
    return await default_registry()[check].run(Clients(Settings()), values, facts)


async def test_triage_of_a_blocklisted_ip() -> None:
    text = _dsn(
        "5.7.1", "smtp; 554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org"
    )
    result = await _run("bounce.triage", {"bounce": text})
    assert (result.outcome, result.status) == ("policy", "info")
    facts = result.facts
    assert isinstance(facts, TriageFacts)
    assert (facts.reason, facts.blocklist, facts.receiver, facts.bulk_sender_rule) == (
        "blocklist",
        "Spamhaus",
        "",
        False,
    )
    assert [(r.address, r.status, r.reply_code) for r in facts.recipients] == [
        ("a@example.net", "5.7.1", 554)
    ]
    assert "receiver's policy" in result.summary


async def test_a_policy_bounce_stands_on_its_own() -> None:
    args = {"layer": "policy", "reply": "554 5.7.1 blocked using zen.spamhaus.org", "status": 554}
    alone = await _run("bounce.explained", args)
    assert (alone.outcome, alone.status) == ("policy", "fail")
    found: dict[str, dict[str, object]] = {"reputation": {"code": "receiver-policy", "step_status": "fail"}}
    explained = await _run("bounce.explained", args, found)
    assert isinstance(explained.facts, ExplainFacts)
    assert (explained.outcome, explained.facts.explained_by) == ("explained", ["receiver-policy"])
