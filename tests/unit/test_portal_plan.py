"""The data plan in the portal (fake backend): the client's banners and plan facts."""

from __future__ import annotations

import html as html_
import re

import pytest

from tests.portal_fake import GB, MB
from tests.unit.test_portal_admin import login

PHONE, LAPTOP, WARNED = "10.0.0.10", "10.0.0.11", "10.0.0.14"  # the phone is the owner's: exempt
HOSTILE_MAC = "8a:1b:2c:3d:4e:5f"  # its hostname is <script>alert(1)</script>


def get(client, path, ip=PHONE, **kw):
    return client.get(path, environ_base={"REMOTE_ADDR": ip}, **kw)


def banners(html: str) -> dict[str, str]:
    """The visible banners' texts by id."""
    found = re.findall(r'<p class="banner[^"]*" id="([a-z-]+)" role="status"( hidden)?>(.*?)</p>', html, re.S)
    return {i: " ".join(html_.unescape(re.sub(r"<[^>]+>", " ", text)).split())
            for i, hidden, text in found if not hidden}


def calls(backend, name):
    return [c for c in backend.calls if c[0] == name]


@pytest.fixture
def admin(client):
    assert login(client).status_code == 303
    return client


# -- the client's page -----------------------------------------------------------------------------------


def test_no_banner_below_every_alert_point(client):
    assert banners(get(client, "/", PHONE).get_data(as_text=True)) == {}
    me = get(client, "/api/me", PHONE).get_json()
    assert me["plan"]["percent"] == 62.0 and me["plan"]["alert_point"] is None
    assert me["text"]["plan_banner"] == "" and me["text"]["cap_banner"] == ""


def test_plan_banner_warns_of_the_next_step_once_an_alert_point_is_passed(client, backend):
    backend.plan_state.used = 17_100 * MB
    me = get(client, "/api/me", LAPTOP).get_json()
    assert me["plan"] == {"percent": 85.5, "guard": "ok", "held": None, "left_for_you": 2_900 * MB,
                          "alert_point": 80, "next_level": "throttle", "next_at_percent": 90.0,
                          "cycle_end": "2026-12-01T00:00:00", "renews": True}
    assert banners(get(client, "/", LAPTOP).get_data(as_text=True))["plan-banner"] == (
        "Hotspot data plan The hotspot's data plan is 85% used. At 90% this device will be slowed down. "
        "The plan renews on 1 Dec at 00:00.")
    # the owner's exempt phone: only the stop point would hold it back, and there is none
    assert banners(get(client, "/", PHONE).get_data(as_text=True))["plan-banner"].endswith(
        "85% used. The plan renews on 1 Dec at 00:00.")


def test_plan_banner_and_status_when_the_guard_blocks_the_client(client, backend):
    backend.plan_state.used = 20 * GB
    html = get(client, "/", LAPTOP).get_data(as_text=True)
    assert banners(html)["plan-banner"] == (
        "Hotspot data plan The hotspot's data plan is 100% used, so the internet is paused for this device.")
    assert 'class="banner tone-bad" id="plan-banner"' in html
    assert ("Paused because the hotspot&#39;s data plan is used up — back online when the plan renews on "
            "1 Dec at 00:00.") in html
    body = get(client, "/api/captive", LAPTOP).get_json(force=True)
    assert body["bytes-remaining"] == 0  # the view's remaining, bounded by the plan
    assert banners(get(client, "/", PHONE).get_data(as_text=True))["plan-banner"].startswith(
        "Hotspot data plan The hotspot's data plan is 100% used.")  # exempt: not paused


def test_cap_banner_at_an_alert_point_of_the_own_cap(client):
    html = get(client, "/", WARNED).get_data(as_text=True)
    assert banners(html) == {"cap-banner": "Your data You have passed 80% of your 2 GB: 150 MB left."}
    me = get(client, "/api/me", WARNED).get_json()
    assert me["cap_alert"] == 80 and me["text"]["cap_banner_tone"] == "warn"


def test_the_client_sees_no_other_clients_data(client, backend):
    backend.plan_state.used = 19 * GB
    text = "".join(get(client, path, LAPTOP).get_data(as_text=True) for path in ("/api/me", "/"))
    for other in ("a4:5e:60:11:22:33", "Annas-iPhone", "kids-tablet", "19000000000", "router"):
        assert other not in text, other


def test_captive_bytes_remaining_is_the_plan_bound_view(client, backend):
    backend.plan_state.used = 19_400 * MB  # 600 MB to the block point; the blocked client has no cap
    assert get(client, "/api/me", "10.0.0.12").get_json()["remaining"] == 0  # its own cap is spent
    assert get(client, "/api/captive", PHONE).get_json(force=True)["bytes-remaining"] == 2 * GB - 620 * MB
    me = get(client, "/api/me", "10.0.0.13").get_json()
    assert me["cap"] == 2 * GB and me["bytes_total"] == 0 and me["remaining"] == 600 * MB


def test_the_page_refreshes_its_banners(client):
    js = get(client, "/static/portal.js").get_data(as_text=True)
    assert 'banner("#plan-banner", d.text.plan_banner' in js

