"""Read-only by construction: the AWS client's allow-list is exactly the reads the checks make and
declare, it refuses anything else before any network traffic, and every shipped flow walked over every
lab scenario makes only allowed reads, each covered by `maildoctor iam-policy`, none of it unused."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import botocore.session
import pytest
from click.testing import CliRunner

import maildoctor
from maildoctor.checks.registry import default_registry
from maildoctor.cli import main
from maildoctor.clients.aws import READ_OPERATIONS, AwsClient, NotReadOnly, action_of, allowed_actions
from maildoctor.flow.load import builtin_flow_paths, load_flow
from maildoctor.lab import Lab
from maildoctor.lab.scenario import Scenario, scenario_paths
from maildoctor.ses_events import parse_ses_event

PACKAGE = Path(maildoctor.__file__).parent
Load = Callable[[str], Scenario]  # the `load` fixture
READ_PREFIXES = ("Get", "List", "Describe", "LookupEvents", "SimulatePrincipalPolicy")
MUTATING_PREFIXES = ("Create", "Delete", "Update", "Put", "Send", "Attach", "Detach", "Set", "Tag", "Untag",
                     "Add", "Remove", "Enable", "Disable", "Start", "Stop", "Modify", "Reset", "Upload",
                     "Change", "Deactivate", "Register", "Deregister", "Import", "Associate",
                     "Disassociate", "Cancel", "Restore", "Rotate", "Verify")  # fmt: skip
# Writes a check must never make, across the services maildoctor talks to (the first four: the brief's).
REFUSED = [
    ("iam", "DeleteAccessKey"),
    ("sesv2", "SendEmail"),
    ("sesv2", "PutSuppressedDestination"),
    ("iam", "CreateAccessKey"),
    ("iam", "UpdateAccessKey"),
    ("iam", "AttachUserPolicy"),
    ("ses", "SendRawEmail"),
    ("sesv2", "DeleteSuppressedDestination"),
    ("sesv2", "PutAccountSendingAttributes"),
    ("sesv2", "CreateEmailIdentity"),
    ("cloudtrail", "StopLogging"),
    ("cloudwatch", "PutMetricAlarm"),
    ("sts", "AssumeRole"),
    ("iam", "delete_access_key"),  # the snake-case spelling does not slip past either
    ("ses", "GetAccount"),  # an allowed name under another service is another operation
    ("sesv2", ""),
]


def allowed_operations() -> set[tuple[str, str]]:
    return {(service, op) for service, ops in READ_OPERATIONS.items() for op in ops}


def policy_actions(*flows: str) -> set[str]:
    result = CliRunner().invoke(main, ["iam-policy", *flows])
    assert result.exit_code == 0, result.output
    return {a for statement in json.loads(result.stdout)["Statement"] for a in statement["Action"]}


# --- the allow-list itself ---------------------------------------------------------------------------


def test_the_allow_list_holds_only_reads_that_botocore_knows() -> None:
    session = botocore.session.get_session()
    for service, operation in sorted(allowed_operations()):
        assert operation.startswith(READ_PREFIXES) or (service, operation) == ("sts", "GetCallerIdentity"), (
            service,
            operation,
        )
        assert not operation.startswith(MUTATING_PREFIXES), (service, operation)
        assert operation in session.get_service_model(service).operation_names, (service, operation)


def test_every_declared_action_is_allowed_and_every_allowed_one_declared() -> None:
    registry = default_registry()
    allowed = allowed_actions()
    declared: set[str] = set()
    for name in registry:
        actions = set(registry[name].iam_actions)
        assert actions <= allowed, f"{name} declares {sorted(actions - allowed)}, not on the allow-list"
        declared |= actions
    assert declared == allowed, f"allowed but declared by no check: {sorted(allowed - declared)}"
    # and the shipped flows use every check that reads AWS: the policy of all flows is the allow-list
    assert policy_actions() == allowed


def _calls_in_source() -> Iterator[tuple[str, int, str | None, str | None]]:
    """Every ``<something>.aws.call(...)`` / ``aws.call(...)`` outside the lab, and the AWS client's own
    ``self.call(...)``: (file, line, service, operation)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        if "lab" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            target = node.func.value
            named = target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")
            own = named == "self" and path.name == "aws.py"  # the client's own reads (ListRegions …)
            if node.func.attr != "call" or not (named == "aws" or own):
                continue
            literal = [a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else None
                       for a in node.args[:2]]  # fmt: skip
            service, operation = [*literal, None, None][:2]
            yield str(path.relative_to(PACKAGE)), node.lineno, service, operation


def test_the_allow_list_is_exactly_what_the_checks_call() -> None:
    calls = list(_calls_in_source())
    assert len(calls) >= len(allowed_operations())
    unnamed = [(f, line) for f, line, s, op in calls if s is None or op is None]
    assert not unnamed, (
        f"AWS calls whose service and operation are not literals (cannot be checked): {unnamed}"
    )
    called = {(s, op) for _, _, s, op in calls}
    assert called == allowed_operations(), {
        "called, not allowed": sorted(called - allowed_operations()),
        "allowed, never called": sorted(allowed_operations() - called),
    }


def test_only_the_aws_client_builds_boto3_clients() -> None:
    """The allow-list guards `AwsClient.call`; nothing else in maildoctor (the lab aside) may reach AWS."""
    builders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if "lab" in rel.parts:
            continue
        text = path.read_text(encoding="utf-8")
        if ("boto3" in text or "botocore" in text) and (".client(" in text or ".resource(" in text):
            builders.append(str(rel))
    assert builders == ["clients/aws.py"]


def test_security_md_names_every_allowed_operation() -> None:
    text = (PACKAGE.parent / "SECURITY.md").read_text(encoding="utf-8")
    rows = [line.split("|")[2] for line in text.splitlines() if line.strip().startswith("|")]
    named = {op for row in rows for op in re.findall(r"`([A-Z][A-Za-z]+)`", row)}
    assert named == {op for _, op in allowed_operations()}, named ^ {op for _, op in allowed_operations()}


# --- refused before any traffic ----------------------------------------------------------------------


def test_a_write_is_refused_before_anything_is_sent(lab: Lab, load: Load) -> None:
    load("all-clear")
    client = AwsClient(profile=None, region="us-east-1", endpoint_url=lab.aws.endpoint_url, timeout=5.0)

    async def attempt() -> list[str]:
        refused = []
        for service, operation in REFUSED:
            with pytest.raises(NotReadOnly) as caught:
                await client.call(
                    service, operation, UserName="ses-smtp-user", AccessKeyId="AKIAEXAMPLENEWKEY002"
                )
            refused.append(str(caught.value))
        return refused

    lab.aws.clear_operations()
    messages = asyncio.run(attempt())
    assert lab.aws.operations() == []  # the lab saw no request at all
    assert client._clients == {}  # and no boto3 client was even built
    assert all("refused" in m and "allow-list" in m for m in messages)
    assert "DeleteAccessKey" in messages[0]
    # the control: an allowed read through the same client does reach the lab, and is recorded
    asyncio.run(client.call("sesv2", "GetAccount", region="us-east-1"))
    assert lab.aws.operations() == [("sesv2", "GetAccount", "us-east-1")]


def test_a_write_is_refused_without_credentials_or_a_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        client = AwsClient(
            profile=None, region="us-east-1", endpoint_url=f"http://127.0.0.1:{port}", timeout=1.0
        )
        for service, operation in REFUSED[:4]:
            with pytest.raises(NotReadOnly):
                asyncio.run(client.call(service, operation))
        with pytest.raises(BlockingIOError):  # nobody connected
            listener.accept()


# --- every flow over every scenario ------------------------------------------------------------------


def _walk(flow: str, scenario: Scenario, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[int, str]:
    """`maildoctor run FLOW --format json` with every input the scenario gives that the flow takes."""
    spec = load_flow(next(p for p in builtin_flow_paths() if p.stem == flow))
    given = scenario.walk_inputs()
    if flow == "dns-auth":  # its inputs, from the scenario's sending domain
        event = parse_ses_event(given.get("bounce", ""))  # a scenario may name its sender only there
        sender = given.get("sender") or (event.sender if event else "")
        domain = sender.rpartition("@")[2]
        identity = scenario.identity(scenario.region, domain)
        given = {"domain": domain, "region": given.get("region", scenario.region)}
        if identity and identity.dkim and identity.dkim.tokens:
            given["dkim_tokens"] = ",".join(identity.dkim.tokens)
        if identity and identity.mail_from:
            given["mail_from_domain"] = identity.mail_from.domain
    args = ["run", flow, "--format", "json"]
    for key, value in given.items():
        if key not in spec.inputs or not value:
            continue
        if spec.inputs[key].secret:
            monkeypatch.setenv(f"MAILDOCTOR_INPUT_{key.upper()}", value)
        elif "\n" in value:
            path = tmp_path / f"{flow}-{scenario.name}-{key}.txt"
            path.write_text(value, encoding="utf-8")
            args += ["--set", f"{key}=@{path}"]
        else:
            args += ["--set", f"{key}={value}"]
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.stdout


def read_only_problems(made: list[tuple[str, str, str]], flow: str, where: str, used: set[str]) -> list[str]:
    """What is wrong with the AWS operations one walk of ``flow`` made (and the actions, into ``used``)."""
    problems, allowed, policy = [], allowed_operations(), policy_actions(flow)
    for service, operation, region in made:
        action = action_of(service, operation)
        if (service, operation) not in allowed:
            problems.append(f"{where}: {service} {operation} in {region} is not on the allow-list")
        if operation.startswith(MUTATING_PREFIXES) or not operation:
            problems.append(f"{where}: {service} {operation!r} in {region} is not a read")
        if action not in policy:
            problems.append(f"{where}: {action} is not in `maildoctor iam-policy {flow}`")
        used.add(action)
    return problems


def test_every_flow_over_every_scenario_only_reads_what_its_policy_allows(
    lab: Lab, load: Load, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """ses-delivery is walked over every scenario, and checked the same way, by
    tests/flows/test_ses_delivery.py (one walk per scenario serves both); here every other flow."""
    flows = sorted(p.stem for p in builtin_flow_paths() if p.stem != "ses-delivery")
    assert "dns-auth" in flows
    policies = {flow: policy_actions(flow) for flow in flows}
    used: dict[str, set[str]] = {flow: set() for flow in flows}
    problems: list[str] = []
    walks = operations = 0
    for path in scenario_paths():
        scenario = load(path.stem)  # once: every flow only reads, so the state stays as loaded
        for flow in flows:
            for name in [n for n in os.environ if n.startswith("MAILDOCTOR_INPUT_")]:
                monkeypatch.delenv(name)  # no secret left over from the walk before
            lab.aws.clear_operations()
            code, out = _walk(flow, scenario, monkeypatch, tmp_path)
            made = lab.aws.operations()
            walks += 1
            operations += len(made)
            where = f"{flow} over {scenario.name}"
            if code not in (0, 1, 3):
                problems.append(f"{where}: exit {code}: {out[-300:]}")
            json.loads(out)  # one JSON object, whatever the walk found
            problems += read_only_problems(made, flow, where, used[flow])
    assert not problems, "\n".join(problems)
    assert walks == len(scenario_paths()) * len(flows)
    for flow in flows:
        assert used[flow] == policies[flow], (
            f"{flow}: policy actions no walk made: {policies[flow] - used[flow]}"
        )
    print(f"\n{walks} walks, {operations} AWS operations, all reads on the allow-list and in the policy")
