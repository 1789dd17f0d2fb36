"""SES event notifications as bounce input (issue 12, item 2): plain JSON (notificationType and
eventType), the SNS envelope and the EventBridge envelope.

The corpus expectations are read by hand from ../shared/corpora/bounces/ses-notifications/*.json; the
other samples are written from the SES Developer Guide's field tables (notification contents, event
publishing contents), not from the parser's output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maildoctor.ses_events import SesEvent, event_layer, parse_ses_event

NOTIFICATIONS = Path(__file__).resolve().parents[3] / "shared/corpora/bounces/ses-notifications"


def _mail(**extra: Any) -> dict[str, Any]:
    mail = {
        "timestamp": "2024-03-01T10:00:00.000Z",
        "source": "bounces@mail.example.com",
        "sourceArn": "arn:aws:ses:eu-central-1:111122223333:identity/example.com",
        "sendingAccountId": "111122223333",
        "messageId": "0100018df0a1-EXAMPLE-000000",
        "destination": ["guest@example.net", "other@example.org"],
        "headersTruncated": False,
        "commonHeaders": {
            "from": ["Admin <admin@example.com>"],
            "to": ["guest@example.net"],
            "subject": "Invoice",
        },
    }
    mail.update(extra)
    return mail


def _plain(
    event_type: str, key: str, detail: dict[str, Any], *, field: str = "eventType", **mail: Any
) -> str:
    return json.dumps({field: event_type, "mail": _mail(**mail), key: detail})


def _bounce(sub: str, kind: str = "Permanent", diagnostic: str = "smtp; 550 5.1.1 user unknown") -> str:
    detail = {
        "bounceType": kind,
        "bounceSubType": sub,
        "bouncedRecipients": [
            {
                "emailAddress": "guest@example.net",
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": diagnostic,
            }
        ],
        "timestamp": "2024-03-01T10:00:02.000Z",
        "feedbackId": "feedback",
        "remoteMtaIp": "192.0.2.25",
        "reportingMTA": "dsn; a1-2.smtp-out.eu-central-1.amazonses.com",
    }
    return _plain("Bounce", "bounce", detail)


def _event(text: str) -> SesEvent:
    event = parse_ses_event(text)
    assert event is not None, text[:200]
    return event


# --- the corpus -------------------------------------------------------------------------------------

# file -> (type, envelope, bounce subtype, first recipient, sender, region, account, timestamp, layer)
CORPUS = {
    "json-amazonses-01.json": (
        "Bounce", "plain", "General", "bounce@simulator.amazonses.com", "kijitora@neko.example.org",
        "us-west-2", "123456789012", "2016-10-21T00:06:40.502Z", "",
    ),
    "json-amazonses-02.json": (
        "Bounce", "sns", "General", "bounce@simulator.amazonses.com", "kijitora@neko.example.org",
        "us-west-2", "123456789012", "2016-10-21T06:58:02.245Z", "",
    ),
    "json-amazonses-03.json": (
        "Complaint", "plain", "", "complaint@simulator.amazonses.com", "kijitora@neko.example.jp",
        "us-west-2", "123456789012", "2016-11-25T01:49:01.000Z", "policy",
    ),
    "json-amazonses-04.json": (
        "Delivery", "plain", "", "success@simulator.amazonses.com", "kijitora@neko.example.jp",
        "us-west-2", "123456789012", "2016-11-23T12:01:03.512Z", "delivered",
    ),
    "json-amazonses-05.json": (
        "Delivery", "plain", "", "complaint@simulator.amazonses.com", "kijitora@neko.example.jp",
        "us-west-2", "123456789012", "2016-11-25T01:49:01.207Z", "delivered",
    ),
    "json-amazonses-06.json": (
        "Bounce", "plain", "General", "bounce@simulator.amazonses.com", "xxx@xxx",
        "eu-west-1", "xxxxx", "2017-10-19T09:19:05.119Z", "",
    ),
}  # fmt: skip


@pytest.mark.skipif(
    not NOTIFICATIONS.is_dir(), reason="the SES notification corpus is not beside the checkout"
)
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_notifications(name: str) -> None:
    kind, envelope, sub, recipient, sender, region, account, when, layer = CORPUS[name]
    event = _event((NOTIFICATIONS / name).read_text(encoding="utf-8"))
    assert (event.event_type, event.envelope, event.bounce_sub_type) == (kind, envelope, sub)
    assert (event.recipient, event.sender, event.region) == (recipient, sender, region)
    assert (event.sending_account_id, event.timestamp) == (account, when)
    assert event_layer(event)[0] == layer


def test_every_corpus_file_is_covered() -> None:
    if NOTIFICATIONS.is_dir():
        assert sorted(p.name for p in NOTIFICATIONS.glob("*.json")) == sorted(CORPUS)


@pytest.mark.skipif(
    not NOTIFICATIONS.is_dir(), reason="the SES notification corpus is not beside the checkout"
)
def test_corpus_bounce_details() -> None:
    event = _event((NOTIFICATIONS / "json-amazonses-06.json").read_text(encoding="utf-8"))
    first = event.recipients[0]
    assert (first.action, first.status, first.diagnostic_code) == (
        "failed",
        "5.1.1",
        "550 5.1.1 user unknown",
    )
    assert event.remote_mta == "72.21.215.231"
    assert event.reporting_mta == "xxxx.amazonses.com"
    assert event.subject == "asdadasaa"
    delivery = _event((NOTIFICATIONS / "json-amazonses-04.json").read_text(encoding="utf-8"))
    assert delivery.smtp_response == "250 2.6.0 Message received"
    assert "250 2.6.0 Message received" in event_layer(delivery)[2]


# --- fields -----------------------------------------------------------------------------------------


def test_bounce_fields_from_the_guide() -> None:
    event = _event(_bounce("NoEmail"))
    assert event.event_type == "Bounce" and event.envelope == "plain"
    assert (event.bounce_type, event.bounce_sub_type) == ("Permanent", "NoEmail")
    assert event.sender == "bounces@mail.example.com"
    assert event.from_header == "Admin <admin@example.com>"
    assert event.subject == "Invoice"
    assert event.timestamp == "2024-03-01T10:00:02.000Z"  # the bounce's, not the mail's
    assert (event.region, event.sending_account_id) == ("eu-central-1", "111122223333")
    assert event.source_arn == "arn:aws:ses:eu-central-1:111122223333:identity/example.com"
    assert event.message_id == "0100018df0a1-EXAMPLE-000000"
    assert event.reporting_mta == "a1-2.smtp-out.eu-central-1.amazonses.com"
    assert event.remote_mta == "192.0.2.25"
    assert [r.address for r in event.recipients] == ["guest@example.net"]  # the bounced one, not destination
    assert event.recipients[0].diagnostic_code == "550 5.1.1 user unknown"


def test_sender_is_the_source_else_the_from_address() -> None:
    text = _plain("Send", "send", {}, source="Bounces <bounces@mail.example.com>")
    assert _event(text).sender == "bounces@mail.example.com"  # an address, even if given with a name
    body = json.loads(text)
    del body["mail"]["source"]
    assert _event(json.dumps(body)).sender == "admin@example.com"


def test_configuration_set_and_notification_type_field() -> None:
    tagged = _plain(
        "Delivery",
        "delivery",
        {"recipients": ["guest@example.net"]},
        tags={"ses:configuration-set": ["Marketing"]},
    )
    assert _event(tagged).configuration_set == "Marketing"
    legacy = _plain("Delivery", "delivery", {"recipients": ["guest@example.net"]}, field="notificationType")
    assert _event(legacy).event_type == "Delivery"
    assert _event(legacy).configuration_set == ""


def test_complaint_delay_reject_rendering_failure_fields() -> None:
    complaint = _event(
        _plain(
            "Complaint",
            "complaint",
            {
                "complainedRecipients": [{"emailAddress": "guest@example.net"}],
                "timestamp": "2024-03-02T08:00:00.000Z",
                "feedbackId": "f",
                "complaintFeedbackType": "abuse",
                "userAgent": "ExampleFeedbackLoop/1.0",
            },
        )
    )
    assert (complaint.complaint_feedback_type, complaint.timestamp) == ("abuse", "2024-03-02T08:00:00.000Z")
    delay = _event(
        _plain(
            "DeliveryDelay",
            "deliveryDelay",
            {
                "timestamp": "2024-03-01T10:10:00.000Z",
                "delayType": "MailboxFull",
                "expirationTime": "2024-03-02T10:00:00.000Z",
                "delayedRecipients": [
                    {
                        "emailAddress": "guest@example.net",
                        "status": "4.2.2",
                        "diagnosticCode": "smtp; 452 4.2.2 over quota",
                    }
                ],
            },
        )
    )
    assert (delay.delay_type, delay.expiration_time) == ("MailboxFull", "2024-03-02T10:00:00.000Z")
    assert delay.recipients[0].diagnostic_code == "452 4.2.2 over quota"
    reject = _event(_plain("Reject", "reject", {"reason": "Bad content"}))
    assert reject.reject_reason == "Bad content"
    assert reject.timestamp == "2024-03-01T10:00:00.000Z"  # no own timestamp: the mail's
    assert reject.recipients[0].address == "guest@example.net"  # mail.destination
    failure = _event(
        _plain(
            "Rendering Failure",
            "failure",
            {"templateName": "Welcome", "errorMessage": "Attribute 'name' is not present"},
        )
    )
    assert (failure.template_name, failure.error_message) == ("Welcome", "Attribute 'name' is not present")


# --- envelopes --------------------------------------------------------------------------------------


def test_sns_envelope() -> None:
    inner = _bounce("Suppressed")
    sns = {
        "Type": "Notification",
        "MessageId": "11111111-2222-3333-4444-555555555555",
        "TopicArn": "arn:aws:sns:eu-central-1:111122223333:ses-bounces",
        "Message": inner,
        "Timestamp": "2024-03-01T10:00:03.000Z",
        "SignatureVersion": "1",
    }
    event = _event(json.dumps(sns, indent=2))
    assert (event.envelope, event.bounce_sub_type) == ("sns", "Suppressed")
    lambda_event = {"Records": [{"EventSource": "aws:sns", "Sns": sns}]}
    assert _event(json.dumps(lambda_event)).envelope == "sns"


def test_eventbridge_envelope_and_its_region() -> None:
    detail = json.loads(_bounce("OnAccountSuppressionList"))
    del detail["mail"]["sourceArn"]
    bridge = {
        "version": "0",
        "id": "00000000-aaaa-bbbb-cccc-000000000000",
        "detail-type": "Email Bounced",
        "source": "aws.ses",
        "account": "111122223333",
        "time": "2024-03-01T10:00:03Z",
        "region": "ap-southeast-2",
        "resources": [],
        "detail": detail,
    }
    event = _event(json.dumps(bridge))
    assert (event.envelope, event.region) == ("eventbridge", "ap-southeast-2")
    assert event.bounce_sub_type == "OnAccountSuppressionList"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "550 5.1.1 user unknown",
        "{",
        '{"notificationType": "Bounce", "mail": {',  # torn
        '{"notificationType": "Bounce"}',  # no mail object
        '{"notificationType": "AmazonSnsSubscriptionSucceeded", "mail": {}}',
        '{"Type": "SubscriptionConfirmation", "Message": "You have chosen to subscribe"}',
        '{"Type": "Notification", "Message": "not json"}',
        '{"source": "aws.ec2", "detail": {"eventType": "Bounce", "mail": {}}}',
        "[1, 2, 3]",
        "{" * 100_000,  # nested beyond the stack
        '{"a": "' + "x" * (3 * 1024 * 1024) + '"}',  # beyond any notification's size
    ],
)
def test_anything_else_is_none(text: str) -> None:
    assert parse_ses_event(text) is None


def test_wrong_types_leave_fields_empty() -> None:
    text = json.dumps(
        {
            "eventType": "Bounce",
            "mail": {"source": 5, "commonHeaders": {"from": "not a list"}, "tags": [], "destination": "x"},
            "bounce": {
                "bounceType": None,
                "bouncedRecipients": [7, {"emailAddress": 3}, "guest@example.net"],
            },
        }
    )
    event = _event(text)
    assert (event.sender, event.bounce_type, event.configuration_set) == ("", "", "")
    assert [r.address for r in event.recipients] == ["guest@example.net"]


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
                        ["eventType", "notificationType", "mail", "bounce", "bouncedRecipients", "Message",
                         "Type", "detail", "source", "commonHeaders", "from", "tags", "emailAddress",
                         "Records", "Sns", "delivery", "recipients", "deliveryDelay", "sourceArn"]),
                        inner, max_size=5), max_leaves=30))  # fmt: skip
def test_never_raises_on_any_json(data: object) -> None:
    event = parse_ses_event(json.dumps(data))
    if event is not None:
        layer, _reason, explanation = event_layer(event)
        assert layer in {"", "credentials", "sending", "recipient", "dmarc", "policy", "unknown", "delivered"}
        assert explanation


# --- layers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sub", "kind", "layer", "reason"),
    [
        ("OnAccountSuppressionList", "Permanent", "recipient", "account-suppressed"),
        ("Suppressed", "Permanent", "recipient", "global-suppressed"),
        ("NoEmail", "Permanent", "recipient", "no-such-mailbox"),
        ("MailboxFull", "Transient", "recipient", "mailbox-full"),
        ("ContentRejected", "Transient", "policy", "content-rejected"),
        ("AttachmentRejected", "Transient", "policy", "attachment-rejected"),
        ("General", "Permanent", "", "general"),
        ("General", "Transient", "", "general"),
        ("Undetermined", "Undetermined", "", "undetermined"),
    ],
)
def test_bounce_layers(sub: str, kind: str, layer: str, reason: str) -> None:
    assert event_layer(_event(_bounce(sub, kind)))[:2] == (layer, reason)


def test_global_suppression_says_what_the_guide_says() -> None:
    explanation = event_layer(_event(_bounce("Suppressed")))[2]
    assert "global suppression list" in explanation
    assert "cannot read it or remove" in explanation
    assert "14 days" in explanation
    assert (
        "account's suppression list in eu-central-1"
        in event_layer(_event(_bounce("OnAccountSuppressionList")))[2]
    )


def test_complaint_delivery_reject_rendering_layers() -> None:
    complaint = _plain(
        "Complaint", "complaint", {"complainedRecipients": [{"emailAddress": "guest@example.net"}]}
    )
    layer, reason, explanation = event_layer(_event(complaint))
    assert (layer, reason) == ("policy", "complaint")
    assert "marked it as spam" in explanation and "complaint rate" in explanation
    suppressed = _plain(
        "Complaint", "complaint",
        {"complainedRecipients": [{"emailAddress": "guest@example.net"}], "complaintSubType": "OnAccountSuppressionList"},
    )  # fmt: skip
    assert event_layer(_event(suppressed))[:2] == ("recipient", "account-suppressed")
    delivery = _plain(
        "Delivery",
        "delivery",
        {
            "timestamp": "2024-03-01T10:00:04.000Z",
            "recipients": ["guest@example.net"],
            "smtpResponse": "250 2.0.0 OK 1709287204 x1si",
            "remoteMtaIp": "198.51.100.7",
            "reportingMTA": "a1-2.smtp-out.eu-central-1.amazonses.com",
        },
    )
    layer, reason, explanation = event_layer(_event(delivery))
    assert (layer, reason) == ("delivered", "delivered")
    for part in (
        "2024-03-01T10:00:04.000Z",
        "198.51.100.7",
        "250 2.0.0 OK 1709287204 x1si",
        "spam",
        "filters",
    ):
        assert part in explanation
    layer, reason, explanation = event_layer(_event(_plain("Reject", "reject", {"reason": "Bad content"})))
    assert (layer, reason) == ("sending", "virus")
    assert "virus" in explanation and "Bad content" in explanation
    failure = _plain(
        "Rendering Failure", "failure", {"templateName": "Welcome", "errorMessage": "missing name"}
    )
    layer, _reason, explanation = event_layer(_event(failure))
    assert layer == "sending" and "Welcome" in explanation and "missing name" in explanation


@pytest.mark.parametrize(
    ("delay", "layer"),
    [
        ("MailboxFull", "recipient"),
        ("SpamDetected", "policy"),
        ("IPFailure", "policy"),
        ("InternalFailure", "unknown"),
        ("TransientCommunicationFailure", "unknown"),
        ("RecipientServerError", "unknown"),
        ("Undetermined", ""),
        ("General", ""),
    ],
)
def test_delivery_delay_layers(delay: str, layer: str) -> None:
    detail = {
        "delayType": delay,
        "expirationTime": "2024-03-02T10:00:00.000Z",
        "delayedRecipients": [{"emailAddress": "guest@example.net", "status": "4.4.1"}],
    }
    got, _reason, explanation = event_layer(_event(_plain("DeliveryDelay", "deliveryDelay", detail)))
    assert got == layer
    assert "2024-03-02T10:00:00.000Z" in explanation  # until when SES keeps trying
