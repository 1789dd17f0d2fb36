"""Checks started ahead of the walk change nothing a reader sees: the same steps in the same order,
with the same outcomes, summaries and findings as a walk that runs one check at a time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from maildoctor.checks.registry import default_registry
from maildoctor.clients import Clients
from maildoctor.clients.settings import Settings
from maildoctor.engine import StepFinished, StepStarted, Walk
from maildoctor.flow.load import find_flow, load_flow

# the seed; every layer passing; a walk that stops at an unanswered question (no bounce, no pathway);
# a finding early (the account) and one on the recipient; SES at 1 call/s; an SMTP failure; DNS findings
SCENARIOS = [
    "seed-incident", "all-clear", "fresh-account", "account-sending-paused", "recipient-suppressed",
    "ses-throttled", "smtp-unreachable", "dmarc-unaligned", "smtp-key-inactive",
]  # fmt: skip


def walk(values: dict[str, str], *, ahead: bool) -> tuple[list[tuple[Any, ...]], list[str], list[str]]:
    flow = load_flow(find_flow("ses-delivery"))
    events: list[str] = []
    w = Walk(
        flow,
        values,
        Clients(Settings.resolve()),
        ahead=ahead,
        listeners=[
            lambda e: (
                events.append(f"start {e.node}" if isinstance(e, StepStarted) else f"end {e.step.node}")
                if isinstance(e, StepStarted | StepFinished)
                else None
            )
        ],
    )
    asyncio.run(w.run())
    steps = [(s.node, s.kind, s.status, s.outcome, s.summary) for s in w.steps]
    return steps, [f.code for f in w.findings], events


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_walk_reads_the_same_with_checks_started_ahead(name: str, load) -> None:
    scenario = load(name)
    values = {k: v for k, v in scenario.walk_inputs().items() if v}
    alone = walk(values, ahead=False)
    ahead = walk(values, ahead=True)
    assert ahead[0] == alone[0]  # steps: order, outcome, status, summary
    assert ahead[1] == alone[1]  # findings
    assert ahead[2] == alone[2]  # the events the surfaces draw, in the same order


def test_without_a_bounce_the_smtp_layer_waits_for_the_question(load, lab) -> None:
    """The pathway question is open (nobody answers headless): nothing behind it may be started, so no
    IAM or CloudTrail call is made although their arguments are all given."""
    scenario = load("seed-incident")
    values = {k: v for k, v in scenario.walk_inputs().items() if v and k not in ("bounce", "pathway")}
    lab.aws.clear_operations()
    steps, _, _ = walk(values, ahead=True)
    assert steps[-1][0] == "route" and steps[-1][2] == "skipped"
    services = {service for service, _, _ in lab.aws.operations()}
    assert "sesv2" in services and not services & {"iam", "cloudtrail"}, services


def test_a_check_that_reads_earlier_steps_is_never_started_ahead() -> None:
    assert default_registry()["bounce.explained"].reads_earlier_steps
    assert not default_registry()["ses.suppression"].reads_earlier_steps
