"""The usage report email: its parts, its images (decoded here byte by byte), escaping, languages, and
reports with next to nothing in them."""

from __future__ import annotations

import json
import re
import struct
import time
import zlib
from datetime import datetime, timezone

import pytest

from hotspot.alerts import png
from hotspot.alerts.message import Message
from hotspot.alerts.report_email import CHART_HEIGHT, CHART_WIDTH, COLOUR, build_report, percent, width
from hotspot.core.units import format_bytes

DAY = 86400


def ts(*args) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


@pytest.fixture(autouse=True)
def local_time(monkeypatch):
    """The router's zone is the process's (TZ): UTC here unless a test sets another with the fixture."""

    def set_zone(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    set_zone("UTC")
    yield set_zone
    monkeypatch.undo()
    time.tzset()


NOW = ts(2026, 12, 1, 8)
START, END = ts(2026, 11, 24), ts(2026, 12, 1)


def sample(**changes) -> dict:
    """A week of a 20 GB monthly plan; the days carry a quarter of their bytes up, so both parts show."""
    days = [(ts(2026, 11, 1) + i * DAY, 10**8 * (1 + i % 4), 3 * 10**8 * (1 + i % 4)) for i in range(30)]
    data = {
        "router": "Van 1",
        "period": "weekly",
        "range": (START, END),
        "plan": {"quota": 20_000_000_000, "used": 14_400_000_000, "cycle_start": ts(2026, 11, 1),
                 "cycle_end": ts(2026, 12, 1), "forecast_end_bytes": 16_300_000_000,
                 "forecast_runs_out_at": None, "guard": "ok"},
        "days": days,
        "clients": [
            {"name": "anna-phone", "mac": "aa:bb:cc:dd:ee:01", "bytes": 3_100_000_000,
             "bytes_up": 100_000_000, "bytes_down": 3_000_000_000, "cap": 5_000_000_000, "state": "ok"},
            {"name": "tablet", "mac": "aa:bb:cc:dd:ee:03", "bytes": 2_000_000_000, "cap": 2_000_000_000,
             "state": "capped"},
            {"name": None, "mac": "aa:bb:cc:dd:ee:04", "bytes": 410_000_000, "cap": None, "state": "warned"},
        ],
        "router_bytes": 180_000_000,
        "unusual": [{"name": "tablet", "mac": "aa:bb:cc:dd:ee:03", "bytes": 2_000_000_000,
                     "usual_bytes": 290_000_000, "why": "spike"}],
        "modem": {"operator": "Vodafone", "technology": "LTE", "signal": 72, "roaming": True},
    }
    data.update(changes)
    return data


def report(data: dict | None = None, lang: str = "en") -> Message:
    return build_report(sample() if data is None else data, lang=lang, now=NOW)


# -- PNG, decoded by hand ---------------------------------------------------------------------------------


def decode(blob: bytes):
    """(width, height, pixel(x, y) -> (r, g, b)) of an 8-bit palette PNG, checking what a viewer checks:
    signature, chunk CRCs, IHDR, one filter byte and `width` pixels per row."""
    assert blob[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(blob):
        (length,) = struct.unpack(">I", blob[pos:pos + 4])
        kind, body = blob[pos + 4:pos + 8], blob[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", blob[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        chunks.append((kind, body))
        pos += 12 + length
    assert [k for k, _ in chunks][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    w, h, depth, colour_type, compression, filtering, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour_type, compression, filtering, interlace) == (8, 3, 0, 0, 0)
    plte = b"".join(body for kind, body in chunks if kind == b"PLTE")
    palette = [tuple(plte[i:i + 3]) for i in range(0, len(plte), 3)]
    assert 1 <= len(palette) <= 256
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(raw) == h * (1 + w)
    rows = [raw[y * (w + 1):(y + 1) * (w + 1)] for y in range(h)]
    assert all(row[0] == 0 for row in rows)  # filter "none"
    assert all(max(row[1:]) < len(palette) for row in rows)
    return w, h, lambda x, y: palette[rows[y][1 + x]]


def test_canvas_fills_a_rectangle_and_keeps_the_rest():
    c = png.Canvas(10, 6, "#ffffff")
    c.rect(2, 1, 5, 4, "#0f766e")
    w, h, pixel = decode(c.png())
    assert (w, h) == (10, 6)
    assert pixel(2, 1) == pixel(4, 3) == (15, 118, 110)
    assert pixel(5, 1) == pixel(2, 4) == pixel(1, 1) == (255, 255, 255)


def test_rounded_corners_are_blended_not_square():
    c = png.Canvas(40, 40)
    c.rect(0, 0, 40, 40, "#000000", radius=10)
    _, _, pixel = decode(c.png())
    assert pixel(0, 0) == (255, 255, 255)  # outside the curve
    assert pixel(20, 20) == pixel(20, 0) == pixel(0, 20) == (0, 0, 0)
    edge = [pixel(x, 0)[0] for x in range(12)]  # the top row: white, then grey, then black
    assert edge[:4] == [255] * 4 and edge[-3:] == [0] * 3 and any(0 < v < 255 for v in edge)
    assert edge == sorted(edge, reverse=True)


def test_columns_stack_download_under_upload():
    blob = png.columns([[(30, "#0f766e"), (10, "#f59e0b")], [(10, "#0f766e")]], 100, 50, scale=2)
    w, h, pixel = decode(blob)
    assert (w, h) == (200, 100)
    x = 50  # the middle of the first of two slots
    base, top = h - 2, 2  # one CSS pixel of grid line at each end
    assert pixel(x, base - 3) == png.rgb("#0f766e")  # download from the baseline
    assert pixel(x, top + 12) == png.rgb("#f59e0b")  # the tallest stack's upload at the top
    assert pixel(150, base - 3) == png.rgb("#0f766e")
    assert pixel(150, top + 40) == (255, 255, 255)  # the second stack is a quarter of the first
    assert pixel(0, 0) == png.rgb("#e3e7ee") == pixel(0, h - 1)  # grid lines
    assert pixel(2, 50) == (255, 255, 255)  # the gap between slots


# -- the message -------------------------------------------------------------------------------------------


def test_the_message_has_text_html_subject_and_json():
    m = report()
    assert isinstance(m, Message)
    assert m.html.lstrip().startswith("<!doctype html>") and "</html>" in m.html
    assert m.text.startswith("Van 1 — Weekly report\n24–30 Nov\n")
    assert m.subject == "Van 1: weekly report — plan 72% used, 5.60 GB left"
    data = json.loads(json.dumps(m.data))  # what a webhook posts
    assert data["plan"]["quota"] == 20_000_000_000 and data["plan"]["left"] == 5_600_000_000
    assert data["plan"]["percent"] == 72 and data["period"] == "weekly"
    assert data["range"] == {"start": "2026-11-24T00:00:00+00:00", "end": "2026-12-01T00:00:00+00:00"}
    assert [c["mac"] for c in data["top_clients"]] == ["aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:03",
                                                       "aa:bb:cc:dd:ee:04"]
    assert data["unusual"][0]["why"] == "spike"


def test_every_cid_in_the_html_has_an_image_and_every_image_is_used():
    m = report()
    cids = re.findall(r'src="cid:([^"]+)"', m.html)
    assert len(cids) == len(set(cids))
    assert set(cids) == {cid for cid, _ in m.images}
    assert len(m.images) == len({cid for cid, _ in m.images})
    assert {"report-gauge", "report-daily", "report-client-1"} <= set(cids)
    assert "<svg" not in m.html  # Gmail and Outlook show none


def test_images_decode_at_twice_their_shown_size_and_stay_small():
    m = report()
    for cid, blob in m.images:
        w, h, _ = decode(blob)
        tag = re.search(rf'<img src="cid:{cid}" width="(\d+)" height="(\d+)"', m.html)
        assert tag, cid
        assert (w, h) == (2 * int(tag.group(1)), 2 * int(tag.group(2)))
        assert len(blob) < 4000, (cid, len(blob))
    assert sum(len(b) for _, b in m.images) < 8000


def test_the_daily_chart_draws_each_day_where_the_labels_are():
    m = report()
    w, h, pixel = decode(dict(m.images)["report-daily"])
    assert (w, h) == (2 * CHART_WIDTH, 2 * CHART_HEIGHT)
    step = w / 30
    # days cycle 1..4 units; day 3 (4 Nov) is the tallest: a quarter upload on top, download below
    x = int(3.5 * step)
    assert pixel(x, h - 6) == png.rgb(COLOUR["brand"])
    assert pixel(x, 12) == png.rgb(COLOUR["up"])
    assert pixel(int(0.5 * step), 60) == (255, 255, 255)  # day 0 is a quarter of the tallest
    assert pixel(int(0.5 * step), h - 6) == png.rgb(COLOUR["brand"])
    # the labels under it: one every five days, each as wide as its five slots
    assert re.findall(r'<td width="([\d.]+)%" align="left"', m.html) == ["16.67"] * 6
    assert ">1 Nov</td>" in m.html and ">26 Nov</td>" in m.html


def test_the_plan_gauge_fills_its_share_in_the_tone_of_the_state():
    m = report()
    w, h, pixel = decode(dict(m.images)["report-gauge"])
    assert pixel(int(w * 0.70), h // 2) == png.rgb(COLOUR["good"])  # 72 % used
    assert pixel(int(w * 0.74), h // 2) == png.rgb(COLOUR["track"])
    m = report(sample(plan=dict(sample()["plan"], used=19_000_000_000, guard="ok")))
    _, _, pixel = decode(dict(m.images)["report-gauge"])
    assert pixel(int(w * 0.9), h // 2) == png.rgb(COLOUR["warn"])  # 95 %


def test_client_bars_are_shares_of_the_top_client():
    m = report()
    images = dict(m.images)
    w, h, pixel = decode(images["report-client-1"])
    assert pixel(w // 2, h // 2) == png.rgb(COLOUR["brand"])
    assert pixel(w - 8, h // 2) == png.rgb(COLOUR["up"])  # its upload ends the bar
    _, _, pixel = decode(images["report-client-2"])  # 2.0 of 3.1 GB
    assert pixel(int(w * 0.6), h // 2) == png.rgb(COLOUR["brand"])
    assert pixel(int(w * 0.7), h // 2) == png.rgb(COLOUR["track"])


# -- escaping -------------------------------------------------------------------------------------------


def test_a_hostile_client_name_is_escaped_and_cut_to_one_line():
    hostile = "<script>alert(1)</script>"
    data = sample(router="Van\r\nBcc: evil@example.com")
    data["clients"][0]["name"] = hostile
    data["unusual"][0]["name"] = '"><img src=x onerror=alert(1)>\nLine 2\u202e'
    m = report(data)
    assert "<script" not in m.html and "onerror=alert(1)>" not in m.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in m.html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt; Line 2</strong>" in m.html
    assert "\n" not in m.subject and "\r" not in m.subject
    assert m.subject.startswith("Van Bcc: evil@example.com: weekly report")
    assert '- "><img src=x onerror=alert(1)> Line 2 (aa:bb:cc:dd:ee:03)' in m.text  # text is text
    assert "\u202e" not in m.text and "\u202e" not in m.html
    assert m.data["top_clients"][0]["name"] == hostile  # JSON escapes on its own


def test_a_very_long_name_is_cut():
    data = sample()
    data["clients"][0]["name"] = "x" * 200
    m = report(data)
    assert "x" * 39 + "…" in m.html and "x" * 41 not in m.html


# -- languages -----------------------------------------------------------------------------------------


def test_chinese_report():
    m = report(lang="zh")
    assert '<html lang="zh-CN">' in m.html
    assert m.subject == "Van 1：每周报告 — 套餐已用 72%，剩余 5.60 GB"
    for part in (m.html, m.text):
        assert "流量套餐" in part and "用量最多的设备" in part and "异常用量" in part
        assert "按目前的速度，套餐够用到本周期结束（11月30日），届时还剩 3.70 GB。" in part
        for english in ("Data plan", "Top clients", "At this pace", "Unusual usage", "Sent by", "Download"):
            assert english not in part
    assert "11月24日–30日" in m.text and ">11月26日</td>" in m.html and "11月24日 周二" in m.text


def test_the_language_falls_back_to_english():
    assert "Data plan" in report(lang="fr").html
    assert "流量套餐" in report(lang="zh-CN").html and "流量套餐" in report(lang="zh_CN").html


def test_width_counts_wide_characters_as_unicode_does():
    import unicodedata

    for text in ("按目前的速度，套餐够用到本周期结束（11月30日）", "日期 11月24日 周二", "Anna's iPhone · –",
                 "ｆｕｌｌ", "한국어", "📱 phone", "“设置”"):
        assert width(text) == sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text), text


def test_chinese_text_columns_line_up():
    """A CJK character is two columns wide: the right-aligned figures end in the same column."""
    m = report(lang="zh")
    lines = m.text.splitlines()
    head = lines.index(next(x for x in lines if x.startswith("日期")))
    table = lines[head:head + 8]
    assert len({width(x) for x in table}) == 1, table


# -- figures, dates, sentences ------------------------------------------------------------------------------


def test_sizes_are_formatted_with_the_projects_units():
    m = report()
    for n in (14_400_000_000, 20_000_000_000, 5_600_000_000, 3_100_000_000, 410_000_000, 180_000_000):
        assert format_bytes(n) in m.html and format_bytes(n) in m.text
    assert "Used    14.4 GB of 20.0 GB (72%)" in m.text
    assert "Left    5.60 GB" in m.text


def test_dates_are_in_the_routers_local_time(local_time):
    local_time("JST-9")  # 24 Nov 00:00 UTC is 09:00 in Tokyo; 30 Nov 23:00 UTC is already 1 Dec there
    m = build_report(sample(range=(START, ts(2026, 11, 30, 23))), now=ts(2026, 11, 30, 23))
    assert "24 Nov – 1 Dec" in m.text and "on 1 Dec, 08:00." in m.text


def test_percent_is_never_100_while_some_is_left():
    assert percent(999, 1000) == 99 and percent(1000, 1000) == 100 and percent(1100, 1000) == 110
    assert percent(0, 1000) == 0 and percent(5, None) is None


@pytest.mark.parametrize("plan, sentence", [
    ({"forecast_runs_out_at": ts(2026, 11, 28, 15)}, "At this pace the plan runs out on 28 Nov."),
    ({"used": 20_000_000_000}, "The plan is used up."),
    ({"forecast_end_bytes": 16_300_000_000},
     "At this pace the plan lasts to the end of the cycle (30 Nov) with 3.70 GB left."),
    ({"quota": None}, "At this pace about 16.3 GB will be used by the end of the cycle (30 Nov)."),
    ({"cycle_end": ts(2026, 12, 1, 6), "forecast_end_bytes": 30_000_000_000},
     "At this pace the plan runs out before the end of the cycle (1 Dec, 06:00)."),
    ({"forecast_end_bytes": 16_300_000_000, "forecast_low": 15_000_000_000, "forecast_high": 18_000_000_000},
     "(30 Nov) with 3.70 GB left. Likely 16.3 GB in all (15.0–18.0 GB)."),
])
def test_forecast_sentence(plan, sentence):
    m = report(sample(plan=dict(sample()["plan"], **plan)))
    assert sentence in m.html and sentence in m.text


def test_guard_and_modem_lines():
    m = report(sample(plan=dict(sample()["plan"], guard="stop")))
    assert "The plan guard has stopped all mobile data, the router's own too." in m.text
    assert "Vodafone · LTE · signal 72% · roaming" in m.text
    assert "The router itself   180 MB (3% of all traffic)" in m.text  # of the week's 6.80 GB


# -- next to nothing ------------------------------------------------------------------------------------


def test_empty_data_still_renders():
    m = build_report({"range": (START, END)}, now=NOW)
    assert m.subject == "hotspot: weekly report — 0 B used"
    assert m.images == ()
    assert "cid:" not in m.html
    assert "No data plan is set up." in m.text and "No clients used data in this period." in m.text
    assert "No usage recorded yet." in m.html
    assert m.data["plan"] is None and m.data["top_clients"] == []


def test_no_quota_and_no_clients():
    data = sample(clients=[], unusual=[], modem=None, router_bytes=None, period="daily",
                  range=(ts(2026, 11, 30), END))
    data["plan"] = {"used": 5_000_000_000}
    m = report(data)
    assert m.subject == "Van 1: daily report — 5.00 GB used this cycle"
    cids = set(re.findall(r'src="cid:([^"]+)"', m.html))
    assert cids == {cid for cid, _ in m.images} == {"report-daily"}
    assert "No quota set" in m.html and "Unusual usage" not in m.html and "Router and uplink" not in m.text
    assert "30 Nov: 800 MB (↓ 600 MB, ↑ 200 MB)" in m.text  # the day's bytes, from the days
    assert len([x for x in m.text.splitlines() if re.match(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) ", x)]) == 7


def test_days_still_to_come_are_stubs():
    days = [(ts(2026, 11, 1) + i * DAY, *((10**8, 3 * 10**8) if i < 10 else (None, None))) for i in range(30)]
    m = report(sample(days=days))
    w, h, pixel = decode(dict(m.images)["report-daily"])
    x = int((20 + 0.5) * w / 30)
    assert pixel(x, h - 4) == png.rgb(COLOUR["track"]) and pixel(x, h - 12) == (255, 255, 255)


def test_a_week_labels_every_day_with_its_weekday():
    data = sample()
    data["days"] = [d for d in data["days"] if START <= d[0] < END]
    m = report(data)
    cells = re.findall(r'<td width="([\d.]+)%" align="center"[^>]*>([^<]*)<br>(\d+)</td>', m.html)
    assert [(w, day, n) for w, day, n in cells][:2] == [("14.29", "Tue", "24"), ("14.29", "Wed", "25")]
    assert len(cells) == 7
    m = report(data, lang="zh")
    assert "周二<br>24日</td>" in m.html
