"""The lab's SES-like SMTP server: aiosmtpd with mandatory STARTTLS and AUTH checked against a scenario.

It answers the way ``email-smtp.<region>.amazonaws.com`` does (reply texts from ses-facts.md):

* before STARTTLS every command but EHLO/NOOP/STARTTLS/QUIT gets ``530 Must issue a STARTTLS command first``
  (AUTH is advertised in the first EHLO as SES does, so clients really send it and see the 530);
* AUTH PLAIN / LOGIN: the user name is an access key id, the password must be the SigV4 SMTP password of
  that key's secret for the scenario's sending region: ``235 Authentication successful``; an unknown or
  Inactive key or any other password gets ``535 Authentication Credentials Invalid``, except the correct
  SigV2 password of an active key, which gets the SigV2-deprecated 535;
* MAIL / RCPT / DATA before AUTH: ``530 Authentication required``;
* the sending checks are made at the end of DATA, where SES makes them (clients see them as the reply to
  the final ``.``; aiosmtplib raises ``SMTPDataError(554, ...)``), in this order: sending paused for the
  account (``Sending suspended`` when the account paused itself, ``Sending paused`` when AWS did), identities not verified (the envelope sender and the From header address, plus the recipients
  when the account is in the sandbox), the IAM user not allowed ``ses:SendRawEmail`` on the identity
  (evaluated as SimulatePrincipalPolicy is, with ``ses:FromAddress``, ``ses:FromDisplayName`` and
  ``ses:Recipients`` from the message);
* otherwise ``250 Ok <message-id>``; the message is discarded, the last few are kept in memory.

Faults (``set_faults(SmtpFaults(...))``, see maildoctor.lab.faults) apply to connections made after they are
set: no greeting, a 421 greeting, dropping the connection after EHLO or at AUTH, no STARTTLS, a
certificate from another CA, a latency per reply.

A second listener (``implicit_address``) speaks TLS from the first byte, as SES does on 465 and 2465: no
STARTTLS offered, AUTH right after EHLO. Each connection's commands (verbs only: ``EHLO``, ``STARTTLS``,
``AUTH PLAIN``, ``QUIT``; never their data) are kept in ``dialogues``, so tests can see what was sent, and
every reply sent is timed in ``calls()`` (the command it answers, verb only, and when).

The server runs its own event loop in its own thread, on a socket it binds itself (aiosmtpd's
``Controller(port=0)`` cannot check readiness on an ephemeral port).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hmac
import logging
import socket
import ssl
import threading
import time
import uuid
import warnings
from collections import deque
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import Any, AnyStr, ClassVar

import trustme
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session, syntax

from maildoctor.lab.aws import user_decision
from maildoctor.lab.faults import SmtpFaults
from maildoctor.lab.scenario import LAB_ACCOUNT_ID, Scenario, User
from maildoctor.lab.service import Service
from maildoctor.smtp_password import password_form, smtp_password_v2, smtp_password_v4

__all__ = ["AcceptedMessage", "LabSmtpServer", "LabTls", "SmtpReply"]

# aiosmtpd logs to "mail.log" (warnings included, e.g. its deprecated Session.login_data setter on every
# successful AUTH). Without a handler anywhere, Python's last-resort handler would print those to stderr
# over the TUI; a NullHandler silences that and still lets an application that configures logging see them.
logging.getLogger("mail.log").addHandler(logging.NullHandler())

SES_HOSTNAME = "email-smtp.amazonaws.com"
SES_IDENT = "ESMTP SimpleEmailService-d-MAILDOCTORLAB0 maildoctor-lab"
MAX_MESSAGE_BYTES = 10 * 1024 * 1024
KEEP_MESSAGES = 20

AUTH_OK = "235 Authentication successful"
AUTH_INVALID = "535 Authentication Credentials Invalid"
AUTH_SIGV2 = (
    "535 Signature Version 2 is deprecated for use with SES from March 26, 2021. "
    "Please migrate to Signature Version 4."
)
AUTH_REQUIRED = "530 Authentication required"
# AWS's pause (enforcement), as real logs show it
SENDING_PAUSED = (
    "554 Message rejected: Sending paused for this account. "
    "For more information, please check the AWS Management Console."
)
# the account's own pause (SendingEnabled false while HEALTHY), as public client code quotes SES
SENDING_SUSPENDED = (
    "554 Message rejected: Sending suspended for this account. For more information, please check the "
    "inbox of the email address associated with your AWS account."
)
NOT_VERIFIED = "554 Message rejected: Email address is not verified. The following identities failed the check in region {region}: {identities}"
TOO_MANY_CONNECTIONS = "421 Too many concurrent SMTP connections"
TLS_NOT_AVAILABLE = "454 TLS not available due to temporary reason"
ACCESS_DENIED = "554 Access denied: User {user_arn} is not authorized to perform ses:SendRawEmail on resource {identity_arn}"

_SEND_ACTION = "ses:SendRawEmail"
_CONNECT_TIMEOUT = 10.0


class LabTls:
    """The lab's certificate authority and the server certificate it issues (for localhost and 127.0.0.1)."""

    def __init__(self, directory: Path) -> None:
        self._ca = trustme.CA(organization_name="maildoctor lab")
        self._cert = self._ca.issue_cert("localhost", "127.0.0.1", organization_name="maildoctor lab")
        directory.mkdir(parents=True, exist_ok=True)
        self.ca_file: Path = directory / "lab-ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_file))
        self._context: ssl.SSLContext | None = None
        self._untrusted: ssl.SSLContext | None = None

    def server_context(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = _server_context(self._cert)
        return self._context

    def untrusted_context(self) -> ssl.SSLContext:
        """A server context whose certificate (same names) comes from another CA, one no client is told
        to trust: what the ``smtp-untrusted-cert`` fault presents."""
        if self._untrusted is None:
            other = trustme.CA(organization_name="maildoctor lab untrusted")
            self._untrusted = _server_context(
                other.issue_cert("localhost", "127.0.0.1", organization_name="maildoctor lab untrusted")
            )
        return self._untrusted


def _server_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)  # no client certificates asked
    cert.configure_cert(context)
    return context


@dataclass(frozen=True)
class AcceptedMessage:
    message_id: str
    access_key_id: str
    user: str
    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes


@dataclass(frozen=True)
class SmtpReply:
    """One reply sent, timed: ``start`` when what it answers arrived (the connection, for the greeting),
    ``end`` when its last line was written (after any latency), both ``time.monotonic()`` seconds of the
    lab's process. ``command`` is a verb (``EHLO``, ``AUTH``), ``connect`` for the greeting, ``DATA`` for
    the end of a message and ``AUTH`` for an AUTH continuation: never what the client sent after it."""

    command: str
    code: str  # "250"
    start: float
    end: float
    layer: ClassVar[str] = "smtp"

    @property
    def name(self) -> str:
        return self.command


# What arrives after these replies is not a command: a message's lines, an AUTH response (a secret).
_CONTINUED_BY = {"354": "DATA", "334": "AUTH"}


def _verb(data: bytes) -> str:
    """The command a line starts with, upper case; "?" for anything that is not a plain verb."""
    word = data.split(b"\r\n", 1)[0].split(b" ", 1)[0]
    return word.decode("ascii").upper() if word.isalpha() and len(word) <= 10 else "?"


@dataclass(frozen=True)
class _Login:
    """What a successful AUTH leaves on the session (never the password)."""

    access_key_id: str
    user: str


def _message_id() -> str:
    return f"{int(time.time() * 1000):016x}-{uuid.uuid4()}-000000"


def _domain_and_parents(address: str) -> list[str]:
    domain = address.rpartition("@")[2].lower().rstrip(".")
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)] if domain else []


def _verified_identity(scenario: Scenario, region: str, address: str) -> str | None:
    """The verified identity that covers ``address``: the address itself, its domain or a parent domain."""
    for name in [address, *_domain_and_parents(address)]:
        identity = scenario.identity(region, name)
        if identity is not None and identity.verified_for_sending:
            return identity.identity
    return None


def _may_send(user: User, identity_arn: str, context: dict[str, list[str]]) -> bool:
    """IAM's decision on ses:SendRawEmail, conditions included, as SimulatePrincipalPolicy gives it."""
    return user_decision(user, _SEND_ACTION, identity_arn, context) == "allowed"


def _from_header(content: bytes) -> list[tuple[str, str]]:
    """(display name, address) of each From header address."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(content)
    return [
        (name, addr) for name, addr in email.utils.getaddresses(headers.get_all("From", [])) if "@" in addr
    ]


def _from_header_addresses(content: bytes) -> list[str]:
    return [addr for _, addr in _from_header(content)]


class _Handler:
    """aiosmtpd hooks: the EHLO reply and the SES sending checks at the end of DATA."""

    def __init__(self, lab: LabSmtpServer) -> None:
        self._lab = lab

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves this to a 5-argument EHLO hook
        lines = [SES_HOSTNAME, "8BITMIME", f"SIZE {MAX_MESSAGE_BYTES}"]
        implicit = getattr(server, "implicit", False)
        if session.ssl is None and not implicit and not getattr(server, "faults", SmtpFaults()).no_starttls:
            lines.append("STARTTLS")
        lines += ["AUTH PLAIN LOGIN", "Ok"]
        return [f"250-{line}" for line in lines[:-1]] + [f"250 {lines[-1]}"]

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        login = session.auth_data
        scenario = self._lab.scenario
        if not isinstance(login, _Login) or scenario is None:
            return AUTH_REQUIRED
        content = envelope.original_content or b""
        return self._lab._check_send(
            scenario, login, envelope.mail_from or "", list(envelope.rcpt_tos), content
        )


def _starttls_context(tls: LabTls, faults: SmtpFaults) -> ssl.SSLContext:
    return tls.untrusted_context() if faults.untrusted_cert else tls.server_context()


class _SesSmtp(SMTP):
    """aiosmtpd's SMTP with SES's replies where aiosmtpd's own differ, and connection tracking for stop()."""

    def __init__(
        self, lab: LabSmtpServer, loop: asyncio.AbstractEventLoop, faults: SmtpFaults, implicit: bool = False
    ) -> None:
        self.faults = faults  # as they were when the connection came in
        self.implicit = implicit  # TLS from the first byte (465/2465): the transport is TLS already
        self.commands: list[str] = []  # what the client sent, verbs only (AUTH: the mechanism, never data)
        lab.dialogues.append(self.commands)
        self._answering = ("connect", time.monotonic())  # what the next reply answers, since when
        self._continued: str | None = None  # the verb the client's next data continues (after 354, 334)
        with warnings.catch_warnings():  # implicit: AUTH needs no STARTTLS, the whole session is TLS
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)
            self._init_smtp(lab, loop, faults, implicit)
        self._lab = lab

    def _init_smtp(
        self, lab: LabSmtpServer, loop: asyncio.AbstractEventLoop, faults: SmtpFaults, implicit: bool
    ) -> None:
        super().__init__(
            _Handler(lab),
            hostname=SES_HOSTNAME,
            ident=SES_IDENT,
            tls_context=None if implicit else _starttls_context(lab.tls, faults),
            require_starttls=not implicit,
            auth_required=True,
            auth_require_tls=not implicit,
            authenticator=lab._authenticate,
            data_size_limit=MAX_MESSAGE_BYTES,
            timeout=60,
            loop=loop,
        )

    async def push(self, status: AnyStr) -> None:
        """Every reply, ``smtp-slow`` late (once per reply: before its last line), and timed."""
        text = status if isinstance(status, str) else status.decode("ascii", "replace")
        last_line = text[3:4] != "-"
        if self.faults.latency_ms and last_line:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        await super().push(status)
        if last_line:
            command, start = self._answering
            self._lab._record(SmtpReply(command, text[:3], start, time.monotonic()))
            self._continued = _CONTINUED_BY.get(text[:3])

    def data_received(self, data: bytes) -> None:
        """Notes what the next reply answers (plain text: after STARTTLS the TLS layer calls this)."""
        self._answering = (self._continued or _verb(data), time.monotonic())
        super().data_received(data)

    @syntax("EHLO hostname")
    async def smtp_EHLO(self, hostname: str) -> None:
        self.commands.append("EHLO")
        await super().smtp_EHLO(hostname)
        if self.faults.drop_after_ehlo and self._tls_protocol is None and self.transport is not None:
            self.transport.close()  # after the reply is written: the client sees EOF on its next command

    @syntax("STARTTLS", when="tls_context")
    async def smtp_STARTTLS(self, arg: str) -> None:
        self.commands.append("STARTTLS")
        if self.faults.no_starttls:
            await self.push(TLS_NOT_AVAILABLE)
            return
        await super().smtp_STARTTLS(arg)

    @syntax("AUTH <mechanism>")
    async def smtp_AUTH(self, arg: str) -> None:
        self.commands.append(f"AUTH {arg.split(' ', 1)[0].upper()}".rstrip())
        if self.faults.drop_after_auth and self.transport is not None:
            self.transport.close()  # no reply at all
            return
        await super().smtp_AUTH(arg)

    @syntax("QUIT")
    async def smtp_QUIT(self, arg: str) -> None:
        self.commands.append("QUIT")
        await super().smtp_QUIT(arg)

    async def check_auth_needed(self, caller_method: str) -> bool:
        assert self.session is not None
        if not self.session.authenticated:
            await self.push(AUTH_REQUIRED)  # aiosmtpd's text is "530 5.7.0 Authentication required"
            return True
        return False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is None:  # the TCP connection, not the TLS layer after STARTTLS
            self._lab._connections.add(self)
            # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; a socket from
            # socket.create_server has proto 0, and Nagle would then hold each line of a multi-line reply
            # (aiosmtpd writes them one by one) for the peer's delayed ACK: 40 ms per EHLO.
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self._lab._connections.discard(self)
        super().connection_lost(error)

    def abort(self) -> None:
        for transport in (self._original_transport, self.transport):
            if isinstance(transport, asyncio.Transport):
                transport.abort()


class _Silent(asyncio.Protocol):
    """``smtp-no-greeting``: takes the connection and never says a word (until the client gives up)."""

    def __init__(self, lab: LabSmtpServer) -> None:
        self._lab = lab
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._lab._connections.add(self)

    def data_received(self, data: bytes) -> None:
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        self._lab._connections.discard(self)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class _Busy(_Silent):
    """``smtp-421``: greets with 421 and closes, as SES does at its connection limit."""

    def __init__(self, lab: LabSmtpServer, faults: SmtpFaults) -> None:
        super().__init__(lab)
        self._delay = faults.latency_ms / 1000

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        asyncio.get_running_loop().call_later(self._delay, self._refuse)

    def _refuse(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(TOO_MANY_CONNECTIONS.encode() + b"\r\n")
            self.transport.close()


async def _cancel_leftovers() -> None:
    pending = asyncio.all_tasks() - {asyncio.current_task()}
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


class LabSmtpServer(Service):
    """An SES-like SMTP endpoint on loopback; ``load()`` swaps the scenario while it runs."""

    def __init__(
        self, tls: LabTls, *, host: str = "127.0.0.1", port: int = 0, implicit_port: int = 0
    ) -> None:
        self.tls = tls
        self.host = host
        self.port = port
        self._requested_port = port
        self.implicit_port = implicit_port  # a second listener: TLS from the first byte, as SES on 465/2465
        self._requested_implicit_port = implicit_port
        # the commands of the last few sessions, one list per connection, oldest first (verbs only)
        self.dialogues: deque[list[str]] = deque(maxlen=KEEP_MESSAGES)
        self.scenario: Scenario | None = None
        self._messages: deque[AcceptedMessage] = deque(maxlen=KEEP_MESSAGES)
        self._replies: list[SmtpReply] = []  # every reply sent, timed (calls())
        self._replies_lock = threading.Lock()  # written in the server's thread, read in others
        self._connections: set[_SesSmtp | _Silent] = set()
        self._faults = SmtpFaults()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def implicit_address(self) -> str:
        """Where the lab speaks TLS from the first byte (as SES on 465 and 2465)."""
        return f"{self.host}:{self.implicit_port}"

    @property
    def messages(self) -> list[AcceptedMessage]:
        """The last accepted messages, oldest first."""
        return list(self._messages)

    def calls(self) -> list[SmtpReply]:
        """Every reply sent since the last :meth:`clear_calls` (or the start), in the order sent."""
        with self._replies_lock:
            return list(self._replies)

    def clear_calls(self) -> None:
        with self._replies_lock:
            self._replies.clear()

    def _record(self, reply: SmtpReply) -> None:
        with self._replies_lock:
            self._replies.append(reply)

    def load(self, scenario: Scenario) -> None:
        """Serve ``scenario`` from the next command on (sessions already logged in keep their login)."""
        self.scenario = scenario

    @property
    def faults(self) -> SmtpFaults:
        return self._faults

    def set_faults(self, faults: SmtpFaults) -> None:
        """Apply these faults to the connections made from now on (``SmtpFaults()``: none). ``refused``
        is not applied here: it is where clients are pointed (``Lab.env()``), since this server listens."""
        self._faults = faults

    def _protocol(self, loop: asyncio.AbstractEventLoop, implicit: bool = False) -> asyncio.Protocol:
        faults = self._faults
        if faults.no_greeting:
            return _Silent(self)
        if faults.greeting_421:
            return _Busy(self, faults)
        return _SesSmtp(self, loop, faults, implicit=implicit)

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Bind, then serve from a background thread; returns once connections are accepted."""
        if self._thread is not None:
            return
        sock = socket.create_server((self.host, self._requested_port), backlog=64)
        self.port = sock.getsockname()[1]
        tls_sock = socket.create_server((self.host, self._requested_implicit_port), backlog=64)
        self.implicit_port = tls_sock.getsockname()[1]
        self._ready.clear()
        self._failure = None
        self._thread = threading.Thread(
            target=self._run, args=(sock, tls_sock), name="maildoctor-lab-smtp", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(_CONNECT_TIMEOUT) or self._failure is not None:
            failure = self._failure
            self.stop()
            sock.close()
            tls_sock.close()
            raise RuntimeError(f"the lab SMTP server did not start on {self.address}") from failure

    def stop(self) -> None:
        """Close the listening socket and every connection, end the thread. Safe to call twice."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop may already be closed
                loop.call_soon_threadsafe(stopping.set)
        thread.join()
        self._thread = self._loop = self._stopping = None

    def _run(self, sock: socket.socket, tls_sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(loop, sock, tls_sock))
        except BaseException as exc:  # reported to start(), which is waiting
            self._failure = exc
            self._ready.set()
        finally:
            sock.close()
            tls_sock.close()
            loop.run_until_complete(_cancel_leftovers())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, tls_sock: socket.socket
    ) -> None:
        self._stopping = asyncio.Event()
        server = await loop.create_server(lambda: self._protocol(loop), sock=sock)
        # TLS from the first byte, with the lab's certificate (smtp-untrusted-cert is for STARTTLS only)
        tls_server = await loop.create_server(
            lambda: self._protocol(loop, implicit=True), sock=tls_sock, ssl=self.tls.server_context()
        )
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            tls_server.close()
            server.close()
            for connection in list(self._connections):
                connection.abort()
            self._connections.clear()
            await asyncio.sleep(0)  # let connection_lost callbacks run
            await server.wait_closed()
            await tls_server.wait_closed()

    # --- SES behaviour -----------------------------------------------------------------------------

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        scenario = self.scenario
        if scenario is None or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False, message=AUTH_INVALID)
        key_id = auth_data.login.decode("utf-8", errors="replace")
        password = auth_data.password.decode("ascii", errors="replace")
        found = scenario.find_key(key_id)
        if found is None or found[1].status != "Active":
            return AuthResult(success=False, handled=False, message=AUTH_INVALID)
        user, key = found
        if hmac.compare_digest(password, smtp_password_v4(key.secret, scenario.region)):
            return AuthResult(success=True, auth_data=_Login(key.id, user.name), message=AUTH_OK)
        if password_form(password) == "sigv2" and hmac.compare_digest(password, smtp_password_v2(key.secret)):
            return AuthResult(success=False, handled=False, message=AUTH_SIGV2)
        return AuthResult(success=False, handled=False, message=AUTH_INVALID)

    def _check_send(
        self, scenario: Scenario, login: _Login, mail_from: str, rcpt_tos: list[str], content: bytes
    ) -> str:
        region = scenario.region
        account = scenario.account_in(region)
        if not account.sending_enabled:
            return SENDING_SUSPENDED if account.enforcement == "HEALTHY" else SENDING_PAUSED
        found = scenario.find_key(login.access_key_id)
        user = found[0] if found is not None else User(name=login.user)  # key gone since: no permissions

        from_header = _from_header_addresses(content)
        checked = [mail_from, *from_header]
        if not scenario.account_in(region).production_access:  # sandbox: recipients must be verified too
            checked += rcpt_tos
        failed: list[str] = []
        for address in checked:
            if _verified_identity(scenario, region, address) is None and address.lower() not in (
                f.lower() for f in failed
            ):
                failed.append(address)
        if failed:
            return NOT_VERIFIED.format(region=region.upper(), identities=", ".join(failed))

        sender = from_header[0] if from_header else mail_from
        identity = _verified_identity(scenario, region, sender) or sender
        identity_arn = f"arn:aws:ses:{region}:{LAB_ACCOUNT_ID}:identity/{identity}"
        # SES's condition keys for a send (DG "Controlling access to Amazon SES"): the From address (the
        # envelope sender when there is no From header), its display name, every recipient
        context = {"ses:FromAddress": [sender], "ses:Recipients": list(rcpt_tos)}
        names = [name for name, _ in _from_header(content) if name]
        if names:
            context["ses:FromDisplayName"] = names[:1]
        if not _may_send(user, identity_arn, context):
            user_arn = f"arn:aws:iam::{LAB_ACCOUNT_ID}:user/{user.name}"
            return ACCESS_DENIED.format(user_arn=user_arn, identity_arn=identity_arn)

        message_id = _message_id()
        self._messages.append(
            AcceptedMessage(message_id, login.access_key_id, login.user, mail_from, tuple(rcpt_tos), content)
        )
        return f"250 Ok {message_id}"
