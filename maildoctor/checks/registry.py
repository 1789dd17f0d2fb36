"""The check contract: each check declares its outcomes, its arguments, its facts and its IAM actions.

A check is a small async function registered by name. Its spec says:

- the **outcomes** it can return (a flow must route each one, plus ``error``, which the engine gives
  when a check raises, times out or lacks a required argument);
- its **arguments**, a pydantic model: a field without a default is required, and the engine refuses
  to run the check without it (outcome ``error``, "could not check: no … given"); a field named in
  ``applies_when`` makes the check not apply when it is missing (outcome ``skipped``);
- its **facts**, a pydantic model whose defaults are the "not known" state and whose fields each carry a
  one-line description; only JSON types are allowed, so facts are JSON-safe by construction;
- the **IAM actions** it needs (``maildoctor iam-policy``).

Checks never change anything in AWS. Registries are values: the shipped checks register into
``CHECKS`` on import (``default_registry()``), and tests build their own ``Registry``.
"""

from __future__ import annotations

import asyncio
import types
import typing
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

if TYPE_CHECKING:
    from maildoctor.clients import Clients

Status = Literal["pass", "warn", "fail", "error", "skipped", "info"]
STATUSES: tuple[Status, ...] = ("pass", "warn", "fail", "error", "skipped", "info")
ERROR_OUTCOME = "error"
SKIPPED_OUTCOME = "skipped"
# Facts every step has besides its check's own (a check's own fact may be called ``status``).
STEP_FACTS = {
    "summary": "the step's one-line summary",
    "outcome": "the outcome (check), the answer (question) or the code (remedy)",
    "step_status": "pass, warn, fail, error, skipped or info",
}


# Each check's models are built (their validators made) when first used, not when its module is imported:
# loading and checking flows reads only the fields, and a walk builds the models of the checks it runs.
_DEFERRED = ConfigDict(defer_build=True)


class Args(BaseModel):
    """A check's arguments: rendered values from its node (``None`` when not known)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, **_DEFERRED)


class Facts(BaseModel):
    """A check's facts: defaults are the "not known" state; every field has a description."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, **_DEFERRED)


class NoArgs(Args):
    pass


class NoFacts(Facts):
    pass


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
    facts: Facts = field(default_factory=NoFacts)
    evidence: list[Evidence] = field(default_factory=list)


A = TypeVar("A", bound=Args)


@dataclass
class CheckContext(Generic[A]):
    """What a check may use: the clients, its validated arguments and the facts of earlier steps
    (by node id, as JSON values)."""

    clients: Clients
    args: A
    facts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


CheckFn = Callable[[CheckContext[Any]], Awaitable[CheckResult]]


@dataclass(frozen=True)
class CheckSpec:
    name: str
    fn: CheckFn
    outcomes: frozenset[str]
    args: type[Args]
    facts: type[Facts]
    iam_actions: tuple[str, ...]
    timeout: float
    description: str
    applies_when: tuple[str, ...] = ()
    reads_earlier_steps: bool = False  # its answer depends on the walk so far, not only on its arguments

    @property
    def all_outcomes(self) -> frozenset[str]:
        return self.outcomes | {ERROR_OUTCOME}

    @property
    def arg_names(self) -> frozenset[str]:
        return frozenset(self.args.model_fields)

    @property
    def required_args(self) -> frozenset[str]:
        return frozenset(n for n, f in self.args.model_fields.items() if f.is_required())

    def fact_names(self) -> frozenset[str]:
        return frozenset(self.facts.model_fields) | frozenset(STEP_FACTS)

    def missing(self, values: Mapping[str, Any]) -> tuple[str, str] | None:
        """``(outcome, argument)`` when a required or applies-when argument has no value."""
        for name in sorted(self.required_args):
            if _absent(values.get(name)):
                return ERROR_OUTCOME, name
        for name in self.applies_when:
            if _absent(values.get(name)):
                return SKIPPED_OUTCOME, name
        return None

    def timed_out(self, limit: float) -> CheckResult:
        """The result of a check that gave no answer within ``limit`` seconds."""
        return CheckResult(
            ERROR_OUTCOME, "error", f"could not check: no answer within {round(limit, 1):g}s", self.facts()
        )

    async def run(
        self,
        clients: Clients,
        values: Mapping[str, Any],
        facts: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        timeout: float | None = None,
    ) -> CheckResult:
        """Validate the arguments and run the check; a check failing is a result, never a crash."""
        limit = timeout or self.timeout
        gap = self.missing(values)
        if gap is not None:
            outcome, name = gap
            said = "could not check" if outcome == ERROR_OUTCOME else "not checked"
            status: Status = "error" if outcome == ERROR_OUTCOME else "skipped"
            return CheckResult(outcome, status, f"{said}: no {name.replace('_', ' ')} given", self.facts())
        try:
            args = self.args.model_validate({k: v for k, v in values.items() if not _absent(v)})
        except ValidationError as exc:
            problem = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            return CheckResult(
                ERROR_OUTCOME, "error", f"could not check: bad argument ({problem})", self.facts()
            )
        try:
            result = await asyncio.wait_for(self.fn(CheckContext(clients, args, facts or {})), timeout=limit)
        except TimeoutError:
            return self.timed_out(limit)
        except Exception as exc:  # a check failing is evidence, never a crash
            said = f"{type(exc).__name__}: {exc}"
            return CheckResult(
                ERROR_OUTCOME, "error", f"could not check: {said}", self.facts(), [Evidence("error", said)]
            )
        if result.outcome not in self.all_outcomes:  # a bug in the check, not in the world
            return CheckResult(
                ERROR_OUTCOME, "error", f"check {self.name} returned undeclared outcome {result.outcome!r}",
                self.facts(),
            )  # fmt: skip
        if not isinstance(result.facts, self.facts):
            return CheckResult(
                ERROR_OUTCOME, "error", f"check {self.name} returned {type(result.facts).__name__} facts",
                self.facts(), result.evidence,
            )  # fmt: skip
        return result


def _absent(value: Any) -> bool:
    """No value: None, or text that is only white space."""
    return value is None or (isinstance(value, str) and not value.strip())


_JSON_LEAVES = (str, int, float, bool, type(None))


def _json_safe(annotation: Any) -> bool:
    """Whether a field type holds only JSON values (str, numbers, bools, None, lists, str-keyed dicts,
    nested Facts/Args models)."""
    if annotation is Any:
        return False
    if annotation in _JSON_LEAVES:
        return True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return all(_json_safe(f.annotation) for f in annotation.model_fields.values())
    origin = typing.get_origin(annotation)
    params = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return all(_json_safe(p) for p in params)
    if origin is Literal:
        return all(isinstance(p, _JSON_LEAVES) for p in params)
    if origin is list:
        return all(_json_safe(p) for p in params)
    if origin is dict:
        return params[0] is str and _json_safe(params[1])
    return False


def contract_problems(spec: CheckSpec) -> list[str]:
    """What is wrong with a spec's declarations (checked when it is registered)."""
    problems = []
    for model in (spec.args, spec.facts):
        for name, info in model.model_fields.items():
            if not info.description:
                problems.append(f"{model.__name__}.{name} has no description")
            if not _json_safe(info.annotation):
                problems.append(f"{model.__name__}.{name} is not a JSON type ({info.annotation})")
    for name, info in spec.facts.model_fields.items():
        if info.is_required():
            problems.append(f"{spec.facts.__name__}.{name} has no default (the not-known state)")
    for name in spec.applies_when:
        if name not in spec.args.model_fields:
            problems.append(f"applies_when names '{name}', which is not an argument")
        elif spec.args.model_fields[name].is_required():
            problems.append(f"applies_when names '{name}', which is a required argument")
    if spec.applies_when and SKIPPED_OUTCOME not in spec.outcomes:
        problems.append("applies_when needs the outcome 'skipped'")
    return problems


class Registry(Mapping[str, CheckSpec]):
    """Checks by name. ``@registry.check(...)`` registers a function."""

    def __init__(self, specs: Mapping[str, CheckSpec] | None = None) -> None:
        self._specs: dict[str, CheckSpec] = dict(specs or {})

    def __getitem__(self, name: str) -> CheckSpec:
        return self._specs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._specs))

    def __len__(self) -> int:
        return len(self._specs)

    def add(self, spec: CheckSpec) -> CheckSpec:
        if spec.name in self._specs:
            raise ValueError(f"check {spec.name!r} is registered twice")
        problems = contract_problems(spec)
        if problems:
            raise TypeError(f"check {spec.name}: " + "; ".join(problems))
        self._specs[spec.name] = spec
        return spec

    def with_fn(self, name: str, fn: CheckFn) -> Registry:
        """A copy of this registry in which check ``name`` runs ``fn`` (tests, screenshots)."""
        return Registry({**self._specs, name: replace(self._specs[name], fn=fn)})

    def check(
        self,
        name: str,
        *,
        outcomes: set[str] | frozenset[str],
        args: type[Args] = NoArgs,
        facts: type[Facts] = NoFacts,
        applies_when: tuple[str, ...] = (),
        iam_actions: tuple[str, ...] = (),
        timeout: float = 30.0,
        reads_earlier_steps: bool = False,
    ) -> Callable[[CheckFn], CheckFn]:
        """Register an async check function under ``name``. ``reads_earlier_steps``: the check reads the
        facts of the walk's earlier steps (``ctx.facts``), so the engine never starts it ahead."""

        def register(fn: CheckFn) -> CheckFn:
            doc = (fn.__doc__ or "").strip()
            self.add(
                CheckSpec(
                    name=name,
                    fn=fn,
                    outcomes=frozenset(outcomes),
                    args=args,
                    facts=facts,
                    iam_actions=tuple(iam_actions),
                    timeout=timeout,
                    description=doc.splitlines()[0] if doc else "",
                    applies_when=applies_when,
                    reads_earlier_steps=reads_earlier_steps,
                )
            )
            return fn

        return register


CHECKS = Registry()  # the shipped checks register here when their modules are imported
check = CHECKS.check


# The shipped check modules, imported (and so registered) on the first default_registry().
CHECK_MODULES = ("audit", "bounce", "cloudtrail", "dns", "iam", "receiver", "ses", "ses_history", "smtp")


def default_registry() -> Registry:
    """The shipped checks, importing the check modules on first use."""
    import importlib

    for name in CHECK_MODULES:
        importlib.import_module(f"maildoctor.checks.{name}")
    return CHECKS
