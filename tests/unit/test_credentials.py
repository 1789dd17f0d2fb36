"""AWS credentials resolved once, in the foreground: what is missing is one line with the fix, and an
MFA code is asked for before the walk (never inside a worker thread)."""

from __future__ import annotations

import asyncio
import io
import threading
from pathlib import Path

import pytest

from maildoctor.clients import credentials
from maildoctor.clients.aws import AwsClient, AwsError
from maildoctor.lab import Lab


@pytest.fixture
def aws_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty AWS configuration: no keys in the environment, no files, no instance metadata."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    credentials.forget()
    yield tmp_path
    credentials.forget()


def test_no_credentials_is_one_line_with_the_fix(aws_home: Path) -> None:
    resolved = credentials.resolve(None)
    assert resolved.session is None
    assert resolved.problem is not None and "\n" not in resolved.problem
    assert "AWS_PROFILE" in resolved.problem and "aws sso login --profile NAME" in resolved.problem


def test_an_unknown_profile_names_itself(aws_home: Path) -> None:
    assert credentials.resolve("nosuch").problem == (
        "AWS profile 'nosuch' is not in ~/.aws/config: check --profile or AWS_PROFILE"
    )


async def test_every_aws_call_then_fails_at_once_with_that_one_cause(aws_home: Path) -> None:
    client = AwsClient(profile=None, region="us-east-1", endpoint_url="http://127.0.0.1:9", timeout=5)
    with pytest.raises(AwsError) as caught:
        await client.call("sesv2", "GetAccount")
    assert caught.value.code == "NoCredentials"
    assert str(caught.value) == credentials.resolve(None).problem


@pytest.mark.filterwarnings("ignore::getpass.GetPassWarning")  # no real terminal under pytest
def test_an_mfa_code_is_asked_for_in_the_foreground_once(
    aws_home: Path, lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    (aws_home / "credentials").write_text(
        "[base]\naws_access_key_id = AKIABASE000000000001\naws_secret_access_key = base\n"
    )
    (aws_home / "config").write_text(
        "[profile ops]\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/ops\n"
        "mfa_serial = arn:aws:iam::123456789012:mfa/alice\nregion = us-east-1\n"
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL", lab.aws.endpoint_url)  # STS AssumeRole is answered by the lab
    asked: list[str] = []

    class Terminal(io.StringIO):
        """What the operator types at the MFA prompt (botocore reads it through getpass)."""

        def readline(self, *args: object) -> str:
            asked.append(threading.current_thread().name)
            return "123456\n"

    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setenv("TERM", "dumb")
    resolved = credentials.resolve("ops")
    assert resolved.problem is None and resolved.method == "assume-role"
    assert asked == [threading.main_thread().name]  # now, in the foreground
    client = AwsClient(profile="ops", region="us-east-1", endpoint_url=lab.aws.endpoint_url, timeout=5)
    answer = asyncio.run(client.call("sts", "GetCallerIdentity"))
    assert answer["Account"] and asked == [threading.main_thread().name]  # not asked again in a worker


def test_whether_resolving_can_ask_the_terminal_is_read_from_the_config_file(
    aws_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The TUI resolves credentials before its first frame only when that can prompt (an MFA code, a
    credential_process); otherwise beside it. A config that cannot be read counts as one that can."""
    assert credentials.may_prompt(None) is False  # no config file
    (aws_home / "config").write_text(
        "[default]\nregion = us-east-1\n"
        "[profile ops]\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/ops\n"
        "mfa_serial = arn:aws:iam::123456789012:mfa/alice\n"
        "[profile deploy]\nsource_profile = ops\nrole_arn = arn:aws:iam::123456789012:role/deploy\n"
        "[profile tool]\ncredential_process = /usr/local/bin/get-creds\n"
        "[profile plain]\nregion = eu-west-1\n"
    )
    assert [credentials.may_prompt(p) for p in (None, "plain", "ops", "deploy", "tool", "missing")] == [
        False, False, True, True, True, False,
    ]  # fmt: skip
    monkeypatch.setenv("AWS_PROFILE", "deploy")  # the profile boto3 would use
    assert credentials.may_prompt(None) is True
    (aws_home / "config").write_text("[profile broken\n")
    assert credentials.may_prompt("plain") is True
