"""Ask before going on, in a real browser inside a held client: the page it asked for lands on the
portal's page that asks, a click on "Continue to the limit" releases it in the kernel, and the page it
first asked for then loads at once, through the internet."""

from __future__ import annotations

from tests.browser.conftest import DESKTOP, shot
from tests.lab.captive.test_ask import _captive, _flood
from tests.lab.conftest import register

MB = 10**6


def test_a_click_on_continue_releases_the_held_device_at_once(web, start_hotspotd, browse, request):
    lab = web
    d = start_hotspotd()
    register(lab, d, "c1")
    c1 = lab.clients["c1"].mac
    d.wait_portal()
    d.ctl("ask", c1, f"{d.client(c1)['bytes_total'] + 4 * MB}B")
    _flood(lab, "c1", seconds=2, reverse=True)
    lab.wait_for(lambda: d.client(c1)["asking"], 10, "c1 held at its ask point")
    d.wait_polls()
    assert _captive(lab, "c1", d)
    assert not lab.ping("c1", lab.server4, timeout=1)

    wanted = "http://internet.lab/after-asking"
    results = browse("c1", [
        {"get": wanted},  # the kernel sends it to the portal, which sends it to the page that asks
        {"wait": "#ask-continue"},
        {"url": True},
        {"text": "#ask h1"},
        shot(request, "ask"),
        {"click": "#ask-continue"},
        {"wait": "body", "text": "internet host=internet.lab path=/after-asking"},
        {"url": True},
    ], size=DESKTOP)
    assert "/ask?url=" in results[2] and results[3] == "Continue using data?"
    assert results[-1] == wanted
    info = d.client(c1)
    assert (info["asking"], info["reason"]) == (False, None)
    assert lab.ping("c1", lab.server4, timeout=1) and lab.ping("c1", lab.server6, timeout=1)
