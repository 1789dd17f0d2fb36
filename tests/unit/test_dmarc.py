"""DMARC parsing (RFC 7489 §6.3-6.4, RFC 9091 np), organizational domains and alignment."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maildoctor.dnsauth.dmarc import find_dmarc_records, parse_dmarc
from maildoctor.dnsauth.domains import (
    is_subdomain,
    normalize_domain,
    organizational_domain,
    relaxed_aligned,
    strict_aligned,
    txt_rdata,
    zone_txt_line,
)


def test_minimal_record_gets_the_defaults() -> None:
    record = parse_dmarc("v=DMARC1; p=reject")
    assert record.errors == []
    assert record.effective() == {
        "policy": "reject",
        "subdomain_policy": "reject",
        "nonexistent_policy": "reject",
        "pct": 100,
        "adkim": "r",
        "aspf": "r",
        "fo": ["0"],
        "rf": ["afrf"],
        "ri": 86400,
        "rua": [],
        "ruf": [],
    }
    assert record.warnings == ["no rua=: you get no aggregate reports, so you cannot see what fails"]


def test_full_record() -> None:
    record = parse_dmarc(
        "v=DMARC1;p=quarantine; sp=reject ; np=none; pct=50; adkim=s; aspf=r; fo=1:d:s; rf=afrf; ri=3600; "
        "rua=mailto:agg@example.com!10m, mailto:agg@reports.example.net; ruf=mailto:forensic@example.com;"
    )
    assert record.errors == []
    assert record.tags == {
        "v": "DMARC1",
        "p": "quarantine",
        "sp": "reject",
        "np": "none",
        "pct": "50",
        "adkim": "s",
        "aspf": "r",
        "fo": "1:d:s",
        "rf": "afrf",
        "ri": "3600",
        "rua": "mailto:agg@example.com!10m, mailto:agg@reports.example.net",
        "ruf": "mailto:forensic@example.com",
    }
    assert (record.policy, record.subdomain_policy, record.nonexistent_policy) == (
        "quarantine",
        "reject",
        "none",
    )
    assert (record.pct, record.adkim, record.aspf, record.ri) == (50, "s", "r", 3600)
    assert record.fo == ["1", "d", "s"]
    assert record.rua == ["mailto:agg@example.com!10m", "mailto:agg@reports.example.net"]
    assert record.ruf == ["mailto:forensic@example.com"]
    assert record.warnings == ["pct=50: the policy applies to only 50% of failing mail"]


def test_np_falls_back_to_sp_then_p() -> None:
    assert parse_dmarc("v=DMARC1; p=none; sp=quarantine").nonexistent_policy == "quarantine"
    assert parse_dmarc("v=DMARC1; p=reject").nonexistent_policy == "reject"


def test_p_none_warns() -> None:
    record = parse_dmarc("v=DMARC1; p=none; rua=mailto:d@example.com")
    assert record.valid
    assert record.warnings == ["p=none: receivers only report; nothing is quarantined or rejected"]


def test_values_are_case_insensitive() -> None:
    record = parse_dmarc("v=DMARC1; P=Reject; ADKIM=S")
    assert record.errors == []
    assert (record.policy, record.adkim) == ("reject", "s")


@pytest.mark.parametrize(
    ("text", "errors"),
    [
        ("v=DMARC1", ["required tag 'p' is missing (none, quarantine or reject)"]),
        ("v=DMARC1; p=block", ["'p' must be none, quarantine or reject (found 'block')"]),
        ("v=DMARC1; p=none; sp=all", ["'sp' must be none, quarantine or reject (found 'all')"]),
        ("v=DMARC1; p=none; np=x", ["'np' must be none, quarantine or reject (found 'x')"]),
        ("v=DMARC1; p=none; pct=101", ["'pct' must be an integer from 0 to 100 (found '101')"]),
        ("v=DMARC1; p=none; pct=-1", ["'pct' must be an integer from 0 to 100 (found '-1')"]),
        ("v=DMARC1; p=none; pct=5.5", ["'pct' must be an integer from 0 to 100 (found '5.5')"]),
        ("v=DMARC1; p=none; adkim=relaxed", ["'adkim' must be r (relaxed) or s (strict) (found 'relaxed')"]),
        ("v=DMARC1; p=none; aspf=x", ["'aspf' must be r (relaxed) or s (strict) (found 'x')"]),
        ("v=DMARC1; p=none; fo=1:2", ["'fo' must be a colon-separated list of 0, 1, d, s (found '1:2')"]),
        (
            "v=DMARC1; p=none; rf=iodef",
            ["'rf' must be afrf (a colon-separated list of report formats; found 'iodef')"],
        ),
        ("v=DMARC1; p=none; ri=1h", ["'ri' must be a non-negative integer of seconds (found '1h')"]),
        ("v=DMARC1; p=none; rua=dmarc@example.com", ["'rua' URI 'dmarc@example.com' is not a mailto: URI"]),
        (
            "v=DMARC1; p=none; rua=https://example.com/r",
            ["'rua' URI 'https://example.com/r' is not a mailto: URI"],
        ),
        (
            "v=DMARC1; p=none; ruf=mailto:x@example.com!10q",
            ["'ruf' URI 'mailto:x@example.com!10q' is not a valid mailto: address (optional !size suffix)"],
        ),
        (
            "v=DMARC1; p=none; rua=mailto:a@example.com,",
            ["'rua' has an empty URI in 'mailto:a@example.com,'"],
        ),
        ("v=DMARC1; p=none; rua=", ["'rua' has an empty value"]),
        ("v=DMARC1; p=none; rau=mailto:d@example.com", ["unknown tag 'rau' (did you mean 'rua'?)"]),
        ("v=DMARC1; p=none; t=y", ["unknown tag 't'"]),
        ("v=DMARC1; p=none; p=reject", ["'p' appears more than once"]),
        ("v=DMARC1; p=none; junk", ["'junk' is not a tag=value pair"]),
        ("v=dmarc1; p=none", ["'v' must be exactly 'DMARC1' (found 'dmarc1')"]),
        (
            "p=none; v=DMARC1",
            ["the record must start with 'v=DMARC1' (it starts with 'p=none')", "'v' must be the first tag"],
        ),
        ("p=reject", ["the record must start with 'v=DMARC1' (it starts with 'p=reject')"]),
        ("", ["the record is empty; it must start with 'v=DMARC1'"]),
    ],
)
def test_errors(text: str, errors: list[str]) -> None:
    record = parse_dmarc(text)
    assert record.errors == errors
    assert not record.valid
    assert record.warnings == []


def test_corrected_drops_bad_tags_and_defaults_p() -> None:
    record = parse_dmarc("v=DMARC1; p=block; rau=mailto:x@example.com; pct=50; rua=mailto:d@example.com")
    assert record.corrected() == "v=DMARC1; p=none; pct=50; rua=mailto:d@example.com"


def test_find_dmarc_records() -> None:
    txt = ["v=DMARC1; p=none", "v=dmarc1;p=reject", "v = DMARC1", "v=DMARC10; p=none", "p=none", "spf"]
    assert find_dmarc_records(txt) == ["v=DMARC1; p=none", "v=dmarc1;p=reject", "v = DMARC1"]


@settings(max_examples=300)
@given(st.text())
def test_parser_never_raises(text: str) -> None:
    record = parse_dmarc(text)
    assert isinstance(record.errors, list)
    record.effective()
    record.corrected()


_POLICY = st.sampled_from(["none", "quarantine", "reject"])
_OPTIONAL_TAGS = st.fixed_dictionaries(
    {},
    optional={
        "sp": _POLICY,
        "np": _POLICY,
        "pct": st.integers(0, 100).map(str),
        "adkim": st.sampled_from(["r", "s"]),
        "aspf": st.sampled_from(["r", "s"]),
        "fo": st.lists(st.sampled_from(["0", "1", "d", "s"]), min_size=1, max_size=4).map(":".join),
        "ri": st.integers(0, 10**6).map(str),
        "rua": st.lists(
            st.from_regex(r"mailto:[a-z]{1,8}@[a-z]{1,8}\.com(![0-9]{1,3}[kmg]?)?", fullmatch=True),
            min_size=1,
            max_size=3,
        ).map(",".join),
    },
)


@settings(max_examples=200)
@given(_POLICY, _OPTIONAL_TAGS)
def test_generated_valid_record_round_trips(policy: str, tags: dict[str, str]) -> None:
    text = "; ".join(["v=DMARC1", f"p={policy}", *(f"{k}={v}" for k, v in tags.items())])
    record = parse_dmarc(text)
    assert record.errors == []
    assert record.tags == {"v": "DMARC1", "p": policy, **tags}
    assert record.policy == policy
    assert record.subdomain_policy == tags.get("sp", policy)
    assert record.pct == int(tags.get("pct", "100"))
    assert parse_dmarc(record.corrected()).tags == record.tags


# -------------------------------------------------------------------------------------------- domains


@pytest.mark.parametrize(
    ("name", "org"),
    [
        ("example.com", "example.com"),
        ("mail.example.com", "example.com"),
        ("Mail.Example.COM.", "example.com"),
        ("a.b.mail.example.co.uk", "example.co.uk"),
        ("example.co.uk", "example.co.uk"),
        ("co.uk", "co.uk"),
        ("admin@mail.example.com", "example.com"),
    ],
)
def test_organizational_domain(name: str, org: str) -> None:
    assert organizational_domain(name) == org


def test_alignment() -> None:
    assert relaxed_aligned("mail.example.com", "example.com")
    assert relaxed_aligned("bounce.example.co.uk", "news.example.co.uk")
    assert not relaxed_aligned("example.co.uk", "other.co.uk")
    assert not relaxed_aligned("amazonses.com", "example.com")
    assert strict_aligned("Example.com.", "example.com")
    assert not strict_aligned("mail.example.com", "example.com")
    assert not relaxed_aligned("", "")


def test_names() -> None:
    assert normalize_domain(" Admin@Example.COM. ") == "example.com"
    assert is_subdomain("mail.example.com", "example.com")
    assert not is_subdomain("example.com", "example.com")
    assert not is_subdomain("badexample.com", "example.com")


def test_zone_txt_quoting_and_splitting() -> None:
    assert txt_rdata('a "b" \\c') == '"a \\"b\\" \\\\c"'
    long = "v=spf1 " + "ip4:192.0.2.1 " * 30 + "-all"
    rdata = txt_rdata(long)
    strings = [s.strip('"') for s in rdata.split('" "')]
    assert [len(s) for s in strings] == [255, len(long) - 255]
    assert "".join(strings) == long
    assert zone_txt_line("Example.com", "v=spf1 -all") == 'example.com. 300 IN TXT "v=spf1 -all"'
