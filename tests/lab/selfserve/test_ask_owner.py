"""Asking the owner for more, and the background trickle, against the real hotspotd, its socket, its
portal and its outbox: the ask reaches a real webhook receiver once (with the device, its usage, its cap
and the link to approve a top-up), a second within the hour is refused and sends nothing, a forged post
asks only for the sender, and without an alert channel the page says so and nothing is queued."""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import quote

from hotspot.selfserve.trickle import DAY, HOUR, local_midnight
from tests.lab.alerts.test_alerts import RECEIVER, WEBHOOK_PORT, _lines, _serve
from tests.lab.conftest import register
from tests.lab.portal.test_security import Browser

CAP = 200_000_000


def _token(b: Browser) -> str:
    return re.search(r'<meta name="csrf" content="([^"]+)"', b.request("/")[2]).group(1)


def _ask(b: Browser, **extra: str) -> tuple[int, str]:
    status, head, _ = b.post("/ask-owner", extra, csrf=_token(b))
    return status, head


def _asks(hooks: Path) -> list[dict]:
    return [h for h in _lines(hooks) if h["body"].get("event") == "ask"]


def test_an_ask_reaches_the_owners_webhook_once_an_hour(lab, start_hotspotd):
    hooks = Path(lab.dir) / "hooks.jsonl"
    web = _serve(lab, RECEIVER, WEBHOOK_PORT, hooks)
    try:
        d = start_hotspotd(alert_clients=False, alert_webhook=f"http://127.0.0.1:{WEBHOOK_PORT}/hook")
        register(lab, d, "c1", "c2")
        mac, other = lab.clients["c1"].mac, lab.clients["c2"].mac
        d.ctl("cap", mac, "200MB")
        d.ctl("cap", other, "1GB")
        lab.iperf("c1", bytes=3_000_000, reverse=True)
        d.wait_polls()
        d.wait_portal()
        guest = Browser(lab, d, "c1")
        assert "Ask the owner for more" in guest.request("/")[2]

        # without the CSRF token: refused, nothing sent
        assert guest.post("/ask-owner", {"please": "1"}, csrf=None)[0] == 400
        # a post naming the other device asks for the sender only
        status, head = _ask(guest, mac=other, ip=lab.clients["c2"].ipv4)
        assert status == 303 and "#ask-owner" in head
        (hook,) = lab.wait_for(lambda: _asks(hooks), 10, "the ask's webhook")
        body = hook["body"]
        used = d.client(mac)["bytes_total"]
        assert body["mac"] == mac and body["cap"] == CAP and body["topup"] == 100_000_000
        assert 3_000_000 <= body["bytes_total"] <= used
        link = f"http://{lab.router4}:{d.config.portal_port}/admin/clients/{quote(mac)}/approve?size=100000000"
        assert body["approve_url"] == link and body["text"].endswith(link) and mac in body["text"]
        assert hook["signature"] is None or hook["signature"].startswith("sha256=")
        assert d.client(other)["ask"]["asked_at"] is None
        page = guest.request("/")[2]
        assert "The owner was told you would like more data." in page and "You can ask again after" in page
        assert d.client(mac)["ask"]["asked_at"] and d.client(mac)["ask"]["next_at"]

        # a second ask within the hour: refused, nothing sent
        assert _ask(guest)[0] == 303
        assert "less than an hour ago" in guest.request("/")[2]
        time.sleep(2)
        assert len(_asks(hooks)) == 1
        asks = [x for x in d.json("alerts")["deliveries"] if x["kind"] == "ask"]
        assert [(x["channel"], x["status"]) for x in asks] == [("webhook", "sent")]

        # an hour later (the daemon's clock moved on) it may ask again
        d.clock_file.write_text(str(HOUR + 60))
        d.wait_polls()
        assert "Ask the owner for more</button>" in guest.request("/")[2]

        # a device forgotten: its asks go with it
        d.ctl("forget", mac)
        assert not [x for x in d.json("alerts")["deliveries"] if x["kind"] == "ask"]
    finally:
        web.kill()


def test_without_a_channel_or_a_cap_nothing_is_sent_and_the_page_says_why(lab, start_hotspotd):
    d = start_hotspotd()
    register(lab, d, "c1", "c2")
    mac, other = lab.clients["c1"].mac, lab.clients["c2"].mac
    d.ctl("cap", mac, "200MB")
    d.wait_portal()
    guest = Browser(lab, d, "c1")
    page = guest.request("/")[2]
    assert "no alert channel is set up" in page and "Ask the owner for more</button>" not in page
    assert _ask(guest)[0] == 303
    assert "no alert channel is set up" in guest.request("/")[2]
    assert d.client(mac)["ask"]["asked_at"] is None
    assert not [x for x in d.json("alerts")["deliveries"] if x["kind"] == "ask"]
    # a device without a cap of its own has nothing to top up: no card, and a post is refused
    nocap = Browser(lab, d, "c2")
    assert 'id="ask-owner"' not in nocap.request("/")[2]
    assert _ask(nocap)[0] == 303
    assert "no cap of its own" in nocap.request("/")[2] and d.client(other)["ask"]["asked_at"] is None


def test_the_trickle_counts_real_bytes_in_its_quiet_hours(lab, start_hotspotd):
    """A new device's quiet hours are the night (too little history); the bytes it moves now are in
    today's figure if and only if this hour is one of them, on its page and in hotspotctl's view."""
    d = start_hotspotd()
    register(lab, d, "c1")
    mac = lab.clients["c1"].mac
    lab.iperf("c1", bytes=2_000_000)
    d.wait_polls(4)
    c = d.client(mac)
    t = c["trickle"]
    assert t["basis"] == "night" and t["quiet_hours"] == [0, 1, 2, 3, 4, 5]
    now = time.time()
    offset = time.localtime(now).tm_gmtoff
    hour = int((now + offset) % DAY // HOUR)
    today = t["days"][-1]
    assert today["day"] == time.strftime("%Y-%m-%d", time.gmtime(local_midnight(now, offset) + offset))
    if hour in t["quiet_hours"]:
        assert 2_000_000 <= today["bytes"] <= c["bytes_total"], (hour, t)
    else:
        assert today["bytes"] == 0, (hour, t)
    d.wait_portal()
    page = Browser(lab, d, "c1").request("/")[2]
    assert 'id="trickle"' in page and "Quiet hours: 00:00–06:00" in page
