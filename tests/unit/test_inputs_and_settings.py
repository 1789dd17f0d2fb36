from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from maildoctor.clients.settings import Settings, SettingsError, parse_host_port
from maildoctor.flow.model import InputSpec
from maildoctor.flow.templates import placeholders, render
from maildoctor.inputs import problem
from maildoctor.report import Redactor


def test_host_port_forms() -> None:
    assert parse_host_port("127.0.0.1:5353", 53, "DNS server") == ("127.0.0.1", 5353)
    assert parse_host_port("10.0.0.2", 53, "DNS server") == ("10.0.0.2", 53)
    assert parse_host_port("[::1]:5353", 53, "DNS server") == ("::1", 5353)
    with pytest.raises(SettingsError, match=r"DNS server: 'x' is not a port number"):
        parse_host_port("h:x", 53, "DNS server")


def test_options_win_over_environment() -> None:
    env = {
        "MAILDOCTOR_DNS_SERVER": "127.0.0.1:1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "MAILDOCTOR_STATE_DIR": "/tmp/s",
    }
    s = Settings.resolve(dns_server="127.0.0.1:2", env=env)
    assert s.dns_server == ("127.0.0.1", 2)
    assert s.region == "eu-west-1"
    assert s.state_dir == Path("/tmp/s")
    assert (
        Settings.resolve(env={"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "eu-west-1"}).region
        == "us-west-2"
    )


def test_missing_ca_file_is_named() -> None:
    with pytest.raises(SettingsError, match=r"SMTP CA file: /nope/ca\.pem does not exist"):
        Settings.resolve(smtp_ca_file="/nope/ca.pem", env={})


def test_input_validation_messages() -> None:
    assert problem(InputSpec(description="d", kind="email"), "admin@example.com") is None
    assert problem(InputSpec(description="d", kind="email"), "admin@") == "'admin@' is not an email address"
    assert problem(InputSpec(description="d", kind="region"), "us-east-1") is None
    assert (
        problem(InputSpec(description="d", kind="region"), "useast1")
        == "'useast1' is not an AWS region name (like us-east-1)"
    )
    assert problem(InputSpec(description="d", kind="access-key-id"), "AKIAIOSFODNN7EXAMPLE") is None
    assert problem(InputSpec(description="d", kind="access-key-id"), "akia123").startswith(
        "'akia123' is not an access key id"
    )
    assert problem(InputSpec(description="d", required=True), "") == "required"


def test_templates() -> None:
    assert placeholders("add {domain} and {spf.records_to_add} {{literal}}") == [
        "domain",
        "spf.records_to_add",
    ]
    facts = {"spf": {"records": ["a", "b"], "ok": True, "missing": None}}
    assert render(
        "{domain}: {spf.records} {spf.ok} {spf.missing} {{x}}", {"domain": "example.com"}, facts
    ) == ("example.com: a, b yes (unknown) {x}")


def test_list_facts_one_per_line_and_bad_specs_refused() -> None:
    facts = {"dkim": {"records_to_add": ["a. IN CNAME b.", "c. IN CNAME d."]}}
    assert render("{dkim.records_to_add:lines}", {}, facts) == "a. IN CNAME b.\nc. IN CNAME d."
    with pytest.raises(ValueError, match="only ':lines' may follow a name"):
        placeholders("{dkim.records_to_add:>10}")


def test_redactor_replaces_secrets_inside_strings_and_structures() -> None:
    redact = Redactor(["BSecretPassword123", ""])
    data = {"evidence": ["AUTH PLAIN ... BSecretPassword123 ..."], "n": 3}
    assert redact(data) == {"evidence": ["AUTH PLAIN ... [secret] ..."], "n": 3}


# --- inputs from an SES notification given as the bounce (issue 12, item 2) -------------------------

# written from the SES Developer Guide's notification contents: a bounce from eu-west-1
NOTIFICATION = """{"notificationType": "Bounce",
 "bounce": {"bounceType": "Permanent", "bounceSubType": "NoEmail", "timestamp": "2024-03-01T10:00:02.000Z",
            "bouncedRecipients": [{"emailAddress": "guest@example.net", "action": "failed", "status": "5.1.1",
                                   "diagnosticCode": "smtp; 550 5.1.1 no such user"}]},
 "mail": {"timestamp": "2024-03-01T10:00:00.000Z", "source": "admin@example.com",
          "sourceArn": "arn:aws:ses:eu-west-1:111122223333:identity/example.com",
          "sendingAccountId": "111122223333", "destination": ["guest@example.net"]}}"""


def _no_region() -> Settings:
    from dataclasses import replace

    return replace(Settings.resolve(env={}), region=None, region_source=None)


def test_a_notification_fills_the_inputs_not_given() -> None:
    from maildoctor.flow.load import find_flow, load_flow
    from maildoctor.inputs import resolve

    flow = load_flow(find_flow("ses-delivery"))
    values = resolve(flow, {"bounce": NOTIFICATION}, _no_region(), {})
    assert (values["sender"], values["recipient"], values["region"]) == (
        "admin@example.com",
        "guest@example.net",
        "eu-west-1",  # not the flow's default us-east-1
    )
    given = {"bounce": NOTIFICATION, "sender": "ops@example.org", "recipient": "x@example.org"}
    values = resolve(flow, given, _no_region(), {"MAILDOCTOR_INPUT_REGION": "us-west-2"})
    assert (values["sender"], values["recipient"], values["region"]) == (
        "ops@example.org",
        "x@example.org",
        "us-west-2",
    )
    in_effect = resolve(
        flow, {"bounce": NOTIFICATION}, Settings.resolve(env={"AWS_REGION": "ap-south-1"}), {}
    )
    assert in_effect["region"] == "ap-south-1"  # --region / AWS_REGION is what the user gave


def test_a_bad_value_from_the_notification_says_where_it_came_from() -> None:
    from maildoctor.flow.load import find_flow, load_flow
    from maildoctor.inputs import InputError, resolve

    flow = load_flow(find_flow("ses-delivery"))
    redacted = NOTIFICATION.replace('"admin@example.com"', '"xxx@xxx"')
    with pytest.raises(
        InputError, match=r"input 'sender' \(from the SES notification\): 'xxx@xxx' is not an"
    ):
        resolve(flow, {"bounce": redacted}, _no_region(), {})
    with pytest.raises(InputError, match=r"input 'sender': required"):  # a DSN names no sender input
        resolve(flow, {"bounce": "550 5.1.1 no such user"}, _no_region(), {})


def test_run_without_a_sender_takes_it_from_the_notification(
    load: Callable[[str], object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from click.testing import CliRunner

    from maildoctor.cli import main

    load("all-clear")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    path = tmp_path / "bounce.json"
    sns = {"Type": "Notification", "MessageId": "m-1", "Message": NOTIFICATION}
    path.write_text(json.dumps(sns), encoding="utf-8")
    args = ["run", "ses-delivery", "--set", f"bounce=@{path}", "--set", "pathway=api", "--format", "json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (0, 1, 3), (result.exit_code, result.output)
    shown = json.loads(result.stdout)["inputs"]
    assert (shown["sender"], shown["recipient"], shown["region"]) == (
        "admin@example.com",
        "guest@example.net",
        "eu-west-1",
    )
