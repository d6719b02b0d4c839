"""The uplink's data plan in the real kernel: the router's own traffic counts against it, a free uplink
counts nowhere, and the plan guard cuts in at the byte, over IPv4 and IPv6, sparing the exempt."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hotspot.plan.model import Threshold
from lab import FREE_DEVICE, CommandError, Lab
from lab.hotspotd import Hotspotd
from tests.lab.conftest import register

MAX_OVERSHOOT = 256 * 1024  # as for a client's cap (tests/lab/clients/test_enforcement.py)


@pytest.fixture
def start_hotspotd_free():
    """A lab whose router has a second, free uplink (wan1), and hotspotd told it is not metered."""
    with Lab(clients=("c1", "c2"), free_uplink=True) as lab:
        d = Hotspotd(lab, unmetered_device=(FREE_DEVICE,)).start()
        try:
            yield lab, d
        finally:
            d.stop()


def _wire(lab, *names) -> int:
    return sum(sum(lab.ip_bytes(n).values()) for n in names)


def _pull(lab, name, **kw) -> None:
    """A full-speed transfer the guard may cut off (iperf3 then stalls until its own timeout)."""
    try:
        lab.iperf(name, timeout=6, **kw)
    except (subprocess.TimeoutExpired, CommandError):
        pass


def _together(*runs) -> None:
    """Wait for transfers started together; the guard may cut them off (iperf3 then hangs until the
    deadline its run was started with: keep those a few seconds past the run's length)."""
    for r in runs:
        try:
            r.wait()
        except (subprocess.TimeoutExpired, CommandError):
            pass


def _router_fetch(lab, nbytes: int) -> int:
    """The router itself downloads `nbytes` from the internet (like an update); returns the bytes
    its interface to the internet carried, both ways, as the carrier would bill them."""
    before = _wan_bytes(lab)
    lab.iperf(lab.router, bytes=nbytes, reverse=True)
    return _wan_bytes(lab) - before


def _wan_bytes(lab) -> int:
    out = lab.run(lab.router, "cat", f"/sys/class/net/{lab.wan_device}/statistics/rx_bytes",
                  f"/sys/class/net/{lab.wan_device}/statistics/tx_bytes").stdout.split()
    return sum(map(int, out))


def test_the_routers_own_traffic_counts_to_the_plan_and_to_no_client(lab, start_hotspotd):
    d = start_hotspotd(plan_quota=10**9)
    register(lab, d, "c1")
    d.wait_polls()
    before = d.json("status")["plan"]
    clients_before = {m: c["bytes_total"] for m, c in d.clients().items()}

    wan = _router_fetch(lab, 3_000_000)
    d.wait_polls()
    after = d.json("status")["plan"]
    router = after["router_bytes"] - before["router_bytes"]
    # IP bytes counted vs the Ethernet frames the interface carried (14 bytes a frame more)
    assert 0.97 * wan <= router <= wan, (router, wan)
    assert after["plan_used"] - before["plan_used"] == router
    assert {m: c["bytes_total"] for m, c in d.clients().items()} == clients_before
    # the uplink's own interface counters, shown beside ours: the same bytes, plus each frame's header
    meter = after["meters"]["interfaces"]["bytes"] - before["meters"]["interfaces"]["bytes"]
    assert router <= meter <= 1.03 * router, (meter, router)


def test_guard_blocks_at_the_byte_and_spares_the_exempt_device(lab, start_hotspotd):
    c1, c2 = lab.clients["c1"].mac, lab.clients["c2"].mac
    quota = 30_000_000
    d = start_hotspotd(plan_quota=quota, plan_block_at=Threshold(percent=100.0), plan_exempt=(c2,))
    register(lab, d, "c1", "c2")
    d.wait_polls()
    used = d.json("status")["plan"]["plan_used"]
    start = _wire(lab, "c1", "c2")

    # c1 pulls over IPv4 and IPv6 at once, c2 (exempt) too: the plan's bytes stop at its quota for c1
    _together(lab.iperf_start("c1", seconds=4, reverse=True, timeout=8),
              lab.iperf_start("c1", seconds=4, reverse=True, ipv6=True, timeout=8))
    delivered = _wire(lab, "c1", "c2") - start
    assert used + delivered >= quota - MAX_OVERSHOOT, "the transfer never reached the plan's end"
    assert used + delivered - quota <= MAX_OVERSHOOT, f"{used + delivered - quota} bytes past the plan"

    d.wait_polls()
    status = d.json("status")["plan"]
    assert status["guard"]["state"] == "block"
    assert d.client(c1)["state"] == "capped"
    assert not lab.ping("c1", lab.server4) and not lab.ping("c1", lab.server6)
    # the owner's device goes on, over IPv4 and IPv6, and its bytes still count to the plan
    assert lab.ping("c2", lab.server4) and lab.ping("c2", lab.server6)
    got = lab.iperf("c2", bytes=2_000_000, reverse=True, ipv6=True)["end"]["sum_received"]["bytes"]
    assert got >= 2_000_000
    d.wait_polls()
    assert d.json("status")["plan"]["plan_used"] >= status["plan_used"] + 2_000_000

    # a top-up moves the guard's point at once: c1 is back, up to the new end
    d.ctl("plan", "topup", "5MB")
    assert lab.ping("c1", lab.server4)


def test_guard_stop_is_the_hard_ceiling_for_everyone(lab, start_hotspotd):
    c2 = lab.clients["c2"].mac
    d = start_hotspotd(plan_quota=10**9, plan_stop_at=Threshold(bytes=15_000_000), plan_exempt=(c2,))
    register(lab, d, "c1", "c2")
    d.wait_polls()
    used = d.json("status")["plan"]["plan_used"]
    start = _wire(lab, "c1", "c2")
    _together(lab.iperf_start("c1", seconds=3, reverse=True, timeout=7),
              lab.iperf_start("c2", seconds=3, ipv6=True, timeout=7))
    delivered = _wire(lab, "c1", "c2") - start
    assert used + delivered >= 15_000_000 - MAX_OVERSHOOT
    assert used + delivered - 15_000_000 <= MAX_OVERSHOOT
    assert not lab.ping("c2", lab.server6), "the exempt device goes on past the hard ceiling"
    # the router's own traffic stops too
    assert lab.run(lab.router, "ping", "-n", "-q", "-c", "1", "-W", "1", lab.server4, check=False).returncode
    d.wait_polls()
    assert d.json("status")["plan"]["guard"]["state"] == "stop"


def test_guard_throttle_shares_a_rate_and_spares_the_exempt(lab, start_hotspotd):
    c2 = lab.clients["c2"].mac
    d = start_hotspotd(plan_quota=10**9, plan_throttle_at=Threshold(bytes=1), plan_throttle_rate=4_000_000,
                       plan_exempt=(c2,))
    register(lab, d, "c1", "c2")
    slow = lab.iperf("c1", seconds=2, reverse=True)["end"]["sum_received"]["bits_per_second"]
    fast = lab.iperf("c2", seconds=2, reverse=True)["end"]["sum_received"]["bits_per_second"]
    assert 3_200_000 <= slow <= 4_400_000, slow
    assert fast > 40_000_000, fast


def test_a_free_uplink_counts_nowhere_but_holds_back_the_blocked(start_hotspotd_free):
    lab, d = start_hotspotd_free
    c1, c2 = lab.clients["c1"].mac, lab.clients["c2"].mac
    register(lab, d, "c1", "c2")
    d.ctl("block", c2)
    # on LTE, phones hear it is metered (DHCP option 43); on the free uplink, at their next renewal, not
    lab.wait_for(lambda: "ANDROID_METERED" in Path(lab.dhcp_opts_file).read_text(), 5, "the metered hint")
    lab.renew("c1")
    assert lab.dhcp_option("c1", 43) == "ANDROID_METERED"
    lab.use_uplink(FREE_DEVICE)
    lab.wait_for(lambda: not Path(lab.dhcp_opts_file).read_text(), 5, "the hint to go")
    lab.renew("c1")
    assert lab.dhcp_option("c1", 43) == ""
    d.wait_polls()
    plan0, c1_0 = d.json("status")["plan"]["plan_used"], d.client(c1)["bytes_total"]
    got = lab.iperf("c1", bytes=5_000_000, reverse=True)["end"]["sum_received"]["bytes"]
    lab.iperf("c1", bytes=2_000_000, ipv6=True)
    assert got >= 5_000_000
    d.wait_polls()
    assert d.client(c1)["bytes_total"] == c1_0
    assert d.json("status")["plan"]["plan_used"] - plan0 < 2000  # the router's own (DNS, NDP): not c1's
    assert not lab.ping("c2", lab.server4) and not lab.ping("c2", lab.server6)

    # back on LTE: counted again
    lab.use_uplink(lab.wan_device)
    lab.iperf("c1", bytes=3_000_000, reverse=True)
    d.wait_polls()
    assert d.client(c1)["bytes_total"] - c1_0 >= 3_000_000


def test_a_guard_set_while_running_holds_from_the_bytes_already_used(lab, start_hotspotd):
    """hotspotctl plan set rewrites the config; hotspotd reloads it at its next poll and, for a new set of
    guard levels, rebuilds its table with the guard seeded from the plan's bytes so far."""
    d = start_hotspotd(plan_quota=10**9)
    register(lab, d, "c1")
    lab.iperf("c1", bytes=5_000_000, reverse=True)
    d.wait_polls()
    d.ctl("plan", "set", "--block-at", "8MB")
    lab.wait_for(lambda: "g_block" in d.nft("list", "quotas"), 10, "the guard in the kernel")
    assert "option plan_block_at '8MB'" in d.config_path.read_text()
    used = d.json("plan")["used"]
    start = _wire(lab, "c1")
    _pull(lab, "c1", seconds=3, reverse=True)
    delivered = _wire(lab, "c1") - start
    assert used + delivered >= 8_000_000 - MAX_OVERSHOOT
    assert used + delivered - 8_000_000 <= MAX_OVERSHOOT, f"{used + delivered - 8_000_000} past the point"
    d.wait_polls()
    assert d.json("plan")["guard"]["state"] == "block"
    assert "config reloaded" in d.log() or "settings changed" in d.log()
