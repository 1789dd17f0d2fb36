"""How steps look: status icons and styles, durations, and facts made compact for a table cell.

Icons carry the meaning (NO_COLOR terminals show no colour); styles only add to them.
"""

from __future__ import annotations

import json
from typing import Any

ICONS = {"pass": "✔", "warn": "!", "fail": "✘", "error": "?", "skipped": "–", "info": "•"}
# Content styles (theme variables, so light and dark themes both read well)
STYLES = {
    "pass": "$success",
    "warn": "$warning",
    "fail": "$error",
    "error": "magenta",
    "skipped": "dim",
    "info": "$primary",
}
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
WAITING = "❯"  # a question waits for the operator
MAX_LIST_ITEMS = 12
INLINE_WIDTH = 72


def icon(status: str | None, frame: int = 0) -> str:
    """The icon of a finished step's status, or a spinner frame while it runs (status None)."""
    if status is None:
        return SPINNER[frame % len(SPINNER)]
    return ICONS.get(status, "?")


def duration(ms: int) -> str:
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    minutes, seconds = divmod(ms // 1000, 60)
    return f"{minutes} min {seconds:02d} s"


def _inline(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_inline(v)}" for k, v in value.items()) or "(none)"
    return json.dumps(value, ensure_ascii=False, default=str)


def compact(value: Any) -> str:
    """A fact's value for a table cell: scalars as they are, short lists inline, longer ones one item
    a line (at most ``MAX_LIST_ITEMS``), mappings as ``key=value``."""
    if isinstance(value, list | tuple):
        if not value:
            return "(none)"
        items = [_inline(v) for v in value]
        joined = ", ".join(items)
        if all(not isinstance(v, dict | list) for v in value) and len(joined) <= INLINE_WIDTH:
            return joined
        shown = items[:MAX_LIST_ITEMS]
        if len(items) > MAX_LIST_ITEMS:
            shown.append(f"… {len(items) - MAX_LIST_ITEMS} more")
        return "\n".join(shown)
    if isinstance(value, dict):
        if not value:
            return "(none)"
        joined = _inline(value)
        if len(joined) <= INLINE_WIDTH:
            return joined
        return "\n".join(f"{k}: {_inline(v)}" for k, v in value.items())
    return _inline(value)
