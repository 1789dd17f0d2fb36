"""The remedy: the findings, most likely root cause first, each fix rendered as Markdown and copyable;
or a calm all-clear."""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Markdown, OptionList, Static
from textual.widgets.option_list import Option

from maildoctor.engine import Finding
from maildoctor.flow.commands import shell_commands
from maildoctor.tui import display
from maildoctor.tui.bindings import KeyNames, binding
from maildoctor.tui.session import WalkSession
from maildoctor.tui.widgets.header import header

SEVERITY_STATUS = {"error": "fail", "warning": "warn", "info": "info"}


class RemedyScreen(Screen[None]):
    """Dismissed when the operator goes back to the walk. PageUp/PageDown page the fix whatever has
    focus (the findings list is short; the fix is what is read)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        binding("maildoctor.back", "back"),
        binding("maildoctor.copy", "copy"),
        binding("maildoctor.copy_code", "copy_code"),
        binding("maildoctor.page_down", "page_fix(1)", show=False, priority=True),
        binding("maildoctor.page_up", "page_fix(-1)", show=False, priority=True),
    ]

    def __init__(self, session: WalkSession, keys: KeyNames | None = None) -> None:
        super().__init__()
        self.session = session
        self.keys = keys or KeyNames()
        self.findings: list[Finding] = session.findings()  # ranked and redacted by the session
        self._shown = 0  # the finding whose fix is shown

    def compose(self) -> ComposeResult:
        yield header()
        if self.findings:
            yield Static(self._headline(), id="diagnosis")
            yield OptionList(*self._options(), id="findings")
            with VerticalScroll(id="fix"):
                yield Markdown(self._fix_text(0), id="fix-text")
        else:
            with VerticalScroll(id="all-clear"):
                yield Static(self._all_clear(), id="all-clear-text")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.session.walk.flow.title
        if self.findings:
            options = self.query_one("#findings", OptionList)
            options.highlighted = 0
            options.focus()

    # -- what it shows

    def _headline(self) -> Content:
        top = self.findings[0]

        def key(name: str) -> str:
            return self.keys.shown(f"maildoctor.{name}", first=True)

        count = len(self.findings)
        parts: list[str | tuple[str, str]] = [
            (f"{display.ICONS['fail']} Most likely root cause: ", "$error bold"),
            (top.code, "bold"),
            f" — {top.title}\n",
            (
                f"{count} finding{'s' if count != 1 else ''}, most likely first · "
                f"{key('copy')} copies the selected fix · {key('copy_code')} only its shell commands · "
                f"{key('page_down')}/{key('page_up')} page the fix · {key('export')} exports",
                "dim",
            ),
        ]
        walk = self.session.walk
        unchecked = self.session.verdict().unchecked
        if unchecked:
            titles = ", ".join(u["title"] for u in unchecked)
            parts.append((f"\nNot checked ({len(unchecked)}): {titles} — a cause may hide there", "magenta"))
        if walk.incomplete_reason:
            parts.append((f"\nThe walk did not finish: {walk.incomplete_reason}", "magenta"))
        return Content.assemble(*parts)

    def _options(self) -> list[Option]:
        options = []
        for number, finding in enumerate(self.findings, 1):
            status = SEVERITY_STATUS.get(finding.severity, "info")
            options.append(
                Option(
                    Content.assemble(
                        f"{number}. ",
                        (display.ICONS[status], f"{display.STYLES[status]} bold"),
                        " ",
                        (finding.code, "bold"),
                        f"  {finding.title}",
                    ),
                    id=str(number - 1),
                )
            )
        return options

    def _fix_text(self, index: int) -> str:
        finding = self.findings[index]
        return f"## {finding.title}\n\n*{finding.summary}*\n\n{finding.remedy}\n"

    def _all_clear(self) -> Content:
        data = self.session.report()
        verdict = self.session.verdict()
        counts = Counter(step["status"] for step in data["steps"] if step["kind"] != "end")
        tally = " · ".join(f"{display.ICONS[s]} {n} {s}" for s, n in sorted(counts.items()))
        if verdict.all_clear:
            head: tuple[str, str] = (f"{display.ICONS['pass']} All clear\n\n", "$success bold")
        else:
            head = (
                f"{display.ICONS['error']} Inconclusive: no problem found, but not everything was checked\n\n",
                "magenta bold",
            )
        parts: list[str | tuple[str, str]] = [head, (verdict.title, "bold"), "\n\n"]
        if verdict.summary:
            parts += [verdict.summary, "\n\n"]
        if data.get("incomplete_reason"):
            parts += [f"The walk could not finish: {data['incomplete_reason']}\n\n"]
        parts += [f"{sum(counts.values())} steps: {tally}\n\n"]
        back, export, quit_ = (
            self.keys.shown(f"maildoctor.{name}", first=True) for name in ("back", "export", "quit")
        )
        parts += [
            (
                f"{back} goes back to the walk to read any step · {export} exports the transcript · {quit_} quits",
                "dim",
            )
        ]
        return Content.assemble(*parts)

    # -- selection

    @property
    def selected(self) -> Finding | None:
        if not self.findings:
            return None
        index = self.query_one("#findings", OptionList).highlighted
        return self.findings[index if index is not None else 0]

    @on(OptionList.OptionHighlighted, "#findings")
    async def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index == self._shown:
            return
        self._shown = event.option_index
        await self.query_one("#fix-text", Markdown).update(self._fix_text(event.option_index))
        self.query_one("#fix", VerticalScroll).scroll_home(animate=False)

    @on(OptionList.OptionSelected, "#findings")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.query_one("#fix", VerticalScroll).focus()

    # -- actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("copy", "copy_code"):
            return bool(self.findings)
        return True

    def action_back(self) -> None:
        self.dismiss(None)

    def action_page_fix(self, pages: int) -> None:
        pane = self.query_one("#fix" if self.findings else "#all-clear", VerticalScroll)
        if pages > 0:
            pane.scroll_page_down(animate=False)
        else:
            pane.scroll_page_up(animate=False)

    def action_copy(self) -> None:
        finding = self.selected
        if finding is None:
            return
        self.app.copy_to_clipboard(finding.remedy)
        lines = len(finding.remedy.splitlines())
        self.notify(f"Copied the fix for {finding.code} ({lines} lines) to the clipboard.")

    def action_copy_code(self) -> None:
        finding = self.selected
        if finding is None:
            return
        commands = shell_commands(finding.remedy)
        if not commands:
            copy = self.keys.shown("maildoctor.copy", first=True)
            self.notify(
                f"The fix for {finding.code} has no shell commands to copy; {copy} copies the whole fix.",
                severity="warning",
            )
            return
        self.app.copy_to_clipboard(commands)
        lines = len(commands.splitlines())
        self.notify(
            f"Copied the shell commands of the fix for {finding.code} ({lines} lines) to the clipboard."
        )
