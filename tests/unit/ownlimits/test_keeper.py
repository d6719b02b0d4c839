"""hotspotd's side of a guest's own choices, through the socket's answers with no kernel table: a
refused choice changes nothing, choices travel with a voucher, and the answers at an ask point."""

from __future__ import annotations

import pytest

from hotspot.house import House
from hotspot.portal.app import create_app
from tests.conftest import Clock, without_kernel

MB, GB = 10**6, 10**9
GUEST, OTHER = "aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02"
ADDRESSES = {"10.0.0.2": GUEST, "10.0.0.3": OTHER}


@pytest.fixture
def hs(cfg, monkeypatch):
    clock = Clock(1_795_000_000)
    h = House(cfg.replace(auth="voucher"), clock=clock)
    with h.store.transaction():
        h.store.add_client(GUEST, clock.now, cap=GB, period_down=300 * MB, admitted_until=clock.now + 86400)
        h.store.add_client(OTHER, clock.now, cap=GB)
    without_kernel(monkeypatch, ADDRESSES)
    yield h
    h.close()


def row(hs, mac):
    return hs.store.client(mac)


@pytest.mark.parametrize("limit, warn, ask, refused", [
    ("2GB", "", "", "above_cap"),
    ("100MB", "", "", "below_used"),
    ("800MB", "800MB", "", "warn_above_limit"),
    ("", "", "200MB", "ask_below_used"),
    ("1GB; flush ruleset", "", "", "invalid"),
    ("-5MB", "", "", "invalid"),
])
def test_a_refused_choice_changes_nothing(hs, limit, warn, ask, refused):
    api = hs.answers()
    assert api.set_own_limits("10.0.0.2", limit, warn, ask)["refused"] == refused
    c = row(hs, GUEST)
    assert (c.own_limit, c.own_warn, c.own_ask) == (None, None, None)


def test_a_choice_within_the_cap_lowers_the_cap_the_device_sees(hs):
    api = hs.answers()
    assert api.set_own_limits("10.0.0.2", "800MB", "500MB", "600MB") == {"refused": None, "amount": None}
    me = api.me("10.0.0.2")
    assert (me["cap"], me["owner_cap"], me["own_limit"], me["own_warn"], me["ask_point"]) == (
        800 * MB, GB, 800 * MB, 500 * MB, 600 * MB)
    assert row(hs, OTHER).own_limit is None  # only the device at that address


def test_choices_travel_with_the_voucher(hs):
    code = hs.captive.make_vouchers(1, 2 * GB, 3600, 2)[0]["code"]
    api = hs.answers()
    api.admit("10.0.0.2", code)
    assert api.set_own_limits("10.0.0.2", "900MB", "", "")["refused"] is None
    api.admit("10.0.0.3", code)  # its holder's other device (or the phone with a new private MAC)
    assert row(hs, OTHER).own_limit == 900 * MB


def test_held_at_its_ask_point_until_it_answers(hs):
    api = hs.answers()
    app = create_app(api, testing=True).test_client()
    assert api.set_own_limits("10.0.0.2", "", "", "400MB")["refused"] is None
    assert api.answer_ask("10.0.0.2", "continue")["refused"] == "not_asked"
    with hs.store.transaction():
        hs.store.update(row(hs, GUEST).id, period_down=400 * MB)
    me = api.me("10.0.0.2")
    assert (me["asking"], me["reason"], me["state"]) == (True, "ask", "capped")
    body = app.get("/api/captive", environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_json(force=True)
    assert body["captive"] is True
    page = app.get("/", environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert page.status_code == 303 and page.headers["Location"].endswith("/ask")
    assert api.answer_ask("10.0.0.2", "stop")["refused"] is None
    me = api.me("10.0.0.2")
    assert (me["asking"], me["reason"]) == (False, "own_limit")
    assert me["own_limit"] == me["cap"] == 400 * MB
    # it changes its mind: raises its limit; the point it answered is not asked again this period
    assert api.set_own_limits("10.0.0.2", "700MB", "", "400MB")["refused"] is None
    me = api.me("10.0.0.2")
    assert (me["reason"], me["ask_point"], me["cap"]) == (None, None, 700 * MB)


def test_the_owners_ask_point_and_release(hs):
    hs.ownlimits.owner_ask(GUEST, "350MB")
    with hs.store.transaction():
        hs.store.update(row(hs, GUEST).id, period_down=350 * MB)
    assert hs.clients.detail(GUEST)["asking"] is True
    assert hs.ownlimits.owner_ask(GUEST, "continue")["asking"] is False
    assert hs.ownlimits.owner_ask(GUEST, "none")["ask_off"] is True
    assert hs.ownlimits.owner_ask(GUEST, "default")["ask_at"] is None


def test_the_poll_looks_only_at_devices_near_a_point_they_have_not_answered():
    from hotspot.core.store import Store

    s = Store(":memory:")
    with s.transaction():
        for n, fields in enumerate([
            {"own_ask": 100, "period_down": 150},  # past its point: held
            {"own_ask": 100, "period_down": 150, "ask_done": 100},  # answered
            {"own_ask": 100, "ask_at": 300, "period_down": 150, "ask_done": 100},  # the owner's still to come
            {"period_down": 450},  # past the default
            {"period_down": 450, "ask_at": 0},  # the owner said never
            {"period_down": 10, "own_ask": 100},  # far from its point
        ], start=1):
            s.add_client(f"aa:00:00:00:00:0{n}", 0, **fields)
    assert [c.mac[-1] for c in s.near_ask(5, None)] == ["1", "3"]
    assert [c.mac[-1] for c in s.near_ask(5, 400)] == ["1", "2", "3", "4"]
