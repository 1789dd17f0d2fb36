"""The selected step in full: title, summary, why it branched, facts, evidence, or a question.

What it shows comes from the session already redacted (steps, and the question's prompt).

The pane keeps its widgets and updates them in place (only the evidence blocks are rebuilt), so that
following a fast walk step by step stays cheap.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from maildoctor.flow.model import QuestionNode
from maildoctor.tui import display
from maildoctor.tui.widgets.step_tree import LayerItem, StepItem, TreeData

Part = str | tuple[str, str]
KEY_WIDTH = 22
STACKED_BELOW = 56  # pane width under which facts go one under the other


class DetailPane(VerticalScroll):
    """Scrolls; shows whatever the step tree's cursor is on."""

    def __init__(self, *, show_timings: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.show_timings = show_timings
        self.shown: TreeData | None = None
        self._asked: QuestionNode | None = None  # the question whose options are shown

    def compose(self) -> ComposeResult:
        yield Static("The walk starts…", id="detail-head")
        yield OptionList(id="question")
        yield Static("", id="question-hint", classes="detail-meta")
        yield Static("Facts", id="facts-heading", classes="detail-heading")
        yield Static("", id="facts")  # a table that wraps at spaces (the pane scrolls, not the table)
        yield Static("Evidence", id="evidence-heading", classes="detail-heading")
        yield Vertical(id="evidence")

    def on_mount(self) -> None:
        for ident in ("#question", "#question-hint", "#facts-heading", "#facts", "#evidence-heading"):
            self.query_one(ident).display = False

    @property
    def options(self) -> OptionList | None:
        """The question's options while a question is shown."""
        options = self.query_one("#question", OptionList)
        return options if options.display else None

    async def show(
        self, data: TreeData | None, question: QuestionNode | None = None, prompt: str = ""
    ) -> None:
        """``prompt``: the waiting question's prompt with the walk's values filled in."""
        self.shown = data
        head: list[Part] = ["The walk starts…"]
        facts: dict[str, Any] = {}
        evidence: list[tuple[str, str]] = []
        if isinstance(data, StepItem):
            head = self._head(data, prompt if question is not None else "")
            if data.step is not None and data.kind == "check":
                facts = data.step.facts
                evidence = [(e.title, e.text.rstrip()) for e in data.step.evidence]
        elif isinstance(data, LayerItem):
            head = self._layer(data)
        async with self.batch():
            self.query_one("#detail-head", Static).update(Content.assemble(*head))
            self._question(question if isinstance(data, StepItem) and data.waiting else None)
            self._facts(facts)
            await self._evidence(evidence)
        self.scroll_home(animate=False)

    def show_progress(self, item: StepItem) -> None:
        """The running step's newest progress: only the head changes."""
        if self.shown is item:
            self.query_one("#detail-head", Static).update(Content.assemble(*self._head(item, "")))

    # -- the parts

    def _head(self, item: StepItem, prompt: str) -> list[Part]:
        step = item.step
        if item.waiting:
            sign, word, style = display.WAITING, "your answer", "$accent"
        elif step is None:
            sign, word, style = "…", "running", "$accent"
        else:
            sign, word, style = display.icon(step.status), step.status, display.STYLES.get(step.status, "")
        parts: list[Part] = [(f"{sign} {word}", f"{style} bold"), "  ", (item.title, "bold"), "\n\n"]
        meta = [f"step {item.index + 1}"]
        if step is not None and step.check:
            meta.append(f"check {step.check}")
        meta.append(f"node {item.node}")
        if item.layer:
            meta.append(f"layer {item.layer}")
        if self.show_timings and step is not None and item.kind == "check":
            meta.append(display.duration(step.duration_ms))
        if step is None:
            if item.waiting and prompt:
                parts.append(prompt)
            elif item.kind == "check":
                parts.append(
                    f"Running the check: {item.progress}…" if item.progress else "Running the check…"
                )
            else:
                parts.append("Waiting…")
            parts += ["\n", (" · ".join(meta), "dim")]
            return parts
        parts += [step.summary, "\n", (" · ".join(meta), "dim"), "\n\n"]
        parts += [("Why it branched: ", "bold"), step.why]
        if item.kind == "remedy":
            parts += [
                "\n\n",
                ("Finding ", "bold"),
                (step.outcome or "", "bold $error"),
                ": its fix, with your values, is in the remedy view when the walk ends.",
            ]
        return parts

    def _layer(self, layer: LayerItem) -> list[Part]:
        parts: list[Part] = [(layer.name, "bold")]
        for item in layer.items:
            status = item.status
            sign = display.WAITING if item.waiting else display.icon(status) if status else "…"
            style = display.STYLES.get(status or "", "$accent")
            summary = item.step.summary if item.step else "running…"
            parts += ["\n\n", (sign, f"{style} bold"), " ", (item.title, "bold"), "\n", summary]
        return parts

    def _question(self, question: QuestionNode | None) -> None:
        options = self.query_one("#question", OptionList)
        hint = self.query_one("#question-hint", Static)
        if question is None:
            options.display = hint.display = False
            return
        if options.display and self._asked is question:
            return  # shown again (the pane caught up): keep the operator's highlighted choice
        self._asked = question
        options.clear_options()
        options.add_options([Option(Content(option.label), id=option.value) for option in question.options])
        options.highlighted = 0
        hint.update("↑ ↓ move · enter chooses · the walk waits for the answer")
        options.display = hint.display = True

    def _facts(self, facts: dict[str, Any]) -> None:
        box = self.query_one("#facts", Static)
        self.query_one("#facts-heading").display = box.display = bool(facts)
        if not facts:
            box.update("")
            return
        width = self.scrollable_content_region.width or 80
        if width < STACKED_BELOW:  # a narrow pane: each value under its name, with the whole width
            lines = Text("\n").join(
                Text.assemble((str(key), "bold"), "\n", display.compact(value))
                for key, value in facts.items()
            )
            box.update(lines)
            return
        table = Table.grid(padding=(0, 2), expand=True)
        table.add_column(no_wrap=True, max_width=KEY_WIDTH, overflow="ellipsis")
        table.add_column(ratio=1, overflow="fold")  # wraps at spaces; only a longer token is folded
        for key, value in facts.items():
            table.add_row(Text(str(key), style="bold"), Text(display.compact(value)))
        box.update(table)

    async def _evidence(self, evidence: list[tuple[str, str]]) -> None:
        box = self.query_one("#evidence", Vertical)
        self.query_one("#evidence-heading").display = box.display = bool(evidence)
        await box.remove_children()
        if evidence:
            blocks: list[Static] = []
            for title, text in evidence:
                blocks.append(Static(Content(title), classes="evidence-title"))
                blocks.append(Static(Text(text), classes="evidence"))
            await box.mount_all(blocks)
