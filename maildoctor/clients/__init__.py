"""The clients layer: boto3, dnspython and aiosmtplib wrapped once, with endpoints and timeouts set here."""

from __future__ import annotations

from functools import cached_property

from maildoctor.clients.aws import AwsClient
from maildoctor.clients.dns import DnsClient
from maildoctor.clients.settings import Settings
from maildoctor.clients.smtp import SmtpClient


class Clients:
    """Lazily built clients for one walk, all configured from one Settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def forget(self) -> None:
        """Make the next reads afresh (a re-run): the once-per-walk answers of AWS and DNS are dropped."""
        if "aws" in self.__dict__:  # built only when a check used it
            self.aws.forget()
        if "dns" in self.__dict__:
            self.dns.forget()

    @cached_property
    def dns(self) -> DnsClient:
        return DnsClient(self.settings.dns_server, timeout=min(self.settings.timeout, 5.0))

    @cached_property
    def aws(self) -> AwsClient:
        s = self.settings
        return AwsClient(
            profile=s.profile, region=s.region, endpoint_url=s.aws_endpoint_url, timeout=s.timeout
        )

    @cached_property
    def smtp(self) -> SmtpClient:
        s = self.settings
        return SmtpClient(s.smtp_endpoint, s.smtp_ca_file, timeout=s.timeout, tls_mode=s.smtp_tls)
