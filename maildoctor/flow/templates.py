"""Placeholders in flow text: ``{input}`` names an input, ``{node.fact}`` a fact of an earlier step.

One small mechanism serves check arguments, summaries and remedies alike; ``{{`` and ``}}`` are
literal braces.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from typing import Any

_FORMATTER = string.Formatter()
UNKNOWN = "(unknown)"


def placeholders(text: str) -> list[str]:
    """The placeholder names in ``text``; raises ValueError on unbalanced braces."""
    return [field for _, field, _, _ in _FORMATTER.parse(text) if field is not None]


def _show(value: Any) -> str:
    if value is None:
        return UNKNOWN
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_show(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, indent=2, sort_keys=True)
    return str(value)


def render(text: str, inputs: Mapping[str, str], facts: Mapping[str, Mapping[str, Any]]) -> str:
    """Fill placeholders: inputs by name, facts by ``node.fact`` (or ``node.summary``/``node.status``)."""
    out: list[str] = []
    for literal, field, _spec, _conv in _FORMATTER.parse(text):
        out.append(literal)
        if field is None:
            continue
        if "." in field:
            node, _, key = field.partition(".")
            out.append(_show(facts.get(node, {}).get(key)))
        else:
            out.append(inputs.get(field, "") or "")
    return "".join(out)
