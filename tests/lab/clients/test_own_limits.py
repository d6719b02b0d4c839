"""A guest's own limit, in the real kernel: set from its own page through the real portal and hotspotd,
bounded by the owner's cap and by what it used (a refusal changes nothing), enforced at the byte like
the owner's cap, and only ever for the device that sent the form."""

from __future__ import annotations

import re
import subprocess

from lab import CommandError
from tests.lab.conftest import register
from tests.lab.portal.test_security import Browser

MB = 10**6
MAX_OVERSHOOT = 256 * 1024


def _wire_total(lab, name) -> int:
    return sum(lab.ip_bytes(name).values())


def _flood(lab, name, **kw) -> None:
    """A full-speed transfer the limit cuts off: iperf3 then stalls, so it ends on its own timeout."""
    try:
        lab.iperf(name, timeout=6, **kw)
    except (subprocess.TimeoutExpired, CommandError):
        pass


def _flash(body: str) -> str:
    found = re.search(r'<p class="flash" role="status">([^<]*)</p>', body)
    return found.group(1) if found else ""


def _set(guest: Browser, **fields) -> str:
    """Post the own-limits form (with the page's real CSRF token); the message the page then shows."""
    status, head, _ = guest.post("/own-limits", {k: fields.get(k, "") for k in ("limit", "warn", "ask")}
                                 | {k: v for k, v in fields.items() if k not in ("limit", "warn", "ask")},
                                 csrf=guest.csrf("/"))
    assert status == 303, (status, head)
    return _flash(guest.request("/")[2])


def test_own_limit_is_a_kernel_quota_bounded_by_the_owners_cap(lab, start_hotspotd):
    d = start_hotspotd()
    register(lab, d, "c1", "c2")
    c1, c2 = lab.clients["c1"].mac, lab.clients["c2"].mac
    d.ctl("cap", c1, "60MB")
    d.wait_portal()
    guest = Browser(lab, d, "c1")

    # Above the owner's cap: refused with a clear message, nothing changed.
    said = _set(guest, limit="80MB")
    assert "more than the owner allows" in said and "60" in said, said
    assert d.client(c1)["own_limit"] is None and d.client(c1)["cap"] == 60 * MB
    # Not a size: refused too.
    assert "Write a size" in _set(guest, limit="lots; flush ruleset")
    assert d.client(c1)["own_limit"] is None

    lab.iperf("c1", bytes=3 * MB, reverse=True)
    d.wait_polls()
    used = d.client(c1)["bytes_total"]
    assert used > 3 * MB
    # Below what it already used: refused, nothing changed.
    said = _set(guest, limit="1MB")
    assert "already used" in said, said
    assert d.client(c1)["own_limit"] is None

    # Its own limit, with a warning below it: the lower of the two is the cap the kernel holds.
    limit = used + 10 * MB
    assert _set(guest, limit=f"{limit}B", warn=f"{used + 2 * MB}B") == "Saved."
    info = d.client(c1)
    assert (info["own_limit"], info["cap"], info["owner_cap"]) == (limit, limit, 60 * MB)
    assert f'quota name "q{info["id"]}"' in d.nft("list", "chain", "inet", "hotspot", f"down{info['id']}")

    # Enforced at the byte: bytes on the wire stop at its own limit, over IPv4 and IPv6.
    start, counted = _wire_total(lab, "c1"), d.client(c1)["bytes_total"]
    _flood(lab, "c1", seconds=3, reverse=True)
    delivered = _wire_total(lab, "c1") - start
    assert counted + delivered >= limit - MAX_OVERSHOOT, "the flood never reached its own limit"
    assert counted + delivered - limit <= MAX_OVERSHOOT, f"{counted + delivered - limit} bytes past it"
    d.wait_polls()
    info = d.client(c1)
    assert (info["state"], info["reason"], info["remaining"]) == ("capped", "own_limit", 0)
    assert abs(info["bytes_total"] - (counted + delivered)) <= 64 * 1024, "counted as on the wire"
    assert info["own_warned"] is True
    before = _wire_total(lab, "c1")
    _flood(lab, "c1", seconds=2, ipv6=True, reverse=True)
    assert _wire_total(lab, "c1") - before < 64 * 1024
    assert not lab.ping("c1", lab.server6) and lab.ping("c2", lab.server6)
    page = guest.request("/")[2]
    assert "Stopped at your own limit" in page and "You passed your own warning point" in page

    # A forged post: c2 names c1 in the form; only c2's own limit changes (a device is its address).
    other = Browser(lab, d, "c2")
    assert _set(other, limit="5MB", mac=c1, ip=lab.clients["c1"].ipv4) == "Saved."
    assert d.client(c2)["own_limit"] == 5 * MB
    assert d.client(c1)["own_limit"] == limit
    # Without its CSRF token: refused, nothing changed.
    assert other.post("/own-limits", {"limit": ""}, csrf=None)[0] == 400
    assert d.client(c2)["own_limit"] == 5 * MB

    # It clears its own limit: the owner's cap is back, and traffic flows at once.
    assert _set(guest) == "Saved."
    info = d.client(c1)
    assert (info["own_limit"], info["cap"]) == (None, 60 * MB)
    assert lab.ping("c1", lab.server6) and lab.ping("c1", lab.server4)
