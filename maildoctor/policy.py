"""The least-privilege IAM policy for a set of flows, built from the checks' declared actions."""

from __future__ import annotations

from typing import Any

from maildoctor.checks.registry import Registry, default_registry
from maildoctor.flow.model import CheckNode, Flow

# Everything a check may declare must be read-only: a guard against a check that would change AWS.
READ_ONLY_PREFIXES = ("Get", "List", "Describe", "LookupEvents", "Simulate")


def actions_for(flows: list[Flow], registry: Registry | None = None) -> list[str]:
    checks = registry if registry is not None else default_registry()
    actions: set[str] = set()
    for flow in flows:
        for node in flow.nodes.values():
            if isinstance(node, CheckNode) and node.check in checks:
                actions.update(checks[node.check].iam_actions)
    return sorted(actions)


def policy_for(flows: list[Flow]) -> dict[str, Any]:
    actions = actions_for(flows)
    statement: list[dict[str, Any]] = []
    if actions:
        statement.append({"Sid": "MaildoctorReadOnly", "Effect": "Allow", "Action": actions, "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": statement}
