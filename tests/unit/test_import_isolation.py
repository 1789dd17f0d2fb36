"""What each command imports (issue 14, start-up; DESIGN.md: one direction of flow).

The engine, checks and headless runner import no textual module. The commands that only read flows and
checks (`--version`, `--help`, `flows list|show|check`, `checks`, `smtp-password`) import none of the
heavy packages: boto3, botocore, textual, dnspython's resolver, aiosmtplib, moto. A headless walk
imports boto3 only when it needs AWS, never for a flow with no AWS step. Each case runs in a fresh
process, as the console script starts it, and reads ``sys.modules`` when the process exits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from maildoctor.checks.registry import default_registry
from maildoctor.cli import main
from maildoctor.flow.load import FlowErrors, read_flow
from maildoctor.lab.dns import LabDnsServer
from maildoctor.lab.world import with_world
from maildoctor.launcher import VERSION_LINE

MODULES = [
    "maildoctor.engine",
    "maildoctor.checks",
    "maildoctor.headless",
    "maildoctor.cli",
    "maildoctor.transcript",
    "maildoctor.render",
    "maildoctor.flow.load",
    "maildoctor.clients",
    "maildoctor.config",
    "maildoctor.keymap",
]

HEAVY = ("boto3", "botocore", "textual", "dns.asyncresolver", "aiosmtplib", "moto")

# Runs the CLI as the console script does (after `prelude`), and says on stderr, as the process exits,
# which heavy modules it had imported.
PROBE = """
import atexit, json, sys
heavy = {heavy!r}
def report():
    found = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy))
    print("IMPORTED=" + json.dumps(sorted({{h for h in heavy for m in found if m == h or m.startswith(h + ".")}})), file=sys.stderr)
atexit.register(report)
{prelude}
sys.argv = ["maildoctor", *{argv!r}]
from maildoctor.launcher import main
main()
"""


def probe(
    argv: list[str], *, prelude: str = "", stdin: str = "", env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run ``maildoctor ARGV`` in a fresh process: the process, and the heavy packages it imported."""
    code = PROBE.format(heavy=HEAVY, prelude=prelude, argv=argv)
    done = subprocess.run(
        [sys.executable, "-c", code], input=stdin, capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("IMPORTED=")]
    assert lines, f"the probe did not report: {done.stderr}"
    return done, json.loads(lines[-1].removeprefix("IMPORTED="))


def test_core_modules_import_no_textual() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {MODULES!r}:\n    importlib.import_module(name)\n"
        "from maildoctor.checks.registry import default_registry\ndefault_registry()\n"
        "print(sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_core_modules_import_no_network_client() -> None:
    """Importing every layer below the TUI (and registering the checks) loads no client library: the
    clients import boto3, dnspython's resolver and aiosmtplib where they build or call one."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {MODULES!r}:\n    importlib.import_module(name)\n"
        "from maildoctor.checks.registry import default_registry\ndefault_registry()\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.partition('.')[0] in {HEAVY!r}"
        " or m == 'dns.asyncresolver')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


LIGHT_COMMANDS = {
    "--version": ["--version"],
    "--help": ["--help"],
    "run --help": ["run", "--help"],
    "flows list": ["flows", "list"],
    "flows show": ["flows", "show", "ses-delivery"],
    "flows check": ["flows", "check"],
    "checks": ["checks"],
    "checks show": ["checks", "show", "dns.spf"],
}


@pytest.mark.parametrize("argv", LIGHT_COMMANDS.values(), ids=LIGHT_COMMANDS.keys())
def test_light_commands_import_no_heavy_package(argv: list[str]) -> None:
    done, heavy = probe(argv)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()  # it did its job, not an early exit
    assert heavy == []


def test_flows_list_imports_no_check_module() -> None:
    """Listing reads each flow's words (read_flow), not its checks: no check module is imported."""
    done, _ = probe(["flows", "list"], prelude="atexit.register(lambda: print('CHECKS=' + "
                    "str(sorted(m for m in sys.modules if m.startswith('maildoctor.checks'))), file=sys.stderr))")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "CHECKS=[]" in done.stderr.splitlines()


def test_read_flow_refuses_a_flow_of_the_wrong_shape(tmp_path: Path) -> None:
    """What listing still refuses: a flow that is not YAML, or not in the flow model's shape."""
    bad_yaml, bad_shape = tmp_path / "a.yaml", tmp_path / "b.yaml"
    bad_yaml.write_text("name: [unclosed\n", encoding="utf-8")
    bad_shape.write_text("name: b\ntitle: B\nnodes: 3\n", encoding="utf-8")
    for path in (bad_yaml, bad_shape):
        with pytest.raises(FlowErrors):
            read_flow(path)


def test_checks_show_names_a_registered_check() -> None:
    assert "dns.spf" in default_registry()  # the check LIGHT_COMMANDS shows


def test_smtp_password_imports_no_heavy_package() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's documentation example
    done, heavy = probe(["smtp-password", "--region", "us-east-2"], stdin=secret + "\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("B")  # version byte 0x04, base64
    assert heavy == []


def test_the_probe_sees_a_heavy_import() -> None:
    """The probe can fail: a process that imports the SMTP dialogue (aiosmtplib) is reported."""
    done, heavy = probe(["--version"], prelude="import maildoctor.clients.smtp_wire")
    assert done.returncode == 0
    assert heavy == ["aiosmtplib"]


def test_fast_version_is_clicks_own_line() -> None:
    """`maildoctor --version` alone is answered before click is imported: the same line click prints
    when --version comes with other options."""
    result = CliRunner().invoke(main, ["--profile", "x", "--version"])
    assert result.exit_code == 0
    assert result.stdout == VERSION_LINE + "\n"
    fast = subprocess.run(
        [sys.executable, "-m", "maildoctor", "--version"], capture_output=True, text=True, check=True
    )
    assert fast.stdout == result.stdout


def test_python_m_version_imports_no_click() -> None:
    code = (
        "import runpy, sys\nsys.argv = ['maildoctor', '--version']\n"
        "runpy.run_module('maildoctor', run_name='__main__')\n"
        "print('click' in sys.modules, 'maildoctor.cli' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "False False"


def test_a_walk_imports_boto3_only_from_a_call() -> None:
    """Everything a headless walk sets up before its first check (the flow, inputs, settings, the
    session and its clients, the DNS client built) imports no boto3; resolving credentials does."""
    code = (
        "import sys\n"
        "from maildoctor import headless, inputs\n"
        "from maildoctor.clients import Clients, credentials\n"
        "from maildoctor.clients.settings import Settings\n"
        "from maildoctor.flow.load import find_flow, load_flow\n"
        "from maildoctor.session import Session\n"
        "flow = load_flow(find_flow('ses-delivery'))\n"
        "clients = Clients(Settings.resolve(region='us-east-1'))\n"
        "clients.dns, clients.smtp\n"
        "before = 'boto3' in sys.modules\n"
        "credentials.resolve(None)\n"
        "print(before, 'boto3' in sys.modules)\n"
    )
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert out.split() == ["False", "True"]


CLEAN_ZONE = """\
$ORIGIN example.com.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 300
@ IN NS ns1
@ IN TXT "v=spf1 include:amazonses.com ~all"
_dmarc IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com"
"""


@pytest.mark.usefixtures("state_dir")
def test_run_dns_auth_imports_no_boto3(dns_lab: LabDnsServer) -> None:
    """A walk with no AWS step, against the lab's DNS server: dnspython's resolver is used, boto3,
    aiosmtplib and textual are never imported."""
    dns_lab.load_zone(with_world(CLEAN_ZONE))
    argv = ["run", "dns-auth", "--dns-server", dns_lab.address, "--format", "json",
            "--set", "domain=example.com", "--set", "region=us-east-1"]  # fmt: skip
    done, heavy = probe(argv)
    assert done.returncode in (0, 1), done.stderr  # all clear or findings: the walk finished
    steps = json.loads(done.stdout)["steps"]
    assert any(step["check"] == "dns.spf" and step["status"] == "pass" for step in steps)
    assert "dns.asyncresolver" in heavy  # the walk asked the lab's server
    assert not {"boto3", "textual", "aiosmtplib", "moto"} & set(heavy)
