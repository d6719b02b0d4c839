"""Faults a router meets, each under traffic, with the bytes on the wire as the truth: hotspotd killed
at random moments of its poll, the flash or the RAM disk full, the clock jumping a year back and
forward again, dnsmasq, the portal and the DNS snooper killed or stopped."""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import time
from pathlib import Path

from hotspot.lab import Lab
from tests.lab.conftest import register


def _wire(lab: Lab, name: str) -> int:
    return sum(lab.ip_bytes(name).values())


def _kernel(d, cid: int) -> int:
    """The counter rules of the client's chains (up + down): what our table counted for it."""
    total = 0
    for chain in (f"up{cid}", f"down{cid}"):
        for o in json.loads(d.nft("-j", "list", "chain", "inet", "hotspot", chain))["nftables"]:
            total += sum(e["counter"]["bytes"] for e in o.get("rule", {}).get("expr", ()) if "counter" in e)
    return total


def _db(d, where: str = "run") -> sqlite3.Connection:
    path = Path(d.config.run_dir if where == "run" else d.config.state_dir) / "hotspot.db"
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _stored(d, mac: str, where: str = "run") -> dict:
    """A client's row, its hours and the plan's figures as the database has them (no kernel reading)."""
    db = _db(d, where)
    try:
        cid, up, down, seen_up, seen_down = db.execute(
            "SELECT id, period_up, period_down, seen_up, seen_down FROM clients WHERE mac = ?",
            (mac,)).fetchone()
        (hours,) = db.execute("SELECT COALESCE(SUM(up + down), 0) FROM usage WHERE client = ?",
                              (cid,)).fetchone()
        meta = dict(db.execute("SELECT key, value FROM meta"))
    finally:
        db.close()
    return {"id": cid, "total": up + down, "seen": seen_up + seen_down, "hours": hours,
            "plan_used": int(meta.get("plan_used", 0)),
            "router": int(meta.get("router_up", 0)) + int(meta.get("router_down", 0)),
            "unregistered": int(meta.get("unregistered", 0))}


class Traffic:
    """iperf3 runs back to back from a client while a test does its damage: call check() now and then."""

    def __init__(self, lab: Lab, client: str, seconds: int = 3, **kw) -> None:
        self.lab, self.client, self.kw = lab, client, {"seconds": seconds, "reverse": True, **kw}
        self.runs = 0
        self.run = self._start()

    def _start(self):
        self.runs += 1
        return self.lab.iperf_start(self.client, **self.kw)

    def check(self) -> None:
        if self.run.client.poll() is not None:
            self.run.wait()
            self.run = self._start()

    def stop(self) -> None:
        self.run.wait()


# -- hotspotd killed at random moments of its poll --------------------------------------------------

KILLS = 100


def test_kill9_at_100_moments_inside_the_poll_loses_and_doubles_nothing(lab, start_hotspotd):
    """Every kill lands inside a poll (the daemon is stopped first and checked not to be waiting
    between two), at a random point of it; each restart picks the running table up."""
    d = start_hotspotd(poll_interval=0.2, commit_interval=10, dns_snoop=False)
    register(lab, d, "c1")
    mac = lab.clients["c1"].mac
    d.ctl("throttle", mac, "40mbit")  # a steady flow that leaves the two cores room for 100 restarts
    d.wait_polls()
    before, wire0 = _stored(d, mac), _wire(lab, "c1")
    kernel0 = _kernel(d, before["id"])
    rng = random.Random()
    seed = rng.randrange(2**32)
    rng.seed(seed)
    traffic = Traffic(lab, "c1")
    started, restarts, doing = time.monotonic(), [], {}
    for _ in range(KILLS):
        where = d.kill9_in_poll(rng)
        doing[where] = doing.get(where, 0) + 1
        traffic.check()
        t = time.monotonic()
        d.start()
        restarts.append(time.monotonic() - t)
    took = time.monotonic() - started
    traffic.stop()
    d.wait_polls(3)

    after, wire = _stored(d, mac), _wire(lab, "c1") - wire0
    counted = after["total"] - before["total"]
    kernel = _kernel(d, after["id"]) - kernel0
    print(f"\n{KILLS} kills in {took:.0f} s (seed {seed}); restart to polling: mean "
          f"{statistics.mean(restarts):.2f} s, max {max(restarts):.2f} s; main thread at the kill: {doing}; "
          f"{traffic.runs} iperf3 runs; counted {counted} B, kernel {kernel} B, wire {wire} B "
          f"({(counted - wire) / wire:+.4%})")
    assert wire > 100_000_000
    assert counted == kernel, "bytes lost or counted twice between the kernel and the database"
    assert after["seen"] == _kernel(d, after["id"])  # the last poll's reading is the kernel's
    assert after["hours"] - before["hours"] == counted  # every byte in exactly one hour
    billed = (after["plan_used"] - before["plan_used"]) - (after["router"] - before["router"]) \
        - (after["unregistered"] - before["unregistered"])
    assert billed == counted, "the plan's bytes differ from its clients'"
    assert abs(counted - wire) <= 0.005 * wire, (counted, wire)
    assert d.client(mac)["bytes_total"] == after["total"]
