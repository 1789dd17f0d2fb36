"""Email authentication records read from DNS: SPF (RFC 7208), DMARC (RFC 7489, RFC 9091) and the
domain arithmetic they share (organizational domains, alignment).

The parsers are pure; the SPF lookup counter takes a ``lookup(name, rdtype)`` coroutine, so it runs
against :class:`maildoctor.clients.dns.DnsClient` or anything shaped like it.
"""

from maildoctor.dnsauth.dmarc import DmarcRecord, find_dmarc_records, parse_dmarc
from maildoctor.dnsauth.domains import organizational_domain, relaxed_aligned, strict_aligned
from maildoctor.dnsauth.spf import (
    SpfEvaluation,
    SpfRecord,
    SpfSyntaxError,
    evaluate_spf,
    find_spf_records,
    parse_spf,
)

__all__ = [
    "DmarcRecord",
    "SpfEvaluation",
    "SpfRecord",
    "SpfSyntaxError",
    "evaluate_spf",
    "find_dmarc_records",
    "find_spf_records",
    "organizational_domain",
    "parse_dmarc",
    "parse_spf",
    "relaxed_aligned",
    "strict_aligned",
]
