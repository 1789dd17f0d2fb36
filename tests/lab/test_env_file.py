"""`maildoctor lab` for scripts: `--fault list`, bad fault names, and `--env-file PATH` (CONTRACT.md): the
export lines written, mode 600, once every server listens, while the lab keeps serving; removed on stop.
The lab runs as a real process here, used only through what it prints and writes."""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import boto3
import dns.message
import dns.query
import dns.rcode
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from click.testing import CliRunner

from maildoctor.cli import main
from maildoctor.lab.envfile import export_lines, write_env_file
from maildoctor.lab.faults import KINDS

CONTRACT_VARIABLES = {
    "AWS_ENDPOINT_URL", "MAILDOCTOR_DNS_SERVER", "MAILDOCTOR_SMTP_ENDPOINT", "MAILDOCTOR_SMTP_CA_FILE",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
}  # fmt: skip
START_TIMEOUT = 30.0


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_fault_list_names_every_fault_with_its_description() -> None:
    code, out, err = cli("lab", "--fault", "list")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) == len(KINDS)
    for kind, line in zip(KINDS, lines, strict=True):
        assert line.split()[0] == kind.usage
        assert line.endswith(kind.description)


def test_demo_takes_the_same_fault_options() -> None:
    code, out, _ = cli("demo", "--fault", "list")
    assert code == 0 and out.splitlines()[0].startswith("aws-down ")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--fault", "aws-thrtle"], "maildoctor: unknown fault 'aws-thrtle' (did you mean 'aws-throttle'?)"),
        (["--fault", "aws-down", "--fault", "dns-slow:soon"], "maildoctor: fault 'dns-slow:soon': 'soon' is not"),
        (["--env-file", "/nonexistent-folder/lab.env"], "maildoctor: --env-file /nonexistent-folder/lab.env: the folder"),
    ],
)  # fmt: skip
def test_bad_options_are_one_line_and_exit_2(args: list[str], says: str) -> None:
    started = time.monotonic()
    code, out, err = cli("lab", *args)
    assert code == 2 and out == ""
    assert err.startswith(says) and err.count("\n") == 1 and "Traceback" not in err
    assert time.monotonic() - started < 5  # refused before any server starts


def test_a_folder_is_not_an_env_file(tmp_path: Path) -> None:
    code, _, err = cli("lab", "--env-file", str(tmp_path))
    assert code == 2 and "is a folder" in err


def test_latency_must_be_milliseconds() -> None:
    code, _, err = cli("lab", "--latency-dns", "-5")
    assert code == 2 and "--latency-dns" in err


def test_write_env_file_is_atomic_and_private(tmp_path: Path) -> None:
    target = tmp_path / "lab.env"
    target.write_text("export OLD=1\n")
    os.chmod(target, 0o644)
    lines = export_lines({"A": "x y", "B": "it's"})
    write_env_file(target, lines)
    assert target.read_text() == "export A='x y'\nexport B='it'\"'\"'s'\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lab.env"]  # no temporary file left


# --------------------------------------------------------------------------------------------------
# a real lab process


def wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not path.exists():
        assert proc.poll() is None, f"the lab exited with {proc.returncode}"
        assert time.monotonic() < deadline, f"{path} did not appear within {START_TIMEOUT:g}s"
        time.sleep(0.05)


def read_to_end(proc: subprocess.Popen[str], timeout: float = 10.0) -> str:
    """All of the lab's stdout: it ends once the lab has printed its lines, while it keeps serving."""
    assert proc.stdout is not None
    fd, chunks = proc.stdout.fileno(), []
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"stdout still open after {timeout:g}s: {b''.join(chunks)!r}"
            if not selector.select(left):
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks).decode()
            chunks.append(chunk)


def parse_exports(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        out[name] = value
    return out


def test_env_file_appears_whole_and_the_lab_serves_until_sigterm(tmp_path: Path) -> None:
    env_file = tmp_path / "lab.env"
    proc = subprocess.Popen(
        [sys.executable, "-m", "maildoctor", "lab", "--scenario", "seed-incident",
         "--fault", "aws-throttle:iam:*", "--latency-dns", "50", "--env-file", str(env_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(env_file, proc)
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        content = env_file.read_text()
        printed = read_to_end(proc)
        assert proc.poll() is None
        exports = [line for line in printed.splitlines() if line.startswith("export ")]
        assert content == "".join(line + "\n" for line in exports)  # exactly the lines it printed
        env = parse_exports(content)
        assert set(env) == CONTRACT_VARIABLES
        assert "# faults: aws-throttle:iam:* dns-slow:50" in printed

        # the lab keeps serving, with its faults
        session = boto3.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_DEFAULT_REGION"],
        )
        config = Config(connect_timeout=2, read_timeout=3, retries={"total_max_attempts": 1})
        sts = session.client("sts", endpoint_url=env["AWS_ENDPOINT_URL"], config=config)
        assert sts.get_caller_identity()["Account"] == "123456789012"
        iam = session.client("iam", endpoint_url=env["AWS_ENDPOINT_URL"], config=config)
        with pytest.raises(ClientError) as caught:
            iam.list_access_keys(UserName="ses-smtp-user")
        assert caught.value.response["Error"]["Code"] == "Throttling"
        host, port = env["MAILDOCTOR_DNS_SERVER"].split(":")
        answer = dns.query.udp(dns.message.make_query("example.com", "TXT"), host, timeout=2, port=int(port))
        assert answer.rcode() == dns.rcode.NOERROR and answer.answer

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stderr is not None and "maildoctor lab: stopped" in proc.stderr.read()
        assert not env_file.exists()  # a stopped lab's variables point nowhere
        assert not Path(env["MAILDOCTOR_SMTP_CA_FILE"]).exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_a_stale_env_file_is_removed_before_the_lab_starts(tmp_path: Path) -> None:
    env_file = tmp_path / "lab.env"
    env_file.write_text("export AWS_ENDPOINT_URL=http://127.0.0.1:1\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "maildoctor", "lab", "--scenario", "no-such", "--env-file", str(env_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    _, err = proc.communicate(timeout=START_TIMEOUT)
    assert proc.returncode == 2 and "no scenario named 'no-such'" in err
    assert not env_file.exists()  # a script waiting for the file does not read the old lab's ports


def test_eval_of_a_background_lab_returns(tmp_path: Path) -> None:
    """`eval "$(maildoctor lab &)"` used to wait for ever: the lab kept the pipe open while serving."""
    env_file = tmp_path / "lab.env"
    script = (
        f'out="$({sys.executable} -m maildoctor lab --scenario all-clear --env-file {env_file} 2>/dev/null &)"\n'
        'eval "$out"\n'
        'printf "%s\\n" "$out"\n'
        'echo "endpoint=$AWS_ENDPOINT_URL"\n'
    )
    # its own session: the lab stays in bash's process group, so that it can be stopped whatever happens
    shell = subprocess.Popen(
        ["bash", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = shell.communicate(timeout=START_TIMEOUT)
        assert shell.returncode == 0
        assert re.search(r"^# stop it: kill \d+$", out, re.M), out
        endpoint = re.search(r"^endpoint=(http://127\.0\.0\.1:\d+)$", out, re.M)
        assert endpoint and parse_exports(env_file.read_text())["AWS_ENDPOINT_URL"] == endpoint.group(1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGTERM)  # the lab stops on SIGTERM, and removes its file
        shell.wait(timeout=10)
        deadline = time.monotonic() + 10
        while env_file.exists() and time.monotonic() < deadline:  # the lab is not our child: watch it go
            time.sleep(0.05)
    assert not env_file.exists()
