"""Every lab fault over the seed incident and the all-clear world, walked as `maildoctor run ses-delivery
--format json` would be: bounded in time, one JSON object, no traceback, CONTRACT.md's exit code, the
cause in `unchecked` (or, for SMTP, a finding that names it), the layers the fault does not touch still
checked, and the transcript intact and exportable."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from maildoctor.cli import main
from tests.flows.test_ses_delivery import invoke_walk

TIMEOUT = "1.5"  # seconds per network answer: the sweep stays short; the walk's own bound is 180 s
BOUND = 30.0  # seconds one faulty walk may take here (throttling: every AWS call backs off once)

AWS_ONLY = ("account", "identity", "suppression")
DNS_ONLY = ("spf", "dmarc")
# fault → (the layer it hits, words one of which its cause says in `unchecked` or in the finding)
FAULTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "aws-down": ("aws", ("EndpointConnectionError",)),
    "aws-hang": ("aws", ("ReadTimeoutError", "no answer within")),
    "aws-throttle": ("aws", ("Throttling", "TooManyRequests")),
    "aws-deny:ses:*": ("aws", ("not allowed to call ses:",)),
    "aws-scp-deny:ses:*": ("aws", ("explicit deny in service control policy",)),
    "aws-deny:iam:GetAccessKeyLastUsed": ("aws-key", ("not allowed to call iam:GetAccessKeyLastUsed",)),
    "aws-500": ("aws", ("InternalFailure", "ServiceFailure")),
    "aws-503": ("aws", ("ServiceUnavailable",)),
    "aws-slow:200": ("none", ()),
    "dns-timeout": ("dns", ("timeout", "answered no query", "no reply")),
    "dns-servfail": ("dns", ("SERVFAIL",)),
    "dns-truncate": ("none", ()),  # resolvers retry over TCP, which answers
    "dns-truncate-notcp": ("dns", ("SERVFAIL", "EOF", "error", "timeout")),
    "dns-slow:200": ("none", ()),
    "smtp-refused": ("smtp", ("refused",)),
    "smtp-no-greeting": ("smtp", ("timeout", "no greeting", "did not", "no answer")),
    "smtp-421": ("smtp", ("421",)),
    "smtp-drop-after-ehlo": ("smtp", ("closed", "disconnect")),
    "smtp-drop-after-auth": ("smtp", ("closed", "disconnect")),
    "smtp-no-starttls": ("smtp", ("STARTTLS",)),
    "smtp-untrusted-cert": ("smtp", ("certificate", "TLS")),
    "smtp-slow:200": ("none", ()),
}


def run_walk(scenario, monkeypatch, tmp_path) -> tuple[int, str, str, float]:
    started = time.monotonic()
    result = invoke_walk(scenario, monkeypatch, tmp_path, "json", "--timeout", TIMEOUT)
    return result.exit_code, result.stdout, result.stderr, time.monotonic() - started


def contract_exit(report: dict) -> int:
    if report["findings"]:
        return 1
    return 0 if report["diagnosis"]["code"] == "all-clear" else 3


# Each fault over both worlds; a late answer (layer "none") only over the seed incident: it changes no
# verdict, so one world shows that it is waited for.
CASES = [
    (name, world)
    for name, (layer, _) in FAULTS.items()
    for world in ("seed-incident", "all-clear")
    if layer != "none" or world == "seed-incident"
]


@pytest.mark.parametrize(("name", "scenario_name"), CASES)
def test_every_fault_is_survived(name, scenario_name, load, fault, state_dir, tmp_path, monkeypatch) -> None:
    scenario = load(scenario_name)
    fault(name)
    code, out, err, took = run_walk(scenario, monkeypatch, tmp_path)
    assert took < BOUND, f"{name}: {took:.1f}s"
    assert "Traceback" not in out + err
    report = json.loads(out)  # exactly one JSON object on stdout
    assert code == contract_exit(report), (code, report["diagnosis"]["code"])
    steps = {s["node"]: s for s in report["steps"]}
    unchecked = {u["node"]: u["reason"] for u in report["unchecked"]}
    layer, words = FAULTS[name]

    def said(text: str) -> bool:
        return any(w.lower() in text.lower() for w in words)

    if layer == "none":  # late answers are still answers: the world's own diagnosis
        assert report["diagnosis"]["code"] == scenario.expect
    elif layer in ("aws", "aws-key"):
        touched = ("key",) if layer == "aws-key" else AWS_ONLY
        assert touched[0] in unchecked and said(unchecked[touched[0]]), unchecked
        for node in DNS_ONLY:
            assert steps[node]["status"] == "pass", (node, steps[node]["summary"])
    elif layer == "dns":
        assert any(node in unchecked and said(unchecked[node]) for node in DNS_ONLY), unchecked
        for node in AWS_ONLY:
            assert steps[node]["status"] in ("pass", "skipped"), (node, steps[node]["summary"])
    else:  # smtp: the live login says why it could not log in, as a finding or as not checked
        login = steps["login"]
        assert login["status"] in ("fail", "error", "warn") and said(login["summary"]), login["summary"]
        for node in (*AWS_ONLY, *DNS_ONLY):
            assert steps[node]["status"] in ("pass", "skipped"), (node, steps[node]["summary"])
    if scenario_name == "all-clear" and layer != "none":
        assert report["diagnosis"]["code"] != "all-clear"  # never all clear on evidence it did not get
    exported = CliRunner().invoke(main, ["transcript", "export", "latest", "--format", "json"])
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.stdout)["diagnosis"]["code"] == report["diagnosis"]["code"]
