"""The export dialog: a format, a path it proposes, Write; errors stay in the dialog."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

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
from maildoctor.tui.session import WalkSession

if TYPE_CHECKING:
    from maildoctor.tui.app import MaildoctorApp

FORMATS = {"markdown": ".md", "json": ".json", "html": ".html"}


def proposed_path(session_id: str, fmt: str) -> str:
    return f"./maildoctor-{session_id or 'session'}{FORMATS[fmt]}"


def write_export(session: WalkSession, fmt: str, path: Path) -> Path:
    """Render the session in ``fmt`` and write it to ``path``; raises OSError or MaildoctorError."""
    text = render.FORMATS[fmt](session.export_data())
    path.write_text(text, encoding="utf-8")
    return path


class ExportDialog(ModalScreen[Path | None]):
    BINDINGS: ClassVar[list[BindingType]] = [binding("maildoctor.close", "cancel", "Cancel")]

    app: MaildoctorApp

    def __init__(self, session: WalkSession) -> None:
        super().__init__()
        self.session = session
        self.fmt = "markdown"

    def compose(self) -> ComposeResult:
        with Vertical(id="export-dialog"):
            yield Static("Export the transcript", id="export-title")
            with RadioSet(id="export-format"):
                yield RadioButton("Markdown (incident report)", value=True, id="fmt-markdown")
                yield RadioButton("JSON", id="fmt-json")
                yield RadioButton("HTML", id="fmt-html")
            yield Label("Write to")
            yield Input(proposed_path(self.session.session_id, self.fmt), id="export-path")
            yield Static("", id="export-error")
            with Horizontal(id="export-buttons"):
                yield Button("Write", variant="primary", id="export-write")
                yield Button("Cancel", id="export-cancel")

    def on_mount(self) -> None:
        path = self.query_one("#export-path", Input)
        if not self.app.motion:
            path.cursor_blink = False
        path.focus()

    @on(RadioSet.Changed, "#export-format")
    def _format(self, event: RadioSet.Changed) -> None:
        old = self.fmt
        self.fmt = (event.pressed.id or "fmt-markdown").removeprefix("fmt-")
        path = self.query_one("#export-path", Input)
        if path.value.endswith(FORMATS[old]):
            path.value = path.value[: -len(FORMATS[old])] + FORMATS[self.fmt]

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export-write")
    def _write(self) -> None:
        text = self.query_one("#export-path", Input).value.strip()
        error = self.query_one("#export-error", Static)
        if not text:
            error.update(Content.assemble(("✘ ", "$error bold"), "Give a file to write to."))
            return
        path = Path(text).expanduser()
        try:
            write_export(self.session, self.fmt, path)
        except OSError as exc:
            error.update(
                Content.assemble(("✘ ", "$error bold"), f"Cannot write {path}: {exc.strerror or exc}")
            )
            return
        except MaildoctorError as exc:
            error.update(Content.assemble(("✘ ", "$error bold"), str(exc)))
            return
        self.app.notify(f"Wrote {path}", title="Exported", markup=False)
        self.dismiss(path)

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
