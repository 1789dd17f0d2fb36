"""DNS checks: SPF, DMARC, the Easy DKIM CNAMEs and the custom MAIL FROM domain.

Every lookup goes through ``ctx.clients.dns``. A SERVFAIL or timeout on a check's main lookup means the
check could not be made (outcome ``error``); NXDOMAIN and "no such record" are answers, and say so.
Evidence always carries the answers as found, failing or not. ``records_to_add`` is zone-file text for
the fix. The helpers :func:`analyze_spf`, :func:`analyze_dmarc` and :func:`check_dkim_tokens` are
usable on their own.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from maildoctor.checks.registry import CheckContext, CheckResult, Evidence, Status, check
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
_FAILED = ("servfail", "timeout", "error")


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


def _could_not(answer: DnsAnswer, facts: dict[str, Any], evidence: list[Evidence]) -> CheckResult:
    summary = f"could not check: the {answer.rdtype} lookup for {answer.name} got {rcode_phrase(answer)}"
    facts = {**facts, "rcode": answer.rcode, "problems": [summary.removeprefix("could not check: ")]}
    return CheckResult("error", "error", summary, facts, evidence)


def _evidence(answer: DnsAnswer, title: str | None = None) -> Evidence:
    return Evidence(title or f"{answer.rdtype} {answer.name}", answer.describe())


def _more(items: Sequence[object]) -> str:
    return f" (+{len(items) - 1} more)" if len(items) > 1 else ""


# ------------------------------------------------------------------------------------------------ SPF


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

    def facts(self) -> dict[str, Any]:
        ev = self.evaluation
        return {
            "domain": self.domain,
            "rcode": self.answer.rcode,
            "records": list(self.records),
            "record": self.record,
            "lookups": ev.lookups if ev else None,
            "lookup_limit": LOOKUP_LIMIT,
            "void_lookups": ev.void_lookups if ev else None,
            "void_limit": VOID_LIMIT,
            "lookups_truncated": ev.truncated if ev else False,
            "lookup_table": ev.table() if ev else [],
            "all": self.all_qualifier,
            "includes_amazonses": self.includes_amazonses,
            "require_include": self.require_include,
            "problems": list(self.problems),
            "warnings": list(self.warnings),
            "records_to_add": list(self.records_to_add) or self._no_fix(),
        }

    def evidence(self) -> list[Evidence]:
        out = [_evidence(self.answer)]
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
    text = a.records[0]
    try:
        a.parsed = parse_spf(text)
    except SpfSyntaxError as exc:
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


@check(
    "dns.spf",
    outcomes={"pass", "missing", "invalid"},
    args={"domain", "require_include"},
    required_args={"domain"},
    iam_actions=(),
)
async def spf_check(ctx: CheckContext) -> CheckResult:
    """The domain has exactly one valid SPF record within the lookup limits."""
    domain = normalize_domain(ctx.arg("domain"))
    if not domain:
        return CheckResult("error", "error", "could not check: no domain given", {"domain": ""})
    a = await analyze_spf(ctx.clients.dns, domain, ctx.arg("require_include") or None)
    return CheckResult(a.outcome, a.status, a.summary(), a.facts(), a.evidence())


# ---------------------------------------------------------------------------------------------- DMARC


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

    def facts(self) -> dict[str, Any]:
        p = self.parsed
        return {
            "domain": self.domain,
            "org_domain": self.org_domain,
            "records": list(self.records),
            "record": self.records[0] if len(self.records) == 1 else None,
            "found_at": self.found_at,
            "fallback": self.fallback,
            "policy": p.policy if p else None,
            "subdomain_policy": p.subdomain_policy if p else None,
            "nonexistent_policy": p.nonexistent_policy if p else None,
            "effective_policy": self.effective_policy,
            "pct": p.pct if p else None,
            "adkim": p.adkim if p else None,
            "aspf": p.aspf if p else None,
            "rua": p.rua if p else [],
            "ruf": p.ruf if p else [],
            "tags": dict(p.tags) if p else {},
            "problems": list(self.problems),
            "warnings": list(self.warnings),
            "records_to_add": list(self.records_to_add),
        }


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
    a.parsed = parse_dmarc(a.records[0])
    where = a.found_at
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


@check("dns.dmarc", outcomes={"pass", "missing", "invalid"}, required_args={"domain"}, iam_actions=())
async def dmarc_check(ctx: CheckContext) -> CheckResult:
    """The domain (or its organizational domain) publishes one valid DMARC record."""
    domain = normalize_domain(ctx.arg("domain"))
    if not domain:
        return CheckResult("error", "error", "could not check: no domain given", {"domain": ""})
    a = await analyze_dmarc(ctx.clients.dns, domain)
    return CheckResult(a.outcome, a.status, a.summary, a.facts(), [_evidence(x) for x in a.answers])


# ----------------------------------------------------------------------------------------------- DKIM


def parse_tokens(text: str) -> list[str]:
    """Easy DKIM tokens from free text: comma and/or whitespace separated, duplicates dropped. A pasted
    record name (``tok._domainkey.example.com``) or target (``tok.dkim.amazonses.com``) gives its token."""
    out: list[str] = []
    for item in re.split(r"[\s,;]+", text.strip()):
        token = item.strip().strip('"').split(".", 1)[0]
        if token and token.lower() not in (t.lower() for t in out):
            out.append(token)
    return out


def _dkim_entry(domain: str, token: str, answer: DnsAnswer) -> dict[str, Any]:
    name = f"{token}._domainkey.{domain}"
    expected = f"{token}.dkim.amazonses.com"
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
    return {
        "token": token,
        "name": name,
        "expected": expected,
        "found": found,
        "status": status,
        "detail": detail,
    }


async def check_dkim_tokens(
    dns: DnsQuery, domain: str, tokens: list[str]
) -> tuple[list[dict[str, Any]], list[DnsAnswer]]:
    """Look up every ``<token>._domainkey.<domain>`` CNAME at once."""
    answers = await asyncio.gather(*(dns.query(f"{t}._domainkey.{domain}", "CNAME") for t in tokens))
    return [_dkim_entry(domain, t, a) for t, a in zip(tokens, answers, strict=True)], list(answers)


@check(
    "dns.dkim",
    outcomes={"pass", "missing", "skipped"},
    args={"tokens"},
    required_args={"domain"},
    iam_actions=(),
)
async def dkim_check(ctx: CheckContext) -> CheckResult:
    """Each Easy DKIM token has its CNAME to <token>.dkim.amazonses.com."""
    domain = normalize_domain(ctx.arg("domain"))
    tokens = parse_tokens(ctx.arg("tokens"))
    facts: dict[str, Any] = {"domain": domain, "tokens": tokens, "records": [], "missing_count": 0}
    if not tokens:
        facts["records_to_add"] = []
        return CheckResult("skipped", "skipped", "no Easy DKIM tokens given: DKIM CNAMEs not checked", facts)
    if not domain:
        return CheckResult("error", "error", "could not check: no domain given", facts)
    records, answers = await check_dkim_tokens(ctx.clients.dns, domain, tokens)
    evidence = [_evidence(a) for a in answers]
    wrong = [r for r in records if r["status"] in ("missing", "no-cname", "wrong-target")]
    failed = [r for r in records if r["status"] in _FAILED]
    facts.update(
        records=records,
        missing_count=len(wrong),
        problems=[r["detail"] for r in wrong + failed],
        records_to_add=[zone_line(r["name"], DKIM_TTL, "CNAME", r["expected"] + ".") for r in wrong],
    )
    if wrong:
        unchecked = f"; {len(failed)} could not be checked" if failed else ""
        summary = (
            f"{len(wrong)} of {len(records)} DKIM CNAME records missing or wrong: "
            + "; ".join(r["detail"] for r in wrong)
            + unchecked
        )
        return CheckResult("missing", "fail", summary, facts, evidence)
    if failed:
        return CheckResult(
            "error", "error", f"could not check: {failed[0]['detail']}{_more(failed)}", facts, evidence
        )
    return CheckResult(
        "pass",
        "pass",
        f"all {len(records)} DKIM CNAME records for {domain} point to amazonses.com",
        facts,
        evidence,
    )


# ------------------------------------------------------------------------------------------ MAIL FROM

_FEEDBACK_RE = re.compile(r"feedback-smtp\.([a-z0-9-]+)\.amazonses\.com", re.IGNORECASE)


def _mx_host(record: str) -> tuple[int | None, str]:
    """'10 feedback-smtp.us-east-1.amazonses.com.' -> (10, 'feedback-smtp.us-east-1.amazonses.com')"""
    parts = record.split()
    if len(parts) == 2 and parts[0].isdigit():
        return int(parts[0]), parts[1].rstrip(".").lower()
    return None, record.strip().rstrip(".").lower()


@check(
    "dns.mail_from",
    outcomes={"pass", "mx-missing", "spf-missing", "skipped"},
    args={"mail_from_domain", "region", "identity_domain"},
    iam_actions=(),
)
async def mail_from_check(ctx: CheckContext) -> CheckResult:
    """The custom MAIL FROM domain has one MX to SES feedback and an SPF record including amazonses.com."""
    domain = normalize_domain(ctx.arg("mail_from_domain"))
    region = ctx.arg("region", DEFAULT_REGION).lower() or DEFAULT_REGION
    identity = normalize_domain(ctx.arg("identity_domain"))
    expected = f"feedback-smtp.{region}.amazonses.com"
    facts: dict[str, Any] = {
        "mail_from_domain": domain,
        "region": region,
        "identity_domain": identity or None,
        "mx": [],
        "expected_mx": expected,
        "spf_record": None,
        "problems": [],
        "records_to_add": [],
    }
    if not domain:
        return CheckResult("skipped", "skipped", "no custom MAIL FROM domain: SES uses its own", facts)
    mx_answer, spf = await asyncio.gather(
        ctx.clients.dns.query(domain, "MX"), analyze_spf(ctx.clients.dns, domain, SES_SPF_INCLUDE)
    )
    evidence = [_evidence(mx_answer), *spf.evidence()]
    problems: list[str] = []
    if identity and not is_subdomain(domain, identity):
        problems.append(f"{domain} is not a subdomain of the identity {identity}; SES requires it to be")

    mx = [_mx_host(r) for r in mx_answer.records] if mx_answer.ok else []
    facts["mx"] = list(mx_answer.records)
    mx_problem: str | None = None
    if mx_answer.rcode in ("nxdomain", "noanswer"):
        mx_problem = f"no MX record at {domain} ({why_absent(mx_answer)})"
    elif mx_answer.ok and len(mx) > 1:
        hosts = ", ".join(h for _, h in mx)
        mx_problem = f"{len(mx)} MX records at {domain} ({hosts}); SES needs exactly one, to {expected}"
    elif mx_answer.ok and mx[0][1] != expected:
        host = mx[0][1]
        other = _FEEDBACK_RE.fullmatch(host)
        if not host:
            mx_problem = f"{domain} has a null MX ('.', RFC 7505: it accepts no mail); it must be {expected}"
        elif other:
            mx_problem = (
                f"the MX at {domain} points to {host}, which is for {other.group(1)}; mail is sent from "
                f"{region}, so it must be {expected}"
            )
        else:
            mx_problem = f"the MX at {domain} points to {host}, not {expected}"
    if mx_problem:
        problems.insert(0, mx_problem)
        facts["records_to_add"].append(zone_line(domain, MX_TTL, "MX", f"10 {expected}."))
        if mx_answer.ok:
            facts["records_to_add"].insert(0, f"; the only MX record at {domain} must be")

    facts["spf_record"] = spf.record
    facts["spf_records"] = spf.records
    facts["spf_outcome"] = spf.outcome
    facts["spf_lookups"] = spf.evaluation.lookups if spf.evaluation else None
    facts["spf_lookup_table"] = spf.evaluation.table() if spf.evaluation else []
    spf_bad = spf.outcome in ("missing", "invalid")
    if spf_bad:
        problems += [f"SPF: {p}" for p in spf.problems]
        facts["records_to_add"] += spf.records_to_add
    facts["problems"] = problems

    if mx_problem:
        extra = {"missing": " (and SPF is missing too)", "invalid": " (and SPF is wrong too)"}.get(
            spf.outcome, ""
        )
        return CheckResult("mx-missing", "fail", mx_problem + extra, facts, evidence)
    if spf_bad:
        summary = f"MAIL FROM {domain}: {spf.problems[0]}{_more(spf.problems)}"
        return CheckResult("spf-missing", "fail", summary, facts, evidence)
    if mx_answer.rcode in _FAILED:
        return _could_not(mx_answer, facts, evidence)
    if spf.outcome == "error":
        facts["problems"] = [*problems, *spf.problems]
        return CheckResult("error", "error", f"could not check: {spf.error}", facts, evidence)
    status: Status = "warn" if problems or spf.status == "warn" else "pass"
    summary = f"MAIL FROM {domain}: MX → {expected}, SPF includes amazonses.com"
    if problems:
        summary += f"; but {problems[0]}"
    elif spf.status == "warn":
        summary += f"; but {spf.summary().split(', but ', 1)[-1]}"
    return CheckResult("pass", status, summary, facts, evidence)
