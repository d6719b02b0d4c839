"""The ModemManager mock (tests/modem_mock.py) on a private bus: one bus for a module's tests, a fresh
mock for each test."""

from __future__ import annotations

import pytest

from tests.modem_mock import Bus, MockModemManager


@pytest.fixture(scope="module")
def bus():
    b = Bus()
    yield b
    b.stop()


@pytest.fixture
def mm(bus):
    m = MockModemManager(bus)
    yield m
    m.stop()
