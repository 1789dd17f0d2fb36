"""The RFC 7208 SPF conformance suite (openspf 2014.04, from ../shared/corpora/spf) through maildoctor's
SPF check, over real DNS packets: each section's ``zonedata`` is served by a lab DNS server and
:func:`maildoctor.checks.dns.analyze_spf` asks it through the ordinary DNS client.

The suite gives ``check_host()``'s result for one connecting IP; maildoctor's check is a linter that
walks every term and says whether the record is valid, not whether one IP passes. So a verdict is
compared at the level both can speak of:

* ``missing`` (no SPF record, or no usable domain) is ``none``;
* ``invalid`` is ``permerror``; ``error`` (a lookup failed) is ``temperror``;
* ``pass`` (a valid record) agrees with any of pass, fail, softfail and neutral: which of those one IP
  gets is not the linter's question.

A test whose expected result lists several outcomes agrees when the check's verdict is one of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from maildoctor.checks.dns import analyze_spf
from maildoctor.clients.dns import DnsClient
from maildoctor.lab.dns import LabDnsServer

SUITE = Path(__file__).resolve().parents[3] / "shared/corpora/spf/rfc7208-tests.yml"
if not SUITE.is_file():
    pytest.skip(f"the SPF conformance suite is not beside the checkout ({SUITE})", allow_module_level=True)

yaml = pytest.importorskip("yaml")

DNS_TIMEOUT = 0.3  # TIMEOUT names are never answered: keep the wait short
RESULTS_OF_A_VALID_RECORD = frozenset({"pass", "fail", "softfail", "neutral"})

# Where a static linter rightly differs from the suite's one-IP result: the outcome the check gives.
LINTER_DIFFERS = {
    # The suite's IP matches before the 11th lookup, so check_host() passes; the linter walks every
    # term, counts 11 and reports the permerror every IP that matches nothing earlier gets.
    "include-at-limit": "invalid",
}


def _sections() -> list[dict[str, Any]]:
    with SUITE.open("rb") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


SECTIONS = _sections()
CASES = [
    pytest.param(index, name, id=name) for index, section in enumerate(SECTIONS) for name in section["tests"]
]


def _quoted(text: str) -> str:
    """A zone-file character-string; dnslib's lexer takes octal escapes (\\DDD in base 8)."""
    out: list[str] = []
    for ch in text:
        if ch in '"\\' or not 0x20 <= ord(ch) <= 0x7E:
            out.extend(f"\\{b:03o}" for b in ch.encode("utf-8"))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _txt(value: str | list[str]) -> str:
    """TXT rdata. A record of no strings (``null-text``) cannot be sent (the server fails to pack it);
    it is served as one empty string, which is not an SPF record either."""
    strings = (value or [""]) if isinstance(value, list) else [value]
    return " ".join(_quoted(s) for s in strings)


def _owner(name: str) -> str:
    """A zone-file owner name; dnslib reads \\DDD in names as decimal (``macro%percent  space...``)."""
    return "".join(ch if 0x21 <= ord(ch) <= 0x7E and ch != "\\" else f"\\{ord(ch):03d}" for ch in name)


def zone_for(zonedata: dict[str, list[Any]]) -> tuple[str, list[str]]:
    """Zone text and the names never answered, for one section.

    SPF-type records are served as TXT unless the name has TXT entries of its own (the suite's README);
    ``TXT: NONE`` is such an entry with no record. In the suite, ``TIMEOUT`` times out the query types a
    name has no records of. The lab server times out whole names, so a name is timed out when it has no
    records at all; the one ``TIMEOUT`` name with records (``spftimeout``: a TXT record, and type SPF
    timing out) is asked only for TXT, which it answers.
    """
    lines: list[str] = []
    timeouts: list[str] = []
    for name, records in zonedata.items():
        owner = _owner(name.rstrip(".")) + "."
        has_txt = any(isinstance(r, dict) and "TXT" in r for r in records)
        served = [r for r in records if isinstance(r, dict) and list(r.values()) != ["NONE"]]
        if "TIMEOUT" in records and not [r for r in served if "SPF" not in r or not has_txt]:
            timeouts.append(owner)
        for record in served:
            ((rtype, value),) = record.items()
            if rtype == "SPF":
                if has_txt:
                    continue
                rtype = "TXT"
            if rtype == "TXT":
                rdata = _txt(value)
            elif rtype == "MX":
                rdata = f"{value[0]} {value[1].rstrip('.')}."
            elif rtype in ("CNAME", "PTR"):
                rdata = value.rstrip(".") + "."
            else:
                rdata = str(value)
            lines.append(f"{owner} 300 IN {rtype} {rdata}")
    return "\n".join(lines) + "\n", timeouts


def domain_of(test: dict[str, Any]) -> str:
    """check_host()'s <domain>: the MAIL FROM's domain, or the HELO name for the null sender."""
    mailfrom = test.get("mailfrom") or ""
    return mailfrom.rsplit("@", 1)[1] if "@" in mailfrom else str(test["helo"])


def expected_of(test: dict[str, Any]) -> set[str]:
    result = test["result"]
    return set(result) if isinstance(result, list) else {result}


def verdict(outcome: str) -> set[str]:
    """The suite results a check outcome stands for."""
    return {
        "missing": {"none"},
        "invalid": {"permerror"},
        "error": {"temperror"},
        "pass": set(RESULTS_OF_A_VALID_RECORD),
    }[outcome]


@pytest.fixture(scope="module")
def suite_dns() -> Iterator[LabDnsServer]:
    with LabDnsServer() as server:
        yield server


async def outcome_of(server: LabDnsServer, index: int, name: str) -> str:
    """The check's outcome for one test, with its section's zone served."""
    zone, timeouts = zone_for(SECTIONS[index]["zonedata"])
    server.load_zone(zone, timeout=timeouts)
    test = SECTIONS[index]["tests"][name]
    dns = DnsClient((server.host, server.port), timeout=DNS_TIMEOUT)
    analysis = await analyze_spf(dns, domain_of(test))
    return analysis.outcome


@pytest.mark.parametrize(("index", "name"), CASES)
async def test_rfc7208_suite(suite_dns: LabDnsServer, index: int, name: str) -> None:
    test = SECTIONS[index]["tests"][name]
    outcome = await outcome_of(suite_dns, index, name)
    if name in LINTER_DIFFERS:
        assert outcome == LINTER_DIFFERS[name], f"{name}: the documented difference is gone ({outcome})"
        return
    assert verdict(outcome) & expected_of(test), (
        f"{name} ({test.get('spec', '')}): the check says {outcome}, the suite {test['result']}"
        f" — {test.get('description', '').strip()}"
    )
