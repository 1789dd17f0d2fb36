"""A real SMTP login (STARTTLS on 587) through aiosmtplib, recorded as a dialogue with the credentials
left out. A refused connection, a timeout or a TLS failure is a result to show, never a crash."""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import aiosmtplib

Failure = Literal["refused", "timeout", "tls", "closed", "no-starttls"]


@dataclass
class LoginResult:
    host: str
    port: int
    code: int | None = None  # the reply to AUTH, when it got that far
    message: str = ""
    failure: Failure | None = None  # why it did not get to AUTH
    detail: str = ""
    dialogue: list[str] = field(default_factory=list)
    duration_ms: int = 0

    @property
    def reply(self) -> str:
        return f"{self.code} {self.message}".strip() if self.code else ""


def ses_smtp_host(region: str) -> str:
    return f"email-smtp.{region}.amazonaws.com"


class SmtpClient:
    def __init__(self, endpoint: tuple[str, int] | None, ca_file: Path | None, timeout: float) -> None:
        self.endpoint = endpoint
        self.ca_file = ca_file
        self.timeout = timeout

    def endpoint_for(self, region: str) -> tuple[str, int]:
        return self.endpoint or (ses_smtp_host(region), 587)

    def tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.ca_file is not None:
            context.load_verify_locations(cafile=str(self.ca_file))
        return context

    async def login(self, region: str, username: str, password: str) -> LoginResult:
        host, port = self.endpoint_for(region)
        result = LoginResult(host=host, port=port)
        say = result.dialogue.append
        started = time.monotonic()
        smtp = aiosmtplib.SMTP(hostname=host, port=port, timeout=self.timeout, start_tls=False, use_tls=False,
                               tls_context=self.tls_context())  # fmt: skip
        try:
            say(f"… connecting to {host}:{port}")
            reply = await smtp.connect()
            say(f"S: {reply.code} {reply.message}")
            reply = await smtp.ehlo()
            say("C: EHLO")
            say(f"S: {reply.code} {_first_line(reply.message)} …")
            if not smtp.supports_extension("starttls"):
                result.failure, result.detail = "no-starttls", "the server does not offer STARTTLS"
                return result
            say("C: STARTTLS")
            reply = await smtp.starttls()
            say(f"S: {reply.code} {reply.message}")
            tls = smtp.get_transport_info("ssl_object")
            if tls is not None:
                say(f"… TLS established: {tls.version()}, certificate for {host} verified")
            await smtp.ehlo()
            say("C: EHLO")
            say("C: AUTH PLAIN (credentials not shown)")
            try:
                reply = await smtp.auth_plain(username, password)
            except aiosmtplib.SMTPAuthenticationError as exc:
                result.code, result.message = exc.code, exc.message
            except aiosmtplib.SMTPResponseException as exc:
                result.code, result.message = exc.code, exc.message
            else:
                result.code, result.message = reply.code, reply.message
            say(f"S: {result.code} {result.message}")
            say("C: QUIT")
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
                say(f"… {result.failure}: {result.detail}")
            smtp.close()
            result.duration_ms = int((time.monotonic() - started) * 1000)
        return result


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError | ssl.CertificateError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
