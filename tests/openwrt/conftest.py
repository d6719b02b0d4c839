"""Fixtures of the OpenWrt tests."""

from __future__ import annotations

import pytest

from tests.openwrt import hosttools


@pytest.fixture(scope="session")
def uci():
    """OpenWrt's uci command built from the pinned source (once; cached by source hash)."""
    return hosttools.build() / "uci"
