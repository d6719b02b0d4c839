"""The data plan, by the real hotspotd in the lab: how far past the plan's hard ceiling three clients
pulling at line rate get, and how soon an alert point's webhook arrives after the plan crosses it."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from hotspot.plan.model import Threshold
from lab import CommandError, Lab
from lab.hotspotd import Hotspotd
from tests.bench.common import emit, log, pull_until_stopped

CLIENTS = ("c1", "c2", "c3")
ALLOWANCE = 30_000_000  # each run tops the plan up by this much, and pulls it all
RUNS = 3
POINTS = (10, 20, 30, 40, 50, 60, 70, 80, 90)  # the alert points the latency runs cross, one a run
LATENCY_QUOTA = 200_000_000
WEBHOOK_PORT = 18081

RECEIVER = r"""
import sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer
out = open(sys.argv[2], "a", buffering=1)
class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        t = time.time()
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()
        out.write(f"{t}\n")
    def log_message(self, *a):
        pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def _wire(lab: Lab) -> int:
    return sum(sum(lab.ip_bytes(c).values()) for c in CLIENTS)


def _register(lab: Lab, d: Hotspotd) -> None:
    for c in CLIENTS:
        lab.ping(c, lab.server4)
        d.wait_client(lab.clients[c].mac, timeout=10)


def run_overshoot(runs: int = RUNS) -> None:
    """The plan's hard ceiling (plan_stop_at 100 %), then three clients pulling at line rate."""
    overshoots = []
    with Lab(clients=CLIENTS) as lab:
        d = Hotspotd(lab, plan_quota=ALLOWANCE, plan_stop_at=Threshold(percent=100.0)).start()
        try:
            _register(lab, d)
            for i in range(runs):
                if i:
                    d.ctl("plan", "topup", f"{ALLOWANCE}B")
                d.wait_polls(2)
                plan = d.json("plan")
                before, allowance = _wire(lab), plan["allowance"]
                pull_until_stopped(lab, CLIENTS, lambda: _wire(lab), seconds=4, timeout=12)
                delivered = _wire(lab) - before
                d.wait_polls(2)
                after = d.json("plan")
                router = after["router_bytes"] - plan["router_bytes"]
                if plan["used"] + delivered + router < allowance - 256 * 1024:
                    raise RuntimeError(f"run {i + 1}: the clients stopped at {plan['used'] + delivered} "
                                       f"bytes, before the plan's {allowance}: nothing to measure")
                overshoots.append(plan["used"] + delivered + router - allowance)
                log(f"plan run {i + 1}: {plan['used']} used before, {delivered} delivered, router {router}, "
                    f"overshoot {overshoots[-1]} bytes, guard {after['guard']['state']}")
        finally:
            d.stop()
    emit("plan_overshoot_bytes", max(overshoots), "bytes", goal=65536, runs=overshoots, clients=len(CLIENTS),
         note=("plan_stop_at '100%' on the real hotspotd; three clients download at once (iperf3 -R) at line "
               "rate with GSO/GRO on until cut off; overshoot = the plan's bytes before the transfers + the "
               "IP bytes the three clients' interfaces exchanged with the server + the router's own bytes "
               "meanwhile - the allowance; each run after the first tops the plan up first; max over runs"))


def run_alert_latency() -> None:
    """One alert point crossed a run, by a download that crosses it in its last packets; latency = the
    webhook receiver's clock at the POST - the end of the download (the same host clock)."""
    latencies = []
    with Lab(clients=("c1",)) as lab:
        hooks = Path(lab.dir) / "hooks.txt"
        web = lab.popen(lab.router, sys.executable, "-c", RECEIVER, str(WEBHOOK_PORT), str(hooks))
        d = Hotspotd(lab, plan_quota=LATENCY_QUOTA, alert_at=POINTS, alert_clients=False,
                     alert_webhook=f"http://127.0.0.1:{WEBHOOK_PORT}/hook").start()
        try:
            lab.ping("c1", lab.server4)
            d.wait_client(lab.clients["c1"].mac, timeout=10)
            for point in POINTS:
                d.wait_polls(1)
                used = d.json("plan")["used"]
                need = LATENCY_QUOTA * point // 100 - used
                if need <= 0:
                    continue
                seen = len(hooks.read_text().splitlines()) if hooks.exists() else 0
                try:
                    lab.iperf("c1", bytes=need + 200_000, reverse=True)
                except CommandError as e:
                    log(f"iperf3: {e}")
                    continue
                done = time.time()
                got = lab.wait_for(lambda seen=seen: hooks.exists() and hooks.read_text().splitlines()[seen:],
                                   10, f"the {point}% alert's webhook")
                latencies.append((float(got[0]) - done) * 1000)
                log(f"alert at {point}%: webhook {latencies[-1]:.0f} ms after the download ended")
        finally:
            d.stop()
            web.kill()
    poll = d.config.poll_interval
    emit("alert_latency_ms", round(max(latencies)), "ms", goal=round(2 * poll * 1000),
         median=round(sorted(latencies)[len(latencies) // 2]), runs=[round(x) for x in latencies],
         poll_interval_s=poll,
         note=("real hotspotd (poll_interval 0.5 s) and a webhook receiver on the router's loopback; each "
               "run a download crosses the next alert point in its last few hundred kB; latency = the "
               "receiver's clock at the POST - the download's end (crossing happens just before it, so "
               "this is within milliseconds of crossing-to-receipt); max over runs; goal 2 x "
               "poll_interval"))


SWITCHES = 6


def run_sim_switch(switches: int = SWITCHES) -> None:
    """How soon the plan guard in the kernel follows another SIM: ModemManager (the D-Bus mock on a
    private bus) says another ICCID, as it does when another eSIM profile is enabled, and the time runs
    until the kernel's block quota holds that SIM's plan's point."""
    from tests.modem_mock import MAIN_OBJ, SIM, Bus, MockModemManager

    first, other = "8988211000000123456", "89860012345678901238"
    bus = Bus()
    mm = MockModemManager(bus)
    mm.add_modem(0)
    times = []
    try:
        with Lab(clients=("c1",)) as lab:
            d = Hotspotd(lab, plan_quota=100_000_000, plan_block_at=Threshold(bytes=50_000_000))
            d.extra_env = {"DBUS_SYSTEM_BUS_ADDRESS": bus.address, "HOTSPOT_MODEM_INTERVAL": "60"}
            d.start()
            try:
                def block_quota() -> int | None:
                    out = lab.run(lab.router, "nft", "-j", "list", "quota", "inet", "hotspot", "g_block")
                    found = [o["quota"] for o in json.loads(out.stdout)["nftables"] if "quota" in o]
                    return found[0]["bytes"] if found else None

                def switch(iccid: str) -> float:
                    was = block_quota()
                    t0 = time.monotonic()
                    mm.update(f"{MAIN_OBJ}/SIM/0", SIM, SimIdentifier=iccid)
                    lab.wait_for(lambda: block_quota() != was, 30, f"the guard to follow SIM {iccid}")
                    return (time.monotonic() - t0) * 1000

                lab.wait_for(lambda: d.json("plan")["sim"] == first, 20, "the first SIM's plan")
                mm.update(f"{MAIN_OBJ}/SIM/0", SIM, SimIdentifier=other)  # met: the same template's points
                lab.wait_for(lambda: d.json("plan")["sim"] == other, 20, "the other SIM's plan")
                d.ctl("plan", "set", "--sim", other, "--block-at", "2MB")
                d.wait_polls(2)
                for i in range(switches):
                    times.append(switch(first if i % 2 == 0 else other))
                    log(f"sim switch {i + 1}: {times[-1]:.0f} ms")
                    d.wait_polls(2)
                poll = d.config.poll_interval
            finally:
                d.stop()
    finally:
        mm.stop()
        bus.stop()
    spread = sorted(times)
    emit("sim_switch_ms", round(spread[len(spread) // 2], 1), "ms", goal=round(2 * poll * 1000),
         max=round(max(times), 1), runs=[round(t, 1) for t in times], poll_interval=poll,
         note=("the mock ModemManager's SIM object says another ICCID (an eSIM profile switch); time until "
               "the kernel's g_block quota holds the new plan's point, by nft; hotspotd hears ModemManager's "
               "signal, reads the modem and switches plans at its next poll; goal 2 x poll_interval; "
               "the median of the switches, both ways"))
