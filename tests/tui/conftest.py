"""Fixtures for the TUI tests: an app against the lab, prefilled the way `maildoctor demo` does, and a
check that blocks until the test lets it go (a slow check, made deterministic)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from maildoctor.checks.registry import CheckContext, CheckResult, Registry, default_registry
from maildoctor.clients.settings import Settings
from maildoctor.lab.scenario import Scenario
from maildoctor.tui.app import MaildoctorApp

MakeApp = Callable[..., MaildoctorApp]


def prefill_of(scenario: Scenario, *, drop: tuple[str, ...] = ()) -> dict[str, str]:
    return {k: v for k, v in scenario.walk_inputs().items() if v and k not in drop}


class TestChecks:
    """The checks a test's app runs: the shipped ones, some of them gated (see ``gate``)."""

    def __init__(self) -> None:
        self.registry: Registry = default_registry()


@pytest.fixture
def test_checks() -> TestChecks:
    return TestChecks()


@pytest.fixture
def lab_app(load, state_dir: Path, test_checks: TestChecks) -> MakeApp:
    """``lab_app(scenario, flow=..., drop=(...), **app_options)``: load the scenario into the lab, point
    the settings at it and build the app with the scenario's inputs as prefill."""

    def _make(
        name: str, *, flow: str | None = "ses-delivery", drop: tuple[str, ...] = (), **options: object
    ) -> MaildoctorApp:
        scenario = load(name)
        settings = Settings.resolve()
        return MaildoctorApp(
            flow=flow,
            prefill=prefill_of(scenario, drop=drop),
            settings=settings,
            registry=test_checks.registry,
            **options,  # type: ignore[arg-type]
        )

    return _make


async def wait_until(pilot: Pilot[int], predicate: Callable[[], object], timeout: float = 20.0) -> None:
    """Let the app run until ``predicate()`` holds (the walk's checks run over real protocols)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        await pilot.pause(0.02)


class Gate:
    """A check that waits until the test opens the gate (then runs the real check), so that a test
    sees a step still running, for as long as it likes."""

    def __init__(self) -> None:
        self.opened: asyncio.Event | None = None
        self.entered = False

    def open(self) -> None:
        if self.opened is not None:
            self.opened.set()

    def wrap(
        self, real: Callable[[CheckContext], Awaitable[CheckResult]]
    ) -> Callable[[CheckContext], Awaitable[CheckResult]]:
        async def gated(ctx: CheckContext) -> CheckResult:
            self.opened = asyncio.Event()
            self.entered = True
            await self.opened.wait()
            return await real(ctx)

        return gated


@pytest.fixture
def gate(test_checks: TestChecks) -> Iterator[Callable[[str], Gate]]:
    """``gate("ses.account")`` makes that check wait for ``.open()`` in the apps this test builds next
    (``lab_app``, or an app given ``registry=test_checks.registry``)."""

    def _gate(name: str) -> Gate:
        made = Gate()
        test_checks.registry = test_checks.registry.with_fn(name, made.wrap(test_checks.registry[name].fn))
        return made

    yield _gate
