"""One walk as the TUI runs it: the surface-neutral Session with an asker that waits for the screen.

Nothing here draws anything: the app makes the session, and the walk screen attaches its listener and
question callback to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from maildoctor.checks.registry import Registry
from maildoctor.clients.settings import Settings
from maildoctor.engine import Listener
from maildoctor.flow.model import Flow, QuestionNode
from maildoctor.session import Session

AskCallback = Callable[[str, QuestionNode], None]


class TuiAsker:
    """The engine's ``Asker`` for the TUI: ``ask`` tells the screen, then awaits ``answer``."""

    def __init__(self) -> None:
        self.on_ask: AskCallback | None = None
        self.node_id: str | None = None
        self.question: QuestionNode | None = None
        self._pending: asyncio.Future[str | None] | None = None

    @property
    def waiting(self) -> bool:
        return self._pending is not None and not self._pending.done()

    async def ask(self, node_id: str, question: QuestionNode) -> str | None:
        if self.on_ask is None:
            return None  # nobody to answer: the walk stops and names the input
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


class WalkSession(Session):
    """The session as the TUI runs it: the screen attaches (``attach``) a listener that gets redacted
    events, and questions go to the screen and wait for its answer."""

    def __init__(
        self,
        flow: Flow,
        inputs: Mapping[str, str],
        settings: Settings,
        *,
        registry: Registry | None = None,
    ) -> None:
        self.asker = TuiAsker()
        super().__init__(flow, inputs, settings, registry=registry, asker=self.asker)

    def attach(self, listener: Listener, on_ask: AskCallback) -> None:
        self.subscribe(listener)
        self.asker.on_ask = on_ask
