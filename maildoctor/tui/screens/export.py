"""The export dialog: a format, a path it proposes, Write; errors stay in the dialog.

Focus starts on the format list (↓ ↓ enter picks HTML, and the path's extension follows). The proposed
path is in the state folder's ``exports/`` (made, mode 0700, when written); an existing file is
overwritten only when Write is pressed a second time for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from maildoctor import render
from maildoctor.errors import MaildoctorError
from maildoctor.tui.bindings import binding
from maildoctor.tui.options import DisplayOptions
from maildoctor.tui.session import WalkSession

FORMATS = {"markdown": ".md", "json": ".json", "html": ".html"}
EXPORTS = "exports"


def default_export_path(state_dir: Path, session_id: str, fmt: str) -> Path:
    # the session id names the flow and the time already; short, so the extension shows at 80 columns
    return state_dir / EXPORTS / f"{session_id or 'maildoctor-session'}{FORMATS[fmt]}"


def write_export(session: WalkSession, fmt: str, path: Path) -> Path:
    """Render the session in ``fmt`` and write it to ``path``; raises OSError or MaildoctorError."""
    text = render.FORMATS[fmt](session.export_data())
    path.write_text(text, encoding="utf-8")
    return path


class ExportDialog(ModalScreen[Path | None]):
    """Dismissed with the path written, or None when closed."""

    BINDINGS: ClassVar[list[BindingType]] = [binding("maildoctor.close", "cancel", "Cancel")]

    def __init__(self, session: WalkSession, path: Path, display: DisplayOptions | None = None) -> None:
        """``path``: the proposed file (its folder is made when it is the one written to)."""
        super().__init__()
        self.session = session
        self.proposed = path
        self.display_options = display or DisplayOptions()
        self.fmt = "markdown"
        self._overwrite: Path | None = None  # the existing file a second Write may overwrite

    def compose(self) -> ComposeResult:
        with Vertical(id="export-dialog"):
            yield Static("Export the transcript", id="export-title")
            with RadioSet(id="export-format"):
                yield RadioButton("Markdown (incident report)", value=True, id="fmt-markdown")
                yield RadioButton("JSON", id="fmt-json")
                yield RadioButton("HTML", id="fmt-html")
            yield Label("Write to")
            # select_on_focus off: a key typed on arriving in the field edits the path, not replaces it
            yield Input(str(self.proposed), id="export-path", select_on_focus=False, compact=True)
            yield Static(self._folder_note(str(self.proposed)), id="export-folder")
            yield Static("", id="export-error")
            with Horizontal(id="export-buttons"):
                yield Button("Write", variant="primary", id="export-write", compact=True)
                yield Button("Cancel", id="export-cancel", compact=True)
            yield Static(
                "↑ ↓ enter: the format · tab: the path and the buttons · esc closes (q too, outside the path)",
                id="export-hint",
            )

    def on_mount(self) -> None:
        path = self.query_one("#export-path", Input)
        if not self.display_options.motion:
            path.cursor_blink = False
        path.cursor_position = len(path.value)  # the end of the path: the file name is what changes
        self.query_one("#export-format", RadioSet).focus()

    @on(RadioSet.Changed, "#export-format")
    def _format(self, event: RadioSet.Changed) -> None:
        old = self.fmt
        self.fmt = (event.pressed.id or "fmt-markdown").removeprefix("fmt-")
        path = self.query_one("#export-path", Input)
        if path.value.endswith(FORMATS[old]):
            path.value = path.value[: -len(FORMATS[old])] + FORMATS[self.fmt]

    def _folder_note(self, text: str) -> str:
        """The folder of the path in full (the field shows the end of a long path)."""
        folder = Path(text.strip() or ".").expanduser().parent
        if folder.is_dir():
            return f"in {folder}"
        return f"in {folder} ({'made when written' if folder == self.proposed.parent else 'no such folder'})"

    @on(Input.Changed, "#export-path")
    def _path_changed(self, event: Input.Changed) -> None:
        self.query_one("#export-folder", Static).update(self._folder_note(event.value))

    def _error(self, text: str, sign: str = "✘ ", style: str = "$error bold") -> None:
        self.query_one("#export-error", Static).update(Content.assemble((sign, style), text))

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export-write")
    def _write(self) -> None:
        text = self.query_one("#export-path", Input).value.strip()
        if not text:
            self._error("Give a file to write to.")
            return
        path = Path(text).expanduser()
        if path.exists() and path != self._overwrite:
            self._overwrite = path
            self._error(f"{path} exists — press Write again to overwrite it", "! ", "$warning bold")
            return
        try:
            if path.parent == self.proposed.parent:
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_export(self.session, self.fmt, path)
        except OSError as exc:
            self._error(f"Cannot write {path}: {exc.strerror or exc}")
            return
        except MaildoctorError as exc:
            self._error(str(exc))
            return
        self.dismiss(path)

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
