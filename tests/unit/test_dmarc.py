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
        # checkdmarc's "v=DMARC1; p": the bare 'p' is ignored, so p is missing and nothing stands in for it
        ("v=DMARC1; p", ["required tag 'p' is missing (none, quarantine or reject)"]),
        ("v=DMARC1; pct=100", ["required tag 'p' is missing (none, quarantine or reject)"]),
        ("v=DMARC1; p=reject; psd=x", ["'psd' must be y, n or u (found 'x')"]),
        ("v=DMARC1; p=reject; t=x", ["'t' must be y or n (found 'x')"]),
        ("v=DMARC1; p=reject; foo=bar", ["unknown tag 'foo' (did you mean 'fo'?)"]),
        (
            "v=DMARC1; p=none; rua=__mailto:d@example.com",
            ["'rua' URI '__mailto:d@example.com' is not a mailto: URI"],
        ),
        (
            "v=DMARC1\\; p=reject\\;",
            [
                "'v' must be exactly 'DMARC1' (found 'DMARC1\\\\') (a zone-file escape '\\;' ended up in the "
                "record: write ';')",
                "'p' must be none, quarantine or reject (found 'reject\\\\')",
            ],
        ),
        ("v=DMARC1; p=block", ["'p' must be none, quarantine or reject (found 'block')"]),
        ("v=DMARC1; p=none; sp=all", ["'sp' must be none, quarantine or reject (found 'all')"]),
        ("v=DMARC1; p=none; np=x", ["'np' must be none, quarantine or reject (found 'x')"]),
        ("v=DMARC1; p=none; adkim=relaxed", ["'adkim' must be r (relaxed) or s (strict) (found 'relaxed')"]),
        ("v=DMARC1; p=none; aspf=x", ["'aspf' must be r (relaxed) or s (strict) (found 'x')"]),
        ("v=DMARC1; p=none; fo=1:2", ["'fo' must be a colon-separated list of 0, 1, d, s (found '1:2')"]),
        ("v=DMARC1; p=none; rua=dmarc@example.com", ["'rua' URI 'dmarc@example.com' is not a mailto: URI"]),
        (
            "v=DMARC1; p=none; rua=mailto:a@example.com,",
            ["'rua' has an empty URI in 'mailto:a@example.com,'"],
        ),
        ("v=DMARC1; p=none; rua=", ["'rua' has an empty value"]),
        ("v=DMARC1; p=none; rau=mailto:d@example.com", ["unknown tag 'rau' (did you mean 'rua'?)"]),
        ("v=DMARC1; p=none; p=reject", ["'p' appears more than once"]),
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


_IGNORED = "receivers ignore it"
_STRICT = (
    "receivers ignore it (DMARCbis removed '{tag}'; RFC 7489 says to use the default), but strict RFC 7489 "
    "parsers such as OpenDMARC refuse the whole record"
)


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        # DMARCbis removed pct, rf, ri; RFC 7489 §6.3 discards a bad value in favour of the default
        ("pct=101", "'pct' must be an integer from 0 to 100 (found '101'): " + _STRICT.format(tag="pct")),
        ("pct=-1", "'pct' must be an integer from 0 to 100 (found '-1'): " + _STRICT.format(tag="pct")),
        ("pct=5.5", "'pct' must be an integer from 0 to 100 (found '5.5'): " + _STRICT.format(tag="pct")),
        ("pct=", "'pct' has an empty value: " + _STRICT.format(tag="pct")),
        (
            "rf=iodef",
            "'rf' must be afrf (a colon-separated list of report formats; found 'iodef'): "
            + _STRICT.format(tag="rf"),
        ),
        ("ri=1h", "'ri' must be a non-negative integer of seconds (found '1h'): " + _STRICT.format(tag="ri")),
        # a URI receivers will not send to: the record still applies
        (
            "rua=https://example.com/r",
            "'rua' URI 'https://example.com/r' is not a mailto: URI: receivers send reports only to mailto:, "
            "so none come there",
        ),
        (
            "ruf=mailto:x@example.com!10q",
            "'ruf' URI 'mailto:x@example.com!10q' is not a valid mailto: address (optional !size suffix): "
            "receivers send no reports there",
        ),
        # not tag=value, unknown tags: ignored (RFC 7489 §6.3, DMARCbis)
        ("junk", f"'junk' is not a tag=value pair: {_IGNORED}"),
        ("fo:0", f"'fo:0' is not a tag=value pair (did you mean 'fo=0'?): {_IGNORED}"),
        ("sp-none", f"'sp-none' is not a tag=value pair (did you mean 'sp=none'?): {_IGNORED}"),
        ("newtag=unknown", f"unknown tag 'newtag': {_IGNORED}"),
    ],
)
def test_ignored_parts_only_warn(text: str, warning: str) -> None:
    uri = text.startswith(("rua=", "ruf="))  # kept in the corrected record: its other URIs may be good
    record = parse_dmarc(f"v=DMARC1; p=reject; {text}" + ("" if uri else "; rua=mailto:d@example.com"))
    assert record.errors == []
    assert record.warnings == [warning] + (
        ["no rua=: you get no aggregate reports, so you cannot see what fails"]
        if text.startswith("ruf=")
        else []
    )
    if not uri:
        assert record.corrected() == "v=DMARC1; p=reject; rua=mailto:d@example.com"


def test_missing_p_with_rua_acts_as_none() -> None:
    """RFC 7489 §6.6.3 and DMARCbis: no p but a usable rua is treated as p=none."""
    record = parse_dmarc("v=DMARC1; rua=mailto:dmarc@example.com")
    assert record.errors == []
    assert record.warnings == [
        "required tag 'p' is missing: receivers act as if p=none (RFC 7489 §6.6.3), so they only report"
    ]
    assert (record.policy, record.subdomain_policy) == ("none", "none")
    assert parse_dmarc("v=DMARC1; rua=https://example.com/r").policy is None


def test_dmarcbis_tags() -> None:
    record = parse_dmarc("v=DMARC1; p=reject; np=quarantine; psd=n; t=y; rua=mailto:d@example.com")
    assert (record.errors, record.warnings) == ([], [])
    assert (record.tags["psd"], record.tags["t"], record.nonexistent_policy) == ("n", "y", "quarantine")


def test_corrected_drops_bad_tags_and_defaults_p() -> None:
    record = parse_dmarc("v=DMARC1; p=block; rau=mailto:x@example.com; pct=50; rua=mailto:d@example.com")
    assert record.corrected() == "v=DMARC1; p=none; pct=50; rua=mailto:d@example.com"


def test_find_dmarc_records() -> None:
    txt = ["v=DMARC1; p=none", "v=dmarc1;p=reject", "v = DMARC1", "v=DMARC10; p=none", "p=none", "spf"]
    assert find_dmarc_records(txt) == ["v=DMARC1; p=none", "v=dmarc1;p=reject", "v = DMARC1"]
    assert find_dmarc_records(["v=DMARC1\\; p=reject"]) == ["v=DMARC1\\; p=reject"]  # reported, not skipped


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
        # multi-label public suffixes (the Public Suffix List, RFC 7489 §3.2)
        ("sub.example.co.uk", "example.co.uk"),
        ("mail.shop.example.com.au", "example.com.au"),
        ("a.b.c.edu.ar", "c.edu.ar"),
        ("www.city.kawasaki.jp", "city.kawasaki.jp"),  # an exception rule (!city.kawasaki.jp)
        ("foo.bar.kawasaki.jp", "foo.bar.kawasaki.jp"),  # a wildcard rule (*.kawasaki.jp)
        ("x.user.github.io", "user.github.io"),  # the list's private section counts too
        ("mail.example.unknowntld", "example.unknowntld"),  # no rule: the implicit "*"
        (".mac.com.", "mac.com"),
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
