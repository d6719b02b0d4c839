"""Admission in the house (core and keepers), without a kernel (no table of ours: the database alone
changes)."""

from __future__ import annotations

import pytest

from hotspot.clients.keeper import NotFound
from hotspot.house import House
from tests.conftest import Clock

MAC, OTHER = "aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02"


@pytest.fixture
def hs(cfg):
    clock = Clock()
    h = House(cfg.replace(auth="click", session_timeout=600, idle_timeout=60), clock=clock)
    with h.store.transaction():
        for mac in (MAC, OTHER):
            h.store.add_client(mac, clock.now)
    h.clock_ = clock
    yield h
    h.close()


def test_admit_for_the_session_timeout_or_a_given_time(hs):
    now = hs.clock_.now
    c = hs.captive.admit_device(MAC)
    assert c["admitted"] and hs.store.client(MAC).admitted_until == now + 600
    assert hs.store.client(MAC).admitted_at == now
    hs.captive.admit_device(MAC, 30)
    assert hs.store.client(MAC).admitted_until == now + 30
    assert hs.clients.detail(OTHER)["admitted"] is False
    with pytest.raises(ValueError):
        hs.captive.admit_device(MAC, 0)
    with pytest.raises(NotFound):
        hs.captive.admit_device("aa:bb:cc:dd:ee:99")
    c = hs.captive.unadmit(MAC)
    assert (c["admitted"], c["admitted_until"]) == (False, None)


def test_sessions_end_at_their_time_or_when_idle(hs):
    hs.captive.admit_device(MAC)
    hs.captive.admit_device(OTHER, 30)
    hs.clock_.now += 29
    assert hs.captive.expire_sessions() == []
    hs.clock_.now += 1
    assert hs.captive.expire_sessions() == [OTHER]
    assert hs.clients.detail(OTHER)["admitted"] is False and hs.clients.detail(MAC)["admitted"] is True
    # MAC: admitted 30 s ago, no bytes since; traffic (last_seen) keeps it
    with hs.store.transaction():
        hs.store.update(hs.store.client(MAC).id, last_seen=hs.clock_.now + 20)
    hs.clock_.now += 79
    assert hs.captive.expire_sessions() == []
    hs.clock_.now += 1
    assert hs.captive.expire_sessions() == [MAC]


def test_auth_none_admits_everyone_and_ends_nothing(cfg):
    h = House(cfg, clock=Clock())
    try:
        with h.store.transaction():
            h.store.add_client(MAC, 0.0)
        assert h.clients.detail(MAC)["admitted"] is True
        h.captive.admit_device(MAC, 1)
        h.core.clock = Clock(2e6)
        assert h.captive.expire_sessions() == []
    finally:
        h.close()
