"""Placeholders in flow text: ``{input}`` names an input, ``{node.fact}`` a fact of an earlier step.

One small mechanism serves check arguments, titles, summaries and remedies; ``{{`` and ``}}`` are
literal braces. ``{a|b}`` is the first of ``a`` and ``b`` that is known (``{recipient|triage.final_recipient}``:
the input, else the recipient the bounce names). Display text (:func:`render`) shows a list comma-separated, or one item per line with
``{node.fact:lines}``, and a fact not known as ``(unknown)``. Check arguments (:func:`resolve`) are
values: ``"{node.fact}"`` alone gives the fact itself, and a placeholder not known gives ``None``.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from typing import Any

_FORMATTER = string.Formatter()
UNKNOWN = "(unknown)"


SPECS = ("", "lines")


def placeholders(text: str) -> list[str]:
    """The names in ``text``'s placeholders (each alternative of ``{a|b}``); raises ValueError on
    unbalanced braces or an unknown spec."""
    names = []
    for _, field, spec, conversion in _FORMATTER.parse(text):
        if field is None:
            continue
        if conversion or spec not in SPECS:
            raise ValueError(
                f"'{{{field}{'!' + conversion if conversion else ''}:{spec}}}': only ':lines' may follow a name"
            )
        names += field.split("|")
    return names


def _show(value: Any, spec: str = "") -> str:
    if spec == "lines" and isinstance(value, list | tuple):
        return "\n".join(_show(v) for v in value)
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
    """Fill placeholders: inputs by name, facts by ``node.fact`` (or ``node.summary``/``node.outcome``)."""
    out: list[str] = []
    for literal, field, spec, _conv in _FORMATTER.parse(text):
        out.append(literal)
        if field is None:
            continue
        value = _lookup(field, inputs, facts)
        if value is None and "." not in field:
            value = ""  # an input not given shows as nothing, a fact not known as (unknown)
        out.append(_show(value, spec or ""))
    return "".join(out)


def _lookup(field: str, inputs: Mapping[str, str], facts: Mapping[str, Mapping[str, Any]]) -> Any:
    """The value of a placeholder: the first alternative of ``a|b`` that is known."""
    for name in field.split("|"):
        if "." in name:
            node, _, key = name.partition(".")
            value = facts.get(node, {}).get(key)
        else:
            value = inputs.get(name) or None
        if value not in (None, ""):
            return value
    return None


def resolve(text: str, inputs: Mapping[str, str], facts: Mapping[str, Mapping[str, Any]]) -> Any:
    """A check argument as a value: a lone placeholder gives its value as it is (a list stays a list);
    text with placeholders gives a string, or None when any of them is not known."""
    parts = list(_FORMATTER.parse(text))
    if len(parts) == 1 and parts[0][0] == "" and parts[0][1] is not None:
        value = _lookup(parts[0][1], inputs, facts)
        return value.strip() or None if isinstance(value, str) else value
    out: list[str] = []
    for literal, field, _spec, _conv in parts:
        out.append(literal)
        if field is None:
            continue
        value = _lookup(field, inputs, facts)
        if value in (None, ""):
            return None
        out.append(str(value))
    return "".join(out).strip() or None
