"""The DNS snooper's CPU at 1,000 DNS answers/s, as the real hotspotd runs it in the lab.

A client sends answers (a CNAME and two addresses each, half of them for names of the shipped
categories list, IPv4 and IPv6) to a UDP echo on port 53 of one of the router's LAN addresses (a
stand-in for the router's resolver, the only one whose answers fill the category sets), which
returns them: 1,000 real DNS responses a second leave the router's LAN device towards the client,
while the same bytes come in as queries the kernel filter must drop. The figure is the snooper process's
CPU time (/proc, user + system) over a measured window, as a percentage of one core.

Also reported: scapy's own parse of the same answers next to hotspot.apps.snoop.wire's, the measurement
behind parsing by hand (hotspot/apps/snoop/wire.py).
"""

from __future__ import annotations

import random
import re
import sys
import time
from pathlib import Path

from hotspot.apps.categories import load
from hotspot.apps.snoop import names as dnsnames
from lab import Lab
from lab.hotspotd import Hotspotd
from tests.bench.common import cpu_split, emit, loadavg, log, proc_vm, spread
from tests.lab.conftest import RESOLVER4, router_resolver

GOAL = 6.0  # % of one core
STRETCHES = 5
RATE = 1000  # answers/s
WARMUP, WINDOW = 2.0, 10.0
DISTINCT = 2000  # different answers, so addresses are refreshed as well as added

SENDER = r"""
import socket, sys, time
rate, seconds, server, path = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
payloads = [bytes.fromhex(line) for line in open(path).read().split()]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the echoes are not read
start, n = time.monotonic(), 0
while True:
    due = start + n / rate
    now = time.monotonic()
    if due - start >= seconds:
        break
    if due > now:
        time.sleep(due - now)
    s.sendto(payloads[n % len(payloads)], (server, 53))
    n += 1
print(n, time.monotonic() - start)
"""


def answers(n: int) -> list[bytes]:
    """n DNS responses: a CNAME to a CDN name and two A (or AAAA) records, half for categorised names."""
    from scapy.layers.dns import DNS, DNSQR, DNSRR

    rng = random.Random(1)
    domains = sorted(load().domains)
    out = []
    for i in range(n):
        name = f"h{i}.{rng.choice(domains)}" if i % 2 else f"h{i}.site{i % 97}.example"
        cdn = f"e{i}.cdn{i % 13}.example.net"
        v6 = i % 4 == 3
        ttl = rng.randint(60, 600)
        if v6:
            a, b = (f"2001:db8:{i >> 8:x}:{i & 255:x}::{k}" for k in (1, 2))
        else:
            a, b = (f"10.{100 + (i >> 14)}.{(i >> 6) & 255}.{(i & 63) * 4 + k}" for k in (1, 2))
        rtype = "AAAA" if v6 else "A"
        an = DNSRR(rrname=name, type="CNAME", ttl=ttl, rdata=cdn)
        for addr in (a, b):
            an = an / DNSRR(rrname=cdn, type=rtype, ttl=ttl, rdata=addr)
        out.append(bytes(DNS(id=i & 0xFFFF, qr=1, rd=1, ra=1, qd=DNSQR(qname=name, qtype=rtype), an=an)))
    return out


def parse_costs(payloads: list[bytes]) -> tuple[float, float]:
    """Microseconds per answer: scapy's DNS layer (dissect, read each record) and hotspot.apps.snoop.wire."""
    from scapy.layers.dns import DNS
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    from hotspot.apps.snoop.wire import frame_answers

    frames = [bytes(Ether() / IP(src="203.0.113.10", dst="10.77.0.100") / UDP(sport=53, dport=4000) / p)
              for p in payloads[:500]]
    t = time.process_time()
    for f in frames:
        d = Ether(f)[DNS]
        [(rr.rrname, rr.type, rr.ttl, rr.rdata) for rr in d.an]
    scapy_us = (time.process_time() - t) / len(frames) * 1e6
    t = time.process_time()
    for _ in range(10):
        for f in frames:
            frame_answers(f)
    ours_us = (time.process_time() - t) / len(frames) / 10 * 1e6
    return scapy_us, ours_us


def run_snoop() -> None:
    payloads = answers(DISTINCT)
    scapy_us, ours_us = parse_costs(payloads)
    log(f"parse: scapy {scapy_us:.0f} us/answer, hotspot.apps.snoop.wire {ours_us:.1f} us/answer")
    with Lab(clients=("c1",), ipv6=True) as lab:
        router_resolver(lab)  # answers from the router's own resolver: the ones that fill the sets
        d = Hotspotd(lab).start()
        lab.wait_for(lambda: "dns snooper: watching" in d.log(), 10, "the dns snooper")
        pid = int(re.findall(r"dns snooper started \(pid (\d+)\)", d.log())[-1])
        path = Path(lab.dir) / "answers.hex"
        path.write_text("\n".join(p.hex() for p in payloads))
        seconds = WARMUP + WINDOW + 1
        sender = lab.popen("c1", sys.executable, "-c", SENDER, RATE, seconds, RESOLVER4, path,
                           stdout=-1, text=True)
        time.sleep(WARMUP)
        marks = [(cpu_split(pid), time.monotonic())]
        for _ in range(STRETCHES):  # the whole window's figure, and its spread over equal stretches
            time.sleep(WINDOW / STRETCHES)
            marks.append((cpu_split(pid), time.monotonic()))
        ((u0, s0), t0), ((u1, s1), t1) = marks[0], marks[-1]
        stretches = [100 * (sum(b[0]) - sum(a[0])) / (b[1] - a[1]) for a, b in zip(marks, marks[1:])]
        rss_mb = proc_vm(pid)["VmRSS"] / 1024
        out, _ = sender.communicate(timeout=30)
        sent, took = out.split()
        time.sleep(1)  # the last flush
        user_pct, sys_pct = (u1 - u0) / (t1 - t0) * 100, (s1 - s0) / (t1 - t0) * 100
        pct = user_pct + sys_pct
        now = time.time()
        named = len(dnsnames.names_for(d.config.run_dir, _addresses(payloads), now))
        kernel = sum(len(_elems(d, f"c{v}_any")) for v in (4, 6))
        alive = d.proc.poll() is None and len(re.findall(r"dns snooper started", d.log())) == 1
        d.stop()
    log(f"snooper {pct:.1f} % of a core at {int(sent) / float(took):.0f} answers/s; {named} addresses named, "
        f"{kernel} in the category sets")
    if not alive:
        raise RuntimeError("the dns snooper restarted during the run")
    emit("dns_snoop_cpu_pct", round(pct, 1), "%", goal=GOAL, rate=round(int(sent) / float(took)),
         window_s=WINDOW, spread=spread(stretches, 1), stretch_s=WINDOW / STRETCHES,
         distinct_answers=DISTINCT, addresses_named=named, addresses_in_sets=kernel,
         user_pct=round(user_pct, 1), system_pct=round(sys_pct, 1),
         scapy_parse_us=round(scapy_us), dnswire_parse_us=round(ours_us, 1), rss_mb=round(rss_mb, 1),
         load=loadavg())


def _addresses(payloads: list[bytes]) -> list[str]:
    from hotspot.apps.snoop.wire import answers as parse

    return [a.addr for p in payloads for a in parse(p)]


def _elems(d: Hotspotd, name: str) -> list:
    import json

    out = json.loads(d.nft("-j", "list", "set", "inet", "hotspot", name))
    return next(o["set"] for o in out["nftables"] if "set" in o).get("elem", [])
