"""DMARC records (RFC 7489 §6.3-6.4, ``np`` from RFC 9091, ``psd``/``t`` from DMARCbis, RFC 9989):
parse, validate, and work out the policy.

``parse_dmarc`` never raises: it returns a :class:`DmarcRecord` with ``errors`` (receivers refuse the
record: no ``v=DMARC1`` first, no usable ``p``, a bad value in a tag that still means something) and
``warnings`` (it applies, but probably not as meant). Where the RFCs differ:

- ``pct``, ``rf`` and ``ri`` with a bad value only warn: DMARCbis removed them, and RFC 7489 §6.3 says
  a syntax error in the rest of the record is discarded in favour of the default. The warning says
  that strict RFC 7489 parsers (OpenDMARC) refuse the whole record.
- A part that is not ``tag=value`` (``fo:0``, common in real records) and an unknown tag are ignored
  with a warning (RFC 7489 §6.3, DMARCbis), except, on purpose, an unknown tag that is a near miss of a
  known one (``rau=``): that is a typo that silently disables what the owner meant, so it is an error.
- No ``p`` but a usable ``rua``: receivers act as ``p=none`` (RFC 7489 §6.6.3, DMARCbis), a warning.
- ``rua``/``ruf``: a string that is not a URI at all is an error (as checkdmarc); a URI receivers will
  not send to (not ``mailto:``, or no address) only warns (RFC 7489: any URI may be given).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

POLICIES = ("none", "quarantine", "reject")
KNOWN_TAGS = ("v", "p", "sp", "np", "pct", "adkim", "aspf", "fo", "rf", "ri", "rua", "ruf", "psd", "t")
REMOVED_IN_DMARCBIS = ("pct", "rf", "ri")
FO_VALUES = ("0", "1", "d", "s")
RF_VALUES = ("afrf",)

_TAG_RE = re.compile(r"([A-Za-z][A-Za-z0-9]*)\s*=\s*(.*)", re.DOTALL)
_VERSION_RE = re.compile(r"\s*v\s*=\s*DMARC1\s*\\?(;|\Z)", re.IGNORECASE)  # \; reported, not skipped
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")  # RFC 3986 scheme ":" something
_COLON_TAG_RE = re.compile(r"([A-Za-z]+)\s*[:-]\s*(\S.*)")  # fo:0, sp-none
_MAILTO_RE = re.compile(
    r"mailto:(?P<local>[^@\s,;!]+)@(?P<domain>[^@\s,;!]+\.[^@\s,;!.]+)(?:!(?P<size>\d+[kmgtKMGT]?))?",
    re.IGNORECASE,
)
_DIGITS_RE = re.compile(r"\d+")


def is_dmarc_record(text: str) -> bool:
    """A TXT record that claims to be DMARC: its first tag is ``v=DMARC1`` (any case, so that a wrongly
    cased version is reported rather than silently skipped)."""
    return bool(_VERSION_RE.match(text))


def find_dmarc_records(txt_records: Iterable[str]) -> list[str]:
    return [t for t in txt_records if is_dmarc_record(t)]


@dataclass
class DmarcRecord:
    text: str
    tags: dict[str, str] = field(default_factory=dict)  # lower-case tag -> value as written (stripped)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    bad_tags: list[str] = field(default_factory=list)  # tags whose value is invalid, or unknown tags

    @property
    def valid(self) -> bool:
        return not self.errors

    def _choice(self, tag: str, allowed: tuple[str, ...]) -> str | None:
        value = self.tags.get(tag, "").strip().lower()
        return value if value in allowed else None

    @property
    def policy(self) -> str | None:
        """``p``; ``none`` when ``p`` is absent but ``rua`` has a usable address (RFC 7489 §6.6.3)."""
        chosen = self._choice("p", POLICIES)
        if chosen is None and "p" not in self.tags and self.has_usable_rua:
            return "none"
        return chosen

    @property
    def has_usable_rua(self) -> bool:
        return any(_MAILTO_RE.fullmatch(uri) for uri in self.rua)

    @property
    def subdomain_policy(self) -> str | None:
        """``sp``, or ``p`` when absent (RFC 7489 §6.3)."""
        return self._choice("sp", POLICIES) or self.policy

    @property
    def nonexistent_policy(self) -> str | None:
        """``np``, else ``sp``, else ``p`` (RFC 9091 §4.1)."""
        return self._choice("np", POLICIES) or self.subdomain_policy

    @property
    def pct(self) -> int:
        value = self.tags.get("pct", "")
        return int(value) if _DIGITS_RE.fullmatch(value) and int(value) <= 100 else 100

    @property
    def adkim(self) -> str:
        return self._choice("adkim", ("r", "s")) or "r"

    @property
    def aspf(self) -> str:
        return self._choice("aspf", ("r", "s")) or "r"

    @property
    def fo(self) -> list[str]:
        return _colon_list(self.tags.get("fo", "0"))

    @property
    def rf(self) -> list[str]:
        return _colon_list(self.tags.get("rf", "afrf"))

    @property
    def ri(self) -> int:
        value = self.tags.get("ri", "")
        return int(value) if _DIGITS_RE.fullmatch(value) else 86400

    @property
    def rua(self) -> list[str]:
        return _uri_list(self.tags.get("rua", ""))

    @property
    def ruf(self) -> list[str]:
        return _uri_list(self.tags.get("ruf", ""))

    def effective(self) -> dict[str, Any]:
        """The values a receiver applies, defaults filled in."""
        return {
            "policy": self.policy,
            "subdomain_policy": self.subdomain_policy,
            "nonexistent_policy": self.nonexistent_policy,
            "pct": self.pct,
            "adkim": self.adkim,
            "aspf": self.aspf,
            "fo": self.fo,
            "rf": self.rf,
            "ri": self.ri,
            "rua": self.rua,
            "ruf": self.ruf,
        }

    def corrected(self) -> str:
        """The record rebuilt from its valid tags (``p=none`` when ``p`` is missing or bad), in the
        usual order, for proposing a fix."""
        parts = ["v=DMARC1", f"p={self.policy or 'none'}"]
        for tag in KNOWN_TAGS[2:]:
            if tag in self.tags and tag not in self.bad_tags:
                parts.append(f"{tag}={self.tags[tag]}")
        return "; ".join(parts)


def _colon_list(value: str) -> list[str]:
    return [v.strip().lower() for v in value.split(":") if v.strip()]


def _uri_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _check_uris(tag: str, value: str, errors: list[str], warnings: list[str]) -> None:
    for uri in (u.strip() for u in value.split(",")):
        if not uri:
            errors.append(f"'{tag}' has an empty URI in {value!r}")
        elif not _SCHEME_RE.fullmatch(uri):
            errors.append(f"'{tag}' URI {uri!r} is not a mailto: URI")
        elif not uri.lower().startswith("mailto:"):
            warnings.append(
                f"'{tag}' URI {uri!r} is not a mailto: URI: receivers send reports only to mailto:, so none "
                "come there"
            )
        elif not _MAILTO_RE.fullmatch(uri):
            warnings.append(
                f"'{tag}' URI {uri!r} is not a valid mailto: address (optional !size suffix): receivers "
                "send no reports there"
            )


_CHOICES: dict[str, tuple[tuple[str, ...], str]] = {
    "p": (POLICIES, "none, quarantine or reject"),
    "sp": (POLICIES, "none, quarantine or reject"),
    "np": (POLICIES, "none, quarantine or reject"),
    "adkim": (("r", "s"), "r (relaxed) or s (strict)"),
    "aspf": (("r", "s"), "r (relaxed) or s (strict)"),
    "psd": (("y", "n", "u"), "y, n or u"),
    "t": (("y", "n"), "y or n"),
}


def _check_value(name: str, value: str) -> str | None:
    """What is wrong with a known tag's (non-empty) value, or None."""
    if name in _CHOICES:
        allowed, said = _CHOICES[name]
        ok = value.lower() in allowed
        return None if ok else f"'{name}' must be {said} (found {value!r})"
    if name == "pct":
        ok = bool(_DIGITS_RE.fullmatch(value)) and int(value) <= 100
        return None if ok else f"'pct' must be an integer from 0 to 100 (found {value!r})"
    if name == "fo":
        ok = all(v.strip().lower() in FO_VALUES for v in value.split(":"))
        return None if ok else f"'fo' must be a colon-separated list of 0, 1, d, s (found {value!r})"
    if name == "rf":
        ok = all(v.strip().lower() in RF_VALUES for v in value.split(":"))
        return (
            None if ok else f"'rf' must be afrf (a colon-separated list of report formats; found {value!r})"
        )
    if name == "ri":
        ok = bool(_DIGITS_RE.fullmatch(value))
        return None if ok else f"'ri' must be a non-negative integer of seconds (found {value!r})"
    return None


def _not_a_tag(part: str) -> str:
    m = _COLON_TAG_RE.fullmatch(part)
    hint = (
        f" (did you mean '{m.group(1).lower()}={m.group(2)}'?)"
        if m and m.group(1).lower() in KNOWN_TAGS
        else ""
    )
    return f"{part!r} is not a tag=value pair{hint}: receivers ignore it"


def parse_dmarc(text: str) -> DmarcRecord:
    """Parse and validate one DMARC record. Never raises."""
    record = DmarcRecord(text=text if isinstance(text, str) else str(text))
    errors, warnings, tags = record.errors, record.warnings, record.tags
    parts = [p.strip() for p in record.text.split(";")]
    parts = [p for p in parts if p]
    if not parts:
        errors.append("the record is empty; it must start with 'v=DMARC1'")
        return record
    for index, part in enumerate(parts):
        m = _TAG_RE.fullmatch(part)
        if m is None:
            (errors if index == 0 else warnings).append(_not_a_tag(part))
            continue
        raw_name, value = m.group(1), m.group(2).strip()
        name = raw_name.lower()
        if name in tags:
            errors.append(f"'{name}' appears more than once")
            continue
        if index == 0 and name != "v":
            errors.append(f"the record must start with 'v=DMARC1' (it starts with {part!r})")
        if name not in KNOWN_TAGS:
            anagram = [t for t in KNOWN_TAGS if sorted(t) == sorted(name)]
            close = anagram or difflib.get_close_matches(name, KNOWN_TAGS, n=1, cutoff=0.6)
            if close:  # a typo: what the owner meant is silently off
                errors.append(f"unknown tag '{name}' (did you mean '{close[0]}'?)")
            else:
                warnings.append(f"unknown tag '{name}': receivers ignore it")
            record.bad_tags.append(name)
            tags[name] = value
            continue
        tags[name] = value
        if name == "v":
            if index != 0:
                errors.append("'v' must be the first tag")
            elif value != "DMARC1":
                leak = (
                    " (a zone-file escape '\\;' ended up in the record: write ';')"
                    if value == "DMARC1\\"
                    else ""
                )
                errors.append(f"'v' must be exactly 'DMARC1' (found {value!r}){leak}")
            continue
        problem = f"'{name}' has an empty value" if not value else None
        if name in ("rua", "ruf") and value:
            before = len(errors)
            _check_uris(name, value, errors, warnings)
            if len(errors) > before:
                record.bad_tags.append(name)
            continue
        problem = problem or _check_value(name, value)
        if problem is None:
            continue
        record.bad_tags.append(name)
        if name in REMOVED_IN_DMARCBIS:
            warnings.append(
                f"{problem}: receivers ignore it (DMARCbis removed '{name}'; RFC 7489 says to use the "
                "default), but strict RFC 7489 parsers such as OpenDMARC refuse the whole record"
            )
        else:
            errors.append(problem)
    if "v" not in tags and not any("'v=DMARC1'" in e for e in errors):
        errors.append("the record must start with 'v=DMARC1'")
    if "p" not in tags:
        if record.has_usable_rua:
            warnings.append(
                "required tag 'p' is missing: receivers act as if p=none (RFC 7489 §6.6.3), so they only report"
            )
        else:
            errors.append("required tag 'p' is missing (none, quarantine or reject)")
    if errors:
        warnings.clear()
    else:
        if "p" in tags and record.policy == "none":
            warnings.append("p=none: receivers only report; nothing is quarantined or rejected")
        if record.pct < 100:
            warnings.append(f"pct={record.pct}: the policy applies to only {record.pct}% of failing mail")
        if "rua" not in tags:
            warnings.append("no rua=: you get no aggregate reports, so you cannot see what fails")
    return record
