"""The lab: real local backends on loopback that maildoctor (and any AWS, DNS or SMTP client) can use.

``Lab`` starts an AWS endpoint (moto plus what moto lacks), a DNS server and an SES-like SMTP server
with STARTTLS, and loads scenarios into all three without restarting them. Faults (maildoctor.lab.faults)
rehearse outages on the running lab::

    with Lab() as lab:
        lab.load("seed-incident")
        with lab.faults("aws-throttle", "dns-slow:300"):
            ...  # clients configured from lab.env()

Needs the ``lab`` extra.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from maildoctor.errors import MissingExtra
from maildoctor.lab.faults import Fault, FaultSet, compile_faults, parse_faults, scenario_faults
from maildoctor.lab.scenario import Scenario, load_scenario, now
from maildoctor.lab.service import Service
from maildoctor.lab.world import with_world

try:
    from maildoctor.lab.aws import AwsCall, LabAwsServer
    from maildoctor.lab.dns import DnsQuery, LabDnsServer
    from maildoctor.lab.smtp import LabSmtpServer, LabTls, SmtpReply
except ImportError as exc:  # pragma: no cover - only without the extra
    raise MissingExtra("lab", exc.name) from None

TimedCall = AwsCall | DnsQuery | SmtpReply  # each has layer, name, start and end

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
        self._scenario_faults: list[Fault] = []  # what the loaded scenario's own fields describe
        self._faults: list[Fault] = []  # set_faults / faults(...)
        self._fault_set = FaultSet()
        # A port that is bound and never listens: connecting to it is refused, and no other program can
        # take it while the lab runs (aws-down and smtp-refused point clients here).
        self._closed = socket.socket()
        self._closed.bind((host, 0))

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
        self._closed.close()
        shutil.rmtree(self._dir, ignore_errors=True)
        self._started = False

    def load(self, scenario: Scenario | str) -> Scenario:
        """Put every backend into the scenario's state (no restart: fast enough for one per test)."""
        if isinstance(scenario, str):
            scenario = load_scenario(scenario)
        self.dns.load_zone(with_world(scenario.dns.effective_zone()))
        self.aws.load(scenario, now())
        self.smtp.load(scenario)
        self.scenario = scenario
        self._scenario_faults = scenario_faults(scenario) + parse_faults(scenario.faults)
        self._apply()
        return scenario

    # --- faults ------------------------------------------------------------------------------------

    @property
    def active_faults(self) -> tuple[Fault, ...]:
        """Every fault applied now: the loaded scenario's own (``dns.servfail`` ...) and those set."""
        return self._fault_set.faults

    def set_faults(self, faults: Iterable[str | Fault]) -> tuple[Fault, ...]:
        """Apply exactly these faults (names like ``aws-throttle`` or ``aws-deny:iam:GetUser``) on top of
        the scenario's own, replacing any set before; FaultError for a bad name, nothing changed then.
        Takes effect for the next request, query or connection. Clients pick up ``aws-down`` and
        ``smtp-refused`` from :meth:`env`."""
        parsed = parse_faults(faults)
        self._faults = parsed
        self._apply()
        return self.active_faults

    def add_faults(self, *faults: str | Fault) -> tuple[Fault, ...]:
        return self.set_faults([*self._faults, *parse_faults(faults)])

    def clear_faults(self) -> None:
        """Remove every fault set (the scenario's own stay: they are its state of the world)."""
        self.set_faults([])

    @contextlib.contextmanager
    def faults(self, *faults: str | Fault) -> Iterator[tuple[Fault, ...]]:
        """Add faults for the ``with`` block, then put back the ones set before."""
        before = list(self._faults)
        try:
            yield self.add_faults(*faults)
        finally:
            self.set_faults(before)

    def _apply(self) -> None:
        self._fault_set = compile_faults([*self._scenario_faults, *self._faults])
        self.aws.set_faults(self._fault_set.aws)
        self.dns.set_faults(self._fault_set.dns)
        self.smtp.set_faults(self._fault_set.smtp)

    # --- the timed call log --------------------------------------------------------------------------

    def calls(self) -> list[TimedCall]:
        """Every AWS request, DNS query answered and SMTP reply sent since :meth:`clear_calls`, timed
        (``time.monotonic()`` of this process), ordered by start."""
        timed: list[TimedCall] = [*self.aws.calls(), *self.dns.calls(), *self.smtp.calls()]
        return sorted(timed, key=lambda call: call.start)

    def clear_calls(self) -> None:
        """Empty the three timed logs (``aws.operations()`` is kept: it has its own clear)."""
        self.aws.clear_calls()
        self.dns.clear_calls()
        self.smtp.clear_calls()

    def closed_address(self) -> str:
        """HOST:PORT where connections are refused for as long as the lab runs."""
        host, port = self._closed.getsockname()[:2]
        return f"{host}:{port}"

    def write_input(self, name: str, text: str) -> Path:
        """Write a (non-secret) scenario input into the lab's folder, for `--set NAME=@PATH`."""
        path = self._dir / f"{name}.txt"
        path.write_text(text, encoding="utf-8")
        return path

    def smtp_address(self) -> str:
        """Where clients should send SMTP: the lab's server (its TLS-from-the-first-byte listener for a
        scenario with ``smtp_tls: implicit``), or a closed port under ``smtp-refused`` (a scenario's
        ``smtp_refuses_connections`` is that fault)."""
        if self._fault_set.smtp.refused:
            return self.closed_address()
        implicit = self.scenario is not None and self.scenario.smtp_tls == "implicit"
        return self.smtp.implicit_address if implicit else self.smtp.address

    def aws_endpoint_url(self) -> str:
        """Where clients should send AWS calls: the lab's endpoint, or a closed port under ``aws-down``."""
        return f"http://{self.closed_address()}" if self._fault_set.aws.down else self.aws.endpoint_url

    def env(self) -> dict[str, str]:
        """CONTRACT.md's variables that point maildoctor (and boto3) at this lab."""
        region = self.scenario.region if self.scenario else "us-east-1"
        env = {
            "AWS_ENDPOINT_URL": self.aws_endpoint_url(),
            "MAILDOCTOR_DNS_SERVER": self.dns.address,
            "MAILDOCTOR_SMTP_ENDPOINT": self.smtp_address(),
            "MAILDOCTOR_SMTP_CA_FILE": str(self.tls.ca_file),
            "AWS_ACCESS_KEY_ID": OPERATOR_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": OPERATOR_SECRET,
            "AWS_DEFAULT_REGION": region,
        }
        if self.scenario is not None and self.scenario.smtp_tls == "implicit":
            env["MAILDOCTOR_SMTP_TLS"] = "implicit"  # the lab's port is not 465: say it
        if self.scenario is not None and self.scenario.region_from_profile:
            # the region only in the default profile of an AWS config file, as in ~/.aws/config (empty:
            # unset). Not a named profile: boto3 ignores the credential variables once a profile is named.
            config = self._dir / "aws-config"
            config.write_text(f"[default]\nregion = {region}\n", encoding="utf-8")
            env.update(AWS_CONFIG_FILE=str(config), AWS_REGION="", AWS_DEFAULT_REGION="")
        return env
