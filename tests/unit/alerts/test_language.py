"""Messages to the owner in owner_language: the translator reads the portal's own catalogue, every
message builder speaks both languages (a Chinese message keeps no English but names and units), and the
monthly report with the apps and ghost traffic of its cycle, in Chinese, through a House."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime

import pytest

from hotspot.alerts import outbox, reports
from hotspot.alerts import points as alerts
from hotspot.alerts.channels import SmsChannel
from hotspot.alerts.language import Words, catalogue, notice, short, words
from hotspot.alerts.options import editions, language, report_text
from hotspot.alerts.report_email import build_report
from hotspot.core.config import N_, Bad
from hotspot.ghost import watch
from hotspot.house import House
from hotspot.plan.model import Threshold
from hotspot.uplink import sms
from tests.conftest import Clock

GB = 10**9
MAC = "aa:bb:cc:dd:ee:01"


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def english_left(text: str, *names: str) -> list[str]:
    """The English words left in a Chinese text once the names, addresses, units and the product's name
    are taken out."""
    for n in sorted(names, key=len, reverse=True):
        text = text.replace(n, " ")
    text = re.sub(r"\b(hotspot|[kMGT]?B|dBm|LTE|MAC)\b", " ", text)
    return re.findall(r"[A-Za-z]{2,}", text)


# -- the translator ----------------------------------------------------------------------------------


def test_the_translator_reads_the_portals_catalogue():
    assert short("zh-Hans") == short("zh_CN") == short("zh") == "zh"
    assert short("en") == short(None) == short("fr") == "en"
    assert catalogue("zh").gettext("Data plan") == "流量套餐"  # the portal's own string
    assert catalogue("en").gettext("Data plan") == "Data plan"
    w = words("zh-Hans")
    assert w is words("zh-Hans") and w.tag == "zh-Hans" and words("en").tag == "en"
    assert w._("%(name)s used up its %(cap)s cap", name="tablet", cap="2.00 GB") == \
        "tablet 已用完 2.00 GB 上限"
    assert words("en")._("%(name)s used up its %(cap)s cap", name="tablet", cap="2.00 GB") == \
        "tablet used up its 2.00 GB cap"


def test_dates_and_lists_in_each_language():
    t = ts("2026-12-03 14:05")
    assert Words("en").when(t) == "3 Dec, 14:05" and Words("zh").when(t) == "12月3日 14:05"
    assert Words("zh").when("2026-12-03T14:05:00+00:00") == "12月3日 14:05"
    assert Words("en").when(None) == "-" and Words("en").when("not a time") == "not a time"
    assert Words("en").list(["a", "b"]) == "a, b" and Words("zh").list(["a", "b"]) == "a、b"
    assert Words("en").sentence("One.", "Two.") == "One. Two."
    assert Words("zh").sentence("一。", "二。") == "一。二。"
    assert Words("zh").span(ts("2026-11-01"), ts("2026-12-01")) == "11月1日–30日"


def test_the_option_and_its_report_editions():
    assert language("") == "en" and language("zh-Hans") == "zh-Hans"
    with pytest.raises(Bad, match="not a language"):
        language("zh")
    assert editions("none") == () and editions("") == ()
    assert editions("monthly, weekly") == ("weekly", "monthly")
    assert report_text("monthly weekly") == "weekly monthly"
    assert report_text("daily") == "daily" and report_text("none") == "none"
    for bad, why in (("daily weekly", "not both"), ("yearly", "not a report")):
        with pytest.raises(Bad, match=why):
            editions(bad)


def test_a_new_alert_is_two_lines_in_both_languages():
    roaming = N_("test notification from %(host)s"), N_("Alerts and reports reach you here.")
    en = notice("en", *roaming, data={"event": "x"}, host="r1")
    zh = notice("zh-Hans", *roaming, data={"event": "x"}, host="r1")
    assert en.subject == "hotspot: test notification from r1" and zh.subject == "hotspot: 来自 r1 的测试通知"
    assert zh.text == "提醒和报告会发送到这里。" and zh.data == {"event": "x", "lang": "zh-Hans"}


# -- every message builder in both languages ---------------------------------------------------------


PLAN = {"used": 8 * GB, "allowance": 10 * GB, "cycle_start": ts("2026-11-01"), "cycle_end": ts("2026-12-01"),
        "forecast": {"end_bytes": 12 * GB, "low": 11 * GB, "high": 13 * GB,
                     "runs_out_at": ts("2026-11-25 18:00"), "runs_out_earliest": ts("2026-11-23 09:00")}}
CLIENT = {"mac": MAC, "name": "anna-phone", "used": 900 * 10**6, "cap": GB, "period_start": 0,
          "forecast": {"end_bytes": 2 * GB, "low": GB, "high": 3 * GB, "runs_out_at": None}}
EVENT = {"mac": MAC, "kind": "idle", "start": "2026-11-20T03:10:00+00:00",
         "end": "2026-11-20T03:40:00+00:00", "bytes_up": 200 * 10**6, "bytes_down": 10 * 10**6,
         "destinations": [{"addr": "203.0.113.7", "name": "backup.example.com", "up": 190 * 10**6,
                           "down": 0}]}
NAMES = ("anna-phone", MAC, "backup.example.com", "203.0.113.7")


def builders(lang: str):
    yield alerts.plan_message(80, PLAN, lang)
    yield alerts.plan_message(100, PLAN, lang)
    yield alerts.client_message(90, CLIENT, lang)
    yield alerts.client_message(100, CLIENT, lang)
    yield watch.message(EVENT, "anna-phone", lang)
    yield watch.message({**EVENT, "kind": "upload", "destinations": []}, None, lang)
    yield watch.message({**EVENT, "kind": "unusual_hour"}, "anna-phone", lang)
    yield outbox.make_test_message(ts("2026-12-03 14:05"), lang)


def test_every_alert_in_english():
    plan80, plan100, client90, client100, ghost, upload, hour, test = builders("en")
    assert plan80.subject == "hotspot: 80% of the data plan used, 2.00 GB left"
    assert plan80.text == ("8.00 GB of the plan's 10.0 GB used this cycle (80% point reached); 2.00 GB left "
                           "until 1 Dec, 00:00. At this pace the plan runs out around 25 Nov, 18:00 (perhaps "
                           "as early as 23 Nov, 09:00).")
    assert plan100.subject == "hotspot: the data plan is used up (10.0 GB)"
    assert client90.subject == "hotspot: anna-phone used 90% of its 1.00 GB cap"
    assert client90.text.endswith("100 MB left. At this pace about 2.00 GB by the period's end "
                                  "(1.00 GB to 3.00 GB).")
    assert client100.subject == "hotspot: anna-phone used up its 1.00 GB cap"
    assert ghost.subject == "hotspot: ghost traffic on anna-phone: 210 MB"
    assert "since 20 Nov, 03:10: steady background traffic while idle. Destinations: backup.example.com " \
           "(190 MB)." in ghost.text
    assert "unknown (no connection counters)" in upload.text and "a sudden sustained upload" in upload.text
    assert "traffic at an hour unusual for it" in hour.text
    assert test.subject.startswith("hotspot: test notification from ")
    assert all(m.data["lang"] == "en" for m in builders("en"))


def test_every_alert_in_chinese_keeps_no_english_but_names_and_units():
    plan80, plan100, client90, client100, ghost, upload, hour, test = builders("zh-Hans")
    assert plan80.subject == "hotspot: 流量套餐已用 80%，剩余 2.00 GB"
    assert plan80.text == ("本周期已用 8.00 GB，套餐共 10.0 GB（已达 80% 提醒点）；"
                           "到 12月1日 00:00 还剩 2.00 GB。"
                           "按目前速度，套餐约在 11月25日 18:00 用完（最早可能在 11月23日 09:00）。")
    assert plan100.subject == "hotspot: 流量套餐已用完（10.0 GB）"
    assert client90.subject == "hotspot: anna-phone 已用 1.00 GB 上限的 90%"
    assert client100.subject == "hotspot: anna-phone 已用完 1.00 GB 上限"
    assert ghost.subject == "hotspot: anna-phone 流量偷跑：210 MB"
    assert "闲置时持续的后台流量" in ghost.text and "突然持续上传" in upload.text and "未知" in upload.text
    assert "不常用的时段" in hour.text
    assert test.subject.startswith("hotspot: 来自 ") and "测试通知" in test.text and "测试通知" in test.html
    host = test.data["host"]
    for m in builders("zh-Hans"):
        assert m.data["lang"] == "zh-Hans"
        for part in (m.subject, m.text, m.html or ""):
            part = re.sub(r"<[^>]+>", " ", part)  # the HTML's tags are not words
            assert english_left(part, *NAMES, host) == [], part


def test_the_reports_editions_in_chinese_keep_no_english_but_names_and_units():
    data = {"router": "Van 1", "range": (ts("2026-11-01"), ts("2026-12-01")),
            "plan": {"quota": 10 * GB, "used": 8 * GB, "cycle_start": ts("2026-11-01"),
                     "cycle_end": ts("2026-12-01"), "forecast_end_bytes": 9 * GB, "guard": "throttle"},
            "days": [(ts("2026-11-01") + i * 86400, 10**8, 2 * 10**8) for i in range(30)],
            "clients": [{"name": "anna-phone", "mac": MAC, "bytes": 3 * GB, "cap": GB, "state": "capped"}],
            "unusual": [{"name": "anna-phone", "mac": MAC, "bytes": 3 * GB, "why": "new"}],
            "apps": [{"category": c, "bytes": GB,
                      "devices": [{"name": "anna-phone", "mac": MAC, "bytes": GB}]}
                     for c in ("video", "social", "messaging", "maps", "backup", "updates", "games")],
            "ghost": [{"name": "anna-phone", "mac": MAC, "kind": k, "start": ts("2026-11-20 03:10"),
                       "bytes": 210 * 10**6, "destinations": ["backup.example.com"]}
                      for k in ("idle", "upload", "unusual_hour")],
            "router_bytes": 10**8, "modem": {"operator": "China Mobile", "technology": "LTE", "signal": 60,
                                             "roaming": True}}
    for edition, title in (("daily", "每日报告"), ("weekly", "每周报告"), ("monthly", "月度报告")):
        m = build_report({**data, "period": edition}, lang="zh-Hans", now=ts("2026-12-01 08:00"))
        assert m.subject.startswith(f"Van 1：{title}") and title in m.html
        assert "哪些应用在用流量" in m.text and "视频" in m.text and "流量偷跑" in m.text
        assert "去向：backup.example.com" in m.text and "闲置时持续的后台流量" in m.html
        assert m.data["apps"][0]["category"] == "video" and m.data["ghost"][0]["kind"] == "idle"
        html_text = re.sub(r"<[^>]+>|&\w+;", " ", m.html.split("<body", 1)[1].split(">", 1)[1])
        for part in (m.subject, m.text, html_text):
            left = english_left(part, *NAMES, "Van 1", "China Mobile", "cid", "report")
            assert left == [], (edition, left)
        en = build_report({**data, "period": edition}, lang="en", now=ts("2026-12-01 08:00"))
        assert "Which apps use the data" in en.text and "Ghost traffic" in en.text


def test_a_chinese_alert_goes_as_ucs2_sms_parts_that_keep_it_whole():
    sent = []
    m = alerts.plan_message(80, PLAN, "zh-Hans")
    assert SmsChannel(lambda n, t: sent.append(t), ["+8613800138000"]).send(m).startswith("sent to 1 of 1")
    assert [t[:6] for t in sent] == ["(1/3) ", "(2/3) ", "(3/3) "]
    assert all(sms.length(t)[1] == 70 and sms.length(t)[0] <= 70 for t in sent)  # UCS-2, never GSM's '?'
    whole = m.subject.removeprefix("hotspot: ") + m.text
    assert "".join(t[6:] for t in sent).replace(" ", "").replace("\n", "") == whole.replace(" ", "")


# -- through a House: the owner's language set in the config ------------------------------------------


@pytest.fixture
def hs(cfg):
    clock = Clock(ts("2026-11-20 12:00"))
    h = House(cfg.replace(plan_quota=10 * GB, plan_block_at=Threshold(percent=100.0), alert_at=(80, 100),
                          owner_language="zh-Hans", report="weekly monthly", report_hour=8, venue="Van 1"),
              clock=clock)
    with h.store.transaction():
        h.store.add_client(MAC, clock.now, cap=GB)
    h.clock_ = clock
    yield h
    h.close()


def test_the_plan_alert_is_queued_in_the_owners_language(hs):
    hs.plan.rollover_step()
    with hs.store.transaction():
        hs.plan.add(8 * GB + 1, hs.clock())
    (m,) = hs.alerts.fire(["webhook"])
    assert m.subject == "hotspot: 流量套餐已用 80%，剩余 2.00 GB"
    (row,) = outbox.log_entries(hs.store.db)
    assert row["subject"] == m.subject


def test_the_monthly_report_covers_the_cycle_with_its_apps_and_ghost_traffic(hs):
    hs.plan.rollover_step()  # the cycle: November
    cid = hs.store.client(MAC).id
    with hs.store.transaction():
        hs.store.record([(cid, 10**8, 2 * 10**9, 0, 0)], int(ts("2026-11-20 13:00")), hs.clock())
        hs.plan.add(2 * 10**9, hs.clock())
        hs.store.db.execute("INSERT INTO app_usage (client, day, category, up, down) VALUES (?, ?, ?, ?, ?)",
                            (cid, int(ts("2026-11-20")), "video", 10**7, 15 * 10**8))
        watch.schema(hs.store.db)
        hs.store.db.execute("INSERT INTO ghost_events (client, mac, kind, start, end, up, down, "
                            "destinations, fired) VALUES (?, ?, 'idle', ?, ?, ?, 0, ?, ?)",
                            (cid, MAC, ts("2026-11-20 03:10"), ts("2026-11-20 03:40"), 2 * 10**8,
                             json.dumps([{"addr": "203.0.113.7", "up": 2 * 10**8, "down": 0}]), hs.clock()))
    assert hs.alerts.report_if_due(["email"]) is False  # schedules both
    assert hs.store.get("report_monthly").split()[1:] == [str(ts("2026-11-01")), str(ts("2026-12-01"))]
    hs.clock_.now = ts("2026-11-30 08:00")  # Monday: the weekly one, not yet the monthly one
    assert hs.alerts.report_if_due(["email"]) is True
    (weekly,) = outbox.log_entries(hs.store.db)
    assert weekly["subject"].startswith("Van 1：每周报告")
    hs.clock_.now = ts("2026-12-01 08:00")
    hs.plan.rollover_step()  # December begins
    assert hs.alerts.report_if_due(["email"]) is True
    assert hs.alerts.report_if_due(["email"]) is False  # once
    newest = hs.store.db.execute("SELECT message_json FROM deliveries ORDER BY id DESC").fetchone()[0]
    m = outbox.load_message(newest)
    assert "月度报告" in m.subject and m.data["period"] == "monthly" and m.data["lang"] == "zh"
    assert m.data["range"]["start"].startswith("2026-11-01")
    assert m.data["range"]["end"].startswith("2026-12-01")
    assert m.data["apps"] == [{"category": "video", "bytes": 15 * 10**8 + 10**7,
                               "devices": [{"name": None, "mac": MAC, "bytes": 15 * 10**8 + 10**7}]}]
    assert [e["kind"] for e in m.data["ghost"]] == ["idle"] and "视频" in m.text and "流量偷跑" in m.text
    # the next one is scheduled for December's end, after the rollover
    hs.alerts.report_if_due(["email"])
    assert hs.store.get("report_monthly").split()[1:] == [str(ts("2026-12-01")), str(ts("2027-01-01"))]


def test_next_monthly_without_a_plan_cycle_is_the_calendar_month():
    due, start, end = reports.next_monthly(ts("2026-02-10 12:00"), None, 8)
    assert (start, end, due) == (ts("2026-02-01"), ts("2026-03-01"), ts("2026-03-01 08:00"))
    due, _, _ = reports.next_monthly(0, (ts("2026-11-01"), ts("2026-12-01 10:00")), 8)
    assert due == ts("2026-12-02 08:00")  # the cycle ends after the hour: the next morning
    assert reports.span(ts("2026-12-01 08:00"), "monthly") == (ts("2026-11-01"), ts("2026-12-01"))


def test_the_outboxs_test_message_is_in_the_owners_language(tmp_path):
    got = []

    class Channel:
        name = "webhook"

        def send(self, message, delivery_id=None):
            got.append(message)
            return "HTTP 204"

    box = outbox.Outbox(tmp_path / "db.sqlite", {"webhook": Channel()}, lang="zh-Hans")
    try:
        assert box.test("webhook") == "HTTP 204"
        box.lang = "en"  # the owner changed the setting (Alerts.config_changed)
        box.test("webhook")
    finally:
        box.close()
    assert "测试通知" in got[0].subject and got[0].data["lang"] == "zh-Hans"
    assert "test notification" in got[1].subject and got[1].data["lang"] == "en"


def test_a_monthly_schedule_made_on_a_wrong_clock_is_made_anew_not_sent(hs):
    hs.plan.rollover_step()
    with hs.store.transaction():  # made at boot, before NTP: the router thought it was 1970
        hs.store.set("report_monthly", f"{86400 * 31 + 8 * 3600} 0 {86400 * 31}")
    assert hs.alerts.report_if_due(["email"]) is False
    assert not outbox.log_entries(hs.store.db)
    assert hs.store.get("report_monthly").split()[1:] == [str(ts("2026-11-01")), str(ts("2026-12-01"))]


def test_a_translation_with_a_wrong_placeholder_falls_back_to_english():
    import gettext

    class Slip(gettext.NullTranslations):
        def gettext(self, message):
            return "已用 %(wrong)s"

        def ngettext(self, singular, plural, n):
            return "%(num)d 台设备 %(x"

    w = Words("zh")
    w.catalogue = Slip()
    assert w._("%(name)s used up its %(cap)s cap", name="tablet", cap="1 GB") == "tablet used up its 1 GB cap"
    assert w.ngettext("%(num)d device", "%(num)d devices", 2) == "2 devices"


def test_the_sim_and_roaming_alerts_in_both_languages():
    from hotspot.alerts import events

    iccid, limits = "89860012345678901238", {"throttle": None, "block": 5 * 10**6, "stop": 8 * 10**6}
    for lang in ("en", "zh-Hans"):
        made = [events.new_sim(lang, iccid, "China Mobile", "esim", False),
                events.new_sim(lang, iccid, None, "physical", True),
                events.roaming(lang, True, "Vodafone DE", limits, 3 * 10**6, 10 * GB),
                events.roaming(lang, True, None, {}, 0, None),
                events.roaming(lang, False, None, limits, 3 * 10**6, 10 * GB)]
        assert [m.data["event"] for m in made] == ["sim_new", "sim_new", "roaming_start", "roaming_start",
                                                   "roaming_end"]
        assert all(m.data["lang"] == lang for m in made)
        assert iccid in made[0].subject and "China Mobile" in made[0].subject
        assert "5.00 MB" in made[2].text and "8.00 MB" in made[2].text and "10.0 GB" in made[2].text
        if lang == "en":
            assert made[0].subject == f"hotspot: New SIM {iccid} (China Mobile): set its plan"
            assert "block at 5.00 MB, stop at 8.00 MB" in made[2].text
        else:
            for m in made:
                for part in (m.subject, m.text):
                    assert english_left(part, iccid, "China Mobile", "Vodafone DE",
                                        "hotspotctl plan set --sim", "SIM", "eSIM") == [], part
