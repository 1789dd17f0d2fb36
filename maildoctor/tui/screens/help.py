"""The help screen: every key (as the user's keymap has it) and what it does."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from maildoctor.tui.keymap import KEYS, NAVIGATION

if TYPE_CHECKING:
    from maildoctor.tui.app import MaildoctorApp


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q,enter", "close", "Close", tooltip="Close the help")
    ]

    app: MaildoctorApp

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Static("maildoctor keys", id="help-title")
            with VerticalScroll(id="help-body"):
                yield Static(self._table(), id="help-keys")
            yield Static("esc closes · every action is also in the command palette (ctrl+p)", id="help-foot")

    def _table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for key in KEYS:
            keys = self.app.user_keymap.get(key.id, key.keys)
            shown = " / ".join(self.app.get_key_display(Binding(k.strip(), "")) for k in keys.split(","))
            table.add_row(shown, key.help)
        for keys, what in NAVIGATION:
            table.add_row(keys, what)
        return table

    def action_close(self) -> None:
        self.dismiss(None)
