"""The lab's timed call log (``calls()`` of each server, ``Lab.calls()``): real requests over loopback, with
the lab's latency faults, so that a record's times can be told from the latency it was answered with."""

from __future__ import annotations

import itertools
import smtplib
import ssl
import time
from collections.abc import Callable
from typing import Any

import boto3
import dns.message
import dns.query
import pytest

from maildoctor.lab import OPERATOR_KEY_ID, OPERATOR_SECRET, Lab
from maildoctor.lab.faults import Fault

LATENCY = 0.05  # seconds: the faults below are 50 ms
MARKER_PASSWORD = "not-a-real-password-but-it-must-stay-out-of-the-log"

Faults = Callable[..., tuple[Fault, ...]]


@pytest.fixture
def seeded(lab: Lab, load: Callable[[str], object], fault: Faults) -> Lab:
    load("seed-incident")
    lab.clear_calls()
    return lab


def aws_client(lab: Lab, service: str, region: str = "us-east-1") -> Any:
    return boto3.client(
        service,
        endpoint_url=lab.aws.endpoint_url,
        region_name=region,
        aws_access_key_id=OPERATOR_KEY_ID,
        aws_secret_access_key=OPERATOR_SECRET,
    )


def ask_dns(lab: Lab, name: str, rdtype: str = "TXT", timeout: float = 2.0) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    return dns.query.udp(query, lab.dns.host, port=lab.dns.port, timeout=timeout)


def smtp_dialogue(lab: Lab) -> None:
    """Greeting, EHLO, STARTTLS, EHLO, AUTH LOGIN (the password a continuation, refused), QUIT."""
    host, port = lab.smtp.address.rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(lab.tls.ca_file))
    with smtplib.SMTP(host, int(port), timeout=5) as client:
        client.ehlo("bench.example")
        client.starttls(context=context)
        client.ehlo("bench.example")
        client.esmtp_features["auth"] = "LOGIN"  # smtplib would pick PLAIN: LOGIN has continuations
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login("AKIAEXAMPLEOLDKEY001", MARKER_PASSWORD)


def test_aws_calls_are_timed_with_their_latency(seeded: Lab, fault: Faults) -> None:
    fault("aws-slow:50")
    before = time.monotonic()
    aws_client(seeded, "sts").get_caller_identity()
    aws_client(seeded, "sesv2", "eu-west-1").get_account()
    after = time.monotonic()
    calls = seeded.aws.calls()
    assert [(c.service, c.operation, c.region) for c in calls] == [
        ("sts", "GetCallerIdentity", "us-east-1"),
        ("sesv2", "GetAccount", "eu-west-1"),
    ]
    for call in calls:
        assert before <= call.start and call.end <= after
        assert call.end - call.start >= LATENCY
    assert calls[0].end <= calls[1].start  # one after the other, as they were made


def test_aws_call_log_and_operations_are_cleared_apart(seeded: Lab) -> None:
    seeded.aws.clear_operations()
    aws_client(seeded, "sts").get_caller_identity()
    seeded.aws.clear_operations()
    assert seeded.aws.operations() == []
    assert [c.operation for c in seeded.aws.calls()] == ["GetCallerIdentity"]
    aws_client(seeded, "sts").get_caller_identity()
    seeded.aws.clear_calls()
    assert seeded.aws.calls() == []
    assert seeded.aws.operations() == [("sts", "GetCallerIdentity", "us-east-1")]


def test_a_faulted_aws_call_is_logged_too(seeded: Lab, fault: Faults) -> None:
    fault("aws-deny:sts:GetCallerIdentity")
    with pytest.raises(Exception, match="AccessDenied"):
        aws_client(seeded, "sts").get_caller_identity()
    assert [c.operation for c in seeded.aws.calls()] == ["GetCallerIdentity"]


def test_dns_answers_are_timed_and_dropped_queries_left_out(seeded: Lab, fault: Faults) -> None:
    fault("dns-slow:50", "dns-timeout:silent.example.com")
    before = time.monotonic()
    ask_dns(seeded, "_dmarc.example.com")
    ask_dns(seeded, "example.com", "MX")
    with pytest.raises(dns.exception.Timeout):
        ask_dns(seeded, "silent.example.com", timeout=0.3)
    calls = seeded.dns.calls()
    assert [(c.qname.lower(), c.qtype, c.protocol) for c in calls] == [
        ("_dmarc.example.com.", "TXT", "udp"),
        ("example.com.", "MX", "udp"),
    ]
    assert ("silent.example.com.", "TXT") in seeded.dns.queries  # received, never answered
    for call in calls:
        assert call.start >= before
        assert call.end - call.start >= LATENCY


def test_smtp_replies_are_timed_and_name_their_command(seeded: Lab, fault: Faults) -> None:
    fault("smtp-slow:50")
    before = time.monotonic()
    smtp_dialogue(seeded)
    # the server logs a reply once it is sent: the last (221 to QUIT) may be logged just after the
    # client has read it and returned
    end = time.monotonic() + 2
    while len(seeded.smtp.calls()) < 7 and time.monotonic() < end:
        time.sleep(0.01)
    replies = seeded.smtp.calls()
    assert [(r.command, r.code) for r in replies] == [
        ("connect", "220"),
        ("EHLO", "250"),
        ("STARTTLS", "220"),
        ("EHLO", "250"),
        ("AUTH", "334"),  # Password: (smtplib sends the user name with AUTH LOGIN)
        ("AUTH", "535"),  # the answer to the password: a continuation, named by its AUTH
        ("QUIT", "221"),
    ]
    for reply in replies:
        assert reply.start >= before
        assert reply.end - reply.start >= LATENCY
    for earlier, later in itertools.pairwise(replies):
        assert earlier.end <= later.start  # a dialogue: each command waits for the reply before it
    assert not any(MARKER_PASSWORD in repr(r) for r in replies)


def test_lab_calls_merge_the_three_logs_by_start(seeded: Lab) -> None:
    ask_dns(seeded, "example.com", "MX")
    aws_client(seeded, "sts").get_caller_identity()
    smtp_dialogue(seeded)
    calls = seeded.calls()
    assert [c.layer for c in calls][:2] == ["dns", "aws"]
    assert {c.layer for c in calls[2:]} == {"smtp"}
    assert [c.start for c in calls] == sorted(c.start for c in calls)
    assert calls[1].name == "sts:GetCallerIdentity"
    seeded.clear_calls()
    assert seeded.calls() == []
