"""The receiver's side of a bounce (maildoctor/checks/receiver.py: no network) and SES's maximum send rate
as the account step reads it from a bounce (against the lab)."""

from __future__ import annotations

from typing import Any

from maildoctor.checks.registry import CheckResult, default_registry
from maildoctor.clients import Clients
from maildoctor.clients.settings import Settings

SPAMHAUS = (
    "550 5.7.1 Service unavailable, Client host [54.240.8.12] blocked using Spamhaus. To request removal "
    "from this list see https://www.spamhaus.org/query/ip/54.240.8.12"
)


async def offline(name: str, **args: Any) -> CheckResult:
    return await default_registry()[name].run(Clients(Settings()), args)


async def test_a_blocklist_is_named_with_where_to_look_it_up_and_whose_ip_it_is(load, run_check) -> None:
    load("receiver-policy")
    r = await run_check(
        "receiver.policy", reply=SPAMHAUS, reason="blocklist", blocklist="Spamhaus", receiver="outlook",
        bulk_sender_rule=False, bounce_rate=0.004, complaint_rate=0.0002, region="us-east-1",
    )  # fmt: skip
    assert (r.outcome, r.status) == ("shown", "info")
    f = r.facts
    assert f.delisting == "https://check.spamhaus.org"
    assert f.postmaster is not None and "SNDS" in f.postmaster
    assert f.bulk_sender_rules == "none cited"
    assert f.advice is not None and "shared SES IP is AWS's to delist" in f.advice
    assert "0.40 %" in (f.reputation or "") and "0.02 %" in (f.reputation or "")
    # SES's own open recommendations (the scenario has one open, one fixed), in the advice too
    assert f.recommendations == [
        "HIGH COMPLAINT: Complaint rate for example.com is higher than recommended at a mailbox provider; "
        "review your list acquisition and add a one-click unsubscribe. (example.com)"
    ]
    assert f.recommendations_note is None and "SES's own open recommendations in us-east-1" in r.summary


async def test_bulk_sender_rules_only_when_the_reply_cites_them(load, run_check) -> None:
    load("all-clear")  # no recommendations there
    r = await run_check("receiver.policy", reason="policy", receiver="gmail", bulk_sender_rule=True)
    assert "one-click unsubscribe" in (r.facts.bulk_sender_rules or "")
    assert "Postmaster Tools" in (r.facts.postmaster or "")
    assert r.facts.recommendations == [] and r.facts.recommendations_note is None
    unknown = await run_check("receiver.policy", reason="spam")
    assert unknown.facts.postmaster is None and "not known" in (unknown.facts.reputation or "")


async def test_recommendations_that_cannot_be_read_are_said_and_the_rest_stands(
    load, run_check, fault
) -> None:
    load("receiver-policy")
    fault("aws-deny:ses:ListRecommendations")
    r = await run_check("receiver.policy", reason="blocklist", blocklist="Spamhaus")
    assert (r.outcome, r.status) == ("shown", "info")
    assert "not allowed to call ses:ListRecommendations" in (r.facts.recommendations_note or "")
    assert r.facts.delisting == "https://check.spamhaus.org"


async def test_authentication_as_the_receiver_sees_it() -> None:
    neither = await offline(
        "receiver.authentication", domain="example.com", policy="reject", dkim_aligned=False, spf_aligned=False,
        dkim_reason="DKIM for example.com is not verified", spf_reason="no custom MAIL FROM domain",
    )  # fmt: skip
    assert (neither.outcome, neither.status, neither.facts.failed_part) == ("dns", "fail", "both")
    assert "DKIM for example.com is not verified" in neither.summary
    spf_only = await offline("receiver.authentication", domain="example.com", dkim_aligned="True")
    assert (spf_only.outcome, spf_only.facts.failed_part) == ("in-transit", "in-transit")
    assert "forwarder" in spf_only.summary
    unknown = await offline("receiver.authentication", domain="example.com")
    assert unknown.facts.failed_part == "not-established"


async def test_max_send_rate_reply_is_rate_exceeded_only_on_an_account_that_may_send(load, run_check) -> None:
    load("all-clear")
    reply = "454 Throttling failure: Maximum sending rate exceeded."
    r = await run_check("ses.account", region="us-east-1", reply=reply)
    assert (r.outcome, r.status) == ("rate-exceeded", "fail")
    assert r.facts.rate_reply == reply and "14 messages a second" in r.summary
    plain = await run_check("ses.account", region="us-east-1", reply="550 5.1.1 user unknown")
    assert plain.outcome == "pass"
    load("account-sending-paused")  # a paused account is the cause, whatever the reply says
    paused = await run_check("ses.account", region="us-east-1", reply=reply)
    assert paused.outcome == "sending-paused"
