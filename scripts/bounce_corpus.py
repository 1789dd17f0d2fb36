"""How well maildoctor reads the real bounces of ../shared/corpora/bounces, per MTA family.

Usage: ``.venv/bin/python scripts/bounce_corpus.py [CORPUS_DIR]``

Per recipient row of ``expectations.tsv`` (Sisimai's expected status, reply code and reason):

* status ok: the enhanced status code extracted for that recipient is the expected one (rows whose
  expectation is empty or one of Sisimai's pseudo-statuses ``5.0.9xx`` are not counted);
* reply ok: the same for the SMTP reply code (rows with no expected code are not counted);
* layer fit / unknown / wrong: the layer of the whole report against the layer of the expected reason
  (``REASON_LAYERS``; rows whose reason has no clear layer are not counted).

:func:`evaluate` is what tests/corpora/test_bounce_corpus.py asserts on.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from maildoctor.bounce import Bounce, classify, parse_bounce

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared/corpora/bounces"

# Sisimai's reasons mapped to maildoctor's layers (the corpus README). requireptr (no reverse DNS for the
# sending IP) and virusdetected (a content filter) are the receiver's policy too: the receiver's own rule
# refused the mail, nothing about the recipient or the sender's authentication.
REASON_LAYERS: dict[str, frozenset[str]] = {
    **dict.fromkeys(
        ("userunknown", "mailboxfull", "suspend", "hostunknown", "hasmoved", "notaccept"),
        frozenset({"recipient"}),
    ),
    "authfailure": frozenset({"dmarc"}),
    **dict.fromkeys(
        (
            "blocked",
            "rejected",
            "policyviolation",
            "spamdetected",
            "badreputation",
            "speeding",
            "toomanyconn",
            "requireptr",
            "virusdetected",
        ),
        frozenset({"policy"}),
    ),
    # an authentication failure: SMTP AUTH or the receiver's DMARC, whichever the text says
    "securityerror": frozenset({"credentials", "dmarc"}),
}
_PSEUDO_STATUS_RE = re.compile(r"^[45]\.0\.9\d\d$")


@dataclass
class Row:
    """One recipient row of the corpus and what maildoctor read from it."""

    family: str
    file: str
    index: int
    reason: str
    expected_status: str
    expected_reply: str
    status: str
    reply: str
    layer: str

    @property
    def status_counted(self) -> bool:
        return bool(self.expected_status) and not _PSEUDO_STATUS_RE.match(self.expected_status)

    @property
    def status_ok(self) -> bool:
        return self.status == self.expected_status

    @property
    def reply_counted(self) -> bool:
        return bool(self.expected_reply)

    @property
    def reply_ok(self) -> bool:
        return self.reply == self.expected_reply

    @property
    def layer_counted(self) -> bool:
        return self.reason in REASON_LAYERS

    @property
    def layer_fit(self) -> bool:
        return self.layer in REASON_LAYERS.get(self.reason, frozenset())

    @property
    def layer_unknown(self) -> bool:
        return self.layer == "unknown"


def family_of(file: str) -> str:
    """'eml/lhost-amazonses-01.eml' -> 'amazonses', 'eml/rhost-google-03.eml' -> 'rhost-google'."""
    stem = re.sub(r"-\d+$", "", Path(file).stem)
    return stem.removeprefix("lhost-")


def _recipient_values(bounce: Bounce, index: int) -> tuple[str, str]:
    """The status and reply code read for the index-th (1-based) recipient of the report."""
    recipients = getattr(bounce, "recipients", None) or []
    if len(recipients) >= index:
        r = recipients[index - 1]
        return r.status, str(r.reply_code or "")
    if index == 1:
        return bounce.enhanced_status, str(bounce.smtp_code or "")
    return "", ""


def evaluate(corpus: Path = DEFAULT_CORPUS) -> list[Row]:
    """Parse and classify every sample; one Row per recipient row of expectations.tsv."""
    rows: list[Row] = []
    parsed: dict[str, tuple[Bounce, str]] = {}
    with (corpus / "expectations.tsv").open(encoding="utf-8", newline="") as handle:
        for rec in csv.DictReader(handle, delimiter="\t"):
            file = rec["file"]
            if file not in parsed:
                text = (corpus / file).read_bytes().decode("utf-8", errors="replace")
                bounce = parse_bounce(text)
                parsed[file] = (bounce, classify(bounce, text).layer)
            bounce, layer = parsed[file]
            index = int(rec["index"] or 1)
            status, reply = _recipient_values(bounce, index)
            rows.append(
                Row(
                    family=family_of(file),
                    file=file,
                    index=index,
                    # the newer Sisimai's label where it changed (the README: go_reason)
                    reason=rec.get("go_reason") or rec["expected_reason"],
                    expected_status=rec["expected_status"].strip(),
                    expected_reply=rec["expected_replycode"].strip(),
                    status=status,
                    reply=reply,
                    layer=layer,
                )
            )
    return rows


@dataclass
class Figures:
    samples: int = 0
    status_ok: int = 0
    status_counted: int = 0
    reply_ok: int = 0
    reply_counted: int = 0
    layer_fit: int = 0
    layer_unknown: int = 0
    layer_wrong: int = 0
    layer_counted: int = 0


def figures(rows: Iterable[Row]) -> Figures:
    f = Figures()
    for row in rows:
        f.samples += 1
        f.status_counted += row.status_counted
        f.status_ok += row.status_counted and row.status_ok
        f.reply_counted += row.reply_counted
        f.reply_ok += row.reply_counted and row.reply_ok
        if row.layer_counted:
            f.layer_counted += 1
            f.layer_fit += row.layer_fit
            f.layer_unknown += row.layer_unknown
            f.layer_wrong += not row.layer_fit and not row.layer_unknown
    return f


def _ratio(n: int, d: int) -> str:
    return f"{n}/{d}" if d else "-"


def table(rows: list[Row]) -> str:
    families = sorted({r.family for r in rows})
    head = ("family", "samples", "status ok", "reply ok", "layer fit", "unknown", "wrong")
    lines = [head]
    for name in [*families, "total"]:
        f = figures(r for r in rows if name == "total" or r.family == name)
        lines.append(
            (
                name,
                str(f.samples),
                _ratio(f.status_ok, f.status_counted),
                _ratio(f.reply_ok, f.reply_counted),
                _ratio(f.layer_fit, f.layer_counted),
                _ratio(f.layer_unknown, f.layer_counted),
                _ratio(f.layer_wrong, f.layer_counted),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    )


def misses(rows: list[Row]) -> str:
    """Every counted row maildoctor got wrong, to read why."""
    out = []
    for r in rows:
        if r.status_counted and not r.status_ok:
            out.append(f"status {r.file}#{r.index}: want {r.expected_status!r} got {r.status!r}")
        if r.reply_counted and not r.reply_ok:
            out.append(f"reply  {r.file}#{r.index}: want {r.expected_reply!r} got {r.reply!r}")
        if r.layer_counted and not r.layer_fit:
            out.append(f"layer  {r.file}#{r.index}: {r.reason} -> {r.layer}")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("-")]
    corpus = Path(args[0]) if args else DEFAULT_CORPUS
    if not (corpus / "expectations.tsv").is_file():
        print(f"no bounce corpus at {corpus}", file=sys.stderr)
        return 2
    rows = evaluate(corpus)
    print(table(rows))
    if "--misses" in argv:
        print()
        print(misses(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
