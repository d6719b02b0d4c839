"""The data plan in the portal (fake backend): the client's banners and plan facts, the admin's Plan and
Alerts pages (login, CSRF, bad input refused with nothing changed, hostile names escaped), the dashboard's
plan summary and the plan's /metrics families."""

from __future__ import annotations

import html as html_
import re

import pytest

from tests.portal_fake import GB, MB
from tests.promtool import promtool_check
from tests.unit.portal.test_admin import ADMIN_IP, login, post

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
    assert banners(html) == {"cap-banner": "Your data You passed 80% of your 2 GB. At 100% you will be "
                                           "slowed to 256 kbit/s until 1 Dec at 00:00."}
    me = get(client, "/api/me", WARNED).get_json()
    assert me["cap_alert"] == 80 and me["text"]["cap_banner_tone"] == "warn"
    assert banners(get(client, "/", LAPTOP).get_data(as_text=True))["cap-banner"] == (
        "Your data Your 2 GB for this period are used up. The hotspot's owner can add more.")


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


# -- the admin's pages ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/plan", "/admin/alerts"])
def test_pages_need_login(client, path):
    r = client.get(path)
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/login")


@pytest.mark.parametrize("path,data", [("/admin/plan", {"form": "cycle", "plan_quota": "1GB"}),
                                       ("/admin/plan/topup", {"size": "1GB"}),
                                       ("/admin/alerts/test", {"channel": "webhook"})])
def test_posts_need_login_and_csrf(client, backend, path, data):
    get(client, "/admin/login")
    r = post(client, path, **data)  # a valid CSRF token, but no login
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/login")
    assert login(client).status_code == 303
    r = client.post(path, data=data, environ_base={"REMOTE_ADDR": ADMIN_IP})  # logged in, no token
    assert r.status_code == 400
    r = client.post(path, data={**data, "csrf": "forged"}, environ_base={"REMOTE_ADDR": ADMIN_IP})
    assert r.status_code == 400
    assert not [c for c in backend.calls if c[0] in ("set_settings", "plan_topup", "test_channel")]


def test_plan_page_shows_the_plan(admin, backend):
    backend.plan_state.used = 18_400 * MB
    html = admin.get("/admin/plan").get_data(as_text=True)
    for text in ("18.4 GB", "1.6 GB", "92% of 20 GB", "Slowing devices down",
                 "Slow all but the exempt devices", "Block all but the exempt devices",
                 "Slowed devices share 1 Mbit/s.", "358 MB",
                 "At this pace the plan runs out on", "1 Nov, 00:00 – 1 Dec, 00:00", "Annas-iPhone",
                 "No modem details yet.", 'value="20GB"', 'value="90%"', 'value="80 95 100"',
                 "The modem&#39;s count", "+1.2 MB against ours"):
        assert text in html, text
    assert 'aria-current="page">Plan<' in html


def test_plan_page_escapes_hostile_names_and_shows_the_modem(admin, backend):
    backend.plan_state.exempt = [HOSTILE_MAC]
    backend.modem = {"operator": "<img src=x onerror=alert(1)>", "technology": "LTE", "signal_quality": 64,
                     "bearer": {"rx_bytes": 3 * GB, "tx_bytes": 200 * MB}}
    html = admin.get("/admin/plan").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "64%" in html and "↓ 3 GB · ↑ 200 MB" in html


def test_set_quota_and_cycle(admin, backend):
    r = post(admin, "/admin/plan", form="cycle", plan_quota="30GB", plan_period="weekly",
             plan_period_start="3", plan_start_hour="6", plan_timezone="Asia/Tokyo", plan_pass_length="")
    assert r.status_code == 303
    assert calls(backend, "set_settings") == [("set_settings", {
        "plan_period": "weekly", "plan_quota": "30GB", "plan_period_start": "3", "plan_start_hour": "6",
        "plan_timezone": "Asia/Tokyo"})]
    assert "Plan settings saved." in admin.get("/admin/plan").get_data(as_text=True)
    assert backend.plan_state.allowance == 30 * GB


GOOD_CYCLE = {"form": "cycle", "plan_quota": "20GB", "plan_period": "monthly", "plan_period_start": "1",
              "plan_start_hour": "0", "plan_timezone": "", "plan_pass_length": "7d"}
GOOD_GUARD = {"form": "guard", "plan_throttle_at": "90%", "plan_throttle_rate": "1mbit",
              "plan_block_at": "100%", "plan_stop_at": "", "roaming_throttle_at": "",
              "roaming_block_at": "50%", "roaming_stop_at": "", "roaming_quota": "", "alert_at": "80 95 100"}


@pytest.mark.parametrize("form,field,bad,reason", [
    (GOOD_CYCLE, "plan_quota", "lots", "Quota: invalid size"),
    (GOOD_CYCLE, "plan_quota", "20GB; flush ruleset", "Quota:"),
    (GOOD_CYCLE, "plan_period", "yearly", "Cycle:"),
    (GOOD_CYCLE, "plan_period_start", "32", "Starts on day:"),
    (GOOD_CYCLE, "plan_start_hour", "24", "At hour:"),
    (GOOD_CYCLE, "plan_timezone", "Mars/Olympus", "Carrier's time zone: unknown time zone"),
    (GOOD_CYCLE, "plan_timezone", "../etc/passwd", "Carrier's time zone:"),
    (GOOD_CYCLE, "plan_pass_length", "forever", "Pass length:"),
    (GOOD_GUARD, "plan_throttle_at", "90 percent", "Slow down at:"),
    (GOOD_GUARD, "plan_throttle_rate", "fast", "Rate when slowed:"),
    (GOOD_GUARD, "plan_block_at", "-5%", "Block at:"),
    (GOOD_GUARD, "roaming_stop_at", "2000%", "Roaming: stop at:"),
    (GOOD_GUARD, "alert_at", "80 120", "Alert at:"),
    (GOOD_GUARD, "form", "everything", "Unknown form."),
])
def test_bad_plan_settings_are_a_one_line_400_and_change_nothing(admin, backend, form, field, bad, reason):
    r = post(admin, "/admin/plan", **{**form, field: bad})
    assert r.status_code == 400
    errors = re.findall(r'<p class="error" role="alert">(.*?)</p>', r.get_data(as_text=True), re.S)
    assert len(errors) == 1 and "\n" not in errors[0] and reason in errors[0].replace("&#39;", "'"), errors
    assert calls(backend, "set_settings") == []


def test_a_weekly_cycle_starts_on_a_day_of_the_week(admin, backend):
    r = post(admin, "/admin/plan", **{**GOOD_CYCLE, "plan_period": "weekly", "plan_period_start": "8"})
    assert r.status_code == 400 and calls(backend, "set_settings") == []
    assert 'value="8"' in r.get_data(as_text=True)  # the form keeps what was typed


def test_guard_points_saved(admin, backend):
    assert post(admin, "/admin/plan", **GOOD_GUARD).status_code == 303
    (sent,) = calls(backend, "set_settings")
    assert sent[1] == {k: v for k, v in GOOD_GUARD.items() if k != "form"}


def test_hotspotd_refusing_the_settings_is_shown(admin, backend):
    from hotspot.core.contract import BackendError

    def refuse(values, *, session):
        raise BackendError("plan_block_at: 100% of what? set plan_quota, or give a size such as '18GB'")

    backend.set_settings = refuse
    r = post(admin, "/admin/plan", **{**GOOD_CYCLE, "plan_quota": ""})
    assert r.status_code == 400 and "100% of what? set plan_quota" in r.get_data(as_text=True)


def test_top_up(admin, backend):
    r = post(admin, "/admin/plan/topup", size="2GB")
    assert r.status_code == 303 and calls(backend, "plan_topup") == [("plan_topup", "2GB")]
    html = admin.get("/admin/plan").get_data(as_text=True)
    assert "Added 2 GB to this cycle." in html and "incl. top-ups of 2 GB" in html


@pytest.mark.parametrize("bad", ["", "lots", "-1GB", "1e9", "2GB; reboot"])
def test_bad_top_up_is_a_400_and_changes_nothing(admin, backend, bad):
    r = post(admin, "/admin/plan/topup", size=bad)
    assert r.status_code == 400 and calls(backend, "plan_topup") == []
    assert "Top-up: a size such as 500MB or 2GB." in r.get_data(as_text=True)


def test_top_up_without_a_quota_is_refused_by_hotspotd(admin, backend):
    backend._settings["plan_quota"] = ""
    r = post(admin, "/admin/plan/topup", size="1GB")
    assert r.status_code == 400 and "the plan has no quota to top up" in r.get_data(as_text=True)
    assert backend.plan_state.topup == 0


def test_alerts_page_lists_alerts_and_deliveries_escaped(admin):
    html = admin.get("/admin/alerts").get_data(as_text=True)
    for text in ("Data plan", "kids-tablet", "1.61 GB / 2 GB", "connection refused by smtp.example.com:587",
                 "HTTP 204", "Waiting", "Failed", "9 attempts", "gave up after 9 attempts", "Not ready",
                 "https://hooks.example.com"):
        assert text in html, text
    assert "<script>alert(1)" not in html and html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2
    assert "&#34;; flush ruleset" in html
    assert html.count('name="channel"') == 2  # a test button for each ready channel only


def test_send_a_test(admin, backend):
    r = post(admin, "/admin/alerts/test", channel="webhook")
    assert r.status_code == 303 and calls(backend, "test_channel") == [("test_channel", "webhook")]
    assert "Test sent through Webhook: HTTP 204" in admin.get("/admin/alerts").get_data(as_text=True)
    r = post(admin, "/admin/alerts/test", channel="email")
    assert r.status_code == 502
    error = '<p class="error" role="alert">email: connection refused by smtp.example.com:587</p>'
    assert error in r.get_data(as_text=True)


@pytest.mark.parametrize("bad", ["", "pager", "webhook\n", "../sms"])
def test_unknown_channel_is_a_400(admin, backend, bad):
    r = post(admin, "/admin/alerts/test", channel=bad)
    assert r.status_code == 400 and calls(backend, "test_channel") == []


def test_dashboard_shows_the_plan_summary(admin, backend):
    html = admin.get("/admin").get_data(as_text=True)
    assert 'id="plan-summary"' in html and "12.4 GB" in html and "62% of 20 GB" in html
    backend._settings["plan_quota"] = ""
    html = admin.get("/admin").get_data(as_text=True)
    assert "No quota is set for the uplink" in html


def test_nav_links_the_plan_and_alerts(admin):
    html = admin.get("/admin/clients").get_data(as_text=True)
    assert 'href="/admin/plan"' in html and 'href="/admin/alerts"' in html


# -- /metrics -------------------------------------------------------------------------------------------


def metrics(client):
    """/metrics with an admin session the backend issued (as hotspotd does at login)."""
    backend = client.application.extensions["hotspot.backend"]
    with client.session_transaction() as s:
        s["admin"] = backend.login("10.0.0.10", backend.password)
    return client.get("/metrics").get_data(as_text=True)


def test_plan_metrics(client, backend):
    backend.plan_state.used = 18_400 * MB
    text = metrics(client)
    for line in ("hotspot_plan_bytes_used 18400000000", "hotspot_plan_bytes_allowed 20000000000",
                 'hotspot_plan_guard_level{level="ok"} 0', 'hotspot_plan_guard_level{level="throttle"} 1',
                 'hotspot_plan_guard_point_bytes{level="block"} 20000000000',
                 'hotspot_router_bytes_total{direction="down"} 310000000', "hotspot_plan_roaming 0",
                 'hotspot_plan_forecast_range_bytes{bound="low"} ',
                 'hotspot_plan_forecast_range_bytes{bound="high"} ',
                 'hotspot_alerts_fired_total{kind="client"} 3', 'hotspot_deliveries{status="failed"} 1',
                 "# TYPE hotspot_alerts_fired_total counter", "# TYPE hotspot_plan_guard_level gauge"):
        assert (line if line.endswith(" ") else line + "\n") in text, line
    assert 'hotspot_plan_guard_point_bytes{level="stop"}' not in text  # not set: no sample
    assert "hotspot_modem" not in text  # no modem: no modem families at all
    promtool_check(text)


def test_each_sims_plan_is_a_series_labelled_by_its_iccid(client, backend):
    from tests.browser.screenshots import sim_plan

    backend.sim_plans = [sim_plan("8944110000000000016", 'Home "A"', None, "physical", True, 5 * GB, 20 * GB,
                                  "monthly"),
                         sim_plan("89860012345678901238", None, None, "esim", False, GB, None, "monthly")]
    text = metrics(client)
    for line in ('hotspot_sim_plan_active{iccid="8944110000000000016",name="Home \\"A\\""} 1',
                 'hotspot_sim_plan_active{iccid="89860012345678901238",name=""} 0',
                 'hotspot_sim_plan_bytes_used{iccid="89860012345678901238",name=""} 1000000000',
                 'hotspot_sim_plan_bytes_allowed{iccid="8944110000000000016",name="Home \\"A\\""} '
                 '20000000000'):
        assert line + "\n" in text, line
    assert 'hotspot_sim_plan_bytes_allowed{iccid="89860012345678901238"' not in text  # no quota: no sample
    promtool_check(text)


def test_modem_metrics_when_hotspotd_reads_a_modem(client, backend):
    backend.modem = {"operator": "Vodafone", "signal": 72, "signal_dbm": -85, "roaming": True,
                     "rx_bytes": 3_210_000_000, "tx_bytes": 412_000_000}
    text = metrics(client)
    for line in ("hotspot_modem_signal_quality_ratio 0.72", "hotspot_modem_rsrp_dbm -85",
                 'hotspot_modem_bearer_bytes_total{direction="rx"} 3210000000', "hotspot_modem_roaming 1"):
        assert line + "\n" in text, line
    promtool_check(text)
    backend.modem = {"technology": "LTE"}  # a modem that says little: no made-up samples
    text = metrics(client)
    assert "hotspot_modem" not in text
    backend.modem = {"error": "ModemManager: no answer within 2 s"}  # hotspotctl's reading failed
    assert "hotspot_modem" not in metrics(client)


# hotspot.uplink.modem.Modem.as_dict(), as hotspotd's status() carries it
MODEM = {"path": "/org/freedesktop/ModemManager1/Modem/0", "index": 0, "manufacturer": "Quectel",
         "model": "EG25", "state": "connected", "access_technologies": ["lte", "5gnr"],
         "operator_name": "<b>Telekom.de</b>", "operator_code": "26201", "registration": "roaming",
         "roaming": True, "signal_quality": 58, "rsrp": -101.0, "rsrq": -12.0, "snr": 8.5,
         "bearer_interface": "wwan0", "bearer_connected": True, "rx_bytes": 1_200_000, "tx_bytes": 300_000,
         "connected_since": 1.7e9, "sim_iccid": "8949", "sim_imsi": "26201", "sim_eid": "8904",
         "sim_type": "esim", "sim_operator_name": "Telekom", "mcc": "262", "mnc": "01"}


def test_the_modem_as_hotspotd_reads_it(admin, backend):
    backend.modem = dict(MODEM)
    html = admin.get("/admin/plan").get_data(as_text=True)
    for text in ("&lt;b&gt;Telekom.de&lt;/b&gt;", "LTE + 5GNR", "58%", "RSRP -101 dBm", "eSIM",
                 "↓ 1.2 MB · ↑ 300 kB"):
        assert text in html, text
    text = metrics(admin)
    for line in ("hotspot_modem_signal_quality_ratio 0.58", "hotspot_modem_rsrp_dbm -101.0",
                 "hotspot_modem_roaming 1", 'hotspot_modem_bearer_bytes_total{direction="tx"} 300000'):
        assert line + "\n" in text, line
    backend.modem = {"error": "ModemManager: no answer within 2 s"}
    assert "ModemManager: no answer within 2 s" in admin.get("/admin/plan").get_data(as_text=True)


def test_no_plan_quota_means_no_allowance_sample(client, backend):
    backend._settings["plan_quota"] = ""
    text = metrics(client)
    assert "hotspot_plan_bytes_allowed" not in text and "hotspot_plan_bytes_used " in text
    assert 'hotspot_plan_guard_level{level="ok"} 1' in text
