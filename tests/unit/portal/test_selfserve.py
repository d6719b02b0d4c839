"""A guest's own choices on the portal (hotspot/portal/selfserve.py) against the fake backend: forms
need the CSRF token and act on the requesting device only (a field naming another is ignored); the
approve link shows a form and never acts on GET, and a login it sent to lands back on it."""

from __future__ import annotations

from tests.unit.portal.test_admin import ADMIN_IP, login, post, token

PHONE, LAPTOP, BLOCKED = "10.0.0.10", "10.0.0.11", "10.0.0.15"
MAC = "a4:5e:60:11:22:33"


def page(client, ip, lang="en"):
    return client.get("/", environ_base={"REMOTE_ADDR": ip}, headers={"Accept-Language": lang}).get_data(
        as_text=True)


def calls(backend, name):
    return [c for c in backend.calls if c[0] == name]


def test_data_off_needs_csrf_and_acts_on_the_requesting_device_only(client, backend):
    html = page(client, PHONE)
    assert 'id="data-off"' in html and "Turn data off" in html
    r = client.post("/data-off", data={"off": "1"}, environ_base={"REMOTE_ADDR": PHONE})
    assert r.status_code == 400 and not calls(backend, "data_off")
    forged = {"csrf": token(client), "off": "1", "mac": "3c:22:fb:44:55:66", "ip": LAPTOP}
    r = client.post("/data-off", data=forged, environ_base={"REMOTE_ADDR": PHONE})
    assert r.status_code == 303 and calls(backend, "data_off") == [("data_off", PHONE, True)]
    assert backend.by_ip[PHONE]["self_paused"] and not backend.by_ip[LAPTOP]["self_paused"]
    html = page(client, PHONE)
    assert "Data is off for this device" in html and "Turn data back on" in html
    client.post("/data-off", data={"csrf": token(client), "off": "0"}, environ_base={"REMOTE_ADDR": PHONE})
    assert "Data is back on for this device." in page(client, PHONE)
    assert client.post("/data-off", data={"csrf": token(client), "off": "maybe"},
                       environ_base={"REMOTE_ADDR": PHONE}).status_code == 400


def test_a_device_the_owner_paused_cannot_turn_itself_back_on(client, backend):
    html = page(client, BLOCKED)
    assert "Only they can let it back on" in html and "Turn data back on" not in html
    client.post("/data-off", data={"csrf": token(client), "off": "0"}, environ_base={"REMOTE_ADDR": BLOCKED})
    assert "Only the hotspot&#39;s owner can let this device back on." in page(client, BLOCKED)
    assert backend.by_ip[BLOCKED]["owner_blocked"]


def test_asking_the_owner_once_an_hour_and_without_a_channel(client, backend):
    assert "Ask the owner for more" in page(client, PHONE)
    assert client.post("/ask-owner", environ_base={"REMOTE_ADDR": PHONE}).status_code == 400
    client.post("/ask-owner", data={"csrf": token(client), "mac": "3c:22:fb:44:55:66"},
                environ_base={"REMOTE_ADDR": PHONE})
    assert calls(backend, "ask_owner") == [("ask_owner", PHONE)]
    assert backend.by_ip[LAPTOP]["ask"]["asked_at"] is None
    html = page(client, PHONE)
    assert "The owner was told you would like more data." in html and "You can ask again after" in html
    assert "Ask the owner for more</button>" not in html
    client.post("/ask-owner", data={"csrf": token(client)}, environ_base={"REMOTE_ADDR": PHONE})
    assert "less than an hour ago" in page(client, PHONE)
    backend.by_ip[LAPTOP]["ask"]["told"] = False
    html = page(client, LAPTOP)
    assert "no alert channel is set up" in html and "Ask the owner for more</button>" not in html
    zh = page(client, PHONE, "zh-CN")
    assert "需要更多流量" in zh and "主人已收到通知" in zh


def test_the_trickle_card_on_both_pages(client, backend):
    html = page(client, PHONE)
    assert 'id="trickle"' in html and "Usual quiet hours: 23:00–07:00" in html and "a month" in html
    assert "流量后台" in page(client, PHONE, "zh-CN") or "安静时段" in page(client, PHONE, "zh-CN")
    login(client)
    admin = client.get(f"/admin/clients/{MAC}", environ_base={"REMOTE_ADDR": ADMIN_IP}).get_data(as_text=True)
    assert 'id="trickle"' in admin and "while it is usually idle" in admin


def test_the_approve_link_lands_after_login_on_a_form_and_only_a_post_tops_up(client, backend):
    link = f"/admin/clients/{MAC}/approve?size=500000000"
    r = client.get(link, environ_base={"REMOTE_ADDR": ADMIN_IP})
    assert r.status_code == 302 and "/admin/login" in r.headers["Location"]
    r = login(client)
    assert r.status_code == 303 and r.headers["Location"].endswith(link.replace("?", "?"))
    html = client.get(r.headers["Location"], environ_base={"REMOTE_ADDR": ADMIN_IP}).get_data(as_text=True)
    assert 'value="500MB"' in html and "Top up this device" in html and MAC in html
    assert not calls(backend, "act")  # GET never acts
    assert client.post(f"/admin/clients/{MAC}/approve", data={"size": "500MB"},
                       environ_base={"REMOTE_ADDR": ADMIN_IP}).status_code == 400
    r = post(client, f"/admin/clients/{MAC}/approve", size="500MB")
    assert r.status_code == 303 and calls(backend, "act") == [("act", MAC, "topup", "500MB")]
    bad = post(client, f"/admin/clients/{MAC}/approve", size="lots")
    assert bad.status_code == 400 and len(calls(backend, "act")) == 1
    # an altered link proposes the device's own figure; an unknown device is a 404
    html = client.get(f"/admin/clients/{MAC}/approve?size=%3Cscript%3E",
                      environ_base={"REMOTE_ADDR": ADMIN_IP}).get_data(as_text=True)
    assert 'value="500MB"' in html and "<script>" not in html
    r = client.get("/admin/clients/nonsense/approve", environ_base={"REMOTE_ADDR": ADMIN_IP})
    assert r.status_code == 404


def test_login_never_lands_off_site(client):
    client.get("/admin//evil.example/x", environ_base={"REMOTE_ADDR": ADMIN_IP})
    r = login(client)
    assert r.status_code == 303 and "evil.example" not in r.headers["Location"].split("/admin/", 1)[0]
    assert r.headers["Location"].startswith(("/admin", "http://localhost/admin"))
