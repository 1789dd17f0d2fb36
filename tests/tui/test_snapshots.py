"""Snapshots of the main screens (pytest-textual-snapshot; `pytest tests/tui --snapshot-update` rewrites
them). One state per test; deterministic: no timings, no spinner motion, no cursor blink, no session
ids or paths on screen, and lab data only where the rendered text does not depend on the clock."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from maildoctor.checks.registry import Registry
from maildoctor.clients.settings import Settings
from maildoctor.tui.app import MaildoctorApp
from maildoctor.tui.options import STILL
from maildoctor.tui.screens.audit import AuditScreen
from maildoctor.tui.screens.remedy import RemedyScreen
from maildoctor.tui.screens.walk import WalkScreen
from tests.tui.conftest import prefill_of, wait_until

INPUTS = {"sender": "admin@example.com", "region": "us-east-1"}


def offline_app(
    state_dir: Path,
    prefill: dict[str, str],
    flow: str | None = "ses-delivery",
    theme: str | None = None,
    registry: Registry | None = None,
) -> MaildoctorApp:
    """An app that needs no lab: the snapshot stops before any check reaches the network."""
    settings = Settings(region="us-east-1", state_dir=state_dir)
    return MaildoctorApp(
        flow=flow, prefill=prefill, settings=settings, theme=theme, display=STILL, registry=registry,
    )  # fmt: skip


def lab_snapshot_app(load, name: str) -> MaildoctorApp:
    scenario = load(name)
    return MaildoctorApp(
        flow="ses-delivery",
        prefill=prefill_of(scenario),
        settings=Settings.resolve(),
        display=STILL,
    )


async def start_and_wait_for_the_running_check(pilot: Pilot[int]) -> None:
    await pilot.press("enter")
    screen = pilot.app.screen
    assert isinstance(screen, WalkScreen)
    items = screen.step_tree.items
    await wait_until(pilot, lambda: len(items) == 2 and items[0].step and screen.detail.shown is items[1])


async def walk_to_the_end(pilot: Pilot[int]) -> None:
    """Start the walk and wait for its end; the walk stays on screen, its notice dismissed."""
    await pilot.press("enter")
    screen = pilot.app.screen
    assert isinstance(screen, WalkScreen)
    await wait_until(pilot, lambda: screen.session.walk.finished and not screen.session.running)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    pilot.app.clear_notifications()
    await pilot.pause()


async def walk_to_the_remedy(pilot: Pilot[int]) -> None:
    await walk_to_the_end(pilot)
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, RemedyScreen))
    await pilot.pause()


def test_picker(snap_compare, state_dir: Path) -> None:
    assert snap_compare(offline_app(state_dir, {}, flow=None), terminal_size=(80, 24))


def test_form_with_a_masked_secret_and_an_invalid_field(snap_compare, state_dir: Path) -> None:
    prefill = {
        **INPUTS,
        "recipient": "guest@",
        "smtp_username": "AKIAEXAMPLEOLDKEY001",
        "smtp_password": "BAsecretSMTPpasswordTHATmustNEVERshow0000000",
    }
    assert snap_compare(offline_app(state_dir, prefill), terminal_size=(100, 50))


def test_walk_with_a_check_still_running(snap_compare, state_dir: Path, gate, test_checks) -> None:
    gate("ses.account")  # never opened: the step runs for as long as the snapshot takes
    app = offline_app(state_dir, {**INPUTS, "pathway": "api"}, registry=test_checks.registry)
    assert snap_compare(app, terminal_size=(120, 40), run_before=start_and_wait_for_the_running_check)


def test_walk_with_a_check_still_running_light_theme(
    snap_compare, state_dir: Path, gate, test_checks
) -> None:
    gate("ses.account")
    app = offline_app(state_dir, {**INPUTS, "pathway": "api"}, theme="light", registry=test_checks.registry)
    assert snap_compare(app, terminal_size=(80, 24), run_before=start_and_wait_for_the_running_check)


def test_walk_with_a_check_still_running_no_color(
    snap_compare, state_dir: Path, gate, test_checks, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    gate("ses.account")
    app = offline_app(state_dir, {**INPUTS, "pathway": "api"}, registry=test_checks.registry)
    assert snap_compare(app, terminal_size=(80, 24), run_before=start_and_wait_for_the_running_check)


def test_walk_waiting_for_an_answer(snap_compare, state_dir: Path) -> None:
    async def run_before(pilot: Pilot[int]) -> None:
        await pilot.press("enter")
        screen = pilot.app.screen
        assert isinstance(screen, WalkScreen)
        await wait_until(pilot, lambda: screen.detail.options is not None and screen.detail.options.has_focus)
        await pilot.pause(0.2)  # focus is set: let its style be painted before the picture is taken
        await pilot.wait_for_scheduled_animations()

    app = offline_app(state_dir, INPUTS)  # no bounce, no pathway: the walk asks
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_finished_walk(snap_compare, load) -> None:
    app = lab_snapshot_app(load, "seed-incident")
    assert snap_compare(app, terminal_size=(200, 60), run_before=walk_to_the_end)


def test_finished_walk_80x24(snap_compare, load) -> None:
    app = lab_snapshot_app(load, "seed-incident")
    assert snap_compare(app, terminal_size=(80, 24), run_before=walk_to_the_end)


def test_remedy_with_two_findings(snap_compare, load) -> None:
    app = lab_snapshot_app(load, "identity-not-found")
    assert snap_compare(app, terminal_size=(100, 30), run_before=walk_to_the_remedy)


def test_remedy_80x24(snap_compare, load) -> None:
    app = lab_snapshot_app(load, "identity-not-found")  # the seed's fix names times of day
    assert snap_compare(app, terminal_size=(80, 24), run_before=walk_to_the_remedy)


def test_audit_screen(snap_compare, load) -> None:
    """The audit of several SMTP users, on the key with no CloudTrail events: every time on screen is
    relative (the key history's times of day would change from run to run)."""
    scenario = load("audit-findings")
    app = MaildoctorApp(
        flow="smtp-audit", prefill=prefill_of(scenario), settings=Settings.resolve(), display=STILL
    )

    async def run_before(pilot: Pilot[int]) -> None:
        await walk_to_the_end(pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, AuditScreen))
        screen = pilot.app.screen
        assert isinstance(screen, AuditScreen)
        await pilot.press(*["down"] * [c["user"] for c in screen.credentials].index("legacy-smtp"))
        await pilot.pause()
        assert screen.selected is not None and not screen.selected["history"]

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_help(snap_compare, state_dir: Path) -> None:
    assert snap_compare(
        offline_app(state_dir, {}, flow=None), press=["question_mark"], terminal_size=(80, 24)
    )
