"""luci-app-hotspot on OpenWrt's own ubusd, rpcd and uhttpd in the lab's router, against the real
hotspotd: LuCI's JSON-RPC reaches the plugin only for a session whose ACL grants it (the app's ACL,
least rights: reading is not acting), and a LuCI session opens the admin UI only when rpcd vouches
for it."""

from __future__ import annotations

import json

from tests.lab.conftest import register
from tests.luci.conftest import OTHER, OWNER, VIEWER


def call(router, sid, method, args=None):
    return router.jsonrpc(sid, "call", "luci.hotspot", method, args or {})


def test_rpcd_runs_the_plugin_only_as_the_sessions_acl_allows(lab, luci_router):
    r, d = luci_router, luci_router.hotspotd
    register(lab, d, "c1")
    mac = lab.clients["c1"].mac
    owner, viewer, other = (r.login(u.name, u.password) for u in (OWNER, VIEWER, OTHER))
    assert r.login(OWNER.name, "wrong-password") is None
    status = call(r, owner, "status")["result"]
    assert status[0] == 0 and status[1]["daemon"]["running"] and status[1]["plan"]["plan_quota"] == 20 * 10**9
    clients = call(r, viewer, "clients")["result"][1]["clients"]
    assert mac in {c["mac"] for c in clients}
    for sid in (viewer, other, "f" * 32):  # acting needs the write half of the app's ACL
        answer = call(r, sid, "act", {"action": "cap", "mac": mac, "value": "1GB"})
        assert answer["error"]["message"] == "Access denied", answer
    assert call(r, other, "status")["error"]["message"] == "Access denied"
    assert d.client(mac)["cap"] is None
    done = call(r, owner, "act", {"action": "cap", "mac": mac, "value": "1GB"})["result"]
    assert done[0] == 0 and done[1]["cap"] == 10**9 and d.client(mac)["cap"] == 10**9
    refused = call(r, owner, "act", {"action": "cap", "mac": mac, "value": "1GB; reboot"})["result"][1]
    assert refused["error"].startswith("invalid size") and d.client(mac)["cap"] == 10**9
    # the uci object: the app's ACL reads and writes /etc/config/hotspot, and nothing else
    port = {"config": "hotspot", "section": "main", "option": "portal_port"}
    got = r.jsonrpc(owner, "call", "uci", "get", port)
    assert got["result"] == [0, {"value": "8080"}]
    assert r.jsonrpc(viewer, "call", "uci", "set", {"config": "hotspot", "section": "main",
                                                      "values": {"auth": "click"}})["result"][0] == 6


def portal_post(lab, client: str, url: str, sid: str) -> tuple[int, str]:
    """POST sid to the portal from a client, as LuCI's button does; the status and where it sends."""
    p = lab.run(client, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                "--data-urlencode", f"sid={sid}", url, check=False)
    code, _, where = p.stdout.partition(" ")
    return int(code), where


def test_a_luci_session_opens_the_admin_ui_only_when_rpcd_vouches_for_it(lab, luci_router):
    r, d = luci_router, luci_router.hotspotd
    register(lab, d, "c1")
    url = f"http://{lab.router4}:{d.config.portal_port}/admin/luci"
    owner, viewer, other = (r.login(u.name, u.password) for u in (OWNER, VIEWER, OTHER))
    for sid in ("f" * 32, viewer, other, "not-a-session", owner.upper()):
        assert portal_post(lab, "c1", url, sid)[0] == 403, sid
    code, where = portal_post(lab, "c1", url, owner)
    assert code == 303 and where.endswith("/admin")
    # the cookie it sets is an admin session hotspotd issued: the owner's pages open with it
    jar = lab.dir + "/jar"
    lab.run("c1", "curl", "-s", "-c", jar, "-o", "/dev/null", "--data-urlencode", f"sid={owner}", url)
    page = lab.run("c1", "curl", "-s", "-b", jar, "-w", "%{http_code}", f"{url[:-5]}/clients").stdout
    assert page.endswith("200") and lab.clients["c1"].mac in page
    # LuCI's logout ends the LuCI session: the id opens nothing any more
    r.ubus("call", "session", "destroy", json.dumps({"ubus_rpc_session": owner}))
    assert portal_post(lab, "c1", url, owner)[0] == 403


def menu(lab, router, login) -> dict:
    """LuCI's menu for a login, as its dispatcher answers it after its own login form."""
    jar = f"{lab.dir}/jar-{login.name}"
    lab.run(lab.router, "curl", "-s", "-o", "/dev/null", "-c", jar, "--data-urlencode",
            f"luci_username={login.name}", "--data-urlencode", f"luci_password={login.password}",
            router.url + "/cgi-bin/luci/")
    answer = lab.run(lab.router, "curl", "-s", "-b", jar, router.url + "/cgi-bin/luci/admin/menu")
    return json.loads(answer.stdout)


def test_luci_shows_services_hotspot_only_to_a_login_with_the_acl(lab, luci_router):
    for login, shown in ((OWNER, True), (VIEWER, True), (OTHER, False)):
        services = menu(lab, luci_router, login)["children"]["admin"]["children"].get("services", {})
        entry = services.get("children", {}).get("hotspot", {})
        assert bool(entry.get("satisfied")) == shown, login.name
        if shown:
            assert set(entry["children"]) == {"overview", "settings"}
