"""The header of every screen, with an icon that every terminal font has (Textual's ⭘ is missing from
many, and showed as a box in the screenshots)."""

from __future__ import annotations

from textual.widgets import Header

ICON = "✉"


def header() -> Header:
    return Header(icon=ICON)
