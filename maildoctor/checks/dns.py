"""DNS checks: SPF, DMARC, the Easy DKIM CNAMEs and the custom MAIL FROM domain.

Every lookup goes through ``ctx.clients.dns``. A SERVFAIL or timeout on a check's main lookup means the
check could not be made (outcome ``error``); NXDOMAIN and "no such record" are answers, and say so.
Evidence always carries the answers as found, failing or not. ``records_to_add`` is zone-file text for
the fix. The helpers :func:`analyze_spf`, :func:`analyze_dmarc`, :func:`check_dkim_tokens` and
:func:`analyze_mail_from` are usable on their own (``ses.dkim`` and ``ses.mail_from`` use them).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import Field

from maildoctor.checks.common import Analysis, could_not_check
from maildoctor.checks.registry import Args, CheckContext, CheckResult, Evidence, Facts, Status, check
from maildoctor.clients.dns import DnsAnswer
from maildoctor.dnsauth.dmarc import DmarcRecord, find_dmarc_records, parse_dmarc
from maildoctor.dnsauth.domains import (
    is_subdomain,
    normalize_domain,
    organizational_domain,
    zone_line,
    zone_txt_line,
)
from maildoctor.dnsauth.spf import (
    LOOKUP_LIMIT,
    VOID_LIMIT,
    SpfEvaluation,
    SpfRecord,
    SpfSyntaxError,
    build_record,
    dns_name_error,
    evaluate_spf,
    find_spf_records,
    fix_typos,
    merge_records,
    parse_spf,
    with_include,
)

SES_SPF_INCLUDE = "amazonses.com"
DEFAULT_REGION = "us-east-1"
TXT_TTL = 300
MX_TTL = 300
DKIM_TTL = 1800
DKIM_ZONE = "dkim.amazonses.com"  # Easy DKIM's zone when SES names no SigningHostedZone
_FAILED = ("servfail", "timeout", "error")
_WRONG = ("missing", "no-cname", "wrong-target", "no-txt", "no-key", "revoked")


class DnsQuery(Protocol):
    async def query(self, name: str, rdtype: str) -> DnsAnswer: ...


def rcode_phrase(answer: DnsAnswer) -> str:
    """How a lookup went, for a summary: 'NXDOMAIN (the name does not exist)', 'SERVFAIL', ..."""
    return {
        "ok": f"{len(answer.records)} {answer.rdtype} record(s)",
        "nxdomain": "NXDOMAIN (the name does not exist)",
        "noanswer": f"no {answer.rdtype} record (the name exists)",
        "servfail": "SERVFAIL",
        "timeout": f"a timeout ({answer.detail})" if answer.detail else "a timeout",
        "error": f"an error ({answer.detail})" if answer.detail else "an error",
    }[answer.rcode]


def why_absent(answer: DnsAnswer) -> str:
    """Why a lookup found nothing, for "no X record at NAME (...)"."""
    if answer.rcode == "nxdomain":
        return "NXDOMAIN: the name does not exist"
    if answer.rcode == "noanswer":
        return f"the name exists but has no {answer.rdtype} record"
    return rcode_phrase(answer)


def answer_evidence(answer: DnsAnswer, title: str | None = None) -> Evidence:
    """A DNS answer as evidence, titled ``TXT example.com``."""
    return Evidence(title or f"{answer.rdtype} {answer.name}", answer.describe())


def _more(items: Sequence[object]) -> str:
    return f" (+{len(items) - 1} more)" if len(items) > 1 else ""


# ------------------------------------------------------------------------------------------------ SPF


class SpfLookupRow(Facts):
    """One row of the SPF lookup table (:class:`maildoctor.dnsauth.spf.LookupStep`)."""

    domain: str = Field(description="the domain whose record holds the term")
    depth: int = Field(description="0 for the domain checked, 1 for a record it includes, …")
    term: str = Field(description="the term as written")
    mechanism: str = Field(description="include, a, mx, …, redirect, exp, or an unknown modifier's name")
    target: str = Field("", description="the name looked up, if any")
    lookups: int = Field(0, description="what the term adds toward the limit of 10 (0 or 1)")
    total: int = Field(0, description="the running count of lookups after the term")
    void: bool = Field(False, description="whether its lookup found nothing (NXDOMAIN or no records)")
    void_total: int = Field(0, description="the running count of void lookups after the term")
    result: str = Field("", description="the DNS outcome: ok, nxdomain, noanswer, servfail, timeout or error")
    note: str = Field("", description="what the term did, in words")
    record: str = Field("", description="include or redirect: the SPF record found at the target")
    over_limit: bool = Field(False, description="whether the count is over the limit at this term")


def lookup_table(evaluation: SpfEvaluation | None) -> list[SpfLookupRow]:
    return [SpfLookupRow.model_validate(row) for row in evaluation.table()] if evaluation else []


class SpfArgs(Args):
    domain: str = Field(description="the domain whose SPF record to check")
    require_include: str | None = Field(None, description="a domain the record must include (amazonses.com)")


class SpfFacts(Facts):
    domain: str | None = Field(None, description="the domain checked")
    rcode: str | None = Field(None, description="how the TXT lookup went: ok, nxdomain, servfail …")
    records: list[str] = Field([], description="the SPF records found (there must be exactly one)")
    record: str | None = Field(None, description="the SPF record, when there is exactly one")
    lookups: int | None = Field(None, description="the DNS lookups evaluating the record takes")
    lookup_limit: int = Field(LOOKUP_LIMIT, description="the most lookups SPF allows (RFC 7208 §4.6.4)")
    void_lookups: int | None = Field(None, description="the lookups that found nothing")
    void_limit: int = Field(VOID_LIMIT, description="the most void lookups SPF allows")
    lookups_truncated: bool = Field(False, description="whether counting stopped before the end")
    lookup_table: list[SpfLookupRow] = Field([], description="every term evaluated, with the counts")
    all: str | None = Field(None, description="the qualifier of the record's 'all' (-, ~, ?, +)")
    includes_amazonses: bool = Field(False, description="whether the record includes amazonses.com")
    require_include: str | None = Field(None, description="the include the record was required to have")
    problems: list[str] = Field([], description="what makes the record missing or invalid")
    warnings: list[str] = Field([], description="what is allowed but unwise")
    records_to_add: list[str] = Field([], description="zone-file lines for the fix (or why none is written)")


@dataclass
class SpfAnalysis:
    """Everything the SPF check found about one domain; shared by ``dns.spf`` and ``dns.mail_from``."""

    domain: str
    answer: DnsAnswer
    require_include: str | None = None
    outcome: str = "pass"  # pass | missing | invalid | error
    records: list[str] = field(default_factory=list)
    parsed: SpfRecord | None = None
    evaluation: SpfEvaluation | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    records_to_add: list[str] = field(default_factory=list)
    error: str = ""  # outcome error: what could not be looked up

    @property
    def record(self) -> str | None:
        return self.records[0] if len(self.records) == 1 else None

    @property
    def includes_amazonses(self) -> bool:
        return self.evaluation is not None and self.evaluation.includes(SES_SPF_INCLUDE)

    @property
    def all_qualifier(self) -> str | None:
        return self.evaluation.all_qualifier if self.evaluation else None

    @property
    def status(self) -> Status:
        if self.outcome == "error":
            return "error"
        if self.outcome != "pass":
            return "fail"
        return "warn" if self.all_qualifier in ("+", "?") else "pass"

    def summary(self) -> str:
        d = self.domain
        if self.outcome == "error":
            return f"could not check: {self.error}"
        if self.outcome == "missing":
            return self.problems[0]
        if self.outcome == "invalid":
            return f"{d}'s SPF is invalid: {self.problems[0]}{_more(self.problems)}"
        ev = self.evaluation
        assert ev is not None
        line = f"{d} has a valid SPF record ({ev.lookups}/{LOOKUP_LIMIT} DNS lookups, {ev.void_lookups} void)"
        if self.require_include:
            line += f", including {self.require_include}"
        if self.all_qualifier == "+":
            line += f", but '+all' lets any server on the internet send as {d}"
        elif self.all_qualifier == "?":
            line += ", but '?all' makes it neutral: it vouches for nothing"
        return line

    def _no_fix(self) -> list[str]:
        """Say why no record is proposed, rather than leave the remedy's record block empty."""
        if self.outcome != "invalid":
            return []
        return [
            "; no corrected record can be written automatically: "
            + "; ".join(self.problems[:2])
            + " (remove includes you no longer use, or ask the provider for a flatter include)"
        ]

    def facts(self) -> SpfFacts:
        ev = self.evaluation
        return SpfFacts(
            domain=self.domain,
            rcode=self.answer.rcode,
            records=list(self.records),
            record=self.record,
            lookups=ev.lookups if ev else None,
            void_lookups=ev.void_lookups if ev else None,
            lookups_truncated=ev.truncated if ev else False,
            lookup_table=lookup_table(ev),
            all=self.all_qualifier,
            includes_amazonses=self.includes_amazonses,
            require_include=self.require_include,
            problems=list(self.problems),
            warnings=list(self.warnings),
            records_to_add=list(self.records_to_add) or self._no_fix(),
        )

    def evidence(self) -> list[Evidence]:
        out = [answer_evidence(self.answer)]
        ev = self.evaluation
        if ev is not None:
            out.append(Evidence(f"SPF lookup count for {self.domain}", ev.table_text()))
            others = [a for a in ev.answers if not (a.name == self.answer.name and a.rdtype == "TXT")]
            if others:
                out.append(Evidence("Lookups made while counting", "\n".join(a.describe() for a in others)))
        return out


def _default_spf(include: str | None) -> str:
    return build_record([f"include:{include or SES_SPF_INCLUDE}", "~all"])


async def analyze_spf(dns: DnsQuery, domain: str, require_include: str | None = None) -> SpfAnalysis:
    """Look up ``domain``'s SPF record, parse it, count its lookups and work out the fix."""
    domain = normalize_domain(domain)
    require = normalize_domain(require_include) if require_include else None
    bad_name = dns_name_error(domain)
    if bad_name is not None:  # RFC 7208 §4.3: no record can be looked up, so the result is none
        unasked = DnsAnswer(name=domain, rdtype="TXT", rcode="error", detail=f"not asked: {bad_name}")
        a = SpfAnalysis(domain=domain, answer=unasked, require_include=require, outcome="missing")
        a.problems.append(f"no SPF record can exist at {domain}: {bad_name}")
        return a
    answer = await dns.query(domain, "TXT")
    a = SpfAnalysis(domain=domain, answer=answer, require_include=require)
    if answer.rcode in _FAILED:
        a.outcome = "error"
        a.error = f"the TXT lookup for {domain} got {rcode_phrase(answer)}"
        a.problems.append(a.error)
        return a
    a.records = find_spf_records(answer.records) if answer.ok else []
    if not a.records:
        a.outcome = "missing"
        why = (
            f"{len(answer.records)} TXT record(s), none starts with 'v=spf1'"
            if answer.ok
            else why_absent(answer)
        )
        a.problems.append(f"no SPF record at {domain} ({why})")
        a.records_to_add = [zone_txt_line(domain, _default_spf(require), TXT_TTL)]
        return a
    if len(a.records) > 1:
        return _several_spf(a)
    try:
        a.parsed = parse_spf(a.records[0])
    except SpfSyntaxError as exc:
        return _unparsable_spf(a, exc)
    a.warnings = list(a.parsed.warnings)
    ev = a.evaluation = await evaluate_spf(domain, a.parsed, dns.query)
    a.warnings += [w for w in ev.warnings if w not in a.warnings]
    a.problems += ev.problems
    missing_include = bool(require) and not ev.includes(require or "")
    if missing_include:
        a.problems.append(f"the record does not include {require} (need 'include:{require}')")
    if a.problems:
        a.outcome = "invalid"
        a.records_to_add = _spf_fix(a, ev, missing_include)
    elif ev.temperrors:
        a.outcome = "error"
        a.error = f"a lookup needed to count {domain}'s SPF failed: {ev.temperrors[0]}{_more(ev.temperrors)}"
        a.problems += ev.temperrors
    return a


def _several_spf(a: SpfAnalysis) -> SpfAnalysis:
    """More than one SPF record: a permerror; the fix is one merged record (when each one parses)."""
    domain, require = a.domain, a.require_include
    a.outcome = "invalid"
    a.problems.append(
        f"{len(a.records)} SPF records at {domain}; there must be exactly one (RFC 7208 §3.2: permerror)"
    )
    parsed_all: list[SpfRecord] = []
    for text in a.records:
        try:
            parsed_all.append(parse_spf(fix_typos(text) or text))
        except SpfSyntaxError as exc:
            a.problems.append(f"one of them is also invalid: {exc}")
    if len(parsed_all) == len(a.records):
        merged = parse_spf(merge_records(parsed_all))
        if require and not any(_includes_directly(r, require) for r in parsed_all):
            merged = parse_spf(with_include(merged, require))
        a.records_to_add = [
            f"; replace the {len(a.records)} SPF records at {domain} with this one",
            zone_txt_line(domain, merged.text, TXT_TTL),
        ]
    return a


def _unparsable_spf(a: SpfAnalysis, exc: SpfSyntaxError) -> SpfAnalysis:
    """A record that does not parse; the fix corrects mis-spelt mechanisms (when that is all it takes)."""
    domain, require, text = a.domain, a.require_include, a.records[0]
    a.outcome = "invalid"
    a.problems += exc.errors
    fixed = fix_typos(text)
    if fixed is not None:
        record = parse_spf(fixed)
        if require and not _includes_directly(record, require):
            fixed = with_include(record, require)
        a.records_to_add = [
            f"; replace the SPF record at {domain} with this one (mis-spelt mechanisms corrected)",
            zone_txt_line(domain, fixed, TXT_TTL),
        ]
    return a


def _includes_directly(record: SpfRecord, domain: str) -> bool:
    return any(
        m.name == "include" and (m.domain_spec or "").rstrip(".").lower() == domain for m in record.mechanisms
    )


def _spf_fix(a: SpfAnalysis, ev: SpfEvaluation, missing_include: bool) -> list[str]:
    """A corrected record when one can be written: drop top-level terms that match nothing (void
    lookups, includes of domains without SPF) and add the required include. None when the record is
    over the lookup limit for other reasons (that needs a human: flattening, fewer includes)."""
    assert a.parsed is not None
    dead = set(ev.dead_terms)
    if ev.blocking_permerrors or ev.truncated or ev.temperrors:
        return []
    lookups_after = ev.lookups - sum(
        1 for t in a.parsed.terms if t.text in dead and getattr(t, "counts_lookup", False)
    )
    voids_after = ev.void_lookups - sum(1 for s in ev.steps if s.depth == 0 and s.void and s.term in dead)
    if missing_include:
        lookups_after += 1
    if lookups_after > LOOKUP_LIMIT or voids_after > VOID_LIMIT:
        return []
    kept = [t.text for t in a.parsed.terms if t.text not in dead]
    fixed = parse_spf(build_record(kept))
    text = with_include(fixed, a.require_include) if missing_include and a.require_include else fixed.text
    if text == a.parsed.text:
        return []
    why = " and ".join(
        w
        for w, on in (
            ("without the terms that match nothing", dead),
            ("with the include added", missing_include),
        )
        if on
    )
    return [
        f"; replace the SPF record at {a.domain} with this one ({why})",
        zone_txt_line(a.domain, text, TXT_TTL),
    ]


@check("dns.spf", outcomes={"pass", "missing", "invalid"}, args=SpfArgs, facts=SpfFacts)
async def spf_check(ctx: CheckContext[SpfArgs]) -> CheckResult:
    """The domain has exactly one valid SPF record within the lookup limits."""
    a = await analyze_spf(ctx.clients.dns, ctx.args.domain, ctx.args.require_include)
    return CheckResult(a.outcome, a.status, a.summary(), a.facts(), a.evidence())


# ---------------------------------------------------------------------------------------------- DMARC


class DmarcArgs(Args):
    domain: str = Field(description="the domain (From domain) whose DMARC record to find")


class DmarcFacts(Facts):
    domain: str | None = Field(None, description="the domain checked")
    org_domain: str | None = Field(None, description="its organizational domain (where DMARC falls back to)")
    records: list[str] = Field([], description="the DMARC records found where the record applies")
    record: str | None = Field(None, description="the DMARC record, when there is exactly one")
    found_at: str | None = Field(None, description="the name it was found at (_dmarc.<domain>)")
    fallback: bool = Field(False, description="whether it is the organizational domain's record")
    policy: str | None = Field(None, description="p: none, quarantine or reject")
    subdomain_policy: str | None = Field(None, description="sp (p when absent)")
    nonexistent_policy: str | None = Field(None, description="np (sp, else p, when absent)")
    effective_policy: str | None = Field(None, description="the policy that applies to the domain")
    pct: int | None = Field(None, description="pct: the share of mail the policy applies to")
    adkim: str | None = Field(None, description="DKIM alignment: r (relaxed) or s (strict)")
    aspf: str | None = Field(None, description="SPF alignment: r (relaxed) or s (strict)")
    rua: list[str] = Field([], description="where aggregate reports go")
    ruf: list[str] = Field([], description="where failure reports go")
    tags: dict[str, str] = Field({}, description="every tag as written")
    problems: list[str] = Field([], description="what makes the record missing or invalid")
    warnings: list[str] = Field([], description="what is allowed but unwise")
    records_to_add: list[str] = Field([], description="zone-file lines for the fix")


@dataclass
class DmarcAnalysis:
    domain: str
    org_domain: str
    answers: list[DnsAnswer] = field(default_factory=list)
    outcome: str = "pass"  # pass | missing | invalid | error
    records: list[str] = field(default_factory=list)
    found_at: str | None = None
    parsed: DmarcRecord | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    records_to_add: list[str] = field(default_factory=list)
    summary: str = ""

    @property
    def fallback(self) -> bool:
        """The record found is the organizational domain's, applying to ``domain`` as a subdomain."""
        return self.found_at is not None and self.found_at != f"_dmarc.{self.domain}"

    @property
    def effective_policy(self) -> str | None:
        if self.parsed is None:
            return None
        return self.parsed.subdomain_policy if self.fallback else self.parsed.policy

    @property
    def status(self) -> Status:
        if self.outcome == "error":
            return "error"
        if self.outcome != "pass":
            return "fail"
        return "warn" if self.effective_policy == "none" else "pass"

    def facts(self) -> DmarcFacts:
        p = self.parsed
        return DmarcFacts(
            domain=self.domain,
            org_domain=self.org_domain,
            records=list(self.records),
            record=self.records[0] if len(self.records) == 1 else None,
            found_at=self.found_at,
            fallback=self.fallback,
            policy=p.policy if p else None,
            subdomain_policy=p.subdomain_policy if p else None,
            nonexistent_policy=p.nonexistent_policy if p else None,
            effective_policy=self.effective_policy,
            pct=p.pct if p else None,
            adkim=p.adkim if p else None,
            aspf=p.aspf if p else None,
            rua=p.rua if p else [],
            ruf=p.ruf if p else [],
            tags=dict(p.tags) if p else {},
            problems=list(self.problems),
            warnings=list(self.warnings),
            records_to_add=list(self.records_to_add),
        )

    def evidence(self) -> list[Evidence]:
        return [answer_evidence(a) for a in self.answers]


async def analyze_dmarc(dns: DnsQuery, domain: str) -> DmarcAnalysis:
    """Find the DMARC record that applies to ``domain`` (RFC 7489 §6.6.3: ``_dmarc.<domain>``, else
    ``_dmarc.<organizational domain>``), and validate it."""
    domain = normalize_domain(domain)
    org = organizational_domain(domain)
    a = DmarcAnalysis(domain=domain, org_domain=org)
    names = [f"_dmarc.{domain}"] + ([f"_dmarc.{org}"] if org != domain else [])
    absent: list[str] = []
    for name in names:
        answer = await dns.query(name, "TXT")
        a.answers.append(answer)
        if answer.rcode in _FAILED:
            a.outcome = "error"
            before = f"no DMARC record at {'; '.join(absent)}, and " if absent else ""
            a.summary = f"could not check: {before}the TXT lookup for {name} got {rcode_phrase(answer)}"
            a.problems.append(a.summary.removeprefix("could not check: "))
            return a
        found = find_dmarc_records(answer.records) if answer.ok else []
        if found:
            a.records, a.found_at = found, name
            break
        why = why_absent(answer) if not answer.ok else f"{len(answer.records)} TXT record(s), none is DMARC"
        absent.append(f"{name} ({why})")
    if not a.records:
        a.outcome = "missing"
        a.problems.append(f"no DMARC record at {' nor at '.join(absent)}")
        a.summary = a.problems[0]
        a.records_to_add = [
            zone_txt_line(f"_dmarc.{org}", f"v=DMARC1; p=none; rua=mailto:dmarc-reports@{org}", TXT_TTL)
        ]
        return a
    return _judge_dmarc(a)


def _judge_dmarc(a: DmarcAnalysis) -> DmarcAnalysis:
    """Validate the DMARC record found, and say what it asks for."""
    a.parsed = parse_dmarc(a.records[0])
    domain, where = a.domain, a.found_at
    if len(a.records) > 1:
        a.outcome = "invalid"
        a.problems.append(
            f"{len(a.records)} DMARC records; there must be exactly one (RFC 7489 §6.6.3: receivers then "
            "apply none)"
        )
    a.problems += [f"{e}" for e in a.parsed.errors]
    if a.problems:
        a.outcome = "invalid"
        a.summary = f"DMARC at {where} is invalid: {a.problems[0]}{_more(a.problems)}"
        a.records_to_add = [
            f"; replace the DMARC record(s) at {where} with",
            zone_txt_line(str(where), a.parsed.corrected(), TXT_TTL),
        ]
        return a
    a.warnings = list(a.parsed.warnings)
    p = a.parsed
    tail = f"pct={p.pct}, adkim={p.adkim}, aspf={p.aspf}"
    if a.fallback:
        head = (
            f"no DMARC record at _dmarc.{domain}; the one at {where} applies to it as a subdomain: "
            f"sp={p.subdomain_policy}"
        )
    else:
        head = f"DMARC at {where}: p={p.policy}"
    a.summary = f"{head}, {tail}"
    if a.effective_policy == "none":
        a.summary += " (monitoring only: nothing is quarantined or rejected)"
    return a


@check("dns.dmarc", outcomes={"pass", "missing", "invalid"}, args=DmarcArgs, facts=DmarcFacts)
async def dmarc_check(ctx: CheckContext[DmarcArgs]) -> CheckResult:
    """The domain (or its organizational domain) publishes one valid DMARC record."""
    a = await analyze_dmarc(ctx.clients.dns, ctx.args.domain)
    return CheckResult(a.outcome, a.status, a.summary, a.facts(), a.evidence())


# ----------------------------------------------------------------------------------------------- DKIM


def parse_tokens(text: str | list[str] | None) -> list[str]:
    """Easy DKIM tokens from free text (or a list of them): comma and/or whitespace separated, duplicates
    dropped. A pasted record name (``tok._domainkey.example.com``) or target (``tok.dkim.amazonses.com``)
    gives its token."""
    joined = " ".join(text) if isinstance(text, list) else text or ""
    out: list[str] = []
    for item in re.split(r"[\s,;]+", joined.strip()):
        token = item.strip().strip('"').split(".", 1)[0]
        if token and token.lower() not in (t.lower() for t in out):
            out.append(token)
    return out


class DkimRecord(Facts):
    """One Easy DKIM CNAME, looked up."""

    token: str = Field(description="the Easy DKIM token")
    name: str = Field(description="the record's name: <token>._domainkey.<domain>")
    expected: str = Field(description="where it must point: <token>.<SES's signing zone>")
    found: str | None = Field(None, description="where it points, if it is a CNAME")
    status: str = Field(description="ok, missing, no-cname, wrong-target, or how the lookup failed")
    detail: str = Field(description="what was found, in words")


def _dkim_record(domain: str, token: str, answer: DnsAnswer, zone: str = DKIM_ZONE) -> DkimRecord:
    name = f"{token}._domainkey.{domain}"
    expected = f"{token}.{zone}"
    found = answer.records[0].rstrip(".") if answer.ok and answer.records else None
    if answer.ok and found is not None and found.lower() == expected.lower():
        status, detail = "ok", f"{name} → {found}"
    elif answer.ok:
        status, detail = "wrong-target", f"{name} points to {found}, not {expected}"
    elif answer.rcode == "nxdomain":
        status, detail = "missing", f"{name} does not exist (NXDOMAIN)"
    elif answer.rcode == "noanswer":
        status, detail = "no-cname", f"{name} exists but has no CNAME record"
    else:
        status, detail = answer.rcode, f"the CNAME lookup for {name} got {rcode_phrase(answer)}"
    return DkimRecord(token=token, name=name, expected=expected, found=found, status=status, detail=detail)


class DkimFacts(Facts):
    domain: str | None = Field(None, description="the domain checked")
    tokens: list[str] = Field([], description="the Easy DKIM tokens")
    records: list[DkimRecord] = Field([], description="each token's CNAME, as found")
    missing_count: int = Field(0, description="how many CNAMEs are missing or wrong")
    problems: list[str] = Field([], description="what is missing or wrong, or could not be looked up")
    records_to_add: list[str] = Field([], description="zone-file lines for the missing or wrong CNAMEs")


@dataclass
class DkimLookup:
    """Every ``<token>._domainkey.<domain>`` CNAME of a domain, looked up."""

    records: list[DkimRecord]
    answers: list[DnsAnswer]
    kind: str = "CNAME"  # TXT: your own key's record (BYODKIM)

    @property
    def wrong(self) -> list[DkimRecord]:
        return [r for r in self.records if r.status in _WRONG]

    @property
    def failed(self) -> list[DkimRecord]:
        return [r for r in self.records if r.status in _FAILED]

    def fill(self, facts: DkimFacts) -> None:
        """Put what was found into ``facts`` (records, the count and the fix)."""
        wrong = self.wrong
        facts.records = list(self.records)
        facts.missing_count = len(wrong)
        facts.problems = [r.detail for r in wrong + self.failed]
        if self.kind == "TXT":
            facts.records_to_add = [zone_line(r.name, DKIM_TTL, "TXT", BYODKIM_RDATA) for r in wrong]
        else:
            facts.records_to_add = [zone_line(r.name, DKIM_TTL, "CNAME", r.expected + ".") for r in wrong]

    def wrong_summary(self, of: str = "") -> str:
        """'2 of 3 DKIM CNAME records[ for <of>] missing or wrong: …[; 1 could not be checked]'"""
        wrong, failed = self.wrong, self.failed
        unchecked = f"; {len(failed)} could not be checked" if failed else ""
        return (
            f"{len(wrong)} of {len(self.records)} DKIM {self.kind} records{f' for {of}' if of else ''} missing or "
            "wrong: " + "; ".join(r.detail for r in wrong) + unchecked
        )

    def failure(self) -> str:
        """Why some could not be checked (for 'could not check: …')."""
        return f"{self.failed[0].detail}{_more(self.failed)}"

    def evidence(self) -> list[Evidence]:
        return [answer_evidence(a) for a in self.answers]


async def check_dkim_tokens(
    dns: DnsQuery, domain: str, tokens: list[str], zone: str = DKIM_ZONE
) -> DkimLookup:
    """Look up every ``<token>._domainkey.<domain>`` CNAME at once; each must point to
    ``<token>.<zone>`` (``zone``: SES's ``DkimAttributes.SigningHostedZone``)."""
    zone = zone.strip().rstrip(".").lower() or DKIM_ZONE
    answers = await asyncio.gather(*(dns.query(f"{t}._domainkey.{domain}", "CNAME") for t in tokens))
    records = [_dkim_record(domain, t, a, zone) for t, a in zip(tokens, answers, strict=True)]
    return DkimLookup(records, list(answers))


BYODKIM_RDATA = '"v=DKIM1; k=rsa; p=<your public key, base64>"'


def _dkim_key_record(domain: str, selector: str, answer: DnsAnswer) -> DkimRecord:
    """BYODKIM: ``<selector>._domainkey.<domain>`` must be a TXT record with the public key (p=)."""
    name = f"{selector}._domainkey.{domain}"
    expected = "a TXT record v=DKIM1; k=rsa; p=<your public key>"
    if answer.ok:
        tags = [dict(_dkim_tags(r)) for r in answer.records]
        keys = [t for t in tags if "p" in t]
        found = answer.records[0] if answer.records else None
        if any(t["p"] for t in keys):
            status, detail = "ok", f"{name} has a DKIM public key"
        elif keys:
            status, detail = "revoked", f"{name} has an empty p= (a revoked key)"
        else:
            status, detail = "no-key", f"{name} has a TXT record but no DKIM key (p=): {excerpt_txt(found)}"
    elif answer.rcode == "nxdomain":
        found, status, detail = None, "missing", f"{name} does not exist (NXDOMAIN)"
    elif answer.rcode == "noanswer":
        found, status, detail = None, "no-txt", f"{name} exists but has no TXT record"
    else:
        found, status = None, answer.rcode
        detail = f"the TXT lookup for {name} got {rcode_phrase(answer)}"
    return DkimRecord(token=selector, name=name, expected=expected, found=found, status=status, detail=detail)


def _dkim_tags(text: str) -> list[tuple[str, str]]:
    """RFC 6376 3.2 tag list: 'v=DKIM1; k=rsa; p=MIIB…' -> [('v', 'DKIM1'), …] (whitespace in values dropped)."""
    out = []
    for part in text.split(";"):
        if "=" in part:
            key, value = part.split("=", 1)
            out.append((key.strip(), "".join(value.split())))
    return out


def excerpt_txt(text: str | None, limit: int = 60) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def check_dkim_keys(dns: DnsQuery, domain: str, selectors: list[str]) -> DkimLookup:
    """BYODKIM: look up every ``<selector>._domainkey.<domain>`` TXT record (the public key) at once."""
    answers = await asyncio.gather(*(dns.query(f"{s}._domainkey.{domain}", "TXT") for s in selectors))
    records = [_dkim_key_record(domain, s, a) for s, a in zip(selectors, answers, strict=True)]
    return DkimLookup(records, list(answers), kind="TXT")


class DkimArgs(Args):
    domain: str = Field(description="the domain the Easy DKIM tokens are for")
    tokens: str | list[str] | None = Field(
        None, description="the Easy DKIM tokens (comma or space separated)"
    )
    zone: str = Field(
        DKIM_ZONE,
        description="the zone the CNAMEs point into: SES's SigningHostedZone (dkim.<region>.amazonses.com "
        "in regions with their own DKIM zone)",
    )


@check(
    "dns.dkim",
    outcomes={"pass", "missing", "skipped"},
    args=DkimArgs,
    facts=DkimFacts,
    applies_when=("tokens",),
)
async def dkim_check(ctx: CheckContext[DkimArgs]) -> CheckResult:
    """Each Easy DKIM token has its CNAME to <token>.<zone> (dkim.amazonses.com unless given)."""
    domain = normalize_domain(ctx.args.domain)
    tokens = parse_tokens(ctx.args.tokens)
    zone = ctx.args.zone.strip().rstrip(".").lower() or DKIM_ZONE
    facts = DkimFacts(domain=domain, tokens=tokens)
    if not tokens:  # given, but only separators
        return CheckResult("skipped", "skipped", "no Easy DKIM tokens given: DKIM CNAMEs not checked", facts)
    found = await check_dkim_tokens(ctx.clients.dns, domain, tokens, zone)
    found.fill(facts)
    evidence = found.evidence()
    if found.wrong:
        return CheckResult("missing", "fail", found.wrong_summary(), facts, evidence)
    if found.failed:
        return could_not_check(found.failure(), facts, evidence)
    summary = f"all {len(found.records)} DKIM CNAME records for {domain} point to {zone}"
    return CheckResult("pass", "pass", summary, facts, evidence)


# ------------------------------------------------------------------------------------------ MAIL FROM

_FEEDBACK_RE = re.compile(r"feedback-smtp\.([a-z0-9-]+)\.amazonses\.com", re.IGNORECASE)


def _mx_host(record: str) -> tuple[int | None, str]:
    """'10 feedback-smtp.us-east-1.amazonses.com.' -> (10, 'feedback-smtp.us-east-1.amazonses.com')"""
    parts = record.split()
    if len(parts) == 2 and parts[0].isdigit():
        return int(parts[0]), parts[1].rstrip(".").lower()
    return None, record.strip().rstrip(".").lower()


class MailFromRecords(Facts):
    """The DNS facts of a custom MAIL FROM domain, in ``dns.mail_from`` and ``ses.mail_from`` alike."""

    mail_from_domain: str | None = Field(None, description="the custom MAIL FROM domain")
    region: str | None = Field(None, description="the SES region that sends (its feedback MX)")
    mx: list[str] = Field([], description="the MX records found at the MAIL FROM domain")
    expected_mx: str | None = Field(
        None, description="the one MX host it needs: feedback-smtp.<region>.amazonses.com"
    )
    spf_record: str | None = Field(None, description="its SPF record, when there is exactly one")
    spf_records: list[str] = Field([], description="the SPF records found at it")
    problems: list[str] = Field([], description="what is missing or wrong")
    records_to_add: list[str] = Field([], description="zone-file lines for the fix")


class MailFromFacts(MailFromRecords):
    identity_domain: str | None = Field(None, description="the SES domain identity it must be a subdomain of")
    rcode: str | None = Field(None, description="how the MX lookup went: ok, nxdomain, servfail …")
    spf_outcome: str | None = Field(None, description="the SPF verdict: pass, missing, invalid or error")
    spf_lookups: int | None = Field(None, description="the DNS lookups its SPF record takes")
    spf_lookup_table: list[SpfLookupRow] = Field([], description="every SPF term evaluated, with the counts")


MailFromAnalysis = Analysis[MailFromFacts]


def _mx_problem(domain: str, region: str, expected: str, answer: DnsAnswer) -> str | None:
    """What is wrong with the MX records of a MAIL FROM domain (None when there is one, to ``expected``,
    or the lookup failed)."""
    mx = [_mx_host(r) for r in answer.records] if answer.ok else []
    if answer.rcode in ("nxdomain", "noanswer"):
        return f"no MX record at {domain} ({why_absent(answer)})"
    if not answer.ok or (len(mx) == 1 and mx[0][1] == expected):
        return None
    if len(mx) > 1:
        hosts = ", ".join(h for _, h in mx)
        return f"{len(mx)} MX records at {domain} ({hosts}); SES needs exactly one, to {expected}"
    host = mx[0][1]
    other = _FEEDBACK_RE.fullmatch(host)
    if not host:
        return f"{domain} has a null MX ('.', RFC 7505: it accepts no mail); it must be {expected}"
    if other:
        return (
            f"the MX at {domain} points to {host}, which is for {other.group(1)}; mail is sent from "
            f"{region}, so it must be {expected}"
        )
    return f"the MX at {domain} points to {host}, not {expected}"


async def analyze_mail_from(
    dns: DnsQuery, mail_from_domain: str, region: str | None, identity_domain: str | None = None
) -> MailFromAnalysis:
    """Look up a custom MAIL FROM domain: exactly one MX, to SES feedback in ``region`` (default
    us-east-1); an SPF record that includes amazonses.com; and, given the identity, under it."""
    domain = normalize_domain(mail_from_domain)
    region = (region or DEFAULT_REGION).lower()
    identity = normalize_domain(identity_domain or "")
    expected = f"feedback-smtp.{region}.amazonses.com"
    mx_answer, spf = await asyncio.gather(dns.query(domain, "MX"), analyze_spf(dns, domain, SES_SPF_INCLUDE))
    facts = MailFromFacts(
        mail_from_domain=domain,
        region=region,
        identity_domain=identity or None,
        mx=list(mx_answer.records),
        expected_mx=expected,
        rcode=mx_answer.rcode,
        spf_record=spf.record,
        spf_records=spf.records,
        spf_outcome=spf.outcome,
        spf_lookups=spf.evaluation.lookups if spf.evaluation else None,
        spf_lookup_table=lookup_table(spf.evaluation),
    )
    if identity and not is_subdomain(domain, identity):
        facts.problems.append(
            f"{domain} is not a subdomain of the identity {identity}; SES requires it to be"
        )
    mx_problem = _mx_problem(domain, region, expected, mx_answer)
    if mx_problem:
        facts.problems.insert(0, mx_problem)
        must_be = [f"; the only MX record at {domain} must be"] if mx_answer.ok else []
        facts.records_to_add = [*must_be, zone_line(domain, MX_TTL, "MX", f"10 {expected}.")]
    if spf.outcome in ("missing", "invalid"):
        facts.problems += [f"SPF: {p}" for p in spf.problems]
        facts.records_to_add += spf.records_to_add
    a = MailFromAnalysis(facts, evidence=[answer_evidence(mx_answer), *spf.evidence()])
    return _mail_from_verdict(a, mx_answer, spf, mx_problem)


def _mail_from_verdict(
    a: MailFromAnalysis, mx_answer: DnsAnswer, spf: SpfAnalysis, mx_problem: str | None
) -> MailFromAnalysis:
    domain, problems = a.facts.mail_from_domain, a.facts.problems
    if mx_problem:
        extra = {"missing": " (and SPF is missing too)", "invalid": " (and SPF is wrong too)"}
        return a.conclude("mx-missing", "fail", mx_problem + extra.get(spf.outcome, ""))
    if spf.outcome in ("missing", "invalid"):
        return a.conclude(
            "spf-missing", "fail", f"MAIL FROM {domain}: {spf.problems[0]}{_more(spf.problems)}"
        )
    if mx_answer.rcode in _FAILED:
        a.facts.problems = [f"the MX lookup for {mx_answer.name} got {rcode_phrase(mx_answer)}"]
        return a.could_not_check(a.facts.problems[0])
    if spf.outcome == "error":
        a.facts.problems = [*problems, *spf.problems]
        return a.could_not_check(spf.error)
    status: Status = "warn" if problems or spf.status == "warn" else "pass"
    summary = f"MAIL FROM {domain}: MX → {a.facts.expected_mx}, SPF includes amazonses.com"
    if problems:
        summary += f"; but {problems[0]}"
    elif spf.status == "warn":
        summary += f"; but {spf.summary().split(', but ', 1)[-1]}"
    return a.conclude("pass", status, summary)


class MailFromArgs(Args):
    mail_from_domain: str | None = Field(
        None, description="the custom MAIL FROM domain, e.g. mail.example.com"
    )
    region: str | None = Field(None, description="the SES region that sends (default us-east-1)")
    identity_domain: str | None = Field(None, description="the SES domain identity it must be a subdomain of")


@check(
    "dns.mail_from",
    outcomes={"pass", "mx-missing", "spf-missing", "skipped"},
    args=MailFromArgs,
    facts=MailFromFacts,
    applies_when=("mail_from_domain",),
)
async def mail_from_check(ctx: CheckContext[MailFromArgs]) -> CheckResult:
    """The custom MAIL FROM domain has one MX to SES feedback and an SPF record including amazonses.com."""
    args = ctx.args
    a = await analyze_mail_from(
        ctx.clients.dns, args.mail_from_domain or "", args.region, args.identity_domain
    )
    return a.result()
