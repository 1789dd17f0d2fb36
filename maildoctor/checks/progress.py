"""How far a slow check has got (regions read, pages read), told to whoever runs the check.

A check (or any helper it calls) says ``progress.report("12 of 33 regions read")``; the engine sets the
receiver for the step it runs, so helpers need no extra parameter. Tasks started by the check (``gather``)
inherit the receiver; outside a walk a report goes nowhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Receiver = Callable[[str], None]

_receiver: ContextVar[Receiver | None] = ContextVar("maildoctor_progress", default=None)


def report(text: str) -> None:
    """Tell the running step's surface how far the check has got (a short phrase, no trailing stop)."""
    receiver = _receiver.get()
    if receiver is not None:
        receiver(text)


@contextmanager
def reporting_to(receiver: Receiver) -> Iterator[None]:
    """Within the block, ``report`` goes to ``receiver``."""
    token = _receiver.set(receiver)
    try:
        yield
    finally:
        _receiver.reset(token)


class Counter:
    """``done of total`` for work that finishes piece by piece (a sweep over regions)."""

    def __init__(self, total: int, what: str) -> None:
        self.total, self.what, self.done = total, what, 0
        report(f"0 of {total} {what}")

    def tick(self) -> None:
        self.done += 1
        report(f"{self.done} of {self.total} {self.what}")
