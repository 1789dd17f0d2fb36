"""DNS lookups through dns.asyncresolver, with a lifetime, returning results that tell NXDOMAIN,
no answer, SERVFAIL and timeout apart instead of raising."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

# dnspython's resolver costs ~150 ms to import: it is imported when a client is built or a lookup made,
# so that loading flows and checks (`flows list`, `checks`) never pays for it.
if TYPE_CHECKING:
    import dns.resolver

Rcode = Literal["ok", "nxdomain", "noanswer", "servfail", "timeout", "error"]


@dataclass
class DnsAnswer:
    name: str
    rdtype: str
    rcode: Rcode
    records: list[str] = field(default_factory=list)
    cname_chain: list[str] = field(default_factory=list)
    detail: str = ""
    server: str = ""
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.rcode == "ok"

    @property
    def void(self) -> bool:
        """RFC 7208 4.6.4: a lookup that returned no records (NXDOMAIN or an empty answer)."""
        return self.rcode in ("nxdomain", "noanswer")

    def describe(self) -> str:
        """The answer as `dig` would make you read it: one line per record, or what went wrong."""
        head = f";; {self.name} {self.rdtype} @ {self.server}: "
        if self.rcode == "ok":
            # a CNAME query's answer is the CNAME itself: show the chain only for other types
            lines = [] if self.rdtype == "CNAME" else list(self.cname_chain)
            lines += [f"{self.name}. IN {self.rdtype} {rec}" for rec in self.records]
            return head + f"{len(self.records)} record(s)\n" + "\n".join(lines)
        meaning = {
            "nxdomain": "NXDOMAIN (the name does not exist)",
            "noanswer": f"NOERROR, no {self.rdtype} record at this name",
            "servfail": "SERVFAIL (the server could not answer)",
            "timeout": "timeout (no reply)",
            "error": "error",
        }[self.rcode]
        return head + meaning + (f" — {self.detail}" if self.detail else "")


def _txt_text(rdata: object) -> str:
    """A TXT record's strings joined as RFC 7208 3.3 says (no separator), shown unquoted."""
    strings = getattr(rdata, "strings", ())
    return b"".join(strings).decode("utf-8", errors="replace")


class DnsClient:
    def __init__(self, server: tuple[str, int] | None = None, timeout: float = 5.0) -> None:
        import dns.asyncresolver

        self.timeout = timeout
        if server is None:
            self.resolver = dns.asyncresolver.Resolver()
            self.server_label = "system resolver"
        else:
            self.resolver = dns.asyncresolver.Resolver(configure=False)
            self.resolver.nameservers = [server[0]]
            self.resolver.port = server[1]
            self.server_label = f"{server[0]}:{server[1]}"
        self.resolver.lifetime = timeout
        self.resolver.timeout = min(timeout, 2.0)
        # Each lookup asks once per attempt; retrying SERVFAIL only hides the failure we want to show.
        self.resolver.retry_servfail = False
        self.queries = 0
        # A server that has never answered and then times out is taken for dead: later lookups fail at
        # once with that cause, so a dead server costs the walk one timeout, not one per check. A server
        # that has answered before may still time out on one name (that lookup alone waits).
        self._answered = False
        self._dead: str | None = None
        # One walk asks some names more than once (the DMARC record for its check and for alignment, the
        # MAIL FROM domain's TXT for its check and for SPF): each is asked once, and a second asker waits
        # for the first's answer. forget() starts over (a re-run reads afresh).
        self._asked: dict[tuple[str, str], asyncio.Future[DnsAnswer]] = {}

    def forget(self) -> None:
        self._asked.clear()

    async def query(self, name: str, rdtype: str) -> DnsAnswer:
        key = (name.rstrip(".").lower(), rdtype.upper())
        asked = self._asked.get(key)
        if asked is None or (asked.done() and asked.cancelled()):
            asked = self._asked[key] = asyncio.ensure_future(self._query(name, rdtype))
        answer = await asyncio.shield(asked)  # one asker cancelled leaves the answer to the others
        # each asker its own copy, in its own spelling of the name: evidence shows what it asked
        return dataclasses.replace(
            answer, name=name.rstrip("."), records=list(answer.records), cname_chain=list(answer.cname_chain)
        )

    async def _query(self, name: str, rdtype: str) -> DnsAnswer:
        qname = name.rstrip(".")
        answer = DnsAnswer(name=qname, rdtype=rdtype, rcode="ok", server=self.server_label)
        if self._dead is not None and not self._answered:
            answer.rcode, answer.detail = "timeout", self._dead
            return answer
        self.queries += 1
        started = time.monotonic()
        await self._lookup(qname, rdtype, answer)
        answer.duration_ms = int((time.monotonic() - started) * 1000)
        if answer.rcode == "timeout":
            self._dead = (
                self._dead or f"the DNS server {self.server_label} answered no query within {self.timeout:g}s"
            )
        elif answer.rcode != "error":
            self._answered = True
        return answer

    async def _lookup(self, qname: str, rdtype: str, answer: DnsAnswer) -> None:
        import dns.exception
        import dns.rdatatype
        import dns.resolver

        try:
            result = await self.resolver.resolve(qname, rdtype, search=False, raise_on_no_answer=True)
        except dns.resolver.NXDOMAIN:
            answer.rcode = "nxdomain"
        except dns.resolver.NoAnswer:
            answer.rcode = "noanswer"
        except dns.resolver.LifetimeTimeout:
            answer.rcode = "timeout"
            answer.detail = f"no reply within {self.timeout:g}s"
        except dns.resolver.NoNameservers as exc:
            answer.rcode = "servfail"
            answer.detail = _servfail_detail(exc)
        except dns.exception.DNSException as exc:
            answer.rcode = "error"
            answer.detail = str(exc)
        else:
            rrset = result.rrset
            assert rrset is not None
            answer.cname_chain = [
                rr.to_text() for rr in result.response.answer if rr.rdtype == dns.rdatatype.CNAME
            ]
            if rrset.rdtype == dns.rdatatype.TXT:
                answer.records = [_txt_text(r) for r in rrset]
            else:
                answer.records = [r.to_text() for r in rrset]


def _servfail_detail(exc: dns.resolver.NoNameservers) -> str:
    errors = exc.kwargs.get("errors") or []
    parts = [f"{server}: {err}" for server, _tcp, _port, err, *_ in errors]
    return "; ".join(parts)[:300]
