"""The SMTP dialogue of :meth:`maildoctor.clients.smtp.SmtpClient.login`, over aiosmtplib. Apart from
the client so that importing the client (every check module does) does not import aiosmtplib (~100 ms):
this module is imported when a login is made."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

import aiosmtplib

from maildoctor.clients.smtp import MASKED

if TYPE_CHECKING:
    from maildoctor.clients.smtp import LoginResult, SmtpClient, Stage


class Dialogue:
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
