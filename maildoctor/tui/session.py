"""One walk as the TUI runs it: the engine's Walk, the autosaving transcript writer and the asker.

Nothing here draws anything: the walk screen gives a listener and a question callback, and this
module keeps the engine free of Textual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from maildoctor import report
from maildoctor import transcript as transcripts
from maildoctor.clients import Clients
from maildoctor.clients.settings import Settings
from maildoctor.engine import Listener, Walk
from maildoctor.flow.model import Flow, QuestionNode
from maildoctor.transcript import TranscriptError, TranscriptWriter

AskCallback = Callable[[str, QuestionNode], None]


class TuiAsker:
    """The engine's ``Asker`` for the TUI: ``ask`` tells the screen, then awaits ``answer``."""

    def __init__(self, on_ask: AskCallback) -> None:
        self.on_ask = on_ask
        self.node_id: str | None = None
        self.question: QuestionNode | None = None
        self._pending: asyncio.Future[str | None] | None = None

    @property
    def waiting(self) -> bool:
        return self._pending is not None and not self._pending.done()

    async def ask(self, node_id: str, question: QuestionNode) -> str | None:
        self._pending = asyncio.get_running_loop().create_future()
        self.node_id, self.question = node_id, question
        self.on_ask(node_id, question)
        try:
            return await self._pending
        finally:
            self._pending = None
            self.node_id = self.question = None

    def answer(self, value: str | None) -> bool:
        """Give the waiting question its answer (None: no answer, the walk stops unfinished)."""
        if not self.waiting:
            return False
        assert self._pending is not None
        self._pending.set_result(value)
        return True


class WalkSession:
    def __init__(
        self,
        flow: Flow,
        inputs: Mapping[str, str],
        settings: Settings,
        *,
        listener: Listener,
        on_ask: AskCallback,
    ) -> None:
        self.asker = TuiAsker(on_ask)
        self.walk = Walk(flow, inputs, Clients(settings), asker=self.asker)
        self.redact = report.redactor_for(self.walk)
        self.writer: TranscriptWriter | None = None
        self.autosave_error: str | None = None
        try:
            self.writer = TranscriptWriter(settings.resolved_state_dir(), self.walk)
        except TranscriptError as exc:  # the walk still runs; export then works from memory
            self.autosave_error = str(exc)
        else:
            self.walk.listeners.append(self.writer)
        self.walk.listeners.append(listener)
        self.running = False
        self._closed = False

    @property
    def session_id(self) -> str:
        return self.writer.session if self.writer else ""

    def report(self) -> dict[str, Any]:
        """The redacted report of the walk as it stands."""
        return report.build(self.walk, self.session_id)

    def export_data(self) -> dict[str, Any]:
        """What an export renders: the autosaved transcript, or the walk in memory without one."""
        if self.writer is not None:
            return transcripts.load(self.writer.path)
        return self.report()

    def exit_status(self) -> int:
        """CONTRACT.md: 0 all clear · 1 findings · 3 the walk did not finish."""
        if self.running or not self.walk.finished:
            return 3
        return report.exit_code(self.report())

    def interrupt(self, reason: str) -> None:
        """Record in the transcript that the walk stopped before its end."""
        if self.writer is not None and not self._closed and (self.running or not self.walk.finished):
            self.writer.interrupted(reason)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self._closed = True
