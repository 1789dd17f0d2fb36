"""`maildoctor iam-policy`: least privilege, and read-only by construction."""

from __future__ import annotations

import json

from click.testing import CliRunner

from maildoctor.checks.registry import default_registry
from maildoctor.cli import main
from maildoctor.policy import READ_ONLY_PREFIXES


def test_every_declared_action_is_read_only() -> None:
    for spec in default_registry().values():
        for action in spec.iam_actions:
            service, _, verb = action.partition(":")
            assert service and verb.startswith(READ_ONLY_PREFIXES), f"{spec.name} declares {action}"


def test_policy_for_ses_delivery_names_what_the_walk_calls() -> None:
    result = CliRunner().invoke(main, ["iam-policy", "ses-delivery"])
    assert result.exit_code == 0
    policy = json.loads(result.output)
    (statement,) = policy["Statement"]
    actions = set(statement["Action"])
    assert {
        "ses:GetEmailIdentity", "ses:GetAccount", "ses:GetSuppressedDestination",
        "iam:GetAccessKeyLastUsed", "iam:ListAccessKeys", "iam:SimulatePrincipalPolicy",
        "cloudtrail:LookupEvents", "cloudwatch:GetMetricStatistics",
    } <= actions  # fmt: skip
    assert not any(a.split(":")[1].startswith(("Put", "Create", "Delete", "Update", "Send")) for a in actions)


def test_dns_flow_needs_no_aws_permission() -> None:
    result = CliRunner().invoke(main, ["iam-policy", "dns-auth"])
    assert json.loads(result.output)["Statement"] == []
