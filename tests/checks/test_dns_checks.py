"""The DNS checks against the lab's authoritative DNS server over loopback (real dnspython, no mocks)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import dns.nameserver
import pytest

from maildoctor.checks.registry import CheckResult, default_registry
from maildoctor.clients import Clients
from maildoctor.clients.settings import Settings
from maildoctor.lab.dns import LabDnsServer
from tests.helpers import assert_json_safe

ZONE = r"""
example.com.        SOA ns1.example.com. hostmaster.example.com. 1 3600 600 86400 300
example.net.        SOA ns1.example.net. hostmaster.example.net. 1 3600 600 86400 300
example.org.        SOA ns1.example.org. hostmaster.example.org. 1 3600 600 86400 300
example.co.uk.      SOA ns1.example.co.uk. hostmaster.example.co.uk. 1 3600 600 86400 300
amazonses.com.      SOA ns1.amazonses.com. hostmaster.amazonses.com. 1 3600 600 86400 300
amazonses.com.      TXT "v=spf1 ip4:199.255.192.0/22 ip4:199.127.232.0/22 ip4:54.240.0.0/18 -all"

; ---- a clean domain: SPF, DMARC, three Easy DKIM CNAMEs, custom MAIL FROM
example.com.                     TXT "google-site-verification=abc123"
example.com.                     TXT "v=spf1 include:amazonses.com ~all"
_dmarc.example.com.              TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"
tok1._domainkey.example.com.     CNAME tok1.dkim.amazonses.com.
tok2._domainkey.example.com.     CNAME tok2.dkim.amazonses.com.
tok3._domainkey.example.com.     CNAME TOK3.dkim.amazonses.com
mail.example.com.                MX 10 feedback-smtp.us-east-1.amazonses.com.
mail.example.com.                TXT "v=spf1 include:amazonses.com ~all"

; ---- SPF
split.example.net.   TXT "v=spf1 ip4:192.0.2.1 ip4:192.0.2.2 ip4:192.0.2.3 ip4:192.0.2.4 ip4:192.0.2.5 ip4:192.0.2.6 ip4:192.0.2.7 ip4:192.0.2.8 ip4:192.0.2.9 ip4:192.0.2.10 ip4:192.0.2.11 ip4:192.0.2.12 ip4:192.0.2.13 " "ip4:192.0.2.14 ip4:192.0.2.15 " "include:amazonses.com -all"
two.example.net.     TXT "v=spf1 include:amazonses.com ~all"
two.example.net.     TXT "v=spf1 ip4:192.0.2.10 -all"
open.example.net.    TXT "v=spf1 include:amazonses.com +all"
typo.example.net.    TXT "v=spf1 inlcude:amazonses.com ~all"
noses.example.net.   TXT "v=spf1 ip4:192.0.2.0/24 -all"
nospf.example.org.   TXT "just a verification token"

big.example.net.     TXT "v=spf1 include:a.big.example.net include:b.big.example.net mx -all"
big.example.net.     MX 10 mx.big.example.net.
a.big.example.net.   TXT "v=spf1 a mx include:c.big.example.net ~all"
a.big.example.net.   A 192.0.2.1
a.big.example.net.   MX 10 mx.big.example.net.
b.big.example.net.   TXT "v=spf1 include:c.big.example.net include:amazonses.com ?all"
c.big.example.net.   TXT "v=spf1 a:h1.big.example.net a:h2.big.example.net exists:e.big.example.net -all"
h1.big.example.net.  A 192.0.2.11
h2.big.example.net.  AAAA 2001:db8::12
e.big.example.net.   A 127.0.0.2
mid.example.net.     TXT "v=spf1 include:a.big.example.net mx a ip4:192.0.2.0/24 ~all"
mid.example.net.     MX 10 mx.big.example.net.
mid.example.net.     A 192.0.2.5

void.example.net.           TXT "v=spf1 a:nx1.void.example.net a:nx2.void.example.net mx:txtonly.void.example.net include:amazonses.com ~all"
txtonly.void.example.net.   TXT "not an mx"
noinc.example.net.   TXT "v=spf1 include:nospf.example.org include:amazonses.com -all"
noinc2.example.net.  TXT "v=spf1 include:gone.example.org include:amazonses.com -all"
sfinc.example.net.   TXT "v=spf1 include:servfail.example.net -all"

; ---- DMARC
_dmarc.badtag.example.net.   TXT "v=DMARC1; p=reject; rau=mailto:d@example.net"
_dmarc.monitor.example.net.  TXT "v=DMARC1; p=none; rua=mailto:dmarc@monitor.example.net"
_dmarc.twice.example.net.    TXT "v=DMARC1; p=none"
_dmarc.twice.example.net.    TXT "v=DMARC1; p=reject"
_dmarc.example.co.uk.        TXT "v=DMARC1; p=reject; sp=quarantine; adkim=s"
mail.example.co.uk.          MX 10 feedback-smtp.eu-west-2.amazonses.com.

; ---- DKIM: one right, one absent, one pointing elsewhere
toka._domainkey.dkim.example.net.   CNAME toka.dkim.amazonses.com.
tokc._domainkey.dkim.example.net.   CNAME tokc.dkim.example.org.
; a domain sending from af-south-1 (its own DKIM zone): one right, one to the old global zone
tokr1._domainkey.za.example.net.    CNAME tokr1.dkim.af-south-1.amazonses.com.
tokr2._domainkey.za.example.net.    CNAME tokr2.dkim.amazonses.com.

; ---- MAIL FROM
bounce.example.net.     TXT "v=spf1 include:amazonses.com ~all"
mf-west.example.net.    MX 10 feedback-smtp.eu-west-1.amazonses.com.
mf-west.example.net.    TXT "v=spf1 include:amazonses.com ~all"
mf-nospf.example.net.   MX 10 feedback-smtp.us-east-1.amazonses.com.
mf-two.example.net.     MX 10 feedback-smtp.us-east-1.amazonses.com.
mf-two.example.net.     MX 20 mx.example.org.
mf-two.example.net.     TXT "v=spf1 ip4:192.0.2.1 -all"
mf-bare.example.net.    MX 10 feedback-smtp.us-east-1.amazonses.com.
mf-bare.example.net.    TXT "v=spf1 mx -all"
mf-null.example.net.    MX 0 .
mf-null.example.net.    TXT "v=spf1 include:amazonses.com -all"
"""

SERVFAIL = ["servfail.example.net", "_dmarc.servfail.example.net", "mf-fail.example.net"]
TIMEOUT = ["timeout.example.net"]


@pytest.fixture(scope="module")
def lab() -> Iterator[LabDnsServer]:
    with LabDnsServer() as server:
        server.load_zone(ZONE, servfail=SERVFAIL, timeout=TIMEOUT)
        yield server


def clients(lab: LabDnsServer, timeout: float = 3.0) -> Clients:
    return Clients(Settings(dns_server=(lab.host, lab.port), timeout=timeout))


async def run(lab: LabDnsServer, name: str, timeout: float = 3.0, **args: object) -> CheckResult:
    """Run a check as the engine does (arguments validated, required ones enforced)."""
    spec = default_registry()[name]
    result = await spec.run(clients(lab, timeout), args)
    assert result.outcome in spec.all_outcomes
    assert "\n" not in result.summary
    assert isinstance(result.facts, spec.facts)
    assert_json_safe(result.facts.model_dump(mode="json"))
    return result


def evidence_text(result: CheckResult) -> str:
    return "\n".join(f"{e.title}\n{e.text}" for e in result.evidence)


def test_checks_are_registered() -> None:
    specs = default_registry()
    assert specs["dns.spf"].outcomes == {"pass", "missing", "invalid"}
    assert specs["dns.spf"].required_args == {"domain"}
    assert specs["dns.dmarc"].outcomes == {"pass", "missing", "invalid"}
    assert specs["dns.dkim"].outcomes == {"pass", "missing", "skipped"}
    assert specs["dns.mail_from"].outcomes == {"pass", "mx-missing", "spf-missing", "skipped"}
    for name in ("dns.spf", "dns.dmarc", "dns.dkim", "dns.mail_from"):
        assert specs[name].iam_actions == ()
        assert specs[name].description


# ------------------------------------------------------------------------------------------------ SPF


async def test_spf_clean(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.spf", domain="example.com", require_include="amazonses.com")
    assert (r.outcome, r.status) == ("pass", "pass")
    assert (
        r.summary == "example.com has a valid SPF record (1/10 DNS lookups, 0 void), including amazonses.com"
    )
    assert r.facts.records == ["v=spf1 include:amazonses.com ~all"]
    assert r.facts.record == "v=spf1 include:amazonses.com ~all"
    assert (r.facts.lookups, r.facts.void_lookups, r.facts.includes_amazonses) == (1, 0, True)
    assert r.facts.problems == [] and r.facts.records_to_add == []
    table = r.facts.lookup_table
    assert [(row.term, row.domain, row.depth, row.lookups, row.total) for row in table] == [
        ("include:amazonses.com", "example.com", 0, 1, 1),
        ("ip4:199.255.192.0/22", "amazonses.com", 1, 0, 1),
        ("ip4:199.127.232.0/22", "amazonses.com", 1, 0, 1),
        ("ip4:54.240.0.0/18", "amazonses.com", 1, 0, 1),
        ("-all", "amazonses.com", 1, 0, 1),
        ("~all", "example.com", 0, 0, 1),
    ]
    text = evidence_text(r)
    assert "example.com. IN TXT google-site-verification=abc123" in text
    assert "example.com. IN TXT v=spf1 include:amazonses.com ~all" in text


async def test_spf_txt_split_into_several_strings(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.spf", domain="split.example.net")
    expected = "v=spf1 " + " ".join(f"ip4:192.0.2.{n}" for n in range(1, 16)) + " include:amazonses.com -all"
    assert r.outcome == "pass"
    assert r.facts.record == expected  # the strings joined with nothing between them (RFC 7208 §3.3)
    assert r.facts.lookups == 1


async def test_spf_two_records(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.spf", domain="two.example.net")
    assert (r.outcome, r.status) == ("invalid", "fail")
    assert r.summary == (
        "two.example.net's SPF is invalid: 2 SPF records at two.example.net; there must be exactly one "
        "(RFC 7208 §3.2: permerror)"
    )
    assert sorted(r.facts.records) == ["v=spf1 include:amazonses.com ~all", "v=spf1 ip4:192.0.2.10 -all"]
    assert r.facts.record is None
    assert r.facts.records_to_add[0] == "; replace the 2 SPF records at two.example.net with this one"
    merged = r.facts.records_to_add[1]
    assert merged.startswith('two.example.net. 300 IN TXT "v=spf1 ')
    assert "include:amazonses.com" in merged and "ip4:192.0.2.10" in merged
    assert "v=spf1 ip4:192.0.2.10 -all" in evidence_text(r)


async def test_spf_over_ten_lookups_through_nested_includes(lab: LabDnsServer) -> None:
    # By hand: include:a (1) > a (2), mx (3), include:c (4) > a:h1 (5), a:h2 (6), exists (7);
    # include:b (8) > include:c (9) > a:h1 (10), a:h2 (11), exists (12); include:amazonses.com (13);
    # mx (14).
    r = await run(lab, "dns.spf", domain="big.example.net")
    assert (r.outcome, r.status) == ("invalid", "fail")
    assert r.facts.lookups == 14
    assert r.facts.void_lookups == 0
    assert r.facts.problems == [
        "evaluating the record takes 14 DNS lookups; the limit is 10 (RFC 7208 §4.6.4) — crossed at "
        "'a:h2.big.example.net' in c.big.example.net"
    ]
    counted = [(row.term, row.depth, row.total) for row in r.facts.lookup_table if row.lookups]
    assert counted == [
        ("include:a.big.example.net", 0, 1),
        ("a", 1, 2),
        ("mx", 1, 3),
        ("include:c.big.example.net", 1, 4),
        ("a:h1.big.example.net", 2, 5),
        ("a:h2.big.example.net", 2, 6),
        ("exists:e.big.example.net", 2, 7),
        ("include:b.big.example.net", 0, 8),
        ("include:c.big.example.net", 1, 9),
        ("a:h1.big.example.net", 2, 10),
        ("a:h2.big.example.net", 2, 11),
        ("exists:e.big.example.net", 2, 12),
        ("include:amazonses.com", 1, 13),
        ("mx", 0, 14),
    ]
    over = [row.over_limit for row in r.facts.lookup_table if row.lookups]
    assert over == [False] * 10 + [True] * 4
    # too many lookups needs a human: the fix says so instead of proposing a record
    assert r.facts.records_to_add[0].startswith("; no corrected record can be written automatically: ")
    assert "total: 14 of 10 lookups" in evidence_text(r)


@pytest.mark.parametrize(("domain", "lookups"), [("mid.example.net", 9), ("big.example.net", 14)])
async def test_spf_lookup_count_agrees_with_checkdmarc(lab: LabDnsServer, domain: str, lookups: int) -> None:
    checkdmarc_spf = pytest.importorskip("checkdmarc.spf")
    checkdmarc_utils = pytest.importorskip("checkdmarc.utils")
    checkdmarc_utils.DNS_CACHE.clear()
    oracle = checkdmarc_spf.check_spf(
        domain, nameservers=[dns.nameserver.Do53Nameserver(lab.host, lab.port)], timeout=2, retries=0
    )
    checkdmarc_utils.DNS_CACHE.clear()
    r = await run(lab, "dns.spf", domain=domain)
    assert oracle["dns_lookups"] == r.facts.lookups == lookups
    assert oracle["void_dns_lookups"] in (None, r.facts.void_lookups)
    assert oracle["valid"] == (r.outcome == "pass")


async def test_spf_more_than_two_void_lookups(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.spf", domain="void.example.net")
    assert r.outcome == "invalid"
    assert (r.facts.lookups, r.facts.void_lookups) == (4, 3)
    assert r.facts.problems == [
        "3 void lookups (no such name, or no records); the limit is 2 (RFC 7208 §4.6.4): "
        "'a:nx1.void.example.net' in void.example.net (NXDOMAIN), "
        "'a:nx2.void.example.net' in void.example.net (NXDOMAIN), "
        "'mx:txtonly.void.example.net' in void.example.net (no records)"
    ]
    voids = [row.void_total for row in r.facts.lookup_table if row.void]
    assert voids == [1, 2, 3]
    assert r.facts.records_to_add == [
        "; replace the SPF record at void.example.net with this one (without the terms that match nothing)",
        'void.example.net. 300 IN TXT "v=spf1 include:amazonses.com ~all"',
    ]


async def test_spf_include_of_a_domain_without_spf(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.spf", domain="noinc.example.net")
    assert r.outcome == "invalid"
    assert r.facts.problems == [
        "'include:nospf.example.org' in noinc.example.net: nospf.example.org has no SPF record "
        "(1 TXT record(s), none starts with v=spf1)"
    ]
    assert r.facts.records_to_add[1] == 'noinc.example.net. 300 IN TXT "v=spf1 include:amazonses.com -all"'
    assert "nospf.example.org. IN TXT just a verification token" in evidence_text(r)

    r = await run(lab, "dns.spf", domain="noinc2.example.net")
    assert r.outcome == "invalid"
    assert r.facts.problems == [
        "'include:gone.example.org' in noinc2.example.net: gone.example.org has no SPF record (NXDOMAIN)"
    ]
    assert r.facts.void_lookups == 1


async def test_spf_missing(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.spf", domain="nospf.example.org")
    assert (r.outcome, r.status) == ("missing", "fail")
    assert r.summary == "no SPF record at nospf.example.org (1 TXT record(s), none starts with 'v=spf1')"
    assert r.facts.records_to_add == ['nospf.example.org. 300 IN TXT "v=spf1 include:amazonses.com ~all"']

    r = await run(lab, "dns.spf", domain="absent.example.org")
    assert r.outcome == "missing"
    assert r.facts.rcode == "nxdomain"
    assert r.summary == "no SPF record at absent.example.org (NXDOMAIN: the name does not exist)"
    assert "absent.example.org TXT" in evidence_text(r) and "NXDOMAIN" in evidence_text(r)


async def test_spf_required_include_absent(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.spf", domain="noses.example.net", require_include="amazonses.com")
    assert r.outcome == "invalid"
    assert r.facts.includes_amazonses is False
    assert r.facts.problems == ["the record does not include amazonses.com (need 'include:amazonses.com')"]
    assert r.facts.records_to_add[1] == (
        'noses.example.net. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 include:amazonses.com -all"'
    )
    # Without the requirement the same record passes.
    assert (await run(lab, "dns.spf", domain="noses.example.net")).outcome == "pass"


async def test_spf_plus_all_warns(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.spf", domain="open.example.net")
    assert (r.outcome, r.status) == ("pass", "warn")
    assert "'+all' lets any server on the internet send as open.example.net" in r.summary


async def test_spf_syntax_error_with_fix(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.spf", domain="typo.example.net")
    assert r.outcome == "invalid"
    assert r.summary == (
        "typo.example.net's SPF is invalid: unknown mechanism 'inlcude:amazonses.com' "
        "(did you mean 'include'?)"
    )
    assert r.facts.record == "v=spf1 inlcude:amazonses.com ~all"
    assert r.facts.records_to_add[1] == 'typo.example.net. 300 IN TXT "v=spf1 include:amazonses.com ~all"'
    assert "v=spf1 inlcude:amazonses.com ~all" in evidence_text(r)


async def test_spf_servfail_is_an_error(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.spf", domain="servfail.example.net")
    assert (r.outcome, r.status) == ("error", "error")
    assert r.summary == "could not check: the TXT lookup for servfail.example.net got SERVFAIL"
    assert r.facts.rcode == "servfail"
    assert "SERVFAIL" in evidence_text(r)


async def test_spf_servfail_inside_an_include_is_an_error(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.spf", domain="sfinc.example.net")
    assert (r.outcome, r.status) == ("error", "error")
    assert r.summary == (
        "could not check: a lookup needed to count sfinc.example.net's SPF failed: "
        "'include:servfail.example.net' in sfinc.example.net: the TXT lookup of servfail.example.net "
        "got SERVFAIL"
    )
    assert r.facts.record == "v=spf1 include:servfail.example.net -all"
    assert r.facts.lookup_table[0].result == "servfail"


async def test_spf_timeout_is_an_error(lab: LabDnsServer) -> None:
    started = time.monotonic()
    r = await run(lab, "dns.spf", timeout=0.5, domain="timeout.example.net")
    assert time.monotonic() - started < 3
    assert (r.outcome, r.status) == ("error", "error")
    assert r.summary.startswith("could not check: the TXT lookup for timeout.example.net got a timeout")
    assert r.facts.rcode == "timeout"


# ---------------------------------------------------------------------------------------------- DMARC


async def test_dmarc_clean(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.dmarc", domain="example.com")
    assert (r.outcome, r.status) == ("pass", "pass")
    assert r.summary == "DMARC at _dmarc.example.com: p=reject, pct=100, adkim=r, aspf=r"
    f = r.facts
    assert f.record == "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"
    assert (f.found_at, f.policy, f.subdomain_policy, f.pct) == (
        "_dmarc.example.com",
        "reject",
        "reject",
        100,
    )
    assert (f.adkim, f.aspf, f.rua) == ("r", "r", ["mailto:dmarc@example.com"])
    assert f.problems == [] and f.records_to_add == []


async def test_dmarc_missing(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.dmarc", domain="example.org")
    assert (r.outcome, r.status) == ("missing", "fail")
    assert r.summary == "no DMARC record at _dmarc.example.org (NXDOMAIN: the name does not exist)"
    assert r.facts.records_to_add == [
        '_dmarc.example.org. 300 IN TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@example.org"'
    ]
    assert "_dmarc.example.org TXT" in evidence_text(r)


async def test_dmarc_missing_at_subdomain_and_org(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.dmarc", domain="nospf.example.org")
    assert r.outcome == "missing"
    assert r.facts.problems == [
        "no DMARC record at _dmarc.nospf.example.org (NXDOMAIN: the name does not exist) nor at "
        "_dmarc.example.org (NXDOMAIN: the name does not exist)"
    ]
    assert len(r.evidence) == 2


async def test_dmarc_invalid_tag(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.dmarc", domain="badtag.example.net")
    assert (r.outcome, r.status) == ("invalid", "fail")
    assert r.summary == (
        "DMARC at _dmarc.badtag.example.net is invalid: unknown tag 'rau' (did you mean 'rua'?)"
    )
    assert r.facts.record == "v=DMARC1; p=reject; rau=mailto:d@example.net"
    assert r.facts.records_to_add[1] == '_dmarc.badtag.example.net. 300 IN TXT "v=DMARC1; p=reject"'
    assert "rau=mailto:d@example.net" in evidence_text(r)


async def test_dmarc_two_records(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.dmarc", domain="twice.example.net")
    assert r.outcome == "invalid"
    assert r.summary == (
        "DMARC at _dmarc.twice.example.net is invalid: 2 DMARC records; there must be exactly one "
        "(RFC 7489 §6.6.3: receivers then apply none)"
    )
    assert len(r.facts.records) == 2 and r.facts.record is None


async def test_dmarc_fallback_to_org_domain(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.dmarc", domain="mail.example.co.uk")
    assert (r.outcome, r.status) == ("pass", "pass")
    f = r.facts
    assert (f.found_at, f.org_domain, f.fallback) == ("_dmarc.example.co.uk", "example.co.uk", True)
    assert (f.policy, f.subdomain_policy, f.effective_policy, f.adkim) == (
        "reject", "quarantine", "quarantine", "s",
    )  # fmt: skip
    assert r.summary == (
        "no DMARC record at _dmarc.mail.example.co.uk; the one at _dmarc.example.co.uk applies to it as a "
        "subdomain: sp=quarantine, pct=100, adkim=s, aspf=r"
    )
    assert [e.title for e in r.evidence] == ["TXT _dmarc.mail.example.co.uk", "TXT _dmarc.example.co.uk"]


async def test_dmarc_p_none_warns(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.dmarc", domain="monitor.example.net")
    assert (r.outcome, r.status) == ("pass", "warn")
    assert r.facts.policy == "none"
    assert r.summary.endswith("(monitoring only: nothing is quarantined or rejected)")


async def test_dmarc_servfail_is_an_error(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.dmarc", domain="servfail.example.net")
    assert (r.outcome, r.status) == ("error", "error")
    assert r.summary == "could not check: the TXT lookup for _dmarc.servfail.example.net got SERVFAIL"


# ----------------------------------------------------------------------------------------------- DKIM


async def test_dkim_all_present(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.dkim", domain="example.com", tokens="tok1, tok2\ntok3")
    assert (r.outcome, r.status) == ("pass", "pass")
    assert r.summary == "all 3 DKIM CNAME records for example.com point to dkim.amazonses.com"
    assert [(x.token, x.status, x.found) for x in r.facts.records] == [
        ("tok1", "ok", "tok1.dkim.amazonses.com"),
        ("tok2", "ok", "tok2.dkim.amazonses.com"),
        ("tok3", "ok", "TOK3.dkim.amazonses.com"),  # compared case-insensitively
    ]
    assert r.facts.missing_count == 0 and r.facts.records_to_add == []
    assert len(r.evidence) == 3


async def test_dkim_one_missing_one_elsewhere(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.dkim", domain="dkim.example.net", tokens="toka tokb,tokc")
    assert (r.outcome, r.status) == ("missing", "fail")
    assert r.summary == (
        "2 of 3 DKIM CNAME records missing or wrong: tokb._domainkey.dkim.example.net does not exist "
        "(NXDOMAIN); tokc._domainkey.dkim.example.net points to tokc.dkim.example.org, not "
        "tokc.dkim.amazonses.com"
    )
    records = {x.token: x for x in r.facts.records}
    assert records["toka"].status == "ok"
    assert (records["tokb"].status, records["tokb"].found) == ("missing", None)
    assert (records["tokc"].status, records["tokc"].found) == ("wrong-target", "tokc.dkim.example.org")
    assert records["tokb"].name == "tokb._domainkey.dkim.example.net"
    assert records["tokb"].expected == "tokb.dkim.amazonses.com"
    assert r.facts.missing_count == 2
    assert r.facts.records_to_add == [
        "tokb._domainkey.dkim.example.net. 1800 IN CNAME tokb.dkim.amazonses.com.",
        "tokc._domainkey.dkim.example.net. 1800 IN CNAME tokc.dkim.amazonses.com.",
    ]


async def test_dkim_regional_zone(lab: LabDnsServer) -> None:
    r = await run(
        lab, "dns.dkim", domain="za.example.net", tokens="tokr1 tokr2", zone="dkim.af-south-1.amazonses.com."
    )
    assert (r.outcome, r.status) == ("missing", "fail")
    records = {x.token: x for x in r.facts.records}
    assert (records["tokr1"].status, records["tokr1"].expected) == (
        "ok",
        "tokr1.dkim.af-south-1.amazonses.com",
    )
    assert (records["tokr2"].status, records["tokr2"].found) == ("wrong-target", "tokr2.dkim.amazonses.com")
    # only the wrong record is to be replaced, never the right one
    assert r.facts.records_to_add == [
        "tokr2._domainkey.za.example.net. 1800 IN CNAME tokr2.dkim.af-south-1.amazonses.com."
    ]
    # without the zone, the old global zone is assumed: the regional record is the odd one out
    r = await run(lab, "dns.dkim", domain="za.example.net", tokens="tokr1 tokr2")
    assert [x.status for x in r.facts.records] == ["wrong-target", "ok"]
    r = await run(
        lab, "dns.dkim", domain="za.example.net", tokens="tokr1", zone="DKIM.af-south-1.amazonses.com"
    )
    assert (r.outcome, r.summary) == (
        "pass",
        "all 1 DKIM CNAME records for za.example.net point to dkim.af-south-1.amazonses.com",
    )


async def test_dkim_without_tokens_is_skipped(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.dkim", domain="example.com")
    assert (r.outcome, r.status) == ("skipped", "skipped")
    assert r.summary == "not checked: no tokens given"
    r = await run(lab, "dns.dkim", domain="example.com", tokens=" , ")
    assert (r.outcome, r.summary) == ("skipped", "no Easy DKIM tokens given: DKIM CNAMEs not checked")


async def test_dkim_tokens_as_a_list(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.dkim", domain="example.com", tokens=["tok1", "tok2", "tok3"])
    assert (r.outcome, r.facts.tokens) == ("pass", ["tok1", "tok2", "tok3"])


async def test_a_required_domain_is_enforced(lab: LabDnsServer) -> None:
    for name in ("dns.spf", "dns.dmarc", "dns.dkim"):
        r = await run(lab, name, tokens="tok1") if name == "dns.dkim" else await run(lab, name)
        assert (r.outcome, r.status, r.summary) == ("error", "error", "could not check: no domain given")


# ------------------------------------------------------------------------------------------ MAIL FROM


async def test_mail_from_ok(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.mail_from", mail_from_domain="mail.example.com", identity_domain="example.com")
    assert (r.outcome, r.status) == ("pass", "pass")
    assert (
        r.summary == "MAIL FROM mail.example.com: MX → feedback-smtp.us-east-1.amazonses.com, "
        "SPF includes amazonses.com"
    )
    f = r.facts
    assert f.mx == ["10 feedback-smtp.us-east-1.amazonses.com."]
    assert f.expected_mx == "feedback-smtp.us-east-1.amazonses.com"
    assert (f.region, f.spf_record) == ("us-east-1", "v=spf1 include:amazonses.com ~all")
    assert f.problems == [] and f.records_to_add == []


async def test_mail_from_not_under_identity_is_noted(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.mail_from", mail_from_domain="mail.example.com", identity_domain="example.net")
    assert (r.outcome, r.status) == ("pass", "warn")
    assert r.facts.problems == [
        "mail.example.com is not a subdomain of the identity example.net; SES requires it to be"
    ]


async def test_mail_from_mx_missing(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.mail_from", mail_from_domain="bounce.example.net")
    assert (r.outcome, r.status) == ("mx-missing", "fail")
    assert r.summary == "no MX record at bounce.example.net (the name exists but has no MX record)"
    assert r.facts.records_to_add == [
        "bounce.example.net. 300 IN MX 10 feedback-smtp.us-east-1.amazonses.com."
    ]


async def test_mail_from_mx_wrong_region(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.mail_from", mail_from_domain="mf-west.example.net", region="us-east-1")
    assert r.outcome == "mx-missing"
    assert r.summary == (
        "the MX at mf-west.example.net points to feedback-smtp.eu-west-1.amazonses.com, which is for "
        "eu-west-1; mail is sent from us-east-1, so it must be feedback-smtp.us-east-1.amazonses.com"
    )
    assert r.facts.records_to_add == [
        "; the only MX record at mf-west.example.net must be",
        "mf-west.example.net. 300 IN MX 10 feedback-smtp.us-east-1.amazonses.com.",
    ]
    # The same record is right for eu-west-1.
    assert (
        await run(lab, "dns.mail_from", mail_from_domain="mf-west.example.net", region="eu-west-1")
    ).outcome == "pass"


async def test_mail_from_several_mx_and_bad_spf(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.mail_from", mail_from_domain="mf-two.example.net")
    assert r.outcome == "mx-missing"  # the MX problem wins over the SPF one
    assert r.summary.startswith("2 MX records at mf-two.example.net (")
    assert r.summary.endswith("(and SPF is wrong too)")
    assert r.facts.problems[-1] == (
        "SPF: the record does not include amazonses.com (need 'include:amazonses.com')"
    )
    assert r.facts.records_to_add[-1] == (
        'mf-two.example.net. 300 IN TXT "v=spf1 ip4:192.0.2.1 include:amazonses.com -all"'
    )


async def test_mail_from_null_mx(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.mail_from", mail_from_domain="mf-null.example.net")
    assert r.outcome == "mx-missing"
    assert r.summary == (
        "mf-null.example.net has a null MX ('.', RFC 7505: it accepts no mail); it must be "
        "feedback-smtp.us-east-1.amazonses.com"
    )


async def test_mail_from_spf_missing(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.mail_from", mail_from_domain="mf-nospf.example.net")
    assert (r.outcome, r.status) == ("spf-missing", "fail")
    assert r.summary == (
        "MAIL FROM mf-nospf.example.net: no SPF record at mf-nospf.example.net (the name exists but has no "
        "TXT record)"
    )
    assert r.facts.spf_record is None
    assert r.facts.records_to_add == ['mf-nospf.example.net. 300 IN TXT "v=spf1 include:amazonses.com ~all"']


async def test_mail_from_spf_without_amazonses(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.mail_from", mail_from_domain="mf-bare.example.net")
    assert r.outcome == "spf-missing"
    assert "does not include amazonses.com" in r.summary


async def test_mail_from_skipped(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.mail_from", identity_domain="example.com")
    assert (r.outcome, r.status) == ("skipped", "skipped")
    assert r.summary == "not checked: no mail from domain given"


async def test_mail_from_servfail_is_an_error(lab: LabDnsServer) -> None:
    r = await run(lab, "dns.mail_from", mail_from_domain="mf-fail.example.net")
    assert (r.outcome, r.status) == ("error", "error")
    assert r.summary == "could not check: the MX lookup for mf-fail.example.net got SERVFAIL"
    assert (r.facts.rcode, r.facts.problems) == (
        "servfail",
        ["the MX lookup for mf-fail.example.net got SERVFAIL"],
    )
