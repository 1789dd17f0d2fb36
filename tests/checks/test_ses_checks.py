"""The SES checks against the lab: real HTTP to the lab's AWS endpoint (moto plus its SES v2 layer) and
real DNS to the lab's DNS server. Expected values are worked out by hand from the scenario files."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from maildoctor.checks import progress
from maildoctor.checks.common import jsonable
from maildoctor.checks.registry import CheckResult, default_registry
from maildoctor.checks.ses import SuppressionFacts, domain_chain
from maildoctor.clients import Clients
from maildoctor.clients.settings import Settings
from maildoctor.lab.scenario import LAB_ACCOUNT_ID, OPT_IN_REGIONS, Scenario, load_scenario

TOKENS = [
    "8adbpzerf0x7in09h4qqd64k4syjdubr",
    "bfluwzshvdp1rfbsiihv3o08x7ou6fkv",
    "wi99i5euesak67c8t82ao2ni97tvmsgr",
]
ZONE_HEAD = """\
$ORIGIN example.com.
$TTL 300
@       IN SOA ns1.example.com. hostmaster.example.com. 2026112801 3600 600 86400 300
@       IN NS  ns1.example.com.
@       IN TXT "v=spf1 include:amazonses.com ~all"
mail    IN MX  10 feedback-smtp.us-east-1.amazonses.com.
mail    IN TXT "v=spf1 include:amazonses.com ~all"
"""
DKIM_CNAMES = "".join(f"{t}._domainkey IN CNAME {t}.dkim.amazonses.com.\n" for t in TOKENS)
SES_REGIONS = sorted(boto3.Session().get_available_regions("sesv2"))  # botocore's sesv2 endpoint data
# the opt-in SES regions the lab's account leaves disabled by default (the worlds here name only
# us-east-1, us-west-2 and eu-west-1, none of them opt-in)
DISABLED = sorted(set(SES_REGIONS) & OPT_IN_REGIONS)
SES_REGION_COUNT = len(SES_REGIONS) - len(DISABLED)  # the regions the sweeps call
NOT_ENABLED = f"{len(DISABLED)} regions not enabled in this account: not checked"  # as a summary says it
NOT_ENABLED_LISTED = f"{NOT_ENABLED} ({', '.join(DISABLED)})"  # as the evidence says it


def shipped(name: str) -> Scenario:
    """A shipped scenario with its `dns.drop`/`dns.add` folded into the zone, so that the world served
    is the one the file describes whether or not Lab.load applies them itself."""
    scenario = load_scenario(name)
    dns = scenario.dns.model_copy(update={"zone": scenario.dns.effective_zone(), "drop": [], "add": ""})
    return scenario.model_copy(update={"dns": dns})


def world(**overrides: Any) -> Scenario:
    """all-clear with some top-level parts replaced (``extends`` only works for files)."""
    data = load_scenario("all-clear").model_dump()
    data.update(name="test", description="built in the test", expect="all-clear", **overrides)
    return Scenario.model_validate(data)


def domain_identity(name: str = "example.com", **extra: Any) -> dict[str, Any]:
    return {"identity": name, "dkim": {"status": "SUCCESS", "tokens": TOKENS}, **extra}


def check_shape(name: str, result: CheckResult, args: dict[str, str]) -> None:
    spec = default_registry()[name]
    assert result.outcome in spec.all_outcomes
    assert "\n" not in result.summary
    assert isinstance(result.facts, spec.facts)
    facts = dumped(result)
    assert json.loads(json.dumps(facts)) == facts  # JSON-safe, nothing lost
    # evidence, unless nothing was asked: skipped, or refused for a missing argument
    assert result.evidence or result.status == "skipped" or spec.missing(args) is not None


def dumped(result: CheckResult) -> dict[str, Any]:
    """The facts as the step (and the report) holds them."""
    return result.facts.model_dump(mode="json")


def evidence_text(result: CheckResult) -> str:
    return "\n".join(f"{e.title}\n{e.text}" for e in result.evidence)


_CLIENTS: dict[Settings, Clients] = {}


@pytest.fixture
def ses(load):
    """``run_check`` (conftest) with one difference: the clients are kept for the module, keyed by the
    settings the environment gives, because building boto3 clients costs ~70 ms per service and region
    and the suppression check talks to every SES region. Same lab, same protocols, same ``spec.run``."""

    async def _run(name: str, **args: str) -> CheckResult:
        # the state dir is per test and unused by these checks: leave it out of the key
        settings = dataclasses.replace(Settings.resolve(), timeout=5.0, state_dir=None)
        clients = _CLIENTS.setdefault(settings, Clients(settings))
        clients.forget()  # each test loads its own scenario: nothing read for an earlier one counts
        result = await default_registry()[name].run(clients, args)
        check_shape(name, result, args)
        return result

    return _run


@pytest.fixture(scope="module")
def dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def dead_aws(monkeypatch: pytest.MonkeyPatch, dead_port: int):
    """Point AWS at a loopback port nobody listens on (call after load()), for the error path."""

    def _point() -> None:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{dead_port}")

    return _point


def test_checks_are_registered() -> None:
    specs = default_registry()
    expected = {
        "ses.identity": (
            {"pass", "not-found", "unverified", "configuration-set-paused"},
            {"sender"},
            {"sender", "region"},
        ),
        "ses.account": (
            {
                "pass",
                "sandbox",
                "sending-paused",
                "paused-by-account",
                "under-review",
                "quota-exhausted",
                "rate-exceeded",
            },
            set(),
            {"region", "recipient", "reply"},
        ),
        "ses.dkim": (
            {"pass", "records-missing", "not-verified", "not-enabled"},
            {"domain"},
            {"domain", "region"},
        ),
        "ses.mail_from": (
            {"pass", "skipped", "not-verified", "mx-missing", "spf-missing"},
            {"domain"},
            {"domain", "region"},
        ),
        "ses.dmarc_alignment": ({"pass", "unaligned", "skipped"}, {"domain"}, {"domain", "region"}),
        "ses.suppression": ({"pass", "suppressed", "skipped"}, set(), {"recipient", "region", "sender"}),
    }
    for name, (outcomes, required, args) in expected.items():
        spec = specs[name]
        assert (spec.outcomes, spec.required_args, spec.arg_names) == (outcomes, required, args), name
        assert spec.description
    assert set(specs["ses.identity"].iam_actions) == {
        "ses:GetEmailIdentity",
        "ses:GetConfigurationSet",
        "sts:GetCallerIdentity",
        "account:ListRegions",
    }
    assert set(specs["ses.account"].iam_actions) == {
        "ses:GetAccount",
        "ses:GetEmailIdentity",
        "cloudwatch:GetMetricStatistics",
    }
    for name in ("ses.dkim", "ses.mail_from", "ses.dmarc_alignment"):
        assert specs[name].iam_actions == ("ses:GetEmailIdentity",)
    assert set(specs["ses.suppression"].iam_actions) == {
        "ses:GetSuppressedDestination",
        "ses:GetAccount",
        "ses:GetEmailIdentity",
        "ses:GetConfigurationSet",
        "account:ListRegions",
    }
    assert specs["ses.suppression"].applies_when == ("recipient",)
    assert {name for name in expected if specs[name].applies_when} == {"ses.suppression"}


def test_domain_chain_and_jsonable() -> None:
    assert domain_chain("admin@a.b.example.co.uk") == [
        "a.b.example.co.uk",
        "b.example.co.uk",
        "example.co.uk",
    ]
    assert domain_chain("example.com") == ["example.com"]
    assert domain_chain("") == []
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert jsonable({"t": when, "n": [1.0, 0.5], "b": b"x"}) == {
        "t": "2026-01-02T03:04:05Z",
        "n": [1, 0.5],
        "b": "x",
    }


# ------------------------------------------------------------------------------------------- identity


async def test_identity_all_clear(load, ses) -> None:
    load("all-clear")
    r = await ses("ses.identity", sender="admin@example.com", region="us-east-1")
    assert (r.outcome, r.status) == ("pass", "pass")
    assert r.summary == "admin@example.com is verified for sending in us-east-1"
    assert dumped(r) == {
        "sender": "admin@example.com",
        "domain": "example.com",
        "region": "us-east-1",
        "identities": [
            {
                "name": "admin@example.com",
                "type": "EMAIL_ADDRESS",
                "verification_status": "SUCCESS",
                "verified_for_sending": True,
            },
            {
                "name": "example.com",
                "type": "DOMAIN",
                "verification_status": "SUCCESS",
                "verified_for_sending": True,
            },
        ],
        "verified_identity": "admin@example.com",
        "identity_arn": f"arn:aws:ses:us-east-1:{LAB_ACCOUNT_ID}:identity/admin@example.com",
        "account_id": LAB_ACCOUNT_ID,
        "found_in_regions": [],
        "found_elsewhere": [],
        "unchecked_regions": [],
        "regions_not_enabled": [],
        "verification_error": None,
        "configuration_set": None,
        "configuration_set_sending_enabled": None,
        "configuration_set_command": None,
    }
    text = evidence_text(r)
    assert "$ aws sesv2 get-email-identity --email-identity example.com --region us-east-1" in text
    assert '"VerifiedForSendingStatus": true' in text
    assert '"LastSuccessTimestamp": "20' in text  # datetimes as ISO strings


async def test_identity_not_found_but_verified_in_another_region(load, ses) -> None:
    load("identity-not-found")
    started = time.monotonic()
    r = await ses("ses.identity", sender="admin@example.com", region="us-east-1")
    elapsed = time.monotonic() - started
    assert (r.outcome, r.status) == ("not-found", "fail")
    assert r.summary == (
        "neither admin@example.com nor example.com is an SES identity in us-east-1; found in us-west-2: "
        f"send from there, or create and verify it in us-east-1; {NOT_ENABLED}"
    )
    assert r.facts.found_in_regions == ["us-west-2"]
    assert dumped(r)["found_elsewhere"] == [
        {"region": "us-west-2", "name": "example.com", "type": "DOMAIN", "verification_status": "SUCCESS",
         "verified_for_sending": True},
    ]  # fmt: skip
    assert r.facts.unchecked_regions == []
    assert (r.facts.identities, r.facts.verified_identity) == ([], None)
    assert r.facts.identity_arn == f"arn:aws:ses:us-east-1:{LAB_ACCOUNT_ID}:identity/example.com"
    assert "NotFoundException: Email identity admin@example.com does not exist." in evidence_text(r)
    assert f"not found in {SES_REGION_COUNT - 2} other region(s)" in evidence_text(r)
    assert elapsed < 5, f"the other-region search took {elapsed:.2f}s"


async def test_identity_not_found_anywhere(load, ses) -> None:
    load(world(identities={"us-east-1": [domain_identity("example.org")]}))
    r = await ses("ses.identity", sender="ops@example.net")
    assert r.outcome == "not-found"
    assert r.summary == (
        "neither ops@example.net nor example.net is an SES identity in us-east-1; not in any other SES "
        f"region either; {NOT_ENABLED}"
    )
    assert r.facts.found_in_regions == []


async def test_identity_unverified(load, ses) -> None:
    load("identity-unverified")
    r = await ses("ses.identity", sender="admin@example.com", region="us-east-1")
    assert (r.outcome, r.status) == ("unverified", "fail")
    assert dumped(r)["identities"] == [
        {
            "name": "example.com",
            "type": "DOMAIN",
            "verification_status": "FAILED",
            "verified_for_sending": False,
        }
    ]
    assert r.facts.verified_identity is None
    assert r.facts.identity_arn == f"arn:aws:ses:us-east-1:{LAB_ACCOUNT_ID}:identity/example.com"
    assert r.summary == (
        "example.com (FAILED, DKIM FAILED: SES verifies a domain through its DKIM records) exists in "
        "us-east-1 but is not verified for sending"
    )


async def test_identity_pending_address_only(load, ses) -> None:
    load(world(identities={"us-east-1": [{"identity": "admin@example.com", "verification": "PENDING"}]}))
    r = await ses("ses.identity", sender="admin@example.com")
    assert r.outcome == "unverified"
    assert "the link in SES's verification mail has not been followed" in r.summary
    assert r.facts.identities[0].verification_status == "PENDING"


async def test_identity_parent_domain_covers_a_subdomain_address(load, ses) -> None:
    load(world(identities={"us-east-1": [domain_identity("example.com")]}))
    r = await ses("ses.identity", sender="alerts@news.example.com")
    assert (r.outcome, r.facts.verified_identity) == ("pass", "example.com")
    assert r.facts.domain == "news.example.com"
    assert r.summary == (
        "example.com is verified for sending in us-east-1 (the domain identity covers alerts@news.example.com)"
    )
    assert [i.name for i in r.facts.identities] == ["example.com"]


async def test_identity_region_defaults_to_the_aws_region(load, ses) -> None:
    load(world(regions=["eu-west-1"], identities={"eu-west-1": [domain_identity()]}))
    r = await ses("ses.identity", sender="admin@example.com")
    assert (r.outcome, r.facts.region) == ("pass", "eu-west-1")
    assert r.facts.identity_arn == f"arn:aws:ses:eu-west-1:{LAB_ACCOUNT_ID}:identity/example.com"


async def test_identity_aws_unreachable_is_an_error(load, ses, dead_aws) -> None:
    load("all-clear")
    dead_aws()
    r = await ses("ses.identity", sender="admin@example.com", region="us-east-1")
    assert (r.outcome, r.status) == ("error", "error")
    assert r.summary.startswith(
        "could not check: ses:GetEmailIdentity in us-east-1 failed: EndpointConnectionError: "
    )


# -------------------------------------------------------------------------------------------- account


async def test_account_all_clear(load, ses) -> None:
    load("all-clear")
    r = await ses("ses.account", region="us-east-1", recipient="guest@example.net")
    assert (r.outcome, r.status) == ("pass", "pass")
    assert dumped(r) == {
        "region": "us-east-1",
        "recipient": "guest@example.net",
        "production_access": True,
        "sending_enabled": True,
        "enforcement_status": "HEALTHY",
        "review_status": None,
        "max_24h_send": 50000,
        "sent_last_24h": 212,
        "quota_used_pct": 0.4,
        "max_send_rate": 14,
        "bounce_rate": 0.004,
        "complaint_rate": 0.0002,
        "bounce_review_level": 0.05,
        "complaint_review_level": 0.001,
        "recipient_verified": False,
        "metric_errors": [],
        "problems": [],
        "paused_by": None,
        "resume_command": None,
        "rate_reply": None,
    }
    assert r.summary == (
        "the account in us-east-1 has production access and may send: 212 of 50000 sent in 24 h (0.4%), "
        "bounce 0.4%, complaint 0.02%"
    )
    text = evidence_text(r)
    assert "$ aws sesv2 get-account --region us-east-1" in text
    assert "--metric-name Reputation.BounceRate --statistics Maximum --period 3600" in text


async def test_account_sandbox_with_an_unverified_recipient(load, ses) -> None:
    load("account-sandbox")
    r = await ses("ses.account", region="us-east-1", recipient="guest@example.net")
    assert (r.outcome, r.status) == ("sandbox", "fail")
    assert (r.facts.production_access, r.facts.recipient_verified) == (False, False)
    assert (r.facts.max_24h_send, r.facts.sent_last_24h, r.facts.quota_used_pct) == (200, 12, 6.0)
    assert r.facts.max_send_rate == 1
    assert r.facts.problems == [
        "the account is in the SES sandbox and guest@example.net is not a verified identity"
    ]
    assert r.summary == (
        "the account is in the SES sandbox in us-east-1 and guest@example.net is not a verified identity "
        "there: the sandbox delivers only to verified addresses and domains"
    )


async def test_account_sandbox_without_recipient_warns(load, ses) -> None:
    load("account-sandbox")
    r = await ses("ses.account", region="us-east-1")
    assert (r.outcome, r.status) == ("pass", "warn")
    assert "delivers only to verified addresses and domains (no recipient given to check)" in r.summary
    assert (r.facts.recipient, r.facts.recipient_verified) == (None, None)


async def test_account_sandbox_with_a_verified_recipient_passes(load, ses) -> None:
    load("account-sandbox")
    r = await ses("ses.account", recipient="admin@example.com")
    assert (r.outcome, r.status, r.facts.recipient_verified) == ("pass", "pass", True)


async def test_account_sending_paused(load, ses) -> None:
    load("account-sending-paused")
    r = await ses("ses.account", region="us-east-1", recipient="guest@example.net")
    assert (r.outcome, r.status) == ("sending-paused", "fail")
    assert (r.facts.sending_enabled, r.facts.enforcement_status, r.facts.bounce_rate) == (
        False,
        "SHUTDOWN",
        0.12,
    )
    assert r.facts.problems == [
        "sending is disabled (SendingEnabled false)",
        "the account is shut down (EnforcementStatus SHUTDOWN)",
        "the bounce rate 12% is at or above the 10% pause level",
    ]
    assert (r.facts.paused_by, r.facts.resume_command) == ("aws", None)  # AWS's pause: no command undoes it


async def test_account_paused_by_the_account_itself(load, ses) -> None:
    load("account-paused-by-owner")
    r = await ses("ses.account", region="us-east-1", recipient="guest@example.net")
    assert (r.outcome, r.status) == ("paused-by-account", "fail")
    assert (r.facts.sending_enabled, r.facts.enforcement_status, r.facts.paused_by) == (
        False,
        "HEALTHY",
        "account",
    )
    assert (
        r.facts.resume_command
        == "aws sesv2 put-account-sending-attributes --sending-enabled --region us-east-1"
    )
    assert r.summary == (
        "sending is paused for the account in us-east-1 by the account itself: SendingEnabled is false while "
        "the enforcement status is HEALTHY (AWS has not paused it)"
    )


async def test_account_paused_while_on_probation_is_aws(load, ses) -> None:
    load(world(account={"us-east-1": {"sending_enabled": False, "enforcement": "PROBATION"}}))
    r = await ses("ses.account", region="us-east-1")
    assert (r.outcome, r.facts.paused_by) == ("sending-paused", "aws")


async def test_account_under_review(load, ses) -> None:
    load("account-under-review")
    r = await ses("ses.account", region="us-east-1")
    assert (r.outcome, r.status) == ("under-review", "warn")
    assert (r.facts.enforcement_status, r.facts.review_status, r.facts.bounce_rate) == (
        "PROBATION",
        "PENDING",
        0.071,
    )
    assert r.facts.problems[:2] == [
        "the account is on probation (EnforcementStatus PROBATION)",
        "the bounce rate 7.1% is at or above the 5% review level",
    ]
    assert r.summary.startswith("the account in us-east-1 is under review: the account is on probation")


async def test_account_complaint_rate_alone_is_review_level(load, ses) -> None:
    load(world(account={"us-east-1": {"complaint_rate": 0.002}}))
    r = await ses("ses.account")
    assert r.outcome == "under-review"
    assert r.facts.problems == ["the complaint rate 0.2% is at or above the 0.1% review level"]


async def test_account_quota_exhausted(load, ses) -> None:
    load("quota-exhausted")
    r = await ses("ses.account", region="us-east-1")
    assert (r.outcome, r.status) == ("quota-exhausted", "fail")
    assert (r.facts.sent_last_24h, r.facts.max_24h_send, r.facts.quota_used_pct) == (
        50000,
        50000,
        100.0,
    )
    assert r.summary.startswith(
        "the 24-hour sending quota in us-east-1 is used up: 50000 of 50000 messages sent in the last 24 hours"
    )


async def test_account_unlimited_quota_and_no_metrics(load, ses) -> None:
    # eu-west-1 has an account entry (so the lab seeds its rates, at 0); ca-central-1 has none: the lab's
    # default account and no CloudWatch datapoints at all
    load(world(account={"eu-west-1": {"max_24h_send": -1, "sent_last_24h": 90000}}))
    r = await ses("ses.account", region="eu-west-1")
    assert (r.outcome, r.status) == ("pass", "pass")
    assert (r.facts.max_24h_send, r.facts.quota_used_pct) == (-1, None)
    assert r.summary.endswith("bounce 0%, complaint 0%")  # seeded because eu-west-1 has an account entry
    r = await ses("ses.account", region="ca-central-1")
    assert (r.facts.bounce_rate, r.facts.complaint_rate) == (None, None)
    assert r.summary.endswith("bounce no data, complaint no data")


async def test_account_aws_unreachable_is_an_error(load, ses, dead_aws) -> None:
    load("all-clear")
    dead_aws()
    r = await ses("ses.account", region="us-east-1")
    assert r.outcome == "error"
    assert r.summary.startswith(
        "could not check: ses:GetAccount in us-east-1 failed: EndpointConnectionError"
    )


# ----------------------------------------------------------------------------------------------- DKIM


async def test_dkim_all_clear(load, ses) -> None:
    load("all-clear")
    r = await ses("ses.dkim", domain="admin@example.com", region="us-east-1")  # an address is accepted
    assert (r.outcome, r.status) == ("pass", "pass")
    assert r.summary == (
        "SES signs for example.com with Easy DKIM (status SUCCESS); all 3 CNAME records are in place"
    )
    f = r.facts
    assert (f.domain, f.status, f.signing_enabled, f.origin) == (
        "example.com",
        "SUCCESS",
        True,
        "AWS_SES",
    )
    assert f.tokens == TOKENS
    assert [x.status for x in f.records] == ["ok", "ok", "ok"]
    assert (f.records_to_add, f.missing_count) == ([], 0)


async def test_dkim_records_missing(load, ses) -> None:
    load("dkim-records-missing")
    r = await ses("ses.dkim", domain="example.com", region="us-east-1")
    assert (r.outcome, r.status) == ("records-missing", "fail")
    assert r.facts.missing_count == 1
    assert r.facts.status == "TEMPORARY_FAILURE"
    assert r.facts.records_to_add == [
        "bfluwzshvdp1rfbsiihv3o08x7ou6fkv._domainkey.example.com. 1800 IN CNAME "
        "bfluwzshvdp1rfbsiihv3o08x7ou6fkv.dkim.amazonses.com."
    ]
    assert r.summary == (
        "1 of 3 DKIM CNAME records for example.com missing or wrong: "
        "bfluwzshvdp1rfbsiihv3o08x7ou6fkv._domainkey.example.com does not exist (NXDOMAIN) "
        "(SES reports DKIM status TEMPORARY_FAILURE)"
    )


async def test_dkim_record_pointing_elsewhere_is_missing_even_when_ses_says_success(load, ses) -> None:
    zone = ZONE_HEAD + DKIM_CNAMES.replace(
        f"CNAME {TOKENS[2]}.dkim.amazonses.com.", "CNAME old.dkim.example.org."
    )
    load(world(dns={"zone": zone}))
    r = await ses("ses.dkim", domain="example.com")
    assert r.outcome == "records-missing"
    assert [x.status for x in r.facts.records] == ["ok", "ok", "wrong-target"]
    assert r.facts.records[2].found == "old.dkim.example.org"
    assert "(SES reports DKIM status SUCCESS)" in r.summary


async def test_dkim_not_verified(load, ses) -> None:
    load("dkim-not-verified")
    r = await ses("ses.dkim", domain="example.com", region="us-east-1")
    assert (r.outcome, r.status) == ("not-verified", "fail")
    assert r.facts.status == "PENDING" and r.facts.missing_count == 0
    assert r.summary == (
        "all 3 DKIM CNAME records for example.com are right, but SES reports DKIM status PENDING: SES "
        "re-checks the records on its own schedule (it can take up to 72 hours after they appear)"
    )


async def test_dkim_signing_disabled(load, ses) -> None:
    load(shipped("dmarc-unaligned"))
    r = await ses("ses.dkim", domain="example.com", region="us-east-1")
    assert (r.outcome, r.status) == ("not-enabled", "warn")
    assert r.summary == (
        "SES does not sign mail from example.com with DKIM (SigningEnabled false): DMARC can only align "
        "through SPF"
    )
    assert r.facts.signing_enabled is False


async def test_dkim_no_domain_identity_is_skipped(load, ses) -> None:
    load("identity-not-found")
    r = await ses("ses.dkim", domain="example.com", region="us-east-1")
    assert (r.outcome, r.status) == ("not-enabled", "skipped")
    assert r.summary == "no domain identity for example.com in us-east-1: DKIM not checked"


async def test_dkim_byodkim_checks_status_only(load, ses) -> None:
    external = {"identity": "example.com", "dkim": {"origin": "EXTERNAL", "status": "SUCCESS"}}
    load(world(identities={"us-east-1": [external]}))
    r = await ses("ses.dkim", domain="example.com")
    assert (r.outcome, r.facts.origin, r.facts.records) == ("pass", "EXTERNAL", [])
    assert "BYODKIM" in r.summary and "<your selector>._domainkey.example.com" in r.summary
    external["dkim"]["status"] = "PENDING"
    load(world(identities={"us-east-1": [external]}))
    r = await ses("ses.dkim", domain="example.com")
    assert r.outcome == "not-verified"
    assert r.summary.startswith(
        "SES reports DKIM status PENDING for example.com; example.com uses your own DKIM key"
    )


async def test_dkim_regional_signing_zone(load, ses) -> None:
    load("dkim-regional-zone")  # af-south-1 has its own zone: right records must pass
    r = await ses("ses.dkim", domain="example.com", region="af-south-1")
    assert (r.outcome, r.facts.signing_hosted_zone) == ("pass", "dkim.af-south-1.amazonses.com")
    assert r.facts.records_to_add == []
    load("dkim-regional-zone-wrong")  # the global zone is wrong there
    r = await ses("ses.dkim", domain="example.com", region="af-south-1")
    assert (r.outcome, r.facts.missing_count) == ("records-missing", 3)
    assert r.facts.records_to_add[0] == (
        f"{TOKENS[0]}._domainkey.example.com. 1800 IN CNAME {TOKENS[0]}.dkim.af-south-1.amazonses.com."
    )


async def test_dkim_deterministic_easy_dkim_uses_the_parents_records(load, ses) -> None:
    replica = {"identity": "example.com", "dkim": {"origin": "AWS_SES_AF_SOUTH_1", "tokens": TOKENS}}
    cnames = "".join(f"{t}._domainkey IN CNAME {t}.dkim.af-south-1.amazonses.com.\n" for t in TOKENS)
    load(world(identities={"us-east-1": [replica]}, dns={"zone": ZONE_HEAD + cnames}))
    r = await ses("ses.dkim", domain="example.com")
    assert (r.outcome, r.facts.parent_region) == ("pass", "af-south-1")
    load(world(identities={"us-east-1": [replica]}, dns={"zone": ZONE_HEAD + DKIM_CNAMES}))
    r = await ses("ses.dkim", domain="example.com")
    assert r.outcome == "records-missing" and "replicated from af-south-1" in r.summary


async def test_dkim_byodkim_checks_the_public_key_txt(load, ses) -> None:
    external = {"identity": "example.com", "dkim": {"origin": "EXTERNAL", "tokens": ["sel1"]}}
    key = 'sel1._domainkey IN TXT "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"\n'
    load(world(identities={"us-east-1": [external]}, dns={"zone": ZONE_HEAD + key}))
    r = await ses("ses.dkim", domain="example.com")
    assert (r.outcome, r.facts.records[0].status) == ("pass", "ok")
    assert "sel1._domainkey.example.com" in r.summary and r.facts.signing_hosted_zone is None
    load(world(identities={"us-east-1": [external]}, dns={"zone": ZONE_HEAD + DKIM_CNAMES}))
    r = await ses("ses.dkim", domain="example.com")
    assert (r.outcome, r.facts.records[0].status) == ("records-missing", "missing")
    assert r.summary.startswith("1 of 1 DKIM TXT records for example.com missing or wrong")
    assert r.facts.records_to_add == [
        'sel1._domainkey.example.com. 1800 IN TXT "v=DKIM1; k=rsa; p=<your public key, base64>"'
    ]
    revoked = 'sel1._domainkey IN TXT "v=DKIM1; p="\n'
    load(world(identities={"us-east-1": [external]}, dns={"zone": ZONE_HEAD + revoked}))
    r = await ses("ses.dkim", domain="example.com")
    assert (r.outcome, r.facts.records[0].status) == ("records-missing", "revoked")


async def test_dkim_of_a_subdomain_through_its_parent_identity(load, ses) -> None:
    load("all-clear")
    r = await ses("ses.dkim", domain="news.example.com")
    assert (r.outcome, r.facts.identity) == ("pass", "example.com")
    assert r.facts.records[0].name == f"{TOKENS[0]}._domainkey.example.com"
    assert "(through the parent identity example.com)" in r.summary


async def test_dkim_dns_failure_is_an_error(load, ses) -> None:
    load(world(dns={"zone": ZONE_HEAD + DKIM_CNAMES, "servfail": [f"{TOKENS[1]}._domainkey.example.com"]}))
    r = await ses("ses.dkim", domain="example.com")
    assert (r.outcome, r.status) == ("error", "error")
    assert r.summary == (
        f"could not check: the CNAME lookup for {TOKENS[1]}._domainkey.example.com got SERVFAIL"
    )


# ------------------------------------------------------------------------------------------ MAIL FROM


async def test_mail_from_all_clear(load, ses) -> None:
    load("all-clear")
    r = await ses("ses.mail_from", domain="admin@example.com", region="us-east-1")
    assert (r.outcome, r.status) == ("pass", "pass")
    f = r.facts
    assert (f.domain, f.mail_from_domain, f.region, f.status, f.behavior_on_mx_failure) == (
        "example.com",
        "mail.example.com",
        "us-east-1",
        "SUCCESS",
        "USE_DEFAULT_VALUE",
    )
    assert f.mx == ["10 feedback-smtp.us-east-1.amazonses.com."]
    assert f.expected_mx == "feedback-smtp.us-east-1.amazonses.com"
    assert f.spf_record == "v=spf1 include:amazonses.com ~all"
    assert (f.problems, f.records_to_add) == ([], [])
    assert r.summary == (
        "custom MAIL FROM mail.example.com is verified (SUCCESS): MX → feedback-smtp.us-east-1.amazonses.com, "
        "SPF includes amazonses.com"
    )


async def test_mail_from_mx_missing(load, ses) -> None:
    load(shipped("mail-from-mx-missing"))
    r = await ses("ses.mail_from", domain="example.com", region="us-east-1")
    assert (r.outcome, r.status) == ("mx-missing", "fail")
    assert r.facts.mx == ["10 feedback-smtp.eu-west-1.amazonses.com."]
    assert r.facts.records_to_add == [
        "; the only MX record at mail.example.com must be",
        "mail.example.com. 300 IN MX 10 feedback-smtp.us-east-1.amazonses.com.",
    ]
    assert r.summary == (
        "the MX at mail.example.com points to feedback-smtp.eu-west-1.amazonses.com, which is for eu-west-1; "
        "mail is sent from us-east-1, so it must be feedback-smtp.us-east-1.amazonses.com"
    )


async def test_mail_from_spf_missing(load, ses) -> None:
    load(shipped("mail-from-spf-missing"))
    r = await ses("ses.mail_from", domain="example.com", region="us-east-1")
    assert (r.outcome, r.status) == ("spf-missing", "fail")
    assert r.facts.spf_record is None
    assert r.facts.records_to_add == ['mail.example.com. 300 IN TXT "v=spf1 include:amazonses.com ~all"']


async def test_mail_from_not_verified_rejecting(load, ses) -> None:
    load("mail-from-not-verified")
    r = await ses("ses.mail_from", domain="example.com", region="us-east-1")
    assert (r.outcome, r.status) == ("not-verified", "fail")
    assert (r.facts.status, r.facts.behavior_on_mx_failure) == ("FAILED", "REJECT_MESSAGE")
    assert r.summary.startswith(
        "the MX and SPF records of mail.example.com are right, but SES reports its MAIL FROM status as FAILED"
    )
    assert "REJECT_MESSAGE: SES rejects mail from this identity" in r.summary
    assert r.facts.problems == [
        "SES reports the MAIL FROM status of mail.example.com as FAILED; BehaviorOnMxFailure is "
        "REJECT_MESSAGE: SES rejects mail from this identity ('Mail FROM domain is not verified') until the "
        "MAIL FROM domain verifies"
    ]


async def test_mail_from_not_verified_falling_back(load, ses) -> None:
    pending = domain_identity(mail_from={"domain": "mail.example.com", "status": "PENDING"})
    load(world(identities={"us-east-1": [pending]}))
    r = await ses("ses.mail_from", domain="example.com")
    assert r.outcome == "not-verified"
    assert "USE_DEFAULT_VALUE: SES falls back to a MAIL FROM under amazonses.com" in r.summary


async def test_mail_from_not_configured_is_skipped(load, ses) -> None:
    load(shipped("dmarc-unaligned"))
    r = await ses("ses.mail_from", domain="example.com", region="us-east-1")
    assert (r.outcome, r.status) == ("skipped", "info")
    assert r.summary == "no custom MAIL FROM domain: SES uses amazonses.com, so SPF cannot align"
    assert (r.facts.mail_from_domain, r.facts.behavior_on_mx_failure) == (None, "USE_DEFAULT_VALUE")
    load("identity-not-found")
    r = await ses("ses.mail_from", domain="example.com", region="us-east-1")
    assert (r.outcome, r.status) == ("skipped", "skipped")


# ------------------------------------------------------------------------------------ DMARC alignment


async def test_dmarc_alignment_all_clear(load, ses) -> None:
    load("all-clear")
    r = await ses("ses.dmarc_alignment", domain="admin@example.com", region="us-east-1")
    assert (r.outcome, r.status) == ("pass", "pass")
    f = r.facts
    assert (f.policy, f.adkim, f.aspf, f.found_at) == (
        "quarantine",
        "r",
        "r",
        "_dmarc.example.com",
    )
    assert f.dmarc_record == "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@example.com"
    assert (f.dkim_aligned, f.spf_aligned) == (True, True)
    assert f.dkim_reason == "d=example.com has the same organizational domain as example.com (relaxed)"
    assert (
        f.spf_reason
        == "MAIL FROM mail.example.com has the same organizational domain as example.com (relaxed)"
    )


async def test_dmarc_unaligned(load, ses) -> None:
    load(shipped("dmarc-unaligned"))
    r = await ses("ses.dmarc_alignment", domain="example.com", region="us-east-1")
    assert (r.outcome, r.status) == ("unaligned", "fail")
    f = r.facts
    assert (f.policy, f.adkim, f.aspf) == ("reject", "s", "s")
    assert (f.dkim_aligned, f.spf_aligned) == (False, False)
    assert f.dkim_reason == "SES does not sign with DKIM for example.com (SigningEnabled false)"
    assert f.spf_reason == (
        "no custom MAIL FROM domain: SES uses a MAIL FROM under amazonses.com, which does not align"
    )
    assert r.summary.startswith("DMARC p=reject (adkim=s, aspf=s) and SES mail from example.com cannot align")


async def test_dmarc_strict_against_a_parent_identity(load, ses) -> None:
    # From news.example.com; the identity (and the DKIM d=) is example.com; DMARC found at the org domain
    zone = ZONE_HEAD + DKIM_CNAMES + '_dmarc IN TXT "v=DMARC1; p=reject; adkim=s; aspf=s"\n'
    load(world(dns={"zone": zone}))
    r = await ses("ses.dmarc_alignment", domain="news.example.com")
    assert r.outcome == "unaligned"
    assert (r.facts.found_at, r.facts.policy) == ("_dmarc.example.com", "reject")
    assert r.facts.dkim_reason == "d=example.com is not exactly news.example.com, and adkim=s requires that"
    assert r.facts.spf_reason == (
        "aspf=s requires the MAIL FROM to be exactly news.example.com; mail.example.com is a subdomain"
    )
    load(world(dns={"zone": zone.replace("adkim=s; aspf=s", "adkim=r; aspf=s")}))
    r = await ses("ses.dmarc_alignment", domain="news.example.com")
    assert (r.outcome, r.facts.dkim_aligned, r.facts.spf_aligned) == ("pass", True, False)


async def test_dmarc_not_enforcing_is_skipped(load, ses) -> None:
    load(shipped("dmarc-missing"))
    r = await ses("ses.dmarc_alignment", domain="example.com")
    assert (r.outcome, r.status) == ("skipped", "skipped")
    assert r.summary == "no DMARC record: DMARC does not enforce"
    load(world(dns={"zone": ZONE_HEAD + '_dmarc IN TXT "v=DMARC1; p=none"\n'}))
    r = await ses("ses.dmarc_alignment", domain="example.com")
    assert (r.outcome, r.facts.policy) == ("skipped", "none")
    assert r.summary == "the DMARC policy at _dmarc.example.com is none: DMARC does not enforce"
    two = '_dmarc IN TXT "v=DMARC1; p=reject"\n_dmarc IN TXT "v=DMARC1; p=quarantine"\n'
    load(world(dns={"zone": ZONE_HEAD + two}))
    r = await ses("ses.dmarc_alignment", domain="example.com")
    assert r.outcome == "skipped"
    assert r.summary == (
        "2 DMARC records at _dmarc.example.com (receivers then apply none): DMARC does not enforce"
    )


async def test_dmarc_alignment_without_identity(load, ses) -> None:
    load("identity-not-found")
    r = await ses("ses.dmarc_alignment", domain="example.com", region="us-east-1")
    assert r.outcome == "unaligned"
    assert r.facts.dkim_reason == (
        "no domain identity covers example.com in us-east-1: SES signs only with d=amazonses.com, which does "
        "not align"
    )


# --------------------------------------------------------------------------------------- suppression


async def test_recipient_suppressed(load, ses) -> None:
    load("recipient-suppressed")
    started = time.monotonic()
    r = await ses("ses.suppression", recipient="guest@example.net", region="us-east-1")
    elapsed = time.monotonic() - started
    assert (r.outcome, r.status) == ("suppressed", "fail")
    f = r.facts
    assert (f.recipient, f.region, f.suppressed, f.reason) == (
        "guest@example.net",
        "us-east-1",
        True,
        "BOUNCE",
    )
    six_days = datetime.now(UTC) - timedelta(days=6)
    assert abs(datetime.fromisoformat(f.last_update_time) - six_days) < timedelta(minutes=5)
    assert [(o.region, o.reason) for o in f.other_regions] == [("us-west-2", "COMPLAINT")]
    assert (f.unchecked_regions, f.regions_checked) == ([], SES_REGION_COUNT)
    assert f.remedy_command == (
        "aws sesv2 delete-suppressed-destination --email-address guest@example.net --region us-east-1"
    )
    assert r.summary.startswith(
        "guest@example.net is on the account-level suppression list in us-east-1 (BOUNCE"
    )
    assert r.summary.endswith(f"; also suppressed in us-west-2 (COMPLAINT); {NOT_ENABLED}")
    assert '"Reason": "BOUNCE"' in evidence_text(r)
    assert elapsed < 5, f"the {SES_REGION_COUNT}-region fan-out took {elapsed:.2f}s"


async def test_recipient_suppressed_only_in_another_region(load, ses) -> None:
    load("all-clear")  # old-list@example.net is suppressed in us-west-2 only
    r = await ses("ses.suppression", recipient="old-list@example.net", region="us-east-1")
    assert (r.outcome, r.status, r.facts.suppressed) == ("pass", "info", False)
    assert r.facts.other_regions[0].region == "us-west-2"
    assert "it is in us-west-2 (BOUNCE), which matters only for mail sent from there" in r.summary


async def test_recipient_not_suppressed_anywhere(load, ses) -> None:
    load("all-clear")
    r = await ses("ses.suppression", recipient="guest@example.net")
    assert (r.outcome, r.status) == ("pass", "pass")
    assert (r.facts.other_regions, r.facts.regions_checked) == ([], SES_REGION_COUNT)
    assert r.summary == (
        f"guest@example.net is not on the suppression list in us-east-1 nor in any of {SES_REGION_COUNT - 1} "
        f"other regions; {NOT_ENABLED}"
    )


async def test_suppression_without_recipient_is_skipped(load, ses) -> None:
    load("all-clear")
    r = await ses("ses.suppression", region="us-east-1")
    assert (r.outcome, r.status) == ("skipped", "skipped")
    assert r.summary == "not checked: no recipient given"
    assert dumped(r) == SuppressionFacts().model_dump(mode="json")  # nothing known


async def test_a_required_argument_is_enforced(load, ses) -> None:
    load("all-clear")
    r = await ses("ses.identity", region="us-east-1")
    assert (r.outcome, r.status, r.summary) == ("error", "error", "could not check: no sender given")
    for name in ("ses.dkim", "ses.mail_from", "ses.dmarc_alignment"):
        r = await ses(name, region="us-east-1")
        assert (r.outcome, r.summary) == ("error", "could not check: no domain given"), name


async def test_suppression_aws_unreachable_is_an_error(load, ses, dead_aws) -> None:
    load("all-clear")
    dead_aws()
    r = await ses("ses.suppression", recipient="guest@example.net", region="us-east-1")
    assert r.outcome == "error"
    assert r.summary.startswith(
        "could not check: ses:GetSuppressedDestination in us-east-1 failed: EndpointConnectionError"
    )


# ------------------------------------------------------------------------------ regions of the account


async def test_suppression_sweep_calls_only_the_enabled_regions(lab, load, ses) -> None:
    load("fresh-account")
    lab.aws.clear_operations()
    r = await ses("ses.suppression", recipient="guest@example.net", region="us-east-1")
    called = {region for service, op, region in lab.aws.operations() if op == "GetSuppressedDestination"}
    assert called == set(SES_REGIONS) - set(DISABLED)
    assert (r.outcome, r.status) == ("pass", "pass")
    f = r.facts
    assert (f.unchecked_regions, f.regions_not_enabled) == ([], DISABLED)
    assert f.regions_checked == len(SES_REGIONS) - len(DISABLED)
    assert r.summary.endswith(f"; {NOT_ENABLED}")
    assert r.summary.count("not enabled") == 1
    assert evidence_text(r).count(NOT_ENABLED_LISTED) == 1


async def test_regions_refusing_the_token_without_list_regions_are_not_enabled(load, ses, fault) -> None:
    load("fresh-account")
    fault("aws-deny:account:ListRegions")
    r = await ses("ses.suppression", recipient="guest@example.net", region="us-east-1")
    assert (r.outcome, r.status) == ("pass", "pass")
    f = r.facts
    assert (f.unchecked_regions, f.regions_not_enabled) == ([], DISABLED)
    line = (
        f"{len(DISABLED)} region(s) refused the security token: not enabled in this account "
        "(account:ListRegions was not allowed, so this is inferred)"
    )
    assert r.summary.endswith(f"; {line}")  # counted in the summary, named in the evidence
    assert "add it to the policy" not in r.summary + evidence_text(r)
    assert evidence_text(r).count(f"{line}: {', '.join(DISABLED)}") == 1


async def test_identity_search_skips_the_disabled_regions(lab, load, ses) -> None:
    load(world(identities={"us-east-1": [domain_identity("example.org")]}))
    lab.aws.clear_operations()
    r = await ses("ses.identity", sender="ops@example.net")
    called = {region for _, op, region in lab.aws.operations() if op == "GetEmailIdentity"}
    assert called == set(SES_REGIONS) - set(DISABLED)
    assert r.outcome == "not-found"
    assert (r.facts.unchecked_regions, r.facts.regions_not_enabled) == ([], DISABLED)
    assert r.summary.endswith(f"not in any other SES region either; {NOT_ENABLED}")


# ---------------------------------------------------------------- suppression and identities as SES applies them


def with_set(
    *,
    account_reasons: list[str] | None = None,
    set_reasons: list[str] | None = None,
    sending: bool = True,
    **extra: Any,
) -> Scenario:
    """recipient-suppressed (guest@example.net: BOUNCE in us-east-1) with admin@example.com's default
    configuration set tx."""
    data = shipped("recipient-suppressed").model_dump()
    identities = [dict(i) for i in data["identities"]["us-east-1"]]
    for i in identities:
        if i["identity"] == "admin@example.com":
            i["configuration_set"] = "tx"
    account = dict(data["account"]["us-east-1"])
    if account_reasons is not None:
        account["suppressed_reasons"] = account_reasons
    data.update(
        name="test",
        identities={**data["identities"], "us-east-1": identities},
        account={**data["account"], "us-east-1": account},
        configuration_sets={"us-east-1": [
            {"name": "tx", "sending_enabled": sending, "suppressed_reasons": set_reasons}]},
        **extra,
    )  # fmt: skip
    return Scenario.model_validate(data)


async def test_a_configuration_set_that_suppresses_only_complaints_lets_a_bounced_address_through(
    load, ses
) -> None:
    load(with_set(set_reasons=["COMPLAINT"]))
    r = await ses(
        "ses.suppression", recipient="guest@example.net", region="us-east-1", sender="admin@example.com"
    )
    assert (r.outcome, r.status) == ("pass", "info")
    f = r.facts
    assert (f.account_suppressed_reasons, f.configuration_set, f.configuration_set_suppressed_reasons) == (
        ["BOUNCE", "COMPLAINT"], "tx", ["COMPLAINT"]
    )  # fmt: skip
    assert (f.effective_suppressed_reasons, f.entry_applies, f.reason) == (["COMPLAINT"], False, "BOUNCE")
    assert (
        "but the configuration set tx (the sender identity's default) overrides the account and suppresses "
        "COMPLAINT: the entry does not stop this mail" in r.summary
    )
    assert (
        "$ aws sesv2 get-configuration-set --configuration-set-name tx --region us-east-1" in evidence_text(r)
    )


async def test_an_empty_configuration_set_override_suppresses_nothing(load, ses) -> None:
    load(with_set(set_reasons=[]))
    r = await ses(
        "ses.suppression", recipient="guest@example.net", region="us-east-1", sender="admin@example.com"
    )
    assert (r.outcome, r.facts.effective_suppressed_reasons) == ("pass", [])
    assert "suppresses nothing" in r.summary


async def test_a_configuration_set_without_override_leaves_the_accounts_list(load, ses) -> None:
    load(with_set(set_reasons=None, account_reasons=["COMPLAINT"]))
    r = await ses(
        "ses.suppression", recipient="guest@example.net", region="us-east-1", sender="admin@example.com"
    )
    assert (r.outcome, r.facts.configuration_set_suppressed_reasons) == ("pass", None)
    assert r.facts.effective_suppressed_reasons == ["COMPLAINT"]
    assert "but the account suppresses COMPLAINT only: the entry does not stop this mail" in r.summary


async def test_a_set_that_suppresses_the_reason_still_suppresses(load, ses) -> None:
    load(with_set(set_reasons=["BOUNCE"], account_reasons=[]))
    r = await ses(
        "ses.suppression", recipient="guest@example.net", region="us-east-1", sender="admin@example.com"
    )
    assert (r.outcome, r.facts.entry_applies, r.facts.effective_suppressed_reasons) == (
        "suppressed",
        True,
        ["BOUNCE"],
    )


async def test_the_accounts_reasons_apply_without_a_sender(load, ses) -> None:
    load(with_set(set_reasons=["COMPLAINT"], account_reasons=["COMPLAINT"]))
    r = await ses("ses.suppression", recipient="guest@example.net", region="us-east-1")
    assert (r.outcome, r.facts.configuration_set, r.facts.effective_suppressed_reasons) == (
        "pass", None, ["COMPLAINT"]
    )  # fmt: skip


async def test_a_paused_configuration_set_stops_the_identity(load, ses) -> None:
    load("configuration-set-paused")
    r = await ses("ses.identity", sender="admin@example.com", region="us-east-1")
    assert (r.outcome, r.status) == ("configuration-set-paused", "fail")
    f = r.facts
    assert (f.verified_identity, f.configuration_set, f.configuration_set_sending_enabled) == (
        "admin@example.com", "tx", False
    )  # fmt: skip
    assert f.configuration_set_command == (
        "aws sesv2 put-configuration-set-sending-options --configuration-set-name tx --sending-enabled "
        "--region us-east-1"
    )
    assert r.summary == (
        "admin@example.com is verified for sending in us-east-1, but its default configuration set tx has "
        "sending paused (SendingOptions.SendingEnabled false): SES refuses every message sent with tx"
    )


async def test_a_verified_address_covers_its_plus_labels(load, ses) -> None:
    load(world(identities={"us-east-1": [{"identity": "admin@example.com"}]}))
    r = await ses("ses.identity", sender="admin+alerts@example.com", region="us-east-1")
    assert (r.outcome, r.facts.verified_identity) == ("pass", "admin@example.com")
    assert r.summary == (
        "admin@example.com is verified for sending in us-east-1 (the address identity covers "
        "admin+alerts@example.com)"
    )
    text = evidence_text(r)
    assert (
        "--email-identity admin+alerts@example.com" in text and "--email-identity admin@example.com" in text
    )


async def test_the_address_identitys_own_mail_from_overrides_the_domains(load, ses) -> None:
    load(shipped("mail-from-address-identity"))
    r = await ses("ses.mail_from", domain="admin@example.com", region="us-east-1")
    assert r.outcome == "mx-missing"
    f = r.facts
    assert (f.identity, f.identity_type, f.mail_from_domain) == (
        "admin@example.com",
        "EMAIL_ADDRESS",
        "bounce.example.com",
    )
    assert "(the address identity admin@example.com's own setting)" in r.summary
    # the domain alone (no address) still gets the domain identity's MAIL FROM, which is fine
    r = await ses("ses.mail_from", domain="example.com", region="us-east-1")
    assert (r.outcome, r.facts.identity, r.facts.mail_from_domain) == (
        "pass",
        "example.com",
        "mail.example.com",
    )
    # and the alignment looks at the same MAIL FROM (not verified: SPF cannot align; DKIM does)
    r = await ses("ses.dmarc_alignment", domain="admin@example.com", region="us-east-1")
    assert (r.outcome, r.facts.mail_from_domain, r.facts.spf_aligned) == ("pass", "bounce.example.com", False)


async def test_a_failed_mail_from_is_set_again(load, ses) -> None:
    load(shipped("mail-from-failed"))
    r = await ses("ses.mail_from", domain="admin@example.com", region="us-east-1")
    assert (r.outcome, r.facts.status) == ("not-verified", "FAILED")
    assert r.facts.reset_command == (
        "aws sesv2 put-email-identity-mail-from-attributes --email-identity example.com --mail-from-domain "
        "mail.example.com --behavior-on-mx-failure USE_DEFAULT_VALUE --region us-east-1"
    )
    assert "SES no longer re-checks it: set the MAIL FROM domain again" in r.summary
    assert r.facts.what_now is not None and r.facts.what_now.startswith("SES no longer re-checks")


async def test_a_pending_mail_from_is_rechecked_by_ses(load, ses) -> None:
    load(
        world(
            identities={
                "us-east-1": [domain_identity(mail_from={"domain": "mail.example.com", "status": "PENDING"})]
            }
        )
    )
    r = await ses("ses.mail_from", domain="example.com", region="us-east-1")
    assert r.outcome == "not-verified"
    assert "SES re-checks on its own schedule" in r.summary


def test_a_fresh_account_walk_ends_all_clear_with_nothing_unchecked(load, monkeypatch, tmp_path) -> None:
    from tests.flows.test_ses_delivery import walk  # one walk: the sweeps as the flow runs them

    code, out = walk(load("fresh-account"), monkeypatch, tmp_path)
    report = json.loads(out)
    assert (code, report["diagnosis"]["code"], report["findings"]) == (0, "all-clear", [])
    steps = {s["node"]: s for s in report["steps"]}
    assert [n for n, s in steps.items() if s["status"] == "error"] == []
    for node in ("identity", "suppression"):
        assert steps[node]["facts"]["unchecked_regions"] == [], node
    assert steps["suppression"]["facts"]["regions_not_enabled"] == DISABLED


def test_a_failed_mail_from_remedy_sets_it_again(load, monkeypatch, tmp_path) -> None:
    from tests.flows.test_ses_delivery import walk

    _, out = walk(load("mail-from-failed"), monkeypatch, tmp_path)
    [finding] = json.loads(out)["findings"]
    assert finding["code"] == "mail-from-not-verified"
    assert "SES no longer re-checks a MAIL FROM domain at FAILED" in finding["remedy"]
    assert (
        "aws sesv2 put-email-identity-mail-from-attributes --email-identity example.com --mail-from-domain "
        "mail.example.com --behavior-on-mx-failure USE_DEFAULT_VALUE --region us-east-1"
    ) in finding["remedy"]
    assert "an MX record `10 feedback-smtp.us-east-1.amazonses.com`" in finding["remedy"]


async def test_the_sweep_and_cloudtrail_paging_report_their_progress(load, ses) -> None:
    """What a surface shows while a slow check runs: regions read of all, then CloudTrail pages read."""
    load("seed-incident")
    said: list[str] = []
    with progress.reporting_to(said.append):
        await ses("ses.suppression", recipient="guest@example.net", region="us-east-1")
    total = len(said) - 1  # "0 of N", then one report per region answered
    assert said[0] == f"0 of {total} regions read" and said[-1] == f"{total} of {total} regions read"
    assert total == SES_REGION_COUNT  # every enabled region, each reported once
    said.clear()
    with progress.reporting_to(said.append):
        await ses("cloudtrail.key_history", smtp_username="AKIAEXAMPLEOLDKEY001", user="ses-smtp-user")
    assert said and all(re.fullmatch(r"CloudTrail \w+: \d+ pages? read", text) for text in said), said
    assert progress.report("outside a walk") is None  # goes nowhere, never fails
