from __future__ import annotations

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
