"""Fixtures for tests that need root: a lab router with clients in network namespaces (hotspot.lab)."""

from __future__ import annotations

import os
from typing import Iterator

import pytest

from hotspot.lab import Lab, cleanup_stale


@pytest.fixture(scope="session", autouse=True)
def _lab_session() -> None:
    """Lab tests need root: fail (never skip) without it; remove namespaces that crashed runs left behind."""
    if os.geteuid() != 0:
        pytest.fail("tests/lab create network namespaces and need root (run: sudo make test)", pytrace=False)
    cleanup_stale()


@pytest.fixture
def lab() -> Iterator[Lab]:
    """A started lab with two DHCP clients, c1 and c2 (IPv4 by DHCP, IPv6 by SLAAC)."""
    with Lab(clients=("c1", "c2")) as lab:
        yield lab
