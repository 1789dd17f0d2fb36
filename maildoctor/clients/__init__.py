"""The clients layer: boto3, dnspython and aiosmtplib wrapped once, with endpoints and timeouts set here."""

from __future__ import annotations

from functools import cached_property

from maildoctor.clients.dns import DnsClient
from maildoctor.clients.settings import Settings


class Clients:
    """Lazily built clients for one walk, all configured from one Settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def dns(self) -> DnsClient:
        return DnsClient(self.settings.dns_server, timeout=min(self.settings.timeout, 5.0))
