"""Never confidently wrong: each case a new user met on the seed incident and the all-clear world, walked
headless against the lab as `maildoctor run ses-delivery` would be."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from maildoctor.flow.load import builtin_flows_dir, load_flow
from maildoctor.flow.model import RemedyNode
from maildoctor.flow.templates import placeholders
from tests.flows.test_ses_delivery import walk

AWS_NODES = ("account", "identity", "dkim", "mail-from", "alignment", "suppression", "key")
USER_UNKNOWN = (
    "Reporting-MTA: dns; mx.example.net\n\n"
    "Final-Recipient: rfc822; guest@example.net\n"
    "Action: failed\n"
    "Status: 5.1.1\n"
    "Remote-MTA: dns; mx.example.net\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <guest@example.net> User unknown\n"
)


def no_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an instance metadata service


def report_of(scenario, monkeypatch, tmp_path, **changes: str | None) -> tuple[int, dict]:
    """Walk ``scenario`` with some of its inputs changed (None: left out)."""
    inputs = {k: v for k, v in scenario.walk_inputs().items() if changes.get(k, v) is not None}
    inputs |= {k: v for k, v in changes.items() if v is not None}
    code, out = walk(scenario.model_copy(update={"inputs": inputs}), monkeypatch, tmp_path)
    return code, json.loads(out)


def steps_of(report: dict) -> dict[str, dict]:
    return {s["node"]: s for s in report["steps"]}


def test_no_aws_credentials_is_login_rejected_with_every_aws_layer_unchecked_for_one_cause(
    load, monkeypatch, tmp_path
) -> None:
    scenario = load("seed-incident")
    no_aws_credentials(monkeypatch, tmp_path)
    code, report = report_of(scenario, monkeypatch, tmp_path)
    assert code == 1
    assert report["diagnosis"]["code"] == "smtp-login-rejected"
    assert "is active" not in report["diagnosis"]["remedy"]  # no guess between stale and wrong
    unchecked = {u["node"]: u["reason"] for u in report["unchecked"]}
    assert set(AWS_NODES) <= set(unchecked)
    assert len({unchecked[n] for n in AWS_NODES}) == 1  # one cause, said once the same way
    assert unchecked["key"].startswith("no AWS credentials found: set AWS_PROFILE")
    assert steps_of(report)["spf"]["status"] == "pass"  # DNS still checked


def test_the_seed_bounce_without_a_user_name_is_login_rejected_naming_the_input(
    load, monkeypatch, tmp_path
) -> None:
    scenario = load("seed-incident")
    code, report = report_of(scenario, monkeypatch, tmp_path, smtp_username=None)
    assert code == 1
    assert report["diagnosis"]["code"] == "smtp-login-rejected"
    assert "--set smtp_username=AKIA…" in report["diagnosis"]["remedy"]
    assert "535 Authentication Credentials Invalid" in report["diagnosis"]["remedy"]


def test_a_user_unknown_dsn_fills_the_recipient_and_is_recipient_rejected(
    load, monkeypatch, tmp_path
) -> None:
    scenario = load("all-clear")
    code, report = report_of(
        scenario, monkeypatch, tmp_path, bounce=USER_UNKNOWN, recipient=None, pathway="api"
    )
    steps = steps_of(report)
    assert "recipient" not in report["inputs"]
    assert steps["suppression"]["status"] == "pass"  # checked, for the recipient the DSN names
    assert "guest@example.net" in steps["suppression"]["summary"]
    assert (code, report["diagnosis"]["code"]) == (1, "recipient-rejected")
    assert "550 5.1.1 <guest@example.net> User unknown" in report["diagnosis"]["remedy"]


def test_without_a_pathway_the_layers_that_need_none_are_checked_first(load, monkeypatch, tmp_path) -> None:
    scenario = load("all-clear")
    code, report = report_of(scenario, monkeypatch, tmp_path, pathway=None, bounce=None)
    assert code == 3
    steps = steps_of(report)
    for node in ("account", "identity", "dkim", "spf", "dmarc", "suppression"):
        assert steps[node]["status"] in ("pass", "skipped"), node
    assert report["steps"][-1]["node"] == "route"
    assert report["incomplete_reason"] == (
        "question 'route' needs an answer: set input 'pathway' to one of api, smtp, gmail-send-as"
    )


def test_an_all_clear_walk_with_the_aws_endpoint_down_is_inconclusive(load, monkeypatch, tmp_path) -> None:
    scenario = load("all-clear")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{probe.getsockname()[1]}")
    code, report = report_of(scenario, monkeypatch, tmp_path, pathway="api")
    assert (code, report["diagnosis"]["code"], report["findings"]) == (3, "inconclusive", [])
    assert {"account", "identity", "suppression"} <= {u["node"] for u in report["unchecked"]}


def test_no_remedy_of_the_main_flow_states_a_fact_of_a_step_that_could_not_check() -> None:
    """By construction: an errored step shows templates only its summary, outcome and status (the
    engine test proves it); here, that no remedy needs more than that from the step that led to it."""
    flow = load_flow(builtin_flows_dir() / "ses-delivery.yaml")
    leading: dict[str, set[str]] = {}
    for node_id in flow.nodes:
        for label, target in flow.routes(node_id).items():
            if label == "error" and isinstance(flow.nodes[target], RemedyNode):
                leading.setdefault(target, set()).add(node_id)
    for remedy_id, sources in leading.items():
        node = flow.nodes[remedy_id]
        assert isinstance(node, RemedyNode)
        used = {
            n.split(".", 1)[1] for n in placeholders(node.summary + node.remedy) if n.split(".")[0] in sources
        }
        assert used <= {"summary", "outcome", "step_status"}, (remedy_id, used)
    assert re.search(r"\{key\.(user|current_key)\}", flow.nodes["fix-login-unexplained"].remedy) is None
