"""A guest's own choices in a real browser against the real hotspotd: a capped guest asks the owner for
more with a click, the alert reaches a real webhook receiver, and the owner's one tap on its link (after
logging in) tops up the cap, so the guest's real traffic flows again; its data-off button too."""

from __future__ import annotations

from pathlib import Path

from tests.browser.conftest import DESKTOP, shot
from tests.browser.test_plan_browser import _pull
from tests.lab.alerts.test_alerts import RECEIVER, WEBHOOK_PORT, _lines, _serve
from tests.lab.conftest import register

PASSWORD = "owner-secret-1"


def test_ask_then_the_owner_approves_from_the_alerts_link(lab, start_hotspotd, browse, request):
    hooks = Path(lab.dir) / "hooks.jsonl"
    web = _serve(lab, RECEIVER, WEBHOOK_PORT, hooks)
    try:
        d = start_hotspotd(alert_clients=False, alert_webhook=f"http://127.0.0.1:{WEBHOOK_PORT}/hook")
        register(lab, d, "c1", "c2")
        mac = lab.clients["c1"].mac
        d.ctl("passwd", input=f"{PASSWORD}\n")
        d.ctl("cap", mac, "4MB")
        _pull(lab, "c1", 6_000_000)  # the cap cuts it off at 4 MB
        d.wait_polls()
        assert d.client(mac)["state"] == "capped" and not lab.ping("c1", lab.server4, timeout=1)
        d.wait_portal()

        # the guest asks, with a click in its browser
        asked = browse("c1", [
            {"get": d.portal("/")},
            {"wait": "#ask-owner button"},
            {"click": "#ask-owner button"},
            {"wait": ".flash", "text": "The owner was told"},
            shot(request, "asked-phone"),
            {"text": "#ask-owner"},
        ])[-1]
        assert "You can ask again after" in asked, asked
        (hook,) = lab.wait_for(lambda: [h for h in _lines(hooks) if h["body"].get("event") == "ask"], 10,
                               "the ask's webhook")
        link = hook["body"]["approve_url"]

        # the owner opens the link: the login first, then the confirm page; only the click tops up
        before = d.client(mac)["cap"]
        page, = browse("c2", [
            {"get": link},
            {"wait": "input[name=password]"},
            {"fill": "input[name=password]", "text": PASSWORD},
            {"click": "form button[type=submit]"},
            {"wait": "#approve-topup"},
            shot(request, "approve-desktop"),
            {"text": "#approve"},
        ], size=DESKTOP, name="owner")[-1:]
        assert mac in page and "4 MB" in page, page
        assert d.client(mac)["cap"] == before  # the link alone did nothing
        browse("c2", [
            {"get": link},
            {"wait": "input[name=password]"},
            {"fill": "input[name=password]", "text": PASSWORD},
            {"click": "form button[type=submit]"},
            {"wait": "#approve-topup"},
            {"click": "#approve-topup"},
            {"wait": ".flash", "text": "cap topped up"},
        ], size=DESKTOP, name="approve")
        c = d.client(mac)
        assert c["cap"] == 104_000_000 and c["state"] != "capped", c
        assert lab.ping("c1", lab.server4, timeout=2)
    finally:
        web.kill()


def test_data_off_and_back_on_with_clicks(lab, start_hotspotd, browse, request):
    d = start_hotspotd()
    register(lab, d, "c1")
    mac = lab.clients["c1"].mac
    d.wait_portal()
    browse("c1", [
        {"get": d.portal("/")},
        {"click": "#data-off button"},
        {"wait": "#data-off button", "text": "Turn data back on"},
        shot(request, "off-phone"),
    ])
    assert d.client(mac)["self_paused"] is True and not lab.ping("c1", lab.server4, timeout=1)
    browse("c1", [
        {"get": d.portal("/")},
        {"click": "#data-off button"},
        {"wait": ".flash", "text": "Data is back on"},
    ], name="on")
    assert d.client(mac)["self_paused"] is False and lab.ping("c1", lab.server4, timeout=2)
