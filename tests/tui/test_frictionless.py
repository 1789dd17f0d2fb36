"""The TUI without friction (issue 13): y copies only a fix's shell commands, the walk stays on screen
when it ends, the export dialog starts on the format list and never overwrites silently, no key the
footer shows types into a field, nothing is cut mid-word at 80×24 and 200×60, the fix pages with
PageDown, the running check's progress is shown, screenshots from the palette go to the state folder."""

from __future__ import annotations

import asyncio
import html
import re
import stat
from pathlib import Path

import pytest
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widgets import Input, RadioSet, TextArea

from maildoctor.checks import progress
from maildoctor.checks.registry import CheckContext, CheckResult
from maildoctor.clients.settings import Settings
from maildoctor.flow.commands import shell_commands
from maildoctor.tui.app import MaildoctorApp
from maildoctor.tui.options import STILL
from maildoctor.tui.screens.export import ExportDialog
from maildoctor.tui.screens.form import FormScreen
from maildoctor.tui.screens.picker import PickerScreen
from maildoctor.tui.screens.remedy import RemedyScreen
from maildoctor.tui.screens.walk import WalkScreen
from tests.tui.conftest import wait_until
from tests.tui.test_pilot import screen_text, walk_to_remedy, walk_to_the_end

SIZES = [(80, 24), (200, 60)]
TEXT = re.compile(r'<text [^>]*?x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>')
CHAR_WIDTH, LINE_HEIGHT = 12.2, 24.4  # Rich's SVG: 20 px characters, aspect 0.61, lines 1.22 high

# A flow with no check: its one remedy has a shell block between a text block and prose
FIX = """\
name: fix-only
title: A fix with commands and records
description: no check, one remedy
inputs:
  domain: {description: the domain, required: true, kind: domain}
start: fix
nodes:
  fix:
    kind: remedy
    title: Add the SPF record
    code: spf-missing
    summary: no SPF record for {domain}
    remedy: |
      Add this record:

      ```text
      {domain}. TXT "v=spf1 include:amazonses.com ~all"
      ```

      Then check it, and run `dig` again later:

      ```sh
      dig +short TXT {domain}
      aws sesv2 get-email-identity --email-identity {domain}
      ```
    continue: done
  done:
    kind: end
"""


def region_text(app: MaildoctorApp, region: Region) -> str:
    """The text on screen inside ``region`` (a widget's), a line per row."""
    rows: dict[int, list[tuple[int, str]]] = {}
    for x, y, text in TEXT.findall(app.export_screenshot()):
        col, row = round(float(x) / CHAR_WIDTH), round((float(y) - 20) / LINE_HEIGHT)
        if region.x <= col < region.right and region.y <= row < region.bottom:
            rows.setdefault(row, []).append((col, html.unescape(text).replace("\xa0", " ")))
    return "\n".join("".join(t for _, t in sorted(r)) for _, r in sorted(rows.items()))


def notices(app: MaildoctorApp) -> list[str]:
    """The notices (toasts) shown so far that have not timed out."""
    return [notification.message for notification in app._notifications]


def words(text: str) -> set[str]:
    return set(re.sub(r"[│▕█▁▂▃▄▅▆▇]", " ", text).split())


async def read_all_of(pilot: Pilot[int], widget, region: Region | None = None) -> set[str]:
    """Every word the widget shows, paged through from its top with PageDown (it has focus)."""
    app = pilot.app
    assert isinstance(app, MaildoctorApp)
    seen: set[str] = set()
    widget.scroll_home(animate=False)
    await pilot.pause()
    for _ in range(40):
        seen |= words(region_text(app, region or widget.region))
        if widget.scroll_y >= widget.max_scroll_y:
            break
        await pilot.press("pagedown")
        await pilot.pause()
    return seen


# -- item 1: y copies exactly the shell blocks


async def test_y_copies_only_the_shell_commands_and_c_the_whole_fix(tmp_path: Path, state_dir: Path) -> None:
    flow = tmp_path / "fix-only.yaml"
    flow.write_text(FIX)
    settings = Settings(region="us-east-1", state_dir=state_dir)
    app = MaildoctorApp(flow=str(flow), prefill={"domain": "example.com"}, settings=settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await walk_to_remedy(app, pilot)
        await pilot.press("y")
        assert app.clipboard == (
            "dig +short TXT example.com\naws sesv2 get-email-identity --email-identity example.com\n"
        )
        assert "v=spf1" not in app.clipboard  # the record is not a command
        await pilot.press("c")
        assert "v=spf1" in app.clipboard and "Then check it" in app.clipboard
        await pilot.press("q")


async def test_y_says_so_when_a_fix_has_no_shell_commands(tmp_path: Path, state_dir: Path) -> None:
    flow = tmp_path / "fix-only.yaml"
    flow.write_text(FIX.replace("```sh", "```text"))
    app = MaildoctorApp(
        flow=str(flow), prefill={"domain": "example.com"}, settings=Settings(state_dir=state_dir)
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        remedy = await walk_to_remedy(app, pilot)
        assert shell_commands(remedy.findings[0].remedy) == ""
        app.copy_to_clipboard("before")
        await pilot.press("y")
        await pilot.pause()
        assert app.clipboard == "before"
        assert "no shell commands to copy; c copies the whole fix" in notices(app)[-1]
        await pilot.press("q")


# -- item 2: the walk stays; enter opens the remedy; a notice


async def test_the_walk_stays_after_its_end_and_after_a_rerun(lab_app) -> None:
    app = lab_app("seed-incident")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        walk = await walk_to_the_end(app, pilot)
        await pilot.pause(0.5)  # more than the old jump's delay
        assert app.screen is walk
        assert notices(app) == ["The walk finished: 1 finding · ⏎: the fix"]

        tree = walk.step_tree
        dkim = next(i for i, s in enumerate(walk.session.walk.steps) if s.node == "dkim")
        tree.select_step(tree._step_nodes[dkim])
        await pilot.pause()
        app.clear_notifications()
        await pilot.press("r")
        await wait_until(pilot, lambda: walk.session.walk.finished and not walk.session.running)
        await app.workers.wait_for_complete()
        await pilot.pause(0.5)
        assert app.screen is walk  # the re-run's result can be read
        assert notices(app) == ["The walk finished: 1 finding · ⏎: the fix"]  # the re-run's end too

        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, RemedyScreen)
        await pilot.press("b")
        assert app.screen is walk
        await pilot.press("q")
    assert app.return_value == 1


# -- item 3: the export dialog


async def test_export_dialog_focus_format_keys_folder_and_no_silent_overwrite(
    lab_app, state_dir: Path
) -> None:
    app = lab_app("seed-incident")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await walk_to_the_end(app, pilot)
        assert app.session is not None
        exports = state_dir / "exports"

        await pilot.press("e")
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        assert dialog.query_one("#export-format", RadioSet).has_focus
        path = dialog.query_one("#export-path", Input)
        assert path.value == str(exports / f"{app.session.session_id}.md")
        assert str(exports) in screen_text(app)  # the folder is shown
        await pilot.press("down", "down", "enter")
        assert dialog.fmt == "html" and path.value.endswith(".html")
        await pilot.press("q")  # the format list has focus: q closes
        assert app.screen is not dialog and not exports.exists()

        await pilot.press("e")
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        path = dialog.query_one("#export-path", Input)
        path.focus()
        proposed = path.value
        await pilot.press("q")  # in the path field q is a letter (added at the end, not replacing it)
        assert app.screen is dialog and path.value == proposed + "q"
        path.value = path.value.removesuffix("q")
        await pilot.press("enter")  # write
        await pilot.pause()
        written = Path(path.value)
        assert app.screen is not dialog and written.read_text().startswith("# Mail delivery diagnosis")
        assert written.parent == exports and stat.S_IMODE(exports.stat().st_mode) == 0o700

        written.write_text("an older report")
        await pilot.press("e")
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        await pilot.press("tab", "tab")  # the path, then Write
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog and written.read_text() == "an older report"  # not overwritten
        assert "exists — press Write again to overwrite" in screen_text(app)
        await pilot.pause(0.3)  # a Button ignores presses while it shows the last one (0.2 s)
        await pilot.press("enter")  # Write again
        await pilot.pause()
        assert app.screen is not dialog and written.read_text().startswith("# Mail delivery diagnosis")

        await pilot.press("e")
        assert isinstance(app.screen, ExportDialog)
        await pilot.press("escape")
        assert not isinstance(app.screen, ExportDialog)
        await pilot.press("q")


# -- item 4: keys the footer shows never type into a field


def footer_keys(app: MaildoctorApp) -> dict[str, str]:
    """The footer's keys: description → key."""
    shown: dict[str, str] = {}
    for _, bound, _, _ in app.screen.active_bindings.values():
        if bound.show:
            shown.setdefault(bound.description, bound.key)
    return shown


async def test_on_the_form_b_types_and_escape_goes_back_and_the_footer_says_so(state_dir: Path) -> None:
    app = MaildoctorApp(
        flow=None, prefill={"sender": "admin@example.com"}, settings=Settings(state_dir=state_dir)
    )
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        assert footer_keys(app)["Quit"] == "q"  # the picker has no text field
        await pilot.press("enter")
        form = app.screen
        assert isinstance(form, FormScreen)
        sender = form.query_one("#input-sender", Input)
        sender.focus()
        await pilot.press("end", "b", "q", "question_mark", "e")
        assert sender.value == "admin@example.combq?e" and app.screen is form
        for control in (sender, form.query_one("#input-bounce", TextArea), form.query_one("#start")):
            control.focus()
            await pilot.pause()
            keys = footer_keys(app)
            assert (keys["Back"], keys["Quit"], keys["Help"]) == ("escape", "ctrl+q", "f1"), control
            assert "Export" not in keys
        await pilot.press("f1")
        assert app.screen is not form
        await pilot.press("escape")
        assert app.screen is form
        sender.focus()
        await pilot.press("escape")
        assert isinstance(app.screen, PickerScreen)
        await pilot.press("enter")
        assert isinstance(app.screen, FormScreen)
        app.screen.query_one("#start").focus()
        await pilot.press("b")  # no text field has focus: b still goes back (CONTRACT.md)
        assert isinstance(app.screen, PickerScreen)
        await pilot.press("q")
    assert app.return_value == 0


# -- item 5: nothing cut mid-word; panes page


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_no_word_of_the_key_timeline_is_cut(lab_app, size: tuple[int, int]) -> None:
    app = lab_app("seed-incident", display=STILL)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        walk = await walk_to_the_end(app, pilot)
        app.clear_notifications()
        history = next(item for item in walk.step_tree.items if item.node == "history-stale")
        tree = walk.step_tree
        tree.select_step(tree._step_nodes[history.index])
        await wait_until(pilot, lambda: walk.detail.shown is history)
        assert history.step is not None
        timeline = history.step.facts["timeline"]
        expected = words(timeline if isinstance(timeline, str) else "\n".join(timeline))
        assert {"alice", "Inactive", "DeleteAccessKey"} <= expected

        walk.detail.focus()
        await pilot.pause()
        assert expected <= await read_all_of(pilot, walk.detail)

        # the status line and every step title: whole words, or a title shortened at a space with …
        status = walk.query_one("#walk-status")
        assert words(walk.session.verdict().code) <= words(region_text(app, status.region))
        titles = words("\n".join(f"{item.title}\n{item.layer}" for item in tree.items))
        allowed = titles | {f"{w}…" for w in titles} | set("├└▼▶✔✘!?–•❯")
        assert words(region_text(app, tree.region)) <= allowed

        await pilot.press("enter")
        remedy = app.screen
        assert isinstance(remedy, RemedyScreen)
        await pilot.pause()
        fix = remedy.query_one("#fix")
        assert expected <= await read_all_of(pilot, fix)
        await pilot.press("q")


async def test_pagedown_scrolls_the_fix_whatever_has_focus(lab_app) -> None:
    app = lab_app("seed-incident", display=STILL)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        remedy = await walk_to_remedy(app, pilot)
        fix = remedy.query_one("#fix")
        assert remedy.query_one("#findings").has_focus and fix.max_scroll_y > 0
        await pilot.press("pagedown")
        await pilot.pause()
        assert fix.scroll_y > 0
        await pilot.press("pageup")
        await pilot.pause()
        assert fix.scroll_y == 0
        await pilot.press("q")


# -- item 8: the running check's progress


async def test_the_running_checks_progress_is_shown(lab_app, test_checks) -> None:
    release = asyncio.Event()

    async def sweeping(ctx: CheckContext) -> CheckResult:
        counter = progress.Counter(33, "regions read")
        for _ in range(12):
            counter.tick()
        await release.wait()
        raise RuntimeError("the test is over")

    test_checks.registry = test_checks.registry.with_fn("ses.account", sweeping)
    app = lab_app("all-clear", display=STILL)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        walk = app.screen
        assert isinstance(walk, WalkScreen)
        await wait_until(pilot, lambda: "12 of 33 regions read" in screen_text(app))
        running = walk.step_tree.items[-1]
        assert running.node == "account" and running.step is None
        assert walk.detail.shown is running
        detail = region_text(app, walk.detail.region)
        status = region_text(app, walk.query_one("#walk-status").region)
        assert "Running the check: 12 of 33 regions read" in detail
        assert f"{running.title}: 12 of 33 regions read" in status
        release.set()
        await pilot.press("q")


# -- the palette's screenshot


async def test_the_palettes_screenshot_goes_to_the_state_folder(state_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(state_dir / "home-without-downloads"))
    app = MaildoctorApp(flow=None, prefill={}, settings=Settings(state_dir=state_dir))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Screenshot")
        assert str(state_dir / "screenshots") in command.help
        command.callback()
        await wait_until(pilot, lambda: list((state_dir / "screenshots").glob("*.svg")))
        folder = state_dir / "screenshots"
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert "maildoctor" in next(folder.glob("*.svg")).read_text()
        await pilot.press("q")


def test_a_step_title_is_shortened_at_a_space() -> None:
    from maildoctor.tui.widgets.step_tree import shorten

    assert shorten("DMARC alignment of SES mail", 40) == "DMARC alignment of SES mail"
    assert shorten("DMARC alignment of SES mail", 20) == "DMARC alignment of…"
    assert shorten("Suppression lists (every region)", 22) == "Suppression lists…"
    assert all(len(shorten("The access key behind the SMTP user name", n)) <= n for n in range(4, 40))


async def test_the_help_pages_with_pagedown_and_names_the_keys_for_text_fields(state_dir: Path) -> None:
    app = MaildoctorApp(flow=None, prefill={}, settings=Settings(state_dir=state_dir))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        dialog = app.screen.query_one("#help-dialog")
        assert dialog.has_focus and dialog.max_scroll_y > 0
        await pilot.press("pagedown")
        await pilot.pause()
        assert dialog.scroll_y > 0
        await pilot.press("end")
        await pilot.pause()
        shown = " ".join(re.sub(r"[█▀▄]", " ", region_text(app, dialog.region)).split())
        assert "on the form use esc (back), ctrl+q (quit), f1 (help)" in shown
        await pilot.press("escape")
        await pilot.press("q")


async def test_the_picker_lists_flows_by_their_shape_and_refuses_to_open_a_broken_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listing reads each flow's shape only (no check module before the first frame); the flow chosen
    is validated in full, and one whose graph is wrong says why instead of opening."""
    import maildoctor.flow.load as load

    shipped = load.builtin_flows_dir() / "dns-auth.yaml"
    broken = shipped.read_text(encoding="utf-8").replace("check: dns.spf", "check: dns.no-such-check", 1)
    assert broken != shipped.read_text(encoding="utf-8")
    (tmp_path / "dns-auth.yaml").write_text(broken, encoding="utf-8")
    monkeypatch.setattr(load, "builtin_flows_dir", lambda: tmp_path)
    app = MaildoctorApp(flow=None, prefill={}, settings=Settings.resolve())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, PickerScreen) and [name for name, _ in picker.flows] == ["dns-auth"]
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PickerScreen)  # not opened
        assert any("dns.no-such-check" in n.message for n in app._notifications), list(app._notifications)
