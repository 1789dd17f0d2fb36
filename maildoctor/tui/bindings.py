"""Textual bindings built from the key table in ``keymap.py``; every one has an id and a tooltip."""

from __future__ import annotations

from textual.binding import Binding

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
