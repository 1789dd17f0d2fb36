"""The form: one field per input of the chosen flow; enter starts the walk once every field is valid."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Select, Static, TextArea

from maildoctor.bounce import read
from maildoctor.flow.model import Flow
from maildoctor.inputs import NOTIFICATION_ORIGIN, from_notification
from maildoctor.tui.bindings import binding, text_safe
from maildoctor.tui.messages import WalkRequested
from maildoctor.tui.options import DisplayOptions
from maildoctor.tui.widgets.field import FieldRow
from maildoctor.tui.widgets.header import header


class FormScreen(Screen[None]):
    """Dismissed (None) when the operator goes back; posts ``WalkRequested`` to start the walk.

    Letters type into the fields, so the footer names only keys that cannot be text: esc goes back,
    ctrl+q quits, f1 helps (``b``, ``q``, ``?`` and ``e`` still work on the button and the lists)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        binding("maildoctor.enter", "start", "Start", priority=True),
        *text_safe("maildoctor.back", "back"),
        *text_safe("maildoctor.help", "app.help"),
        *text_safe("maildoctor.export", "app.export"),
        *text_safe("maildoctor.quit", "app.quit"),
        binding("maildoctor.next_field", "app.focus_next", show=False),
        binding("maildoctor.previous_field", "app.focus_previous", show=False),
    ]

    def __init__(self, flow: Flow, values: Mapping[str, str], display: DisplayOptions | None = None) -> None:
        super().__init__()
        self.flow = flow
        self.display_options = display or DisplayOptions()
        self.rows = [FieldRow(name, spec, values.get(name, "")) for name, spec in flow.inputs.items()]
        self._asked_for: str | None = None  # an input the bounce calls for, asked for once

    def compose(self) -> ComposeResult:
        yield header()
        with VerticalScroll(id="form"):
            yield Static(
                Content.assemble(
                    (self.flow.title, "bold"),
                    "\n",
                    (" ".join(self.flow.description.split()), "dim"),
                ),
                id="form-intro",
            )
            yield from self.rows
            yield Static("", id="form-problem")
            yield Button("Start the walk", variant="primary", id="start")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.flow.name
        if not self.display_options.motion:
            for control in self.query(Input):
                control.cursor_blink = False
            for area in self.query(TextArea):
                area.cursor_blink = False
        # the first field that needs something, else the first field: enter starts from there
        first = next((row for row in self.rows if row.check()), self.rows[0] if self.rows else None)
        (first.control if first else self.query_one("#start", Button)).focus(scroll_visible=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "start":
            focused = self.focused
            # enter belongs to the bounce's text (a new line) and to an open list of choices
            if focused is not None and (
                isinstance(focused, TextArea)
                or any(isinstance(n, Select) for n in focused.ancestors_with_self)
            ):
                return None
        return True

    @on(Button.Pressed, "#start")
    def _pressed(self) -> None:
        self.action_start()

    def values(self) -> dict[str, str]:
        return {row.input_name: row.value for row in self.rows if row.value}

    def _fill_from_the_notification(self) -> list[str]:
        """Fill the empty fields an SES notification given as the bounce names (sender, recipient,
        region), as the headless walk does; the names filled."""
        found = from_notification(self.values().get("bounce", ""))
        filled = []
        for row in self.rows:
            if row.input_name in found and not row.value and isinstance(row.control, Input):
                row.control.value = found[row.input_name]
                filled.append(row.input_name)
        return filled

    def action_start(self) -> None:
        filled = self._fill_from_the_notification()
        problems = [(row, why) for row in self.rows if (why := row.check())]
        note = self.query_one("#form-problem", Static)
        if filled and not problems:
            # shown once before the walk starts: what the operator did not type is said
            note.update(f"{', '.join(filled)} filled{NOTIFICATION_ORIGIN}: press enter to walk")
            return
        if problems:
            row, why = problems[0]
            note.update(
                Content.assemble(("✘ Cannot start: ", "$error bold"), (row.input_name, "bold"), f" — {why}")
            )
            row.control.focus()
            self.app.bell()
            return
        wanted = self._wanted_by_the_bounce()
        if wanted is not None and wanted != self._asked_for:
            self._asked_for = wanted
            row = next(r for r in self.rows if r.input_name == wanted)
            note.update(
                Content.assemble(
                    ("? ", "$accent bold"),
                    "The bounce shows SES refusing the SMTP login: give ",
                    (wanted, "bold"),
                    " (the user name the client signs in with) so the walk can check the key behind it — "
                    "or press enter again to walk without it.",
                )
            )
            row.control.focus()
            return
        note.update("")
        self.post_message(WalkRequested(self.flow, self.values()))

    def _wanted_by_the_bounce(self) -> str | None:
        """``smtp_username`` when the bounce is an SMTP login refusal and no user name is given."""
        values = self.values()
        names = {row.input_name for row in self.rows}
        if (
            not {"bounce", "smtp_username"} <= names
            or values.get("smtp_username")
            or values.get("pathway") == "api"
        ):
            return None
        text = values.get("bounce", "")
        return "smtp_username" if text and read(text)[1].layer == "credentials" else None

    def action_back(self) -> None:
        self.dismiss(None)
