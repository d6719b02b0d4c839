"""Ask before going on, in the real kernel: a device held at its ask point is cut off at the byte by
its own quota (no poll in between), then its plain HTTP goes to the portal's page that asks, RFC 8908
says captive, and only the router (the portal, DNS) answers, over IPv4 and IPv6; DNS to another
server gets nothing. The hold survives a restart of hotspotd; "continue" lets it go on at once, "stop
here" keeps it stopped with what it used as its own limit."""

from __future__ import annotations

import json
import subprocess

from lab import CommandError
from tests.lab.captive.test_captive import _get, assert_gated, assert_online
from tests.lab.conftest import register
from tests.lab.portal.test_security import Browser

MB = 10**6
MAX_OVERSHOOT = 65_536


def _wire_total(lab, name) -> int:
    return sum(lab.ip_bytes(name).values())


def _flood(lab, name, **kw) -> None:
    try:
        lab.iperf(name, timeout=6, **kw)
    except (subprocess.TimeoutExpired, CommandError):
        pass


def _captive(lab, name, d) -> bool:
    return json.loads(lab.curl(name, d.portal("/api/captive")).stdout)["captive"]


def test_ask_hold_cuts_in_at_the_byte_and_holds_until_the_answer(web, start_hotspotd):
    lab = web
    d = start_hotspotd()
    register(lab, d, "c1", "c2")
    c1 = lab.clients["c1"].mac
    d.ctl("cap", c1, "200MB")
    d.wait_portal()
    used = d.client(c1)["bytes_total"]
    point = used + 8 * MB
    info = d.json("ask", c1, f"{point}B")
    assert (info["ask_at"], info["ask_point"], info["asking"]) == (point, point, False)
    assert not _captive(lab, "c1", d)

    # A flood through the ask point stops at it, in the kernel, before any poll could see it.
    start, counted = _wire_total(lab, "c1"), d.client(c1)["bytes_total"]
    _flood(lab, "c1", seconds=3, reverse=True)
    total = counted + _wire_total(lab, "c1") - start
    assert total >= point - MAX_OVERSHOOT, "the flood never reached the ask point"
    assert total - point <= MAX_OVERSHOOT, f"{total - point} bytes past the ask point"

    # Held: its HTTP goes to the portal, the rest fails at once (IPv4 and IPv6, other DNS servers too)
    d.wait_polls()
    info = d.client(c1)
    assert (info["asking"], info["reason"], info["state"]) == (True, "ask", "capped")
    assert_gated(lab, "c1")
    assert _captive(lab, "c1", d) and not _captive(lab, "c2", d)
    assert_online(lab, "c2")
    guest = Browser(lab, d, "c1")
    status, head, _ = guest.request("/signin")
    assert status == 302 and "/ask" in head
    status, _, page = guest.request("/ask")
    assert status == 200 and "Continue to the limit" in page and "Stop here" in page

    # The hold survives a restart of hotspotd.
    d.stop()
    d.start()
    d.wait_polls()
    assert d.client(c1)["asking"] is True
    assert_gated(lab, "c1")

    # "Continue": online at once (no poll waited for), on to its cap.
    status, head, _ = guest.post("/ask", {"answer": "continue"}, csrf=guest.csrf("/ask"))
    assert status == 303
    assert lab.ping("c1", lab.server4, timeout=1) and lab.ping("c1", lab.server6, timeout=1)
    assert_online(lab, "c1")
    info = d.client(c1)
    assert (info["asking"], info["ask_point"], info["reason"]) == (False, None, None)
    assert not _captive(lab, "c1", d)


def test_stop_here_keeps_it_stopped_until_it_changes_its_mind(web, start_hotspotd):
    lab = web
    d = start_hotspotd(ask_default=None)
    register(lab, d, "c1", "c2")
    c1 = lab.clients["c1"].mac
    d.wait_portal()
    guest = Browser(lab, d, "c1")
    used = d.client(c1)["bytes_total"]
    # Its own ask point, from its own page.
    status, _, _ = guest.post("/own-limits", {"ask": f"{used + 4 * MB}B", "limit": "", "warn": ""},
                              csrf=guest.csrf("/"))
    assert status == 303 and d.client(c1)["own_ask"] == used + 4 * MB
    _flood(lab, "c1", seconds=2, reverse=True)
    lab.wait_for(lambda: d.client(c1)["asking"], 10, "c1 held at its ask point")
    # A forged answer from the device next door answers nothing for c1.
    other = Browser(lab, d, "c2")
    other.post("/ask", {"answer": "continue", "mac": c1}, csrf=other.csrf("/"))
    assert d.client(c1)["asking"] is True

    status, _, _ = guest.post("/ask", {"answer": "stop"}, csrf=guest.csrf("/ask"))
    assert status == 303
    info = d.client(c1)
    assert (info["asking"], info["reason"]) == (False, "own_limit")
    assert info["own_limit"] == info["bytes_total"]
    assert not lab.ping("c1", lab.server4, timeout=1) and not lab.ping("c1", lab.server6, timeout=1)
    d.wait_polls()
    # stopped like a device at its cap: its HTTP goes to its page, which says why
    for server in (lab.server4, f"[{lab.server6}]"):
        assert _get(lab, "c1", f"http://{server}/x") == f"portal host={server} path=/x"
    assert _captive(lab, "c1", d)

    # It changes its mind: clears its own limit (and its ask point), online at once.
    status, _, _ = guest.post("/own-limits", {"ask": "", "limit": "", "warn": ""}, csrf=guest.csrf("/"))
    assert status == 303
    assert lab.ping("c1", lab.server4, timeout=1) and lab.ping("c1", lab.server6, timeout=1)
    assert d.client(c1)["own_limit"] is None


def test_the_owners_default_asks_every_device_but_one_it_exempts(web, start_hotspotd):
    lab = web
    d = start_hotspotd(ask_default=6 * MB)
    register(lab, d, "c1", "c2")
    c1, c2 = lab.clients["c1"].mac, lab.clients["c2"].mac
    assert d.client(c1)["ask_point"] == 6 * MB
    assert d.json("ask", c2, "none")["ask_point"] is None  # never for this one
    for name in ("c1", "c2"):
        _flood(lab, name, seconds=2, reverse=True)
    lab.wait_for(lambda: d.client(c1)["asking"], 10, "c1 held at the default point")
    total = d.client(c1)["bytes_total"]
    assert 6 * MB - MAX_OVERSHOOT <= total <= 6 * MB + MAX_OVERSHOOT, total
    assert d.client(c2)["bytes_total"] > 6 * MB and not d.client(c2)["asking"]
    d.wait_polls()
    assert _captive(lab, "c1", d) and not _captive(lab, "c2", d)
    assert lab.ping("c2", lab.server6) and not lab.ping("c1", lab.server6, timeout=1)
    # the owner releases it from hotspotctl: at once
    assert d.json("ask", c1, "continue")["asking"] is False
    assert lab.ping("c1", lab.server6, timeout=1)
