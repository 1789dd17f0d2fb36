"""Textual bindings built from the key table in ``keymap.py``; every one has an id and a tooltip.

``KeyNames`` says how a binding's keys show after the user's keymap; the app makes one and hands it to
the screens that name keys in their text (so no screen needs the app's class).
"""

from __future__ import annotations

from collections.abc import Mapping

from textual.binding import Binding
from textual.keys import format_key, key_to_character

from maildoctor.keymap import BY_ID


def binding(
    key_id: str,
    action: str,
    label: str | None = None,
    *,
    show: bool = True,
    priority: bool = False,
) -> Binding:
    key = BY_ID[key_id]
    return Binding(
        key.keys,
        action,
        label or key.label,
        show=show,
        priority=priority,
        tooltip=key.help,
        id=key.id,
    )


def is_text(key: str) -> bool:
    """A key that types a character into a focused text field (``b``, ``q``, ``question_mark``)."""
    character = key_to_character(key)
    return character is not None and character.isprintable()


def split_keys(keys: str) -> tuple[str, str]:
    """``keys`` (comma separated) as (the keys that cannot be text, the keys that can)."""
    names = [k.strip() for k in keys.split(",") if k.strip()]
    return ",".join(k for k in names if not is_text(k)), ",".join(k for k in names if is_text(k))


def text_safe(key_id: str, action: str, label: str | None = None) -> list[Binding]:
    """The bindings of ``key_id`` for a screen with text fields: its keys that cannot be text, shown in
    the footer; its letters, hidden (they still work where no text field has focus, e.g. on a button,
    and shadow the app's shown letters, so that the footer never names a key a field would type)."""
    key = BY_ID[key_id]
    safe, text = split_keys(key.keys)
    made = []
    if safe:
        made.append(Binding(safe, action, label or key.label, tooltip=key.help, id=key.id))
    if text:
        made.append(Binding(text, action, label or key.label, show=False, tooltip=key.help))
    return made


def key_display(key: str) -> str:
    """A key as Textual's footer shows it (``esc``, ``^q``, ``?``)."""
    *modifiers, name = key.split("+")
    shown = format_key(name)
    if "ctrl" in modifiers:
        modifiers.remove("ctrl")
        shown = f"^{shown}"
    return "+".join([*modifiers, shown])


class KeyNames:
    """How the keys of a binding id show (``b / esc``), after the user's keymap."""

    def __init__(self, keymap: Mapping[str, str] | None = None) -> None:
        self.keymap = dict(keymap or {})

    def keys(self, key_id: str) -> list[str]:
        return [k.strip() for k in self.keymap.get(key_id, BY_ID[key_id].keys).split(",") if k.strip()]

    def shown(self, key_id: str, *, first: bool = False, text_safe: bool = False) -> str:
        """``first``: only the first key; ``text_safe``: only keys that a text field would not type."""
        keys = self.keys(key_id)
        if text_safe:
            keys = [k for k in keys if not is_text(k)] or keys
        return " / ".join(key_display(k) for k in (keys[:1] if first else keys))
