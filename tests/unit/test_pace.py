"""The pace of AWS calls (maildoctor/clients/pace.py) and AwsError's reading of AWS's answers: pure parts."""

from __future__ import annotations

import asyncio
import itertools

from maildoctor.clients.aws import AwsError, Caller, RegionSet
from maildoctor.clients.pace import COOL_OFF, IN_A_ROW, MARGIN, Pace


async def slots(pace: Pace, n: int) -> list[float]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    out = []
    for _ in range(n):
        await pace.slot()
        out.append(loop.time() - started)
    return out


async def test_ses_is_not_paced_until_it_throttles_then_at_its_documented_rate() -> None:
    pace = Pace("ses")
    assert all(t < 0.05 for t in await slots(pace, 3))  # a walk's few calls go at once
    pace.throttled(paced=False, code="TooManyRequestsException")
    times = await slots(pace, 3)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= MARGIN / 1.0 - 0.02 for gap in gaps), gaps  # 1 call per second, a little wider


async def test_concurrent_callers_queue_for_their_slots() -> None:
    pace = Pace("cloudtrail")  # paced from the first call, 2 a second
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def one() -> float:
        await pace.slot()
        return loop.time() - started

    times = sorted(await asyncio.gather(*(one() for _ in range(4))))
    assert times[0] < 0.05 and times[3] >= 3 * MARGIN / 2.0 - 0.02, times


async def test_only_paced_throttles_count_towards_an_outage_which_is_probed_again_later() -> None:
    pace = Pace("ses")
    for _ in range(IN_A_ROW + 2):  # a burst before pacing began: not an outage
        pace.throttled(paced=False, code="TooManyRequestsException")
    assert pace.paced and not pace.refuses()
    for _ in range(IN_A_ROW):
        pace.throttled(paced=True, code="TooManyRequestsException")
    assert pace.refuses()
    pace._stuck_at -= COOL_OFF  # the cool-off has passed: one probe is let through
    assert not pace.refuses()
    pace.throttled(paced=True, code="TooManyRequestsException")
    assert pace.refuses()  # throttled again: an outage again
    pace.answered()
    assert not pace.refuses()


def error(code: str, message: str = "") -> AwsError:
    return AwsError("sesv2", "GetAccount", code, message, "eu-west-1")


def test_errors_are_told_apart_the_way_the_operator_acts_on_them() -> None:
    scp = error(
        "AccessDeniedException",
        "User: arn:aws:iam::111122223333:user/ops is not authorized to perform: ses:GetAccount on resource: "
        "* with an explicit deny in a service control policy",
    )
    assert scp.kind == "explicit-deny" and scp.denied_by == "service control policy"
    assert "add it to the policy" not in str(scp) and "explicit deny in service control policy" in str(scp)
    plain = error("AccessDeniedException", "User: x is not authorized to perform: ses:GetAccount")
    assert plain.kind == "missing-permission" and "add it to the policy" in str(plain)
    token = error("UnrecognizedClientException", "The security token included in the request is invalid.")
    assert token.kind == "token-refused" and "not enabled in this account" in str(token)
    assert error("TooManyRequestsException").kind == "throttled"
    assert error("Throttling").kind == "throttled"
    assert error("ExpiredTokenException").kind == "expired-credentials"
    assert error("NotFoundException").kind == "not-found"
    assert error("InternalFailure").kind == "other"


def test_partition_comes_from_the_caller_arn() -> None:
    assert Caller("1", "arn:aws-us-gov:iam::1:user/x").partition == "aws-us-gov"
    assert Caller("1", "arn:aws-cn:sts::1:assumed-role/r/s").partition == "aws-cn"
    assert Caller("1", "").partition == "aws"


def test_disabled_regions_are_said_once() -> None:
    regions = RegionSet(("us-east-1",), ("af-south-1", "me-south-1"), "account:ListRegions", True)
    assert regions.note() == "2 regions not enabled in this account: not checked (af-south-1, me-south-1)"
    assert RegionSet(("us-east-1",), (), "account:ListRegions", True).note() is None


async def test_a_paced_slot_goes_to_the_waiting_call_of_lowest_rank() -> None:
    """The walk's next step (an earlier node of the flow) is served before checks started ahead of it,
    even when they asked first; equal ranks keep their order."""
    from maildoctor.clients.pace import Pace, priority

    ses = Pace("ses")
    ses.throttled(False, "TooManyRequestsException")  # paced from now on, 1 call per 1.1 s
    served: list[str] = []

    async def call(name: str, rank: int) -> None:
        with priority(rank):
            await ses.slot()
        served.append(name)

    first = asyncio.ensure_future(call("opening", 5))  # takes the slot open now
    await asyncio.sleep(0)
    waiting = [asyncio.ensure_future(call(n, r)) for n, r in [("ahead-a", 9), ("ahead-b", 9), ("walk", 2)]]
    await asyncio.gather(first, *waiting)
    assert served == ["opening", "walk", "ahead-a", "ahead-b"]
