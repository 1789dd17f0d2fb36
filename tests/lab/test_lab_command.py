"""`maildoctor lab --scenario seed-incident` as a new user runs it: a real process, used only through
the variables it prints, by plain boto3, dnspython and aiosmtplib clients."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiosmtplib
import boto3
import dns.asyncresolver
import pytest
from botocore.exceptions import ClientError

from maildoctor.smtp_password import smtp_password_v4

OLD_KEY, OLD_SECRET = "AKIAEXAMPLEOLDKEY001", "SeOKIxlRdFtofitXDgGlxB3sh+OW9KCHrDYgOzb6"
NEW_KEY, NEW_SECRET = "AKIAEXAMPLENEWKEY002", "6N2DMWYY2PEFKCBiF4Aul0QhaTgPpshCizOEzNs4"
TOKENS = [
    "8adbpzerf0x7in09h4qqd64k4syjdubr",
    "bfluwzshvdp1rfbsiihv3o08x7ou6fkv",
    "wi99i5euesak67c8t82ao2ni97tvmsgr",
]


@pytest.fixture(scope="module")
def lab_process() -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "maildoctor", "lab", "--scenario", "seed-incident"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    env: dict[str, str] = {}
    for line in proc.stdout:
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").strip().partition("=")
            env[name] = value
        if line.startswith("# walk it:"):
            break
    try:
        yield proc, env
    finally:
        if proc.poll() is None:
            proc.kill()


def session(env: dict[str, str]) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )


def test_prints_exactly_the_contract_variables(lab_process) -> None:
    _, env = lab_process
    assert set(env) == {
        "AWS_ENDPOINT_URL", "MAILDOCTOR_DNS_SERVER", "MAILDOCTOR_SMTP_ENDPOINT", "MAILDOCTOR_SMTP_CA_FILE",
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
    }  # fmt: skip
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert Path(env["MAILDOCTOR_SMTP_CA_FILE"]).read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_the_identity_is_verified(lab_process) -> None:
    _, env = lab_process
    sesv2 = session(env).client("sesv2", endpoint_url=env["AWS_ENDPOINT_URL"])
    identity = sesv2.get_email_identity(EmailIdentity="example.com")
    assert identity["VerifiedForSendingStatus"] is True
    assert identity["DkimAttributes"]["Status"] == "SUCCESS"
    assert sorted(identity["DkimAttributes"]["Tokens"]) == sorted(TOKENS)


async def test_three_dkim_cnames_resolve(lab_process) -> None:
    _, env = lab_process
    host, port = env["MAILDOCTOR_DNS_SERVER"].split(":")
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers, resolver.port, resolver.lifetime = [host], int(port), 3
    for token in TOKENS:
        answer = await resolver.resolve(f"{token}._domainkey.example.com", "CNAME")
        assert answer[0].target.to_text() == f"{token}.dkim.amazonses.com."


def test_old_key_is_gone_with_its_delete_event_in_cloudtrail(lab_process) -> None:
    _, env = lab_process
    aws = session(env)
    iam = aws.client("iam", endpoint_url=env["AWS_ENDPOINT_URL"])
    with pytest.raises(ClientError) as caught:
        iam.get_access_key_last_used(AccessKeyId=OLD_KEY)
    assert caught.value.response["Error"]["Code"] == "AccessDenied"  # as AWS: the key is not held here
    keys = iam.list_access_keys(UserName="ses-smtp-user")["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in keys] == [(NEW_KEY, "Active")]
    trail = aws.client("cloudtrail", endpoint_url=env["AWS_ENDPOINT_URL"])
    events = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "DeleteAccessKey"}]
    )
    assert [e["Resources"][0]["ResourceName"] for e in events["Events"]] == [OLD_KEY]
    assert events["Events"][0]["Username"] == "alice"


async def login(env: dict[str, str], user: str, password: str) -> tuple[int, str]:
    host, port = env["MAILDOCTOR_SMTP_ENDPOINT"].split(":")
    context = ssl.create_default_context(cafile=env["MAILDOCTOR_SMTP_CA_FILE"])
    async with aiosmtplib.SMTP(
        hostname=host, port=int(port), start_tls=True, tls_context=context, timeout=5
    ) as smtp:
        try:
            reply = await smtp.login(user, password)
        except aiosmtplib.SMTPAuthenticationError as exc:
            return exc.code, exc.message
        return reply.code, reply.message


async def test_old_credentials_get_535_and_the_current_key_gets_235(lab_process) -> None:
    _, env = lab_process
    assert await login(env, OLD_KEY, smtp_password_v4(OLD_SECRET, "us-east-1")) == (
        535, "Authentication Credentials Invalid",
    )  # fmt: skip
    assert await login(env, NEW_KEY, smtp_password_v4(NEW_SECRET, "us-east-1")) == (
        235,
        "Authentication successful",
    )


def test_ctrl_c_stops_it_cleanly(lab_process) -> None:
    proc, env = lab_process
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0
    assert proc.stderr is not None and "maildoctor lab: stopped" in proc.stderr.read()
    assert not os.path.exists(env["MAILDOCTOR_SMTP_CA_FILE"])
