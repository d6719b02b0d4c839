"""register_ms: from a new device's link coming up to its registration in the kernel.

hotspotd polls every 5 s here; a kernel notice of a new neighbour on the LAN wakes it, so the device
is registered at its first ARP (or DHCP's), not at the next poll. Each round plugs a new DHCP client
into the lab's bridge (timed from just before its veth is made) and waits for hotspotd's batch that
adds the device to `client_up`, seen through nftables' own notice (NEWSETELEM) by a listener in the
router's namespace, timestamped there. Then the device pings the internet: with registration before
its first forwarded packet, nothing of it is counted as unregistered.
"""

from __future__ import annotations

import subprocess
import sys
import time

from lab import Lab
from lab.hotspotd import Hotspotd
from tests.bench.common import emit, loadavg, log, median

ROUNDS = 8
POLL = 5.0
GOAL_MS = 500

LISTEN = r"""
import socket, struct, time
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
s.bind((0, 0))
s.setsockopt(270, 1, 7)  # NETLINK_ADD_MEMBERSHIP NFNLGRP_NFTABLES
while True:
    d = s.recv(1 << 20)
    t = time.time()
    pos = 0
    while pos + 16 <= len(d):
        ln, kind = struct.unpack_from("=IH", d, pos)
        # NEWSETELEM of the set client_up itself (its name ends in NUL; client_up_mark's notice too
        # holds b"client_up", but no MAC)
        if kind == (10 << 8 | 12) and b"client_up\x00" in d[pos:pos + ln]:
            print(t, d[pos:pos + ln].hex(), flush=True)
        pos += (ln + 3) & ~3
"""


def run_register(rounds: int = ROUNDS) -> None:
    with Lab(clients=("c1",)) as lab:
        d = Hotspotd(lab, poll_interval=POLL).start()
        d.wait_client(lab.clients["c1"].mac)
        listener = lab.popen(lab.router, sys.executable, "-c", LISTEN, stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        ms, early = [], 0
        try:
            for i in range(rounds):
                t0 = time.time()
                c = lab.add_client(f"n{i}", wait=True)
                lab.ping(c.name, lab.server4)
                line = listener.stdout.readline()
                if c.mac.replace(":", "") not in line:
                    raise RuntimeError(f"round {i}: the notice is not {c.mac}'s")
                ms.append((float(line.split()[0]) - t0) * 1000)
                early += c.mac not in d.nft("list", "set", "inet", "hotspot", "unreg_up")
                log(f"register round {i}: {ms[-1]:.0f} ms after the link came up")
        finally:
            d.stop()
        emit("register_ms", round(median(ms), 1), "ms", goal=GOAL_MS, min=round(min(ms), 1),
             max=round(max(ms), 1), runs=[round(x) for x in ms], poll_interval_s=POLL,
             registered_before_first_byte=f"{early}/{rounds}", loadavg=loadavg(),
             note="from just before a new DHCP client's veth is made and plugged into the LAN bridge "
                  "until hotspotd's batch adds it to client_up (nftables' NEWSETELEM notice, timestamped in "
                  "the router's namespace), with hotspotd polling every 5 s; registered_before_first_byte: "
                  "rounds where the device's first ping to the internet made no element of its own in "
                  "unreg_up (it was registered before it)")
