"""A device is counted, and capped, from its first byte: the bytes it sends and receives before
hotspotd registers it are its own, once registered, and count for the plan exactly once.

hotspotd is paused (SIGSTOP) while the device joins and floods, so every byte of the flood crosses
the router before the registration, whatever wakes hotspotd; the kernel counts on without it."""

from __future__ import annotations

import contextlib
import signal
import subprocess

import pytest

from lab import CommandError, Lab
from lab.hotspotd import Hotspotd

SIZE = 40_000_000
CAP = 5_000_000
MAX_OVERSHOOT = 64 * 1024


@pytest.fixture
def lab():
    # offload=False: every packet is MTU-sized, as on a real wire, so headers count per packet.
    with Lab(clients=("c1",), offload=False) as lab:
        yield lab


@contextlib.contextmanager
def paused(d: Hotspotd):
    """hotspotd stopped: nothing registers, the kernel alone counts and enforces."""
    d.proc.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        if d.proc.poll() is None:
            d.proc.send_signal(signal.SIGCONT)


def _wire(lab, name) -> int:
    return sum(lab.ip_bytes(name).values())


_FAR_END = """
table inet farend {
    counter rx {}
    chain input { type filter hook input priority -300; policy accept; ip saddr %s counter name "rx"; }
}
"""


def _delivered(lab, name) -> int:
    """Bytes that crossed the router: what the client received from the server, and what the server
    received from the LAN (the client's packets, masqueraded; the other client is idle). A capped
    upload's packets are counted where they arrive, not where they leave: the router drops some."""
    out = lab.run(lab.internet, "nft", "list", "counter", "inet", "farend", "rx", check=False).stdout
    if not out:
        lab.nft(lab.internet, _FAR_END % lab.wan4)
        out = lab.run(lab.internet, "nft", "list", "counter", "inet", "farend", "rx").stdout
    server_rx = int(out.split("bytes")[1].split()[0])
    got = lab.ip_bytes(name)
    return server_rx + got["rx4"] + got["rx6"]


def _plan_used(d) -> int:
    return d.json("plan")["used"]


def _flood(lab, name, **kw) -> None:
    """iperf3 at full speed; one that a cap cuts off stalls, so it ends on its own timeout."""
    try:
        lab.iperf(name, timeout=8, **kw)
    except (subprocess.TimeoutExpired, CommandError):
        pass


@pytest.mark.parametrize("reverse", [True, False], ids=["download", "upload"])
def test_bytes_before_registration_are_the_devices_own(lab, start_hotspotd, reverse):
    d = start_hotspotd()
    d.wait_client(lab.clients["c1"].mac)
    d.wait_polls()
    plan0 = _plan_used(d)
    with paused(d):
        new = lab.add_client("c3")
        lab.iperf("c3", bytes=SIZE, reverse=reverse)
    d.wait_client(new.mac)
    d.wait_polls()
    wire = _wire(lab, "c3")  # the device is idle again: nothing of it is still on its way
    assert wire > 0.9 * SIZE
    info = d.client(new.mac)
    assert abs(info["bytes_total"] - wire) <= 0.005 * wire, (info["bytes_total"], wire)
    bulk, acks = (info["bytes_down"], info["bytes_up"]) if reverse else (info["bytes_up"], info["bytes_down"])
    assert bulk > 0.9 * SIZE and 0 < acks < 0.1 * bulk, info  # each direction where it belongs
    # the plan paid for them once: not again when they were credited to the device
    assert abs(_plan_used(d) - plan0 - wire) <= 0.005 * wire, (_plan_used(d) - plan0, wire)
    # and once credited they are gone from the kernel's tally of unregistered devices
    assert new.mac not in d.nft("list", "set", "inet", "hotspot", "unreg_up")


@pytest.mark.parametrize("reverse", [True, False], ids=["download", "upload"])
def test_the_default_cap_holds_from_the_first_byte(lab, start_hotspotd, reverse):
    d = start_hotspotd(default_cap=CAP)
    d.wait_client(lab.clients["c1"].mac)
    with paused(d):
        new = lab.add_client("c3")
        start_at = _delivered(lab, "c3")
        _flood(lab, "c3", seconds=3, reverse=reverse)
        delivered = _delivered(lab, "c3") - start_at
    assert delivered >= CAP - 256 * 1024, "the flood never reached the cap"
    assert delivered - CAP <= MAX_OVERSHOOT, f"{delivered - CAP} bytes past the default cap"
    d.wait_client(new.mac)
    d.wait_polls()
    info = d.client(new.mac)
    assert abs(info["bytes_total"] - delivered) <= 0.005 * delivered, (info["bytes_total"], delivered)
    assert info["state"] == "capped" and info["remaining"] == 0, info
    # registered, it stays capped: its own quota starts from what it used
    before = _delivered(lab, "c3")
    _flood(lab, "c3", seconds=2, reverse=reverse)
    assert _delivered(lab, "c3") - before < MAX_OVERSHOOT


def test_registration_during_a_flood_keeps_the_cap_exact(lab, start_hotspotd):
    """The device is registered while it floods: the quota of its own that takes over must start from
    every byte it used, not from what was read a moment before."""
    cap = 200_000_000
    d = start_hotspotd(default_cap=cap)
    d.wait_client(lab.clients["c1"].mac)
    with paused(d):
        new = lab.add_client("c3")
        start_at = _delivered(lab, "c3")
        run = lab.iperf_start("c3", seconds=6, reverse=True)
        lab.wait_for(lambda: _wire(lab, "c3") > 20_000_000, 5, "the flood to be under way")
    d.wait_client(new.mac)  # registered now, in the middle of it
    with contextlib.suppress(subprocess.TimeoutExpired, CommandError):
        run.wait()
    delivered = _delivered(lab, "c3") - start_at
    assert delivered >= cap - 256 * 1024, "the flood never reached the cap"
    assert delivered - cap <= MAX_OVERSHOOT, f"{delivered - cap} bytes past the default cap"


def test_kill9_before_registration_loses_and_doubles_nothing(lab, start_hotspotd):
    d = start_hotspotd()
    d.wait_client(lab.clients["c1"].mac)
    d.wait_polls()
    plan0 = _plan_used(d)
    with paused(d):
        new = lab.add_client("c3")
        lab.iperf("c3", bytes=SIZE, reverse=True)
        d.kill9()
    d.start()
    d.wait_client(new.mac)
    d.wait_polls()
    wire = _wire(lab, "c3")
    counted = d.client(new.mac)["bytes_total"]
    assert abs(counted - wire) <= 0.005 * wire, (counted, wire)
    assert abs(_plan_used(d) - plan0 - wire) <= 0.005 * wire, (_plan_used(d) - plan0, wire)
    # a second restart finds nothing more to credit
    d.kill9()
    d.start()
    d.wait_polls()
    assert d.client(new.mac)["bytes_total"] == counted


def test_a_flush_keeps_the_plans_bytes_of_unregistered_devices(lab, start_hotspotd):
    """`nft flush ruleset` deletes the table with its per-device tallies: the kernel's notice carries
    the counters of deleted rules (the plan's tally of unregistered devices) but not those of set
    elements. So the plan keeps every byte, and the device loses what was counted for it since
    hotspotd last read the kernel (here: all of it, as hotspotd was paused)."""
    d = start_hotspotd()
    d.wait_client(lab.clients["c1"].mac)
    d.wait_polls()
    plan0 = _plan_used(d)
    with paused(d):
        new = lab.add_client("c3")
        lab.iperf("c3", bytes=SIZE, reverse=True)
        wire = _wire(lab, "c3")
        lab.run(lab.router, "nft", "flush", "ruleset")
    lab.wait_for(d.table_live, 5, "the table to come back")
    lab.install_nat()
    d.wait_client(new.mac)
    d.wait_polls()
    assert abs(_plan_used(d) - plan0 - wire) <= 0.005 * wire, (_plan_used(d) - plan0, wire)
    assert d.client(new.mac)["bytes_total"] <= 1.005 * wire  # never twice, for the device either
    assert "kept" in d.log()


def test_a_new_device_is_registered_at_once_not_at_the_next_poll(lab, start_hotspotd):
    """The kernel's notice of a new neighbour on the LAN wakes hotspotd: with a poll every 30 s, a
    device is registered in the moment it joins (its DHCP or its first ARP)."""
    d = start_hotspotd(poll_interval=30)
    d.wait_client(lab.clients["c1"].mac)
    new = lab.add_client("c3")
    lab.wait_for(lambda: new.mac in d.clients(), 5, "the new device to be registered")
    lab.ping("c3", lab.server4)
    assert "neighbour notifications" not in d.log()


def test_a_hold_left_by_a_crash_is_let_go_at_start(lab, start_hotspotd):
    """hotspotd holds a device's packets for the milliseconds of its registration with a cap; one
    killed in between leaves the hold in the kernel, and the next one lets it go."""
    d = start_hotspotd(default_cap=CAP)
    d.wait_client(lab.clients["c1"].mac)
    with paused(d):
        new = lab.add_client("c3")
        lab.run(lab.router, "nft", "add", "element", "inet", "hotspot", "unreg_hold", "{", new.mac, "}")
        lab.run(lab.router, "nft", "add", "element", "inet", "hotspot", "unreg_hold4", "{", new.ipv4, "}")
        assert not lab.ping("c3", lab.server4), "held"
        d.kill9()
    d.start()
    d.wait_client(new.mac)
    for name in ("unreg_hold", "unreg_hold4"):
        assert "elements" not in d.nft("list", "set", "inet", "hotspot", name)
    assert lab.ping("c3", lab.server4)
