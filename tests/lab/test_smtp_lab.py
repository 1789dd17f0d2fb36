"""LabSmtpServer over real TCP and STARTTLS on loopback, with aiosmtplib as the only client.

Expected replies are written out by hand from ses-facts.md, not imported from the module under test.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from maildoctor.lab.scenario import Scenario
from maildoctor.lab.smtp import LabSmtpServer, LabTls
from maildoctor.smtp_password import smtp_password_v2, smtp_password_v4

CURRENT_KEY = "AKIAEXAMPLECURRENT01"
CURRENT_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
OLD_KEY = "AKIAEXAMPLEOLDKEY001"  # deleted in the rotation: not in IAM any more
OLD_SECRET = "oLdSeCrEt0000000000000000000000000000000"
INACTIVE_KEY = "AKIAEXAMPLEINACTIVE1"
INACTIVE_SECRET = "InAcTiVe00000000000000000000000000000000"

SEND_POLICY = {"name": "ses-send", "actions": ["ses:SendRawEmail"]}

AUTH_OK = "Authentication successful"
INVALID = "Authentication Credentials Invalid"
SIGV2 = (
    "Signature Version 2 is deprecated for use with SES from March 26, 2021. "
    "Please migrate to Signature Version 4."
)


def scenario(**overrides: Any) -> Scenario:
    data: dict[str, Any] = {
        "name": "smtp-lab-test",
        "description": "an SMTP user with one current key, one inactive key, admin@example.com verified",
        "expect": "ok",
        "regions": ["us-east-1"],
        "identities": {"us-east-1": [{"identity": "example.com"}, {"identity": "admin@example.com"}]},
        "iam": {
            "users": [
                {
                    "name": "ses-smtp-user",
                    "policies": [SEND_POLICY],
                    "keys": [
                        {"id": CURRENT_KEY, "secret": CURRENT_SECRET},
                        {"id": INACTIVE_KEY, "secret": INACTIVE_SECRET, "status": "Inactive"},
                    ],
                }
            ]
        },
    }
    data.update(overrides)
    return Scenario.model_validate(data)


def message(sender: str = "admin@example.com", to: str = "friend@example.org") -> str:
    return f"From: {sender}\r\nTo: {to}\r\nSubject: lab test\r\n\r\nhello from the lab\r\n"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LabTls:
    return LabTls(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture(scope="module")
def server(tls: LabTls) -> Iterator[LabSmtpServer]:
    with LabSmtpServer(tls) as srv:
        yield srv


@pytest.fixture
def lab(server: LabSmtpServer) -> LabSmtpServer:
    server.load(scenario())
    return server


def trusting(tls: LabTls) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls.ca_file))


def client_for(lab: LabSmtpServer, *, start_tls: bool = True) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=lab.host,
        port=lab.port,
        start_tls=start_tls,
        tls_context=trusting(lab.tls),
        timeout=5,
    )


@pytest.fixture
async def client(lab: LabSmtpServer) -> AsyncIterator[aiosmtplib.SMTP]:
    smtp = client_for(lab)
    await smtp.connect()
    await smtp.ehlo()  # aiosmtplib's auth_plain/auth_login do not send the EHLO that follows STARTTLS
    try:
        yield smtp
    finally:
        smtp.close()


async def logged_in(lab: LabSmtpServer) -> aiosmtplib.SMTP:
    smtp = client_for(lab)
    await smtp.connect()
    await smtp.login(CURRENT_KEY, smtp_password_v4(CURRENT_SECRET, "us-east-1"))
    return smtp


# --- greeting and TLS ------------------------------------------------------------------------------


def test_address_is_loopback_with_the_bound_port(lab: LabSmtpServer) -> None:
    assert lab.host == "127.0.0.1"
    assert lab.port > 0
    assert lab.address == f"127.0.0.1:{lab.port}"


async def test_banner_and_ehlo_look_like_ses(lab: LabSmtpServer) -> None:
    smtp = client_for(lab, start_tls=False)
    banner = await smtp.connect()
    try:
        assert banner.code == 220
        assert banner.message.startswith("email-smtp.amazonaws.com ESMTP SimpleEmailService")
        ehlo = await smtp.ehlo()
        assert ehlo.message.splitlines()[0] == "email-smtp.amazonaws.com"
        assert smtp.supports_extension("starttls")
        assert smtp.supports_extension("auth")  # advertised before TLS, as SES does
        await smtp.starttls(tls_context=trusting(lab.tls))
        await smtp.ehlo()
        assert not smtp.supports_extension("starttls")
        assert smtp.server_auth_methods == ["plain", "login"]
    finally:
        smtp.close()


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1"])
async def test_certificate_verifies_against_the_lab_ca(lab: LabSmtpServer, name: str) -> None:
    smtp = client_for(lab, start_tls=False)
    await smtp.connect()
    try:
        reply = await smtp.starttls(tls_context=trusting(lab.tls), server_hostname=name)
        assert reply.code == 220
        peer = smtp.get_transport_info("peercert")
        assert ("DNS", "localhost") in peer["subjectAltName"]
        assert ("IP Address", "127.0.0.1") in peer["subjectAltName"]
    finally:
        smtp.close()


def test_ca_file_is_a_pem_certificate(tls: LabTls) -> None:
    assert tls.ca_file.name == "lab-ca.pem"
    assert tls.ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")


async def test_certificate_fails_against_the_system_store(lab: LabSmtpServer) -> None:
    smtp = aiosmtplib.SMTP(
        hostname=lab.host, port=lab.port, start_tls=True, tls_context=ssl.create_default_context(), timeout=5
    )
    with pytest.raises((ssl.SSLError, aiosmtplib.SMTPException)) as raised:
        await smtp.connect()
    smtp.close()
    chain = [raised.value, raised.value.__cause__, raised.value.__context__]
    assert any(
        isinstance(e, ssl.SSLCertVerificationError) for e in chain
    ) or "CERTIFICATE_VERIFY_FAILED" in str(raised.value)


async def test_auth_before_starttls_gets_530(lab: LabSmtpServer) -> None:
    smtp = client_for(lab, start_tls=False)
    await smtp.connect()
    try:
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as raised:
            await smtp.login(CURRENT_KEY, smtp_password_v4(CURRENT_SECRET, "us-east-1"))
        assert (raised.value.code, raised.value.message) == (530, "Must issue a STARTTLS command first")
    finally:
        smtp.close()


async def test_mail_before_starttls_gets_530(lab: LabSmtpServer) -> None:
    smtp = client_for(lab, start_tls=False)
    await smtp.connect()
    try:
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as raised:
            await smtp.mail("admin@example.com")
        assert (raised.value.code, raised.value.message) == (530, "Must issue a STARTTLS command first")
    finally:
        smtp.close()


# --- AUTH ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["plain", "login"])
async def test_current_key_sigv4_password_authenticates(client: aiosmtplib.SMTP, mechanism: str) -> None:
    password = smtp_password_v4(CURRENT_SECRET, "us-east-1")
    auth = client.auth_plain if mechanism == "plain" else client.auth_login
    reply = await auth(CURRENT_KEY, password)
    assert (reply.code, reply.message) == (235, AUTH_OK)


@pytest.mark.parametrize("mechanism", ["plain", "login"])
@pytest.mark.parametrize(
    ("key", "password"),
    [
        pytest.param(OLD_KEY, smtp_password_v4(OLD_SECRET, "us-east-1"), id="deleted-key"),
        pytest.param(INACTIVE_KEY, smtp_password_v4(INACTIVE_SECRET, "us-east-1"), id="inactive-key"),
        pytest.param(CURRENT_KEY, smtp_password_v4(OLD_SECRET, "us-east-1"), id="old-key-password"),
        pytest.param(CURRENT_KEY, smtp_password_v4(CURRENT_SECRET, "eu-west-1"), id="other-region"),
        pytest.param(CURRENT_KEY, CURRENT_SECRET, id="raw-secret-key"),
        pytest.param(CURRENT_KEY, "not-a-password", id="garbage"),
        pytest.param(INACTIVE_KEY, smtp_password_v2(INACTIVE_SECRET), id="v2-of-inactive-key"),
        pytest.param(CURRENT_KEY, smtp_password_v2(OLD_SECRET), id="v2-of-another-secret"),
    ],
)
async def test_bad_credentials_get_535(
    client: aiosmtplib.SMTP, mechanism: str, key: str, password: str
) -> None:
    auth = client.auth_plain if mechanism == "plain" else client.auth_login
    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as raised:
        await auth(key, password)
    assert (raised.value.code, raised.value.message) == (535, INVALID)


@pytest.mark.parametrize("mechanism", ["plain", "login"])
async def test_sigv2_password_gets_the_deprecation_535(client: aiosmtplib.SMTP, mechanism: str) -> None:
    auth = client.auth_plain if mechanism == "plain" else client.auth_login
    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as raised:
        await auth(CURRENT_KEY, smtp_password_v2(CURRENT_SECRET))
    assert (raised.value.code, raised.value.message) == (535, SIGV2)


async def test_password_for_the_sending_region(lab: LabSmtpServer) -> None:
    lab.load(scenario(regions=["eu-central-1", "us-east-1"], identities={}))
    smtp = client_for(lab)
    await smtp.connect()
    await smtp.ehlo()
    try:
        with pytest.raises(aiosmtplib.SMTPAuthenticationError):
            await smtp.auth_plain(CURRENT_KEY, smtp_password_v4(CURRENT_SECRET, "us-east-1"))
        reply = await smtp.auth_plain(CURRENT_KEY, smtp_password_v4(CURRENT_SECRET, "eu-central-1"))
        assert reply.code == 235
    finally:
        smtp.close()


async def test_mail_before_auth_gets_530(client: aiosmtplib.SMTP) -> None:
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as raised:
        await client.mail("admin@example.com")
    assert (raised.value.code, raised.value.message) == (530, "Authentication required")


# --- sending ---------------------------------------------------------------------------------------


async def test_full_send_is_accepted_and_kept(lab: LabSmtpServer) -> None:
    smtp = await logged_in(lab)
    try:
        errors, reply = await smtp.sendmail("admin@example.com", ["friend@example.org"], message())
    finally:
        smtp.close()
    assert errors == {}
    assert reply.startswith("Ok ")
    message_id = reply.removeprefix("Ok ")
    last = lab.messages[-1]
    assert last.message_id == message_id
    assert (last.access_key_id, last.user) == (CURRENT_KEY, "ses-smtp-user")
    assert (last.mail_from, last.rcpt_tos) == ("admin@example.com", ("friend@example.org",))
    assert b"hello from the lab" in last.content


async def test_verified_domain_covers_any_address_in_it(lab: LabSmtpServer) -> None:
    lab.load(scenario(identities={"us-east-1": [{"identity": "example.com"}]}))
    smtp = await logged_in(lab)
    try:
        _, reply = await smtp.sendmail(
            "alerts@mail.example.com", ["friend@example.org"], message("alerts@mail.example.com")
        )
    finally:
        smtp.close()
    assert reply.startswith("Ok ")


@pytest.mark.parametrize(
    ("identities", "sender", "failed"),
    [
        pytest.param([], "admin@example.com", "admin@example.com", id="nothing-verified"),
        pytest.param(
            [{"identity": "example.com", "verification": "PENDING"}],
            "admin@example.com",
            "admin@example.com",
            id="pending",
        ),
        pytest.param(
            [{"identity": "example.com"}], "admin@example.net", "admin@example.net", id="other-domain"
        ),
        pytest.param(
            [{"identity": "admin@example.com", "verification": "FAILED"}],
            "admin@example.com",
            "admin@example.com",
            id="failed",
        ),
    ],
)
async def test_unverified_sender_gets_554_at_end_of_data(
    lab: LabSmtpServer, identities: list[dict[str, str]], sender: str, failed: str
) -> None:
    lab.load(scenario(identities={"us-east-1": identities}))
    smtp = await logged_in(lab)
    try:
        assert (await smtp.mail(sender)).code == 250  # SES accepts the envelope and refuses the message
        assert (await smtp.rcpt("friend@example.org")).code == 250
        with pytest.raises(aiosmtplib.SMTPDataError) as raised:
            await smtp.data(message(sender))
    finally:
        smtp.close()
    assert raised.value.code == 554
    assert raised.value.message == (
        "Message rejected: Email address is not verified. "
        f"The following identities failed the check in region US-EAST-1: {failed}"
    )


async def test_unverified_from_header_is_checked_too(lab: LabSmtpServer) -> None:
    smtp = await logged_in(lab)
    try:
        with pytest.raises(aiosmtplib.SMTPDataError) as raised:
            await smtp.sendmail("admin@example.com", ["friend@example.org"], message("boss@example.net"))
    finally:
        smtp.close()
    assert raised.value.message == (
        "Message rejected: Email address is not verified. "
        "The following identities failed the check in region US-EAST-1: boss@example.net"
    )


async def test_sandbox_recipients_must_be_verified(lab: LabSmtpServer) -> None:
    sandbox = {"eu-west-1": {"production_access": False}}
    lab.load(
        scenario(
            regions=["eu-west-1"], account=sandbox, identities={"eu-west-1": [{"identity": "example.com"}]}
        )
    )
    smtp = client_for(lab)
    await smtp.connect()
    await smtp.login(CURRENT_KEY, smtp_password_v4(CURRENT_SECRET, "eu-west-1"))
    try:
        with pytest.raises(aiosmtplib.SMTPDataError) as raised:
            await smtp.sendmail("admin@example.com", ["friend@example.org", "me@example.com"], message())
    finally:
        smtp.close()
    assert raised.value.message == (
        "Message rejected: Email address is not verified. "
        "The following identities failed the check in region EU-WEST-1: friend@example.org"
    )


async def test_sending_paused_gets_554(lab: LabSmtpServer) -> None:
    # paused by AWS (enforcement); the account's own pause is in test_lab_follows_aws.py
    lab.load(scenario(account={"us-east-1": {"sending_enabled": False, "enforcement": "SHUTDOWN"}}))
    smtp = await logged_in(lab)
    try:
        with pytest.raises(aiosmtplib.SMTPDataError) as raised:
            await smtp.sendmail("admin@example.com", ["friend@example.org"], message())
    finally:
        smtp.close()
    assert raised.value.code == 554
    assert raised.value.message == (
        "Message rejected: Sending paused for this account. "
        "For more information, please check the AWS Management Console."
    )


@pytest.mark.parametrize(
    "policies",
    [
        pytest.param([], id="no-policy"),
        pytest.param(
            [{"name": "read-only", "actions": ["ses:GetAccount", "ses:SendEmail"]}], id="other-actions"
        ),
        pytest.param(
            [SEND_POLICY, {"name": "deny", "actions": ["ses:*"], "effect": "Deny"}], id="explicit-deny"
        ),
        pytest.param(
            [
                {
                    "name": "elsewhere",
                    "actions": ["ses:SendRawEmail"],
                    "resource": "arn:aws:ses:*:*:identity/example.net",
                }
            ],
            id="other-resource",
        ),
    ],
)
async def test_user_without_send_permission_gets_554(
    lab: LabSmtpServer, policies: list[dict[str, Any]]
) -> None:
    users = [
        {
            "name": "ses-smtp-user",
            "policies": policies,
            "keys": [{"id": CURRENT_KEY, "secret": CURRENT_SECRET}],
        }
    ]
    lab.load(scenario(identities={"us-east-1": [{"identity": "example.com"}]}, iam={"users": users}))
    smtp = await logged_in(lab)
    try:
        with pytest.raises(aiosmtplib.SMTPDataError) as raised:
            await smtp.sendmail("admin@example.com", ["friend@example.org"], message())
    finally:
        smtp.close()
    assert raised.value.code == 554
    assert raised.value.message == (
        "Access denied: User arn:aws:iam::123456789012:user/ses-smtp-user is not authorized to perform "
        "ses:SendRawEmail on resource arn:aws:ses:us-east-1:123456789012:identity/example.com"
    )


@pytest.mark.parametrize("action", ["ses:*", "*", "SES:sendrawemail", "ses:Send*"])
async def test_broad_allow_policies_permit_sending(lab: LabSmtpServer, action: str) -> None:
    users = [
        {
            "name": "ses-smtp-user",
            "policies": [{"name": "broad", "actions": [action]}],
            "keys": [{"id": CURRENT_KEY, "secret": CURRENT_SECRET}],
        }
    ]
    lab.load(scenario(iam={"users": users}))
    smtp = await logged_in(lab)
    try:
        _, reply = await smtp.sendmail("admin@example.com", ["friend@example.org"], message())
    finally:
        smtp.close()
    assert reply.startswith("Ok ")


# --- load / lifecycle ------------------------------------------------------------------------------


async def test_load_swaps_the_world_without_restart(lab: LabSmtpServer) -> None:
    port = lab.port
    password = smtp_password_v4(CURRENT_SECRET, "us-east-1")
    smtp = client_for(lab)
    await smtp.connect()
    await smtp.ehlo()
    try:
        assert (await smtp.auth_plain(CURRENT_KEY, password)).code == 235
    finally:
        smtp.close()

    new_key = {"id": INACTIVE_KEY, "secret": INACTIVE_SECRET}  # the rotation's new key, now Active
    rotated = scenario(
        iam={"users": [{"name": "ses-smtp-user", "policies": [SEND_POLICY], "keys": [new_key]}]}
    )
    lab.load(rotated)
    assert lab.port == port
    smtp = client_for(lab)
    await smtp.connect()
    await smtp.ehlo()
    try:
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as raised:
            await smtp.auth_plain(CURRENT_KEY, password)
        assert (raised.value.code, raised.value.message) == (535, INVALID)
        reply = await smtp.auth_login(INACTIVE_KEY, smtp_password_v4(INACTIVE_SECRET, "us-east-1"))
        assert reply.code == 235
    finally:
        smtp.close()


async def test_server_prints_nothing(lab: LabSmtpServer, capfd: pytest.CaptureFixture[str]) -> None:
    smtp = await logged_in(lab)  # a successful AUTH makes aiosmtpd log a deprecation warning
    try:
        await smtp.sendmail("admin@example.com", ["friend@example.org"], message())
        bogus = await smtp.execute_command(b"BOGUS")  # aiosmtpd logs a warning for unknown commands
        assert bogus.code == 500
    finally:
        smtp.close()
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


async def test_passwords_never_reach_the_log(lab: LabSmtpServer, caplog: pytest.LogCaptureFixture) -> None:
    good = smtp_password_v4(CURRENT_SECRET, "us-east-1")
    bad = smtp_password_v4(OLD_SECRET, "us-east-1")
    caplog.set_level(logging.DEBUG)
    for password in (bad, good):
        for mechanism in ("plain", "login"):
            smtp = client_for(lab)
            await smtp.connect()
            await smtp.ehlo()
            auth = smtp.auth_plain if mechanism == "plain" else smtp.auth_login
            with contextlib.suppress(aiosmtplib.SMTPAuthenticationError):
                await auth(CURRENT_KEY, password)
            smtp.close()
    assert "Authentication successful" in caplog.text  # the server's side of the talk was logged
    for password in (good, bad):
        plain_blob = base64.b64encode(f"\0{CURRENT_KEY}\0{password}".encode()).decode()
        for secret in (password, base64.b64encode(password.encode()).decode(), plain_blob):
            assert secret not in caplog.text


def test_stop_is_idempotent_frees_the_port_and_leaves_no_thread(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    srv = LabSmtpServer(LabTls(tmp_path))
    srv.start()
    port = srv.port
    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
        assert conn.recv(100).startswith(b"220 email-smtp.amazonaws.com")
        srv.stop()  # with a client still connected
    srv.stop()
    assert set(threading.enumerate()) <= before
    with socket.create_server(("127.0.0.1", port)):
        pass
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


# --- TLS from the first byte (SES on 465 and 2465), and what the server received ---------------------


def implicit_client(lab: LabSmtpServer) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=lab.host, port=lab.implicit_port, use_tls=True, tls_context=trusting(lab.tls), timeout=5
    )


async def test_implicit_tls_listener_greets_over_tls_and_offers_auth_not_starttls(lab: LabSmtpServer) -> None:
    assert lab.implicit_address == f"127.0.0.1:{lab.implicit_port}" and lab.implicit_port != lab.port
    smtp = implicit_client(lab)
    reply = await smtp.connect()
    try:
        assert reply.code == 220 and "SimpleEmailService" in reply.message
        assert smtp.get_transport_info("ssl_object") is not None  # before any SMTP command
        await smtp.ehlo()
        assert not smtp.supports_extension("starttls")
        assert smtp.supports_extension("auth")
        ok = await smtp.auth_plain(CURRENT_KEY, smtp_password_v4(CURRENT_SECRET, "us-east-1"))
        assert (ok.code, ok.message) == (235, AUTH_OK)
        assert (await smtp.quit()).code == 221
    finally:
        smtp.close()
    assert lab.dialogues[-1] == ["EHLO", "AUTH PLAIN", "QUIT"]


async def test_implicit_tls_listener_refuses_bad_credentials(lab: LabSmtpServer) -> None:
    smtp = implicit_client(lab)
    await smtp.connect()
    try:
        await smtp.ehlo()
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as refused:
            await smtp.auth_plain(OLD_KEY, smtp_password_v4(OLD_SECRET, "us-east-1"))
        assert (refused.value.code, refused.value.message) == (535, INVALID)
    finally:
        smtp.close()


async def test_a_plain_client_on_the_implicit_port_gets_no_greeting(lab: LabSmtpServer) -> None:
    smtp = aiosmtplib.SMTP(hostname=lab.host, port=lab.implicit_port, start_tls=False, timeout=0.5)
    with pytest.raises(
        (aiosmtplib.SMTPConnectTimeoutError, aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError)
    ):
        await smtp.connect()
    smtp.close()


async def test_dialogues_record_verbs_never_credentials(lab: LabSmtpServer) -> None:
    smtp = await logged_in(lab)
    await smtp.quit()
    assert lab.dialogues[-1] == ["EHLO", "STARTTLS", "EHLO", "AUTH PLAIN", "QUIT"]
    assert not any(CURRENT_KEY in c or "=" in c for c in lab.dialogues[-1])
