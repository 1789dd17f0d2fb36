"""Shared fixtures: one lab per test session (AWS, DNS and SMTP on loopback); each test loads its
own scenario or zone into it, so no server is restarted between tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from maildoctor.checks.registry import CheckResult, default_registry
from maildoctor.clients import Clients
from maildoctor.clients.settings import Settings
from maildoctor.lab import Lab
from maildoctor.lab.dns import LabDnsServer
from maildoctor.lab.faults import Fault
from maildoctor.lab.scenario import Scenario, load_scenario


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


@pytest.fixture
def load(lab: Lab, monkeypatch: pytest.MonkeyPatch, state_dir: Path):
    """Load a scenario (name or Scenario) into the session's lab and point the environment at it."""

    def _load(scenario: str | Scenario) -> Scenario:
        loaded = lab.load(scenario if isinstance(scenario, Scenario) else load_scenario(scenario))
        for name, value in lab.env().items():
            monkeypatch.setenv(name, value)
        return loaded

    return _load


@pytest.fixture
def fault(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., tuple[Fault, ...]]]:
    """Apply lab faults for this test only: ``fault("aws-throttle")``,
    ``fault("aws-deny:iam:GetAccessKeyLastUsed", "dns-slow:200")`` (names: `maildoctor lab --fault list`).

    Each call adds to the faults before it and returns every fault now active (the loaded scenario's
    own included). The environment follows, as ``load`` sets it (``aws-down`` and ``smtp-refused`` point
    clients at a closed port), in either order with ``load``. The lab is the session's: every fault is
    removed when the test ends, pass or fail, and any left by an earlier test before it starts.
    """
    lab.clear_faults()

    def _fault(*names: str) -> tuple[Fault, ...]:
        active = lab.add_faults(*names)
        for name, value in lab.env().items():
            monkeypatch.setenv(name, value)
        return active

    try:
        yield _fault
    finally:
        lab.clear_faults()


@pytest.fixture(scope="session")
def dns_lab(lab: Lab) -> LabDnsServer:
    return lab.dns


@pytest.fixture
def state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private state directory, so that no test writes transcripts into the user's."""
    path = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("MAILDOCTOR_STATE_DIR", str(path))
    return path


@pytest.fixture
def run_check(load):
    """Run one registered check against the lab, over real protocols: ``await run_check(name, **args)``.

    Load a scenario first with ``load(...)``; ``facts`` gives earlier steps' facts by node id. The
    check runs as the engine runs it (arguments validated by its model, required ones enforced).
    """

    async def _run(name: str, facts: dict | None = None, timeout: float = 5.0, **args: object) -> CheckResult:
        settings = Settings.resolve()  # the lab's variables, set by load()
        settings = Settings(**{**settings.__dict__, "timeout": timeout})
        spec = default_registry()[name]
        return await spec.run(Clients(settings), args, facts or {}, timeout=spec.timeout + timeout)

    return _run
