"""The DNS-only demo: a lab DNS server serving a shipped zone, and the inputs to walk it with."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from maildoctor.errors import MissingExtra

if TYPE_CHECKING:
    from maildoctor.lab.dns import LabDnsServer

DEMO_ZONE = Path(__file__).with_name("zones") / "demo.zone"
DEMO_INPUTS = {
    "domain": "example.com",
    "dkim_tokens": "tok1demoaaaaaaaaaaaaaaaaaaaaaaaa,tok2demobbbbbbbbbbbbbbbbbbbbbbbb,tok3democccccccccccccccccccccccc",
    "mail_from_domain": "mail.example.com",
    "region": "us-east-1",
}


@contextmanager
def serve() -> Iterator[tuple[LabDnsServer, dict[str, str]]]:
    try:
        from maildoctor.lab.dns import LabDnsServer
        from maildoctor.lab.world import with_world
    except ImportError as exc:  # the lab is an optional extra
        raise MissingExtra("lab", exc.name) from None
    server = LabDnsServer(with_world(DEMO_ZONE.read_text(encoding="utf-8")))
    server.start()
    try:
        yield server, dict(DEMO_INPUTS)
    finally:
        server.stop()
