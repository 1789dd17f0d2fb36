"""Textual messages that carry the engine's events into the app's message queue."""

from __future__ import annotations

from textual.message import Message

from maildoctor.engine import Event
from maildoctor.flow.model import QuestionNode


class EngineEvent(Message):
    """One engine event (``StepStarted``, ``StepFinished`` …), with the monotonic time it happened."""

    def __init__(self, event: Event, at: float) -> None:
        super().__init__()
        self.event = event
        self.at = at


class QuestionAsked(Message):
    """The walk waits for the operator's answer to a question node."""

    def __init__(self, node_id: str, question: QuestionNode) -> None:
        super().__init__()
        self.node_id = node_id
        self.question = question
