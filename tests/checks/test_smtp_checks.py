"""The SMTP checks: smtp.password_form offline on the ses-facts.md vectors, smtp.login against the lab's
SES-like SMTP server over real STARTTLS on loopback (no mocks), bounce.triage on the seed incident.
Expected values are written out by hand."""

from __future__ import annotations

import base64
import json
import os
import socket
from datetime import UTC, datetime
from typing import Any

import pytest

from maildoctor.checks.bounce import TriageFacts
from maildoctor.checks.registry import CheckResult, default_registry
from maildoctor.checks.smtp import LoginFacts, PasswordFormArgs, PasswordFormFacts, interpret_login
from maildoctor.clients import Clients
from maildoctor.clients.settings import Settings
from maildoctor.clients.smtp import LoginResult
from maildoctor.lab.scenario import load_scenario
from maildoctor.smtp_password import smtp_password_v2, smtp_password_v4

# ses-facts.md test vectors
SOME = "some+secret+key"
ANOTHER = "another+secret+key"
SOME_EU_CENTRAL_1 = "BMXhUYlu5Z3gSXVQORxlVa7XPaz91aGWdfHxvkOZdWZ2"
SOME_US_WEST_1 = "BH+jbMzper5WwlwUar9E1ySBqHa9whi0GPo+sJ0mVYJj"
EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
EXAMPLE_US_EAST_2 = "BMPPgbAHoFVbze1Ud0oA5uNdXRwUXUZ+qOwphGJbl/cS"
EXAMPLE_V2 = "An60U4ZD3sd4fg+FvXUjayOipTt8LO4rUUmhpdX6ctDy"
SOME_V2 = "AnkqhOiWEcszZZzTMCQbOY1sPGoLFgMH9zhp4eNgSjo4"
KEY_ID = "AKIAIOSFODNN7EXAMPLE"

# the lab scenarios' keys (maildoctor/lab/scenarios/*.yaml)
CURRENT_KEY = "AKIAEXAMPLENEWKEY002"
OLD_KEY = "AKIAEXAMPLEOLDKEY001"
CURRENT_SECRET = "6N2DMWYY2PEFKCBiF4Aul0QhaTgPpshCizOEzNs4"
OLD_SECRET = "SeOKIxlRdFtofitXDgGlxB3sh+OW9KCHrDYgOzb6"
INVALID = "535 Authentication Credentials Invalid"


def everything_shown(result: CheckResult) -> str:
    return "\n".join(
        [
            result.summary,
            json.dumps(result.facts.model_dump(mode="json")),
            *(f"{e.title}\n{e.text}" for e in result.evidence),
        ]
    )


def assert_no_secret(result: CheckResult, *secrets: str) -> None:
    """No part of a secret longer than 4 characters, nor of its base64 decoding, is shown anywhere."""
    shown = everything_shown(result)
    for secret in secrets:
        if not secret:
            continue
        for i in range(len(secret) - 4):
            assert secret[i : i + 5] not in shown, f"a part of a secret ({i}) is shown"
        try:
            raw = base64.b64decode(secret, validate=True)
        except ValueError:
            continue
        decoded_hex = raw.hex()
        for i in range(0, len(decoded_hex) - 7, 2):  # 4 bytes
            assert decoded_hex[i : i + 8] not in shown.lower()
        as_text = raw.decode("latin-1")
        for i in range(len(as_text) - 4):
            assert as_text[i : i + 5] not in shown


async def password_form(**args: str) -> CheckResult:
    """smtp.password_form as the engine runs it (offline: no lab needed)."""
    result = await default_registry()["smtp.password_form"].run(Clients(Settings()), args)
    secret = args.get("secret_key", "")
    # the terraform vectors' secrets are English words, which the summaries rightly use too
    assert_no_secret(result, args.get("smtp_password", ""), "" if secret in (SOME, ANOTHER) else secret)
    return result


@pytest.mark.parametrize(
    ("password", "secret", "region", "outcome"),
    [
        (smtp_password_v4(CURRENT_SECRET, "us-east-1"), CURRENT_SECRET, "us-east-1", "pass"),
        (smtp_password_v4(CURRENT_SECRET, "us-east-1"), "", "us-east-1", "pass"),
        (smtp_password_v4(CURRENT_SECRET, "ap-south-2"), CURRENT_SECRET, "us-east-1", "wrong-region"),
        (smtp_password_v4(OLD_SECRET, "us-east-1"), CURRENT_SECRET, "us-east-1", "mismatch"),
        (smtp_password_v2(CURRENT_SECRET), CURRENT_SECRET, "us-east-1", "v2"),
        (CURRENT_SECRET, CURRENT_SECRET, "us-east-1", "raw-secret"),
        (OLD_SECRET, CURRENT_SECRET, "us-east-1", "raw-secret"),
        (smtp_password_v4(CURRENT_SECRET, "us-east-1")[:-1], CURRENT_SECRET, "us-east-1", "unknown-form"),
        (OLD_SECRET[:30] + " " + OLD_SECRET[30:], CURRENT_SECRET, "us-east-1", "unknown-form"),
    ],
)
async def test_password_form_never_shows_secrets(
    password: str, secret: str, region: str, outcome: str
) -> None:
    result = await password_form(
        smtp_username=CURRENT_KEY, smtp_password=password, region=region, secret_key=secret
    )
    assert result.outcome == outcome  # password_form() asserted that nothing of either secret is shown


# ------------------------------------------------------------------------------------ smtp.password_form


async def test_password_form_pass_with_secret() -> None:
    result = await password_form(
        smtp_username=KEY_ID, smtp_password=SOME_EU_CENTRAL_1, region="eu-central-1", secret_key=SOME
    )
    assert (result.outcome, result.status) == ("pass", "pass")
    assert result.facts.model_dump(mode="json") == {
        "form": "sigv4",
        "length": 44,
        "version_byte": "0x04",
        "region": "eu-central-1",
        "password_region": "eu-central-1",
        "secret_given": True,
        "regions_checked": 1,
    }
    assert result.summary == "the password is the SigV4 SMTP password of this secret for eu-central-1"


async def test_password_form_pass_aws_sdk_vector() -> None:
    result = await password_form(
        smtp_username=KEY_ID, smtp_password=EXAMPLE_US_EAST_2, region="us-east-2", secret_key=EXAMPLE_SECRET
    )
    assert (result.outcome, result.status) == ("pass", "pass")


async def test_password_form_without_secret_is_info() -> None:
    result = await password_form(smtp_username=KEY_ID, smtp_password=SOME_US_WEST_1, region="us-west-1")
    assert (result.outcome, result.status) == ("pass", "info")
    assert result.facts.secret_given is False
    assert result.facts.version_byte == "0x04"
    assert "give the key's secret (input smtp_secret_key)" in result.summary


async def test_password_form_wrong_region() -> None:
    result = await password_form(
        smtp_username=KEY_ID, smtp_password=SOME_EU_CENTRAL_1, region="us-west-1", secret_key=SOME
    )
    assert (result.outcome, result.status) == ("wrong-region", "fail")
    assert result.facts.password_region == "eu-central-1"
    assert result.facts.regions_checked > 20
    assert "derived for eu-central-1" in result.summary and "through us-west-1" in result.summary


async def test_password_form_mismatch() -> None:
    result = await password_form(
        smtp_username=KEY_ID, smtp_password=SOME_EU_CENTRAL_1, region="eu-central-1", secret_key=ANOTHER
    )
    assert (result.outcome, result.status) == ("mismatch", "fail")
    assert result.facts.password_region == ""
    assert "derived from another key's secret, or mistyped" in result.summary


@pytest.mark.parametrize(("password", "secret"), [(EXAMPLE_V2, EXAMPLE_SECRET), (SOME_V2, "")])
async def test_password_form_v2(password: str, secret: str) -> None:
    result = await password_form(
        smtp_username=KEY_ID, smtp_password=password, region="us-east-1", secret_key=secret
    )
    assert (result.outcome, result.status) == ("v2", "fail")
    assert (result.facts.form, result.facts.version_byte) == ("sigv2", "0x02")
    assert "Signature Version 2" in result.summary and "2021" in result.summary
    assert "2019-01-10" in result.summary
    assert ("derived from this secret" in result.summary) is bool(secret)


async def test_password_form_raw_secret() -> None:
    result = await password_form(
        smtp_username=KEY_ID, smtp_password=EXAMPLE_SECRET, region="us-east-2", secret_key=EXAMPLE_SECRET
    )
    assert (result.outcome, result.status) == ("raw-secret", "fail")
    assert (result.facts.form, result.facts.length) == ("secret-key", 40)
    assert "it is this key's secret" in result.summary


async def test_password_form_temporary_key() -> None:
    result = await password_form(
        smtp_username="ASIAIOSFODNN7EXAMPLE", smtp_password=SOME_US_WEST_1, region="us-west-1"
    )
    assert (result.outcome, result.status) == ("temporary-key", "fail")
    assert "ASIAIOSFODNN7EXAMPLE" in result.summary


@pytest.mark.parametrize(
    ("password", "hint"), [("hunter2hunter2", ""), (SOME_US_WEST_1[:-1], "one character off")]
)
async def test_password_form_unknown(password: str, hint: str) -> None:
    result = await password_form(smtp_username=KEY_ID, smtp_password=password, region="us-west-1")
    assert (result.outcome, result.status) == ("unknown-form", "fail")
    assert result.facts.form == "unknown"
    assert f"{len(password)} characters long" in result.summary
    assert "44 base64 characters starting with B" in result.summary
    assert hint in result.summary


@pytest.mark.parametrize("password", ["", None])
async def test_password_form_skipped(password: str | None) -> None:
    args = {"smtp_username": KEY_ID, "smtp_password": password, "region": "us-east-1"}
    result = await default_registry()["smtp.password_form"].run(Clients(Settings()), args)
    assert (result.outcome, result.status) == ("skipped", "skipped")
    assert result.summary == "not checked: no smtp password given"
    assert result.facts == PasswordFormFacts()
    assert (result.facts.form, result.evidence) == (None, [])


def test_password_form_args_never_show_secrets() -> None:
    password = smtp_password_v4(CURRENT_SECRET, "us-east-1")
    args = PasswordFormArgs(smtp_username=KEY_ID, smtp_password=password, secret_key=CURRENT_SECRET)
    assert KEY_ID in repr(args)
    assert password not in repr(args) and CURRENT_SECRET not in repr(args)


def test_declared_outcomes_and_args() -> None:
    spec = default_registry()["smtp.password_form"]
    assert spec.outcomes == {
        "pass", "v2", "temporary-key", "raw-secret", "wrong-region", "mismatch", "unknown-form", "skipped"
    }  # fmt: skip
    assert spec.arg_names == {"smtp_username", "smtp_password", "region", "secret_key"}
    assert (spec.required_args, spec.applies_when) == (frozenset(), ("smtp_password",))
    login = default_registry()["smtp.login"]
    assert login.outcomes == {
        "pass", "rejected", "rejected-expected", "rejected-unexplained", "v2", "throttled", "busy", "unreachable",
        "no-endpoint", "skipped",
    }  # fmt: skip
    assert login.arg_names == {"smtp_username", "smtp_password", "region", "key_state"}
    assert (login.required_args, login.applies_when) == (frozenset(), ("smtp_username", "smtp_password"))
    triage = default_registry()["bounce.triage"]
    assert triage.outcomes == {
        "credentials", "sending", "recipient", "dmarc", "policy", "delivered", "unknown", "skipped",
    }  # fmt: skip
    assert triage.arg_names == {"bounce"}
    assert (triage.required_args, triage.applies_when) == (frozenset(), ("bounce",))


# ------------------------------------------------------------------------------------------- smtp.login


async def login(load: Any, run_check: Any, scenario: str, **extra: str) -> tuple[CheckResult, dict[str, str]]:
    inputs = load(scenario).walk_inputs()
    args = {
        "smtp_username": inputs["smtp_username"],
        "smtp_password": inputs["smtp_password"],
        "region": inputs["region"],
        **extra,
    }
    result = await run_check("smtp.login", **args)
    assert_no_secret(result, inputs["smtp_password"], CURRENT_SECRET, OLD_SECRET)
    return result, inputs


async def test_login_all_clear(load: Any, run_check: Any) -> None:
    result, _ = await login(load, run_check, "all-clear")
    assert (result.outcome, result.status) == ("pass", "pass")
    assert result.facts.code == 235
    assert result.facts.reply == "235 Authentication successful"
    assert result.facts.endpoint == os.environ["MAILDOCTOR_SMTP_ENDPOINT"]
    assert result.facts.failure == ""
    assert result.summary.startswith("235 Authentication successful — AKIAEXAMPLENEWKEY002 logged in")
    dialogue = result.evidence[0].text
    lines = dialogue.splitlines()
    assert [line.split(" ", 2)[:2] for line in lines if line.startswith("C:")] == [
        ["C:", "EHLO"], ["C:", "STARTTLS"], ["C:", "EHLO"], ["C:", "AUTH"], ["C:", "QUIT"]
    ]  # fmt: skip
    assert "C: AUTH PLAIN **** (credentials not shown)" in lines
    assert lines[-2:] == ["C: QUIT", "S: 221 Bye"]  # QUIT really sent, and answered
    assert (result.facts.stage, result.facts.tls_mode) == ("auth", "starttls")
    assert "S: 235 Authentication successful" in dialogue


async def test_login_seed_incident_key_deleted(load: Any, run_check: Any) -> None:
    result, _ = await login(load, run_check, "seed-incident", key_state="not-found")
    assert (result.outcome, result.status) == ("rejected-expected", "fail")
    assert result.facts.reply == INVALID
    assert result.facts.code == 535
    assert result.summary == (
        "535 Authentication Credentials Invalid — as expected: the key AKIAEXAMPLEOLDKEY001 no longer "
        "exists (deleted, e.g. by a rotation)"
    )
    assert f"S: {INVALID}" in result.evidence[0].text


async def test_login_seed_incident_key_active(load: Any, run_check: Any) -> None:
    result, _ = await login(load, run_check, "seed-incident", key_state="active")
    assert (result.outcome, result.status) == ("rejected", "fail")
    assert result.summary.startswith(f"{INVALID} — the key is active, so the password is wrong for it")


async def test_login_key_inactive(load: Any, run_check: Any) -> None:
    result, _ = await login(load, run_check, "smtp-key-inactive", key_state="inactive")
    assert (result.outcome, result.facts.reply) == ("rejected-expected", INVALID)
    assert result.summary == f"{INVALID} — as expected: the key AKIAEXAMPLENEWKEY002 is inactive"


async def test_login_v2(load: Any, run_check: Any) -> None:
    result, _ = await login(load, run_check, "smtp-password-v2", key_state="active")
    assert (result.outcome, result.status) == ("v2", "fail")
    assert result.facts.reply == (
        "535 Signature Version 2 is deprecated for use with SES from March 26, 2021. "
        "Please migrate to Signature Version 4."
    )
    assert result.summary.startswith("535 Signature Version 2 is deprecated")


async def test_login_password_for_another_region(load: Any, run_check: Any) -> None:
    # without the key's state (its check did not run) a refusal says nothing about why
    result, _ = await login(load, run_check, "smtp-password-wrong")
    assert (result.outcome, result.status) == ("rejected-unexplained", "fail")
    assert result.facts.reply == INVALID
    assert result.facts.key_state == ""
    # with the key known to be active, it is the password
    inputs = load("smtp-password-wrong").walk_inputs()
    active = await run_check("smtp.login", smtp_username=inputs["smtp_username"],
                             smtp_password=inputs["smtp_password"], region="us-east-1", key_state="active")  # fmt: skip
    assert (active.outcome, active.status) == ("rejected", "fail")
    assert "the key is active, so the password is wrong for it" in active.summary


async def test_login_unreachable(load: Any, run_check: Any) -> None:
    result, _ = await login(load, run_check, "smtp-unreachable")
    endpoint = os.environ["MAILDOCTOR_SMTP_ENDPOINT"]
    port = endpoint.rpartition(":")[2]
    assert (result.outcome, result.status) == ("unreachable", "fail")
    assert (result.facts.failure, result.facts.code, result.facts.reply) == ("refused", None, "")
    assert result.summary == (f"connection refused at {endpoint} — a firewall blocks outbound {port}?")


async def test_login_tls_certificate_not_trusted(
    load: Any, run_check: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = load("all-clear").walk_inputs()
    monkeypatch.delenv("MAILDOCTOR_SMTP_CA_FILE")  # the lab's CA is not in the system trust store
    result = await run_check(
        "smtp.login",
        smtp_username=inputs["smtp_username"],
        smtp_password=inputs["smtp_password"],
        region="us-east-1",
    )
    assert (result.outcome, result.status) == ("unreachable", "fail")
    assert result.facts.failure == "tls"
    assert "TLS failed: certificate verify failed" in result.summary
    assert "[SSL:" not in result.summary
    assert "C: STARTTLS" in result.evidence[0].text
    assert_no_secret(result, inputs["smtp_password"], CURRENT_SECRET)


@pytest.mark.parametrize(
    ("args", "missing"),
    [
        ({"smtp_username": CURRENT_KEY}, "smtp password"),
        ({"smtp_password": "x" * 44}, "smtp username"),
        ({"smtp_username": CURRENT_KEY, "smtp_password": ""}, "smtp password"),
        ({}, "smtp username"),
    ],
)
async def test_login_skipped(load: Any, run_check: Any, args: dict[str, str], missing: str) -> None:
    load("all-clear")
    result = await run_check("smtp.login", region="us-east-1", **args)
    assert (result.outcome, result.status) == ("skipped", "skipped")
    assert result.summary == f"not checked: no {missing} given"
    assert result.facts == LoginFacts()
    assert result.evidence == []


# ------------------------------------------------------------------------------------------ bounce.triage


async def triage(text: str | None) -> CheckResult:
    return await default_registry()["bounce.triage"].run(Clients(Settings()), {"bounce": text})


async def test_triage_seed_incident() -> None:
    at = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    result = await triage(load_scenario("seed-incident").walk_inputs(at)["bounce"])
    assert (result.outcome, result.status) == ("credentials", "info")
    assert result.facts.pathway == "gmail-send-as"
    assert result.facts.layer == "SMTP credentials (the IAM key behind them)"
    assert result.facts.remote_reply == INVALID
    assert result.facts.smtp_code == 535
    assert result.facts.source == "gmail-send-as"
    assert result.facts.bounce_time == "2026-11-26T12:00:00+00:00"  # the Date header: two days before
    assert result.summary == (
        "Gmail 'Send mail as' bounce: the relay answered \"535 Authentication Credentials Invalid\" — "
        "check SMTP credentials (the IAM key behind them) first"
    )
    assert result.evidence[0].text == INVALID


async def test_triage_bare_reply_and_empty() -> None:
    result = await triage(
        "554 Message rejected: Email address is not verified. The following identities failed the check "
        "in region US-EAST-1: a@b.c"
    )
    assert (result.outcome, result.facts.pathway, result.facts.source) == (
        "sending",
        "smtp",
        "smtp-reply",
    )
    for nothing in ("", None, "  \n"):  # white space only is no bounce either
        empty = await triage(nothing)
        assert (empty.outcome, empty.status, empty.summary) == (
            "skipped",
            "skipped",
            "not checked: no bounce given",
        )
        assert empty.facts == TriageFacts()
    garbage = await triage("hello")
    assert (garbage.outcome, garbage.status) == ("unknown", "info")


def test_the_secret_check_itself_catches_a_leak() -> None:
    password = smtp_password_v4(CURRENT_SECRET, "us-east-1")
    raw_hex = base64.b64decode(password).hex()
    for leak in (password[10:15], CURRENT_SECRET[-5:], raw_hex[8:16]):
        with pytest.raises(AssertionError):
            assert_no_secret(CheckResult("x", "info", f"oops {leak}"), password, CURRENT_SECRET)


async def test_login_timeout(load: Any, run_check: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that accepts the connection and never says a word (a black-holing middlebox)."""
    inputs = load("all-clear").walk_inputs()
    with socket.create_server(("127.0.0.1", 0)) as silent:
        endpoint = f"127.0.0.1:{silent.getsockname()[1]}"
        monkeypatch.setenv("MAILDOCTOR_SMTP_ENDPOINT", endpoint)
        result = await run_check(
            "smtp.login",
            timeout=0.3,
            smtp_username=inputs["smtp_username"],
            smtp_password=inputs["smtp_password"],
            region="us-east-1",
        )
    assert (result.outcome, result.status, result.facts.failure) == ("unreachable", "fail", "timeout")
    assert (
        result.summary
        == f"no answer within 0.3s from {endpoint} — a firewall drops outbound {endpoint.rpartition(':')[2]}?"
    )


@pytest.mark.parametrize(
    ("code", "message", "key_state", "outcome", "status", "summary"),
    [
        (454, "Throttling failure: Maximum sending rate exceeded.", "", "throttled", "warn",
         "454 Throttling failure: Maximum sending rate exceeded. — a temporary failure: try again later"),
        (454, "Temporary authentication failure", "active", "throttled", "warn",
         "454 Temporary authentication failure — a temporary failure: try again later"),
        (530, "Must issue a STARTTLS command first", "", "rejected", "fail",
         "530 Must issue a STARTTLS command first — the server wants STARTTLS or authentication first"),
        (535, "Account not subscribed to SES", "active", "rejected", "fail",
         "535 Account not subscribed to SES — the key's account is not signed up for SES"),
        (535, "Authentication Credentials Invalid", "temporary-key", "rejected-expected", "fail",
         "535 Authentication Credentials Invalid — as expected: the key ASIAEXAMPLETEMPKEY01 is a temporary "
         "(STS, ASIA…) key, which SES SMTP never accepts"),
        (535, "Authentication Credentials Invalid", "not-a-key", "rejected-expected", "fail",
         "535 Authentication Credentials Invalid — as expected: the key ASIAEXAMPLETEMPKEY01 is not an "
         "access key id (SES SMTP user names are AKIA… key ids)"),
    ],
)  # fmt: skip
def test_login_replies_the_lab_does_not_give(
    code: int, message: str, key_state: str, outcome: str, status: str, summary: str
) -> None:
    login = LoginResult(host="email-smtp.us-east-1.amazonaws.com", port=587, code=code, message=message)
    got = interpret_login(login, "ASIAEXAMPLETEMPKEY01", "us-east-1", key_state, 10.0)
    assert (got.outcome, got.status, got.summary) == (outcome, status, summary)
    assert got.interpretation.endswith(".")


# --- the SMTP client, complete: every SES port's TLS mode, early replies, QUIT on the wire (issue 10) ------


def client_lines(result: CheckResult) -> list[str]:
    return [line for line in result.evidence[0].text.splitlines() if line.startswith("C:")]


async def test_login_implicit_tls_235(load: Any, run_check: Any, lab: Any) -> None:
    result, _ = await login(load, run_check, "smtp-implicit-tls")
    assert os.environ["MAILDOCTOR_SMTP_TLS"] == "implicit"
    assert os.environ["MAILDOCTOR_SMTP_ENDPOINT"] == lab.smtp.implicit_address
    assert (result.outcome, result.facts.code, result.facts.tls_mode) == ("pass", 235, "implicit")
    dialogue = result.evidence[0].text.splitlines()
    # TLS before the first byte of SMTP: the greeting comes over TLS, and no STARTTLS is offered or sent
    assert dialogue[1].startswith("… TLS established: TLS") and dialogue[2].startswith("S: 220 ")
    assert [line.split()[1] for line in client_lines(result)] == ["EHLO", "AUTH", "QUIT"]
    assert not any("STARTTLS" in line for line in dialogue)
    assert lab.smtp.dialogues[-1] == ["EHLO", "AUTH PLAIN", "QUIT"]  # what the server received


async def test_login_implicit_tls_535(load: Any, run_check: Any, lab: Any) -> None:
    load("smtp-implicit-tls")
    wrong = smtp_password_v4(CURRENT_SECRET, "eu-west-1")
    result = await run_check("smtp.login", smtp_username=CURRENT_KEY, smtp_password=wrong, region="us-east-1",
                             key_state="active")  # fmt: skip
    assert (result.outcome, result.facts.reply, result.facts.stage) == ("rejected", INVALID, "auth")
    assert wrong not in json.dumps(result.facts.model_dump()) + result.evidence[0].text
    assert lab.smtp.dialogues[-1] == ["EHLO", "AUTH PLAIN", "QUIT"]


async def test_quit_is_sent_after_a_refused_login(load: Any, run_check: Any, lab: Any) -> None:
    result, _ = await login(load, run_check, "seed-incident")
    assert result.facts.code == 535
    assert lab.smtp.dialogues[-1] == ["EHLO", "STARTTLS", "EHLO", "AUTH PLAIN", "QUIT"]
    assert result.evidence[0].text.splitlines()[-2:] == ["C: QUIT", "S: 221 Bye"]


async def test_a_421_greeting_is_ses_busy_not_a_firewall(load: Any, run_check: Any, fault: Any) -> None:
    load("all-clear")
    fault("smtp-421")
    inputs = load("all-clear").walk_inputs()
    result = await run_check("smtp.login", smtp_username=CURRENT_KEY, smtp_password=inputs["smtp_password"],
                             region="us-east-1")  # fmt: skip
    assert (result.outcome, result.status) == ("busy", "warn")
    assert (result.facts.code, result.facts.stage, result.facts.failure) == (421, "greeting", "")
    assert result.facts.reply == "421 Too many concurrent SMTP connections"
    assert "not a firewall" in result.summary and "firewall blocks" not in result.summary
    assert "Try again in a few minutes" in result.facts.interpretation
    assert client_lines(result) == []  # SES hung up after its greeting: nothing was sent
    assert "S: 421 Too many concurrent SMTP connections" in result.evidence[0].text


async def test_a_refused_starttls_is_reported_with_the_reply(
    load: Any, run_check: Any, fault: Any, lab: Any
) -> None:
    inputs = load("all-clear").walk_inputs()
    fault("smtp-no-starttls")
    result = await run_check("smtp.login", smtp_username=CURRENT_KEY, smtp_password=inputs["smtp_password"],
                             region="us-east-1")  # fmt: skip
    assert (result.outcome, result.facts.failure, result.facts.stage) == (
        "unreachable",
        "no-starttls",
        "starttls",
    )
    assert result.facts.reply == "454 TLS not available due to temporary reason"
    assert "454 TLS not available due to temporary reason" in result.summary
    assert "--smtp-tls implicit" in result.facts.interpretation
    assert lab.smtp.dialogues[-1] == ["EHLO", "STARTTLS", "QUIT"]  # no AUTH in the clear
    assert [line.split()[1] for line in client_lines(result)] == ["EHLO", "STARTTLS", "QUIT"]


async def test_implicit_tls_against_a_starttls_port(
    load: Any, run_check: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = load("all-clear").walk_inputs()
    monkeypatch.setenv("MAILDOCTOR_SMTP_TLS", "implicit")
    result = await run_check("smtp.login", smtp_username=CURRENT_KEY, smtp_password=inputs["smtp_password"],
                             region="us-east-1")  # fmt: skip
    assert (result.outcome, result.facts.failure, result.facts.tls_mode) == ("unreachable", "tls", "implicit")
    assert "--smtp-tls starttls" in result.facts.interpretation


async def test_a_region_without_an_smtp_endpoint_is_said_without_connecting(
    load: Any, run_check: Any, monkeypatch: pytest.MonkeyPatch, lab: Any
) -> None:
    inputs = load("all-clear").walk_inputs()
    monkeypatch.delenv("MAILDOCTOR_SMTP_ENDPOINT")
    before = len(lab.smtp.dialogues), list(lab.smtp.dialogues)
    result = await run_check("smtp.login", smtp_username=CURRENT_KEY, smtp_password=inputs["smtp_password"],
                             region="af-south-1")  # fmt: skip
    assert (result.outcome, result.status) == ("no-endpoint", "fail")
    assert result.facts.endpoint == "email-smtp.af-south-1.amazonaws.com:587"
    assert result.summary.startswith("SES has no SMTP endpoint in af-south-1")
    assert client_lines(result) == [] and result.facts.duration_ms == 0
    assert (len(lab.smtp.dialogues), list(lab.smtp.dialogues)) == before


@pytest.mark.parametrize(
    ("endpoint", "option", "expected_mode", "expected_endpoint"),
    [
        (None, None, "starttls", ("email-smtp.eu-west-1.amazonaws.com", 587)),
        (None, "implicit", "implicit", ("email-smtp.eu-west-1.amazonaws.com", 465)),
        ("h:465", None, "implicit", ("h", 465)),
        ("h:2465", None, "implicit", ("h", 2465)),
        ("h:2587", None, "starttls", ("h", 2587)),
        ("h:25", None, "starttls", ("h", 25)),
        ("h:465", "starttls", "starttls", ("h", 465)),
    ],
)  # fmt: skip
def test_tls_mode_by_port_and_option(
    endpoint: str | None, option: str | None, expected_mode: str, expected_endpoint: tuple[str, int]
) -> None:
    env = {"MAILDOCTOR_SMTP_ENDPOINT": endpoint} if endpoint else {}
    smtp = Clients(Settings.resolve(smtp_tls=option, env=env)).smtp
    assert (smtp.tls_mode, smtp.endpoint_for("eu-west-1")) == (expected_mode, expected_endpoint)
    from_env = Clients(Settings.resolve(env={**env, "MAILDOCTOR_SMTP_TLS": option or ""})).smtp
    assert from_env.tls_mode == expected_mode


def test_a_bad_tls_mode_is_one_line() -> None:
    from maildoctor.clients.settings import SettingsError

    with pytest.raises(SettingsError, match=r"^SMTP TLS mode: 'ssl' is not starttls or implicit$"):
        Settings.resolve(env={"MAILDOCTOR_SMTP_TLS": "ssl"})


# --- where the region comes from -------------------------------------------------------------------------


def test_the_profile_region_counts_when_the_environment_has_none(tmp_path: Any) -> None:
    config = tmp_path / "config"
    config.write_text("[default]\nregion = eu-west-1\n[profile work]\nregion = ap-southeast-2\n")
    env = {"AWS_CONFIG_FILE": str(config)}
    got = Settings.resolve(env=env)
    assert (got.region, got.region_source, got.region_detail) == (
        "eu-west-1",
        "profile",
        f"profile default in {config}",
    )
    work = Settings.resolve(env={**env, "AWS_PROFILE": "work"})
    assert (work.region, work.region_source) == ("ap-southeast-2", "profile")
    assert Settings.resolve(profile="work", env=env).region == "ap-southeast-2"
    env_wins = Settings.resolve(env={**env, "AWS_DEFAULT_REGION": "us-west-2"})
    assert (env_wins.region, env_wins.region_source, env_wins.region_detail) == (
        "us-west-2",
        "environment",
        "AWS_DEFAULT_REGION",
    )
    assert (
        Settings.resolve(env={**env, "AWS_REGION": "sa-east-1", "AWS_DEFAULT_REGION": "us-west-2"}).region
        == "sa-east-1"
    )
    option = Settings.resolve(region="ca-central-1", env=env)
    assert (option.region, option.region_source) == ("ca-central-1", "option")
    nothing = Settings.resolve(env={"AWS_CONFIG_FILE": str(tmp_path / "missing")})
    assert (nothing.region, nothing.region_source) == (None, None)


def test_a_walk_says_the_region_came_from_the_profile(load: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from maildoctor.cli import main

    scenario = load("region-from-profile")
    assert os.environ["AWS_REGION"] == os.environ["AWS_DEFAULT_REGION"] == ""
    inputs = scenario.walk_inputs()
    assert inputs["region"] == ""  # no region input: only the profile in AWS_CONFIG_FILE says eu-west-1
    monkeypatch.setenv("MAILDOCTOR_INPUT_SMTP_PASSWORD", inputs["smtp_password"])
    args = ["run", "ses-delivery", "--format", "json", "--set", "sender=admin@example.com",
            "--set", "pathway=smtp", "--set", f"smtp_username={CURRENT_KEY}"]  # fmt: skip
    report = json.loads(CliRunner().invoke(main, args).stdout)
    assert report["inputs"]["region"] == "eu-west-1"
    assert report["region_from"]["source"] == "profile"
    assert report["region_from"]["detail"] == f"profile default in {os.environ['AWS_CONFIG_FILE']}"
    assert report["diagnosis"]["code"] == "all-clear"  # in us-east-1 the domain is no identity


# --- the Gmail bounce that is not about the credentials --------------------------------------------------


def test_gmail_no_auth_offer_is_the_endpoint_not_stale_credentials() -> None:
    from pathlib import Path

    from maildoctor.bounce import classify, parse_bounce

    sample = Path(__file__).resolve().parents[3] / "shared/corpora/bounces/eml/lhost-googlegroups-15.eml"
    if not sample.is_file():
        pytest.skip(f"{sample} is not beside this checkout")
    text = sample.read_text(encoding="utf-8", errors="replace")
    bounce = parse_bounce(text)
    triage = classify(bounce, text)
    assert (triage.layer, triage.pathway) == ("unknown", "gmail-send-as")
    assert "not the credentials" in triage.explanation and "stale" not in triage.explanation
    # the same Gmail bounce quoting SES's 535 still points at the credentials
    stale = text.replace(
        "Unspecified Error (SENT_SECOND_EHLO): Smtp server does not advertise AUTH capability",
        "535 Authentication Credentials Invalid",
    )
    assert classify(parse_bounce(stale), stale).layer == "credentials"
