"""The TUI's pure parts: facts made compact, durations, which keys can be text, the key table
(importable without textual, for a config loader's keymap check)."""

from __future__ import annotations

import subprocess
import sys

from maildoctor.keymap import KEY_IDS, KEYS, unknown_ids
from maildoctor.tui import display
from maildoctor.tui.bindings import KeyNames, split_keys, text_safe


def test_compact_values_for_the_facts_table() -> None:
    assert display.compact(None) == "—"
    assert display.compact(True) == "yes"
    assert display.compact(["a", "b"]) == "a, b"
    assert display.compact([]) == "(none)"
    assert display.compact({"name": "x", "ok": False}) == "name=x, ok=no"
    long = [f"2026-01-0{i} CreateAccessKey AKIAEXAMPLE by alice" for i in range(1, 4)]
    assert display.compact(long) == "\n".join(long)  # too long for one line: one item a line
    many = display.compact([{"n": i} for i in range(20)])
    assert many.splitlines()[0] == "n=0" and many.splitlines()[-1] == "… 8 more"


def test_durations_and_icons() -> None:
    assert display.duration(41) == "41 ms"
    assert display.duration(1500) == "1.5 s"
    assert display.duration(125_000) == "2 min 05 s"
    assert display.icon("pass") == "✔" and display.icon("skipped") == "–"
    assert display.icon(None, 0) != display.icon(None, 1)  # the spinner turns


def test_keys_that_a_text_field_would_type_are_told_apart() -> None:
    assert split_keys("b,escape") == ("escape", "b")
    assert split_keys("question_mark,f1") == ("f1", "question_mark")
    assert split_keys("q,ctrl+q") == ("ctrl+q", "q")
    assert split_keys("e") == ("", "e")
    shown, hidden = text_safe("maildoctor.quit", "app.quit")
    assert (shown.key, shown.show, shown.id) == ("ctrl+q", True, "maildoctor.quit")
    assert (hidden.key, hidden.show) == ("q", False)
    assert [b.show for b in text_safe("maildoctor.export", "app.export")] == [False]  # no footer entry


def test_key_names_follow_the_users_keymap() -> None:
    names = KeyNames({"maildoctor.quit": "x,ctrl+x"})
    assert names.shown("maildoctor.quit") == "x / ^x"
    assert names.shown("maildoctor.quit", text_safe=True) == "^x"
    assert names.shown("maildoctor.back", first=True) == "b"
    assert names.shown("maildoctor.help") == "? / f1"


def test_the_key_table_needs_no_textual() -> None:
    assert len(KEY_IDS) == len(KEYS) and all(k.id.startswith("maildoctor.") for k in KEYS)
    assert unknown_ids({"maildoctor.back": "left", "maildoctor.nope": "x"}) == ["maildoctor.nope"]
    code = "import sys, maildoctor.keymap; print(any(m.startswith('textual') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
