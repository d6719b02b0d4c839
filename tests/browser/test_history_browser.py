"""The usage-history card in a real browser after real traffic: today's cell opens its hours in place."""

from __future__ import annotations

from tests.browser.conftest import shot
from tests.lab.conftest import register


def test_history_card_opens_todays_hours(lab, start_hotspotd, browse, request):
    d = start_hotspotd()
    register(lab, d, "c1")
    lab.iperf("c1", bytes=2_000_000, reverse=True)
    d.wait_polls()
    d.wait_portal()
    results = browse("c1", [
        {"get": d.portal("/")},
        {"wait": "#hist-cal a.today"},
        {"click": "#hist-cal a.today"},
        {"wait": "#hist-day h3", "text": "by hour"},
        shot(request, "history-day"),
        {"text": "#hist-day"},
        {"text": "#history h2"},
    ])
    assert "by hour" in results[-2] and "MB" in results[-2], results[-2]
    assert results[-1] == "Usage history"
