"""`make demo`: a newcomer's first look at hotspot.

Builds a lab (a travel router, an "internet" and three DHCP clients in network namespaces), starts the real
hotspotd in the router, caps the phone and throttles the laptop with the real hotspotctl, drives iperf3
traffic from all three clients and shows `hotspotctl top` until Ctrl-C (or --seconds N). Everything is torn
down at exit; only namespaces this process creates are touched.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from hotspot.plan.model import Threshold
from lab import Lab, cleanup_stale
from lab.forward import Forward
from lab.hotspotd import Hotspotd
from lab.luci import PORT as LUCI_HTTP
from lab.luci import Login, LuciRouter, pieces

CLIENTS = ("phone", "laptop", "tablet")
POLICY = {"phone": ("cap", "50MB"), "laptop": ("throttle", "20mbit")}  # tablet: unlimited
ADMIN_PASSWORD = "hotspot-demo"
# Browser on the host -> a client's namespace -> the portal: each port shows that client's own page.
PORTS = {"phone": 8080, "laptop": 8081, "tablet": 8082}
LUCI_PORT = 8088  # the router's LuCI, from the laptop
WHAT = {"phone": "capped at 50 MB: it will hit the cap and be cut off (its transfers then stall)",
        "laptop": "throttled to 20 mbit/s by the kernel", "tablet": "unlimited (iperf3 sends ~200 mbit/s)"}
# What each client does, round and round: iperf3 downloads (reverse) and uploads, IPv4 and IPv6, TCP and UDP.
TRAFFIC = {
    "phone": [dict(seconds=5, reverse=True, bitrate="80M"), dict(seconds=3, bitrate="40M"),
              dict(seconds=5, reverse=True, ipv6=True, bitrate="80M")],
    "laptop": [dict(seconds=8, reverse=True, parallel=2), dict(seconds=4),
               dict(seconds=6, reverse=True, ipv6=True)],
    "tablet": [dict(seconds=6, reverse=True, bitrate="200M"), dict(seconds=4, ipv6=True, bitrate="50M"),
               dict(seconds=5, reverse=True, udp=True, bitrate="30M")],
}


class Traffic:
    """One daemon thread per client running iperf3 tests back to back until close()."""

    def __init__(self, lab: Lab):
        self.lab, self.stop, self.lock, self.runs = lab, threading.Event(), threading.Lock(), {}
        self.threads = [threading.Thread(target=self._loop, args=(name,), name=f"traffic-{name}", daemon=True)
                        for name in TRAFFIC]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def _loop(self, name: str) -> None:
        for opts in itertools.cycle(TRAFFIC[name]):
            try:
                with self.lock:  # Lab.iperf_start picks server ports without a lock of its own
                    if self.stop.is_set():
                        return
                    self.runs[name] = run = self.lab.iperf_start(name, timeout=opts["seconds"] + 5, **opts)
                run.wait()
            except Exception:  # capped: iperf3 cannot connect or stalls until its timeout; try again
                self.stop.wait(1)

    def close(self) -> None:
        self.stop.set()
        with self.lock:
            procs = [p for run in self.runs.values() for p in (run.client, run.server)]
        for p in procs:
            if p.poll() is None:
                p.kill()
        for t in self.threads:
            t.join(10)


def banner(lab: Lab, d: Hotspotd, forwards: dict[str, Forward] | None = None) -> str:
    ctl = Path(sys.executable).parent / "hotspotctl"
    ctl = f"ip netns exec {lab.router} {ctl if ctl.exists() else sys.executable + ' -m hotspot.cli'}"
    ctl += f" -c {d.config_path}"
    phone = lab.clients["phone"].mac
    rows = [f"  {n:<7} {lab.clients[n].ns:<16} {lab.clients[n].mac}  {WHAT[n]}" for n in CLIENTS]
    return "\n".join([
        "hotspot demo: a travel router in network namespaces; the real hotspotd counts every client's bytes",
        f"in the kernel (nftables) and enforces caps and throttles there. Router {lab.router}, uplink to "
        f"{lab.internet}.",
        *rows,
        f"  config {d.config_path}",
        f"  db     {Path(d.config.run_dir) / 'hotspot.db'}   log {d.log_path}",
        "The SIM's plan is 3 GB: from 80 % all but the laptop (the owner's) share 5 mbit/s, at 100 % "
        "they stop.",
        "Try in another terminal (as root); the second command gives the capped phone 20 MB more:",
        f"  {ctl} clients",
        f"  {ctl} topup {phone} 20MB",
        f"  {ctl} plan            # the plan: used, left, forecast, the guard; 'plan topup 1GB' adds",
        f"  {ctl} history plan --by hour   # what the pages' calendar, trend and heatmap draw",
        *web(forwards or {}),
        "Ctrl-C stops the demo and removes every namespace and process it made.",
        "",
    ])


def web(forwards: dict[str, Forward]) -> list[str]:
    if not forwards:
        return []
    return [
        "Open in a browser on this machine (each port reaches the portal from that client):",
        *[f"  {name + ' page':<12} {f.url}/" for name, f in forwards.items() if name in PORTS],
        f"  admin UI     {forwards['laptop'].url}/admin   password: {ADMIN_PASSWORD}",
        f"  LuCI         {forwards['luci'].url}/cgi-bin/luci/admin/services/hotspot   user root, password "
        f"{ADMIN_PASSWORD}"
        if "luci" in forwards else
        "  LuCI         not served: OpenWrt's ubusd, rpcd and uhttpd are not built here (docs/luci.md)",
    ]


@contextlib.contextmanager
def pinned(text: str):
    """Print text at the top of a terminal and keep it there while `hotspotctl top` redraws below it
    (a scroll region, with origin mode so top's cursor-home lands under the text)."""
    cols, rows = shutil.get_terminal_size()
    height = sum(max(1, math.ceil(len(line) / cols)) for line in text.split("\n"))
    if not sys.stdout.isatty() or rows < height + 8:
        print(text, flush=True)
        yield
        return
    sys.stdout.write(f"\x1b[H\x1b[2J{text}\x1b[{height + 1};{rows}r\x1b[?6h")
    sys.stdout.flush()
    try:
        yield
    finally:
        sys.stdout.write(f"\x1b[?6l\x1b[r\x1b[{rows};1H\n")
        sys.stdout.flush()


def watch(lab: Lab, d: Hotspotd, stopping: threading.Event, seconds: float | None) -> None:
    """Run the real `hotspotctl top` on this terminal until Ctrl-C (which it gets too) or `seconds`."""
    top = lab.popen(lab.router, sys.executable, "-m", "hotspot.cli", "-c", str(d.config_path), "top",
                    env=d.env())
    deadline = time.monotonic() + seconds if seconds else math.inf
    while top.poll() is None and not stopping.is_set() and time.monotonic() < deadline:
        stopping.wait(0.2)
    if top.poll() is None:
        top.send_signal(signal.SIGINT)
        try:
            top.wait(5)
        except subprocess.TimeoutExpired:
            top.kill()
            top.wait()


def demo(lab: Lab, seconds: float | None) -> None:
    # The SIM's plan: 3 GB; from 80 % every device but the owner's laptop shares 5 mbit/s (about a
    # minute and a half into the demo, at the tablet's pace), at 100 % they are blocked.
    # With OpenWrt's pieces built (docs/luci.md), the router serves the real LuCI with the app in it.
    host = pieces()
    luci = LuciRouter(lab, host, [Login("root", ADMIN_PASSWORD, read=("*",), write=("*",))]) if host else None
    d = Hotspotd(lab, poll_interval=1, plan_quota=3 * 10**9, plan_throttle_at=Threshold(percent=80.0),
                 plan_throttle_rate=5_000_000, plan_block_at=Threshold(percent=100.0),
                 plan_exempt=(lab.clients["laptop"].mac,), ubus_socket=str(luci.socket) if luci else None)
    if luci:
        luci.adopt(d)
        luci.start()
    d.start()
    macs = {name: lab.clients[name].mac for name in CLIENTS}
    for mac in macs.values():
        d.wait_client(mac, timeout=15)
    for name, (command, value) in POLICY.items():
        d.ctl(command, macs[name], value)
    d.ctl("passwd", input=ADMIN_PASSWORD + "\n")
    forwards = {}
    targets = {name: (port, d.config.portal_port) for name, port in PORTS.items()}
    if luci:
        targets["luci"] = (LUCI_PORT, LUCI_HTTP)
    for name, (port, target) in targets.items():
        ns = lab.clients["laptop" if name == "luci" else name].ns
        try:
            forwards[name] = Forward(ns, port, lab.router4, target)
        except OSError:  # the port is taken on this machine: any free one will do
            forwards[name] = Forward(ns, 0, lab.router4, target)
    traffic = Traffic(lab)
    stopping = threading.Event()  # from here on Ctrl-C (which also stops `top`) only asks us to wrap up
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    try:
        traffic.start()
        with pinned(banner(lab, d, forwards)):
            if not stopping.is_set():
                watch(lab, d, stopping, seconds)
    finally:
        print("\nstopping traffic and hotspotd ...", flush=True)
        traffic.close()
        for f in forwards.values():
            f.close()
        if luci:
            luci.close()
        final = d.ctl("clients", check=False)
        print("Final usage (hotspotctl clients):\n" + (final.stdout or final.stderr), end="", flush=True)
        try:
            d.stop()  # SIGTERM: hotspotd commits usage and exits
        except subprocess.TimeoutExpired:
            d.proc.kill()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lab.demo", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, help="stop after N seconds of traffic (default: until Ctrl-C)")
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        print("the demo makes network namespaces and needs root: sudo make demo", file=sys.stderr)
        return 1
    cleanup_stale()
    print("Building the lab (router, internet, phone, laptop, tablet) and starting hotspotd ...", flush=True)
    try:
        with Lab(clients=CLIENTS, hostnames={name: name for name in CLIENTS}) as lab:
            demo(lab, args.seconds)
    except KeyboardInterrupt:
        print("\ninterrupted during setup; everything is torn down. Bye!")
        return 130
    print("Lab torn down: no namespaces or processes left behind. Bye!")
    return 0


if __name__ == "__main__":
    sys.exit(main())
