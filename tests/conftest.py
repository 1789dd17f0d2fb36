"""Shared fixtures: one lab DNS server per test session; each test loads its own zone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from maildoctor.lab.dns import LabDnsServer


@pytest.fixture(scope="session")
def dns_lab() -> Iterator[LabDnsServer]:
    server = LabDnsServer("")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """A private state directory, so that no test writes transcripts into the user's."""
    path = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("MAILDOCTOR_STATE_DIR", str(path))
    return path
