"""SPF parsing (RFC 7208 §12) and the lookup counter (§4.6.4), with a dict standing in for DNS."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maildoctor.clients.dns import DnsAnswer
from maildoctor.dnsauth.spf import (
    Mechanism,
    Modifier,
    SpfSyntaxError,
    evaluate_spf,
    find_spf_records,
    fix_typos,
    merge_records,
    parse_spf,
    with_include,
)

# ------------------------------------------------------------------------------------------ selection


def test_find_spf_records_selects_exact_version_only() -> None:
    txt = [
        "v=spf1 include:amazonses.com ~all",
        "V=SPF1 -all",
        "v=spf1",
        "v=spf10 -all",
        "v=spf1-all",
        " v=spf1 -all",
        "google-site-verification=abc",
        "spf1 v=spf1",
    ]
    assert find_spf_records(txt) == ["v=spf1 include:amazonses.com ~all", "V=SPF1 -all", "v=spf1"]


# -------------------------------------------------------------------------------------------- parsing


def test_parse_all_mechanism_forms() -> None:
    record = parse_spf(
        "v=spf1 +a -a:mail.example.com/24 ~mx/24//64 ?mx:example.com//64 ptr ptr:example.net "
        "ip4:192.0.2.0/24 ip4:192.0.2.1 ip6:2001:db8::/32 ip6:2001:db8::1 exists:%{i}._spf.example.com "
        "include:_spf.example.com redirect=_spf.example.org exp=explain.example.com -all"
    )
    mechanisms = record.mechanisms
    assert [m.name for m in mechanisms] == [
        "a", "a", "mx", "mx", "ptr", "ptr", "ip4", "ip4", "ip6", "ip6", "exists", "include", "all",
    ]  # fmt: skip
    assert [m.qualifier for m in mechanisms[:4]] == ["+", "-", "~", "?"]
    assert mechanisms[0] == Mechanism("+a", "+", "a")
    assert mechanisms[1] == Mechanism("-a:mail.example.com/24", "-", "a", "mail.example.com", 24)
    assert mechanisms[2] == Mechanism("~mx/24//64", "~", "mx", None, 24, 64)
    assert mechanisms[3] == Mechanism("?mx:example.com//64", "?", "mx", "example.com", None, 64)
    assert mechanisms[5].domain_spec == "example.net"
    assert mechanisms[6].network == "192.0.2.0/24"
    assert mechanisms[7].network == "192.0.2.1/32"
    assert mechanisms[8].network == "2001:db8::/32"
    assert mechanisms[9].network == "2001:db8::1/128"
    assert mechanisms[10].has_macro
    assert mechanisms[12].result == "fail"
    assert record.redirect == Modifier("redirect=_spf.example.org", "redirect", "_spf.example.org")
    assert record.exp is not None and record.exp.value == "explain.example.com"
    assert record.all is mechanisms[12]


def test_mechanism_names_are_case_insensitive_and_default_qualifier_is_pass() -> None:
    record = parse_spf("V=SPF1 Include:amazonses.com IP4:192.0.2.1 MX ~ALL")
    assert [(m.qualifier, m.name) for m in record.mechanisms] == [
        ("+", "include"), ("+", "ip4"), ("+", "mx"), ("~", "all"),
    ]  # fmt: skip


def test_unknown_modifier_is_allowed_with_a_warning() -> None:
    record = parse_spf("v=spf1 include:amazonses.com foo=bar.example.com -all")
    assert record.modifiers == [Modifier("foo=bar.example.com", "foo", "bar.example.com")]
    assert record.warnings == ("unknown modifier 'foo=bar.example.com' is ignored",)


def test_bare_version_is_valid() -> None:
    assert parse_spf("v=spf1").terms == ()


@pytest.mark.parametrize(
    ("record", "error"),
    [
        ("v=spf1 ip4:300.1.1.1 -all", "term 'ip4:300.1.1.1' is not a valid IPv4 network"),
        ("v=spf1 ip4:192.0.2.0/33", "term 'ip4:192.0.2.0/33' is not a valid IPv4 network"),
        ("v=spf1 ip4:192.0.2.0/024", "term 'ip4:192.0.2.0/024' is not a valid IPv4 network"),
        (
            "v=spf1 ip4:192.0.2.0/255.255.255.0",
            "term 'ip4:192.0.2.0/255.255.255.0' is not a valid IPv4 network",
        ),
        ("v=spf1 ip4:192.0.2", "term 'ip4:192.0.2' is not a valid IPv4 network"),
        ("v=spf1 ip4", "term 'ip4' is not a valid IPv4 network"),
        ("v=spf1 ip6:192.0.2.1", "term 'ip6:192.0.2.1' is not a valid IPv6 network"),
        ("v=spf1 ip6:2001:db8::/129", "term 'ip6:2001:db8::/129' is not a valid IPv6 network"),
        ("v=spf1 ip6:gggg::1", "term 'ip6:gggg::1' is not a valid IPv6 network"),
        (
            "v=spf1 inlcude:_spf.google.com ~all",
            "unknown mechanism 'inlcude:_spf.google.com' (did you mean 'include'?)",
        ),
        ("v=spf1 foo", "unknown mechanism 'foo'"),
        ("v=spf1 all:example.com", "term 'all:example.com': 'all' takes no argument"),
        ("v=spf1 include", "term 'include': 'include' needs a domain ('include:example.com')"),
        ("v=spf1 include:", "term 'include:': 'include' needs a domain ('include:example.com')"),
        (
            "v=spf1 include:amazonses",
            "term 'include:amazonses': 'amazonses' is not a fully qualified domain name",
        ),
        (
            "v=spf1 include:192.0.2.1",
            "term 'include:192.0.2.1': '192.0.2.1' is not a fully qualified domain name",
        ),
        ("v=spf1 exists:a..example.com", "term 'exists:a..example.com': 'a..example.com' has an empty label"),
        (
            "v=spf1 a/33",
            "term 'a/33': CIDR length '/33' is not valid (IPv4 0-32, IPv6 //0-128, no leading zeros)",
        ),
        (
            "v=spf1 mx//129",
            "term 'mx//129': CIDR length '//129' is not valid (IPv4 0-32, IPv6 //0-128, no leading zeros)",
        ),
        ("v=spf1 a:", "term 'a:': the domain is empty"),
        ("v=spf1 ptr/24", "term 'ptr/24': 'ptr' takes only ':domain' (no CIDR length)"),
        ("v=spf1 -redirect=example.com", "term '-redirect=example.com': a modifier cannot have a qualifier"),
        (
            "v=spf1 redirect=a.example.com redirect=b.example.com",
            "'redirect=' appears more than once (RFC 7208 §6)",
        ),
        (
            "v=spf1 exists:%{q}.example.com",
            "term 'exists:%{q}.example.com': unknown macro letter 'q' in '%{q}'",
        ),
        (
            "v=spf1 exists:%{i.example.com",
            "term 'exists:%{i.example.com': bad macro at '%{i.example.' "
            "(expected %{letter...}, %%, %_ or %-)",
        ),
        ("spf1 -all", "the record must start with 'v=spf1' (found 'spf1')"),
        ("", "the record must start with 'v=spf1' (found '')"),
    ],
)
def test_syntax_errors_name_the_term(record: str, error: str) -> None:
    with pytest.raises(SpfSyntaxError) as info:
        parse_spf(record)
    assert info.value.errors == [error]


def test_every_error_is_reported() -> None:
    with pytest.raises(SpfSyntaxError) as info:
        parse_spf("v=spf1 ip4:1.2.3 inclde:x.example.com -all")
    assert info.value.errors == [
        "term 'ip4:1.2.3' is not a valid IPv4 network",
        "unknown mechanism 'inclde:x.example.com' (did you mean 'include'?)",
    ]
    assert str(info.value) == "; ".join(info.value.errors)


@pytest.mark.parametrize("space", ["\t", "\r", "\n", "\r\n", "\x0b", "\x0c"])
def test_only_a_space_separates_terms(space: str) -> None:
    # RFC 7208 §4.6.1; the suite's control-char-policy and badip4 (a LF before 'include:').
    with pytest.raises(SpfSyntaxError) as info:
        parse_spf(f"v=spf1 ip4:192.0.2.5{space}include:example.net -all")
    assert info.value.errors == [
        f"term {'ip4:192.0.2.5' + space + 'include:example.net'!r} contains {space[0]!r}: "
        "only spaces separate terms (RFC 7208 §4.6.1)"
    ]
    assert parse_spf("v=spf1  ip4:192.0.2.5   -all ").mechanisms[1].name == "all"  # runs of SP are fine


@pytest.mark.parametrize("letter", ["c", "r", "t", "C", "R", "T"])
@pytest.mark.parametrize(
    "template", ["v=spf1 exists:%{X}.example.com -all", "v=spf1 -all exp=%{X}.example.com"]
)
def test_c_r_t_macros_only_in_explanation_text(letter: str, template: str) -> None:
    with pytest.raises(SpfSyntaxError) as info:
        parse_spf(template.replace("X", letter))
    assert f"macro '%{{{letter}}}' is allowed only in explanation text, not in a record" in str(info.value)
    parse_spf(template.replace("X", "i"))  # every other letter still parses


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("a" * 64 + ".example.com", "has a label of 64 characters (at most 63, RFC 1035)"),
        (".".join(["a" * 63] * 4) + ".com", "is 259 characters long (at most 253, RFC 1035)"),
        ("mail.example...com", "has an empty label"),
    ],
)
def test_names_dns_cannot_carry_are_refused(spec: str, why: str) -> None:
    with pytest.raises(SpfSyntaxError) as info:
        parse_spf(f"v=spf1 a:{spec} -all")
    assert info.value.errors == [f"term 'a:{spec}': {spec!r} {why}"]
    parse_spf(f"v=spf1 a:{'a' * 63}.example.com include:{'.'.join(['a' * 63] * 3)}.example.com -all")


def test_macros_and_domain_end_forms() -> None:
    record = parse_spf(
        "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} include:example.com. a:%{d2} exp=%{d}.x.example.com"
    )
    assert [m.domain_spec for m in record.mechanisms] == ["%{ir}.%{l1r+-}._spf.%{d}", "example.com.", "%{d2}"]


def test_warnings_for_terms_after_all_ptr_and_ignored_redirect() -> None:
    record = parse_spf("v=spf1 ptr -all include:late.example.com redirect=other.example.com")
    assert record.warnings == (
        "terms after 'all' are never evaluated: include:late.example.com",
        "'redirect=' is ignored because the record has an 'all' mechanism (RFC 7208 §6.1)",
        "'ptr' is slow and unreliable; RFC 7208 §5.5 says not to use it",
    )


# ------------------------------------------------------------------------------------------ fixes


def test_fix_typos() -> None:
    assert fix_typos("v=spf1 inlcude:amazonses.com ~all") == "v=spf1 include:amazonses.com ~all"
    assert (
        fix_typos("v=spf1 -ipv4:192.0.2.1 ipv6:2001:db8::1 ~all")
        == "v=spf1 -ip4:192.0.2.1 ip6:2001:db8::1 ~all"
    )
    assert fix_typos("v=spf1 bogus:example.com ~all") is None
    assert fix_typos("v=spf1 ip4:300.1.1.1 ~all") is None


def test_with_include_goes_before_all_or_modifiers() -> None:
    assert (
        with_include(parse_spf("v=spf1 mx -all"), "amazonses.com") == "v=spf1 mx include:amazonses.com -all"
    )
    assert (
        with_include(parse_spf("v=spf1 mx redirect=x.example.com"), "amazonses.com")
        == "v=spf1 mx include:amazonses.com redirect=x.example.com"
    )
    assert with_include(parse_spf("v=spf1"), "amazonses.com") == "v=spf1 include:amazonses.com"


def test_merge_records() -> None:
    records = [
        parse_spf("v=spf1 include:amazonses.com ~all"),
        parse_spf("v=spf1 ip4:192.0.2.10 +include:amazonses.com -all"),
    ]
    assert merge_records(records) == "v=spf1 include:amazonses.com ip4:192.0.2.10 ~all"
    assert merge_records([parse_spf("v=spf1 mx"), parse_spf("v=spf1 a")]) == "v=spf1 mx a ~all"
    redirected = [parse_spf("v=spf1 mx redirect=_spf.example.com"), parse_spf("v=spf1 a")]
    assert merge_records(redirected) == "v=spf1 mx a redirect=_spf.example.com"


# ------------------------------------------------------------------------------------------ hypothesis


@settings(max_examples=300)
@given(st.text())
def test_parser_raises_only_its_own_error(text: str) -> None:
    with contextlib.suppress(SpfSyntaxError):
        parse_spf(text)


_TERM_CHARS = st.sampled_from(list("aeimnprstx0123456789:/.%{}-_=+~?!"))


@settings(max_examples=300)
@given(st.lists(st.text(_TERM_CHARS, min_size=1, max_size=20), max_size=6))
def test_parser_on_spf_like_text_raises_only_its_own_error(terms: list[str]) -> None:
    with contextlib.suppress(SpfSyntaxError):
        parse_spf(" ".join(["v=spf1", *terms]))


_LABEL = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)
_DOMAIN = st.builds(
    lambda labels, tld: ".".join([*labels, tld]), st.lists(_LABEL, min_size=1, max_size=3), _LABEL
)
_QUALIFIER = st.sampled_from(["", "+", "-", "~", "?"])
_IP4 = st.builds(
    lambda octets, cidr: ".".join(map(str, octets)) + (f"/{cidr}" if cidr is not None else ""),
    st.lists(st.integers(0, 255), min_size=4, max_size=4),
    st.none() | st.integers(0, 32),
)
_IP6 = st.builds(
    lambda n, cidr: f"2001:db8::{n:x}" + (f"/{cidr}" if cidr is not None else ""),
    st.integers(0, 0xFFFF),
    st.none() | st.integers(0, 128),
)
_CIDRS = st.sampled_from(["", "/24", "//64", "/0//128", "/32"])
_MECHANISM = st.one_of(
    st.builds(lambda q, d: f"{q}include:{d}", _QUALIFIER, _DOMAIN),
    st.builds(lambda q, d: f"{q}exists:{d}", _QUALIFIER, _DOMAIN),
    st.builds(
        lambda q, n, d, c: f"{q}{n}{':' + d if d else ''}{c}",
        _QUALIFIER,
        st.sampled_from(["a", "mx"]),
        st.none() | _DOMAIN,
        _CIDRS,
    ),
    st.builds(lambda q, d: f"{q}ptr{':' + d if d else ''}", _QUALIFIER, st.none() | _DOMAIN),
    st.builds(lambda q, n: f"{q}ip4:{n}", _QUALIFIER, _IP4),
    st.builds(lambda q, n: f"{q}ip6:{n}", _QUALIFIER, _IP6),
)


@settings(max_examples=300)
@given(st.lists(_MECHANISM, max_size=8), _QUALIFIER, st.none() | _DOMAIN)
def test_generated_valid_record_round_trips(mechanisms: list[str], all_q: str, redirect: str | None) -> None:
    terms = [*mechanisms, f"{all_q}all"] if redirect is None else [*mechanisms, f"redirect={redirect}"]
    record = parse_spf(" ".join(["v=spf1", *terms]))
    assert [t.text for t in record.terms] == terms
    for text, term in zip(mechanisms, record.mechanisms, strict=False):
        assert term.qualifier == (text[0] if text[0] in "+-~?" else "+")
        assert text.lstrip("+-~?").startswith(term.name)
    if redirect is not None:
        assert record.redirect is not None and record.redirect.value == redirect
    else:
        assert record.all is not None and record.all.qualifier == (all_q or "+")


# ----------------------------------------------------------------------------------------- evaluation


class FakeDns:
    """Answers from a dict {(name, rdtype): [records]} ; missing names are NXDOMAIN, missing types at a
    known name are NOERROR/no answer, and names listed in ``servfail`` fail."""

    def __init__(self, data: dict[tuple[str, str], list[str]], servfail: tuple[str, ...] = ()) -> None:
        self.data = data
        self.servfail = servfail
        self.asked: list[tuple[str, str]] = []

    async def query(self, name: str, rdtype: str) -> DnsAnswer:
        self.asked.append((name, rdtype))
        if name in self.servfail:
            return DnsAnswer(name, rdtype, "servfail")
        if (name, rdtype) in self.data:
            return DnsAnswer(name, rdtype, "ok", list(self.data[(name, rdtype)]))
        if any(n == name for n, _ in self.data):
            return DnsAnswer(name, rdtype, "noanswer")
        return DnsAnswer(name, rdtype, "nxdomain")


SES = ("amazonses.com", "TXT")
SES_RECORD = ["v=spf1 ip4:199.255.192.0/22 -all"]


async def test_counts_each_lookup_term_and_nested_includes() -> None:
    dns = FakeDns(
        {
            ("example.com", "MX"): ["10 mx.example.com."],
            ("example.com", "A"): ["192.0.2.1"],
            ("_spf.example.com", "TXT"): ["v=spf1 a:h.example.com include:amazonses.com ~all"],
            ("h.example.com", "A"): ["192.0.2.2"],
            SES: SES_RECORD,
        }
    )
    ev = await evaluate_spf(
        "example.com", "v=spf1 mx a include:_spf.example.com ip4:192.0.2.0/24 ~all", dns.query
    )
    assert ev.lookups == 5
    assert ev.void_lookups == 0
    assert ev.problems == []
    assert [(s.term, s.domain, s.depth, s.lookups, s.total) for s in ev.steps] == [
        ("mx", "example.com", 0, 1, 1),
        ("a", "example.com", 0, 1, 2),
        ("include:_spf.example.com", "example.com", 0, 1, 3),
        ("a:h.example.com", "_spf.example.com", 1, 1, 4),
        ("include:amazonses.com", "_spf.example.com", 1, 1, 5),
        ("ip4:199.255.192.0/22", "amazonses.com", 2, 0, 5),
        ("-all", "amazonses.com", 2, 0, 5),
        ("~all", "_spf.example.com", 1, 0, 5),
        ("ip4:192.0.2.0/24", "example.com", 0, 0, 5),
        ("~all", "example.com", 0, 0, 5),
    ]
    assert ev.includes("amazonses.com") and ev.includes("_spf.example.com")
    assert ev.all_qualifier == "~"  # the top record's, not the included ones'
    assert ev.steps[2].record == "v=spf1 a:h.example.com include:amazonses.com ~all"


async def test_limit_exceeded_is_counted_through_and_marked() -> None:
    data = {(f"i{n}.example.com", "TXT"): ["v=spf1 -all"] for n in range(12)}
    record = "v=spf1 " + " ".join(f"include:i{n}.example.com" for n in range(12)) + " -all"
    ev = await evaluate_spf("example.com", record, FakeDns(data).query)
    assert ev.lookups == 12
    assert ev.lookup_limit_exceeded
    assert ev.limit_exceeded_at == "'include:i10.example.com' in example.com"
    assert [s.over_limit for s in ev.steps if s.depth == 0][9:12] == [False, True, True]
    assert ev.problems == [
        "evaluating the record takes 12 DNS lookups; the limit is 10 (RFC 7208 §4.6.4) — crossed at "
        "'include:i10.example.com' in example.com"
    ]


async def test_void_lookups_counted_and_limited() -> None:
    dns = FakeDns({("txtonly.example.com", "TXT"): ["hello"]})
    record = "v=spf1 a:nx1.example.com mx:nx2.example.com exists:txtonly.example.com -all"
    ev = await evaluate_spf("example.com", record, dns.query)
    assert ev.lookups == 3
    assert ev.void_lookups == 3
    assert [s.result for s in ev.steps[:3]] == ["nxdomain", "nxdomain", "noanswer"]
    assert ev.void_limit_exceeded
    assert ev.problems == [
        "3 void lookups (no such name, or no records); the limit is 2 (RFC 7208 §4.6.4): "
        "'a:nx1.example.com' in example.com (NXDOMAIN), 'mx:nx2.example.com' in example.com (NXDOMAIN), "
        "'exists:txtonly.example.com' in example.com (no records)"
    ]
    assert ev.dead_terms == ["a:nx1.example.com", "mx:nx2.example.com", "exists:txtonly.example.com"]


async def test_a_is_void_only_without_any_address() -> None:
    dns = FakeDns({("v6.example.com", "AAAA"): ["2001:db8::1"]})
    ev = await evaluate_spf("example.com", "v=spf1 a:v6.example.com -all", dns.query)
    assert ev.void_lookups == 0
    assert ("v6.example.com", "A") in dns.asked and ("v6.example.com", "AAAA") in dns.asked


async def test_include_without_spf_is_a_permerror() -> None:
    dns = FakeDns({("nospf.example.org", "TXT"): ["some verification token"]})
    record = "v=spf1 include:nospf.example.org include:gone.example.org -all"
    ev = await evaluate_spf("example.com", record, dns.query)
    assert ev.permerrors == [
        "'include:nospf.example.org' in example.com: nospf.example.org has no SPF record "
        "(1 TXT record(s), none starts with v=spf1)",
        "'include:gone.example.org' in example.com: gone.example.org has no SPF record (NXDOMAIN)",
    ]
    assert ev.lookups == 2
    assert ev.void_lookups == 1
    assert ev.dead_terms == ["include:nospf.example.org", "include:gone.example.org"]
    assert ev.blocking_permerrors == 0


async def test_redirect_counts_and_gives_the_all() -> None:
    dns = FakeDns({("_spf.example.net", "TXT"): ["v=spf1 mx -all"], ("_spf.example.net", "MX"): ["10 m."]})
    ev = await evaluate_spf("example.com", "v=spf1 ip4:192.0.2.1 redirect=_spf.example.net", dns.query)
    assert [(s.term, s.depth, s.total) for s in ev.steps] == [
        ("ip4:192.0.2.1", 0, 0),
        ("redirect=_spf.example.net", 0, 1),
        ("mx", 1, 2),
        ("-all", 1, 2),
    ]
    assert ev.all_qualifier == "-"


async def test_redirect_ignored_when_all_present_and_terms_after_all_not_evaluated() -> None:
    dns = FakeDns({})
    ev = await evaluate_spf("example.com", "v=spf1 -all mx redirect=x.example.net", dns.query)
    assert ev.lookups == 0
    assert dns.asked == []
    assert [s.note for s in ev.steps] == [
        "",
        "never evaluated: after 'all'",
        "ignored: the record has 'all' (§6.1)",
    ]


async def test_include_loop_is_caught() -> None:
    dns = FakeDns(
        {
            ("a.example.com", "TXT"): ["v=spf1 include:b.example.com -all"],
            ("b.example.com", "TXT"): ["v=spf1 include:a.example.com -all"],
        }
    )
    ev = await evaluate_spf("a.example.com", "v=spf1 include:b.example.com -all", dns.query)
    assert ev.lookups == 2
    assert ev.permerrors == [
        "'include:a.example.com' in b.example.com loops: a.example.com → b.example.com → a.example.com"
    ]


async def test_duplicate_includes_count_again_but_ask_once() -> None:
    dns = FakeDns({SES: SES_RECORD})
    ev = await evaluate_spf(
        "example.com", "v=spf1 include:amazonses.com include:amazonses.com -all", dns.query
    )
    assert ev.lookups == 2
    assert dns.asked.count(SES) == 1


async def test_macros_and_ptr_are_counted_not_resolved() -> None:
    dns = FakeDns({})
    record = "v=spf1 exists:%{i}._spf.example.com include:%{d}.x.example.com ptr a:%{d} -all"
    ev = await evaluate_spf("example.com", record, dns.query)
    assert ev.lookups == 4
    assert dns.asked == []
    assert [s.note for s in ev.steps[:4]] == [
        "has a macro: counted, not expanded",
        "has a macro: counted, not followed",
        "counted, not resolved (needs the sender's IP)",
        "has a macro: counted, not expanded",
    ]


async def test_more_than_ten_mx_names_is_an_error() -> None:
    dns = FakeDns({("example.com", "MX"): [f"10 mx{n}.example.com." for n in range(11)]})
    ev = await evaluate_spf("example.com", "v=spf1 mx -all", dns.query)
    assert ev.lookups == 1
    assert ev.permerrors == [
        "'mx' in example.com: example.com has 11 MX names; the limit is 10 (RFC 7208 §4.6.4)"
    ]


async def test_servfail_inside_is_a_temperror() -> None:
    dns = FakeDns({}, servfail=("broken.example.net",))
    ev = await evaluate_spf("example.com", "v=spf1 include:broken.example.net -all", dns.query)
    assert ev.permerrors == []
    assert ev.temperrors == [
        "'include:broken.example.net' in example.com: the TXT lookup of broken.example.net got SERVFAIL"
    ]


async def test_a_name_the_resolver_cannot_build_is_a_permerror_not_asked() -> None:
    domain = "a" * 64 + ".example.com"  # only reachable through the domain itself: specs are parsed
    dns = FakeDns({})
    ev = await evaluate_spf(domain, "v=spf1 a mx -all", dns.query)
    assert dns.asked == []
    assert ev.temperrors == []
    assert ev.permerrors == [
        f"'{term}' in {domain}: {domain!r} has a label of 64 characters (at most 63, RFC 1035)"
        for term in ("a", "mx")
    ]
    assert [s.note for s in ev.steps[:2]] == ["not a name DNS can look up"] * 2


async def test_syntax_error_in_included_record() -> None:
    dns = FakeDns({("bad.example.net", "TXT"): ["v=spf1 ip4:1.2.3.4.5 -all"]})
    ev = await evaluate_spf("example.com", "v=spf1 include:bad.example.net -all", dns.query)
    assert ev.permerrors == [
        "'include:bad.example.net' in example.com: the record at bad.example.net is invalid: "
        "term 'ip4:1.2.3.4.5' is not a valid IPv4 network"
    ]


async def test_hard_cap_stops_following_wide_trees() -> None:
    # Each record includes ten more: without a cap this would be 10**depth lookups.
    data: dict[tuple[str, str], list[str]] = {}
    names = [f"n{i}.example.com" for i in range(200)]
    for i, name in enumerate(names):
        children = [names[(i * 10 + k + 1) % len(names)] for k in range(10)]
        data[(name, "TXT")] = ["v=spf1 " + " ".join(f"include:{c}" for c in children) + " -all"]
    dns = FakeDns(data)
    ev = await evaluate_spf("n0.example.com", data[("n0.example.com", "TXT")][0], dns.query, hard_cap=30)
    assert ev.truncated
    assert ev.lookups > 30  # include terms in records already open are still counted, not followed
    assert len(dns.asked) <= 100  # each record opened asks for its ten includes at once
    assert ev.problems[-1].startswith("evaluating the record takes at least ")


async def test_table_text_shows_running_total() -> None:
    dns = FakeDns({SES: SES_RECORD})
    ev = await evaluate_spf("example.com", "v=spf1 include:amazonses.com ~all", dns.query)
    lines = ev.table_text().splitlines()
    assert "include:amazonses.com" in lines[1] and lines[1].split()[-2:] == ["1", "0"]
    assert lines[-1] == "total: 1 of 10 lookups, 0 of 2 void"
