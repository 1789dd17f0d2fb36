"""The 300 real bounces of ../shared/corpora/bounces (Sisimai's samples) through maildoctor's parser and
classifier, against the corpus's own expectations.tsv (its expected status, reply code and reason per
recipient). The counting is scripts/bounce_corpus.py's, which prints the same figures per MTA family:

* status and reply code per recipient row; Sisimai's pseudo-statuses (5.0.9xx) and empty expectations
  are not counted (they are Sisimai's inventions, not what the report says);
* the layer against the layer of the expected reason (the corpus README's mapping). requireptr and
  virusdetected count as the receiver's policy (its own rule refused the mail: no PTR for the sending
  IP, a virus filter); securityerror fits credentials or dmarc; other reasons (expired, filtered,
  systemerror, mesgtoobig, …) name no layer and are not counted.

Targets (issue 12): >= 98 % of statuses and reply codes, layer fits >= 95 % and unknown <= 5 %.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maildoctor.bounce import classify, parse_bounce
from maildoctor.checks.registry import default_registry
from maildoctor.clients import Clients
from maildoctor.clients.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared/corpora/bounces"
if not (CORPUS / "expectations.tsv").is_file():
    pytest.skip(f"the bounce corpus is not beside the checkout ({CORPUS})", allow_module_level=True)


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bounce_corpus", ROOT / "scripts/bounce_corpus.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bounce_corpus", module)
    spec.loader.exec_module(module)
    return module


corpus = _script()


@pytest.fixture(scope="module")
def rows() -> list[Any]:
    return corpus.evaluate(CORPUS)


def test_every_sample_is_read(rows: list[Any]) -> None:
    assert len({r.file for r in rows}) == 300
    assert len(rows) == 311  # one per recipient row


def test_status_codes(rows: list[Any]) -> None:
    f = corpus.figures(rows)
    assert f.status_counted >= 250  # the exclusions leave most rows counted
    assert f.status_ok / f.status_counted >= 0.98, corpus.misses(rows)


def test_reply_codes(rows: list[Any]) -> None:
    f = corpus.figures(rows)
    assert f.reply_counted >= 230
    assert f.reply_ok / f.reply_counted >= 0.98, corpus.misses(rows)


def test_layers(rows: list[Any]) -> None:
    f = corpus.figures(rows)
    assert f.layer_counted >= 200
    assert f.layer_fit / f.layer_counted >= 0.95, corpus.misses(rows)
    assert f.layer_unknown / f.layer_counted <= 0.05, corpus.misses(rows)
    # a wrong layer sends the operator the wrong way: fewer than the unknowns allowed
    assert f.layer_wrong / f.layer_counted <= 0.03, corpus.misses(rows)


def test_multi_recipient_reports_have_every_recipient(rows: list[Any]) -> None:
    later = [r for r in rows if r.index > 1 and r.status_counted]
    assert later  # the corpus has reports about several recipients
    assert sum(r.status_ok for r in later) >= len(later) - 1


def test_the_count_can_fail() -> None:
    """The counting itself: a row read wrong is counted wrong (so the figures above can fail)."""
    row = corpus.Row("x", "eml/x.eml", 1, "userunknown", "5.1.1", "550", "5.2.2", "550", "policy")
    f = corpus.figures([row])
    assert (f.status_ok, f.reply_ok, f.layer_fit, f.layer_wrong) == (0, 1, 0, 1)
    pseudo = corpus.Row("x", "eml/x.eml", 1, "expired", "5.0.947", "", "", "", "unknown")
    f = corpus.figures([pseudo])
    assert (f.status_counted, f.reply_counted, f.layer_counted) == (0, 0, 0)


SAMPLES = sorted((CORPUS / "eml").glob("*.eml"))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(SAMPLES), st.floats(0, 1), st.sampled_from(["", "\r\n", "\x00", "=\n", "--"]))
def test_cut_and_damaged_samples_never_raise(sample: Path, where: float, junk: str) -> None:
    """A real report pasted half, or with junk spliced in, is read as far as it goes, never a traceback."""
    text = sample.read_bytes().decode("utf-8", errors="replace")
    cut = int(len(text) * where)
    bounce = parse_bounce(text[:cut] + junk + text[cut + len(junk) :] if junk else text[:cut])
    triage = classify(bounce, text[:cut])
    assert triage.layer in ("credentials", "sending", "recipient", "dmarc", "policy", "unknown", "skipped")
    assert all(r.reply_code is None or 200 <= r.reply_code <= 599 for r in bounce.recipients)


@pytest.mark.parametrize("path", sorted((CORPUS / "ses-notifications").glob("*.json")), ids=lambda p: p.name)
def test_ses_notifications_do_not_raise(path: Path) -> None:
    """SES event notifications are read by maildoctor.ses_events; the text parser must still not fail."""
    text = path.read_text(encoding="utf-8", errors="replace")
    classify(parse_bounce(text), text)


# Each SES notification of the corpus, as the walk's first step reads it. Expected by hand from each file:
# three Permanent/General bounces quoting "550 5.1.1 user unknown" (SES does not say: the reply does), a
# complaint (the receiver's side: its user marked it as spam), two deliveries (nothing failed on the way).
NOTIFICATIONS = {
    "json-amazonses-01.json": ("Bounce", "recipient"),
    "json-amazonses-02.json": ("Bounce", "recipient"),
    "json-amazonses-03.json": ("Complaint", "policy"),
    "json-amazonses-04.json": ("Delivery", "delivered"),
    "json-amazonses-05.json": ("Delivery", "delivered"),
    "json-amazonses-06.json": ("Bounce", "recipient"),
}


@pytest.mark.parametrize("name", sorted(NOTIFICATIONS))
async def test_every_ses_notification_walks_to_its_layer(name: str) -> None:
    path = CORPUS / "ses-notifications" / name
    if not path.is_file():
        pytest.skip("needs ../shared/corpora/bounces beside the checkout")
    result = await default_registry()["bounce.triage"].run(Clients(Settings()), {"bounce": path.read_text()})
    event_type, layer = NOTIFICATIONS[name]
    assert (result.facts.event_type, result.outcome) == (event_type, layer), result.summary
    assert result.summary.startswith(f"SES {event_type} notification")
    assert sorted(NOTIFICATIONS) == sorted(p.name for p in path.parent.glob("*.json"))  # none left out
