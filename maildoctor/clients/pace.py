"""How fast maildoctor calls AWS: one pace per service and region, shared by every check of a walk.

AWS throttles per account and region: SES every action other than sending at 1 request per second,
CloudTrail LookupEvents at 2 per second (SES quotas page; botocore's CloudTrail model). A service whose
limit binds from the first call (CloudTrail: a history lookup pages many times) is paced from the start.
Any other is paced only once it has been throttled — a walk's few SES calls usually pass — and from then
on at its documented rate, so a throttled call waits for its slot and is sent again instead of being
reported. Only throttling that goes on even at that pace (``IN_A_ROW`` paced calls in a row) is taken for
what it is, an outage: calls then fail at once for ``COOL_OFF`` seconds, and the next one after that
probes again.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

DOCUMENTED_RATE = {"ses": 1.0, "cloudtrail": 2.0}  # requests per second, per account and region
PACED_FROM_START = frozenset({"cloudtrail"})
DEFAULT_RATE = 1.0  # a service that throttles without a documented rate is paced at this
MARGIN = 1.1  # slots a little wider than the rate, so clock jitter does not meet the bucket's edge
IN_A_ROW = 3  # paced calls throttled one after another: not a rate any more, an outage
COOL_OFF = 15.0  # seconds an outage is believed before one call probes again


# Whose call goes first when calls wait for slots: the walk sets each check's place in its flow, so that the
# step the walk shows next (an earlier node) is served before the checks started ahead of it; among equals,
# the order they asked in.
@dataclass
class Rank:
    """A waiting call's rank. A read several checks share (a memoized read) takes the best rank of all
    who wait for it: ``lower`` when one more joins."""

    value: int

    def lower(self, to: int) -> None:
        self.value = min(self.value, to)


_priority: ContextVar[Rank | None] = ContextVar("maildoctor_pace_priority", default=None)


def current_rank() -> int:
    rank = _priority.get()
    return rank.value if rank is not None else 0


@contextmanager
def priority(rank: int | Rank) -> Iterator[None]:
    """Within the block (and the tasks started in it), calls wait for slots with this rank (lower first)."""
    token = _priority.set(rank if isinstance(rank, Rank) else Rank(rank))
    try:
        yield
    finally:
        _priority.reset(token)


class Pace:
    """The slots of one service in one region, given one at a time (one event loop) to the waiting call
    of lowest rank (see ``priority``), first come first served among equal ranks."""

    def __init__(self, family: str) -> None:
        self.family = family
        self.rate = DOCUMENTED_RATE.get(family, DEFAULT_RATE)
        self.paced = family in PACED_FROM_START
        self.in_a_row = 0  # paced calls throttled since the last answer
        self.last_code = ""  # the throttling error code of the last throttled call
        self._stuck_at = 0.0
        self._next = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: list[tuple[Rank, int, asyncio.Future[None]]] = []  # a few dozen at most
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    def refuses(self) -> bool:
        """True while throttling goes on at the documented rate (an outage): the call fails at once."""
        if self.in_a_row < IN_A_ROW:
            return False
        if asyncio.get_running_loop().time() - self._stuck_at < COOL_OFF:
            return True
        self.in_a_row = IN_A_ROW - 1  # one probe: throttled again, it is an outage again
        return False

    async def slot(self) -> bool:
        """Wait for this call's turn; True when the call is paced (it waited for a slot, maybe 0 s)."""
        if not self.paced:
            return False
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (a new walk in a test, the TUI's re-run) starts afresh
            self._loop, self._next, self._waiting, self._timer = loop, 0.0, [], None
        turn: asyncio.Future[None] = loop.create_future()
        self._waiting.append((_priority.get() or Rank(0), next(self._order), turn))
        if self._timer is None:  # else the next slot is already awaited, and goes to the best caller then
            self._give(loop)
        await turn
        return True

    def _give(self, loop: asyncio.AbstractEventLoop) -> None:
        """Give the open slot to the best waiting call, then wait for the next slot if calls are left."""
        self._timer = None
        now = loop.time()
        if now < self._next:  # no slot open yet: come back when it is
            self._timer = loop.call_at(self._next, self._give, loop)
            return
        self._waiting = [
            entry for entry in self._waiting if not entry[2].done()
        ]  # callers cancelled meanwhile
        if self._waiting:
            # ranks can change while waiting (Rank.lower): the best is chosen when the slot opens
            best = min(self._waiting, key=lambda entry: (entry[0].value, entry[1]))
            self._waiting.remove(best)
            best[2].set_result(None)
            self._next = now + MARGIN / self.rate
        if self._waiting:
            self._timer = loop.call_at(self._next, self._give, loop)

    def answered(self) -> None:
        self.in_a_row = 0

    def throttled(self, paced: bool, code: str) -> None:
        """A call was throttled: pace from now on; count it when it was already paced."""
        self.paced = True
        self.last_code = code
        if paced:
            self.in_a_row += 1
            if self.in_a_row >= IN_A_ROW:
                self._stuck_at = asyncio.get_running_loop().time()
