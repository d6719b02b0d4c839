"""Ghost traffic on the portal: the banner names destinations and amounts (escaped, in Chinese
too); the one-tap actions need the session's CSRF token and act only on the requesting device."""

from __future__ import annotations

from tests.unit.portal.test_admin import login, post, token

PHONE, LAPTOP = "10.0.0.10", "10.0.0.11"


def page(client, ip, lang="en"):
    return client.get("/", environ_base={"REMOTE_ADDR": ip}, headers={"Accept-Language": lang})


def test_banner_names_destinations_and_amounts_in_both_languages(client):
    html = page(client, PHONE).get_data(as_text=True)
    assert "uploaded 454 MB in the background" in html
    assert "upload.photos-sync.example" in html and "415 MB" in html and "2001:db8:5::7" in html
    assert "Block for this device" in html and "Pause this device" in html
    zh = page(client, PHONE, "zh-CN").get_data(as_text=True)
    assert "在后台上传了 454 MB" in zh and "对此设备屏蔽" in zh
    assert 'id="ghost"' not in page(client, LAPTOP).get_data(as_text=True)  # nothing to say: no card


def test_client_actions_need_csrf_and_act_on_the_requesting_device(client, backend):
    page(client, PHONE)
    r = client.post("/ghost", data={"action": "block", "destination": "203.0.113.50"},
                    environ_base={"REMOTE_ADDR": PHONE})
    assert r.status_code == 400 and not [c for c in backend.calls if c[0] == "ghost_act"]
    data = {"csrf": token(client), "action": "block", "destination": "203.0.113.50",
            "mac": "3c:22:fb:44:55:66"}
    r = client.post("/ghost", data=data, environ_base={"REMOTE_ADDR": PHONE})
    assert r.status_code == 303
    assert ("ghost_act", PHONE, "block", "203.0.113.50") in backend.calls
    html = page(client, PHONE).get_data(as_text=True)
    assert "Blocked for this device." in html and "Blocked destinations" in html
    bad = client.post("/ghost", data={**data, "destination": "1.2.3.4; flush ruleset"},
                      environ_base={"REMOTE_ADDR": PHONE})
    assert bad.status_code == 303
    assert "not an IP address or a DNS name" in page(client, PHONE).get_data(as_text=True)


def test_a_device_resumes_only_a_pause_of_its_own(client, backend):
    page(client, PHONE)
    send = {"csrf": token(client)}
    client.post("/ghost", data={**send, "action": "resume"}, environ_base={"REMOTE_ADDR": PHONE})
    assert "Only the hotspot&#39;s owner can resume" in page(client, PHONE).get_data(as_text=True)
    client.post("/ghost", data={**send, "action": "pause"}, environ_base={"REMOTE_ADDR": PHONE})
    html = page(client, PHONE).get_data(as_text=True)
    assert "Resume this device" in html
    client.post("/ghost", data={**send, "action": "resume"}, environ_base={"REMOTE_ADDR": PHONE})
    assert "This device is back online." in page(client, PHONE).get_data(as_text=True)


def test_admin_blocks_a_destination_for_a_device(client, backend):
    assert login(client).status_code == 303
    html = client.get("/admin/clients/a4:5e:60:11:22:33", environ_base={"REMOTE_ADDR": PHONE}).get_data(
        as_text=True)
    assert "Ghost traffic" in html and "upload.photos-sync.example" in html
    r = post(client, "/admin/clients/a4:5e:60:11:22:33/ghost", action="block", destination="2001:db8:5::7")
    assert r.status_code == 303
    assert ("ghost_admin", "a4:5e:60:11:22:33", "block", "2001:db8:5::7") in backend.calls
    anon = client.application.test_client()
    r = anon.post("/admin/clients/a4:5e:60:11:22:33/ghost", data={"action": "pause"},
                  environ_base={"REMOTE_ADDR": PHONE})
    assert r.status_code in (302, 400, 401, 403)
