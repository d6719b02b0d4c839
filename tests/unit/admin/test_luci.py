"""The owner comes from LuCI: hotspotd issues an admin session only when rpcd vouches for the LuCI
session id (here rpcd's answer is a function; tests/luci asks the real rpcd), with a login's
brakes and expiry; the portal's /admin/luci passes the id on and holds nothing that makes one."""

from __future__ import annotations

import pytest

from hotspot.admin import auth, luci
from hotspot.admin import keeper as admin_keeper
from hotspot.core.contract import BackendError
from hotspot.house import House
from tests.conftest import Clock

SID = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def house(cfg, monkeypatch):
    monkeypatch.setattr(admin_keeper, "mac_of", lambda ip, _dev: None)
    hs = House(cfg, clock=Clock())
    asked = []

    def rpcd(sid, socket):
        asked.append((sid, socket))
        return sid == SID

    hs.admin.ask_rpcd = rpcd
    hs.asked = asked
    yield hs
    hs.close()


def test_rpcds_yes_opens_a_session_rpcds_no_opens_none(house):
    api = house.answers()
    token = api.admin_from_luci("192.168.1.20", SID)
    assert token and api.session_valid(token)
    assert api.admin_from_luci("192.168.1.20", "f" * 32) is None
    assert house.asked == [(SID, None), ("f" * 32, None)]


@pytest.mark.parametrize("sid", ["", "0" * 31, "0" * 33, SID.upper(), SID[:-1] + "g", f"{SID}\n",
                                 '"},"x":1', None, 12, ["x"]])
def test_a_malformed_sid_is_refused_before_rpcd_is_asked(house, sid):
    assert house.answers().admin_from_luci("192.168.1.20", sid) is None
    assert house.asked == []


def test_refusals_are_braked_like_failed_logins(house):
    api = house.answers()
    for _ in range(house.admin.limiter.free):
        assert api.admin_from_luci("192.168.1.20", "e" * 32) is None
    with pytest.raises(BackendError, match="too many failed logins"):
        api.admin_from_luci("192.168.1.20", SID)
    assert api.admin_from_luci("192.168.1.30", SID)  # another device is not held back


def test_a_luci_session_ends_as_a_login_does(house, cfg):
    api = house.answers()
    token = api.admin_from_luci("192.168.1.20", SID)  # no admin password set: still a session
    auth.set_password(cfg.state_dir, "a-new-password")  # hotspotctl passwd ends every session
    assert not api.session_valid(token)
    again = api.admin_from_luci("192.168.1.20", SID)
    assert api.session_valid(again)
    assert api.logout()["ended"] == 1
    assert not api.session_valid(again)


def test_a_luci_session_idles_out(house):
    api = house.answers()
    token = api.admin_from_luci("192.168.1.20", SID)
    house.admin.sessions.clock = lambda: 10**9  # long past `idle` and `longest`
    assert not api.session_valid(token)


def test_without_ubus_or_rpcd_the_answer_is_no(tmp_path):
    assert luci.may_admin(SID, ubus=str(tmp_path / "no-ubus")) is False
    assert luci.may_admin(SID, socket=str(tmp_path / "no.sock"), ubus="/bin/false") is False
    assert luci.may_admin("not-a-sid", ubus="/bin/true") is False


# -- the portal's side ---------------------------------------------------------------------------------


def test_the_portal_passes_the_sid_on_and_logs_the_owner_in(client, backend):
    backend.luci_sessions.add(SID)
    r = client.post("/admin/luci", data={"sid": SID})  # from LuCI's page: no CSRF token of ours
    assert r.status_code == 303 and r.headers["Location"].endswith("/admin")
    assert client.get("/admin/clients").status_code == 200
    with client.session_transaction() as s:
        assert s["admin"] in backend.sessions and s["csrf"]


@pytest.mark.parametrize("sid", ["f" * 32, "", "x" * 65])
def test_the_portal_refuses_what_hotspotd_refuses(client, backend, sid):
    r = client.post("/admin/luci", data={"sid": sid})
    assert r.status_code == 403 and b"LuCI did not confirm" in r.data
    assert client.get("/admin/clients").status_code == 302
    assert backend.sessions == set()


def test_the_sid_is_never_taken_from_the_url(client, backend):
    backend.luci_sessions.add(SID)
    assert client.get(f"/admin/luci?sid={SID}").status_code == 405
    assert backend.sessions == set()


def test_other_posts_still_need_the_csrf_token(client, backend):
    backend.luci_sessions.add(SID)
    client.post("/admin/luci", data={"sid": SID})
    assert client.post("/admin/logout").status_code == 400
