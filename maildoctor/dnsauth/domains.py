"""Domain names: normalizing, organizational domains (the Public Suffix List bundled with the
``publicsuffixlist`` package, no network), DMARC alignment, and zone-file lines for proposed fixes."""

from __future__ import annotations

from functools import cache

from publicsuffixlist import PublicSuffixList


def normalize_domain(name: str) -> str:
    """Lower-case, no surrounding space, no leading or trailing dots (``.mac.com.`` is ``mac.com``, as
    OpenDMARC's alignment tests have it); ``user@example.com`` gives ``example.com``."""
    text = name.strip()
    if "@" in text:
        text = text.rsplit("@", 1)[1]
    return text.strip().strip(".").lower()


@cache
def _psl() -> PublicSuffixList:
    # The list is parsed as written (Unicode IDN rules), without a punycode copy of every rule: making
    # that copy cost ~0.2 s of a walk's start. Names are looked up in Unicode instead (see below).
    return PublicSuffixList(accept_encoded_idn=False)


def _unicode_label(label: str) -> str:
    if not label.startswith("xn--"):
        return label
    try:
        return label.encode("ascii").decode("idna")
    except UnicodeError:
        return label  # not valid punycode: looked up as it is


def organizational_domain(name: str) -> str:
    """The registrable domain (public suffix + one label): ``mail.example.co.uk`` -> ``example.co.uk``.

    A name that is itself a public suffix (or unknown to the list in a way that leaves no private part)
    is its own organizational domain. A punycode name (``xn--…``) is judged by its Unicode form and
    answered in its own form.
    """
    domain = normalize_domain(name)
    if not domain:
        return domain
    labels = domain.split(".")
    private = _psl().privatesuffix(".".join(_unicode_label(label) for label in labels))
    if not private:
        return domain
    return ".".join(labels[-(str(private).count(".") + 1) :])


def is_subdomain(name: str, parent: str) -> bool:
    """True when ``name`` is strictly below ``parent`` (``mail.example.com`` under ``example.com``)."""
    child, par = normalize_domain(name), normalize_domain(parent)
    return bool(par) and child.endswith("." + par)


def relaxed_aligned(a: str, b: str) -> bool:
    """DMARC relaxed alignment (RFC 7489 §3.1): the organizational domains are the same."""
    na, nb = normalize_domain(a), normalize_domain(b)
    return bool(na) and bool(nb) and organizational_domain(na) == organizational_domain(nb)


def strict_aligned(a: str, b: str) -> bool:
    """DMARC strict alignment (RFC 7489 §3.1): the same name exactly (case-insensitively)."""
    na, nb = normalize_domain(a), normalize_domain(b)
    return bool(na) and na == nb


def fqdn(name: str) -> str:
    """``example.com`` -> ``example.com.`` (zone-file absolute form)."""
    return normalize_domain(name) + "."


def txt_rdata(text: str) -> str:
    """A TXT value in zone-file form: quoted, escaped, split into strings of at most 255 bytes."""
    data = text.encode("utf-8")
    chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
    parts = []
    for chunk in chunks:
        escaped = chunk.decode("utf-8", errors="replace").replace("\\", "\\\\").replace('"', '\\"')
        parts.append(f'"{escaped}"')
    return " ".join(parts)


def zone_line(name: str, ttl: int, rtype: str, rdata: str) -> str:
    """One zone-file line, e.g. ``mail.example.com. 300 IN MX 10 feedback-smtp.us-east-1.amazonses.com.``"""
    return f"{fqdn(name)} {ttl} IN {rtype} {rdata}"


def zone_txt_line(name: str, text: str, ttl: int = 300) -> str:
    return zone_line(name, ttl, "TXT", txt_rdata(text))
