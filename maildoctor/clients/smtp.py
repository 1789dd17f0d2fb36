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
        from maildoctor.clients.smtp_wire import Dialogue  # aiosmtplib: imported when a login is made

        started = time.monotonic()
        try:
            await Dialogue(self, result).run(username, password)
        finally:
            result.duration_ms = int((time.monotonic() - started) * 1000)
        return result
