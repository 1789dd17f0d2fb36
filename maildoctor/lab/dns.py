"""A small authoritative DNS server for tests and the demo lab.

It serves one set of zone-file records over UDP and TCP on the same loopback port, answers the way a
real authoritative server does (AA flag, CNAME chains, NODATA vs NXDOMAIN with the SOA in authority,
TC over UDP for large answers) and can be told to SERVFAIL or stay silent for chosen names::

    with LabDnsServer(zone_text) as srv:
        resolver.nameservers, resolver.port = [srv.host], srv.port
        srv.load_zone(other_zone, servfail=["_dmarc.example.com"])  # swap records, no restart

The lab's faults (``set_faults(DnsFaults(...))``, see maildoctor.lab.faults) add timeouts and SERVFAIL for
every name or chosen ones, truncation (TC=1 over UDP, TCP answering or closed) and a latency per answer;
they are applied at the same point as the names given to ``load_zone``.

Not supported: wildcards, DNAME, delegations (NS records are served as plain data), zone transfers.
"""

from __future__ import annotations

import contextlib
import socket
import textwrap
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from dnslib import EDNS0, QTYPE, RCODE, RR, DNSError, DNSHeader, DNSRecord
from dnslib.dns import DNSBuffer, ZoneParser
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

from maildoctor.lab.faults import DnsFaults
from maildoctor.lab.service import Service

__all__ = ["DEFAULT_TTL", "DnsQuery", "LabDnsServer", "ZoneError"]

DEFAULT_TTL = 300
"""TTL of records that give none and follow no ``$TTL`` (dnslib's own default would be 0)."""

_UDP_DEFAULT_PAYLOAD = 512  # RFC 1035 limit for a UDP reply when the query carries no EDNS0 OPT record
_OUR_EDNS_PAYLOAD = 1232  # what we advertise in the OPT record we echo (the DNS flag day 2020 value)
_POLL_INTERVAL = 0.05  # serve_forever poll: shutdown() waits up to this long per socket
_TCP_READ_TIMEOUT = 2.0  # a TCP client that connects and stays silent must not pin a thread forever
_BIND_ATTEMPTS = 20  # port 0: tries at finding a port number free for both UDP and TCP


@dataclass(frozen=True)
class DnsQuery:
    """One query answered, timed: ``start`` when it came in, ``end`` when its reply was ready to send
    (after any latency), both ``time.monotonic()`` seconds of the lab's process."""

    qname: str  # as sent
    qtype: str  # its name: "TXT"
    protocol: str  # "udp" or "tcp"
    start: float
    end: float
    layer: ClassVar[str] = "dns"

    @property
    def name(self) -> str:
        return f"{self.qname} {self.qtype}"


class ZoneError(ValueError):
    """Zone text that could not be parsed; the message names the line and its text."""


class _Dropped(DNSError):
    """Raised by the handler for a ``timeout`` name: DNSHandler.handle catches DNSError and sends nothing."""


# ---------------------------------------------------------------------------------------------- zone


class _LineTrackingParser(ZoneParser):
    """dnslib's ZoneParser, remembering the line where the entry being parsed starts (dnslib keeps none)."""

    def __init__(self, text: str, origin: str, ttl: int) -> None:
        super().__init__(text, origin=origin, ttl=ttl)
        self.entry_line = 1
        self.i = self._track(iter(self.l))  # the token stream ZoneParser.__init__ made, wrapped

    def _line_now(self) -> int:
        # The lexer reads a StringIO; characters peeked but not consumed sit in its pushback queue.
        offset = self.l.f.tell() - len(self.l.q)
        return int(self.l.f.getvalue().count("\n", 0, offset)) + 1

    def _track(self, tokens: Iterator[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
        new_entry, in_parens = True, False
        while True:
            try:
                tok, val = next(tokens)
            except StopIteration:
                return
            except Exception:  # the lexer choked on a character: point at where it stopped
                self.entry_line = self._line_now()
                raise
            if tok == "ATOM":
                if new_entry:
                    self.entry_line, new_entry = self._line_now(), False
                if val in ("(", ")"):
                    in_parens = val == "("
            elif tok == "NL" and not in_parens:
                new_entry = True
            yield tok, val

    def parse_rr(self, rr: list[str]) -> RR:
        # dnslib expands "@" in the owner column only: "www CNAME @" would point at "@.example.com.".
        if "TXT" not in rr[1:4]:
            rr = [rr[0], *(str(self.origin) if tok == "@" else tok for tok in rr[1:])]
        return super().parse_rr(rr)


def _parse_zone(text: str, origin: str | None) -> list[RR]:
    # Zones written inline in tests are usually indented; dnslib would read every indented line as
    # "same owner as the previous record". Dedenting keeps line numbers.
    text = textwrap.dedent(text)
    lines = text.splitlines()
    parser = _LineTrackingParser(text, origin=origin or "", ttl=DEFAULT_TTL)

    def error(line: int, exc: Exception) -> ZoneError:
        snippet = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return ZoneError(f"zone line {line}: cannot parse {snippet!r}: {reason}")

    records: list[RR] = []
    rrs = iter(parser)
    while True:
        try:
            rr = next(rrs)
            # Some bad rdata (an A of 1.2.3.999, a TXT string over 255 bytes) only fails when packed.
            rr.pack(DNSBuffer())
        except StopIteration:
            return records
        except Exception as exc:  # dnslib raises DNSError, ValueError, IndexError, struct.error...
            raise error(parser.entry_line, exc) from exc
        records.append(rr)


def _name_and_parents(name: str) -> Iterator[str]:
    """'a.example.com.' -> 'a.example.com.', 'example.com.', 'com.' (never the root)."""
    while name not in ("", "."):
        yield name
        name = name.split(".", 1)[1]


def _key(name: object) -> str:
    """Names compare case-insensitively and always end with a dot."""
    text = str(name).lower()
    return text if text.endswith(".") else text + "."


@dataclass(frozen=True)
class _Zone:
    """One immutable snapshot of what is served; load_zone swaps the whole object."""

    records: dict[str, list[RR]] = field(default_factory=dict)  # lowercased owner -> RRs in zone order
    existing: frozenset[str] = frozenset()  # owners plus empty non-terminals
    soa: dict[str, RR] = field(default_factory=dict)  # apex -> its SOA record

    @classmethod
    def build(cls, rrs: list[RR]) -> _Zone:
        records: dict[str, list[RR]] = {}
        for rr in rrs:
            records.setdefault(_key(rr.rname), []).append(rr)
        soa = {owner: rr for owner, rrs_ in records.items() for rr in rrs_ if rr.rtype == QTYPE.SOA}
        existing: set[str] = set()
        for owner in records:
            # Parents of an owner exist too (empty non-terminals), up to the zone apex when there is one.
            for name in _name_and_parents(owner):
                existing.add(name)
                if name in soa:
                    break
        return cls(records=records, existing=frozenset(existing), soa=soa)

    def soa_for(self, name: str) -> RR | None:
        """The SOA of the closest enclosing apex, if the name is inside a zone we have an SOA for."""
        return next((self.soa[n] for n in _name_and_parents(name) if n in self.soa), None)

    def lookup(self, qname: str, qtype: int) -> tuple[int, list[RR], list[RR]]:
        """(rcode, answer, authority) for a question, following CNAMEs inside the zone."""
        answer: list[RR] = []
        name, seen = qname, set()
        while True:
            rrs = self.records.get(name)
            if rrs is None:
                if name in self.existing:  # empty non-terminal: the name exists, with nothing here
                    break
                if name != qname and self.soa_for(name) is None:
                    # CNAME to a name outside our zones: answer the chain, the client follows it.
                    return RCODE.NOERROR, answer, []
                soa = self.soa_for(name)
                return RCODE.NXDOMAIN, answer, [soa] if soa else []  # RFC 6604: rcode of the last name
            if qtype == QTYPE.ANY:
                return RCODE.NOERROR, answer + rrs, []
            matching = [rr for rr in rrs if rr.rtype == qtype]
            if matching:
                return RCODE.NOERROR, answer + matching, []
            cname = next((rr for rr in rrs if rr.rtype == QTYPE.CNAME), None)
            if cname is None or qtype == QTYPE.CNAME:
                break
            answer.append(cname)
            seen.add(name)
            name = _key(cname.rdata.label)
            if name in seen:  # CNAME loop: answer the chain so far, as BIND does
                return RCODE.NOERROR, answer, []
        soa = self.soa_for(name)
        return RCODE.NOERROR, answer, [soa] if soa else []  # NODATA


# -------------------------------------------------------------------------------------------- server


def _opt(request: DNSRecord) -> RR | None:
    return next((rr for rr in request.ar if rr.rtype == QTYPE.OPT), None)


class _ZoneResolver(BaseResolver):
    """Answers from the current _Zone snapshot; returns None when the query must go unanswered."""

    def __init__(self, zone: _Zone) -> None:
        self.zone = zone
        self.zone_faults = DnsFaults()  # the names load_zone was told to fail
        self.lab_faults = DnsFaults()  # set_faults: the lab's faults
        self.faults = DnsFaults()  # both: what is applied
        self.queries: list[tuple[str, str]] = []
        self.queries_lock = threading.Lock()
        self.answered: list[DnsQuery] = []  # queries answered (not those dropped), timed
        self.stopping = threading.Event()

    def record(self, request: DNSRecord, protocol: str, start: float) -> None:
        timed = DnsQuery(
            str(request.q.qname), str(QTYPE.get(request.q.qtype)), protocol, start, time.monotonic()
        )
        with self.queries_lock:
            self.answered.append(timed)

    def resolve(self, request: DNSRecord, handler: object) -> DNSRecord | None:
        if not request.questions:  # request.reply() would invent a question for the root
            return DNSRecord(DNSHeader(id=request.header.id, qr=1, rcode=RCODE.FORMERR))
        zone, faults = self.zone, self.faults  # one snapshot per query: a concurrent load never mixes two
        qname, qtype = _key(request.q.qname), request.q.qtype
        with self.queries_lock:
            self.queries.append((str(request.q.qname), str(QTYPE.get(qtype))))
        if faults.times_out(qname):
            return None
        reply = request.reply(ra=0, aa=1)  # authoritative only: we recurse for no one
        if _opt(request) is not None:
            reply.add_ar(EDNS0(udp_len=_OUR_EDNS_PAYLOAD))  # dnspython expects EDNS echoed when it sent it
        if faults.servfails(qname):
            reply.header.rcode = RCODE.SERVFAIL
        else:
            rcode, answer, authority = zone.lookup(qname, qtype)
            reply.header.rcode = rcode
            reply.add_answer(*answer)
            reply.add_auth(*authority)
        return reply


def _truncated(reply: DNSRecord) -> DNSRecord:
    """Header with TC, the question kept and no records but OPT (dnslib's truncate() drops the question,
    and dnspython ignores a reply whose question does not match)."""
    short = DNSRecord(DNSHeader(id=reply.header.id, bitmap=reply.header.bitmap, tc=1), q=reply.q)
    short.add_ar(*(rr for rr in reply.ar if rr.rtype == QTYPE.OPT))
    return short


class _Handler(DNSHandler):
    udplen = 0  # dnslib's own truncation drops the question section; get_reply truncates instead

    def handle(self) -> None:
        if self.server.socket_type == socket.SOCK_STREAM:
            self.request.settimeout(_TCP_READ_TIMEOUT)
        with contextlib.suppress(OSError):  # the client went away or stayed silent: nobody to answer
            super().handle()

    def get_reply(self, data: bytes) -> bytes:
        start = time.monotonic()
        request = DNSRecord.parse(data)
        reply = self._reply(request)
        if request.questions:  # a FORMERR to a question-less query is not a query answered
            self.server.resolver.record(request, self.protocol, start)
        return reply

    def _reply(self, request: DNSRecord) -> bytes:
        resolver: _ZoneResolver = self.server.resolver
        faults = resolver.faults
        reply = resolver.resolve(request, self)
        if reply is None:
            if self.protocol == "tcp":
                self._hold_open(resolver.stopping)
            raise _Dropped("query dropped on purpose")
        if faults.latency_ms and resolver.stopping.wait(faults.latency_ms / 1000):
            raise _Dropped("the server is stopping")
        if faults.truncate == "all" and self.protocol == "tcp":
            raise _Dropped("TCP closed unanswered on purpose")  # DNSHandler then closes the connection
        packed: bytes = reply.pack()
        if self.protocol == "udp" and faults.truncate:
            return bytes(_truncated(reply).pack())
        if self.protocol == "udp":
            opt = _opt(request)
            limit = max(_UDP_DEFAULT_PAYLOAD, opt.rclass if opt is not None else 0)  # OPT class = payload
            if len(packed) > limit:
                packed = _truncated(reply).pack()  # the client retries over TCP
        return packed

    def _hold_open(self, stopping: threading.Event) -> None:
        """Keep a TCP connection open without answering until the client gives up (closing it would
        be an immediate error, not a timeout) or the server stops."""
        self.request.settimeout(_POLL_INTERVAL)
        while not stopping.is_set():
            try:
                if not self.request.recv(4096):
                    return
            except TimeoutError:
                continue


class LabDnsServer(Service):
    """Authoritative DNS on ``host``, UDP and TCP on the same port (``port=0``: a free one).

    ``zone_text`` is zone-file text parsed by dnslib (``$ORIGIN``, ``$TTL``, ``@``, relative names, parens,
    multi-string TXT). Records without a TTL and no ``$TTL`` get DEFAULT_TTL. ``origin`` applies to
    relative names until a ``$ORIGIN``; without either, relative names are taken as absolute.

    ``queries`` logs every question received as ``(qname as sent, qtype name)``, e.g.
    ``("_dmarc.example.com.", "TXT")``; it is never cleared by the server. ``calls()`` gives the queries
    answered, timed (``clear_calls()`` empties that log only).
    """

    def __init__(
        self, zone_text: str = "", *, host: str = "127.0.0.1", port: int = 0, origin: str | None = None
    ) -> None:
        self.host = host
        self.origin = origin
        self._requested_port = port
        self.port = port
        self._resolver = _ZoneResolver(_Zone())
        self.queries = self._resolver.queries
        self._servers: list[DNSServer] = []
        self._threads: list[threading.Thread] = []
        self.load_zone(zone_text)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def load_zone(self, zone_text: str, *, servfail: Iterable[str] = (), timeout: Iterable[str] = ()) -> None:
        """Replace everything served, atomically, without restarting.

        ``servfail``: names answered with SERVFAIL. ``timeout``: names for which no reply is sent at all,
        over UDP or TCP, so the client times out. Both are absolute names, exact match, any case.
        Raises ZoneError (and keeps serving the previous zone) if the text does not parse.
        """
        zone = _Zone.build(_parse_zone(zone_text, self.origin))
        self._resolver.zone = zone
        self._resolver.zone_faults = DnsFaults.for_names(servfail=servfail, timeout=timeout)
        self._resolver.faults = self._resolver.zone_faults.merged(self._resolver.lab_faults)

    def calls(self) -> list[DnsQuery]:
        """Every query answered since the last :meth:`clear_calls` (or the start), in the order the
        replies were ready; a query dropped (a timeout fault, the server stopping) is not in it."""
        with self._resolver.queries_lock:
            return list(self._resolver.answered)

    def clear_calls(self) -> None:
        with self._resolver.queries_lock:
            self._resolver.answered.clear()

    @property
    def faults(self) -> DnsFaults:
        return self._resolver.lab_faults

    def set_faults(self, faults: DnsFaults) -> None:
        """Answer with these faults from the next query on (``DnsFaults()``: none), on top of the names
        ``load_zone`` was given: timeouts, SERVFAIL, truncation and latency (see maildoctor.lab.faults)."""
        self._resolver.lab_faults = faults
        self._resolver.faults = self._resolver.zone_faults.merged(faults)

    def start(self) -> None:
        """Bind UDP then TCP on the same port and serve both from background threads."""
        if self._servers:
            return
        self._resolver.stopping.clear()
        udp, tcp = self._bind()
        self.port = int(udp.server.server_address[1])
        self._servers = [udp, tcp]
        for proto, srv in (("udp", udp), ("tcp", tcp)):
            thread = threading.Thread(
                target=srv.server.serve_forever,
                kwargs={"poll_interval": _POLL_INTERVAL},  # dnslib's start_thread would poll every 0.5 s
                name=f"lab-dns-{proto}-{self.port}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def _bind(self) -> tuple[DNSServer, DNSServer]:
        logger = DNSLogger(log="-request,-reply,-truncated,-error", prefix=False, logf=lambda _msg: None)
        attempts = _BIND_ATTEMPTS if self._requested_port == 0 else 1
        for attempt in range(attempts):
            udp = DNSServer(
                self._resolver, address=self.host, port=self._requested_port, logger=logger, handler=_Handler
            )
            port = udp.server.server_address[1]
            try:
                tcp = DNSServer(
                    self._resolver, address=self.host, port=port, tcp=True, logger=logger, handler=_Handler
                )
            except OSError:
                udp.server.server_close()
                if attempt == attempts - 1:
                    raise
                continue  # that port number is taken for TCP: let the kernel pick another UDP port
            return udp, tcp
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Stop serving, wait for every thread and close both sockets. Safe to call twice."""
        self._resolver.stopping.set()  # releases TCP connections held open for `timeout` names
        for srv in self._servers:
            srv.server.shutdown()  # ends serve_forever (dnslib's DNSServer.stop() does only this)
        for srv in self._servers:
            srv.server.server_close()  # frees the port and joins the handler threads
        for thread in self._threads:
            thread.join()
        self._servers, self._threads = [], []
