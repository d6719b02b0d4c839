"""Who decides, in the house (core and keepers) and hotspotd's answers to the portal (no kernel): the owner's
block and a device's own pause are separate facts, and a device lifts only what it set itself; a
destination remembers who blocked it; a device never sees the owner's private name for it; the portal
sends an ended session to the login, and with TLS keeps the admin UI on HTTPS."""

from __future__ import annotations

import pytest

from hotspot.core.contract import BackendError
from hotspot.house import House
from tests.conftest import Clock, without_kernel
from tests.portal_fake import FakeBackend

PHONE, OTHER = "aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02"
ADDRESSES = {"10.0.0.2": PHONE, "10.0.0.3": OTHER}


@pytest.fixture
def api(cfg, monkeypatch):
    hs = House(cfg, clock=Clock())
    with hs.store.transaction():
        hs.store.add_client(PHONE, hs.clock(), hostname="annas-phone")
        hs.store.add_client(OTHER, hs.clock(), hostname="laptop")
    without_kernel(monkeypatch, ADDRESSES)
    api = hs.answers()  # what hotspotd's socket serves
    api.hs = hs
    yield api
    hs.close()


def held(api) -> tuple[bool, bool, bool, str]:
    v = api.hs.clients.detail(PHONE)
    return v["blocked"], v["owner_blocked"], v["self_paused"], v["state"]


def test_the_owners_block_holds_whatever_the_device_does(api):
    api.act(PHONE, "block")
    api.ghost_act("10.0.0.2", "pause")  # accepted: its own pause, beside the owner's block
    assert held(api) == (True, True, True, "blocked")
    assert api.ghost_act("10.0.0.2", "resume")["reason"] == "blocked"  # its pause gone, the block not
    assert held(api) == (True, True, False, "blocked")
    with pytest.raises(BackendError, match="Only the hotspot's owner can resume"):
        api.ghost_act("10.0.0.2", "resume")
    assert held(api) == (True, True, False, "blocked")


def test_a_device_lifts_its_own_pause_and_the_owner_lifts_both(api):
    me = api.ghost_act("10.0.0.2", "pause")
    assert (me["reason"], me["state"], me["ghost"]["self_paused"]) == ("paused", "blocked", True)
    assert held(api) == (True, False, True, "blocked")
    assert api.ghost_act("10.0.0.2", "resume")["reason"] is None
    assert held(api) == (False, False, False, "ok")
    api.ghost_act("10.0.0.2", "pause")
    api.ghost_admin(PHONE, "pause")  # the owner's pause is the owner's block
    assert held(api) == (True, True, True, "blocked")
    api.act(PHONE, "unblock")  # the owner lets it online: both lifted
    assert held(api) == (False, False, False, "ok")
    # the policy holds it while either holds
    api.ghost_act("10.0.0.2", "pause")
    c = api.hs.clients.find(PHONE)
    assert c.held and not c.blocked and c.paused


def test_a_device_unblocks_only_the_destinations_it_blocked(api):
    api.ghost_admin(PHONE, "block", "203.0.113.50")
    with pytest.raises(BackendError, match="only the hotspot's owner can unblock 203.0.113.50"):
        api.ghost_act("10.0.0.2", "unblock", "203.0.113.50")
    me = api.ghost_act("10.0.0.2", "block", "198.51.100.7")
    assert me["ghost"]["blocked"] == [{"addr": "198.51.100.7", "name": None, "by": "device"},
                                      {"addr": "203.0.113.50", "name": None, "by": "owner"}]
    assert [b["addr"] for b in api.ghost_act("10.0.0.2", "unblock", "198.51.100.7")["ghost"]["blocked"]] == [
        "203.0.113.50"]
    # a destination the device blocked becomes the owner's when the owner blocks it too
    api.ghost_act("10.0.0.2", "block", "198.51.100.7")
    api.ghost_admin(PHONE, "block", "198.51.100.7")
    with pytest.raises(BackendError, match="only the hotspot's owner"):
        api.ghost_act("10.0.0.2", "unblock", "198.51.100.7")
    assert {b["by"] for b in api.hs.ghost.blocked_destinations(PHONE)} == {"owner"}
    api.ghost_admin(PHONE, "unblock", "203.0.113.50")  # the owner lifts any
    assert [b["addr"] for b in api.hs.ghost.blocked_destinations(PHONE)] == ["198.51.100.7"]


def test_a_device_sees_its_dhcp_hostname_never_the_owners_name_for_it(api):
    api.act(PHONE, "rename", "Dads secret phone")
    me = api.me("10.0.0.2")
    assert me["hostname"] == "annas-phone" and "alias" not in me and "Dads secret" not in str(me)
    assert api.client(PHONE)["hostname"] == "Dads secret phone"
    assert [c["hostname"] for c in api.clients() if c["mac"] == PHONE] == ["Dads secret phone"]


def test_an_older_self_pause_becomes_the_devices_own(cfg):
    import sqlite3
    from pathlib import Path

    from hotspot.core.store import DB_NAME, Store

    Path(cfg.run_dir).mkdir(parents=True)
    db = sqlite3.connect(str(Path(cfg.run_dir) / DB_NAME))
    db.executescript(f"""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE clients (id INTEGER PRIMARY KEY, mac TEXT NOT NULL UNIQUE, hostname TEXT,
            ips TEXT NOT NULL DEFAULT '[]', first_seen REAL NOT NULL, last_seen REAL NOT NULL, cap INTEGER,
            topup INTEGER NOT NULL DEFAULT 0, rate INTEGER, blocked INTEGER NOT NULL DEFAULT 0,
            period_up INTEGER NOT NULL DEFAULT 0, period_down INTEGER NOT NULL DEFAULT 0,
            seen_up INTEGER NOT NULL DEFAULT 0, seen_down INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE blocked_dests (client INTEGER NOT NULL, addr TEXT NOT NULL, name TEXT,
            created REAL NOT NULL, PRIMARY KEY (client, addr)) WITHOUT ROWID;
        INSERT INTO clients (id, mac, first_seen, last_seen, blocked) VALUES (2, '{PHONE}', 1, 1, 1),
            (3, '{OTHER}', 1, 1, 1);
        INSERT INTO meta VALUES ('ghost_self_paused:{PHONE}', '5');
        INSERT INTO blocked_dests VALUES (2, '203.0.113.50', NULL, 1);
    """)
    db.commit()
    db.close()
    s = Store.open(cfg.run_dir, cfg.state_dir)
    try:
        phone, other = s.client(PHONE), s.client(OTHER)
        assert (phone.blocked, phone.paused, other.blocked, other.paused) == (False, True, True, False)
        assert s.get(f"ghost_self_paused:{PHONE}") is None
        assert [tuple(r) for r in s.db.execute("SELECT by_device FROM blocked_dests")] == [(0,)]  # owner's
    finally:
        s.close()
    Store(Path(cfg.run_dir) / DB_NAME).close()  # opening again changes nothing


# -- the portal: hotspotd's word on the session, HTTPS for the admin UI --------------------------------


def _logged_in(client, backend):
    from tests.unit.portal.test_admin import login

    assert login(client).status_code == 303
    return client


def test_an_ended_session_sends_to_the_login_and_is_dropped(client, backend):
    _logged_in(client, backend)
    assert client.get("/admin/clients").status_code == 200
    backend.sessions.clear()  # hotspotd ended it (logout elsewhere, hotspotctl passwd, expiry)
    r = client.get("/admin/clients")
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/login")
    with client.session_transaction() as s:
        assert "admin" not in s
    assert client.get("/admin/api/clients").status_code == 401


def test_logout_ends_every_session_in_hotspotd(client, backend):
    from tests.unit.portal.test_admin import post

    _logged_in(client, backend)
    other = backend.login("10.0.0.11", backend.password)  # the owner's other device
    assert len(backend.sessions) == 2
    assert post(client, "/admin/logout").status_code == 303
    assert backend.sessions == set() and other not in backend.sessions


def test_with_tls_the_admin_ui_is_served_over_https_only(backend):
    from hotspot.portal.app import create_app

    backend._portal.update(tls=True, portal_url="http://10.0.0.1:8080")
    client = create_app(backend, testing=True).test_client()
    r = client.get("/admin/clients?sort=name", base_url="http://10.0.0.1:8080")
    assert r.status_code == 302 and r.headers["Location"] == "https://10.0.0.1:8443/admin/clients?sort=name"
    r = client.post("/admin/login", data={"password": "correct horse"}, base_url="http://10.0.0.1:8080")
    assert r.status_code == 302 and not [c for c in backend.calls if c[0] == "login"]
    assert client.get("/", base_url="http://10.0.0.1:8080", environ_base={"REMOTE_ADDR": "10.0.0.10"}
                      ).status_code == 200  # a guest's page stays on plain HTTP
    r = client.get("/admin/login", base_url="https://10.0.0.1:8443")
    assert r.status_code == 200 and r.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Strict-Transport-Security" not in client.get("/api/captive", base_url="http://10.0.0.1:8080",
                                                         environ_base={"REMOTE_ADDR": "10.0.0.10"}).headers
    backend._portal["portal_url"] = "https://portal.example:8443"  # a name of its own
    r = create_app(backend, testing=True).test_client().get("/admin", base_url="http://portal.example:8080")
    assert r.headers["Location"] == "https://portal.example:8443/admin"
    backend._portal["portal_url"] = "http://localhost"
    backend._portal["tls"] = False
    assert create_app(FakeBackend(), testing=True).test_client().get("/admin/login").status_code == 200
