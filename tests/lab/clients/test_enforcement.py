"""Caps, blocks and throttles are enforced by the kernel: at the byte, both directions, IPv6 too."""

from __future__ import annotations

import subprocess

import pytest

from lab import CommandError
from tests.lab.conftest import register

CAP = 10_000_000
MAX_OVERSHOOT = 256 * 1024


def _wire_total(lab, name) -> int:
    return sum(lab.ip_bytes(name).values())


def _transfer(lab, name, **kw) -> None:
    """Full-speed download that the cap cuts off: iperf3 then stalls, so it ends on its own timeout."""
    try:
        lab.iperf(name, timeout=6, **kw)
    except (subprocess.TimeoutExpired, CommandError):
        pass


def test_cap_cuts_off_at_the_byte_over_ipv4_and_ipv6(lab, start_hotspotd):
    d = start_hotspotd()
    register(lab, d, "c1", "c2")
    c1 = lab.clients["c1"].mac
    d.ctl("reset", c1)
    d.ctl("cap", c1, "10MB")
    start = _wire_total(lab, "c1")
    used_at_start = d.client(c1)["bytes_total"]

    _transfer(lab, "c1", seconds=3, reverse=True)
    delivered = _wire_total(lab, "c1") - start
    assert delivered + used_at_start >= CAP - MAX_OVERSHOOT, "the transfer never reached the cap"
    overshoot = delivered + used_at_start - CAP
    assert overshoot <= MAX_OVERSHOOT, f"{overshoot} bytes past the cap"

    d.wait_polls()
    info = d.client(c1)
    assert info["state"] == "capped"
    assert info["remaining"] == 0

    # IPv6 and uploads are cut off too; the client next door is not.
    before = _wire_total(lab, "c1")
    _transfer(lab, "c1", seconds=2, ipv6=True, reverse=True)
    _transfer(lab, "c1", seconds=2, ipv6=True)
    assert _wire_total(lab, "c1") - before < 64 * 1024
    assert not lab.ping("c1", lab.server6)
    assert lab.iperf("c2", seconds=1, reverse=True, ipv6=True)["end"]["sum_received"]["bytes"] > CAP

    # a top-up lets it back on, and the new allowance is enforced as exactly: all of it, no more (the
    # packets the old quota dropped do not eat into it)
    d.ctl("topup", c1, "5MB")
    assert lab.ping("c1", lab.server6)
    start = _wire_total(lab, "c1")
    used = d.client(c1)["bytes_total"]
    _transfer(lab, "c1", seconds=3, reverse=True)
    total = used + _wire_total(lab, "c1") - start
    assert CAP + 5_000_000 - MAX_OVERSHOOT <= total <= CAP + 5_000_000 + MAX_OVERSHOOT, total


def test_block_and_unblock(lab, start_hotspotd):
    d = start_hotspotd()
    register(lab, d, "c1", "c2")
    c1 = lab.clients["c1"].mac
    assert d.json("block", c1)["state"] == "blocked"
    assert not lab.ping("c1", lab.server4)
    assert not lab.ping("c1", lab.server6)
    assert lab.ping("c2", lab.server6)
    assert lab.ping("c1", lab.router4), "the router (portal, DNS) stays reachable"
    d.ctl("unblock", c1)
    assert lab.ping("c1", lab.server4) and lab.ping("c1", lab.server6)


@pytest.mark.parametrize("mbit", [1, 8, 50])
def test_throttle_delivers_the_rate(lab, start_hotspotd, mbit):
    d = start_hotspotd()
    register(lab, d, "c1")
    c1 = lab.clients["c1"].mac
    assert d.json("throttle", c1, f"{mbit}mbit")["rate_limit"] == mbit * 1_000_000
    for reverse in (True, False):
        result = lab.iperf("c1", seconds=4, reverse=reverse)
        goodput = result["end"]["sum_received"]["bits_per_second"]
        assert abs(goodput / (mbit * 1e6) - 1) <= 0.15, (reverse, goodput)
    d.ctl("throttle", c1, "none")
    assert lab.iperf("c1", seconds=1, reverse=True)["end"]["sum_received"]["bits_per_second"] > 500e6


def test_after_cap_throttle_slows_instead_of_blocking(lab, start_hotspotd):
    d = start_hotspotd(after_cap="throttle", after_cap_rate=2_000_000)
    register(lab, d, "c1")
    c1 = lab.clients["c1"].mac
    d.ctl("cap", c1, "5MB")
    _transfer(lab, "c1", seconds=2, reverse=True)  # uses up the cap at full speed
    d.wait_polls()
    info = d.client(c1)
    assert info["state"] == "throttled" and info["rate_limit"] == 2_000_000
    goodput = lab.iperf("c1", seconds=3, reverse=True)["end"]["sum_received"]["bits_per_second"]
    assert abs(goodput / 2e6 - 1) <= 0.15, goodput
