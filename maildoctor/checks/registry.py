"""The check registry: small async functions registered by name.

A check takes a CheckContext and returns a CheckResult. It declares the outcomes it can return (the
flow must route each one, plus ``error``, which the engine produces when a check raises or times out),
the arguments it takes from its node, and the IAM actions it needs (``maildoctor iam-policy``).
Checks never change anything in AWS.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from maildoctor.clients import Clients

Status = Literal["pass", "warn", "fail", "error", "skipped", "info"]
STATUSES: tuple[Status, ...] = ("pass", "warn", "fail", "error", "skipped", "info")
ERROR_OUTCOME = "error"


@dataclass
class Evidence:
    """What was asked and what came back, verbatim enough to paste into a ticket."""

    title: str
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"title": self.title, "text": self.text}


@dataclass
class CheckResult:
    outcome: str
    status: Status
    summary: str
    facts: dict[str, Any] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)


@dataclass
class CheckContext:
    """What a check may use: the clients, its node's rendered arguments, the walk's inputs and the
    facts of earlier steps (keyed by node id)."""

    clients: Clients
    args: Mapping[str, str]
    inputs: Mapping[str, str]
    facts: Mapping[str, Mapping[str, Any]]

    def arg(self, name: str, default: str = "") -> str:
        return (self.args.get(name) or default).strip()


CheckFn = Callable[[CheckContext], Awaitable[CheckResult]]


@dataclass(frozen=True)
class CheckSpec:
    name: str
    fn: CheckFn
    outcomes: frozenset[str]
    args: frozenset[str]
    required_args: frozenset[str]
    iam_actions: tuple[str, ...]
    timeout: float
    description: str

    @property
    def all_outcomes(self) -> frozenset[str]:
        return self.outcomes | {ERROR_OUTCOME}


_REGISTRY: dict[str, CheckSpec] = {}


def check(
    name: str,
    *,
    outcomes: set[str] | frozenset[str],
    args: set[str] | frozenset[str] = frozenset(),
    required_args: set[str] | frozenset[str] = frozenset(),
    iam_actions: tuple[str, ...] = (),
    timeout: float = 30.0,
) -> Callable[[CheckFn], CheckFn]:
    """Register an async check function under ``name``."""

    def register(fn: CheckFn) -> CheckFn:
        if name in _REGISTRY:
            raise ValueError(f"check {name!r} is registered twice")
        _REGISTRY[name] = CheckSpec(
            name=name,
            fn=fn,
            outcomes=frozenset(outcomes),
            args=frozenset(args) | frozenset(required_args),
            required_args=frozenset(required_args),
            iam_actions=tuple(iam_actions),
            timeout=timeout,
            description=(fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else "",
        )
        return fn

    return register


def registry() -> Mapping[str, CheckSpec]:
    """Every registered check, importing the check modules on first use."""
    from maildoctor import checks  # noqa: F401  (importing registers the checks)

    return _REGISTRY


def get(name: str) -> CheckSpec:
    return registry()[name]
