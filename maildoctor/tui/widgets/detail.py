"""The selected step in full: title, summary, why it branched, facts, evidence, or a question."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import DataTable, OptionList, Static
from textual.widgets.option_list import Option

from maildoctor.flow.model import QuestionNode
from maildoctor.tui import display
from maildoctor.tui.widgets.step_tree import LayerItem, StepItem, TreeData

Redact = Callable[[Any], Any]
KEY_WIDTH = 22


class DetailPane(VerticalScroll):
    """Scrolls; rebuilt whenever another step is selected or the shown step changes."""

    def __init__(self, *, show_timings: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.show_timings = show_timings
        self.shown: TreeData | None = None
        self.options: OptionList | None = None

    async def show(self, data: TreeData | None, redact: Redact, question: QuestionNode | None = None) -> None:
        self.shown = data
        self.options = None
        if isinstance(data, StepItem):
            widgets = self._step(data, redact, question)
        elif isinstance(data, LayerItem):
            widgets = self._layer(data, redact)
        else:
            widgets = [Static("The walk starts…", classes="detail-summary")]
        async with self.batch():
            await self.remove_children()
            await self.mount_all(widgets)
        self.scroll_home(animate=False)

    # -- what a step shows

    def _heading(self, status: str | None, waiting: bool, title: str) -> Static:
        if waiting:
            sign, word, style = display.WAITING, "your answer", "$accent"
        elif status is None:
            sign, word, style = "…", "running", "$accent"
        else:
            sign, word, style = display.icon(status), status, display.STYLES.get(status, "")
        return Static(
            Content.assemble((f"{sign} {word}", f"{style} bold"), "  ", (title, "bold")),
            classes="detail-title",
        )

    def _step(self, item: StepItem, redact: Redact, question: QuestionNode | None) -> list[Widget]:
        step = item.step
        out: list[Widget] = [self._heading(item.status, item.waiting, redact(item.title))]
        meta = [f"step {item.index + 1}", f"node {item.node}"]
        if item.layer:
            meta.append(f"layer {item.layer}")
        if step is not None and step.check:
            meta.insert(1, f"check {step.check}")
        if self.show_timings and step is not None and item.kind == "check":
            meta.append(display.duration(step.duration_ms))
        if step is None:
            if item.waiting and question is not None:
                out.append(Static(Content(redact(question.prompt)), classes="detail-summary"))
                self.options = OptionList(
                    *(Option(Content(option.label), id=option.value) for option in question.options),
                    classes="question",
                )
                out.append(self.options)
                out.append(Static("↑ ↓ move · enter chooses · the walk waits", classes="detail-meta"))
            else:
                what = "Running the check…" if item.kind == "check" else "Waiting…"
                out.append(Static(what, classes="detail-summary"))
            out.append(Static(Content(" · ".join(meta)), classes="detail-meta"))
            return out
        out.append(Static(Content(redact(step.summary)), classes="detail-summary"))
        out.append(Static(Content(" · ".join(meta)), classes="detail-meta"))
        out.append(Static(Content.assemble(("Why it branched: ", "bold"), step.why), classes="detail-why"))
        if item.kind == "remedy":
            code = step.outcome or ""
            out.append(
                Static(
                    Content.assemble(
                        ("Finding ", "bold"),
                        (code, "bold $error"),
                        ": its fix, with your values, is in the remedy view when the walk ends.",
                    ),
                    classes="detail-why",
                )
            )
        facts = redact(step.facts) if item.kind == "check" else {}
        if facts:
            out.append(Static("Facts", classes="detail-heading"))
            out.append(self._facts(facts))
        if step.evidence:
            out.append(Static("Evidence", classes="detail-heading"))
            for evidence in step.evidence:
                out.append(Static(Content(redact(evidence.title)), classes="evidence-title"))
                out.append(Static(Text(redact(evidence.text).rstrip()), classes="evidence"))
        return out

    def _facts(self, facts: dict[str, Any]) -> DataTable[Text]:
        table: DataTable[Text] = DataTable(
            show_cursor=False, cursor_type="none", zebra_stripes=True, classes="facts"
        )
        key_width = min(KEY_WIDTH, max(len(str(k)) for k in facts))
        width = self.scrollable_content_region.width or 80
        value_width = max(16, width - key_width - 6)
        table.add_column("fact", width=key_width)
        table.add_column("value", width=value_width)
        for key, value in facts.items():
            table.add_row(Text(str(key), style="bold"), Text(display.compact(value)), height=None)
        return table

    def _layer(self, layer: LayerItem, redact: Redact) -> list[Widget]:
        out: list[Widget] = [Static(Content.assemble((layer.name, "bold")), classes="detail-title")]
        for item in layer.items:
            status = item.status
            sign = display.WAITING if item.waiting else display.icon(status) if status else "…"
            style = display.STYLES.get(status or "", "$accent")
            summary = redact(item.step.summary) if item.step else "running…"
            out.append(
                Static(
                    Content.assemble(
                        (sign, f"{style} bold"), " ", (redact(item.title), "bold"), "\n", summary
                    ),
                    classes="layer-step",
                )
            )
        return out
