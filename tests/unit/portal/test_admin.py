"""The admin UI: login, CSRF, every action reaching the backend, bad input refused, the CSV export."""

from __future__ import annotations

import csv
import io

import pytest

from tests.portal_fake import FakeBackend

ADMIN_IP = "10.0.0.10"
MAC = "3c:22:fb:44:55:66"


def login(client, password="correct horse"):
    client.get("/admin/login", environ_base={"REMOTE_ADDR": ADMIN_IP})
    with client.session_transaction() as s:
        token = s["csrf"]
    return client.post("/admin/login", data={"csrf": token, "password": password},
                       environ_base={"REMOTE_ADDR": ADMIN_IP})


@pytest.fixture
def admin(client):
    assert login(client).status_code == 303
    return client


def token(client):
    with client.session_transaction() as s:
        return s["csrf"]


def post(client, path, **data):
    data.setdefault("csrf", token(client))
    return client.post(path, data=data, environ_base={"REMOTE_ADDR": ADMIN_IP})


def acts(backend):
    return [c for c in backend.calls if c[0] == "act"]


@pytest.mark.parametrize("path", ["/admin", "/admin/", "/admin/clients", f"/admin/clients/{MAC}",
                                  "/admin/settings", "/admin/export.csv"])
def test_pages_need_login(client, path):
    r = client.get(path)
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/login")


def test_api_needs_login(client):
    assert client.get("/admin/api/clients").status_code == 401


def test_login_wrong_password_then_rate_limited(client, backend):
    r = login(client, "nope")
    assert r.status_code == 403 and b"Wrong password." in r.data
    for _ in range(4):
        login(client, "nope")
    r = login(client, "correct horse")  # right password, but hotspotd's back-off says no
    assert r.status_code == 429 and b"Too many failed attempts" in r.data
    assert client.get("/admin").status_code == 302


def test_login_without_csrf_is_refused(client, backend):
    r = client.post("/admin/login", data={"password": "correct horse"})
    assert r.status_code == 400 and not [c for c in backend.calls if c[0] == "login"]


def test_logged_in_pages(admin):
    html = admin.get("/admin").get_data(as_text=True)
    assert "8.87 GB" in html and "Top clients this period" in html
    html = admin.get("/admin/clients").get_data(as_text=True)
    assert "work-laptop" in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html and "&#34;; flush ruleset" in html
    html = admin.get(f"/admin/clients/{MAC}").get_data(as_text=True)
    assert "Last 7 days, by hour" in html and 'id="history-data"' in html
    rows = admin.get("/admin/api/clients").get_json()["clients"]
    assert {r["mac"] for r in rows} >= {MAC} and rows[0]["bytes_total"] >= rows[-1]["bytes_total"]


def test_unknown_or_malformed_mac_is_404(admin):
    assert admin.get("/admin/clients/00:11:22:33:44:55").status_code == 404
    assert admin.get("/admin/clients/not-a-mac").status_code == 404


@pytest.mark.parametrize("action,value,sent", [
    ("cap", "3GB", "3GB"), ("cap", "none", "none"),
    ("throttle", "1mbit", "1mbit"), ("throttle", "none", "none"),
    ("block", "", None), ("unblock", "", None), ("reset", "", None), ("topup", "500MB", "500MB"),
    ("rename", "Dad's phone", "Dad's phone"), ("rename", "", ""),
])
def test_every_action_reaches_the_backend(admin, backend, action, value, sent):
    r = post(admin, f"/admin/clients/{MAC}/act", action=action, value=value)
    assert r.status_code == 303
    assert acts(backend) == [("act", MAC, action, sent)]


def test_action_effects(admin, backend):
    post(admin, f"/admin/clients/{MAC}/act", action="cap", value="5GB")
    assert backend.by_ip["10.0.0.11"]["cap"] == 5 * 10**9
    r = admin.post(f"/admin/clients/{MAC}/act", data={"action": "rename", "value": "<b>x</b>"},
                   headers={"Accept": "application/json", "X-CSRF-Token": token(admin)})
    assert r.status_code == 200 and r.get_json()["client"]["hostname"] == "<b>x</b>"


@pytest.mark.parametrize("action,value", [
    ("cap", "lots"), ("cap", "-1GB"), ("throttle", "1"), ("throttle", "5bit"), ("topup", "none"),
    ("topup", "1e9"), ("rename", "a" * 64), ("rename", "x\ny"), ("explode", ""),
    ("cap", "1GB; flush ruleset"),
])
def test_bad_action_input_is_400_and_changes_nothing(admin, backend, action, value):
    r = post(admin, f"/admin/clients/{MAC}/act", action=action, value=value)
    assert r.status_code == 400
    assert acts(backend) == []
    html = r.get_data(as_text=True)
    assert 'class="error"' in html


def test_action_without_csrf_is_400(admin, backend):
    r = admin.post(f"/admin/clients/{MAC}/act", data={"action": "block"})
    assert r.status_code == 400 and acts(backend) == []


def test_settings_saved_and_validated(admin, backend):
    assert 'value="2GB"' in admin.get("/admin/settings").get_data(as_text=True)
    good = {"default_cap": "5GB", "period": "weekly", "period_start": "1", "after_cap": "block",
            "after_cap_rate": "256kbit", "auth": "click"}
    assert post(admin, "/admin/settings", **good).status_code == 303
    assert backend._settings["auth"] == "click"
    n = len(backend.calls)
    for field, bad in [("default_cap", "huge"), ("period", "yearly"), ("period_start", "8"),
                       ("after_cap", "explode"), ("after_cap_rate", "fast"), ("auth", "x")]:
        r = post(admin, "/admin/settings", **{**good, field: bad})
        assert r.status_code == 400, field
        assert 'class="error"' in r.get_data(as_text=True)
    assert [c for c in backend.calls[n:] if c[0] == "set_settings"] == []


def test_settings_backend_error_shown_next_to_form(admin, backend):
    def refuse(values, *, session):
        from hotspot.core.contract import BackendError

        raise BackendError("default_cap: the file is read-only")

    backend.set_settings = refuse
    r = post(admin, "/admin/settings", default_cap="1GB", period="monthly", period_start="1",
             after_cap="block", after_cap_rate="256kbit", auth="none")
    assert r.status_code == 400 and "default_cap: the file is read-only" in r.get_data(as_text=True)


def test_logout(admin):
    assert post(admin, "/admin/logout").status_code == 303
    assert admin.get("/admin").status_code == 302


def test_csv_export_is_injection_safe(admin, backend):
    backend.by_ip["10.0.0.10"]["hostname"] = "=HYPERLINK(\"http://evil\")"
    backend.by_ip["10.0.0.11"]["hostname"] = "+cmd|' /C calc'!A0"
    backend.by_ip["10.0.0.12"]["hostname"] = "@SUM(1+1)"
    r = admin.get("/admin/export.csv")
    assert r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0] == ["mac", "hostname", "bytes_up", "bytes_down", "bytes_total", "cap", "state"]
    names = {row[0]: row[1] for row in rows[1:]}
    assert names["a4:5e:60:11:22:33"] == "'=HYPERLINK(\"http://evil\")"
    assert names["3c:22:fb:44:55:66"] == "'+cmd|' /C calc'!A0"
    assert names["f0:18:98:77:88:99"] == "'@SUM(1+1)"
    assert names["02:aa:bb:cc:dd:ee"] == '"; flush ruleset'
    assert len(rows) == 1 + len(backend.by_ip)


def test_secure_cookie_flags():
    """One app serves both ports: each request gets the cookie of the scheme it came in by."""
    from hotspot.portal.app import create_app

    b = FakeBackend()
    b._portal["tls"] = True
    c = create_app(b, testing=True).test_client()
    # plain HTTP keeps a cookie of its own (the captive sign-in, the guests' pages)...
    plain = c.get("/", base_url="http://localhost:8080").headers.getlist("Set-Cookie")
    assert len(plain) == 1 and plain[0].startswith("hotspot="), plain
    assert "; HttpOnly" in plain[0] and "; SameSite=Strict" in plain[0] and "Secure" not in plain[0]
    # ...HTTPS its own, Secure, which plain HTTP can neither read nor overwrite
    secure = c.get("/", base_url="https://localhost:8443").headers.getlist("Set-Cookie")
    assert len(secure) == 1 and secure[0].startswith("__Host-hotspot="), secure
    assert "; Secure" in secure[0] and "; Path=/" in secure[0] and "Domain" not in secure[0]


def test_forget_asks_to_confirm_then_erases_the_device(admin, backend):
    page = admin.get(f"/admin/clients/{MAC}").get_data(as_text=True)
    assert 'id="forget"' in page and "data-confirm=\"Forget this device?" in page
    assert f'action="/admin/clients/{MAC}/forget"' in page
    r = post(admin, f"/admin/clients/{MAC}/forget")
    assert r.status_code == 303 and r.headers["Location"].endswith("/admin/clients")
    assert ("forget", MAC) in backend.calls
    page = admin.get("/admin/clients").get_data(as_text=True)
    assert f"Forgotten: {MAC} and everything recorded about it." in page  # the flash, once
    assert MAC not in admin.get("/admin/clients").get_data(as_text=True)
    assert admin.get(f"/admin/clients/{MAC}").status_code == 404


def test_forget_needs_login_csrf_and_a_known_mac(client, backend):
    assert client.post(f"/admin/clients/{MAC}/forget").status_code == 400  # no CSRF token, no session
    assert login(client).status_code == 303
    assert client.post(f"/admin/clients/{MAC}/forget", data={"csrf": "wrong"},
                       environ_base={"REMOTE_ADDR": ADMIN_IP}).status_code == 400
    assert client.get(f"/admin/clients/{MAC}/forget").status_code == 405
    assert post(client, "/admin/clients/not-a-mac/forget").status_code == 404
    r = post(client, "/admin/clients/02:00:00:00:00:99/forget")
    assert r.status_code == 303
    assert "no client 02:00:00:00:00:99" in client.get("/admin/clients").get_data(as_text=True)
    assert [c for c in backend.calls if c[0] == "forget"] == [("forget", "02:00:00:00:00:99")]
