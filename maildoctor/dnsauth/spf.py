"""SPF (RFC 7208): parse a record, and count the DNS lookups evaluating it takes.

``parse_spf`` is pure and raises only :class:`SpfSyntaxError`, whose message names the offending term.
``evaluate_spf`` walks a parsed record the way a receiver would in the worst case (no mechanism
matches, so every term is evaluated), following ``include:`` and ``redirect=``, and counts as
RFC 7208 §4.6.4 does:

* ``include``, ``a``, ``mx``, ``ptr``, ``exists`` and the ``redirect`` modifier count one lookup each
  toward the limit of 10, nested ones included; ``all``, ``ip4``, ``ip6`` and ``exp`` count nothing;
* a term whose lookup gets NXDOMAIN or an empty answer is a *void lookup*; more than 2 is an error;
* an ``mx`` term's address lookups do not count toward 10, but more than 10 MX names is an error;
* terms with macros (``%{i}``) are counted but not expanded, and ``ptr`` is counted but not resolved
  (both need the connecting client's address).

It does not stop at 11 the way a receiver does: it keeps counting (up to :data:`HARD_CAP`) so that the
report can say how far over the limit a record is, and marks the term where the limit was crossed.
Every step is kept in :attr:`SpfEvaluation.steps`, the count mechanism by mechanism.
"""

from __future__ import annotations

import asyncio
import difflib
import ipaddress
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from maildoctor.clients.dns import DnsAnswer

LookupFn = Callable[[str, str], Awaitable["DnsAnswer"]]

MECHANISMS: tuple[str, ...] = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
LOOKUP_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})
QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
LOOKUP_LIMIT = 10  # RFC 7208 §4.6.4
VOID_LIMIT = 2  # RFC 7208 §4.6.4
MX_NAME_LIMIT = 10  # RFC 7208 §4.6.4
HARD_CAP = 30  # stop following includes once this many lookups are counted: enough to say "how far over"
MAX_DEPTH = 12  # include/redirect nesting; deeper than this is over the limit anyway
RECORD_SIZE_WARNING = 450  # RFC 7208 §3.4: keep the answer under 512 bytes


class SpfSyntaxError(ValueError):
    """An SPF record that does not follow RFC 7208 §12; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


@dataclass(frozen=True)
class Mechanism:
    """A directive: ``[qualifier] name [:domain-spec] [/cidr]``."""

    text: str
    qualifier: str  # "+", "-", "~" or "?" ("+" when the record gives none)
    name: str  # lower-case, one of MECHANISMS
    domain_spec: str | None = None
    ip4_cidr: int | None = None
    ip6_cidr: int | None = None
    network: str | None = None  # ip4/ip6: the network in normalized form

    @property
    def result(self) -> str:
        return QUALIFIERS[self.qualifier]

    @property
    def has_macro(self) -> bool:
        return "%" in (self.domain_spec or "")

    @property
    def counts_lookup(self) -> bool:
        return self.name in LOOKUP_MECHANISMS


@dataclass(frozen=True)
class Modifier:
    """``name=value``: ``redirect``, ``exp`` or an unknown modifier (allowed and ignored, RFC 7208 §6)."""

    text: str
    name: str  # lower-case
    value: str

    @property
    def has_macro(self) -> bool:
        return "%" in self.value


Term = Mechanism | Modifier


@dataclass(frozen=True)
class SpfRecord:
    text: str
    terms: tuple[Term, ...]
    warnings: tuple[str, ...] = ()

    @property
    def mechanisms(self) -> list[Mechanism]:
        return [t for t in self.terms if isinstance(t, Mechanism)]

    @property
    def modifiers(self) -> list[Modifier]:
        return [t for t in self.terms if isinstance(t, Modifier)]

    def modifier(self, name: str) -> Modifier | None:
        return next((m for m in self.modifiers if m.name == name), None)

    @property
    def redirect(self) -> Modifier | None:
        return self.modifier("redirect")

    @property
    def exp(self) -> Modifier | None:
        return self.modifier("exp")

    @property
    def all(self) -> Mechanism | None:
        """The first ``all`` mechanism: evaluation never goes past it."""
        return next((m for m in self.mechanisms if m.name == "all"), None)


# ------------------------------------------------------------------------------------------- parsing

_MODIFIER_RE = re.compile(r"([A-Za-z][A-Za-z0-9_.\-]*)=(.*)", re.DOTALL)
_NAME_RE = re.compile(r"[A-Za-z0-9]*")
_DUAL_CIDR_RE = re.compile(r"(?:/(\d+))?(?://(\d+))?\Z")
_IP4_RE = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_CIDR_RE = re.compile(r"0|[1-9]\d*")
_TOPLABEL_RE = re.compile(r"[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9\-]*[A-Za-z0-9]")
_MACRO_LETTERS = frozenset("slodiphcrtv")
_EXP_ONLY_MACRO_LETTERS = frozenset("crt")  # RFC 7208 §7.1: only in explanation text, never in a record
_NOT_SP_WHITESPACE_RE = re.compile(r"[^\S ]")  # TAB, CR, LF, ...: only SP separates terms (§4.6.1)
MAX_LABEL = 63  # RFC 1035 §2.3.4
MAX_NAME = 253  # RFC 1035 §2.3.4: 255 octets on the wire, 253 characters in text
_MACRO_DELIMITERS = frozenset(".-+,/_=")
_MACRO_EXPAND_RE = re.compile(r"%\{([A-Za-z])(\d*)([rR]?)([.\-+,/_=]*)\}")


def is_spf_record(text: str) -> bool:
    """RFC 7208 §4.5: exactly ``v=spf1``, or ``v=spf1`` followed by a space (any case)."""
    lowered = text.lower()
    return lowered == "v=spf1" or lowered.startswith("v=spf1 ")


def find_spf_records(txt_records: Iterable[str]) -> list[str]:
    """The SPF records among a name's TXT records (their strings already joined)."""
    return [t for t in txt_records if is_spf_record(t)]


def _macro_string_error(value: str) -> str | None:
    """Why ``value`` is not a macro-string (RFC 7208 §7.1), or None."""
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "%":
            nxt = value[i + 1 : i + 2]
            if nxt in ("%", "_", "-"):
                i += 2
                continue
            m = _MACRO_EXPAND_RE.match(value, i)
            if m is None:
                return f"bad macro at {value[i : i + 12]!r} (expected %{{letter...}}, %%, %_ or %-)"
            if m.group(1).lower() not in _MACRO_LETTERS:
                return f"unknown macro letter {m.group(1)!r} in {m.group(0)!r}"
            if m.group(1).lower() in _EXP_ONLY_MACRO_LETTERS:
                return (
                    f"macro {m.group(0)!r} is allowed only in explanation text, not in a record "
                    "(RFC 7208 §7.1)"
                )
            i = m.end()
            continue
        if not 0x21 <= ord(ch) <= 0x7E:
            return f"character {ch!r} is not allowed"
        i += 1
    return None


def dns_name_error(name: str) -> str | None:
    """Why no DNS query can be made for ``name`` (an empty label, a label over 63 or a name over 253
    characters, RFC 1035 §2.3.4), or None. A trailing dot is allowed."""
    body = name[:-1] if name.endswith(".") else name
    if not body:
        return "the name is empty"
    labels = body.split(".")
    if any(label == "" for label in labels):
        return f"{name!r} has an empty label"
    long_label = next((label for label in labels if len(label) > MAX_LABEL), None)
    if long_label is not None:
        return f"{name!r} has a label of {len(long_label)} characters (at most {MAX_LABEL}, RFC 1035)"
    if len(body) > MAX_NAME:
        return f"{name!r} is {len(body)} characters long (at most {MAX_NAME}, RFC 1035)"
    return None


def _ends_with_macro(value: str) -> bool:
    return bool(re.search(r"(%\{[^}]*\}|%[%_\-])\Z", value))


def _domain_spec_error(spec: str) -> str | None:
    """Why ``spec`` is not a domain-spec (RFC 7208 §7.1: macro-string domain-end), or None."""
    if not spec:
        return "the domain is empty"
    err = _macro_string_error(spec)
    if err:
        return err
    if _ends_with_macro(spec):
        return None
    body = spec[:-1] if spec.endswith(".") else spec
    head, dot, toplabel = body.rpartition(".")
    if not dot or not head or not _TOPLABEL_RE.fullmatch(toplabel):
        return f"{spec!r} is not a fully qualified domain name"
    if "%" not in spec:
        return dns_name_error(spec)
    return None


def _cidr(text: str | None, maximum: int) -> int | None:
    """Parse a CIDR length (no leading zeros); raises ValueError when malformed or out of range."""
    if text is None:
        return None
    if not _CIDR_RE.fullmatch(text) or int(text) > maximum:
        raise ValueError(text)
    return int(text)


def _suggest(name: str) -> str:
    close = difflib.get_close_matches(name.lower(), MECHANISMS, n=1, cutoff=0.7)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _parse_mechanism(term: str) -> Mechanism:
    """Parse one directive; raises ValueError with the message to show."""
    qualifier = term[0] if term[:1] in QUALIFIERS else ""
    rest = term[len(qualifier) :]
    if qualifier and _MODIFIER_RE.fullmatch(rest):
        raise ValueError(f"term '{term}': a modifier cannot have a qualifier")
    name_match = _NAME_RE.match(rest)
    raw_name = name_match.group(0) if name_match else ""
    name = raw_name.lower()
    arg = rest[len(raw_name) :]
    if name not in MECHANISMS:
        return_hint = _suggest(raw_name) if raw_name else ""
        raise ValueError(f"unknown mechanism '{term}'{return_hint}")
    q = qualifier or "+"
    if name == "all":
        if arg:
            raise ValueError(f"term '{term}': 'all' takes no argument")
        return Mechanism(term, q, name)
    if name in ("include", "exists"):
        if not arg.startswith(":") or not arg[1:]:
            raise ValueError(f"term '{term}': '{name}' needs a domain ('{name}:example.com')")
        err = _domain_spec_error(arg[1:])
        if err:
            raise ValueError(f"term '{term}': {err}")
        return Mechanism(term, q, name, domain_spec=arg[1:])
    if name == "ptr":
        if not arg:
            return Mechanism(term, q, name)
        if not arg.startswith(":"):
            raise ValueError(f"term '{term}': 'ptr' takes only ':domain' (no CIDR length)")
        err = _domain_spec_error(arg[1:])
        if err:
            raise ValueError(f"term '{term}': {err}")
        return Mechanism(term, q, name, domain_spec=arg[1:])
    if name in ("a", "mx"):
        cidr_match = _DUAL_CIDR_RE.search(arg)
        assert cidr_match is not None  # every string ends with an empty match
        try:
            ip4_cidr = _cidr(cidr_match.group(1), 32)
            ip6_cidr = _cidr(cidr_match.group(2), 128)
        except ValueError:
            raise ValueError(
                f"term '{term}': CIDR length {cidr_match.group(0)!r} is not valid "
                "(IPv4 0-32, IPv6 //0-128, no leading zeros)"
            ) from None
        spec_part = arg[: cidr_match.start()]
        if not spec_part:
            return Mechanism(term, q, name, ip4_cidr=ip4_cidr, ip6_cidr=ip6_cidr)
        if not spec_part.startswith(":"):
            raise ValueError(
                f"term '{term}' is malformed (expected '{name}', '{name}:domain' or '{name}/cidr')"
            )
        err = _domain_spec_error(spec_part[1:])
        if err:
            raise ValueError(f"term '{term}': {err}")
        return Mechanism(term, q, name, domain_spec=spec_part[1:], ip4_cidr=ip4_cidr, ip6_cidr=ip6_cidr)
    # ip4 / ip6
    value = arg[1:] if arg.startswith(":") else ""
    if name == "ip4":
        address, _, cidr_text = value.partition("/")
        try:
            if not _IP4_RE.fullmatch(address):
                raise ValueError(address)
            cidr = _cidr(cidr_text if "/" in value else None, 32)
            network = ipaddress.IPv4Network(f"{address}/{32 if cidr is None else cidr}", strict=False)
        except ValueError:
            raise ValueError(f"term '{term}' is not a valid IPv4 network") from None
        return Mechanism(term, q, name, ip4_cidr=cidr, network=str(network))
    address, _, cidr_text = value.rpartition("/") if "/" in value else (value, "", "")
    try:
        if not address or "%" in address or ":" not in address:
            raise ValueError(address)
        cidr = _cidr(cidr_text if "/" in value else None, 128)
        network6 = ipaddress.IPv6Network(f"{address}/{128 if cidr is None else cidr}", strict=False)
    except ValueError:
        raise ValueError(f"term '{term}' is not a valid IPv6 network") from None
    return Mechanism(term, q, name, ip6_cidr=cidr, network=str(network6))


def parse_spf(text: str) -> SpfRecord:
    """Parse an SPF record (RFC 7208 §4.5, §5, §6, §12). Raises SpfSyntaxError naming every bad term."""
    if not isinstance(text, str):
        raise SpfSyntaxError([f"an SPF record is text, not {type(text).__name__}"])
    tokens = [t for t in text.split(" ") if t]  # RFC 7208 §4.6.1: terms are separated by SP alone
    if not tokens or tokens[0].lower() != "v=spf1":
        shown = tokens[0] if tokens else ""
        raise SpfSyntaxError([f"the record must start with 'v=spf1' (found {shown!r})"])
    errors: list[str] = []
    warnings: list[str] = []
    terms: list[Term] = []
    seen_modifiers: set[str] = set()
    for token in tokens[1:]:
        other_space = _NOT_SP_WHITESPACE_RE.search(token)
        if other_space:
            errors.append(
                f"term {token!r} contains {other_space.group(0)!r}: only spaces separate terms "
                "(RFC 7208 §4.6.1)"
            )
            continue
        modifier = _MODIFIER_RE.fullmatch(token)
        if modifier:
            name, value = modifier.group(1).lower(), modifier.group(2)
            if name in ("redirect", "exp"):
                if name in seen_modifiers:
                    errors.append(f"'{name}=' appears more than once (RFC 7208 §6)")
                    continue
                err = _domain_spec_error(value)
                if err:
                    errors.append(f"term '{token}': {err}")
                    continue
            else:
                err = _macro_string_error(value)
                if err:
                    errors.append(f"term '{token}': {err}")
                    continue
                hint = _suggest(name)
                warnings.append(f"unknown modifier '{token}' is ignored{hint}")
            seen_modifiers.add(name)
            terms.append(Modifier(token, name, value))
            continue
        try:
            terms.append(_parse_mechanism(token))
        except ValueError as exc:
            errors.append(str(exc))
    if errors:
        raise SpfSyntaxError(errors)
    mechanisms = [t for t in terms if isinstance(t, Mechanism)]
    all_index = next((i for i, m in enumerate(mechanisms) if m.name == "all"), None)
    if all_index is not None and all_index < len(mechanisms) - 1:
        after = " ".join(m.text for m in mechanisms[all_index + 1 :])
        warnings.append(f"terms after 'all' are never evaluated: {after}")
    if all_index is not None and any(isinstance(t, Modifier) and t.name == "redirect" for t in terms):
        warnings.append("'redirect=' is ignored because the record has an 'all' mechanism (RFC 7208 §6.1)")
    if any(m.name == "ptr" for m in mechanisms):
        warnings.append("'ptr' is slow and unreliable; RFC 7208 §5.5 says not to use it")
    if len(text.encode("utf-8")) > RECORD_SIZE_WARNING:
        warnings.append(f"the record is {len(text.encode('utf-8'))} bytes; RFC 7208 §3.4 advises under 450")
    return SpfRecord(text=text, terms=tuple(terms), warnings=tuple(warnings))


def fix_typos(text: str) -> str | None:
    """The record with mis-spelt mechanism names corrected (``inlcude:`` -> ``include:``), if that
    makes it parse; None when it cannot be fixed that way."""
    tokens = text.split()
    if not tokens or tokens[0].lower() != "v=spf1":
        return None
    fixed = [tokens[0]]
    for token in tokens[1:]:
        if _MODIFIER_RE.fullmatch(token):
            fixed.append(token)
            continue
        try:
            _parse_mechanism(token)
        except ValueError:
            pass
        else:
            fixed.append(token)
            continue
        qualifier = token[0] if token[:1] in QUALIFIERS else ""
        rest = token[len(qualifier) :]
        name_match = _NAME_RE.match(rest)
        raw = name_match.group(0) if name_match else ""
        close = difflib.get_close_matches(raw.lower(), MECHANISMS, n=1, cutoff=0.7)
        if not raw or not close:
            return None
        fixed.append(qualifier + close[0] + rest[len(raw) :])
    candidate = " ".join(fixed)
    try:
        parse_spf(candidate)
    except SpfSyntaxError:
        return None
    return candidate


def build_record(terms: Iterable[str]) -> str:
    return " ".join(["v=spf1", *terms])


def with_include(record: SpfRecord, domain: str) -> str:
    """The record with ``include:domain`` added just before its ``all`` (or before the modifiers)."""
    texts = [t.text for t in record.terms]
    all_term = record.all
    if all_term is not None:
        index = texts.index(all_term.text)
    else:
        index = next((i for i, t in enumerate(record.terms) if isinstance(t, Modifier)), len(texts))
    texts.insert(index, f"include:{domain}")
    return build_record(texts)


def merge_records(records: list[SpfRecord]) -> str:
    """One record with the mechanisms of several (duplicates dropped), for "more than one SPF record".

    The ``all`` of the first record that has one is kept (``~all`` when none has); ``redirect=`` is kept
    only when no record has an ``all``; the first ``exp=`` is kept.
    """
    mechanisms: list[str] = []
    seen: set[str] = set()
    for record in records:
        for m in record.mechanisms:
            if m.name == "all":
                continue
            key = m.text.lower().lstrip("+")
            if key not in seen:
                seen.add(key)
                mechanisms.append(m.text)
    all_term = next((r.all.text for r in records if r.all is not None), None)
    redirect = next((r.redirect.text for r in records if r.redirect is not None), None)
    exp = next((r.exp.text for r in records if r.exp is not None), None)
    tail: list[str] = []
    if all_term is not None or redirect is None:
        tail.append(all_term or "~all")
    else:
        tail.append(redirect)
    if exp:
        tail.append(exp)
    return build_record(mechanisms + tail)


# ---------------------------------------------------------------------------------------- evaluation


@dataclass
class LookupStep:
    """One row of the lookup table: a term, where it is, and what it did to the counts."""

    domain: str  # the domain whose record holds the term
    depth: int  # 0 = the domain checked, 1 = a record it includes, ...
    term: str
    mechanism: str  # "include", "a", ..., "redirect", "exp", or the unknown modifier's name
    target: str = ""  # the name looked up, if any
    lookups: int = 0  # what this term adds toward the limit of 10 (0 or 1)
    total: int = 0  # the running total after this term
    void: bool = False
    void_total: int = 0
    result: str = ""  # the DNS outcome: ok / nxdomain / noanswer / servfail / timeout / error
    note: str = ""
    record: str = ""  # include / redirect: the SPF record found at the target
    over_limit: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "depth": self.depth,
            "term": self.term,
            "mechanism": self.mechanism,
            "target": self.target,
            "lookups": self.lookups,
            "total": self.total,
            "void": self.void,
            "void_total": self.void_total,
            "result": self.result,
            "note": self.note,
            "record": self.record,
            "over_limit": self.over_limit,
        }


@dataclass
class SpfEvaluation:
    domain: str
    record: str
    steps: list[LookupStep] = field(default_factory=list)
    lookups: int = 0
    void_lookups: int = 0
    permerrors: list[str] = field(default_factory=list)
    temperrors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    answers: list[DnsAnswer] = field(default_factory=list)  # every lookup made, in the order asked
    include_domains: list[str] = field(default_factory=list)  # include/redirect targets, nested too
    dead_terms: list[str] = field(default_factory=list)  # top-level terms that match nothing (void)
    truncated: bool = False  # stopped following at HARD_CAP / MAX_DEPTH: the real count is higher
    all_qualifier: str | None = None  # of the `all` that ends the evaluation (through redirects)
    limit_exceeded_at: str | None = None  # "term in domain" where the count went past 10
    void_terms: list[str] = field(default_factory=list)
    blocking_permerrors: int = 0  # permerrors that removing dead_terms would not cure

    @property
    def lookup_limit_exceeded(self) -> bool:
        return self.lookups > LOOKUP_LIMIT

    @property
    def void_limit_exceeded(self) -> bool:
        return self.void_lookups > VOID_LIMIT

    @property
    def problems(self) -> list[str]:
        """Everything that makes the record a permerror, one line each."""
        out = list(self.permerrors)
        if self.lookup_limit_exceeded:
            at_least = "at least " if self.truncated else ""
            out.append(
                f"evaluating the record takes {at_least}{self.lookups} DNS lookups; the limit is "
                f"{LOOKUP_LIMIT} (RFC 7208 §4.6.4) — crossed at {self.limit_exceeded_at}"
            )
        if self.void_limit_exceeded:
            out.append(
                f"{self.void_lookups} void lookups (no such name, or no records); the limit is {VOID_LIMIT} "
                f"(RFC 7208 §4.6.4): {', '.join(self.void_terms)}"
            )
        return out

    def includes(self, domain: str) -> bool:
        return domain.lower().rstrip(".") in self.include_domains

    def table(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.steps]

    def table_text(self) -> str:
        """The lookup count as a fixed-width table for evidence."""
        header = f"{'#':>3} {'term':<44} {'in':<28} {'+':>2} {'total':>5} {'void':>4}  note"
        lines = [header]
        for i, s in enumerate(self.steps, 1):
            term = ("  " * s.depth + s.term)[:44]
            void = f"{s.void_total}*" if s.void else str(s.void_total)
            mark = " !" if s.over_limit and s.lookups else ""
            note = s.note or (s.result if s.result and s.result != "ok" else "")
            lines.append(
                f"{i:>3} {term:<44} {s.domain[:28]:<28} {s.lookups:>2} {s.total:>5}{mark:<2}{void:>4}  {note}"
            )
        lines.append(
            f"total: {self.lookups} of {LOOKUP_LIMIT} lookups, {self.void_lookups} of {VOID_LIMIT} void"
        )
        return "\n".join(lines)


_TEMP_RCODES = ("servfail", "timeout", "error")


def _rcode_text(answer: DnsAnswer) -> str:
    return {
        "ok": "ok",
        "nxdomain": "NXDOMAIN",
        "noanswer": f"no {answer.rdtype} record",
        "servfail": "SERVFAIL",
        "timeout": "timeout",
        "error": f"error ({answer.detail})" if answer.detail else "error",
    }[answer.rcode]


class _Walker:
    def __init__(self, lookup: LookupFn, evaluation: SpfEvaluation, hard_cap: int) -> None:
        self.lookup = lookup
        self.ev = evaluation
        self.hard_cap = hard_cap
        self.cache: dict[tuple[str, str], asyncio.Task[DnsAnswer]] = {}

    async def query(self, name: str, rdtype: str) -> DnsAnswer:
        key = (name.lower().rstrip("."), rdtype)
        task = self.cache.get(key)
        if task is None:
            task = asyncio.ensure_future(self.lookup(key[0], rdtype))
            self.cache[key] = task
        return await task

    def answers(self) -> list[DnsAnswer]:
        return [
            t.result() for t in self.cache.values() if t.done() and not t.cancelled() and not t.exception()
        ]

    def _targets(self, domain: str, record: SpfRecord) -> list[tuple[str, str]]:
        """The lookups one record's evaluation will make, to ask them all at once."""
        targets: list[tuple[str, str]] = []
        for m in record.mechanisms:
            if m.name == "all":
                break
            if not m.counts_lookup or m.has_macro or m.name == "ptr":
                continue
            name = (m.domain_spec or domain).rstrip(".").lower()
            if dns_name_error(name):
                continue
            if m.name == "a":
                targets += [(name, "A"), (name, "AAAA")]
            elif m.name == "mx":
                targets.append((name, "MX"))
            elif m.name == "exists":
                targets.append((name, "A"))
            else:
                targets.append((name, "TXT"))
        redirect = record.redirect
        if (
            redirect is not None
            and record.all is None
            and not redirect.has_macro
            and not dns_name_error(redirect.value)
        ):
            targets.append((redirect.value.rstrip(".").lower(), "TXT"))
        return targets

    def _add(self, step: LookupStep) -> None:
        if step.lookups:
            self.ev.lookups += step.lookups
            if self.ev.lookups > LOOKUP_LIMIT and self.ev.limit_exceeded_at is None:
                self.ev.limit_exceeded_at = f"'{step.term}' in {step.domain}"
        if step.void:
            self.ev.void_lookups += 1
            why = "NXDOMAIN" if step.result == "nxdomain" else "no records"
            self.ev.void_terms.append(f"'{step.term}' in {step.domain} ({why})")
            if step.depth == 0 and step.term not in self.ev.dead_terms:
                self.ev.dead_terms.append(step.term)
        step.total = self.ev.lookups
        step.void_total = self.ev.void_lookups
        step.over_limit = self.ev.lookups > LOOKUP_LIMIT
        self.ev.steps.append(step)

    def _permerror(self, step: LookupStep, message: str, *, removable: bool = False) -> None:
        """A permanent error; ``removable``: dropping this top-level term from the record cures it."""
        self.ev.permerrors.append(message)
        if removable and step.depth == 0:
            if step.term not in self.ev.dead_terms:
                self.ev.dead_terms.append(step.term)
        else:
            self.ev.blocking_permerrors += 1

    def _unbuildable(self, step: LookupStep, target: str) -> bool:
        """A name no DNS query can be made for is a permanent error, not a failed lookup."""
        err = dns_name_error(target)
        if err is None:
            return False
        step.note = "not a name DNS can look up"
        self._permerror(step, f"'{step.term}' in {step.domain}: {err}")
        self._add(step)
        return True

    def _note_answer(self, step: LookupStep, answer: DnsAnswer) -> bool:
        """Record the DNS outcome on the step; True when the evaluation can go on with it."""
        step.result = answer.rcode
        if answer.void:
            step.void = True
            return False
        if answer.rcode in _TEMP_RCODES:
            step.note = f"{_rcode_text(answer)}: could not be evaluated"
            self.ev.temperrors.append(
                f"'{step.term}' in {step.domain}: the {answer.rdtype} lookup of {answer.name} got "
                f"{_rcode_text(answer)}"
            )
            return False
        return True

    async def walk(
        self, domain: str, record: SpfRecord, depth: int, chain: tuple[str, ...], main: bool
    ) -> None:
        if self.ev.lookups <= self.hard_cap:
            await asyncio.gather(*(self.query(n, t) for n, t in self._targets(domain, record)))
        all_seen = False
        for term in record.terms:
            if isinstance(term, Modifier):
                if term.name == "redirect":
                    continue
                note = (
                    "looked up only after a fail; not counted (RFC 7208 §6.2)"
                    if term.name == "exp"
                    else "unknown modifier: ignored (RFC 7208 §6)"
                )
                self._add(LookupStep(domain, depth, term.text, term.name, note=note))
                continue
            if all_seen:
                self._add(
                    LookupStep(domain, depth, term.text, term.name, note="never evaluated: after 'all'")
                )
                continue
            if term.name == "all":
                all_seen = True
                if main:
                    self.ev.all_qualifier = term.qualifier
            await self.mechanism(domain, term, depth, chain)
        redirect = record.redirect
        if redirect is not None:
            if all_seen:
                self._add(
                    LookupStep(
                        domain, depth, redirect.text, "redirect", note="ignored: the record has 'all' (§6.1)"
                    )
                )
            else:
                step = LookupStep(domain, depth, redirect.text, "redirect", lookups=1)
                await self.follow(step, redirect.value, redirect.has_macro, depth, chain, main)

    async def mechanism(self, domain: str, m: Mechanism, depth: int, chain: tuple[str, ...]) -> None:
        step = LookupStep(domain, depth, m.text, m.name)
        if not m.counts_lookup:
            self._add(step)
            return
        step.lookups = 1
        if m.name == "include":
            assert m.domain_spec is not None
            await self.follow(step, m.domain_spec, m.has_macro, depth, chain, False)
            return
        if m.has_macro:
            step.note = "has a macro: counted, not expanded"
            self._add(step)
            return
        if m.name == "ptr":
            step.note = "counted, not resolved (needs the sender's IP)"
            self._add(step)
            return
        if self.ev.lookups >= self.hard_cap:
            step.note = "not looked up: far over the limit already"
            self.ev.truncated = True
            self._add(step)
            return
        target = (m.domain_spec or domain).rstrip(".").lower()
        step.target = target
        if self._unbuildable(step, target):
            return
        if m.name == "a":
            a, aaaa = await asyncio.gather(self.query(target, "A"), self.query(target, "AAAA"))
            # Void only when the name has no address of either family; a failure of either is a temperror.
            if a.ok or aaaa.ok:
                answer = a if a.ok else aaaa
            elif aaaa.rcode in _TEMP_RCODES:
                answer = aaaa
            else:
                answer = a
            if self._note_answer(step, answer):
                step.note = f"{len(a.records) + len(aaaa.records)} address(es)"
        elif m.name == "mx":
            answer = await self.query(target, "MX")
            if self._note_answer(step, answer):
                count = len(answer.records)
                step.note = f"{count} MX name(s)"
                if count > MX_NAME_LIMIT:
                    self._permerror(
                        step,
                        f"'{m.text}' in {domain}: {target} has {count} MX names; the limit is "
                        f"{MX_NAME_LIMIT} (RFC 7208 §4.6.4)",
                    )
        else:  # exists
            answer = await self.query(target, "A")
            self._note_answer(step, answer)
        self._add(step)

    async def follow(
        self, step: LookupStep, spec: str, has_macro: bool, depth: int, chain: tuple[str, ...], main: bool
    ) -> None:
        """An include: or redirect= step: count it, then walk the target's record."""
        kind = step.mechanism
        if has_macro:
            step.note = "has a macro: counted, not followed"
            self._add(step)
            return
        target = spec.rstrip(".").lower()
        step.target = target
        if self._unbuildable(step, target):
            return
        self.ev.include_domains.append(target)
        if target in chain:
            step.note = "loop"
            self._permerror(step, f"'{step.term}' in {step.domain} loops: {' → '.join((*chain, target))}")
            self._add(step)
            return
        if self.ev.lookups >= self.hard_cap or depth >= MAX_DEPTH:
            step.note = "not followed: far over the limit already"
            self.ev.truncated = True
            self._add(step)
            return
        answer = await self.query(target, "TXT")
        if not self._note_answer(step, answer):
            if answer.void:
                step.note = f"{_rcode_text(answer)}: no SPF record"
                self._permerror(
                    step,
                    f"'{step.term}' in {step.domain}: {target} has no SPF record ({_rcode_text(answer)})",
                    removable=kind == "include",
                )
            self._add(step)
            return
        found = find_spf_records(answer.records)
        if len(found) != 1:
            step.note = "no SPF record" if not found else f"{len(found)} SPF records"
            what = (
                f"has no SPF record ({len(answer.records)} TXT record(s), none starts with v=spf1)"
                if not found
                else f"has {len(found)} SPF records (there must be one)"
            )
            self._permerror(
                step,
                f"'{step.term}' in {step.domain}: {target} {what}",
                removable=not found and kind == "include",
            )
            self._add(step)
            return
        step.record = found[0]
        try:
            record = parse_spf(found[0])
        except SpfSyntaxError as exc:
            step.note = "syntax error"
            self._permerror(step, f"'{step.term}' in {step.domain}: the record at {target} is invalid: {exc}")
            self._add(step)
            return
        self._add(step)
        await self.walk(target, record, depth + 1, (*chain, target), main and kind == "redirect")


async def evaluate_spf(
    domain: str, record: SpfRecord | str, lookup: LookupFn, *, hard_cap: int = HARD_CAP
) -> SpfEvaluation:
    """Count the DNS lookups evaluating ``record`` (published at ``domain``) takes, following includes
    and redirects through ``lookup(name, rdtype)``. Raises SpfSyntaxError if ``record`` is text that
    does not parse; syntax errors in included records are reported as permerrors instead."""
    parsed = parse_spf(record) if isinstance(record, str) else record
    name = domain.strip().rstrip(".").lower()
    evaluation = SpfEvaluation(domain=name, record=parsed.text, warnings=list(parsed.warnings))
    walker = _Walker(lookup, evaluation, hard_cap)
    try:
        await walker.walk(name, parsed, 0, (name,), True)
    finally:
        evaluation.answers = walker.answers()
    return evaluation
