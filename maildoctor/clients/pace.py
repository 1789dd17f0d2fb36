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

DOCUMENTED_RATE = {"ses": 1.0, "cloudtrail": 2.0}  # requests per second, per account and region
PACED_FROM_START = frozenset({"cloudtrail"})
DEFAULT_RATE = 1.0  # a service that throttles without a documented rate is paced at this
MARGIN = 1.1  # slots a little wider than the rate, so clock jitter does not meet the bucket's edge
IN_A_ROW = 3  # paced calls throttled one after another: not a rate any more, an outage
COOL_OFF = 15.0  # seconds an outage is believed before one call probes again


class Pace:
    """The slots of one service in one region. Reserving a slot is synchronous (one event loop), so
    concurrent callers queue in the order they asked."""

    def __init__(self, family: str) -> None:
        self.family = family
        self.rate = DOCUMENTED_RATE.get(family, DEFAULT_RATE)
        self.paced = family in PACED_FROM_START
        self.in_a_row = 0  # paced calls throttled since the last answer
        self.last_code = ""  # the throttling error code of the last throttled call
        self._stuck_at = 0.0
        self._next = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None

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
            self._loop, self._next = loop, 0.0
        now = loop.time()
        at = max(now, self._next)
        self._next = at + MARGIN / self.rate
        if at > now:
            await asyncio.sleep(at - now)
        return True

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
