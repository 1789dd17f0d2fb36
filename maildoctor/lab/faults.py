"""Faults the lab can inject, as data: outages rehearsed over real protocols.

A fault is named by a string, optionally with an argument after a colon::

    aws-throttle                        every AWS call throttled
    aws-deny:iam:GetAccessKeyLastUsed   AccessDenied on one operation (SERVICE:OPERATION, * and ? allowed)
    aws-deny:ses:*                      ... on every SES (v1 and v2) operation
    aws-scp-deny:ses:*                  ... as an explicit deny in a service control policy (an organisation's)
    dns-servfail:_dmarc.example.com     SERVFAIL for one name
    smtp-slow:800                       every SMTP reply 800 ms late
    aws-ses-rate:1                      SES admits 1 call per second per region (its real API quota)

``parse_fault`` turns a name into a :class:`Fault` (or raises :class:`FaultError`, one line);
``compile_faults`` turns a list of them into what each server applies (:class:`AwsFaults`,
:class:`DnsFaults`, :class:`SmtpFaults`). ``Lab.set_faults`` / ``Lab.faults(...)`` apply them to a running
lab; ``maildoctor lab --fault NAME`` does the same from the command line (``--fault list`` names them).

A scenario's own failure fields (``dns.servfail``, ``dns.timeout``, ``smtp_refuses_connections``) are
faults too (:func:`scenario_faults`): one mechanism.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from maildoctor.errors import MaildoctorError

if TYPE_CHECKING:
    from maildoctor.lab.scenario import Scenario

__all__ = [
    "KINDS",
    "AwsFaults",
    "DnsFaults",
    "Fault",
    "FaultError",
    "FaultKind",
    "FaultSet",
    "SmtpFaults",
    "catalogue",
    "compile_faults",
    "describe_kinds",
    "parse_fault",
    "parse_faults",
    "requested_faults",
    "scenario_faults",
]

Layer = Literal["aws", "dns", "smtp"]
ArgKind = Literal["", "ms", "operation", "dns-name", "rate"]

MAX_LATENCY_MS = 600_000
MAX_SES_RATE = 10_000
DEFAULT_SLOW_MS = 1000

# The IAM action prefix of services whose botocore name differs from it (SES v2 actions are ses:...).
IAM_PREFIX = {"sesv2": "ses"}


class FaultError(MaildoctorError):
    """An unknown fault name or a malformed argument (exit code 2)."""


@dataclass(frozen=True)
class FaultKind:
    name: str
    layer: Layer
    description: str  # one line
    arg: ArgKind = ""
    default: str = ""  # the argument when none is given

    @property
    def usage(self) -> str:
        """The name as `--fault list` shows it: ``aws-deny[:SERVICE:OPERATION]``."""
        metas = {"": "", "ms": "MS", "operation": "SERVICE:OPERATION", "dns-name": "NAME", "rate": "N"}
        meta = metas[self.arg]
        return f"{self.name}[:{meta}]" if meta else self.name


KINDS: tuple[FaultKind, ...] = (
    FaultKind("aws-down", "aws", "the AWS endpoint refuses connections (clients are pointed at a closed port)"),
    FaultKind("aws-hang", "aws", "the AWS endpoint takes every request and never answers (clients hit their read timeout)"),
    FaultKind("aws-slow", "aws", f"every AWS request is answered MS ms late (default {DEFAULT_SLOW_MS}; --latency-aws MS)", "ms", str(DEFAULT_SLOW_MS)),
    FaultKind("aws-throttle", "aws", "AWS calls (all, or SERVICE:OPERATION) are throttled: SES v2 429 TooManyRequestsException, CloudTrail 400 ThrottlingException, IAM/STS/SES v1/CloudWatch 400 Throttling", "operation", "*:*"),
    FaultKind("aws-deny", "aws", "AWS calls (all, or SERVICE:OPERATION, e.g. iam:GetAccessKeyLastUsed, ses:*) get AccessDenied: SES v2 403 AccessDeniedException, CloudTrail 400 AccessDeniedException, IAM/STS/SES v1/CloudWatch 403 AccessDenied", "operation", "*:*"),
    FaultKind("aws-scp-deny", "aws", "AWS calls (all, or SERVICE:OPERATION) get AccessDenied with an explicit deny in a service control policy, as an organisation's SCP answers", "operation", "*:*"),
    FaultKind("aws-500", "aws", "AWS calls (all, or SERVICE:OPERATION) fail with 500 InternalFailure (IAM: ServiceFailure)", "operation", "*:*"),
    FaultKind("aws-503", "aws", "AWS calls (all, or SERVICE:OPERATION) fail with 503 ServiceUnavailable", "operation", "*:*"),
    FaultKind("aws-ses-rate", "aws", "SES (v1 and v2) admits N calls per second per region (default 1, SES's own quota; a token bucket holding max(1, N)); over it: SES v2 429 TooManyRequestsException, SES v1 400 Throttling", "rate", "1"),
    FaultKind("dns-timeout", "dns", "the DNS server answers no query (all, or for NAME), over UDP or TCP: clients time out", "dns-name", "*"),
    FaultKind("dns-servfail", "dns", "the DNS server answers SERVFAIL (to all, or for NAME)", "dns-name", "*"),
    FaultKind("dns-truncate", "dns", "every UDP answer is truncated (TC=1, no records); TCP still answers, so resolvers that retry over TCP get it"),
    FaultKind("dns-truncate-notcp", "dns", "every UDP answer is truncated (TC=1, no records) and TCP connections are closed without an answer"),
    FaultKind("dns-slow", "dns", f"every DNS answer is sent MS ms late (default {DEFAULT_SLOW_MS}; --latency-dns MS)", "ms", str(DEFAULT_SLOW_MS)),
    FaultKind("smtp-refused", "smtp", "the SMTP endpoint refuses connections (clients are pointed at a closed port: a firewall)"),
    FaultKind("smtp-no-greeting", "smtp", "the SMTP server accepts connections and never sends its 220 greeting"),
    FaultKind("smtp-421", "smtp", "the SMTP server greets with 421 Too many concurrent SMTP connections, then closes"),
    FaultKind("smtp-drop-after-ehlo", "smtp", "the SMTP server closes the connection right after its first EHLO reply"),
    FaultKind("smtp-drop-after-auth", "smtp", "the SMTP server closes the connection when AUTH is sent, without a reply"),
    FaultKind("smtp-no-starttls", "smtp", "the SMTP server does not offer STARTTLS (454 to STARTTLS; a middlebox stripping it), and still wants it first"),
    FaultKind("smtp-untrusted-cert", "smtp", "STARTTLS presents a certificate from a CA that clients are not told to trust"),
    FaultKind("smtp-slow", "smtp", f"every SMTP reply is sent MS ms late (default {DEFAULT_SLOW_MS}; --latency-smtp MS)", "ms", str(DEFAULT_SLOW_MS)),
)  # fmt: skip

_BY_NAME = {kind.name: kind for kind in KINDS}
_SERVICE = re.compile(r"^[a-z0-9*?-]+$")
_OPERATION = re.compile(r"^[A-Za-z0-9*?]+$")


@dataclass(frozen=True)
class Fault:
    kind: str  # a KINDS name
    arg: str = ""  # normalised argument ("" when the kind takes none)

    @property
    def spec(self) -> FaultKind:
        return _BY_NAME[self.kind]

    @property
    def layer(self) -> Layer:
        return self.spec.layer

    @property
    def name(self) -> str:
        """The name that parses back to this fault (the default argument left out)."""
        if not self.arg or self.arg == self.spec.default:
            return self.kind
        return f"{self.kind}:{self.arg}"

    @property
    def ms(self) -> int:
        return int(self.arg or self.spec.default or 0)

    def __str__(self) -> str:
        return self.name


def parse_fault(text: str | Fault) -> Fault:
    """A fault from its name; FaultError (one line) for an unknown name or a bad argument."""
    if isinstance(text, Fault):
        return text
    raw = text.strip()
    kind_name, sep, arg = raw.partition(":")
    kind = _BY_NAME.get(kind_name)
    if kind is None:
        close = difflib.get_close_matches(kind_name, list(_BY_NAME), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise FaultError(f"unknown fault {raw!r}{hint}; `maildoctor lab --fault list` names them")
    if not sep:
        return Fault(kind.name, kind.default)
    if not kind.arg:
        raise FaultError(f"fault {kind.name!r} takes no argument (got {raw!r})")
    if kind.arg == "ms":
        if not arg.isdigit() or int(arg) > MAX_LATENCY_MS:
            raise FaultError(f"fault {raw!r}: {arg!r} is not a latency in ms (0 to {MAX_LATENCY_MS})")
        return Fault(kind.name, str(int(arg)))
    if kind.arg == "rate":
        try:
            rate = float(arg)
        except ValueError:
            rate = 0.0
        if not re.match(r"^\d+(\.\d+)?$", arg) or not 0 < rate <= MAX_SES_RATE:
            raise FaultError(
                f"fault {raw!r}: {arg!r} is not a rate in calls per second (above 0, at most {MAX_SES_RATE})"
            )
        return Fault(kind.name, f"{rate:g}")
    if kind.arg == "operation":
        service, _, operation = arg.partition(":")
        operation = operation or "*"
        if not _SERVICE.match(service) or not _OPERATION.match(operation):
            raise FaultError(
                f"fault {raw!r}: expected SERVICE:OPERATION like iam:GetAccessKeyLastUsed or ses:*"
            )
        return Fault(kind.name, f"{service}:{operation}")
    name = arg.strip().lower().rstrip(".")
    if not name or any(c.isspace() for c in name):
        raise FaultError(f"fault {raw!r}: expected a DNS name like _dmarc.example.com")
    return Fault(kind.name, name)


def parse_faults(names: Iterable[str | Fault]) -> list[Fault]:
    return [parse_fault(n) for n in names]


def describe_kinds() -> list[tuple[str, str]]:
    """(usage, description) of every fault, in catalogue order."""
    return [(kind.usage, kind.description) for kind in KINDS]


def catalogue() -> str:
    """What `maildoctor lab --fault list` prints: one fault a line, with what it does."""
    width = max(len(usage) for usage, _ in describe_kinds())
    return "\n".join(f"{usage:<{width}}  {text}" for usage, text in describe_kinds())


def requested_faults(
    names: Iterable[str | Fault],
    *,
    latency_aws: int | None = None,
    latency_dns: int | None = None,
    latency_smtp: int | None = None,
) -> list[Fault]:
    """The faults of `--fault NAME`... and `--latency-aws/dns/smtp MS` (the same as ``aws-slow:MS`` ...)."""
    faults = parse_faults(names)
    for kind, ms in (("aws-slow", latency_aws), ("dns-slow", latency_dns), ("smtp-slow", latency_smtp)):
        if ms is not None:
            faults.append(parse_fault(f"{kind}:{ms}"))
    return faults


def scenario_faults(scenario: Scenario) -> list[Fault]:
    """The faults a scenario's own fields describe (they are applied like any other)."""
    faults = [parse_fault(f"dns-servfail:{name}") for name in scenario.dns.servfail]
    faults += [parse_fault(f"dns-timeout:{name}") for name in scenario.dns.timeout]
    if scenario.smtp_refuses_connections:
        faults.append(parse_fault("smtp-refused"))
    return faults


# --------------------------------------------------------------------------------------------------
# what each server applies


AwsRule = Literal["aws-throttle", "aws-deny", "aws-scp-deny", "aws-500", "aws-503"]


@dataclass(frozen=True)
class AwsFaults:
    down: bool = False
    hang: bool = False
    latency_ms: int = 0
    rules: tuple[tuple[AwsRule, str, str], ...] = ()  # (kind, service pattern, operation pattern)
    ses_rate: float = 0.0  # SES calls per second per region (0: unlimited)

    def rule_for(self, service: str, operation: str) -> AwsRule | None:
        """The first error rule that matches a call; the service pattern matches the botocore name
        (``sesv2``) or the IAM action prefix (``ses``), the operation pattern any case."""
        names = {service, IAM_PREFIX.get(service, service)}
        for kind, service_pattern, operation_pattern in self.rules:
            if any(fnmatch.fnmatchcase(n, service_pattern) for n in names) and fnmatch.fnmatchcase(
                operation.lower(), operation_pattern.lower()
            ):
                return kind
        return None


def _dns_key(name: str) -> str:
    text = name.lower()
    return text if text.endswith(".") else text + "."


@dataclass(frozen=True)
class DnsFaults:
    timeout: tuple[str, ...] = ()  # name patterns, absolute, lowercase ("*" is every name)
    servfail: tuple[str, ...] = ()
    truncate: Literal["", "udp", "all"] = ""  # "all": TCP is closed unanswered too
    latency_ms: int = 0

    @classmethod
    def for_names(cls, servfail: Iterable[str] = (), timeout: Iterable[str] = ()) -> DnsFaults:
        return cls(timeout=tuple(_dns_key(n) for n in timeout), servfail=tuple(_dns_key(n) for n in servfail))

    def times_out(self, qname: str) -> bool:
        return _matches_name(self.timeout, qname)

    def servfails(self, qname: str) -> bool:
        return _matches_name(self.servfail, qname)

    def merged(self, other: DnsFaults) -> DnsFaults:
        return DnsFaults(
            timeout=self.timeout + other.timeout,
            servfail=self.servfail + other.servfail,
            truncate="all" if "all" in (self.truncate, other.truncate) else self.truncate or other.truncate,
            latency_ms=max(self.latency_ms, other.latency_ms),
        )


def _matches_name(patterns: tuple[str, ...], qname: str) -> bool:
    key = _dns_key(qname)
    return any(p in ("*", "*.") or fnmatch.fnmatchcase(key, p) for p in patterns)


@dataclass(frozen=True)
class SmtpFaults:
    refused: bool = False
    no_greeting: bool = False
    greeting_421: bool = False
    drop_after_ehlo: bool = False
    drop_after_auth: bool = False
    no_starttls: bool = False
    untrusted_cert: bool = False
    latency_ms: int = 0


@dataclass(frozen=True)
class FaultSet:
    faults: tuple[Fault, ...] = ()
    aws: AwsFaults = field(default_factory=AwsFaults)
    dns: DnsFaults = field(default_factory=DnsFaults)
    smtp: SmtpFaults = field(default_factory=SmtpFaults)


_SMTP_FLAGS = {
    "smtp-refused": "refused",
    "smtp-no-greeting": "no_greeting",
    "smtp-421": "greeting_421",
    "smtp-drop-after-ehlo": "drop_after_ehlo",
    "smtp-drop-after-auth": "drop_after_auth",
    "smtp-no-starttls": "no_starttls",
    "smtp-untrusted-cert": "untrusted_cert",
}


def compile_faults(faults: Iterable[str | Fault]) -> FaultSet:
    """What each server applies for these faults. Latencies: the largest of each layer applies."""
    parsed = tuple(dict.fromkeys(parse_faults(faults)))  # the same fault twice is one fault
    kinds = {fault.kind for fault in parsed}
    rules: list[tuple[AwsRule, str, str]] = []
    timeout: list[str] = []
    servfail: list[str] = []
    latency = {"aws": 0, "dns": 0, "smtp": 0}
    ses_rates: list[float] = []
    for fault in parsed:
        kind = fault.kind
        if kind in ("aws-throttle", "aws-deny", "aws-scp-deny", "aws-500", "aws-503"):
            service, _, operation = fault.arg.partition(":")
            rules.append((kind, service, operation))  # type: ignore[arg-type]  # checked just above
        elif kind in ("dns-timeout", "dns-servfail"):
            names = timeout if kind == "dns-timeout" else servfail
            names.append("*" if fault.arg == "*" else _dns_key(fault.arg))
        elif kind.endswith("-slow"):
            latency[fault.layer] = max(latency[fault.layer], fault.ms)
        elif kind == "aws-ses-rate":
            ses_rates.append(float(fault.arg))
    truncate: Literal["", "udp", "all"] = (
        "all" if "dns-truncate-notcp" in kinds else "udp" if "dns-truncate" in kinds else ""
    )
    return FaultSet(
        faults=parsed,
        aws=AwsFaults(
            down="aws-down" in kinds,
            hang="aws-hang" in kinds,
            latency_ms=latency["aws"],
            rules=tuple(rules),
            ses_rate=min(ses_rates, default=0.0),  # two limits: the stricter applies
        ),
        dns=DnsFaults(
            timeout=tuple(timeout), servfail=tuple(servfail), truncate=truncate, latency_ms=latency["dns"]
        ),
        smtp=SmtpFaults(
            **{flag: kind in kinds for kind, flag in _SMTP_FLAGS.items()}, latency_ms=latency["smtp"]
        ),
    )
