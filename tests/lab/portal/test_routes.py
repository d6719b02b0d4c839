"""Every portal route, at least once, through the real gunicorn, the real socket and the real hotspotd:
a guest's pages and forms (with their real CSRF token) and the owner's after a real login. No answer is
a 5xx, and each state-changing form has its effect in hotspotd. The routes come from the app's own
url_map, so a new route without a request here fails this test."""

from __future__ import annotations

import json
import re
from pathlib import Path

from lab import SERVER4
from tests.lab.alerts.test_alerts import RECEIVER, WEBHOOK_PORT, _lines, _serve
from tests.lab.conftest import register
from tests.lab.portal.test_security import Browser
from tests.lpac_standin import HOME, TRAVEL, sample

PASSWORD = "owner-secret-1"


def _routes(d) -> set[tuple[str, str]]:
    """(rule, method) of every route the portal serves, from the app hotspotd's portal runs."""
    from hotspot.portal.app import create_app
    from hotspot.portal.hotspotd import IpcBackend

    app = create_app(IpcBackend(Path(d.config.run_dir) / "hotspotd.sock"))
    return {(r.rule, m) for r in app.url_map.iter_rules() for m in r.methods - {"HEAD", "OPTIONS"}}


class Visitor(Browser):
    """A Browser that records which routes it reached and never accepts a 5xx."""

    def __init__(self, lab, d, client, done):
        super().__init__(lab, d, client)
        self.done = done

    def go(self, rule: str, path: str | None = None, form: dict | None = None, want: int = 200,
           args: tuple = ()) -> tuple[str, str]:
        path = path or rule
        if form is None:
            status, head, body = self.request(path, *args)
            method = "GET"
        else:
            status, head, body = self.post(path, form, csrf=self.token())
            method = "POST"
        assert status < 500 and status == want, (method, path, status, body[-300:])
        self.done.add((rule, method))
        return head, body

    def token(self) -> str:
        """The session's CSRF token, from the device's own page (every page carries it)."""
        page = self.request("/")[2]
        return re.search(r'<meta name="csrf" content="([^"]+)"', page).group(1)


def test_every_portal_route_through_the_real_socket(lab, start_hotspotd, monkeypatch):
    hooks = Path(lab.dir) / "route-hooks.jsonl"
    receiver = _serve(lab, RECEIVER, WEBHOOK_PORT, hooks)
    # the eSIM's lpac: the stand-in, its eUICC in a file
    monkeypatch.setenv("LPAC_STANDIN_STATE", sample(str(Path(lab.dir) / "euicc.json")))
    try:
        d = start_hotspotd(auth="click", alert_webhook=f"http://127.0.0.1:{WEBHOOK_PORT}/hook",
                           plan_quota=10 * 10**9,
                           esim_lpac=str(Path(__file__).resolve().parents[2] / "lpac_standin.py"))
        register(lab, d, "c1", "c2")
        d.ctl("passwd", input=PASSWORD + "\n")
        d.ctl("admit", lab.clients["c2"].mac)  # the owner's device
        d.wait_portal()
        done: set[tuple[str, str]] = set()
        _as_guest(lab, d, Visitor(lab, d, "c1", done))
        _as_owner(lab, d, Visitor(lab, d, "c2", done), hooks)
        missing = _routes(d) - done
        assert not missing, f"routes no request reached: {sorted(missing)}"
    finally:
        receiver.kill()


def _as_guest(lab, d, g: Visitor) -> None:
    mac = lab.clients["c1"].mac
    # Captive: the sign-in page, the OS probes say "not online", RFC 8908 says captive.
    assert 'name="accept"' in g.go("/signin")[1]
    assert 'name="accept"' in g.go("/")[1]
    assert json.loads(g.go("/api/captive")[1])["captive"] is True
    probes = ("/generate_204", "/gen_204", "/hotspot-detect.html", "/library/test/success.html",
              "/connecttest.txt", "/ncsi.txt", "/canonical.html", "/success.txt")
    for p in probes:
        g.go(p, want=302)
    g.go("/signin", form={"accept": "yes"}, want=303)
    assert d.client(mac)["admitted"] is True
    for p in probes:
        g.go(p, want=204 if "204" in p else 200)
    assert json.loads(g.go("/api/captive")[1])["captive"] is False
    assert mac in g.go("/")[1]
    assert json.loads(g.go("/api/me")[1])["mac"] == mac
    assert "rows" in json.loads(g.go("/api/me/history", "/api/me/history?by=day")[1])
    g.go("/static/<path:filename>", "/static/portal.css")
    # Its own forms: the update guard and ghost traffic's block.
    g.go("/update-guard", form={"on": "1"}, want=303)
    assert d.client(mac)["update_guard_choice"] is True
    g.go("/ghost", form={"action": "block", "destination": SERVER4}, want=303)
    assert [b["addr"] for b in d.json("ghost", mac)["blocked"][mac]] == [SERVER4]
    # Its own limits, and the page that asks (not held: back to its page; an answer refused).
    g.go("/own-limits", form={"limit": "", "warn": "5GB", "ask": ""}, want=303)
    assert d.client(mac)["own_warn"] == 5 * 10**9
    g.go("/ask", want=303)
    g.go("/ask", form={"answer": "continue"}, want=303)
    # Its own choices: data off and back on, and asking the owner for more (a cap of its own first).
    g.go("/data-off", form={"off": "1"}, want=303)
    assert d.client(mac)["self_paused"] is True
    g.go("/data-off", form={"off": "0"}, want=303)
    assert d.client(mac)["self_paused"] is False
    d.ctl("cap", mac, "2GB")
    g.go("/ask-owner", form={}, want=303)
    assert d.client(mac)["ask"]["asked_at"] is not None
    # Not the owner: the admin pages send it to the login page, /metrics says 401.
    g.go("/metrics", want=401)


def _as_owner(lab, d, o: Visitor, hooks: Path) -> None:
    victim = lab.clients["c1"].mac
    # from LuCI: hotspotd asks rpcd about the session, and here no rpcd vouches for it (tests/luci
    # has the real one): the login page, no session
    o.go("/admin/luci", form={"sid": "0123456789abcdef0123456789abcdef"}, want=403)
    o.go("/admin/login")
    head, _ = o.go("/admin/login", form={"password": PASSWORD}, want=303)
    assert "/admin" in head
    for rule in ("/admin", "/admin/", "/admin/apps", "/admin/clients", "/admin/alerts", "/admin/plan",
                 "/admin/settings", "/admin/vouchers"):
        o.go(rule)
    o.go("/admin/clients/<mac>", f"/admin/clients/{victim}")
    assert json.loads(o.go("/admin/api/status")[1])["clients"] == "2"
    assert victim in o.go("/admin/api/clients")[1]
    o.go("/admin/api/history/<subject>", "/admin/api/history/plan?by=day")
    assert "rows" in json.loads(o.go("/admin/api/history/<subject>", f"/admin/api/history/{victim}")[1])
    assert victim in o.go("/admin/export.csv")[1]
    assert "hotspot_client_bytes_total" in o.go("/metrics")[1]

    o.go("/admin/clients/<mac>/act", f"/admin/clients/{victim}/act", {"action": "cap", "value": "1GB"}, 303)
    assert d.client(victim)["cap"] == 10**9
    o.go("/admin/clients/<mac>/ask", f"/admin/clients/{victim}/ask", {"value": "700MB"}, 303)
    assert d.client(victim)["ask_at"] == 700 * 10**6
    assert 'value="300MB"' in o.go("/admin/clients/<mac>/approve", f"/admin/clients/{victim}/approve")[1]
    o.go("/admin/clients/<mac>/approve", f"/admin/clients/{victim}/approve", {"size": "300MB"}, 303)
    assert d.client(victim)["cap"] == 13 * 10**8  # a quarter of its cap, in 100 MB steps
    o.go("/admin/clients/<mac>/ghost", f"/admin/clients/{victim}/ghost",
         {"action": "unblock", "destination": SERVER4}, 303)
    assert d.json("ghost", victim)["blocked"][victim] == []

    settings = {"default_cap": "3GB", "period": "monthly", "period_start": "1", "after_cap": "block",
                "after_cap_rate": "256kbit", "auth": "click", "owner_language": "zh-Hans"}
    o.go("/admin/settings", form=settings, want=303)
    assert "option default_cap '3GB'" in d.config_path.read_text()
    assert "option owner_language 'zh-Hans'" in d.config_path.read_text()
    cycle = {"form": "cycle", "plan_quota": "20GB", "plan_period": "monthly", "plan_period_start": "1",
             "plan_start_hour": "0", "plan_timezone": "", "plan_pass_length": ""}
    o.go("/admin/plan", form=cycle, want=303)
    assert "option plan_quota '20GB'" in d.config_path.read_text()
    o.go("/admin/plan/topup", form={"size": "1GB"}, want=303)
    assert d.json("plan", "show")["topup"] == 10**9
    o.go("/admin/plan/used", form={"used": "5GB", "at": ""}, want=303)
    assert 5 * 10**9 <= d.json("plan", "show")["used"] < 5 * 10**9 + 10**7
    o.go("/admin/plan/name", form={"sim": "", "name": "Travel"}, want=303)
    assert d.json("plan", "list")[0]["name"] == "Travel"
    assert "Japan 7 days 5GB" in o.go("/admin/plan")[1]
    o.go("/admin/plan/esim/enable", form={"iccid": TRAVEL}, want=303)
    o.go("/admin/plan/esim/nickname", form={"iccid": HOME, "nickname": "家 <i>Home</i>"}, want=303)
    assert [(p["state"], p["nickname"]) for p in d.json("esim", "list")["profiles"]] == [
        ("disabled", "家 <i>Home</i>"), ("enabled", None)]
    assert "家 &lt;i&gt;Home&lt;/i&gt;" in o.go("/admin/plan")[1]

    o.go("/admin/vouchers", form={"count": "2", "data": "1GB", "valid": "1d", "devices": "1"}, want=303)
    made = d.json("voucher", "list")
    assert len(made) == 2
    code, batch = made[0]["code"], made[0]["batch"]
    assert code in o.go("/admin/vouchers.csv")[1]
    assert code in o.go("/admin/vouchers/print/<int:batch>", f"/admin/vouchers/print/{batch}")[1]
    o.go("/admin/vouchers/<code>/revoke", f"/admin/vouchers/{code}/revoke", {}, 303)
    assert next(v for v in d.json("voucher", "list") if v["code"] == code)["state"] == "revoked"

    o.go("/admin/alerts/test", form={"channel": "webhook"}, want=303)
    d.lab.wait_for(lambda: _lines(hooks), 10, "the test message at the webhook")

    o.go("/admin/clients/<mac>/forget", f"/admin/clients/{victim}/forget", {}, 303)
    after = {c["mac"]: c for c in d.json("clients")}
    assert victim not in after or after[victim]["cap"] != 10**9  # gone, or found again as a new device

    o.go("/admin/logout", form={}, want=303)
    status, head, _ = o.request("/admin/clients")
    assert status == 302 and "/admin/login" in head
