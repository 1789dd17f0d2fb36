"""The audit screen driven by keys against the lab: the picker lists smtp-audit, its walk ends on the
audit (not the remedy), one row per key as the scenario's IAM has it, the selected key's evidence and
runbook, c / y copy, f opens every finding, b goes back, e exports; nothing cut mid-word at 80×24 and
200×60."""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Markdown, Static

from maildoctor.flow.commands import shell_blocks, shell_commands
from maildoctor.lab.scenario import Scenario, parse_when
from maildoctor.lab.scenario import now as scenario_now
from maildoctor.tui.app import MaildoctorApp
from maildoctor.tui.screens.audit import AUDIT_CHECK, AuditScreen
from maildoctor.tui.screens.export import ExportDialog
from maildoctor.tui.screens.form import FormScreen
from maildoctor.tui.screens.picker import PickerScreen
from maildoctor.tui.screens.remedy import RemedyScreen
from maildoctor.tui.screens.walk import WalkScreen
from tests.tui.conftest import wait_until
from tests.tui.test_pilot import static_text

FLOW = "smtp-audit"
NEW_KEY, OLD_KEY = "AKIAEXAMPLENEWKEY002", "AKIAEXAMPLEOLDKEY001"  # the seed incident's rotation
TOKEN = re.compile(r"[A-Za-z0-9][\w.@:/+=-]*[A-Za-z0-9]")  # words, ids, host names and codes
SVG_TEXT = re.compile(r'<text [^>]*?x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>')
CELL_WIDTH = 12.2  # Textual's SVG: pixels per terminal column


def screen_text(app: MaildoctorApp) -> str:
    """The screen as text, each piece at its own column (the SVG leaves out runs of mere spaces, so
    joining its pieces would glue words together)."""
    rows: dict[float, dict[int, str]] = {}
    for x, y, text in SVG_TEXT.findall(app.export_screenshot()):
        row = rows.setdefault(float(y), {})
        for offset, char in enumerate(html.unescape(text).replace("\xa0", " ")):
            row[round(float(x) / CELL_WIDTH) + offset] = char
    return "\n".join("".join(row.get(n, " ") for n in range(max(row) + 1)) for _, row in sorted(rows.items()))


async def walk_to_the_audit(app: MaildoctorApp, pilot: Pilot[int]) -> AuditScreen:
    """From the form: start the walk, wait for its end (the walk stays), enter opens the audit."""
    await pilot.pause()
    assert isinstance(app.screen, FormScreen)
    await pilot.press("enter")
    walk = app.screen
    assert isinstance(walk, WalkScreen)
    await wait_until(pilot, lambda: walk.session.walk.finished and not walk.session.running, timeout=60)
    await app.workers.wait_for_complete()
    await pilot.pause()
    status = static_text(walk.query_one("#walk-status", Static))
    assert "the audit" in status and "the fix" not in status, status
    app.clear_notifications()
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, AuditScreen))
    await pilot.pause()
    assert isinstance(app.screen, AuditScreen)
    return app.screen


def credentials_of(app: MaildoctorApp) -> list[dict[str, Any]]:
    """The audit step's credentials, as the session's report (and so a transcript) has them."""
    assert app.session is not None
    steps = [s for s in app.session.report()["steps"] if s["check"] == AUDIT_CHECK]
    assert len(steps) == 1
    return list(steps[0]["facts"]["credentials"])


def rows_of(screen: AuditScreen) -> list[list[str]]:
    table = screen.query_one("#audit-keys", DataTable)
    return [[cell.plain for cell in table.get_row_at(n)] for n in range(table.row_count)]


def scenario_keys(scenario: Scenario, users: set[str]) -> dict[str, tuple[str, Any]]:
    return {k.id: (u.name, k) for u in scenario.iam.users if u.name in users for k in u.keys}


def check_rows_against_the_scenario(screen: AuditScreen, scenario: Scenario) -> None:
    """Each row as the scenario's IAM has that key (user, status, age), with the walk's codes."""
    creds = credentials_of(screen.app)  # type: ignore[arg-type]
    expected = scenario_keys(scenario, {c["user"] for c in creds})
    rows = rows_of(screen)
    assert len(rows) == len(creds) == len(expected)
    now = scenario_now()
    for row, cred in zip(rows, creds, strict=True):
        user, key = expected[cred["key_id"]]
        cells = " ".join(row).split()
        assert key.id in cells and user in cells and key.status in cells
        days = round((now - parse_when(key.created, now)).total_seconds() / 86400)
        assert f"{days} d" in " ".join(row)
        codes = [c for c in cells if c.startswith(("smtp-", "rotation-"))]
        assert codes == cred["findings"]
        if not key.last_used:
            assert "never" in cells


def source_tokens(screen: AuditScreen) -> set[str]:
    """Every word the screen may show: its texts, its table, the header and the footer's keys."""
    texts = [
        static_text(screen.query_one("#audit-headline", Static)),
        screen.query_one("#audit-evidence-text", Markdown).source,
        screen.query_one("#audit-runbook-text", Markdown).source,
        str(screen.app.title),
        str(screen.sub_title),
        *(cell for row in rows_of(screen) for cell in row),
        *(column.label.plain for column in screen.query_one("#audit-keys", DataTable).columns.values()),
        *(active.binding.description for active in screen.active_bindings.values()),
        "Palette",
    ]
    return {t for text in texts for t in TOKEN.findall(text)}


def check_no_word_cut(app: MaildoctorApp, screen: AuditScreen) -> None:
    """No word on screen is a piece of one, and the selected row shows whole (no column off the edge)."""
    shown = screen_text(app)
    cut = sorted(set(TOKEN.findall(shown)) - source_tokens(screen))
    assert not cut, f"cut or unknown words {cut} on:\n{shown}"
    table = screen.query_one("#audit-keys", DataTable)
    for cell in table.get_row_at(table.cursor_row):
        for line in cell.plain.splitlines():
            assert line in shown, f"{line!r} of the selected row is not on:\n{shown}"


async def test_the_seed_incidents_audit_from_the_picker(lab_app, load) -> None:
    app = lab_app("seed-incident", flow=None)
    scenario = load("seed-incident")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, PickerScreen)
        names = [name for name, _ in picker.flows]
        assert FLOW in names  # a shipped flow
        await pilot.press(*["down"] * names.index(FLOW), "enter")
        await pilot.pause()
        assert isinstance(app.screen, FormScreen) and app.screen.flow.name == FLOW
        screen = await walk_to_the_audit(app, pilot)
        check_rows_against_the_scenario(screen, scenario)

        # the seed's pattern: the new key, unused since the rotation; the old key named as held by a client
        creds = credentials_of(app)
        index = next(n for n, c in enumerate(creds) if c["key_id"] == NEW_KEY)
        assert "smtp-key-unused-since-rotation" in rows_of(screen)[index][-1]
        headline = static_text(screen.query_one("#audit-headline", Static))
        assert "Most likely root cause: smtp-key-unused-since-rotation" in headline
        await pilot.press(*["down"] * index)
        await pilot.pause()
        evidence = screen.query_one("#audit-evidence-text", Markdown).source
        assert f"**A client still holds** `{OLD_KEY}`" in evidence
        assert f"DeleteAccessKey {OLD_KEY} by alice" in evidence  # CloudTrail's history of the rotation
        assert f"UpdateAccessKey {OLD_KEY} → Inactive by alice" in evidence
        summary = next(f["summary"] for f in app.session.report()["findings"]  # type: ignore[union-attr]
                       if f["code"] == "smtp-key-unused-since-rotation")  # fmt: skip
        assert summary in evidence
        assert "rotation-alert-missing" in evidence  # no EventBridge rule in the seed's account


async def test_selecting_a_row_shows_its_runbook_and_c_y_copy_it(lab_app) -> None:
    app = lab_app("audit-findings", flow=FLOW)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await walk_to_the_audit(app, pilot)
        creds = credentials_of(app)
        assert len(creds) >= 4
        runbook = screen.query_one("#audit-runbook-text", Markdown)
        for index in range(len(creds)):
            if index:
                await pilot.press("down")
                await pilot.pause()
            key_id = creds[index]["key_id"]
            assert screen.selected is not None and screen.selected["key_id"] == key_id
            assert creds[index]["runbook"] in runbook.source and key_id in runbook.source
            assert (
                f"`{key_id}` of `{creds[index]['user']}`"
                in screen.query_one("#audit-evidence-text", Markdown).source
            )

            await pilot.press("c")
            assert app.clipboard == creds[index]["runbook"]
            await pilot.press("y")
            blocks = shell_blocks(creds[index]["runbook"])
            assert blocks and app.clipboard == "".join(blocks)  # exactly its sh blocks, in order
            lines = app.clipboard.splitlines()
            assert all(line.startswith(("aws iam ", "maildoctor ")) for line in lines), lines
            assert "**" not in app.clipboard and "|" not in app.clipboard
            check = subprocess.run(["sh", "-n"], input=app.clipboard, text=True, capture_output=True)
            assert check.returncode == 0, check.stderr


async def test_f_opens_every_finding_b_goes_back_and_e_exports(lab_app, tmp_path: Path) -> None:
    app = lab_app("audit-findings", flow=FLOW)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await walk_to_the_audit(app, pilot)
        assert app.session is not None
        codes = {f["code"] for f in app.session.report()["findings"]}
        assert {"rotation-alert-missing", "smtp-key-unused-since-rotation"} <= codes

        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, RemedyScreen))
        remedy = app.screen
        assert isinstance(remedy, RemedyScreen)
        assert {f.code for f in remedy.findings} == codes
        alert = next(f for f in remedy.findings if f.code == "rotation-alert-missing")
        assert "aws events put-rule" in shell_commands(alert.remedy)  # its EventBridge commands live here
        await pilot.press("b")
        await pilot.pause()
        assert app.screen is screen

        # e: the session's export, as for any walk
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog))
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        target = tmp_path / "audit.md"
        path_input = dialog.query_one("#export-path", Input)
        path_input.value = str(target)
        path_input.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen)
        text = target.read_text(encoding="utf-8")
        assert "smtp-key-unused-since-rotation" in text and "AKIAEXAMPLERELAYNEW6" in text

        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, WalkScreen)
        assert app.exit_status() == 1  # findings: the same verdict as the walk's


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
async def test_nothing_is_cut_mid_word(lab_app, load, size: tuple[int, int]) -> None:
    app = lab_app("audit-findings", flow=FLOW)
    scenario = load("audit-findings")
    async with app.run_test(size=size) as pilot:
        screen = await walk_to_the_audit(app, pilot)
        check_rows_against_the_scenario(screen, scenario)
        assert screen.has_class("-narrow") == (size[0] < 110)
        for _ in range(len(credentials_of(app))):
            check_no_word_cut(app, screen)
            await pilot.press("down")
            await pilot.pause()
        # PageDown pages the runbook whatever has focus (the table keeps it)
        pane = screen.query_one("#audit-body" if size[0] < 110 else "#audit-runbook")
        pane.scroll_home(animate=False)
        await pilot.pause()
        await pilot.press("pagedown")
        await pilot.pause()
        assert pane.scroll_y > 0 and screen.query_one("#audit-keys", DataTable).has_focus
        check_no_word_cut(app, screen)


async def test_a_clean_audit_says_so_and_has_no_findings_to_open(lab_app, load) -> None:
    app = lab_app("audit-clean", flow=FLOW)
    scenario = load("audit-clean")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await walk_to_the_audit(app, pilot)
        check_rows_against_the_scenario(screen, scenario)
        headline = static_text(screen.query_one("#audit-headline", Static))
        assert "audit-clean" in headline and "Most likely" not in headline
        assert (
            "watched in us-east-1 by `iam-key-changes`"
            in screen.query_one("#audit-evidence-text", Markdown).source
        )  # the scenario's EventBridge rule
        assert screen.check_action("findings", ()) is False
        await pilot.press("f")
        await pilot.pause()
        assert app.screen is screen
        assert app.exit_status() == 0
