"""The uplink's data plan in a real browser, after real traffic through the real kernel: a guest's page warns
of the plan, then says why the plan guard paused it; the owner reads the Plan page, tops up from it (the
guest is back online at once) and sends a test alert from the Alerts page to a real webhook receiver."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from hotspot.plan.model import Threshold
from lab import CommandError
from tests.browser.conftest import DESKTOP, PHONE, shot
from tests.lab.alerts.test_alerts import RECEIVER, WEBHOOK_PORT, _lines, _serve
from tests.lab.conftest import register

QUOTA = 20_000_000  # 20 MB: the plan blocks guests at 100 %, warns at 50 %
PASSWORD = "owner-secret-1"
BANNER = "#plan-banner:not([hidden])"


def _pull(lab, name: str, nbytes: int) -> None:
    """A download the plan guard may cut off (iperf3 then stalls until its own timeout)."""
    try:
        lab.iperf(name, bytes=nbytes, reverse=True, timeout=8)
    except (subprocess.TimeoutExpired, CommandError):
        pass


def _percent(text: str) -> int:
    return int(re.search(r"data plan is (\d+)% used", text).group(1))


def test_plan_banner_after_real_traffic_then_the_owner_tops_up(lab, start_hotspotd, browse, request):
    hooks = Path(lab.dir) / "hooks.jsonl"
    web = _serve(lab, RECEIVER, WEBHOOK_PORT, hooks)
    try:
        d = start_hotspotd(plan_quota=QUOTA, plan_block_at=Threshold(percent=100.0), alert_at=(50, 100),
                           alert_clients=False, alert_webhook=f"http://127.0.0.1:{WEBHOOK_PORT}/hook")
        register(lab, d, "c1", "c2")
        d.ctl("passwd", input=f"{PASSWORD}\n")
        d.wait_portal()
        lab.iperf("c1", bytes=12_000_000, reverse=True)
        d.wait_polls()

        # the guest's page: the plan passed 50 %; at 100 % its internet pauses
        banner, status = browse("c1", [
            {"get": d.portal("/")},
            {"wait": BANNER},
            shot(request, "plan-alert-phone"),
            {"text": "#plan-banner"},
            {"text": "#status"},
        ])[-2:]
        assert 55 <= _percent(banner) <= 80, banner
        assert "At 100% the internet will pause for this device." in banner, banner
        assert "full speed" in status, status
        browse("c1", [{"get": d.portal("/")}, {"wait": BANNER}, shot(request, "plan-alert-zh")],
               lang="zh-CN", name="zh")

        # the plan runs out: the guard blocks the guest at the byte, and its page says why
        _pull(lab, "c1", 12_000_000)
        d.wait_polls()
        assert not lab.ping("c1", lab.server4, timeout=1)
        banner, status = browse("c1", [
            {"get": d.portal("/")},
            {"wait": "#status.tone-bad"},
            shot(request, "plan-paused-phone"),
            {"text": "#plan-banner"},
            {"text": "#status"},
        ], name="paused")[-2:]
        assert "so the internet is paused for this device" in banner, banner
        assert "data plan is used up" in status, status
        captive = json.loads(lab.curl("c1", d.portal("/api/captive")).stdout)
        assert captive["captive"] is True and captive["bytes-remaining"] == 0, captive
        browse("c1", [{"get": d.portal("/")}, {"wait": BANNER}, shot(request, "plan-paused-desktop")],
               size=DESKTOP, name="paused-desktop")

        # the owner reads the Plan page, then tops up 30 MB from it: the guest is back online
        plan_text, = browse("c2", [
            {"get": d.portal("/admin/plan")},
            {"wait": "input[name=password]"},
            {"fill": "input[name=password]", "text": PASSWORD},
            {"click": "form button[type=submit]"},
            {"wait": "body", "text": "Log out"},
            {"get": d.portal("/admin/plan")},
            {"wait": "#plan-usage"},
            shot(request, "admin-plan-blocked"),
            {"text": "main"},
            {"fill": "#topup-size", "text": "30MB"},
            {"click": "#topup button"},
            {"wait": ".flash", "text": "Added 30 MB to this cycle."},
            shot(request, "admin-plan-topped-up"),
            {"get": d.portal("/admin/alerts")},
            {"wait": "#channels button"},
            {"click": "#channels button"},
            {"wait": ".flash", "text": "Test sent through Webhook"},
            shot(request, "admin-alerts"),
        ], size=DESKTOP, name="admin")[8:9]
        assert "Blocking devices" in plan_text and "Block all but the exempt devices" in plan_text, plan_text
        assert "100%" in plan_text and "20 MB" in plan_text, plan_text
        plan = d.json("plan")
        assert plan["allowance"] == QUOTA + 30_000_000 and plan["guard"]["state"] == "ok"
        assert lab.ping("c1", lab.server4, timeout=2)
        tests = lab.wait_for(lambda: [h for h in _lines(hooks) if h["body"].get("kind") == "test"], 10,
                             "the test notification")
        assert len(tests) == 1 and tests[0]["delivery"].startswith("test-")

        # the guest's page, refreshed by its script: no longer paused, the banner says what is used
        status = browse("c1", [{"get": d.portal("/")}, {"wait": "#status.tone-good"}, {"text": "#status"}],
                        name="after")[-1]
        assert "full speed" in status, status
    finally:
        web.kill()


def test_plan_pages_in_chinese_on_a_phone(lab, start_hotspotd, browse, request):
    d = start_hotspotd(plan_quota=QUOTA, plan_block_at=Threshold(percent=100.0), alert_at=(50,))
    register(lab, d, "c1")
    d.ctl("passwd", input=f"{PASSWORD}\n")
    d.wait_portal()
    lab.iperf("c1", bytes=11_000_000, reverse=True)
    d.wait_polls()
    results = browse("c1", [
        {"get": d.portal("/admin/login?lang=zh")},
        {"fill": "input[name=password]", "text": PASSWORD},
        {"click": "form button[type=submit]"},
        {"wait": "body", "text": "退出登录"},
        {"get": d.portal("/admin/plan")},
        {"wait": "#plan-usage"},
        shot(request, "admin-plan-zh-phone"),
        {"text": "#plan-usage"},
        {"get": d.portal("/admin/alerts")},
        {"wait": "#fired"},
        shot(request, "admin-alerts-zh-phone"),
        {"text": "#fired"},
    ], lang="zh-CN", size=PHONE)
    usage, fired = results[7], results[-1]
    assert "本周期" in usage and "20 MB" in usage, usage
    assert "流量套餐" in fired and "50%" in fired, fired
