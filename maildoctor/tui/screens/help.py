"""The help screen: every key (as the user's keymap has it) and what it does."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from maildoctor.keymap import KEYS, NAVIGATION
from maildoctor.tui.bindings import KeyNames, binding


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [binding("maildoctor.close", "close")]

    def __init__(self, keys: KeyNames) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog") as dialog:
            dialog.border_title = "maildoctor keys"
            dialog.border_subtitle = "esc closes · pgup/pgdn scroll · ctrl+p: every action by name"
            yield Static(self._table(), id="help-keys")

    def _table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for key in KEYS:
            table.add_row(Text(self.keys.shown(key.id)), Text(key.help))
        for keys, what in NAVIGATION:
            table.add_row(Text(keys), Text(what))
        return table

    def action_close(self) -> None:
        self.dismiss(None)
