"""DMARC record vectors that nobody here wrote (``../shared/corpora/dmarc``, see its README).

Each vector's verdict comes from one implementation, and so from one RFC:

- checkdmarc's parser tests follow **DMARCbis** (RFC 9989): ``pct``, ``rf`` and ``ri`` are removed
  tags, so bad values there only warn; ``np``, ``psd`` and ``t`` are tags.
- OpenDMARC's parse tests follow **RFC 7489** as a strict parser: a bad value in any tag is an error
  (the whole record is refused).
- Mail::DMARC (both files) follows **RFC 7489** as a lenient parser (§6.3: syntax errors in the rest
  of the record are discarded in favour of defaults): the real-world malformed records parse, with
  warnings.

maildoctor's verdict for a record is ``invalid`` (``parse_dmarc`` has errors: the flow says receivers
ignore the record), ``warning`` (it applies, with warnings) or ``valid``. A vector that parses agrees
with ``valid`` or ``warning``; one that raises / dies / is a parse error agrees with ``invalid``.
Where the suites disagree with each other, or maildoctor is deliberately stricter, the vector is in
``DELIBERATE`` with maildoctor's verdict and the reason; those are asserted too, so a change in
either direction is seen.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest

from maildoctor.dnsauth.dmarc import parse_dmarc
from maildoctor.dnsauth.domains import relaxed_aligned, strict_aligned

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpora" / "dmarc"

pytestmark = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"the DMARC corpus is not beside the checkout ({CORPUS})"
)

DMARCBIS = "DMARCbis (RFC 9989)"
RFC7489 = "RFC 7489"

# (file, vector id) -> (maildoctor's verdict, why it differs from the vector's verdict)
DELIBERATE: dict[tuple[str, str], tuple[str, str]] = {
    ("opendmarc", "5"): (
        "invalid",
        "p=n: OpenDMARC matches policy values by their first letter; RFC 7489's grammar (and checkdmarc, "
        "Mail::DMARC, most receivers) only knows none, quarantine, reject",
    ),
    ("opendmarc", "12"): (
        "warning",
        "rf=bob: OpenDMARC (RFC 7489, strict) refuses the record; maildoctor follows DMARCbis, where rf is "
        "removed and ignored, and RFC 7489 §6.3 (discard the bad tag, keep the record): a warning that "
        "names OpenDMARC",
    ),
    ("opendmarc", "13"): ("warning", "ri=bob: as rf=bob (ri is removed in DMARCbis)"),
    ("opendmarc", "14"): ("warning", "pct=500: as rf=bob (pct is removed in DMARCbis)"),
    ("opendmarc", "19"): ("warning", "rf=000...: as rf=bob"),
    ("opendmarc", "18"): (
        "invalid",
        "foo=bar: an unknown tag one letter from a known one ('fo') is taken for a typo that silently "
        "disables what the owner meant (maildoctor's stricter rule); RFC 7489 says to ignore it",
    ),
    ("mail-dmarc-inline", "is_valid, 1.4.3 extra backslashes"): (
        "invalid",
        "'v=DMARC1\\;': Mail::DMARC strips backslashes; in a TXT value they are literal, so v is "
        "'DMARC1\\' and RFC 7489 receivers (OpenDMARC, checkdmarc) refuse the record; the error says "
        "the zone-file escape leaked in",
    ),
}


@dataclass(frozen=True)
class Vector:
    source: str  # checkdmarc | opendmarc | mail-dmarc-inline | mail-dmarc-real-world
    key: str
    record: str
    expected: str  # what the vector's implementation says, in maildoctor's terms
    follows: str  # the RFC that implementation follows


def verdict(record: str) -> str:
    parsed = parse_dmarc(record)
    if parsed.errors:
        return "invalid"
    return "warning" if parsed.warnings else "valid"


def agrees(expected: str, got: str) -> bool:
    if expected == "parses":
        return got in ("valid", "warning")
    return got == expected


def _rows(name: str) -> list[dict[str, str]]:
    with (CORPUS / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def _vectors() -> list[Vector]:
    if not CORPUS.is_dir():
        return []
    out: list[Vector] = []
    for row in _rows("checkdmarc-parse_dmarc_record.tsv"):
        record = row["record"].replace("\\t", "\t")  # the Python source's "\t"
        expected = "parses" if row["expected"] == "parses" else "invalid"
        key = f"{row['test_function']}:{record}"
        out.append(Vector("checkdmarc", key, record, expected, DMARCBIS))
    for row in _rows("opendmarc-policy-parse.tsv"):
        expected = "parses" if row["expected_status"] == "DMARC_PARSE_OKAY" else "invalid"
        out.append(Vector("opendmarc", row["n"], row["record"], expected, RFC7489))
    inline = {"dies": "invalid", "parses-with-warning": "warning"}
    for row in _rows("mail-dmarc-is_valid-inline.tsv"):
        expected = inline.get(row["expected"], "parses")  # ok, is_valid, parses
        out.append(Vector("mail-dmarc-inline", row["test_description"], row["record"], expected, RFC7489))
    lines = (CORPUS / "mail-dmarc-01.Policy.t-DATA-real-world-records.txt").read_text("utf-8").splitlines()
    for line in filter(None, (raw.strip() for raw in lines)):
        domain, _, record = line.partition(";")  # "domain=<name>;<record>"
        # Mail::DMARC parses every one (the malformed parts only warn): in maildoctor's terms a warning
        out.append(
            Vector("mail-dmarc-real-world", domain.removeprefix("domain="), record, "warning", RFC7489)
        )
    return out


VECTORS = _vectors()


def _id(v: Vector) -> str:
    return f"{v.source}:{v.key}"[:90]


@pytest.mark.parametrize("vector", VECTORS, ids=[_id(v) for v in VECTORS])
def test_vector(vector: Vector) -> None:
    got = verdict(vector.record)
    deliberate = DELIBERATE.get((vector.source, vector.key))
    if deliberate is not None:
        want, reason = deliberate
        assert got == want, f"{vector.follows}: deliberate difference changed ({reason}); got {got}"
        return
    assert agrees(vector.expected, got), (
        f"{vector.follows}: {vector.source} says {vector.expected} for {vector.record!r}; maildoctor says "
        f"{got}: {parse_dmarc(vector.record).errors or parse_dmarc(vector.record).warnings}"
    )


def test_every_deliberate_difference_names_a_vector() -> None:
    keys = {(v.source, v.key) for v in VECTORS}
    assert set(DELIBERATE) <= keys


def test_vector_counts() -> None:
    counts: dict[str, int] = {}
    for v in VECTORS:
        counts[v.source] = counts.get(v.source, 0) + 1
    assert counts == {
        "checkdmarc": 49,
        "opendmarc": 19,
        "mail-dmarc-inline": 7,
        "mail-dmarc-real-world": 34,
    }


# ------------------------------------------------------------------ OpenDMARC alignment (RFC 7489 §3.1)


def _alignment() -> list[tuple[str, str, str, bool]]:
    if not CORPUS.is_dir():
        return []
    rows = _rows("opendmarc-alignment.tsv")
    mode, outcome = "mode", "expected_outcome(0=aligned,-1=not)"
    return [(r["domain1"], r["domain2"], r[mode], r[outcome] == "0") for r in rows]


@pytest.mark.parametrize(("a", "b", "mode", "aligned"), _alignment())
def test_opendmarc_alignment(a: str, b: str, mode: str, aligned: bool) -> None:
    """RFC 7489 §3.1 (unchanged in DMARCbis except the organizational domain's discovery): strict is the
    same name, relaxed the same organizational domain (leading and trailing dots ignored, as OpenDMARC
    does)."""
    check = strict_aligned if mode == "DMARC_RECORD_A_STRICT" else relaxed_aligned
    assert check(a, b) is aligned
