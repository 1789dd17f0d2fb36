"""Which nodes a walk is sure to reach from a node (the engine starts their checks ahead), and which
placeholders can no longer change."""

from __future__ import annotations

import textwrap

from maildoctor.flow import reach
from maildoctor.flow.load import parse_flow_text
from maildoctor.flow.model import QuestionNode

# first → ask (a | b) → a: dmarc-a → join, b: join; join → loop back to ask or end
FLOW = textwrap.dedent("""\
    name: r
    title: Reach
    description: reach test
    inputs:
      domain: {description: d}
      how: {description: which way, kind: choice, choices: [a, b]}
    start: first
    nodes:
      first:
        kind: check
        title: First
        check: dns.spf
        args: {domain: "{domain}"}
        next: {pass: ask, missing: ask, invalid: ask, error: ask}
      ask:
        kind: question
        title: Which way?
        key: how
        prompt: Which way?
        options: [{value: a, label: A}, {value: b, label: B}]
        next: {a: only-a, b: join}
      only-a:
        kind: check
        title: On a only
        check: dns.dmarc
        args: {domain: "{domain}"}
        next: {pass: join, missing: join, invalid: join, error: join}
      join:
        kind: check
        title: Both ways
        check: dns.dmarc
        args: {domain: "{first.record|domain}"}
        next: {pass: done, missing: done, invalid: done, error: done}
      done:
        kind: end
        title: End
""")


def flow():
    return parse_flow_text(FLOW, "r.yaml")


def test_an_open_question_may_end_the_walk_so_nothing_behind_it_is_sure() -> None:
    assert reach.sure_nodes(flow(), "first", lambda q: None) == {"first", "ask"}


def test_a_settled_answer_makes_its_way_sure_and_where_ways_meet() -> None:
    assert reach.sure_nodes(flow(), "first", lambda q: "b") == {"first", "ask", "join", "done"}
    assert reach.sure_nodes(flow(), "first", lambda q: "a") == {"first", "ask", "only-a", "join", "done"}


def test_an_argument_is_final_only_when_no_step_or_answer_to_come_can_change_it() -> None:
    f = flow()
    before = reach.knowledge(f, {"domain": "example.com"}, {})
    assert before.final("{domain}") and not before.final("{first.record|domain}")  # first may give one
    after = reach.knowledge(f, {"domain": "example.com"}, {"first": {"record": None}})
    assert after.final("{first.record|domain}")  # first gave none: the input it falls back on is final
    assert not before.final("{how}") and reach.knowledge(f, {"how": "a"}, {}).final("{how}")
    question = f.nodes["ask"]
    assert isinstance(question, QuestionNode)
    assert reach.settled_answer(question, reach.knowledge(f, {"how": "c"}, {}), str) is None  # not an option
