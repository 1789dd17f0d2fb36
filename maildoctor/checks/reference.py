"""The check contract in words: ``maildoctor checks`` and the generated ``docs/checks.md``."""

from __future__ import annotations

import typing
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from maildoctor.checks.registry import ERROR_OUTCOME, STEP_FACTS, CheckSpec

HEADER = (
    """\
# The checks

Generated from the check contract by `python -m maildoctor.checks.reference > docs/checks.md`
(a test fails when it drifts). `maildoctor checks show NAME` prints one of these.

Every check may also end in the outcome `error`: it could not check (an exception, a timeout, an
AWS error, or a required argument without a value). Every step also has the facts
"""
    + ", ".join(f"`{name}` ({what})" for name, what in STEP_FACTS.items())
    + ".\n"
)


def type_name(annotation: Any) -> str:
    """A field's type for a person: ``str``, ``int or none``, ``list of str`` …"""
    if annotation is type(None):
        return "none"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation.__name__
    if isinstance(annotation, type):
        return annotation.__name__
    origin, params = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(p) for p in params)
    if origin is list:
        return f"list of {type_name(params[0])}"
    if origin is dict:
        return f"map of {type_name(params[1])}"
    if params:  # a union
        return " or ".join(type_name(p) for p in params)
    return str(annotation)


def _fields(model: type[BaseModel], *, facts: bool) -> Iterable[str]:
    for name, info in model.model_fields.items():
        if facts:
            default = info.get_default(call_default_factory=True)
            yield f"- `{name}` ({type_name(info.annotation)}, not known: `{default!r}`): {info.description}"
        else:
            need = "required" if info.is_required() else "optional"
            yield f"- `{name}` ({type_name(info.annotation)}, {need}): {info.description}"


def describe(spec: CheckSpec, level: str = "##") -> str:
    """One check's contract as Markdown."""
    outcomes = ", ".join(f"`{o}`" for o in sorted(spec.outcomes)) + f", `{ERROR_OUTCOME}`"
    lines = [f"{level} `{spec.name}`", "", spec.description, "", f"**Outcomes:** {outcomes}", ""]
    lines += ["**Arguments:**", ""]
    lines += list(_fields(spec.args, facts=False)) or ["- none"]
    if spec.applies_when:
        lines += [
            "",
            "Not checked (outcome `skipped`) without " + ", ".join(f"`{a}`" for a in spec.applies_when),
        ]
    lines += ["", "**Facts:**", ""]
    lines += list(_fields(spec.facts, facts=True)) or ["- none of its own"]
    actions = ", ".join(f"`{a}`" for a in spec.iam_actions) or "none"
    lines += ["", f"**IAM actions:** {actions}", "", f"**Timeout:** {spec.timeout:g} s", ""]
    return "\n".join(lines)


def reference(specs: Iterable[CheckSpec]) -> str:
    return HEADER + "\n" + "\n".join(describe(spec) for spec in specs)


if __name__ == "__main__":
    from maildoctor.checks.registry import default_registry

    registry = default_registry()
    print(reference(registry[name] for name in registry), end="")
