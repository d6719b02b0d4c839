"""Fixtures for tests that need root: a lab router with clients in network namespaces (hotspot.lab)."""

from __future__ import annotations

import os
from typing import Iterator

import pytest

from hotspot.lab import Lab, cleanup_stale, warm_up


@pytest.fixture(scope="session", autouse=True)
def _lab_session() -> None:
    """Lab tests need root: fail (never skip) without it; remove namespaces that crashed runs left behind;
    warm the machine up, so that no test's timeout pays a cold start."""
    if os.geteuid() != 0:
        pytest.fail("tests/lab create network namespaces and need root (run: sudo make test)", pytrace=False)
    cleanup_stale()
    warm_up()


@pytest.fixture
def lab() -> Iterator[Lab]:
    """A started lab with two DHCP clients, c1 and c2 (IPv4 by DHCP, IPv6 by SLAAC)."""
    with Lab(clients=("c1", "c2")) as lab:
        yield lab


@pytest.fixture
def start_hotspotd(lab):
    """Start the real hotspotd in the lab's router with config options; stopped at teardown."""
    from hotspot.lab.hotspotd import Hotspotd

    started = []

    def start(**options) -> Hotspotd:
        d = Hotspotd(lab, **options).start()
        started.append(d)
        return d

    yield start
    for d in started:
        if d.proc and d.proc.poll() is None:
            d.stop()


def register(lab, d, *names: str) -> None:
    """Make clients send metered traffic so hotspotd registers them, and wait until it has."""
    for name in names:
        lab.ping(name, lab.server4)
        d.wait_client(lab.clients[name].mac)
