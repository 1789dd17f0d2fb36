"""The lab: real local backends on loopback that maildoctor (and any AWS, DNS or SMTP client) can use.

``Lab`` starts an AWS endpoint (moto plus what moto lacks), a DNS server and an SES-like SMTP server
with STARTTLS, and loads scenarios into all three without restarting them. Needs the ``lab`` extra.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from pathlib import Path

from maildoctor.errors import MissingExtra
from maildoctor.lab.scenario import Scenario, load_scenario, now
from maildoctor.lab.service import Service
from maildoctor.lab.world import with_world

try:
    from maildoctor.lab.aws import LabAwsServer
    from maildoctor.lab.dns import LabDnsServer
    from maildoctor.lab.smtp import LabSmtpServer, LabTls
except ImportError as exc:  # pragma: no cover - only without the extra
    raise MissingExtra("lab", exc.name) from None

# The operator's own credentials for the lab's AWS endpoint (moto accepts any; these name no scenario user).
OPERATOR_KEY_ID = "AKIALABOPERATOR00001"
OPERATOR_SECRET = "lab/operator/secret/not/a/real/key/000001"


class Lab(Service):
    def __init__(self, host: str = "127.0.0.1") -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="maildoctor-lab-"))
        self.tls = LabTls(self._dir)
        self.aws = LabAwsServer(host=host)
        self.dns = LabDnsServer("", host=host)
        self.smtp = LabSmtpServer(self.tls, host=host)
        self.scenario: Scenario | None = None
        self._started = False

    def start(self) -> Lab:
        try:
            self.aws.start()
            self.dns.start()
            self.smtp.start()
        except BaseException:
            self.stop()
            raise
        self._started = True
        return self

    def stop(self) -> None:
        for server in (self.smtp, self.dns, self.aws):
            server.stop()
        shutil.rmtree(self._dir, ignore_errors=True)
        self._started = False

    def load(self, scenario: Scenario | str) -> Scenario:
        """Put every backend into the scenario's state (no restart: fast enough for one per test)."""
        if isinstance(scenario, str):
            scenario = load_scenario(scenario)
        self.dns.load_zone(
            with_world(scenario.dns.effective_zone()),
            servfail=scenario.dns.servfail,
            timeout=scenario.dns.timeout,
        )
        self.aws.load(scenario, now())
        self.smtp.load(scenario)
        self.scenario = scenario
        return scenario

    def write_input(self, name: str, text: str) -> Path:
        """Write a (non-secret) scenario input into the lab's folder, for `--set NAME=@PATH`."""
        path = self._dir / f"{name}.txt"
        path.write_text(text, encoding="utf-8")
        return path

    def smtp_address(self) -> str:
        """Where clients should send SMTP: the lab's server, or a closed port when the scenario blocks it."""
        if self.scenario and self.scenario.smtp_refuses_connections:
            with socket.socket() as probe:  # a port nobody listens on: connections are refused
                probe.bind((self.smtp.host, 0))
                return f"{self.smtp.host}:{probe.getsockname()[1]}"
        return self.smtp.address

    def env(self) -> dict[str, str]:
        """CONTRACT.md's variables that point maildoctor (and boto3) at this lab."""
        region = self.scenario.region if self.scenario else "us-east-1"
        return {
            "AWS_ENDPOINT_URL": self.aws.endpoint_url,
            "MAILDOCTOR_DNS_SERVER": self.dns.address,
            "MAILDOCTOR_SMTP_ENDPOINT": self.smtp_address(),
            "MAILDOCTOR_SMTP_CA_FILE": str(self.tls.ca_file),
            "AWS_ACCESS_KEY_ID": OPERATOR_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": OPERATOR_SECRET,
            "AWS_DEFAULT_REGION": region,
        }
