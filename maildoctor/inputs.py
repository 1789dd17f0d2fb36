"""Flow inputs from `--set`, the environment and defaults, with CONTRACT.md's rules for secrets."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from maildoctor.clients.settings import Settings
from maildoctor.errors import MaildoctorError
from maildoctor.flow.model import Flow, InputSpec

ENV_PREFIX = "MAILDOCTOR_INPUT_"

REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
EMAIL_RE = re.compile(
    r"^[^@\s<>]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
DOMAIN_RE = re.compile(
    r"^(?=.{1,253}$)(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\.?$"
)
KEY_ID_RE = re.compile(r"^(AKIA|ASIA)[A-Z0-9]{12,124}$")


class InputError(MaildoctorError):
    """A bad input (exit code 2)."""


def problem(spec: InputSpec, value: str) -> str | None:
    """Why ``value`` is not acceptable for ``spec``, or None. The TUI validates as you type with this."""
    if not value:
        return "required" if spec.required else None
    if spec.kind == "email" and not EMAIL_RE.match(value):
        return f"{value!r} is not an email address"
    if spec.kind == "domain" and not DOMAIN_RE.match(value):
        return f"{value!r} is not a domain name"
    if spec.kind == "region" and not REGION_RE.match(value):
        return f"{value!r} is not an AWS region name (like us-east-1)"
    if spec.kind == "access-key-id" and not KEY_ID_RE.match(value):
        return f"{value!r} is not an access key id (AKIA… or ASIA…, upper-case letters and digits)"
    if spec.kind == "choice" and spec.choices and value not in spec.choices:
        return f"{value!r} is not one of {', '.join(spec.choices)}"
    return None


def parse_sets(
    pairs: Iterable[str], flow: Flow | Mapping[str, InputSpec], stdin_text: str | None = None
) -> dict[str, str]:
    """``K=V`` pairs; ``K=@PATH`` reads a file, ``K=@-`` stdin. Secrets only from files or stdin.

    ``flow`` is the flow whose inputs these are, or (for the TUI before a flow is chosen) the inputs
    of every shipped flow."""
    specs = flow.inputs if isinstance(flow, Flow) else flow
    owner = f"flow '{flow.name}'" if isinstance(flow, Flow) else "no shipped flow"
    values: dict[str, str] = {}
    for pair in pairs:
        key, eq, raw = pair.partition("=")
        key = key.strip()
        if not eq or not key:
            raise InputError(f"--set {pair!r}: expected KEY=VALUE")
        spec = specs.get(key)
        if spec is None:
            known = ", ".join(specs) or "none"
            raise InputError(f"--set {key}: {owner} has no input '{key}' (inputs: {known})")
        if raw.startswith("@"):
            values[key] = _read_at(key, raw[1:], stdin_text)
        elif spec.secret:
            raise InputError(
                f"--set {key}: '{key}' is a secret and is refused on the command line (argv is visible to "
                f"other users and kept in shell history); use --set {key}=@FILE, --set {key}=@- or "
                f"{ENV_PREFIX}{key.upper()}"
            )
        else:
            values[key] = raw
    return values


def from_env(names: Iterable[str], env: Mapping[str, str]) -> dict[str, str]:
    """``MAILDOCTOR_INPUT_<NAME>`` values for the given input names."""
    return {name: env[ENV_PREFIX + name.upper()] for name in names if env.get(ENV_PREFIX + name.upper())}


def _read_at(key: str, where: str, stdin_text: str | None) -> str:
    if where == "-":
        text = stdin_text if stdin_text is not None else sys.stdin.read()
    else:
        try:
            text = Path(where).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"--set {key}=@{where}: cannot read the file: {exc.strerror}") from None
    # a trailing newline from `echo` or an editor is not part of a one-line value
    return text.rstrip("\n") if text.count("\n") <= 1 else text


def resolve(
    flow: Flow,
    sets: Mapping[str, str],
    settings: Settings,
    env: Mapping[str, str],
    *,
    require: bool = True,
) -> dict[str, str]:
    """Every input's value: --set, then MAILDOCTOR_INPUT_<NAME>, then the default. Validated."""
    values: dict[str, str] = {}
    for name, spec in flow.inputs.items():
        value = sets.get(name)
        if value is None:
            value = env.get(ENV_PREFIX + name.upper())
        if value is None and spec.default_from == "aws-region":
            value = settings.region
        if value is None:
            value = spec.default
        value = (value or "").strip() if spec.kind != "multiline" else (value or "")
        if value:
            values[name] = value
    if require:
        errors = []
        for name, spec in flow.inputs.items():
            why = problem(spec, values.get(name, ""))
            if why:
                errors.append(
                    f"input '{name}': {why}" + ("" if why != "required" else f" ({spec.description})")
                )
        if errors:
            raise InputError("; ".join(errors))
    return values
