"""A real SMTP login to an SES SMTP endpoint through aiosmtplib: STARTTLS (ports 25, 587, 2587) or TLS from
the first byte (465, 2465), recorded as the dialogue that went over the wire with the credentials masked.
A refused connection, a timeout, a TLS failure or a server reply that ends the session early (a 421
greeting, an EHLO or STARTTLS error) is a result to show, never a crash."""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import aiosmtplib

Failure = Literal["refused", "timeout", "tls", "closed", "no-starttls", "no-endpoint"]
TlsMode = Literal["starttls", "implicit"]
# The command whose reply ended the session: the greeting, EHLO, STARTTLS or AUTH.
Stage = Literal["", "greeting", "ehlo", "starttls", "auth"]

IMPLICIT_TLS_PORTS = frozenset({465, 2465})
STARTTLS_PORT = 587
IMPLICIT_TLS_PORT = 465
# Regions where SES has no SMTP endpoint: email-smtp.<region>.amazonaws.com does not exist there. ses-facts.md
# (the SES guide's list at the time) names af-south-1, eu-south-1 and me-south-1; eu-south-1 is left out
# because AWS's own SMTP-credentials code example lists it among the SMTP regions. A region missing here
# that has no endpoint still fails honestly: its host does not resolve.
REGIONS_WITHOUT_SMTP = frozenset({"af-south-1", "me-south-1"})
MASKED = "****"


def default_tls_mode(port: int) -> TlsMode:
    """CONTRACT.md: TLS from the first byte on 465 and 2465, STARTTLS on every other port."""
    return "implicit" if port in IMPLICIT_TLS_PORTS else "starttls"


@dataclass
class LoginResult:
    host: str
    port: int
    tls_mode: TlsMode = "starttls"
    code: int | None = None  # the reply that ended the session: to AUTH, or an early one (see stage)
    message: str = ""
    stage: Stage = ""  # which command ``code`` answers
    failure: Failure | None = None  # why it got no reply to AUTH, when no server reply says it
    detail: str = ""
    dialogue: list[str] = field(default_factory=list)
    duration_ms: int = 0
    quit_reply: str = ""  # the reply to QUIT, when it was sent and answered

    @property
    def reply(self) -> str:
        return f"{self.code} {self.message}".strip() if self.code else ""


def ses_smtp_host(region: str) -> str:
    return f"email-smtp.{region}.amazonaws.com"


class SmtpClient:
    def __init__(
        self,
        endpoint: tuple[str, int] | None,
        ca_file: Path | None,
        timeout: float,
        tls_mode: TlsMode | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.ca_file = ca_file
        self.timeout = timeout
        self._tls_mode = tls_mode

    @property
    def tls_mode(self) -> TlsMode:
        if self._tls_mode is not None:
            return self._tls_mode
        return default_tls_mode(self.endpoint[1]) if self.endpoint else "starttls"

    def endpoint_for(self, region: str) -> tuple[str, int]:
        port = IMPLICIT_TLS_PORT if self.tls_mode == "implicit" else STARTTLS_PORT
        return self.endpoint or (ses_smtp_host(region), port)

    def tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.ca_file is not None:
            context.load_verify_locations(cafile=str(self.ca_file))
        return context

    async def login(self, region: str, username: str, password: str) -> LoginResult:
        host, port = self.endpoint_for(region)
        mode = self.tls_mode
        result = LoginResult(host=host, port=port, tls_mode=mode)
        if self.endpoint is None and region in REGIONS_WITHOUT_SMTP:
            result.failure = "no-endpoint"
            result.detail = f"SES has no SMTP endpoint in {region}"
            result.dialogue.append(f"… not connecting: SES offers no SMTP endpoint in {region} ({host})")
            return result
        started = time.monotonic()
        try:
            await _Dialogue(self, result).run(username, password)
        finally:
            result.duration_ms = int((time.monotonic() - started) * 1000)
        return result


class _Dialogue:
    """One session, each line of it recorded as it goes over the wire (C: sent, S: received, … notes)."""

    def __init__(self, client: SmtpClient, result: LoginResult) -> None:
        self.client = client
        self.result = result
        self.smtp = aiosmtplib.SMTP(
            hostname=result.host,
            port=result.port,
            timeout=client.timeout,
            use_tls=result.tls_mode == "implicit",
            start_tls=False,
            tls_context=client.tls_context(),
        )

    def say(self, line: str) -> None:
        self.result.dialogue.append(line)

    def server(self, code: int, message: str) -> None:
        lines = message.splitlines() or [""]
        for i, line in enumerate(lines):
            self.say(f"S: {code}{'-' if i < len(lines) - 1 else ' '}{line}".rstrip())

    def stop(self, stage: Stage, code: int, message: str) -> None:
        self.result.stage, self.result.code, self.result.message = stage, code, message

    async def command(self, stage: Stage, shown: str, *args: bytes) -> aiosmtplib.SMTPResponse:
        self.say(f"C: {shown}")
        reply = await self.smtp.execute_command(*args)
        self.server(reply.code, reply.message)
        return reply

    async def run(self, username: str, password: str) -> None:
        result, smtp = self.result, self.smtp
        try:
            await self._session(username, password)
        except aiosmtplib.SMTPConnectResponseError as exc:  # a greeting other than 220 (421: busy)
            self.server(exc.code, exc.message)
            self.stop("greeting", exc.code, exc.message)
        except aiosmtplib.SMTPConnectTimeoutError as exc:
            result.failure, result.detail = "timeout", str(exc)
        except aiosmtplib.SMTPTimeoutError as exc:
            result.failure, result.detail = "timeout", str(exc)
        except aiosmtplib.SMTPConnectError as exc:
            result.failure, result.detail = ("tls" if _is_tls(exc) else "refused"), str(exc)
        except (ssl.SSLError, ssl.CertificateError) as exc:
            result.failure, result.detail = "tls", str(exc)
        except aiosmtplib.SMTPServerDisconnected as exc:
            result.failure, result.detail = ("tls" if _is_tls(exc) else "closed"), str(exc)
        except OSError as exc:
            result.failure, result.detail = "refused", str(exc)
        finally:
            if result.failure:
                self.say(f"… {result.failure}: {result.detail}")
            smtp.close()

    async def _session(self, username: str, password: str) -> None:
        result, smtp = self.result, self.smtp
        self.say(
            f"… connecting to {result.host}:{result.port}"
            + (" (TLS from the first byte)" if result.tls_mode == "implicit" else "")
        )
        greeting = await smtp.connect()
        if result.tls_mode == "implicit":
            self._tls_note()
        self.server(greeting.code, greeting.message)
        if not await self._ehlo():
            return
        if result.tls_mode == "starttls":
            if not await self._starttls():
                return
            if not await self._ehlo():
                return
        reply = await self.command("auth", f"AUTH PLAIN {MASKED} (credentials not shown)",
                                   b"AUTH", b"PLAIN", aiosmtplib.auth.auth_plain_encode(username, password))  # fmt: skip
        self.stop("auth", reply.code, reply.message)
        await self._quit()

    async def _ehlo(self) -> bool:
        self.say(f"C: EHLO {self.smtp.local_hostname}")
        try:
            reply = await self.smtp.ehlo()
        except aiosmtplib.SMTPHeloError as exc:
            self.server(exc.code, exc.message)
            self.stop("ehlo", exc.code, exc.message)
            await self._quit()
            return False
        self.server(reply.code, reply.message)
        return True

    async def _starttls(self) -> bool:
        if not self.smtp.supports_extension("starttls"):
            self.say("… the EHLO reply does not offer STARTTLS")
            self.result.failure, self.result.detail = "no-starttls", "the server does not offer STARTTLS"
            reply = await self.command("starttls", "STARTTLS", b"STARTTLS")  # what it answers anyway
            self.stop("starttls", reply.code, reply.message)
            if reply.code != 220:
                await self._quit()
            return False
        self.say("C: STARTTLS")
        try:
            reply = await self.smtp.starttls()
        except aiosmtplib.SMTPResponseException as exc:
            self.server(exc.code, exc.message)
            self.stop("starttls", exc.code, exc.message)
            await self._quit()
            return False
        self.server(reply.code, reply.message)
        self._tls_note()
        return True

    def _tls_note(self) -> None:
        tls = self.smtp.get_transport_info("ssl_object")
        if tls is not None:
            self.say(f"… TLS established: {tls.version()}, certificate for {self.result.host} verified")

    async def _quit(self) -> None:
        """QUIT, really sent; a server that hung up already is no failure of the login."""
        try:
            reply = await self.command("", "QUIT", b"QUIT")
            self.result.quit_reply = f"{reply.code} {reply.message}"
        except (aiosmtplib.SMTPException, OSError) as exc:
            self.say(f"… no reply to QUIT: {exc}")


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError | ssl.CertificateError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
