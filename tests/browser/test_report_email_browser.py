"""The usage report email as a mail client shows it, in Debian's headless Chromium at a phone's and a
desktop's width, in English and Chinese: the daily report the real hotspotd sent through a real SMTP
server, and a monthly report with the apps and ghost traffic of its cycle. Each must fit the width (no
sideways scrolling), show every chart image, and read in its language; the screenshots are kept
($HOTSPOT_ARTIFACTS/browser) to be looked at."""

from __future__ import annotations

import base64
import time
from datetime import datetime
from email import message_from_string
from email import policy as email_policy
from pathlib import Path

import pytest

from hotspot.alerts.report_email import build_report
from hotspot.alerts.reports import next_time
from tests.browser.conftest import ARTIFACTS, DESKTOP, PHONE
from tests.lab.alerts.test_alerts import SMTP, SMTP_PORT, _lines, _serve
from tests.lab.conftest import register

TITLES = {"en": ("Daily report", "Monthly report"), "zh-Hans": ("每日报告", "月度报告")}
CHECKS = [
    {"eval": "return document.documentElement.scrollWidth <= window.innerWidth"},
    {"eval": "return [...document.images].every(i => i.complete && i.naturalWidth > 0) "
             "&& document.images.length"},
    {"eval": "return document.body.innerText"},
]


def page(html: str, images: dict[str, tuple[str, bytes]]) -> str:
    """The HTML part as a mail client shows it: each cid: image from its MIME part, as a data: URL."""
    for cid, (kind, data) in images.items():
        html = html.replace(f"cid:{cid}", f"data:{kind};base64,{base64.b64encode(data).decode()}")
    return html


def from_mail(raw: str) -> tuple[str, str]:
    """(subject, page) of a received email."""
    msg = message_from_string(raw, policy=email_policy.default)
    images = {str(p["Content-ID"]).strip("<>"): (p.get_content_type(), p.get_content())
              for p in msg.walk() if p.get_content_type() == "image/png"}
    return str(msg["Subject"]), page(msg.get_body(("html",)).get_content(), images)


def look(browse, request, lab, html: str, name: str, lang: str) -> list[str]:
    """Open the page at both widths; its text at the phone's width."""
    path = Path(lab.dir) / f"{name}.html"
    path.write_text(html, encoding="utf-8")
    texts = []
    for size, label in ((PHONE, "phone"), (DESKTOP, "desktop")):
        shot_path = ARTIFACTS / f"{name}-{label}.png"
        _, fits, images, text, _ = browse("c1", [{"get": path.as_uri()}, *CHECKS, {"shot": str(shot_path)}],
                                       lang="zh-CN" if lang != "en" else "en-US", size=size,
                                       mobile=label == "phone", name=f"{name}-{label}")
        assert fits is True, f"{name} scrolls sideways at {label} width"
        assert images and images >= 2, f"{name}: a chart image did not load"
        assert shot_path.stat().st_size > 10_000
        texts.append(text)
    return texts


@pytest.mark.parametrize("lang", ["en", "zh-Hans"])
def test_the_daily_report_from_hotspotd_reads_well_in_a_browser(lab, start_hotspotd, browse, request, lang):
    mails = Path(lab.dir) / f"report-{lang}.jsonl"
    smtp = _serve(lab, SMTP, SMTP_PORT, mails)
    try:
        hour = (time.localtime().tm_hour + 2) % 24
        d = start_hotspotd(plan_quota=10**9, report="daily", report_hour=hour, venue="Van 1",
                           owner_language=lang, alert_email=("owner@example.com",), smtp_host="localhost",
                           smtp_port=SMTP_PORT, smtp_security="none")
        register(lab, d, "c1")
        lab.iperf("c1", bytes=3_000_000, reverse=True)
        d.wait_polls(2)
        d.clock_file.write_text(str(next_time(time.time(), "daily", hour) - time.time() + 1))
        (mail,) = lab.wait_for(lambda: _lines(mails), 15, "the report's email")
    finally:
        smtp.kill()
    subject, html = from_mail(mail["data"])
    assert subject.startswith("Van 1") and {"en": "daily report", "zh-Hans": "每日报告"}[lang] in subject
    phone, desktop = look(browse, request, lab, html, f"report-daily-{lang}", lang)
    assert TITLES[lang][0] in phone and TITLES[lang][0] in desktop
    assert lab.clients["c1"].mac in phone
    if lang != "en":
        assert "流量套餐" in phone and "Data plan" not in phone


def sample_month() -> dict:
    def ts(text):
        return datetime.fromisoformat(text).timestamp()

    days = [(ts("2026-11-01") + i * 86400, 10**8 * (1 + i % 3), 4 * 10**8 * (1 + i % 4)) for i in range(30)]
    return {
        "router": "Van 1", "period": "monthly", "range": (ts("2026-11-01"), ts("2026-12-01")),
        "plan": {"quota": 30 * 10**9, "used": 26_400_000_000, "cycle_start": ts("2026-11-01"),
                 "cycle_end": ts("2026-12-01"), "forecast_end_bytes": 26_400_000_000, "guard": "throttle"},
        "days": days,
        "clients": [{"name": "anna-phone", "mac": "aa:bb:cc:dd:ee:01", "bytes": 12_100_000_000,
                     "bytes_up": 600_000_000, "bytes_down": 11_500_000_000, "cap": 15 * 10**9, "state": "ok"},
                    {"name": "家里的平板电脑", "mac": "aa:bb:cc:dd:ee:03", "bytes": 8_000_000_000,
                     "cap": 8 * 10**9, "state": "capped"}],
        "router_bytes": 240_000_000,
        "unusual": [{"name": "家里的平板电脑", "mac": "aa:bb:cc:dd:ee:03", "bytes": 8_000_000_000,
                     "usual_bytes": 2_000_000_000, "why": "spike"}],
        "apps": [{"category": "video", "bytes": 14_200_000_000,
                  "devices": [{"name": "anna-phone", "mac": "aa:bb:cc:dd:ee:01", "bytes": 9_000_000_000},
                              {"name": "家里的平板电脑", "mac": "aa:bb:cc:dd:ee:03",
                               "bytes": 5_200_000_000}]},
                 {"category": "social", "bytes": 2_300_000_000,
                  "devices": [{"name": "anna-phone", "mac": "aa:bb:cc:dd:ee:01", "bytes": 2_300_000_000}]},
                 {"category": "updates", "bytes": 1_100_000_000,
                  "devices": [{"name": None, "mac": "aa:bb:cc:dd:ee:04", "bytes": 1_100_000_000}]}],
        "ghost": [{"name": "家里的平板电脑", "mac": "aa:bb:cc:dd:ee:03", "kind": "idle",
                   "start": ts("2026-11-20 03:10"), "bytes": 210_000_000,
                   "destinations": ["backup.example.com", "203.0.113.7"]},
                  {"name": "anna-phone", "mac": "aa:bb:cc:dd:ee:01", "kind": "upload",
                   "start": ts("2026-11-24 14:40"), "bytes": 640_000_000, "destinations": []}],
        "modem": {"operator": "China Mobile", "technology": "LTE", "signal": 64, "signal_dbm": -98,
                  "roaming": True},
    }


@pytest.mark.parametrize("lang", ["en", "zh-Hans"])
def test_the_monthly_report_with_apps_and_ghost_traffic_reads_well_in_a_browser(lab, browse, request, lang):
    m = build_report(sample_month(), lang=lang, now=datetime(2026, 12, 1, 8).timestamp())
    html = page(m.html, {cid: ("image/png", png) for cid, png in m.images})
    phone, desktop = look(browse, request, lab, html, f"report-monthly-{lang}", lang)
    title = TITLES[lang][1]
    assert title in phone and title in desktop
    apps, ghost = {"en": ("Which apps use the data", "Ghost traffic"),
                   "zh-Hans": ("哪些应用在用流量", "流量偷跑")}[lang]
    assert apps in phone and ghost in phone and "backup.example.com" in phone
