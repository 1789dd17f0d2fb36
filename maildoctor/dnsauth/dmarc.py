"""DMARC records (RFC 7489 §6.3-6.4, ``np`` from RFC 9091): parse, validate, and work out the policy.

``parse_dmarc`` never raises: it returns a :class:`DmarcRecord` with ``errors`` (the record is broken)
and ``warnings`` (it works, but probably not as meant). Stricter than RFC 7489 on one point, on
purpose: an unknown tag is an error (RFC 7489 says to ignore it), because in practice it is a typo
(``rau=``) that silently disables what the owner meant to turn on.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

POLICIES = ("none", "quarantine", "reject")
KNOWN_TAGS = ("v", "p", "sp", "np", "pct", "adkim", "aspf", "fo", "rf", "ri", "rua", "ruf")
FO_VALUES = ("0", "1", "d", "s")
RF_VALUES = ("afrf",)

_TAG_RE = re.compile(r"([A-Za-z][A-Za-z0-9]*)\s*=\s*(.*)", re.DOTALL)
_VERSION_RE = re.compile(r"\s*v\s*=\s*DMARC1\s*(;|\Z)", re.IGNORECASE)
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
        return self._choice("p", POLICIES)

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


def _check_uris(tag: str, value: str, errors: list[str]) -> None:  # appends to errors
    uris = value.split(",")
    for uri in (u.strip() for u in uris):
        if not uri:
            errors.append(f"'{tag}' has an empty URI in {value!r}")
        elif not uri.lower().startswith("mailto:"):
            errors.append(f"'{tag}' URI {uri!r} is not a mailto: URI")
        elif not _MAILTO_RE.fullmatch(uri):
            errors.append(f"'{tag}' URI {uri!r} is not a valid mailto: address (optional !size suffix)")


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
            errors.append(f"{part!r} is not a tag=value pair")
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
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            errors.append(f"unknown tag '{name}'{hint}")
            record.bad_tags.append(name)
            tags[name] = value
            continue
        tags[name] = value
        if name == "v":
            if index != 0:
                errors.append("'v' must be the first tag")
            elif value != "DMARC1":
                errors.append(f"'v' must be exactly 'DMARC1' (found {value!r})")
            continue
        if not value:
            errors.append(f"'{name}' has an empty value")
            record.bad_tags.append(name)
            continue
        before = len(errors)
        if name in ("p", "sp", "np"):
            if value.lower() not in POLICIES:
                errors.append(f"'{name}' must be none, quarantine or reject (found {value!r})")
        elif name == "pct":
            if not _DIGITS_RE.fullmatch(value) or int(value) > 100:
                errors.append(f"'pct' must be an integer from 0 to 100 (found {value!r})")
        elif name in ("adkim", "aspf"):
            if value.lower() not in ("r", "s"):
                errors.append(f"'{name}' must be r (relaxed) or s (strict) (found {value!r})")
        elif name == "fo":
            items = [v.strip().lower() for v in value.split(":")]
            if not all(v in FO_VALUES for v in items):
                errors.append(f"'fo' must be a colon-separated list of 0, 1, d, s (found {value!r})")
        elif name == "rf":
            items = [v.strip().lower() for v in value.split(":")]
            if not all(v in RF_VALUES for v in items):
                errors.append(
                    f"'rf' must be afrf (a colon-separated list of report formats; found {value!r})"
                )
        elif name == "ri":
            if not _DIGITS_RE.fullmatch(value):
                errors.append(f"'ri' must be a non-negative integer of seconds (found {value!r})")
        elif name in ("rua", "ruf"):
            _check_uris(name, value, errors)
        if len(errors) > before:
            record.bad_tags.append(name)
    if "v" not in tags and not any("'v=DMARC1'" in e for e in errors):
        errors.append("the record must start with 'v=DMARC1'")
    if "p" not in tags:
        errors.append("required tag 'p' is missing (none, quarantine or reject)")
    if not errors:
        if record.policy == "none":
            warnings.append("p=none: receivers only report; nothing is quarantined or rejected")
        if record.pct < 100:
            warnings.append(f"pct={record.pct}: the policy applies to only {record.pct}% of failing mail")
        if "rua" not in tags:
            warnings.append("no rua=: you get no aggregate reports, so you cannot see what fails")
    return record
