"""Would an EventBridge rule's event pattern match an IAM access-key event of a given user?

EventBridge matches a pattern against an event field by field: every field the pattern names must match
(a field the pattern does not name matches anything); a list of values is an OR; an event field that is
a list matches when any of its items does; content filters (``prefix``, ``suffix``, ``anything-but``,
``equals-ignore-case``, ``exists``, ``wildcard``) test the value. The event judged is what CloudTrail
delivers for an IAM call (``source`` aws.iam, ``detail-type`` "AWS API Call via CloudTrail", in
us-east-1), of which only some fields are known ahead: a pattern on any other field (who made the call,
from where) is "cannot tell", never a guess. Pure functions, no AWS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

Verdict = Literal["match", "no-match", "unknown"]
KEY_EVENTS = ("CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey")
DETAIL_TYPE = "AWS API Call via CloudTrail"


def key_event(user: str, name: str, account: str | None = None, region: str = "us-east-1") -> dict[str, Any]:
    """The fields known ahead of the CloudTrail event of an IAM key call ``name`` on ``user``'s key."""
    event: dict[str, Any] = {
        "source": "aws.iam",
        "detail-type": DETAIL_TYPE,
        "region": region,
        "detail": {
            "eventSource": "iam.amazonaws.com",
            "eventName": name,
            "awsRegion": region,
            "requestParameters": {"userName": user},
        },
    }
    if account:
        event["account"] = account
    return event


def all_of(verdicts: Iterable[Verdict]) -> Verdict:
    """Every part must match: one no-match decides; else one unknown leaves it unknown."""
    seen = set(verdicts)
    if "no-match" in seen:
        return "no-match"
    return "unknown" if "unknown" in seen else "match"


def any_of(verdicts: Iterable[Verdict]) -> Verdict:
    """One part must match: one match decides; else one unknown leaves it unknown."""
    seen = set(verdicts)
    if "match" in seen:
        return "match"
    return "unknown" if "unknown" in seen else "no-match"


def matches(pattern: Any, event: Mapping[str, Any]) -> Verdict:
    """Whether ``pattern`` (an EventPattern, parsed) matches ``event`` (known fields only)."""
    if not isinstance(pattern, Mapping) or not pattern:
        return "unknown"  # not a pattern EventBridge would accept
    return all_of(_field(key, sub, event) for key, sub in pattern.items())


def _field(key: str, sub: Any, event: Mapping[str, Any]) -> Verdict:
    if key == "$or":
        if not isinstance(sub, list) or not sub:
            return "unknown"
        return any_of(matches(part, event) for part in sub)
    if key not in event:
        return "unknown"  # a field whose value is not known ahead (userIdentity, sourceIPAddress …)
    value = event[key]
    if isinstance(sub, Mapping):
        return matches(sub, value) if isinstance(value, Mapping) else "no-match"
    if isinstance(sub, list):
        values = value if isinstance(value, list) else [value]
        return any_of(_leaf(sub, v) for v in values) if values else "no-match"
    return "unknown"


def _leaf(allowed: list[Any], value: Any) -> Verdict:
    """A value against a pattern's list: equal to an item, or passing one of its content filters."""
    if not allowed:
        return "no-match"
    return any_of(_item(item, value) for item in allowed)


def _item(item: Any, value: Any) -> Verdict:
    if not isinstance(item, Mapping):
        return "match" if item == value else "no-match"
    if len(item) != 1:
        return "unknown"
    ((op, arg),) = item.items()
    text = value if isinstance(value, str) else None
    if op == "exists":
        return ("match" if arg is True else "no-match") if isinstance(arg, bool) else "unknown"
    if text is None:
        return "unknown"
    if op in ("prefix", "suffix"):
        return _affix(op, arg, text)
    if op == "equals-ignore-case" and isinstance(arg, str):
        return "match" if arg.lower() == text.lower() else "no-match"
    if op == "wildcard" and isinstance(arg, str):
        regex = "".join(".*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", arg))
        return "match" if re.fullmatch(regex, text) else "no-match"
    if op == "anything-but":
        return _anything_but(arg, text)
    return "unknown"  # numeric, cidr: not for these fields


def _affix(op: str, arg: Any, text: str) -> Verdict:
    fold = isinstance(arg, Mapping) and set(arg) == {"equals-ignore-case"}
    affix = arg["equals-ignore-case"] if fold else arg
    if not isinstance(affix, str):
        return "unknown"
    subject, affix = (text.lower(), affix.lower()) if fold else (text, affix)
    hit = subject.startswith(affix) if op == "prefix" else subject.endswith(affix)
    return "match" if hit else "no-match"


def _anything_but(arg: Any, text: str) -> Verdict:
    if isinstance(arg, str | int | float):
        return "no-match" if arg == text else "match"
    if isinstance(arg, list):
        return "no-match" if text in arg else "match"
    if isinstance(arg, Mapping) and len(arg) == 1:
        ((op, inner),) = arg.items()
        if op in ("prefix", "suffix"):
            inside = _affix(op, inner, text)
            return {"match": "no-match", "no-match": "match"}.get(inside, "unknown")  # type: ignore[return-value]
        if op == "equals-ignore-case":
            options = inner if isinstance(inner, list) else [inner]
            if all(isinstance(o, str) for o in options):
                return "no-match" if text.lower() in [o.lower() for o in options] else "match"
    return "unknown"


def user_verdict(pattern: Any, user: str, account: str | None = None) -> tuple[Verdict, list[str]]:
    """Whether a rule with ``pattern`` fires on some access-key event of ``user`` (CONTRACT.md: a rule
    that matches the user's key events), and the key events it matches."""
    per = {name: matches(pattern, key_event(user, name, account)) for name in KEY_EVENTS}
    return any_of(per.values()), [name for name, v in per.items() if v == "match"]
