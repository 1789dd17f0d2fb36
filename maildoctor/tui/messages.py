"""Textual messages: the engine's events into the app's message queue, and what a screen asks the app
to do next (the app owns the session and decides which screen comes)."""

from __future__ import annotations

from collections.abc import Mapping

from textual.message import Message

from maildoctor.engine import Event
from maildoctor.flow.model import Flow, QuestionNode


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


class FlowChosen(Message):
    """The picker chose a flow: its form comes next."""

    def __init__(self, flow: Flow) -> None:
        super().__init__()
        self.flow = flow


class WalkRequested(Message):
    """The form is filled: walk ``flow`` with ``values``."""

    def __init__(self, flow: Flow, values: Mapping[str, str]) -> None:
        super().__init__()
        self.flow = flow
        self.values = dict(values)


class RemedyRequested(Message):
    """The finished walk's fix (or its all-clear summary) is wanted."""


class FindingsRequested(Message):
    """Every finding of the walk with its fix (the remedy screen), whatever screen shows the walk's end
    (the audit asks for it: its findings' fixes, e.g. the rotation alert's commands, live there)."""
