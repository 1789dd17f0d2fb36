"""`maildoctor run dns-auth` end to end against the lab DNS server: CONTRACT.md's JSON and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from maildoctor.cli import main
from maildoctor.lab.dns import LabDnsServer
from maildoctor.lab.world import with_world

TOKENS = [
    "aaaatoken1111111111111111111111a",
    "bbbbtoken2222222222222222222222b",
    "cccctoken3333333333333333333333c",
]

CLEAN = f"""\
$ORIGIN example.com.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 300
@ IN NS ns1
@ IN TXT "v=spf1 include:amazonses.com ~all"
_dmarc IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com"
{TOKENS[0]}._domainkey IN CNAME {TOKENS[0]}.dkim.amazonses.com.
{TOKENS[1]}._domainkey IN CNAME {TOKENS[1]}.dkim.amazonses.com.
{TOKENS[2]}._domainkey IN CNAME {TOKENS[2]}.dkim.amazonses.com.
mail IN MX 10 feedback-smtp.us-east-1.amazonses.com.
mail IN TXT "v=spf1 include:amazonses.com ~all"
"""

# Eleven DNS-querying terms through nested includes: 1 (a) + 1 (mx) + include:a (1 + 4 inside) + include:b (1 + 3)
OVER_LIMIT = CLEAN.replace(
    '@ IN TXT "v=spf1 include:amazonses.com ~all"',
    '@ IN TXT "v=spf1 a mx include:a.spf.example.com include:b.spf.example.com ~all"\n'
    "@ IN A 192.0.2.1\n@ IN MX 10 mx1\nmx1 IN A 192.0.2.2\n"
    'a.spf IN TXT "v=spf1 a:h1.example.com a:h2.example.com a:h3.example.com a:h4.example.com -all"\n'
    'b.spf IN TXT "v=spf1 a:h5.example.com a:h6.example.com a:h7.example.com -all"\n'
    + "".join(f"h{i} IN A 192.0.2.{10 + i}\n" for i in range(1, 8)),
)


def run_json(dns_lab: LabDnsServer, zone: str, *extra: str) -> tuple[int, dict]:
    dns_lab.load_zone(with_world(zone))
    args = [
        "run", "dns-auth", "--dns-server", dns_lab.address, "--format", "json",
        "--set", "domain=example.com", "--set", f"dkim_tokens={','.join(TOKENS)}",
        "--set", "mail_from_domain=mail.example.com", "--set", "region=us-east-1", *extra,
    ]  # fmt: skip
    result = CliRunner().invoke(main, args)
    return result.exit_code, json.loads(result.stdout)


def codes(report: dict) -> list[str]:
    return [f["code"] for f in report["findings"]]


@pytest.mark.usefixtures("state_dir")
class TestDnsAuth:
    def test_clean_zone_is_all_clear(self, dns_lab: LabDnsServer) -> None:
        code, report = run_json(dns_lab, CLEAN)
        assert code == 0
        assert report["diagnosis"]["code"] == "all-clear"
        assert report["findings"] == []
        assert [s["node"] for s in report["steps"]] == ["spf", "dmarc", "dkim", "mail-from", "done"]
        assert all(s["status"] in ("pass", "info") for s in report["steps"])
        assert report["maildoctor"] == "0.1.0" and report["flow"] == "dns-auth"
        assert report["inputs"]["domain"] == "example.com"
        step = report["steps"][0]
        assert {"node", "title", "check", "status", "summary", "facts", "duration_ms"} <= step.keys()

    def test_two_spf_records(self, dns_lab: LabDnsServer) -> None:
        zone = CLEAN + '@ IN TXT "v=spf1 include:_spf.google.com ~all"\n'
        code, report = run_json(dns_lab, zone)
        assert code == 1
        assert codes(report) == ["spf-invalid"]
        assert report["diagnosis"]["code"] == "spf-invalid"
        assert len(report["steps"][0]["facts"]["records"]) == 2

    def test_over_the_lookup_limit(self, dns_lab: LabDnsServer) -> None:
        code, report = run_json(dns_lab, OVER_LIMIT)
        assert code == 1
        assert codes(report) == ["spf-invalid"]
        assert report["steps"][0]["facts"]["lookups"] == 11

    def test_no_dmarc(self, dns_lab: LabDnsServer) -> None:
        zone = "\n".join(line for line in CLEAN.splitlines() if not line.startswith("_dmarc"))
        code, report = run_json(dns_lab, zone)
        assert code == 1
        assert codes(report) == ["dmarc-missing"]
        assert "_dmarc.example.com. 300 IN TXT" in report["findings"][0]["remedy"]

    def test_dkim_cname_missing(self, dns_lab: LabDnsServer) -> None:
        zone = "\n".join(line for line in CLEAN.splitlines() if not line.startswith(TOKENS[1]))
        code, report = run_json(dns_lab, zone)
        assert code == 1
        assert codes(report) == ["dkim-records-missing"]
        remedy = report["diagnosis"]["remedy"]
        assert f"{TOKENS[1]}._domainkey.example.com. 1800 IN CNAME {TOKENS[1]}.dkim.amazonses.com." in remedy
        assert TOKENS[0] + "._domainkey" not in remedy

    def test_two_layers_report_both_findings_in_order_found(self, dns_lab: LabDnsServer) -> None:
        zone = "\n".join(
            line
            for line in CLEAN.splitlines()
            if not line.startswith(TOKENS[2]) and not line.startswith("mail IN MX")
        )
        code, report = run_json(dns_lab, zone)
        assert code == 1
        assert codes(report) == ["dkim-records-missing", "mail-from-mx-missing"]
        assert report["diagnosis"]["code"] == "dkim-records-missing"

    def test_markdown_reads_as_an_incident_report(self, dns_lab: LabDnsServer) -> None:
        dns_lab.load_zone(
            with_world("\n".join(line for line in CLEAN.splitlines() if not line.startswith("_dmarc")))
        )
        result = CliRunner().invoke(
            main,
            [
                "run",
                "dns-auth",
                "--dns-server",
                dns_lab.address,
                "--format",
                "markdown",
                "--set",
                "domain=example.com",
            ],
        )
        assert result.exit_code == 1
        text = result.stdout
        assert text.startswith("# Mail delivery diagnosis: dmarc-missing\n")
        assert "## Findings (most likely root cause first)" in text
        assert "## Evidence" in text and "_dmarc.example.com" in text


def test_python_dash_m_runs_headless_without_textual(dns_lab: LabDnsServer, tmp_path: Path) -> None:
    """A real process: `python -m maildoctor run` prints JSON, exits 1 on a finding, never loads textual."""
    dns_lab.load_zone(
        with_world("\n".join(line for line in CLEAN.splitlines() if not line.startswith("_dmarc")))
    )
    code = (
        "import runpy, sys\n"
        "sys.argv = ['maildoctor', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('maildoctor', run_name='__main__')\n"
        "finally:\n    assert not [m for m in sys.modules if m.split('.')[0] == 'textual'], 'textual was imported'\n"
    )
    env = {**os.environ, "MAILDOCTOR_STATE_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", code, "run", "dns-auth", "--dns-server", dns_lab.address,
         "--format", "json", "--set", "domain=example.com"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["diagnosis"]["code"] == "dmarc-missing"
    assert "Traceback" not in proc.stderr
    assert len(list((tmp_path / "transcripts").glob("*.jsonl"))) == 1
