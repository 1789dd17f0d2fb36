"""Fixtures for the TUI tests: an app against the lab, prefilled the way `maildoctor demo` does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from maildoctor.clients.settings import Settings
from maildoctor.lab.scenario import Scenario
from maildoctor.tui.app import MaildoctorApp

MakeApp = Callable[..., MaildoctorApp]


def prefill_of(scenario: Scenario, *, drop: tuple[str, ...] = ()) -> dict[str, str]:
    return {k: v for k, v in scenario.walk_inputs().items() if v and k not in drop}


@pytest.fixture
def lab_app(load, state_dir: Path) -> Callable[..., MaildoctorApp]:
    """``lab_app(scenario, flow=..., drop=(...), **app_options)``: load the scenario into the lab, point
    the settings at it and build the app with the scenario's inputs as prefill."""

    def _make(name: str, *, flow: str | None = "ses-delivery", drop: tuple[str, ...] = (), **options) -> MaildoctorApp:
        scenario = load(name)
        settings = Settings.resolve()
        return MaildoctorApp(flow=flow, prefill=prefill_of(scenario, drop=drop), settings=settings, **options)

    return _make
