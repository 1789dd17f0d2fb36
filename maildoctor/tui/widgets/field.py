"""One input of a flow in the form: its label, the control for its kind, and what is wrong with it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, TextArea

from maildoctor.flow.model import InputSpec
from maildoctor.inputs import problem


class FieldRow(Vertical):
    """Validated as you type with ``maildoctor.inputs.problem``; secrets masked."""

    def __init__(self, name: str, spec: InputSpec, value: str) -> None:
        super().__init__(id=f"field-{name}", classes="field")
        self.input_name = name
        self.spec = spec
        self.control = self._control(value)

    def _control(self, value: str) -> Widget:
        spec, ident = self.spec, f"input-{self.input_name}"
        if spec.kind == "choice" and spec.choices:
            return Select(
                [(choice, choice) for choice in spec.choices],
                value=value if value in spec.choices else Select.NULL,
                allow_blank=not spec.required,
                prompt="not set (asked during the walk when needed)",
                id=ident,
            )
        if spec.kind == "multiline":
            return TextArea(value, soft_wrap=True, id=ident, placeholder=self._placeholder())
        return Input(
            value=value,
            placeholder=self._placeholder(),
            password=spec.secret,
            id=ident,
            compact=True,
            select_on_focus=False,
        )

    def _placeholder(self) -> str:
        spec = self.spec
        if spec.secret:
            return "hidden as you type; never saved"
        if spec.example:
            return f"e.g. {spec.example}"
        if spec.kind == "multiline":
            return "paste it here"
        return "optional" if not spec.required else ""

    def compose(self) -> ComposeResult:
        spec = self.spec
        parts: list[str | tuple[str, str]] = [(self.input_name, "bold")]
        if spec.required:
            parts.append((" required", "$warning"))
        if spec.secret:
            parts.append((" secret", "$accent"))
        parts.append(("  " + spec.description, "dim"))
        yield Label(Content.assemble(*parts), classes="field-label")
        yield self.control
        yield Static("", classes="field-problem")

    @property
    def value(self) -> str:
        control = self.control
        if isinstance(control, Select):
            value = control.value
            return value if isinstance(value, str) else ""
        if isinstance(control, TextArea):
            return control.text
        assert isinstance(control, Input)
        return control.value.strip()

    def check(self) -> str | None:
        """Show what is wrong with the value (nothing when it is fine) and return it."""
        why = problem(self.spec, self.value)
        if self.is_mounted:
            note = self.query_one(".field-problem", Static)
            note.update(Content.assemble(("✘ ", "$error bold"), why) if why else "")
            note.display = why is not None
            self.control.set_class(why is not None, "-invalid")
        return why

    def on_mount(self) -> None:
        self.check()

    def on_input_changed(self) -> None:
        self.check()

    def on_select_changed(self) -> None:
        self.check()

    def on_text_area_changed(self) -> None:
        self.check()
