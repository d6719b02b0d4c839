"""The eSIM's profiles on the admin Plan page (fake backend): shown only with lpac, enabled and named
by the owner (login and CSRF as every admin form), bad ICCIDs and nicknames refused with a 400 before
hotspotd is asked, lpac's refusals shown in one line, a carrier's names escaped."""

from __future__ import annotations

import pytest

from tests.unit.portal.test_admin import ADMIN_IP, login, post
from tests.unit.portal.test_plan import calls

HOME, TRAVEL = "8988211000000123458", "89444765000012345673"
EID = "89049032000001000000012345678901"


def listing() -> dict:
    return {"available": True, "eid": EID, "error": None, "profiles": [
        {"iccid": HOME, "name": "Home 20GB", "nickname": None, "provider": "<b>Example</b> Home",
         "state": "enabled", "profile_class": "operational"},
        {"iccid": TRAVEL, "name": "Japan 7 days 5GB", "nickname": "<script>alert(1)</script>",
         "provider": "Tokyo Pass", "state": "disabled", "profile_class": "test"}]}


@pytest.fixture
def admin(client, backend):
    backend.esim_listing = listing()
    assert login(client).status_code == 303
    return client


def page(client) -> str:
    return client.get("/admin/plan", environ_base={"REMOTE_ADDR": ADMIN_IP}).get_data(as_text=True)


def test_no_lpac_no_section(client, backend):
    assert login(client).status_code == 303
    assert 'id="esim"' not in page(client) and calls(backend, "esim") == [("esim",)]


def test_the_profiles_are_listed_escaped(admin):
    html = page(admin)
    for text in ('id="esim"', "eSIM profiles", EID, HOME, TRAVEL, "Home 20GB", "Japan 7 days 5GB",
                 "Tokyo Pass", "In use", "test", "&lt;b&gt;Example&lt;/b&gt; Home",
                 "&lt;script&gt;alert(1)&lt;/script&gt;"):
        assert text in html, text
    assert "<script>alert(1)" not in html and "<b>Example" not in html
    assert html.count('action="/admin/plan/esim/enable"') == 1  # the enabled profile has no Enable button
    assert html.count('action="/admin/plan/esim/nickname"') == 2


def test_lpac_s_error_is_shown(admin, backend):
    backend.esim_listing = {"available": True, "eid": None, "profiles": [],
                            "error": "lpac: euicc_init (code -1)"}
    assert "lpac: euicc_init (code -1)" in page(admin)


def test_enable_and_nickname(admin, backend):
    r = post(admin, "/admin/plan/esim/enable", iccid=TRAVEL)
    assert r.status_code == 303 and r.headers["Location"].endswith("/admin/plan#esim")
    assert calls(backend, "esim_enable") == [("esim_enable", TRAVEL)]
    html = page(admin)
    assert f"Profile {TRAVEL} enabled: the modem switches to it." in html
    assert [p["state"] for p in backend.esim_listing["profiles"]] == ["disabled", "enabled"]
    r = post(admin, "/admin/plan/esim/nickname", iccid=HOME, nickname="  家 Home  ")
    assert r.status_code == 303 and calls(backend, "esim_nickname") == [("esim_nickname", HOME, "家 Home")]
    assert "Nickname saved." in page(admin) and 'value="家 Home"' in page(admin)


@pytest.mark.parametrize("path, data, message", [
    ("/admin/plan/esim/enable", {"iccid": "8988211000000123456"}, "eSIM: not a valid ICCID."),
    ("/admin/plan/esim/enable", {"iccid": ""}, "eSIM: not a valid ICCID."),
    ("/admin/plan/esim/enable", {}, "eSIM: not a valid ICCID."),
    ("/admin/plan/esim/enable", {"iccid": "8988211000000123458 --help"}, "eSIM: not a valid ICCID."),
    ("/admin/plan/esim/nickname", {"iccid": "12", "nickname": "x"}, "eSIM: not a valid ICCID."),
    ("/admin/plan/esim/nickname", {"iccid": HOME, "nickname": ""}, "Nickname: 1 to 64 bytes"),
    ("/admin/plan/esim/nickname", {"iccid": HOME, "nickname": "x" * 65}, "Nickname: 1 to 64 bytes"),
    ("/admin/plan/esim/nickname", {"iccid": HOME, "nickname": "a\nb"}, "Nickname: 1 to 64 bytes"),
    ("/admin/plan/esim/nickname", {"iccid": HOME, "nickname": "--x"}, "Nickname: 1 to 64 bytes"),
])
def test_bad_input_is_a_400_and_asks_nothing(admin, backend, path, data, message):
    r = post(admin, path, **data)
    assert r.status_code == 400 and message in r.get_data(as_text=True)
    assert not calls(backend, "esim_enable") and not calls(backend, "esim_nickname")
    assert backend.esim_listing == listing()


def test_lpac_s_refusal_is_a_400_in_one_line(admin, backend):
    r = post(admin, "/admin/plan/esim/enable", iccid=HOME)  # already enabled
    assert r.status_code == 400
    assert "lpac: es10c_enable_profile: profile not in disabled state (code -1)" in r.get_data(as_text=True)
    r = post(admin, "/admin/plan/esim/enable", iccid="89012601234567890121")
    assert r.status_code == 400 and "iccid or aid not found" in r.get_data(as_text=True)


@pytest.mark.parametrize("path, data", [("/admin/plan/esim/enable", {"iccid": TRAVEL}),
                                        ("/admin/plan/esim/nickname", {"iccid": HOME, "nickname": "x"})])
def test_posts_need_login_and_csrf(client, backend, path, data):
    backend.esim_listing = listing()
    client.get("/admin/login", environ_base={"REMOTE_ADDR": ADMIN_IP})
    r = post(client, path, **data)  # a valid CSRF token, but no login
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/login")
    assert login(client).status_code == 303
    r = client.post(path, data=data, environ_base={"REMOTE_ADDR": ADMIN_IP})  # logged in, no token
    assert r.status_code == 400
    r = client.post(path, data={**data, "csrf": "forged"}, environ_base={"REMOTE_ADDR": ADMIN_IP})
    assert r.status_code == 400
    assert not calls(backend, "esim_enable") and not calls(backend, "esim_nickname")
    assert backend.esim_listing == listing()
