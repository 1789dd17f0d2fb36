"""LabDnsServer over real loopback packets, with dnspython as the only client."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset
import pytest

from maildoctor.lab.dns import LabDnsServer, ZoneError

ZONE = """
    $ORIGIN example.com.
    $TTL 3600
    @                IN SOA  ns1 hostmaster ( 2024010101 3600 600 86400 300 )
    @                   NS   ns1
    @                   A    192.0.2.10
    @                   MX   10 mail
    @                   MX   20 backup-mail.example.net.
    @                   TXT  "v=spf1 " "include:amazonses.com ~all"
    mail             60 A    192.0.2.25
    ns1                 A    192.0.2.53
    www                 CNAME @
    hop1                CNAME hop2
    hop2                CNAME www
    loop1               CNAME loop2
    loop2               CNAME loop1
    x._domainkey        CNAME x.dkim.amazonses.com.
    _dmarc              TXT  "v=DMARC1; p=none"
    v6                  AAAA 2001:db8::1
"""

# Six 250-byte strings: about 1.6 kB, over 512 (no EDNS) and over 1232 (dnspython's EDNS default).
BIG_STRINGS = [letter * 250 for letter in "abcdef"]
BIG_ZONE = "$ORIGIN example.com.\n" + "".join(f'big TXT "{s}"\n' for s in BIG_STRINGS)


@pytest.fixture(scope="module")
def server() -> Iterator[LabDnsServer]:
    with LabDnsServer() as srv:
        yield srv


@pytest.fixture
def srv(server: LabDnsServer) -> LabDnsServer:
    server.load_zone(ZONE)
    return server


def resolver_for(srv: LabDnsServer, lifetime: float = 3.0) -> dns.asyncresolver.Resolver:
    res = dns.asyncresolver.Resolver(configure=False)
    res.nameservers = ["127.0.0.1"]
    res.port = srv.port
    res.lifetime = lifetime
    res.timeout = lifetime
    return res


def udp(srv: LabDnsServer, name: str, rdtype: str, **kwargs: object) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, **kwargs)  # type: ignore[arg-type]
    return dns.query.udp(query, "127.0.0.1", port=srv.port, timeout=2)


def tcp(srv: LabDnsServer, name: str, rdtype: str) -> dns.message.Message:
    return dns.query.tcp(dns.message.make_query(name, rdtype), "127.0.0.1", port=srv.port, timeout=2)


def texts(rrset: dns.rrset.RRset) -> list[str]:
    return sorted(b"".join(rd.strings).decode() for rd in rrset)


# --------------------------------------------------------------------------------- plain lookups


async def test_a_record(srv: LabDnsServer) -> None:
    answer = await resolver_for(srv).resolve("mail.example.com", "A")
    assert [rd.address for rd in answer] == ["192.0.2.25"]
    assert answer.rrset is not None and answer.rrset.ttl == 60
    assert answer.response.flags & dns.flags.AA


async def test_default_ttl_comes_from_dollar_ttl(srv: LabDnsServer) -> None:
    answer = await resolver_for(srv).resolve("ns1.example.com", "A")
    assert answer.rrset is not None and answer.rrset.ttl == 3600


async def test_mx_records_relative_and_absolute(srv: LabDnsServer) -> None:
    answer = await resolver_for(srv).resolve("example.com", "MX")
    got = sorted((rd.preference, rd.exchange.to_text()) for rd in answer)
    assert got == [(10, "mail.example.com."), (20, "backup-mail.example.net.")]


async def test_aaaa_record(srv: LabDnsServer) -> None:
    answer = await resolver_for(srv).resolve("v6.example.com", "AAAA")
    assert [rd.address for rd in answer] == ["2001:db8::1"]


async def test_txt_split_in_strings_is_one_record_joined_by_client(srv: LabDnsServer) -> None:
    answer = await resolver_for(srv).resolve("example.com", "TXT")
    assert len(answer) == 1
    (rdata,) = list(answer)
    assert rdata.strings == (b"v=spf1 ", b"include:amazonses.com ~all")
    assert b"".join(rdata.strings) == b"v=spf1 include:amazonses.com ~all"


async def test_txt_with_spaces_and_semicolon(srv: LabDnsServer) -> None:
    answer = await resolver_for(srv).resolve("_dmarc.example.com", "TXT")
    assert texts(answer.rrset) == ["v=DMARC1; p=none"]  # type: ignore[arg-type]


async def test_names_are_case_insensitive(srv: LabDnsServer) -> None:
    answer = await resolver_for(srv).resolve("MAIL.Example.COM", "A")
    assert [rd.address for rd in answer] == ["192.0.2.25"]
    reply = udp(srv, "_DMARC.EXAMPLE.com", "TXT")
    assert reply.rcode() == dns.rcode.NOERROR
    assert texts(reply.answer[0]) == ["v=DMARC1; p=none"]


# --------------------------------------------------------------------------------------- CNAMEs


async def test_cname_to_apex_is_followed(srv: LabDnsServer) -> None:
    answer = await resolver_for(srv).resolve("www.example.com", "A")
    assert [rd.address for rd in answer] == ["192.0.2.10"]
    assert answer.canonical_name.to_text() == "example.com."
    reply = answer.response
    assert [(rr.name.to_text(), dns.rdatatype.to_text(rr.rdtype)) for rr in reply.answer] == [
        ("www.example.com.", "CNAME"),
        ("example.com.", "A"),
    ]


async def test_cname_chain_is_followed_in_order(srv: LabDnsServer) -> None:
    reply = udp(srv, "hop1.example.com", "MX")
    assert reply.rcode() == dns.rcode.NOERROR
    chain = [(rr.name.to_text(), rr[0].to_text()) for rr in reply.answer[:3]]
    assert chain == [
        ("hop1.example.com.", "hop2.example.com."),
        ("hop2.example.com.", "www.example.com."),
        ("www.example.com.", "example.com."),
    ]
    assert sorted(rd.preference for rd in reply.answer[3]) == [10, 20]


async def test_cname_query_returns_only_the_cname(srv: LabDnsServer) -> None:
    answer = await resolver_for(srv).resolve("www.example.com", "CNAME")
    assert [rd.target.to_text() for rd in answer] == ["example.com."]
    assert len(answer.response.answer) == 1


def test_cname_out_of_zone_is_answered_without_following(srv: LabDnsServer) -> None:
    reply = udp(srv, "x._domainkey.example.com", "TXT")
    assert reply.rcode() == dns.rcode.NOERROR
    assert len(reply.answer) == 1
    assert reply.answer[0][0].target.to_text() == "x.dkim.amazonses.com."


def test_cname_loop_terminates(srv: LabDnsServer) -> None:
    reply = udp(srv, "loop1.example.com", "A")
    assert reply.rcode() == dns.rcode.NOERROR
    assert [rr.name.to_text() for rr in reply.answer] == ["loop1.example.com.", "loop2.example.com."]


# ------------------------------------------------------------------------ NODATA / NXDOMAIN / errors


async def test_empty_non_terminal_is_nodata_not_nxdomain(srv: LabDnsServer) -> None:
    reply = udp(srv, "_domainkey.example.com", "TXT")
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.answer == []
    assert reply.authority[0].rdtype == dns.rdatatype.SOA
    with pytest.raises(dns.resolver.NoAnswer):
        await resolver_for(srv).resolve("_domainkey.example.com", "TXT")


async def test_existing_name_without_that_type_is_nodata_with_soa(srv: LabDnsServer) -> None:
    reply = udp(srv, "mail.example.com", "TXT")
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.answer == []
    assert reply.flags & dns.flags.AA
    (soa_rrset,) = reply.authority
    assert soa_rrset.name.to_text() == "example.com."
    assert soa_rrset[0].mname.to_text() == "ns1.example.com."
    with pytest.raises(dns.resolver.NoAnswer):
        await resolver_for(srv).resolve("mail.example.com", "TXT")


async def test_nxdomain(srv: LabDnsServer) -> None:
    reply = udp(srv, "nope.example.com", "A")
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert reply.flags & dns.flags.AA
    assert [rr.rdtype for rr in reply.authority] == [dns.rdatatype.SOA]
    with pytest.raises(dns.resolver.NXDOMAIN):
        await resolver_for(srv).resolve("nope.example.com", "TXT")


async def test_servfail(srv: LabDnsServer) -> None:
    srv.load_zone(ZONE, servfail=["_dmarc.example.com"])
    assert udp(srv, "_dmarc.example.com", "TXT").rcode() == dns.rcode.SERVFAIL
    assert tcp(srv, "_DMARC.example.com.", "TXT").rcode() == dns.rcode.SERVFAIL
    with pytest.raises(dns.resolver.NoNameservers):
        await resolver_for(srv).resolve("_dmarc.example.com", "TXT")
    # Only that name fails.
    assert udp(srv, "example.com", "TXT").rcode() == dns.rcode.NOERROR


async def test_timeout_over_udp(srv: LabDnsServer) -> None:
    srv.load_zone(ZONE, timeout=["example.com"])
    with pytest.raises(dns.exception.Timeout):
        udp_query = dns.message.make_query("example.com", "TXT")
        dns.query.udp(udp_query, "127.0.0.1", port=srv.port, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(dns.resolver.LifetimeTimeout):
        await resolver_for(srv, lifetime=0.4).resolve("example.com", "TXT")
    assert time.monotonic() - started < 2
    assert udp(srv, "mail.example.com", "A").rcode() == dns.rcode.NOERROR


async def test_timeout_over_tcp(srv: LabDnsServer) -> None:
    srv.load_zone(ZONE, timeout=["example.com"])
    with pytest.raises(dns.exception.Timeout):
        tcp_query = dns.message.make_query("example.com", "TXT")
        dns.query.tcp(tcp_query, "127.0.0.1", port=srv.port, timeout=0.3)
    with pytest.raises(dns.resolver.LifetimeTimeout):
        await resolver_for(srv, lifetime=0.4).resolve("example.com", "TXT", tcp=True)
    assert tcp(srv, "mail.example.com", "A").rcode() == dns.rcode.NOERROR


def test_queries_are_logged(srv: LabDnsServer) -> None:
    srv.queries.clear()
    udp(srv, "Mail.example.com", "A")
    tcp(srv, "_dmarc.example.com", "TXT")
    assert srv.queries == [("Mail.example.com.", "A"), ("_dmarc.example.com.", "TXT")]


# ----------------------------------------------------------------------------------- truncation


def test_large_answer_over_udp_without_edns_is_truncated_with_question(server: LabDnsServer) -> None:
    server.load_zone(BIG_ZONE)
    reply = udp(server, "big.example.com", "TXT")
    assert reply.flags & dns.flags.TC
    assert reply.rcode() == dns.rcode.NOERROR
    assert [q.to_text() for q in reply.question] == ["big.example.com. IN TXT"]
    assert reply.answer == []


def test_large_answer_over_udp_with_small_edns_payload_is_truncated(server: LabDnsServer) -> None:
    server.load_zone(BIG_ZONE)
    reply = udp(server, "big.example.com", "TXT", use_edns=0, payload=1232)
    assert reply.flags & dns.flags.TC
    assert reply.edns == 0  # our OPT record is echoed, even in the truncated reply
    assert [q.to_text() for q in reply.question] == ["big.example.com. IN TXT"]


def test_large_answer_fits_a_large_edns_payload(server: LabDnsServer) -> None:
    server.load_zone(BIG_ZONE)
    reply = udp(server, "big.example.com", "TXT", use_edns=0, payload=4096)
    assert not reply.flags & dns.flags.TC
    assert reply.edns == 0
    assert texts(reply.answer[0]) == BIG_STRINGS


def test_large_answer_over_tcp_is_complete(server: LabDnsServer) -> None:
    server.load_zone(BIG_ZONE)
    reply = tcp(server, "big.example.com", "TXT")
    assert not reply.flags & dns.flags.TC
    assert texts(reply.answer[0]) == BIG_STRINGS


async def test_resolver_retries_truncated_answer_over_tcp(server: LabDnsServer) -> None:
    server.load_zone(BIG_ZONE)
    server.queries.clear()
    answer = await resolver_for(server).resolve("big.example.com", "TXT")
    assert texts(answer.rrset) == BIG_STRINGS  # type: ignore[arg-type]
    assert server.queries == [("big.example.com.", "TXT")] * 2  # UDP (TC), then TCP


async def test_small_answer_is_not_truncated(srv: LabDnsServer) -> None:
    reply = udp(srv, "example.com", "MX")
    assert not reply.flags & dns.flags.TC
    assert len(reply.answer[0]) == 2


# ------------------------------------------------------------------------------ zones and lifecycle


async def test_load_zone_swaps_records_without_restart(server: LabDnsServer) -> None:
    port = server.port
    server.load_zone("$ORIGIN example.org.\nmail A 198.51.100.1\n")
    assert [rd.address for rd in await resolver_for(server).resolve("mail.example.org", "A")] == [
        "198.51.100.1"
    ]
    server.load_zone("$ORIGIN example.org.\nmail A 198.51.100.2\nmail A 198.51.100.3\n")
    answer = await resolver_for(server).resolve("mail.example.org", "A")
    assert sorted(rd.address for rd in answer) == ["198.51.100.2", "198.51.100.3"]
    assert server.port == port
    # The old zone's names are gone.
    assert udp(server, "mail.example.com", "A").rcode() == dns.rcode.NXDOMAIN


def test_origin_argument_applies_to_relative_names() -> None:
    lab = LabDnsServer("www A 203.0.113.7\n", origin="example.net")
    with lab:
        reply = udp(lab, "www.example.net", "A")
    assert reply.answer[0][0].address == "203.0.113.7"


def test_malformed_zone_raises_zone_error_naming_the_line(server: LabDnsServer) -> None:
    server.load_zone("$ORIGIN example.org.\nok A 198.51.100.9\n")
    bad = "$ORIGIN example.org.\nmail A 198.51.100.1\n\nbroken IN BOGUS 1.2.3.4\n"
    with pytest.raises(ZoneError, match=r"line 4\b.*broken IN BOGUS 1\.2\.3\.4"):
        server.load_zone(bad)
    with pytest.raises(ZoneError, match=r"line 2\b.*www A 192\.0\.2\.300"):
        LabDnsServer("$ORIGIN example.org.\nwww A 192.0.2.300\n")
    # The failed load left the previous zone in place.
    assert udp(server, "ok.example.org", "A").answer[0][0].address == "198.51.100.9"


def test_start_and_stop_are_fast_and_free_the_port() -> None:
    before = set(threading.enumerate())
    started = time.monotonic()
    lab = LabDnsServer("$ORIGIN example.org.\nwww A 198.51.100.4\n")
    lab.start()
    assert time.monotonic() - started < 0.5
    port = lab.port
    assert port != 0
    assert lab.address == f"127.0.0.1:{port}"
    assert udp(lab, "www.example.org", "A").answer[0][0].address == "198.51.100.4"
    assert tcp(lab, "www.example.org", "A").answer[0][0].address == "198.51.100.4"

    started = time.monotonic()
    lab.stop()
    assert time.monotonic() - started < 0.5
    lab.stop()  # idempotent
    assert set(threading.enumerate()) - before == set()  # other servers' threads may come and go

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", port))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR as every server sets it: our answered TCP connection may sit in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()


def test_stop_releases_a_held_tcp_query_quickly() -> None:
    lab = LabDnsServer("$ORIGIN example.org.\nwww A 198.51.100.4\n")
    with lab:
        lab.load_zone("", timeout=["www.example.org"])
        sock = socket.create_connection(("127.0.0.1", lab.port))
        wire = dns.message.make_query("www.example.org", "A").to_wire()
        sock.sendall(len(wire).to_bytes(2, "big") + wire)
        time.sleep(0.1)  # let the server read it and start holding the connection
        started = time.monotonic()
    try:
        assert time.monotonic() - started < 0.5
        assert sock.recv(10) == b""  # closed without an answer
    finally:
        sock.close()
