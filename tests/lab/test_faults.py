"""Every lab fault does what `--fault list` says, seen by real clients over loopback: boto3 against the
AWS endpoint, dnspython against the DNS server, raw sockets and aiosmtplib against the SMTP server.

Every wait is short (timeouts of 1-2 s, retries off), so the whole module runs in seconds.
"""

from __future__ import annotations

import functools
import socket
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosmtplib
import boto3
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.resolver
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from maildoctor.lab import Lab
from maildoctor.lab.faults import (
    KINDS,
    Fault,
    FaultError,
    compile_faults,
    parse_fault,
    requested_faults,
    scenario_faults,
)
from maildoctor.lab.scenario import load_scenario
from maildoctor.smtp_password import smtp_password_v4

NEW_KEY, NEW_SECRET = "AKIAEXAMPLENEWKEY002", "6N2DMWYY2PEFKCBiF4Aul0QhaTgPpshCizOEzNs4"  # seed-incident
QUICK = Config(connect_timeout=1, read_timeout=1.5, retries={"total_max_attempts": 1})


# --------------------------------------------------------------------------------------------------
# names


def test_every_kind_parses_by_its_name_and_back() -> None:
    for kind in KINDS:
        fault = parse_fault(kind.name)
        assert (fault.kind, fault.layer, fault.name) == (kind.name, kind.layer, kind.name)


@pytest.mark.parametrize(
    ("text", "kind", "arg", "name"),
    [
        ("aws-deny:iam:GetAccessKeyLastUsed", "aws-deny", "iam:GetAccessKeyLastUsed", "aws-deny:iam:GetAccessKeyLastUsed"),
        ("aws-deny:ses", "aws-deny", "ses:*", "aws-deny:ses:*"),
        ("aws-throttle", "aws-throttle", "*:*", "aws-throttle"),
        ("dns-servfail:_DMARC.Example.com.", "dns-servfail", "_dmarc.example.com", "dns-servfail:_dmarc.example.com"),
        ("smtp-slow:0250", "smtp-slow", "250", "smtp-slow:250"),
        ("aws-slow", "aws-slow", "1000", "aws-slow"),
    ],
)  # fmt: skip
def test_arguments_are_normalised(text: str, kind: str, arg: str, name: str) -> None:
    fault = parse_fault(text)
    assert (fault.kind, fault.arg, fault.name) == (kind, arg, name)
    assert parse_fault(fault.name) == fault


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("aws-thrtle", "unknown fault 'aws-thrtle' (did you mean 'aws-throttle'?)"),
        ("nonsense", "unknown fault 'nonsense'"),
        ("aws-down:now", "takes no argument"),
        ("dns-slow:fast", "'fast' is not a latency in ms"),
        ("smtp-slow:9999999", "is not a latency in ms"),
        ("aws-deny:iam:Get User", "expected SERVICE:OPERATION"),
        ("dns-timeout:", "expected a DNS name"),
    ],
)
def test_bad_names_are_one_line(text: str, says: str) -> None:
    with pytest.raises(FaultError) as caught:
        parse_fault(text)
    message = str(caught.value)
    assert says in message and "\n" not in message and caught.value.exit_code == 2


def test_latency_options_are_slow_faults_and_the_largest_wins() -> None:
    faults = requested_faults(["aws-slow:200"], latency_aws=700, latency_dns=0, latency_smtp=None)
    assert [f.name for f in faults] == ["aws-slow:200", "aws-slow:700", "dns-slow:0"]
    compiled = compile_faults(faults)
    assert (compiled.aws.latency_ms, compiled.dns.latency_ms, compiled.smtp.latency_ms) == (700, 0, 0)


def test_aws_rules_match_the_botocore_name_or_the_iam_prefix() -> None:
    aws = compile_faults(["aws-deny:ses:*", "aws-throttle:iam:Get*"]).aws
    assert aws.rule_for("sesv2", "GetAccount") == "aws-deny"
    assert aws.rule_for("ses", "GetSendQuota") == "aws-deny"
    assert aws.rule_for("iam", "getuser") == "aws-throttle"
    assert aws.rule_for("iam", "ListAccessKeys") is None
    assert aws.rule_for("sts", "GetCallerIdentity") is None


def test_a_scenarios_failure_fields_are_faults() -> None:
    names = [f.name for f in scenario_faults(load_scenario("smtp-unreachable"))]
    assert names == ["smtp-refused"]
    assert scenario_faults(load_scenario("all-clear")) == []


# --------------------------------------------------------------------------------------------------
# AWS


@pytest.fixture
def seeded(load: Callable[[str], Any], lab: Lab) -> Lab:
    load("seed-incident")
    return lab


def aws(lab: Lab, service: str, region: str = "us-east-1") -> Any:
    """A boto3 client for where the lab points clients now (retries off, short timeouts)."""
    env = lab.env()
    return _client(
        env["AWS_ENDPOINT_URL"], env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], service, region
    )


@functools.cache
def _client(endpoint: str, key: str, secret: str, service: str, region: str) -> Any:
    session = boto3.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=region)
    return session.client(service, endpoint_url=endpoint, config=QUICK)


NOW = datetime.now(UTC)
CALLS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "sesv2": ("sesv2", "get_email_identity", {"EmailIdentity": "example.com"}),
    "iam": ("iam", "get_access_key_last_used", {"AccessKeyId": NEW_KEY}),
    "sts": ("sts", "get_caller_identity", {}),
    "cloudwatch": ("cloudwatch", "get_metric_statistics", {
        "Namespace": "AWS/SES", "MetricName": "Reputation.BounceRate", "StartTime": NOW - timedelta(hours=6),
        "EndTime": NOW, "Period": 3600, "Statistics": ["Average"]}),
    "cloudtrail": ("cloudtrail", "lookup_events", {"MaxResults": 1}),
    "ses": ("ses", "get_send_quota", {}),
}  # fmt: skip


def call(lab: Lab, which: str) -> dict[str, Any]:
    service, method, params = CALLS[which]
    result: dict[str, Any] = getattr(aws(lab, service), method)(**params)
    return result


def error_of(lab: Lab, which: str) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call(lab, which)
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_without_faults_every_call_answers(seeded: Lab) -> None:
    for which in CALLS:
        assert "ResponseMetadata" in call(seeded, which), which


THROTTLED = {
    "sesv2": ("TooManyRequestsException", 429),  # the SES v2 model's throttling error
    "iam": ("Throttling", 400),
    "sts": ("Throttling", 400),
    "cloudwatch": ("Throttling", 400),  # JSON protocol, query-compatible: x-amzn-query-error
    "cloudtrail": ("ThrottlingException", 400),
    "ses": ("Throttling", 400),
}
DENIED = {
    "sesv2": ("AccessDeniedException", 403),
    "iam": ("AccessDenied", 403),
    "sts": ("AccessDenied", 403),
    "cloudwatch": ("AccessDenied", 403),
    "cloudtrail": ("AccessDeniedException", 400),
    "ses": ("AccessDenied", 403),
}


@pytest.mark.parametrize("which", list(CALLS))
def test_throttling_in_each_services_shape(seeded: Lab, fault: Callable[..., Any], which: str) -> None:
    fault("aws-throttle")
    assert error_of(seeded, which) == THROTTLED[which]


@pytest.mark.parametrize("which", list(CALLS))
def test_access_denied_in_each_services_shape(seeded: Lab, fault: Callable[..., Any], which: str) -> None:
    fault("aws-deny")
    with pytest.raises(ClientError) as caught:
        call(seeded, which)
    error = caught.value.response["Error"]
    assert (error["Code"], caught.value.response["ResponseMetadata"]["HTTPStatusCode"]) == DENIED[which]
    assert "is not authorized to perform" in error["Message"]


def test_deny_one_operation_leaves_the_others(seeded: Lab, fault: Callable[..., Any]) -> None:
    fault("aws-deny:iam:GetAccessKeyLastUsed")
    assert error_of(seeded, "iam") == ("AccessDenied", 403)
    message_call = aws(seeded, "iam")
    with pytest.raises(ClientError) as caught:
        message_call.get_access_key_last_used(AccessKeyId=NEW_KEY)
    assert "iam:GetAccessKeyLastUsed" in caught.value.response["Error"]["Message"]
    assert aws(seeded, "iam").list_access_keys(UserName="ses-smtp-user")["AccessKeyMetadata"]
    for which in ("sesv2", "sts", "cloudwatch", "cloudtrail", "ses"):
        call(seeded, which)


def test_deny_a_whole_service_by_its_iam_prefix(seeded: Lab, fault: Callable[..., Any]) -> None:
    fault("aws-deny:ses:*")
    assert error_of(seeded, "sesv2") == ("AccessDeniedException", 403)
    assert error_of(seeded, "ses") == ("AccessDenied", 403)
    for which in ("iam", "sts", "cloudwatch", "cloudtrail"):
        call(seeded, which)


@pytest.mark.parametrize("which", list(CALLS))
def test_500_and_503(seeded: Lab, fault: Callable[..., Any], which: str) -> None:
    fault("aws-500")
    code, status = error_of(seeded, which)
    assert status == 500 and code == ("ServiceFailure" if which == "iam" else "InternalFailure")
    seeded.set_faults(["aws-503"])
    assert error_of(seeded, which) == ("ServiceUnavailable", 503)


def test_down_refuses_connections(seeded: Lab, fault: Callable[..., Any]) -> None:
    fault("aws-down")
    started = time.monotonic()
    for which in CALLS:
        with pytest.raises(EndpointConnectionError):
            call(seeded, which)
    assert time.monotonic() - started < 5
    # the server itself still listens: only where clients are pointed changed
    assert seeded.env()["AWS_ENDPOINT_URL"] != seeded.aws.endpoint_url


def test_hang_is_a_read_timeout(seeded: Lab, fault: Callable[..., Any]) -> None:
    fault("aws-hang")
    env = seeded.env()
    sts = boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"]
    ).client(
        "sts", "us-east-1", endpoint_url=env["AWS_ENDPOINT_URL"], config=QUICK.merge(Config(read_timeout=0.5))
    )
    started = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        sts.get_caller_identity()
    assert 0.5 <= time.monotonic() - started < 3


def test_slow_answers_late_and_right(seeded: Lab, fault: Callable[..., Any]) -> None:
    call(seeded, "sts")  # a client made once: the timing below is the server's
    fault("aws-slow:400")
    started = time.monotonic()
    identity = call(seeded, "sts")
    assert time.monotonic() - started >= 0.4
    assert identity["Account"] == "123456789012"


def test_faults_removed_answer_again(seeded: Lab) -> None:
    with seeded.faults("aws-throttle", "aws-slow:100"):
        assert error_of(seeded, "sts") == ("Throttling", 400)
    assert seeded.active_faults == ()
    assert call(seeded, "sts")["Account"] == "123456789012"


# --------------------------------------------------------------------------------------------------
# the operations record (the API the read-only sweep uses)


def test_every_request_is_recorded_as_service_operation_region(
    seeded: Lab, fault: Callable[..., Any]
) -> None:
    seeded.aws.clear_operations()
    aws(seeded, "sesv2", "eu-west-1").get_account()
    aws(seeded, "sesv2").get_email_identity(EmailIdentity="example.com")
    with pytest.raises(ClientError):
        aws(seeded, "sesv2", "ap-south-1").get_suppressed_destination(EmailAddress="a+b@example.org")
    aws(seeded, "sesv2").list_email_identities()
    for which in ("iam", "sts", "cloudwatch", "cloudtrail", "ses"):
        call(seeded, which)
    fault("aws-deny:iam:ListAccessKeys")
    with pytest.raises(ClientError):
        aws(seeded, "iam").list_access_keys(UserName="ses-smtp-user")
    assert seeded.aws.operations() == [
        ("sesv2", "GetAccount", "eu-west-1"),
        ("sesv2", "GetEmailIdentity", "us-east-1"),
        ("sesv2", "GetSuppressedDestination", "ap-south-1"),
        ("sesv2", "ListEmailIdentities", "us-east-1"),
        ("iam", "GetAccessKeyLastUsed", "us-east-1"),
        ("sts", "GetCallerIdentity", "us-east-1"),
        ("cloudwatch", "GetMetricStatistics", "us-east-1"),
        ("cloudtrail", "LookupEvents", "us-east-1"),
        ("ses", "GetSendQuota", "us-east-1"),
        ("iam", "ListAccessKeys", "us-east-1"),  # answered by a fault: still recorded
    ]
    seeded.aws.clear_operations()
    assert seeded.aws.operations() == []


def test_a_mutating_call_is_recorded_by_its_name(seeded: Lab, fault: Callable[..., Any]) -> None:
    fault("aws-deny:*:Put*", "aws-deny:*:Create*")  # answered by the fault: the session's lab stays as it is
    seeded.aws.clear_operations()
    with pytest.raises(ClientError):
        aws(seeded, "sesv2").put_suppressed_destination(EmailAddress="x@example.org", Reason="BOUNCE")
    with pytest.raises(ClientError):
        aws(seeded, "iam").create_user(UserName="someone")
    assert seeded.aws.operations() == [
        ("sesv2", "PutSuppressedDestination", "us-east-1"),
        ("iam", "CreateUser", "us-east-1"),
    ]


# --------------------------------------------------------------------------------------------------
# DNS


def resolver(lab: Lab, lifetime: float = 1.5) -> dns.resolver.Resolver:
    host, port = lab.env()["MAILDOCTOR_DNS_SERVER"].split(":")
    res = dns.resolver.Resolver(configure=False)
    res.nameservers, res.port = [host], int(port)
    res.lifetime, res.timeout = lifetime, lifetime
    res.retry_servfail = False
    return res


def ask(lab: Lab, name: str, *, tcp: bool = False, timeout: float = 1.0) -> dns.message.Message:
    query = dns.message.make_query(name, "TXT")
    send = dns.query.tcp if tcp else dns.query.udp
    return send(query, lab.dns.host, timeout=timeout, port=lab.dns.port)


def test_dns_timeout_answers_nothing_over_udp_or_tcp(seeded: Lab, fault: Callable[..., Any]) -> None:
    fault("dns-timeout")
    started = time.monotonic()
    with pytest.raises(dns.resolver.LifetimeTimeout):
        resolver(seeded, lifetime=1.0).resolve("example.com", "TXT")
    with pytest.raises(dns.exception.Timeout):
        ask(seeded, "example.com", tcp=True, timeout=0.5)
    assert time.monotonic() - started < 4


def test_dns_timeout_for_one_name(seeded: Lab, fault: Callable[..., Any]) -> None:
    fault("dns-timeout:_dmarc.example.com")
    with pytest.raises(dns.exception.Timeout):
        ask(seeded, "_dmarc.example.com", timeout=0.5)
    assert ask(seeded, "example.com").rcode() == dns.rcode.NOERROR


def test_dns_servfail(seeded: Lab, fault: Callable[..., Any]) -> None:
    fault("dns-servfail")
    assert ask(seeded, "example.com").rcode() == dns.rcode.SERVFAIL
    assert ask(seeded, "example.com", tcp=True).rcode() == dns.rcode.SERVFAIL
    with pytest.raises(dns.resolver.NoNameservers):
        resolver(seeded).resolve("example.com", "TXT")


def test_dns_servfail_for_one_name(seeded: Lab, fault: Callable[..., Any]) -> None:
    fault("dns-servfail:example.com")
    assert ask(seeded, "example.com").rcode() == dns.rcode.SERVFAIL
    assert ask(seeded, "_dmarc.example.com").rcode() == dns.rcode.NOERROR


def test_dns_truncate_sets_tc_over_udp_and_tcp_answers(seeded: Lab, fault: Callable[..., Any]) -> None:
    whole = ask(seeded, "example.com")
    assert whole.answer and not whole.flags & dns.flags.TC
    fault("dns-truncate")
    short = ask(seeded, "example.com")
    assert short.flags & dns.flags.TC and not short.answer
    assert ask(seeded, "example.com", tcp=True).answer == whole.answer
    assert resolver(seeded).resolve("example.com", "TXT").rrset == whole.answer[0]  # retried over TCP


def test_dns_truncate_notcp_fails_both(seeded: Lab, fault: Callable[..., Any]) -> None:
    fault("dns-truncate-notcp")
    short = ask(seeded, "example.com")
    assert short.flags & dns.flags.TC and not short.answer
    with pytest.raises(EOFError):  # the TCP connection is closed without an answer
        ask(seeded, "example.com", tcp=True)
    with pytest.raises(dns.resolver.NoNameservers):
        resolver(seeded).resolve("example.com", "TXT")


def test_dns_slow(seeded: Lab, fault: Callable[..., Any]) -> None:
    fault("dns-slow:300")
    started = time.monotonic()
    answer = ask(seeded, "example.com")
    assert time.monotonic() - started >= 0.3 and answer.answer


# --------------------------------------------------------------------------------------------------
# SMTP


def smtp_addr(lab: Lab) -> tuple[str, int]:
    host, port = lab.env()["MAILDOCTOR_SMTP_ENDPOINT"].split(":")
    return host, int(port)


def trusting(lab: Lab) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=lab.env()["MAILDOCTOR_SMTP_CA_FILE"])


def client(lab: Lab) -> aiosmtplib.SMTP:
    host, port = smtp_addr(lab)
    return aiosmtplib.SMTP(hostname=host, port=port, timeout=1.5, start_tls=False, tls_context=trusting(lab))


def greeting(lab: Lab, timeout: float = 1.0) -> bytes:
    with socket.create_connection(smtp_addr(lab), timeout=timeout) as sock:
        return sock.recv(1024)


async def test_smtp_without_faults_logs_in(seeded: Lab) -> None:
    smtp = client(seeded)
    await smtp.connect()
    await smtp.starttls()
    assert (await smtp.login(NEW_KEY, smtp_password_v4(NEW_SECRET, "us-east-1"))).code == 235
    smtp.close()


def test_smtp_refused(seeded: Lab, fault: Callable[..., Any]) -> None:
    fault("smtp-refused")
    assert smtp_addr(seeded) != (seeded.smtp.host, seeded.smtp.port)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(smtp_addr(seeded), timeout=1.0)


def test_a_scenario_that_refuses_smtp_is_the_same_fault(load: Callable[[str], Any], lab: Lab) -> None:
    load("smtp-unreachable")
    assert [f.name for f in lab.active_faults] == ["smtp-refused"]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(smtp_addr(lab), timeout=1.0)
    lab.clear_faults()  # the scenario's own fault is its state of the world: it stays
    assert [f.name for f in lab.active_faults] == ["smtp-refused"]
    load("all-clear")
    assert lab.active_faults == ()


async def test_smtp_no_greeting(seeded: Lab, fault: Callable[..., Any]) -> None:
    fault("smtp-no-greeting")
    with pytest.raises(TimeoutError):
        greeting(seeded, timeout=0.5)
    smtp = client(seeded)
    smtp.timeout = 0.5
    with pytest.raises(aiosmtplib.SMTPTimeoutError):
        await smtp.connect()
    smtp.close()


async def test_smtp_421_greeting(seeded: Lab, fault: Callable[..., Any]) -> None:
    fault("smtp-421")
    assert greeting(seeded) == b"421 Too many concurrent SMTP connections\r\n"
    with pytest.raises(aiosmtplib.SMTPConnectResponseError) as caught:
        await client(seeded).connect()
    assert caught.value.code == 421


async def test_smtp_drop_after_ehlo(seeded: Lab, fault: Callable[..., Any]) -> None:
    fault("smtp-drop-after-ehlo")
    smtp = client(seeded)
    await smtp.connect()
    assert (await smtp.ehlo()).code == 250
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await smtp.starttls()
    smtp.close()


async def test_smtp_drop_after_auth(seeded: Lab, fault: Callable[..., Any]) -> None:
    fault("smtp-drop-after-auth")
    smtp = client(seeded)
    await smtp.connect()
    await smtp.starttls()
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await smtp.login(NEW_KEY, smtp_password_v4(NEW_SECRET, "us-east-1"))
    smtp.close()


async def test_smtp_no_starttls(seeded: Lab, fault: Callable[..., Any]) -> None:
    fault("smtp-no-starttls")
    smtp = client(seeded)
    await smtp.connect()
    await smtp.ehlo()
    assert not smtp.supports_extension("starttls")
    assert (await smtp.execute_command(b"STARTTLS")).code == 454
    auth = await smtp.execute_command(b"AUTH", b"PLAIN")
    assert (auth.code, auth.message) == (530, "Must issue a STARTTLS command first")
    smtp.close()


async def test_smtp_untrusted_certificate(seeded: Lab, fault: Callable[..., Any]) -> None:
    fault("smtp-untrusted-cert")
    smtp = client(seeded)
    await smtp.connect()
    with pytest.raises((ssl.SSLCertVerificationError, aiosmtplib.SMTPException)) as caught:
        await smtp.starttls()
    assert "CERTIFICATE_VERIFY_FAILED" in repr(caught.value) + repr(caught.value.__cause__)
    smtp.close()
    # the TLS itself works: a client that checks nothing gets through (it is the certificate)
    anything = ssl.create_default_context()
    anything.check_hostname, anything.verify_mode = False, ssl.CERT_NONE
    smtp = client(seeded)
    await smtp.connect()
    assert (await smtp.starttls(tls_context=anything)).code == 220
    smtp.close()


async def test_smtp_slow_delays_each_reply_once(seeded: Lab, fault: Callable[..., Any]) -> None:
    fault("smtp-slow:300")
    smtp = client(seeded)
    started = time.monotonic()
    await smtp.connect()
    greeted = time.monotonic()
    await smtp.ehlo()  # six lines, one reply: one delay
    done = time.monotonic()
    smtp.close()
    assert greeted - started >= 0.3
    assert 0.3 <= done - greeted < 1.2


# --------------------------------------------------------------------------------------------------
# the fixture


def test_fault_fixture_returns_what_is_active(fault: Callable[..., tuple[Fault, ...]]) -> None:
    assert [f.name for f in fault("dns-slow:50")] == ["dns-slow:50"]
    assert [f.name for f in fault("aws-deny:sts:*")] == ["dns-slow:50", "aws-deny:sts:*"]


def test_faults_of_the_test_before_are_gone(lab: Lab) -> None:
    assert lab.active_faults == ()  # the test above left two
