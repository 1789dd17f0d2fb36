"""The TUI driven by keys (Textual's pilot) against the lab: picker → form → walk → remedy, a question
answered in the TUI, back, re-run, export, the form's validation, masked secrets, keymap and exit codes."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input, Markdown, Select, Static, TextArea

from maildoctor.clients.settings import Settings
from maildoctor.flow.commands import shell_commands
from maildoctor.tui.app import MaildoctorApp
from maildoctor.tui.screens.export import ExportDialog, write_export
from maildoctor.tui.screens.form import FormScreen
from maildoctor.tui.screens.help import HelpScreen
from maildoctor.tui.screens.picker import PickerScreen
from maildoctor.tui.screens.remedy import RemedyScreen
from maildoctor.tui.screens.walk import WalkScreen
from maildoctor.tui.widgets.step_tree import StepItem
from tests.tui.conftest import wait_until

SIZE = (120, 40)


TEXT = re.compile(r'<text [^>]*?x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>')


def screen_text(app: MaildoctorApp) -> str:
    """Everything on screen as plain text, a line per row (from the SVG screenshot)."""
    rows: dict[float, list[tuple[float, str]]] = {}
    for x, y, text in TEXT.findall(app.export_screenshot()):
        rows.setdefault(float(y), []).append((float(x), html.unescape(text).replace("\xa0", " ")))
    return "\n".join("".join(text for _, text in sorted(row)) for _, row in sorted(rows.items()))


def static_text(widget: Static) -> str:
    return str(widget.render())


async def walk_to_the_end(app: MaildoctorApp, pilot: Pilot[int]) -> WalkScreen:
    """Wait for the walk to finish: it stays on screen (nothing jumps to the remedy by itself)."""
    walk = app.screen
    assert isinstance(walk, WalkScreen)
    await wait_until(pilot, lambda: walk.session.walk.finished and not walk.session.running)
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert app.screen is walk
    return walk


async def walk_to_remedy(app: MaildoctorApp, pilot: Pilot[int]) -> RemedyScreen:
    await walk_to_the_end(app, pilot)
    await pilot.press("enter")  # the fix, when the operator asks for it
    await wait_until(pilot, lambda: isinstance(app.screen, RemedyScreen))
    await pilot.pause()
    assert isinstance(app.screen, RemedyScreen)
    return app.screen


async def test_seed_incident_picker_form_walk_remedy_copy_export_and_back(lab_app, tmp_path: Path) -> None:
    app = lab_app("seed-incident", flow=None)
    secret = app.prefill["smtp_password"]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, PickerScreen)
        names = [name for name, _ in picker.flows]
        assert "ses-delivery" in names and "dns-auth" in names
        assert app.check_action("export", ()) is False  # nothing to export before a walk
        await pilot.press(*["down"] * names.index("ses-delivery"), "enter")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, FormScreen) and form.flow.name == "ses-delivery"
        assert form.query_one("#input-sender", Input).value == "admin@example.com"
        assert "Mail Delivery Subsystem" in form.query_one("#input-bounce", TextArea).text

        await pilot.press("enter")  # every input is valid from the prefill: enter starts
        await pilot.pause()
        assert isinstance(app.screen, WalkScreen | RemedyScreen)
        remedy = await walk_to_remedy(app, pilot)

        # the remedy: the stale key, the current key, the key history inside the fix
        assert [f.code for f in remedy.findings] == ["smtp-credentials-stale"]
        fix = remedy.query_one("#fix-text", Markdown).source
        assert "AKIAEXAMPLENEWKEY002" in fix
        assert "DeleteAccessKey AKIAEXAMPLEOLDKEY001 by alice" in fix
        assert "| Username | `AKIAEXAMPLENEWKEY002` |" in fix
        assert "Most likely root cause: smtp-credentials-stale" in screen_text(app)

        await pilot.press("c")
        assert "AKIAEXAMPLENEWKEY002" in app.clipboard and "**1. Get the SMTP password" in app.clipboard
        await pilot.press("y")
        assert app.clipboard == shell_commands(remedy.findings[0].remedy) != ""
        assert "**1." not in app.clipboard  # only the shell blocks

        # export: a path that cannot be written stays in the dialog, then a good one
        await pilot.press("e")
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        path_input = dialog.query_one("#export-path", Input)
        assert app.session is not None
        assert path_input.value.endswith(f"/exports/{app.session.session_id}.md")
        path_input.value = str(tmp_path / "missing" / "report.md")
        path_input.focus()  # the dialog opens on the format list; enter in the path writes
        await pilot.press("enter")
        assert app.screen is dialog
        assert "Cannot write" in static_text(dialog.query_one("#export-error", Static))
        target = tmp_path / "report.md"
        path_input.value = str(target)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is remedy
        text = target.read_text()
        assert text.startswith("# Mail delivery diagnosis: smtp-credentials-stale")
        assert "AKIAEXAMPLENEWKEY002" in text
        assert secret not in text and "[secret]" in text
        assert app.session.writer is not None and secret not in app.session.writer.path.read_text()
        for fmt in ("json", "html"):  # the dialog's other formats, from the same transcript
            other = write_export(app.session, fmt, tmp_path / f"report.{fmt}")
            assert secret not in other.read_text()
        assert (
            json.loads((tmp_path / "report.json").read_text())["diagnosis"]["code"]
            == "smtp-credentials-stale"
        )

        # back, one screen at a time: remedy → walk → form → picker
        await pilot.press("b")
        assert isinstance(app.screen, WalkScreen) and app.screen.session.walk.finished
        await pilot.press("b")
        assert isinstance(app.screen, FormScreen)
        await pilot.press("escape")  # in a field b is a letter; escape goes back as well
        assert isinstance(app.screen, PickerScreen)
        await pilot.press("q")
    assert app.return_value == 1  # a finding


async def test_a_question_is_answered_in_the_tui(lab_app) -> None:
    app = lab_app("all-clear", drop=("pathway",))  # no bounce and no pathway: the walk must ask
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        walk = app.screen
        assert isinstance(walk, WalkScreen)
        await wait_until(pilot, lambda: walk.session.asker.waiting and walk.detail.options is not None)
        await pilot.pause()
        options = walk.detail.options
        assert options is not None and options.has_focus
        values = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert values == ["api", "smtp", "gmail-send-as"]
        assert "How does the mail that did not arrive leave your systems?" in screen_text(app)
        assert walk.step_tree.items[-1].waiting

        await pilot.press("down", "enter")  # smtp
        remedy = await walk_to_remedy(app, pilot)
        steps = {step.node: step for step in walk.session.walk.steps}
        assert steps["route"].outcome == "smtp" and "from the operator" in steps["route"].summary
        assert "login" in steps  # the SMTP layer was walked
        assert steps["suppression"].index < steps["route"].index  # asked only when a layer needs it
        assert remedy.findings == [] and walk.session.walk.complete
        assert "All clear" in screen_text(app)
        await pilot.press("q")
    assert app.return_value == 0


async def test_rerun_of_a_selected_step_replaces_the_later_steps(lab_app) -> None:
    app = lab_app("seed-incident")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await walk_to_remedy(app, pilot)
        await pilot.press("b")
        walk = app.screen
        assert isinstance(walk, WalkScreen)
        steps = list(walk.session.walk.steps)
        dkim = next(i for i, s in enumerate(steps) if s.node == "dkim")
        tree = walk.step_tree

        tree.move_cursor(tree._step_nodes[dkim].parent)  # a layer: nothing to re-run
        await pilot.pause()
        assert walk.check_action("rerun", ()) is False
        tree.select_step(tree._step_nodes[dkim])
        await pilot.pause()
        assert walk.check_action("rerun", ()) is True

        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        again = walk.session.walk.steps
        assert [s.node for s in again] == [s.node for s in steps]
        assert all(a is b for a, b in zip(again[:dkim], steps[:dkim], strict=True))  # kept
        assert all(a is not b for a, b in zip(again[dkim:], steps[dkim:], strict=True))  # replaced
        assert [item.step for item in tree.items] == again
        assert [f.code for f in walk.session.walk.findings] == ["smtp-credentials-stale"]
        assert walk.session.writer is not None
        records = [json.loads(line) for line in walk.session.writer.path.read_text().splitlines()]
        assert {"type": "truncate", "index": dkim} in records
        await pilot.press("q")
    assert app.return_value == 1


async def test_the_form_refuses_an_invalid_sender_and_says_why(lab_app, gate) -> None:
    gate("ses.account")  # the walk only has to start
    app = lab_app("seed-incident")
    app.prefill["sender"] = "admin@"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        form = app.screen
        assert isinstance(form, FormScreen)
        sender = form.query_one("#input-sender", Input)
        assert sender.has_focus  # the first field that needs something
        problem = form.query_one("#field-sender .field-problem", Static)
        assert problem.display and "'admin@' is not an email address" in static_text(problem)

        await pilot.press("enter")
        assert app.screen is form  # refused
        refused = static_text(form.query_one("#form-problem", Static))
        assert "Cannot start: sender — 'admin@' is not an email address" in refused
        await pilot.press(*"example.com")  # validated as you type
        await pilot.pause()
        assert sender.value == "admin@example.com" and not problem.display
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, WalkScreen)
        await pilot.press("q")
    assert app.return_value == 3  # quit before the walk finished


async def test_a_login_refusal_bounce_without_a_user_name_asks_for_it_once(lab_app, gate) -> None:
    gate("ses.account")  # the walk only has to start
    app = lab_app("smtp-login-rejected")  # the seed's 535 bounce, no smtp_username
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        form = app.screen
        assert isinstance(form, FormScreen)
        form.query_one("#start").focus()
        await pilot.press("enter")
        assert app.screen is form  # asked, not started
        asked = static_text(form.query_one("#form-problem", Static))
        assert "The bounce shows SES refusing the SMTP login: give smtp_username" in asked
        assert form.query_one("#input-smtp_username", Input).has_focus
        await pilot.press("enter")  # the operator has no user name: walk without it
        await pilot.pause()
        assert isinstance(app.screen, WalkScreen)
        await pilot.press("q")


async def test_an_ses_notification_fills_the_sender_and_recipient_it_names(lab_app, gate) -> None:
    gate("ses.account")  # the walk only has to start
    app = lab_app(
        "ses-notification-suppressed"
    )  # sender and recipient not given: the notification names them
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        form = app.screen
        assert isinstance(form, FormScreen)
        sender, recipient = form.query_one("#input-sender", Input), form.query_one("#input-recipient", Input)
        # opened with what the notification names (the inputs resolve as the headless walk's do) ...
        assert (sender.value, recipient.value) == ("admin@example.com", "guest@example.net")
        sender.value = recipient.value = ""  # ... and as when an operator pastes one into the form
        await pilot.pause()
        form.query_one("#start").focus()
        await pilot.press("enter")
        assert app.screen is form  # filled and said, not started yet
        assert form.query_one("#input-sender", Input).value == "admin@example.com"
        assert form.query_one("#input-recipient", Input).value == "guest@example.net"
        said = static_text(form.query_one("#form-problem", Static))
        assert "sender, recipient filled (from the SES notification)" in said
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, WalkScreen)
        await pilot.press("q")


async def test_secrets_are_masked_in_the_form(lab_app) -> None:
    app = lab_app("seed-incident")
    secret = app.prefill["smtp_password"]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        form = app.screen
        assert isinstance(form, FormScreen)
        password = form.query_one("#input-smtp_password", Input)
        assert password.password and password.value == secret
        assert form.query_one("#input-smtp_secret_key", Input).password
        assert not form.query_one("#input-sender", Input).password
        assert isinstance(form.query_one("#input-pathway"), Select)
        form.query_one("#form").scroll_end(animate=False)
        await pilot.pause()
        assert "smtp_password" in screen_text(app) and secret not in screen_text(app)
        await pilot.press("ctrl+q")
    assert app.return_value == 0  # quit before any walk


async def test_selection_stays_while_a_slow_check_runs(lab_app, gate) -> None:
    slow = gate("ses.account")
    app = lab_app("all-clear")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        walk = app.screen
        assert isinstance(walk, WalkScreen)
        tree = walk.step_tree
        await wait_until(pilot, lambda: slow.entered and len(tree.items) == 2)
        assert tree.cursor_node is tree.newest  # following the running step
        assert tree.items[1].step is None and tree.items[1].node == "account"

        await pilot.press("up", "up")  # past the SES account branch, to the first step
        reading = tree.cursor_node
        assert reading is not None and isinstance(reading.data, StepItem) and reading.data.node == "triage"
        assert walk.detail.shown is reading.data
        assert walk.check_action("rerun", ()) is False  # not while the walk runs

        slow.open()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert walk.session.walk.finished and len(tree.items) > 10
        assert tree.cursor_node is reading and walk.detail.shown is reading.data  # did not jump
        assert app.screen is walk  # no remedy pushed over what is being read
        assert walk.check_action("continue", ()) is True
        await pilot.press("enter")  # continue to the remedy
        assert isinstance(app.screen, RemedyScreen)
        await pilot.press("q")
    assert app.return_value == 0


async def test_ctrl_c_mid_walk_exits_130_and_the_transcript_says_so(lab_app, gate) -> None:
    slow = gate("ses.account")
    app = lab_app("all-clear")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(pilot, lambda: slow.entered)
        session = app.session
        await pilot.press("ctrl+c")
    assert app.return_value == 130
    assert session is not None and session.writer is not None
    last = json.loads(session.writer.path.read_text().splitlines()[-1])
    assert last == {"type": "end", "complete": False, "incomplete_reason": "interrupted", "finished_at": None}


async def test_keymap_help_palette_and_theme(state_dir: Path) -> None:
    app = MaildoctorApp(
        flow=None,
        prefill={},
        settings=Settings(region="us-east-1", state_dir=state_dir),
        keymap={"maildoctor.help": "h", "maildoctor.quit": "x"},
        theme="light",  # the config file's word
    )
    ready: list[bool] = []
    app.ready_callback = lambda: ready.append(True)  # run_tui's on_ready
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert ready == [True] and app.theme == "textual-light"
        await pilot.press("question_mark")  # rebound: ? does nothing now
        assert isinstance(app.screen, PickerScreen)
        await pilot.press("h")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "Run the selected step again" in text and "Copy only the shell commands" in text
        await pilot.press("escape")
        assert isinstance(app.screen, PickerScreen)
        commands = {c.title.split(" (")[0] for c in app.get_system_commands(app.screen)}
        assert {"Choose", "Help", "Quit", "Light/dark theme"} <= commands
        assert "Export" not in commands  # cannot run before a walk
        assert "Help (h)" in {c.title for c in app.get_system_commands(app.screen)}
        await pilot.press("ctrl+t")
        assert app.theme == "textual-dark"
        await pilot.press("x")
    assert app.return_value == 0


async def test_flow_option_opens_its_form_and_an_unknown_flow_the_picker(state_dir: Path) -> None:
    settings = Settings(region="eu-west-1", state_dir=state_dir)
    app = MaildoctorApp(flow="dns-auth", prefill={"domain": "example.com"}, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, FormScreen) and app.screen.flow.name == "dns-auth"
        assert app.screen.query_one("#input-region", Input).value == "eu-west-1"  # default from settings
        await pilot.press("escape")
        assert isinstance(app.screen, PickerScreen)
        await pilot.press("q")
    assert app.return_value == 0
    app = MaildoctorApp(flow="no-such-flow", prefill={}, settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, PickerScreen)
        await pilot.press("q")


async def test_a_walk_runs_on_when_the_transcript_cannot_be_saved(tmp_path: Path, gate, test_checks) -> None:
    gate("ses.account")
    not_a_folder = tmp_path / "state"
    not_a_folder.write_text("a file where the state folder should be")
    settings = Settings(region="us-east-1", state_dir=not_a_folder)
    prefill = {"sender": "admin@example.com", "pathway": "api"}
    app = MaildoctorApp(
        flow="ses-delivery", prefill=prefill, settings=settings, registry=test_checks.registry
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        walk = app.screen
        assert isinstance(walk, WalkScreen)
        await wait_until(pilot, lambda: len(walk.step_tree.items) == 2)
        assert walk.session.writer is None and walk.session.autosave_error
        assert "not autosaved: cannot write transcripts" in screen_text(app)
        assert walk.session.export_data()["flow"] == "ses-delivery"  # export works from memory
        await pilot.press("q")
    assert app.return_value == 3
