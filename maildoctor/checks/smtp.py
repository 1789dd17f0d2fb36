"""SMTP checks: what the configured SMTP password is (offline), and a real login to the SES SMTP endpoint.

The password and the key's secret are secret inputs: no summary, fact or piece of evidence carries them,
nor any part of them. Only their form, length and version byte are shown.
"""

from __future__ import annotations

import base64
import binascii
import errno
import hmac
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import Field

from maildoctor.checks.registry import Args, CheckContext, CheckResult, Evidence, Facts, Status, check
from maildoctor.clients.smtp import LoginResult
from maildoctor.smtp_password import (
    PasswordForm,
    matching_region,
    password_form,
    smtp_password_v2,
    smtp_password_v4,
)

if TYPE_CHECKING:
    from maildoctor.clients import Clients

DEFAULT_REGION = "us-east-1"
SES_PASSWORD_LENGTH = 44
V2_RETIRED = "SES stopped accepting Signature Version 2 SMTP passwords in 2021 (credentials created before 2019-01-10 have that form)"
DERIVE_HINT = "derive the SigV4 password from the key's secret (`maildoctor smtp-password --region {region}`)"
# key_state values (the outcome of the access-key check) under which SES rejecting the login is expected.
# The key exists and is active (iam.smtp_key's outcomes): a 535 then means the password is wrong.
KEY_STATES_ACTIVE = frozenset({"active", "not-authorized"})
KEY_STATES_EXPECTED_REJECT = {
    "not-found": "no longer exists (deleted, e.g. by a rotation)",
    "inactive": "is inactive",
    "temporary-key": "is a temporary (STS, ASIA…) key, which SES SMTP never accepts",
    "not-a-key": "is not an access key id (SES SMTP user names are AKIA… key ids)",
}
# Argument descriptions both checks share; the secrets are fields with repr=False, so that no repr of
# the arguments (a log line, a traceback) shows them.
_USERNAME = "the SMTP user name (an access key id, AKIA…)"
_PASSWORD = "the SMTP password the client holds (secret: never shown)"
_REGION = "the region the mail is sent through (default: the configured region, else us-east-1)"


def _region(region: str | None, clients: Clients) -> str:
    return region or clients.settings.region or DEFAULT_REGION


def _version_byte(password: str) -> str:
    """The first decoded byte of a base64 password as "0x04", or "" when it is not base64."""
    try:
        raw = base64.b64decode(password, validate=True)
    except (binascii.Error, ValueError):
        return ""
    return f"0x{raw[0]:02x}" if raw else ""


@dataclass(frozen=True)
class Verdict:
    """What a check concludes: its outcome, status and summary."""

    outcome: str
    status: Status
    summary: str


# ------------------------------------------------------------------------------------ smtp.password_form


class PasswordFormArgs(Args):
    smtp_username: str | None = Field(None, description=_USERNAME)
    smtp_password: str | None = Field(None, description=_PASSWORD, repr=False)
    region: str | None = Field(None, description=_REGION)
    secret_key: str | None = Field(
        None, description="the key's secret access key, to compare the password with (secret)", repr=False
    )


class PasswordFormFacts(Facts):
    form: PasswordForm | None = Field(
        None, description="what the password is: sigv4, sigv2, secret-key or unknown"
    )
    length: int | None = Field(None, description="the password's length in characters")
    version_byte: str = Field("", description="its first decoded byte (0x04 SigV4, 0x02 SigV2); '' if none")
    region: str | None = Field(None, description="the region the mail is sent through")
    password_region: str = Field("", description="the region the password was derived for; '' if none found")
    secret_given: bool = Field(False, description="whether the key's secret was given to compare with")
    regions_checked: int = Field(0, description="how many regions the password was compared for")


@dataclass
class PasswordAnalysis:
    """What smtp.password_form found: a verdict and the facts behind it (never the password)."""

    verdict: Verdict
    facts: PasswordFormFacts

    @property
    def evidence(self) -> list[Evidence]:
        return [Evidence("SMTP password form", _describe(self.facts))]


@check(
    "smtp.password_form",
    outcomes={
        "pass",
        "v2",
        "temporary-key",
        "raw-secret",
        "wrong-region",
        "mismatch",
        "unknown-form",
        "skipped",
    },
    args=PasswordFormArgs,
    facts=PasswordFormFacts,
    applies_when=("smtp_password",),
)
async def password_form_check(ctx: CheckContext[PasswordFormArgs]) -> CheckResult:
    """What the configured SMTP password is (offline): SigV4, SigV2, a raw secret key, or for another region."""
    args = ctx.args
    region = _region(args.region, ctx.clients)
    a = analyze_password(
        args.smtp_username or "",
        args.smtp_password or "",
        args.secret_key or "",
        region,
        ctx.clients.aws.known_ses_regions,
    )
    return CheckResult(a.verdict.outcome, a.verdict.status, a.verdict.summary, a.facts, a.evidence)


def analyze_password(
    username: str, password: str, secret: str, region: str, ses_regions: Callable[[], list[str]]
) -> PasswordAnalysis:
    """What the password is, and (given the key's secret) whether it is this key's for ``region``;
    ``ses_regions`` lists the regions to try when it is not (no network)."""
    form = password_form(password)
    facts = PasswordFormFacts(
        form=form,
        length=len(password),
        version_byte=_version_byte(password) if form in ("sigv4", "sigv2") else "",
        region=region,
        secret_given=bool(secret),
    )
    verdict = _form_problem(username, password, secret, region, form)
    if verdict is None:
        verdict = _compare_with_secret(password, secret, region, facts, ses_regions)
    return PasswordAnalysis(verdict, facts)


def _form_problem(
    username: str, password: str, secret: str, region: str, form: PasswordForm
) -> Verdict | None:
    """What is wrong with the user name or the password's form, or None when it has the SigV4 form."""
    if username.upper().startswith("ASIA"):
        return Verdict(
            "temporary-key",
            "fail",
            f"the SMTP user name {username} is a temporary (STS) access key: SES SMTP needs a long-term "
            "IAM user key (AKIA…), since temporary credentials expire and cannot log in to SMTP",
        )
    if form == "sigv2":
        own = ""
        if secret:
            own = (
                ", derived from this secret"
                if hmac.compare_digest(smtp_password_v2(secret), password)
                else ", not derived from this secret either"
            )
        return Verdict(
            "v2",
            "fail",
            f"the password has the retired Signature Version 2 form (version byte 0x02){own}: {V2_RETIRED}; "
            + DERIVE_HINT.format(region=region),
        )
    if form == "secret-key":
        itself = " (it is this key's secret)" if secret and hmac.compare_digest(secret, password) else ""
        return Verdict(
            "raw-secret",
            "fail",
            f"the password looks like a secret access key pasted as is{itself} (40 characters): SES wants "
            "the SMTP password derived from it, not the secret itself; " + DERIVE_HINT.format(region=region),
        )
    if form != "sigv4":
        return Verdict(
            "unknown-form",
            "fail",
            f"the password is {len(password)} characters long and is not an SES SMTP password: those are "
            f"{SES_PASSWORD_LENGTH} base64 characters starting with B (SigV4){_length_hint(password)}",
        )
    return None


def _compare_with_secret(
    password: str, secret: str, region: str, facts: PasswordFormFacts, ses_regions: Callable[[], list[str]]
) -> Verdict:
    """A SigV4 password against the key's secret: for ``region``, else for which other region (sets the
    comparison's facts)."""
    if not secret:
        return Verdict(
            "pass",
            "info",
            "the password has the SigV4 form (version byte 0x04, 44 characters); give the key's secret "
            "(input smtp_secret_key) to check it belongs to this key and region",
        )
    if hmac.compare_digest(smtp_password_v4(secret, region), password):
        facts.password_region, facts.regions_checked = region, 1
        return Verdict("pass", "pass", f"the password is the SigV4 SMTP password of this secret for {region}")
    regions = [region, *(r for r in ses_regions() if r != region)]
    facts.regions_checked = len(regions)
    other = matching_region(password, secret, regions[1:])
    if other:
        facts.password_region = other
        return Verdict(
            "wrong-region",
            "fail",
            f"the password was derived for {other}, but the mail is sent through {region}: SMTP passwords "
            f"are region-specific; " + DERIVE_HINT.format(region=region),
        )
    return Verdict(
        "mismatch",
        "fail",
        f"the password has the SigV4 form but is not derived from this secret for any of {len(regions)} SES "
        "regions: derived from another key's secret, or mistyped",
    )


def _length_hint(password: str) -> str:
    if len(password) in (SES_PASSWORD_LENGTH - 1, SES_PASSWORD_LENGTH + 1) and password[:1] == "B":
        return "; it is one character off: cut short or mistyped when pasted?"
    if len(password) == SES_PASSWORD_LENGTH and password[:1] == "B":
        return "; it has the length but not valid base64: mistyped?"
    return ""


def _describe(facts: PasswordFormFacts) -> str:
    lines = [
        f"form: {facts.form}",
        f"length: {facts.length} characters (SES SMTP passwords: {SES_PASSWORD_LENGTH})",
        f"version byte: {facts.version_byte or '-'} (SigV4: 0x04, SigV2: 0x02)",
        f"sending region: {facts.region}",
    ]
    if facts.secret_given:
        lines.append(
            f"compared with the key's secret: {facts.regions_checked} region(s) checked, "
            f"password region: {facts.password_region or 'none'}"
        )
    else:
        lines.append("the key's secret was not given: the password could not be compared with it")
    lines.append("(the password itself is not shown)")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- smtp.login


class LoginArgs(Args):
    smtp_username: str | None = Field(None, description=_USERNAME)
    smtp_password: str | None = Field(None, description=_PASSWORD, repr=False)
    region: str | None = Field(None, description=_REGION)
    key_state: str | None = Field(
        None, description="the access-key check's outcome (active, not-found, inactive …)"
    )


class LoginFacts(Facts):
    endpoint: str | None = Field(None, description="the SMTP endpoint logged in to, host:port")
    region: str | None = Field(None, description="the region whose SES SMTP endpoint it is")
    username: str | None = Field(None, description="the SMTP user name that logged in")
    key_state: str = Field("", description="the access key's state as given (the access-key check's outcome)")
    tls_mode: str = Field(
        "", description="how TLS was started: starttls (25, 587, 2587) or implicit (465, 2465)"
    )
    code: int | None = Field(
        None,
        description="the SMTP reply code that ended the login: to AUTH (235 accepted, 535 refused), or the "
        "greeting, EHLO or STARTTLS reply that stopped it (see stage)",
    )
    reply: str = Field("", description="that reply, code and text; '' if it got no reply")
    stage: str = Field(
        "", description="which step the reply answers: greeting, ehlo, starttls, auth; '' none"
    )
    failure: str = Field(
        "",
        description="what stopped the login before AUTH without a server reply saying why: refused, "
        "timeout, tls, closed, no-starttls, no-endpoint …",
    )
    detail: str = Field("", description="the error behind the failure, as the network or TLS library gave it")
    duration_ms: int | None = Field(None, description="how long the login took, in milliseconds")
    interpretation: str = Field("", description="what the reply means for the credentials, and what to do")


@check(
    "smtp.login",
    outcomes={
        "pass",
        "rejected",
        "rejected-expected",
        "rejected-unexplained",
        "v2",
        "throttled",
        "busy",
        "unreachable",
        "no-endpoint",
        "skipped",
    },
    args=LoginArgs,
    facts=LoginFacts,
    applies_when=("smtp_username", "smtp_password"),
    timeout=45.0,
)
async def login_check(ctx: CheckContext[LoginArgs]) -> CheckResult:
    """Log in to the SES SMTP endpoint (STARTTLS or TLS from the first byte, AUTH) with the configured user
    name and password, and QUIT."""
    username = ctx.args.smtp_username or ""
    key_state = (ctx.args.key_state or "").lower()
    region = _region(ctx.args.region, ctx.clients)
    smtp = ctx.clients.smtp
    login = await smtp.login(region, username, ctx.args.smtp_password or "")
    verdict = interpret_login(login, username, region, key_state, smtp.timeout)
    facts = LoginFacts(
        endpoint=f"{login.host}:{login.port}",
        region=region,
        username=username,
        key_state=key_state,
        tls_mode=login.tls_mode,
        code=login.code,
        reply=login.reply,
        stage=login.stage,
        failure=login.failure or "",
        detail=login.detail,
        duration_ms=login.duration_ms,
        interpretation=verdict.interpretation,
    )
    evidence = [Evidence(f"SMTP dialogue with {login.host}:{login.port}", "\n".join(login.dialogue))]
    return CheckResult(verdict.outcome, verdict.status, verdict.summary, facts, evidence)


@dataclass(frozen=True)
class LoginVerdict(Verdict):
    """A login's verdict, and what it means for the credentials (fact ``interpretation``)."""

    interpretation: str


def interpret_login(
    login: LoginResult, username: str, region: str, key_state: str, timeout: float
) -> LoginVerdict:
    """What a login's answer says: its outcome, status, summary and interpretation."""
    endpoint = f"{login.host}:{login.port}"
    if login.failure == "no-endpoint":
        return LoginVerdict(
            "no-endpoint",
            "fail",
            f"SES has no SMTP endpoint in {region}: {login.host} does not exist (not connected)",
            f"SES offers no SMTP interface in {region}; mail from {region} goes through the SES API only. "
            "Send with the API (SDK, `aws sesv2 send-email`), or send SMTP through a region that has an "
            "endpoint, with the identity verified and an SMTP password derived for that region.",
        )
    if login.code is not None and login.stage in ("greeting", "ehlo", "starttls"):
        return _early_reply(login, endpoint)
    if login.failure or login.code is None:
        why, advice = _unreachable(login, timeout)
        return LoginVerdict(
            "unreachable",
            "fail",
            why,
            f"No login was possible, so nothing is known about the credentials yet. {advice}",
        )
    reply = " ".join(login.reply.split())
    code = login.code
    if code == 235:
        return LoginVerdict(
            "pass",
            "pass",
            f"{reply} — {username} logged in to {endpoint}",
            f"SES accepted the user name and password: the key is active and the password is its SigV4 "
            f"SMTP password for {region}.",
        )
    if code == 535:
        return _auth_refused(login.message.lower(), reply, username, region, key_state)
    if 400 <= code < 500:
        return LoginVerdict(
            "throttled",
            "warn",
            f"{reply} — a temporary failure: try again later",
            "SES answered with a temporary failure (throttling or a service problem); this says nothing "
            "wrong about the credentials yet. Try again in a few minutes.",
        )
    if code == 530:
        return LoginVerdict(
            "rejected",
            "fail",
            f"{reply} — the server wants STARTTLS or authentication first",
            "The endpoint refused AUTH before the session met its requirements (TLS, authentication).",
        )
    return LoginVerdict(
        "rejected", "fail", f"{reply} — the login was refused", f"The endpoint refused the login with {code}."
    )


def _early_reply(login: LoginResult, endpoint: str) -> LoginVerdict:
    """A reply that ended the session before AUTH: the greeting, EHLO or STARTTLS refused."""
    reply = " ".join(login.reply.split())
    code = login.code or 0
    unknown = "Nothing is known about the credentials yet."
    if code == 421 or (login.stage == "greeting" and 400 <= code < 500):
        return LoginVerdict(
            "busy",
            "warn",
            f"{reply} — SES's own reply to the {_STAGE_NAMES[login.stage]} at {endpoint}: too many "
            "connections open, or the service is busy; not a firewall (the endpoint answered)",
            "The network path to SES is open: SES itself turned the session away (421: too many concurrent "
            "SMTP connections from this account or address, or a temporary service problem). "
            f"{unknown} Try again in a few minutes; if it keeps happening, have your clients open fewer "
            "connections at once (reuse one, or pool them).",
        )
    if login.stage == "starttls":
        if login.failure == "no-starttls":
            return LoginVerdict(
                "unreachable",
                "fail",
                f"{endpoint} does not offer STARTTLS, which SES requires, and answers STARTTLS with "
                f"{reply} — not an SES endpoint, or something in between strips it?",
                "Something other than SES answers at this address, or a middlebox (a proxy, an antivirus, a "
                f"firewall's SMTP inspection) removes STARTTLS from the server's offer. {unknown} Try port "
                "465 with TLS from the first byte (`--smtp-tls implicit`), which no middlebox can strip.",
            )
        temporary = 400 <= code < 500
        return LoginVerdict(
            "unreachable",
            "fail",
            f"{reply} — the server refused STARTTLS"
            + (" for now (a temporary failure: try again)" if temporary else ""),
            f"TLS could not start, so AUTH could not be sent. {unknown} "
            + (
                "SES reports a temporary problem starting TLS: try again in a few minutes."
                if temporary
                else "A server that refuses STARTTLS for good is not SES as it should answer: check the "
                "endpoint, or try port 465 with `--smtp-tls implicit`."
            ),
        )
    what = "greeting" if login.stage == "greeting" else "EHLO"
    return LoginVerdict(
        "unreachable",
        "fail",
        f"{reply} — the server refused the session at its {what}",
        f"The server answered but would not go on to AUTH ({what} refused with {code}). {unknown} "
        + (
            "A temporary failure: try again in a few minutes."
            if 400 <= code < 500
            else "SES accepts any EHLO name; a refusal means something other than SES answers here."
        ),
    )


_STAGE_NAMES = {
    "greeting": "connection (its greeting)",
    "ehlo": "EHLO",
    "starttls": "STARTTLS",
    "auth": "AUTH",
    "": "session",
}


def _auth_refused(message: str, reply: str, username: str, region: str, key_state: str) -> LoginVerdict:
    """A 535 (authentication failed): SigV2, a key SES is expected to refuse, no SES, or a wrong password."""
    if "signature version 2" in message:
        return LoginVerdict(
            "v2",
            "fail",
            f"{reply} — the password has the retired SigV2 form",
            f"{V2_RETIRED}; {DERIVE_HINT.format(region=region)}.",
        )
    if key_state in KEY_STATES_EXPECTED_REJECT:
        state = KEY_STATES_EXPECTED_REJECT[key_state]
        return LoginVerdict(
            "rejected-expected",
            "fail",
            f"{reply} — as expected: the key {username} {state}",
            f"SES rejects the login because the access key {username} {state}; the client still holds "
            "credentials made from it. Create SMTP credentials from an active key and update the client.",
        )
    if "not subscribed" in message:
        return LoginVerdict(
            "rejected",
            "fail",
            f"{reply} — the key's account is not signed up for SES",
            "SES knows the key but its AWS account is not subscribed to SES (or SES is not available to "
            f"it in {region}).",
        )
    if key_state in KEY_STATES_ACTIVE:
        why = f"the key is active, so the password is wrong for it (not derived from its secret for {region})"
        more = "derived from another key's secret, for another region, or mistyped"
        return LoginVerdict("rejected", "fail", f"{reply} — {why}", f"SES refused the login: {why}; {more}.")
    # The key's state was not established (its check could not run): the refusal alone does not say why.
    why = "the user name or the password is not accepted"
    more = f"the key may be deleted or inactive, or the password not derived from its secret for {region}"
    return LoginVerdict(
        "rejected-unexplained", "fail", f"{reply} — {why}", f"SES refused the login: {why}; {more}."
    )


_DNS_ERRNOS = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME), socket.EAI_AGAIN}
_SSL_NOISE = re.compile(r"^\[SSL: [A-Z_]+\]\s*|\s*\(_ssl\.c:\d+\)$")


def _unreachable(login: LoginResult, timeout: float) -> tuple[str, str]:
    """What stopped the login before AUTH (for the summary), and what to try (for the interpretation)."""
    endpoint = f"{login.host}:{login.port}"
    port = login.port
    detail = login.detail.strip()
    firewall = (
        f"Check that this network lets outbound TCP {port} through (SES also listens on 2587, and 465 or "
        "2465 with TLS from the start)."
    )
    if login.failure == "refused":
        number = re.search(r"\[Errno (-?\d+)\]", detail)
        code = int(number.group(1)) if number else None
        if code in _DNS_ERRNOS or re.search(r"not known|nodename nor servname|getaddrinfo", detail, re.I):
            return (
                f"{login.host} does not resolve in DNS ({detail})",
                "Check the region and the SMTP endpoint name (SES has no SMTP endpoint in some regions: "
                "then the name does not exist), and this machine's DNS.",
            )
        if code == errno.ECONNREFUSED or "refused" in detail.lower():
            return f"connection refused at {endpoint} — a firewall blocks outbound {port}?", firewall
        if code in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return f"no route to {endpoint} ({os.strerror(code)}) — no network, or a firewall?", firewall
        return f"cannot connect to {endpoint} ({detail}) — a firewall blocks outbound {port}?", firewall
    if login.failure == "timeout":
        if login.tls_mode == "starttls" and port in (465, 2465):
            return (
                f"no greeting within {timeout:g}s from {endpoint} — port {port} wants TLS from the first byte?",
                f"SES speaks TLS from the first byte on {port}: use `--smtp-tls implicit`. " + firewall,
            )
        return f"no answer within {timeout:g}s from {endpoint} — a firewall drops outbound {port}?", firewall
    if login.failure == "tls":
        if login.tls_mode == "implicit" and re.search(
            r"wrong version number|record layer failure", detail, re.I
        ):
            return (
                f"TLS failed: {_tls_detail(detail)} ({endpoint}) — this port speaks plain SMTP first?",
                f"A TLS handshake from the first byte got a plain-text answer: port {port} wants STARTTLS "
                "(SES: 25, 587, 2587); use `--smtp-tls starttls`, or port 465/2465 for TLS from the start.",
            )
        when = "from the first byte" if login.tls_mode == "implicit" else "after STARTTLS"
        return (
            f"TLS failed: {_tls_detail(detail)} ({endpoint})",
            f"The TLS handshake {when} failed: a proxy or antivirus intercepting TLS, an outdated "
            "trust store, or the wrong host (for a test endpoint, give its CA with --smtp-ca-file).",
        )
    if login.failure == "closed":
        return (
            f"{endpoint} closed the connection ({detail or 'no reason given'})",
            "The server hung up before AUTH: a proxy in the way, or too many connections; try again.",
        )
    if login.failure == "no-starttls":
        return (
            f"{endpoint} does not offer STARTTLS, which SES requires — not an SES endpoint?",
            "Something other than SES answers at this address (a proxy or a local mail server).",
        )
    return f"no reply to AUTH from {endpoint} ({detail or 'no detail'})", ""


def _tls_detail(detail: str) -> str:
    """'[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: x (_ssl.c:1000)' -> 'certificate verify failed: x'"""
    m = re.search(r"\[SSL: [A-Z_]+\][^\n]*", detail)
    text = m.group(0) if m else detail
    return _SSL_NOISE.sub("", text).strip() or "the TLS handshake failed"
