"""Our client id lives only in the ct_mark_mask bits of the conntrack mark: another package that keeps
its own bits there (mwan3 keeps the uplink of a connection in 0x3F00) goes on working beside us."""

from __future__ import annotations

import json
import subprocess
import time

from lab import CommandError
from tests.lab.conftest import register

# Like mwan3: mark a new connection with its uplink's bits, then route/match on them for every packet
# of the connection, both ways. Here "matching" counts what still carries the bits after our writes.
MWAN_LIKE = """
table inet mwanlike
delete table inet mwanlike
table inet mwanlike {
	counter marked {}
	counter unmarked {}
	chain pre {
		type filter hook prerouting priority mangle; policy accept;
		meta l4proto != tcp return
		ct state new ct mark set ct mark and 0xffffc0ff or 0x00000200
		ct mark and 0x3f00 == 0x0200 counter name "marked" return
		counter name "unmarked"
	}
	chain post {
		type filter hook postrouting priority mangle; policy accept;
		meta l4proto tcp ct mark and 0x3f00 != 0x0200 counter name "unmarked"
	}
}
"""


def _mwan(lab) -> dict[str, int]:
    out = lab.run(lab.router, "nft", "-j", "list", "counters", "table", "inet", "mwanlike").stdout
    return {o["counter"]["name"]: o["counter"]["bytes"] for o in json.loads(out)["nftables"]
            if "counter" in o}


def _wire(lab, name) -> int:
    return sum(lab.ip_bytes(name).values())


def test_another_tables_mark_bits_survive_counting_caps_and_throttles(lab, start_hotspotd):
    lab.nft(lab.router, MWAN_LIKE)
    d = start_hotspotd(after_cap="throttle", after_cap_rate=20_000_000)
    register(lab, d, "c1", "c2")
    c1, c2 = lab.clients["c1"].mac, lab.clients["c2"].mac

    # counting: exact for us, and every packet of the flow still carries the other table's bits
    counted0, wire0 = d.client(c1)["bytes_total"], _wire(lab, "c1")
    lab.iperf("c1", bytes=20_000_000, reverse=True)
    lab.iperf("c1", bytes=5_000_000, ipv6=True)
    d.wait_polls()
    counted, wire = d.client(c1)["bytes_total"] - counted0, _wire(lab, "c1") - wire0
    assert abs(counted - wire) <= 0.001 * wire, (counted, wire)
    seen = _mwan(lab)
    assert seen["unmarked"] == 0, seen
    assert seen["marked"] >= 20_000_000, seen  # the transfers passed it, and matched its bits

    # a throttle and an after-cap throttle (priority set in our chains) leave the bits alone too
    d.ctl("throttle", c2, "50mbit")
    goodput = lab.iperf("c2", seconds=2, reverse=True)["end"]["sum_received"]["bits_per_second"]
    assert abs(goodput / 50e6 - 1) <= 0.15, goodput
    d.ctl("cap", c1, "10MB")
    try:
        lab.iperf("c1", seconds=3, reverse=True, timeout=8)
    except (subprocess.TimeoutExpired, CommandError):
        pass
    d.wait_polls()
    assert d.client(c1)["state"] == "throttled"
    goodput = lab.iperf("c1", seconds=2, reverse=True)["end"]["sum_received"]["bits_per_second"]
    assert abs(goodput / 20e6 - 1) <= 0.15, goodput
    assert _mwan(lab)["unmarked"] == 0

    # and our id is only in our bits: the kernel's conntrack marks carry both
    ours = d.client(c1)["id"] << 16
    marks = lab.run(lab.router, "cat", "/proc/net/nf_conntrack").stdout
    assert f"mark={ours | 0x200} " in marks, marks[-2000:]


def test_a_new_mask_rebuilds_the_table_and_keeps_the_bytes(lab, start_hotspotd):
    """A table built for another mask is rebuilt, but only after its counters are accounted."""
    d = start_hotspotd(poll_interval=60)  # no poll between the transfer and the restart
    register(lab, d, "c1")
    mac = lab.clients["c1"].mac
    time.sleep(0.5)
    counted0, wire0 = d.client(mac)["bytes_total"], _wire(lab, "c1")
    lab.iperf("c1", bytes=10_000_000, reverse=True)
    d.kill9()  # the bytes of the transfer are only in the kernel's counters now
    d = start_hotspotd(poll_interval=60, ct_mark_mask=0xFF000000)
    assert d.log().count("loaded table inet hotspot") == 2, d.log()
    cid = d.client(mac)["id"]
    assert "ct mark & 0xff000000 vmap" in d.nft("list", "chain", "inet", "hotspot", "download")
    lab.iperf("c1", bytes=5_000_000, reverse=True)
    counted, wire = d.client(mac)["bytes_total"] - counted0, _wire(lab, "c1") - wire0
    assert abs(counted - wire) <= 0.001 * wire, (counted, wire)
    marks = lab.run(lab.router, "cat", "/proc/net/nf_conntrack").stdout
    assert f"mark={cid << 24} " in marks, marks[-2000:]  # the new flow, marked in the new bits
