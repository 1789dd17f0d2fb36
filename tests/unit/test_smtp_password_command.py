"""`maildoctor smtp-password` against the published vectors (ses-facts.md), the secret from stdin."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from maildoctor.cli import main


@pytest.mark.parametrize(
    ("secret", "region", "expected"),
    [
        ("some+secret+key", "eu-central-1", "BMXhUYlu5Z3gSXVQORxlVa7XPaz91aGWdfHxvkOZdWZ2"),
        (
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "us-east-2",
            "BMPPgbAHoFVbze1Ud0oA5uNdXRwUXUZ+qOwphGJbl/cS",
        ),
    ],
)
def test_derives_from_stdin(secret: str, region: str, expected: str) -> None:
    result = CliRunner().invoke(main, ["smtp-password", "--region", region], input=secret + "\n")
    assert result.exit_code == 0
    assert result.stdout == expected + "\n"


def test_a_real_process_reads_the_secret_from_a_pipe_not_argv() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "maildoctor", "smtp-password", "--region", "us-west-1"],
        input="another+secret+key\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0
    assert proc.stdout.strip() == "BKVmjjMDFk/qqw8EROW99bjCS65PF8WKvK5bSr4Y6EqF"


def test_refuses_a_key_id_and_a_missing_region(monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(
        main, ["smtp-password", "--region", "us-east-1"], input="AKIAIOSFODNN7EXAMPLE\n"
    )
    assert result.exit_code == 2
    assert "that is an access key id; give the secret access key" in result.output
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    result = CliRunner().invoke(main, ["smtp-password"], input="x\n")
    assert result.exit_code == 2
    assert "--region is needed" in result.output
