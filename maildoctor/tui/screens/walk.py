"""The walk: the step tree on the left, the selected step in full on the right.

The engine runs in a worker in the app's loop; its listener only posts messages, and this screen
draws them. A question waits in the detail pane as an option list.
"""

from __future__ import annotations

import time
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, OptionList, Static, Tree
from textual.worker import Worker, WorkerState

from maildoctor.engine import (
    Event,
    FindingMade,
    StepFinished,
    StepProgress,
    StepStarted,
    WalkFinished,
    WalkStarted,
    WalkTruncated,
)
from maildoctor.flow.model import QuestionNode
from maildoctor.tui import display
from maildoctor.tui.bindings import KeyNames, binding
from maildoctor.tui.messages import EngineEvent, QuestionAsked, RemedyRequested
from maildoctor.tui.options import DisplayOptions
from maildoctor.tui.screens.audit import is_audit
from maildoctor.tui.session import WalkSession
from maildoctor.tui.widgets.detail import DetailPane
from maildoctor.tui.widgets.header import header
from maildoctor.tui.widgets.step_tree import StepItem, StepTree, TreeData

FOLLOW_DELAY = 0.15
PROGRESS_DELAY = 0.1  # progress reports are drawn at most this often


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


class WalkScreen(Screen[None]):
    """Draws the session the app made; stays when the walk ends (enter opens the fix: the app is asked
    with ``RemedyRequested``); dismissed when the operator goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        binding("maildoctor.enter", "choose", "Choose", priority=True),
        binding("maildoctor.enter", "continue", "The fix", priority=True),
        binding("maildoctor.enter", "continue_audit", "The audit", priority=True),
        binding("maildoctor.back", "back"),
        binding("maildoctor.rerun", "rerun"),
    ]

    def __init__(
        self, session: WalkSession, keys: KeyNames | None = None, display: DisplayOptions | None = None
    ) -> None:
        super().__init__()
        self.session = session
        self.flow = session.walk.flow
        self.keys = keys or KeyNames()
        self.display_options = display or DisplayOptions()
        session.attach(self._listen, self._on_ask)
        self._binding_state: tuple[bool | None, ...] = ()
        self._status_parts: list[str | tuple[str, str]] = []
        self._catch_up_timer: Timer | None = None
        self._progress_timer: Timer | None = None

    # -- layout

    def compose(self) -> ComposeResult:
        yield header()
        with Horizontal(id="walk-body"):
            yield StepTree(show_timings=self.display_options.show_timings, id="steps")
            yield DetailPane(show_timings=self.display_options.show_timings, id="detail")
        yield Static(id="walk-status")
        yield Footer()

    @property
    def step_tree(self) -> StepTree:
        return self.query_one(StepTree)

    @property
    def detail(self) -> DetailPane:
        return self.query_one(DetailPane)

    def on_mount(self) -> None:
        self.sub_title = self.flow.title
        self.step_tree.focus()
        if self.display_options.motion:
            self.set_interval(0.12, self.step_tree.tick)
        self._status()
        self.run_walk()

    # -- the engine, through messages

    def _listen(self, event: Event) -> None:
        self.post_message(EngineEvent(event, time.monotonic()))

    def _on_ask(self, node_id: str, question: QuestionNode) -> None:
        self.post_message(QuestionAsked(node_id, question))

    @work(exclusive=True, group="walk", exit_on_error=False)
    async def run_walk(self, rerun_from: int | None = None) -> None:
        if rerun_from is None:
            await self.session.run()
        else:
            await self.session.rerun(rerun_from)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "walk":
            return
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            self.notify(
                f"The walk stopped: {type(error).__name__}: {error}",
                severity="error",
                timeout=10,
                markup=False,
            )
        if event.state in (WorkerState.ERROR, WorkerState.SUCCESS, WorkerState.CANCELLED):
            self._status()
            self._refresh_bindings()

    async def on_engine_event(self, message: EngineEvent) -> None:
        event = message.event
        if isinstance(event, StepStarted):
            self.step_tree.start_step(self._item(event, message.at))
        elif isinstance(event, StepProgress):
            self._progress(event)
            return  # drawn a moment later, with whatever came in meanwhile
        elif isinstance(event, StepFinished):
            item_done = self.step_tree.finish_step(event.step)
            if item_done is not None and self._following_run(item_done):
                self._catch_up_soon()
            elif item_done is not None and self.detail.shown is item_done:
                await self._show(item_done)
        elif isinstance(event, WalkTruncated):
            self.step_tree.truncate(event.index)
        elif isinstance(event, WalkFinished):
            self._finished()
        elif isinstance(event, FindingMade | WalkStarted):
            pass
        self._status()
        self._refresh_bindings()

    def _item(self, event: StepStarted, at: float) -> StepItem:
        """The started step as the tree shows it until it finishes (its title already filled in)."""
        return StepItem(event.index, event.node, event.title, event.layer, event.kind, at)

    async def on_question_asked(self, message: QuestionAsked) -> None:
        if not self.step_tree.items:
            return
        item = self.step_tree.items[-1]
        item.waiting = True
        self.step_tree.refresh_item(item)
        following = self.step_tree.cursor_node is not None and self.step_tree.cursor_node.data is item
        if following or self.detail.shown is item:
            await self._show(item)
        if following and self.detail.options is not None:
            self.detail.options.focus()
        self._status()
        self._refresh_bindings()

    def _progress(self, event: StepProgress) -> None:
        """Keep the newest progress of the running step; draw it soon (reports can come fast)."""
        if event.index < len(self.step_tree.items):
            self.step_tree.items[event.index].progress = event.text
            if self._progress_timer is None:
                self._progress_timer = self.set_timer(PROGRESS_DELAY, self._draw_progress)

    def _draw_progress(self) -> None:
        """Only the detail pane's head and the status line change (no relayout of the tree)."""
        self._progress_timer = None
        shown = self.detail.shown
        if isinstance(shown, StepItem) and shown.step is None and shown.progress:
            self.detail.show_progress(shown)
        self._status()

    def _next_screen(self, found: bool) -> str:
        """What enter opens when the walk has finished: an audit's table, or the fix (the summary)."""
        if is_audit(self.session):
            return "the audit"
        return "the fix" if found else "the summary"

    def _finished(self) -> None:
        """The walk stays on screen (what is read is not taken away); a notice says what it found."""
        walk = self.session.walk
        enter = self.keys.shown("maildoctor.enter", first=True)
        found = bool(walk.findings)
        counted = plural(len(walk.findings), "finding") if found else "no finding"
        what = f"{counted} · {enter}: {self._next_screen(found)}"
        self.notify(f"The walk finished: {what}", title="Walk finished", timeout=6, markup=False)

    # -- selection and the detail pane

    @on(Tree.NodeHighlighted)
    async def _highlighted(self, event: Tree.NodeHighlighted[TreeData]) -> None:
        data = event.node.data
        if isinstance(data, StepItem) and self._following_run(data):
            self._catch_up_soon()
        elif data is not None and data is not self.detail.shown:
            await self._show(data)  # what the operator moved to, at once
        self._refresh_bindings()

    def _following_run(self, item: StepItem) -> bool:
        """The cursor follows the newest step of a running walk (not a question: that is shown at once)."""
        cursor = self.step_tree.cursor_node
        return (
            self.session.running
            and not item.waiting
            and cursor is not None
            and cursor is self.step_tree.newest
            and cursor.data is item
        )

    def _catch_up_soon(self) -> None:
        """While the cursor follows a running walk, the detail pane catches up every FOLLOW_DELAY seconds
        instead of being rebuilt twice for every step (calmer, and cheaper)."""
        if self._catch_up_timer is None:
            self._catch_up_timer = self.set_timer(FOLLOW_DELAY, self._catch_up)

    async def _catch_up(self) -> None:
        self._catch_up_timer = None
        cursor = self.step_tree.cursor_node
        if cursor is not None and cursor.data is not None:
            await self._show(cursor.data)

    async def _show(self, data: TreeData) -> None:
        question = self.session.asker.question if isinstance(data, StepItem) and data.waiting else None
        prompt = self.session.shown(question.prompt) if question is not None else ""
        await self.detail.show(data, question, prompt)

    @on(OptionList.OptionSelected)
    def _answered(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._answer(event.option.id)

    def _answer(self, value: str | None) -> None:
        if value is None or not self.session.asker.answer(value):
            return
        for item in self.step_tree.items[-1:]:
            item.waiting = False
            self.step_tree.refresh_item(item)
        self.step_tree.focus()
        self._status()
        self._refresh_bindings()

    # -- actions

    def _refresh_bindings(self) -> None:
        """Refresh the footer only when what the actions depend on has changed (it is rebuilt each time)."""
        state = tuple(
            self.check_action(action, ()) for action in ("choose", "continue", "continue_audit", "rerun")
        )
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose":
            return self.session.asker.waiting
        if action in ("continue", "continue_audit"):  # one shows, by what the walk's steps hold
            done = self.session.walk.finished and not self.session.running
            return done and is_audit(self.session) == (action == "continue_audit")
        if action == "rerun":
            node = self.step_tree.cursor_node if self.is_mounted else None
            if node is None or not isinstance(node.data, StepItem) or node.data.step is None:
                return False
            return not self.session.running  # hidden while the walk runs (it cannot re-run then)
        return True

    async def action_choose(self) -> None:
        """Enter at a question: go to it and into its options, or choose the highlighted option."""
        options = self.detail.options
        if options is not None and options.has_focus:
            if options.highlighted is not None:
                self._answer(options.get_option_at_index(options.highlighted).id)
            return
        newest = self.step_tree.newest
        if newest is not None and newest.data is not None and self.step_tree.cursor_node is not newest:
            self.step_tree.select_step(newest)
            await self._show(newest.data)
        if self.detail.options is not None:
            self.detail.options.focus()

    def action_continue(self) -> None:
        self.post_message(RemedyRequested())

    def action_continue_audit(self) -> None:
        self.post_message(RemedyRequested())  # the app opens the audit for it

    def action_back(self) -> None:
        self.dismiss(None)

    def action_rerun(self) -> None:
        node = self.step_tree.cursor_node
        if node is None or not isinstance(node.data, StepItem):
            return
        self.run_walk(node.data.index)

    # -- the status line

    def _status(self) -> None:
        if not self.is_mounted:
            return
        walk = self.session.walk
        findings = len(walk.findings)
        found = f" · {plural(findings, 'finding')}" if findings else ""
        parts: list[str | tuple[str, str]]
        enter, export = (
            self.keys.shown("maildoctor.enter", first=True),
            self.keys.shown("maildoctor.export", first=True),
        )
        if self.session.asker.waiting:
            parts = [
                (f"{display.WAITING} ", "$accent bold"),
                f"A question waits for your answer (↑ ↓, {enter})",
            ]
        elif self.session.running:
            parts = [("… ", "$accent bold"), f"Walking · step {len(self.step_tree.items)}{found}"]
            running = self.step_tree.items[-1] if self.step_tree.items else None
            if running is not None and running.step is None and running.progress:
                parts.append(f" · {running.title}: {running.progress}")
        elif walk.finished:
            parts = self._verdict_parts(enter, export)
        else:
            rerun = self.keys.shown("maildoctor.rerun", first=True)
            parts = [("– ", "dim"), f"The walk stopped before its end · {rerun} re-runs the selected step"]
        if self.session.autosave_error:
            parts.append(f" · not autosaved: {self.session.autosave_error}")
        if parts != self._status_parts:  # an update lays the screen out again: only on a change
            self._status_parts = parts
            self.query_one("#walk-status", Static).update(Content.assemble(*parts))

    def _verdict_parts(self, enter: str, export: str) -> list[str | tuple[str, str]]:
        """The finished walk's verdict, as the session decides it for every surface."""
        verdict = self.session.verdict()
        if verdict.findings:
            found = f": {plural(verdict.findings, 'finding')}"
            open_ = f" · {len(verdict.unchecked)} not checked" if verdict.unchecked else ""
            return [
                ("✘ ", "$error bold"),
                f"Finished{found}{open_}, most likely ",
                (verdict.code, "bold"),
                f" · {enter}: {self._next_screen(True)}",  # the footer names export and the rest
            ]
        if not verdict.inconclusive:  # all clear, or a flow's own clean code (the audit's audit-clean)
            clean = "all clear" if verdict.all_clear else verdict.code
            return [
                ("✔ ", "$success bold"),
                f"Finished: {clean} · {enter}: {self._next_screen(False)} · {export}: export",
            ]
        reason = self.session.walk.incomplete_reason
        if reason:
            return [("? ", "magenta bold"), f"The walk could not finish: {reason}"]
        return [
            ("? ", "magenta bold"),
            f"Finished: inconclusive — {verdict.title.removeprefix('No problem found, but ')}",
            f" · {enter}: {self._next_screen(False)} · {export}: export",
        ]
