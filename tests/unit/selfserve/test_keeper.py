"""A guest's own choices in the house (core and keepers, no kernel), through what hotspotd's socket
serves: data off lifts only the device's own pause; the ask needs a cap and a channel, goes once an
hour into the durable outbox and never for another device; bad input changes nothing."""

from __future__ import annotations

import json

import pytest

from hotspot.core.contract import BackendError, NotAClient
from hotspot.house import House
from tests.conftest import Clock, without_kernel

PHONE, OTHER = "aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02"
ADDRESSES = {"10.0.0.2": PHONE, "10.0.0.3": OTHER}


def make(cfg, monkeypatch):
    hs = House(cfg, clock=Clock())
    with hs.store.transaction():
        hs.store.add_client(PHONE, hs.clock(), hostname="annas-phone")
        hs.store.add_client(OTHER, hs.clock(), hostname="laptop")
    without_kernel(monkeypatch, ADDRESSES)
    hs.portal_url = lambda: "http://10.0.0.1:8080"
    api = hs.answers()
    api.hs = hs
    return api


@pytest.fixture
def api(cfg, monkeypatch):
    api = make(cfg.replace(alert_webhook="http://127.0.0.1:9/hook"), monkeypatch)
    yield api
    api.hs.close()


def asks(api) -> list[dict]:
    return [json.loads(m) for (m,) in api.hs.store.db.execute(
        "SELECT message_json FROM deliveries WHERE kind = 'ask' ORDER BY id")]


def test_data_off_is_the_devices_own_pause_and_back_on_never_lifts_the_owners_block(api):
    me = api.data_off("10.0.0.2", True)
    assert (me["self_paused"], me["owner_blocked"], me["state"]) == (True, False, "blocked")
    assert api.hs.clients.detail(OTHER)["self_paused"] is False
    assert api.data_off("10.0.0.2", False)["state"] == "ok"
    with pytest.raises(BackendError, match="only the hotspot's owner can let it back on"):
        api.data_off("10.0.0.2", False)
    api.act(PHONE, "block")
    with pytest.raises(BackendError, match="only the hotspot's owner"):
        api.data_off("10.0.0.2", False)
    api.data_off("10.0.0.2", True)
    me = api.data_off("10.0.0.2", False)
    assert (me["self_paused"], me["owner_blocked"], me["state"]) == (False, True, "blocked")
    for bad in ("1", 1, None, "true"):
        with pytest.raises(BackendError, match="true or false"):
            api.data_off("10.0.0.2", bad)
    with pytest.raises(NotAClient):
        api.data_off("10.0.0.9", True)


def test_an_ask_goes_once_an_hour_into_the_outbox_for_the_asking_device_only(api):
    with pytest.raises(BackendError, match="no cap of its own"):
        api.ask_owner("10.0.0.2")
    assert asks(api) == []
    api.act(PHONE, "cap", "2GB")
    me = api.ask_owner("10.0.0.2")
    assert me["ask"]["asked_at"] and me["ask"]["next_at"] and me["ask"]["topup"] == 500_000_000
    (m,) = asks(api)
    assert m["data"] == {"event": "ask", "mac": PHONE, "name": "annas-phone", "bytes_total": 0,
                         "cap": 2_000_000_000, "topup": 500_000_000,
                         "approve_url": f"http://10.0.0.1:8080/admin/clients/{PHONE.replace(':', '%3A')}"
                                        "/approve?size=500000000"}
    assert m["subject"] == "hotspot: annas-phone asks for more data"
    assert api.hs.clients.detail(OTHER)["ask"]["asked_at"] is None
    with pytest.raises(BackendError, match="less than an hour ago"):
        api.ask_owner("10.0.0.2")
    api.hs.clock.now += 3599
    with pytest.raises(BackendError, match="less than an hour ago"):
        api.ask_owner("10.0.0.2")
    api.hs.clock.now += 2
    api.ask_owner("10.0.0.2")
    assert len(asks(api)) == 2
    # the owner's name for it goes to the owner; forgetting it erases its asks
    api.act(PHONE, "rename", "Anna")
    api.hs.clock.now += 3601
    api.ask_owner("10.0.0.2")
    assert asks(api)[-1]["data"]["name"] == "Anna"
    api.forget(PHONE)
    assert asks(api) == [] and api.hs.store.get("ask_owner:" + PHONE) is None


def test_all_devices_together_ask_at_most_ten_times_an_hour(api):
    api.act(PHONE, "cap", "2GB")
    with api.hs.store.transaction():  # ten other devices (new MACs, say) asked in the last hour
        for i in range(10):
            api.hs.store.set(f"ask_owner:02:00:00:00:00:{i:02x}", api.hs.clock() - 600)
    with pytest.raises(BackendError, match="Many devices asked"):
        api.ask_owner("10.0.0.2")
    assert asks(api) == []
    api.hs.clock.now += 3000
    api.ask_owner("10.0.0.2")
    assert len(asks(api)) == 1


def test_without_a_channel_nothing_is_queued(cfg, monkeypatch):
    api = make(cfg, monkeypatch)
    try:
        api.act(PHONE, "cap", "2GB")
        assert api.hs.clients.detail(PHONE)["ask"]["told"] is False
        with pytest.raises(BackendError, match="no alert channel"):
            api.ask_owner("10.0.0.2")
        assert asks(api) == [] and api.hs.clients.detail(PHONE)["ask"]["asked_at"] is None
    finally:
        api.hs.close()


def test_the_owner_reads_the_ask_in_the_owners_language(cfg, monkeypatch):
    api = make(cfg.replace(owner_language="zh-Hans", alert_webhook="http://127.0.0.1:9/hook"), monkeypatch)
    api.act(PHONE, "cap", "2GB")
    api.ask_owner("10.0.0.2")
    (m,) = asks(api)
    assert "annas-phone" in m["subject"] and "asks for more data" not in m["subject"]
    assert "asks for more" not in m["text"] and PHONE in m["text"]
    api.hs.close()
