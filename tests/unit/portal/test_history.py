"""The usage-history card and its JSON endpoints (hotspot/portal/history_card.py, history.py), on the
fake backend (a real Store and the real queries over made-up usage; its clock is 2026-11-22 14:30)."""

from __future__ import annotations

import re

from hotspot.portal.history_card import level, short_size
from tests.unit.portal.test_admin import login

ME = "10.0.0.10"
MAC = "a4:5e:60:11:22:33"


def get(client, url, ip=ME, **kw):
    return client.get(url, environ_base={"REMOTE_ADDR": ip}, **kw)


def test_client_page_has_the_calendar_trend_and_heatmap_of_its_own_usage(client, backend):
    html = get(client, "/").get_data(as_text=True)
    card = html[html.index('id="history"'):]
    card = card[:card.index("</section>")]
    assert "November 2026" in card and "By week" in card and "When the data is used" in card
    cells = re.findall(r'<a class="d l(\d)[^"]*" href="\?[^"]*day=2026-11-(\d\d)', card)
    assert [d for _l, d in cells] == [f"{d:02d}" for d in range(1, 23)]  # up to today, each opens its hours
    assert {lvl for lvl, _d in cells} > {"5"}  # a colour scale, not one shade
    assert len(re.findall(r"<i class=l\d></i>", card)) == 7 * 24
    assert len(re.findall(r"<rect ", card)) == 12  # twelve weeks
    asked = {c[1] for c in backend.calls if c[0] == "me_history"}
    assert asked == {ME}  # only ever its own, by its address


def test_a_day_opens_its_hours_without_js_and_bad_parameters_say_so(client):
    html = get(client, "/?day=2026-11-20&month=2026-11").get_data(as_text=True)
    day = html[html.index('id="hist-day"'):html.index("When the data is used")]
    assert "20 Nov, by hour" in day and len(re.findall("<rect ", day)) == 24
    assert 'aria-current="date"' in html
    page = get(client, "/?from=2026-02-30&month=Nov&lang=zh")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "日期格式为 YYYY-MM-DD" in text and "月份格式为 YYYY-MM" in text and "2026年11月" in text
    backwards = get(client, "/?from=2026-11-10&to=2026-11-01&lang=zh").get_data(as_text=True)
    assert "结束日期必须晚于开始日期" in backwards
    months = get(client, "/?from=2025-12-01&to=2026-11-22&lang=en").get_data(as_text=True)
    assert "By month" in months and len(re.findall(r"<rect ", months[months.index('id="history"'):])) > 11


def test_api_me_history_is_the_clients_own_and_refuses_bad_ranges_in_one_line(client, backend):
    r = get(client, "/api/me/history?by=hour&from=2026-11-20&to=2026-11-21",
            headers={"X-Forwarded-For": "10.0.0.11"})
    assert r.status_code == 200 and len(r.json["rows"]) == 24 and r.json["by"] == "hour"
    assert backend.calls[-1] == ("me_history", ME, "hour", "2026-11-20", "2026-11-21")
    month = get(client, "/api/me/history?by=month&from=2025-09-01").json
    assert month["rows"][0]["start"].startswith("2025-09-01") and month["daily_from"].startswith("2025-10-01")
    for query in ("by=hour&from=2026-01-01", "by=week", "by=day&from=tomorrow",
                  "by=day&from=2026-11-10&to=2026-11-01"):
        r = get(client, f"/api/me/history?{query}")
        assert r.status_code == 400 and "\n" not in r.json["error"], query
    assert get(client, "/api/me/history", ip="10.9.9.9").status_code == 404


def test_admin_history_for_a_client_and_the_plan_needs_a_login(client):
    assert client.get("/admin/api/history/plan").status_code == 401
    assert login(client).status_code == 303
    plan = client.get("/admin/api/history/plan?by=month").json
    mine = client.get(f"/admin/api/history/{MAC}?by=month").json
    assert sum(r["bytes_total"] for r in plan["rows"]) > sum(r["bytes_total"] for r in mine["rows"]) > 0
    assert client.get("/admin/api/history/not-a-mac").status_code == 404
    assert client.get("/admin/api/history/02:00:00:00:00:99").status_code == 400
    for page in ("/admin/plan", f"/admin/clients/{MAC}"):
        html = client.get(page).get_data(as_text=True)
        assert 'id="history"' in html and "November 2026" in html, page


def test_scale_and_cell_sizes():
    assert [level(n, 100) for n in (0, 1, 20, 21, 100)] == [0, 1, 1, 2, 5]
    assert [short_size(n) for n in (0, 999, 1000, 14_116_066, 1_234_000_000, 12_000_000_000)] == \
        ["", "999B", "1.0k", "14M", "1.2G", "12G"]
