"""The flow picker: the shipped flows by name, title and description; enter chooses."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from maildoctor.errors import MaildoctorError
from maildoctor.flow.load import builtin_flow_paths, find_flow, load_flow, read_flow
from maildoctor.flow.model import Flow
from maildoctor.tui.bindings import binding
from maildoctor.tui.messages import FlowChosen
from maildoctor.tui.widgets.header import header


def shipped_flows(paths: list[Path] | None = None) -> list[tuple[str, Flow | str]]:
    """(name, flow) for every shipped flow, or (name, the error) for one that does not read. Listing
    reads each flow's shape only (no check module is imported before the first frame); the flow chosen
    is loaded in full then."""
    found: list[tuple[str, Flow | str]] = []
    for path in builtin_flow_paths() if paths is None else paths:
        try:
            found.append((path.stem, read_flow(path)))
        except MaildoctorError as exc:
            found.append((path.stem, str(exc)))
    return found


class PickerScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [binding("maildoctor.enter", "choose", "Choose", priority=True)]

    def __init__(self) -> None:
        super().__init__()
        self.flows = shipped_flows()

    def compose(self) -> ComposeResult:
        yield header()
        yield Static(
            Content.assemble(
                ("What is wrong with your mail?", "bold"),
                "\n",
                ("Pick a walk; each step runs a live check and shows what it found.", "dim"),
            ),
            id="picker-intro",
        )
        yield OptionList(*self._options(), id="flows")
        yield Footer()

    def _options(self) -> list[Option]:
        options = []
        for name, flow in self.flows:
            if isinstance(flow, Flow):
                prompt = Content.assemble(
                    (name, "bold $accent"),
                    "  ",
                    (flow.title, "bold"),
                    "\n",
                    (" ".join(flow.description.split()), "dim"),
                )
                options.append(Option(prompt, id=name))
            else:
                prompt = Content.assemble((name, "bold"), "  ", ("does not load: " + flow, "$error"))
                options.append(Option(prompt, id=name, disabled=True))
        return options

    def on_mount(self) -> None:
        self.sub_title = "pick a flow"
        flows = self.query_one("#flows", OptionList)
        flows.highlighted = 0
        flows.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose":
            return self.query_one("#flows", OptionList).highlighted is not None if self.is_mounted else True
        return True

    def action_choose(self) -> None:
        index = self.query_one("#flows", OptionList).highlighted
        if index is not None:
            self._open(index)

    @on(OptionList.OptionSelected, "#flows")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._open(event.option_index)

    def _open(self, index: int) -> None:
        name, listed = self.flows[index]
        if not isinstance(listed, Flow):
            return
        try:
            flow = load_flow(find_flow(name))  # validated in full before its form opens
        except MaildoctorError as exc:
            self.notify(str(exc), title="Cannot open the flow", severity="error", timeout=15, markup=False)
            return
        self.post_message(FlowChosen(flow))
