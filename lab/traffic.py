"""Traffic between lab clients and the internet (iperf3, curl, ping) and what crossed: each client's
meter (`table inet labmeter`, the truth hotspot's counts are tested against) and its link's counters."""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from typing import Any

from lab.processes import Client, CommandError, Processes, tcp_listening
from lab.topology import SERVER4, SERVER6


class IperfRun:
    """One iperf3 test in flight (see Lab.iperf_start); wait() returns iperf3's parsed -J result."""

    def __init__(self, server: subprocess.Popen, client: subprocess.Popen, timeout: float):
        # A deadline from the start, not a timeout from wait(): tests start runs together and wait
        # for each in turn, and a run a cap cut off hangs until its deadline.
        self.server, self.client, self.deadline = server, client, time.monotonic() + timeout

    def wait(self) -> dict:
        try:
            out, err = self.client.communicate(timeout=max(0.0, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.client.kill()
            self.server.kill()
            raise
        try:
            self.server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.server.kill()
        try:
            result = json.loads(out)
        except ValueError:
            raise CommandError(self.client.returncode, self.client.args, out, err) from None
        if self.client.returncode or "error" in result:
            raise CommandError(self.client.returncode, self.client.args, out, result.get("error") or err)
        return result


class Traffic(Processes):
    """Sends traffic from clients (or the router) to the internet's servers and reads what crossed."""

    router: str
    internet: str
    _iperf_ports: itertools.count  # next() is atomic: safe from several threads

    def iperf_start(self, client: str | Client, *, seconds: int | None = None, bytes: int | None = None,
                    reverse: bool = False, ipv6: bool = False, udp: bool = False,
                    bitrate: int | str | None = None, length: int | str | None = None, parallel: int = 1,
                    timeout: float | None = None, address: str | None = None) -> IperfRun:
        """Start an iperf3 test from a client (or the router: `client` is lab.router) to a fresh one-off
        server in the internet ns (not waiting); `address`: one of the internet ns's other addresses."""
        ns = self.router if client == self.router else self.client(client).ns
        if seconds is not None and (int(seconds) != seconds or seconds < 1):
            raise ValueError(f"iperf3 takes whole seconds (>= 1), not {seconds!r}")  # -t 0.5 means forever
        port = next(self._iperf_ports)
        server = self.popen(self.internet, "iperf3", "-s", "-1", "-p", port, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.wait_for(lambda: server.poll() is not None or tcp_listening(server.pid, "iperf3", port), 10,
                      f"iperf3 server on port {port}", interval=0.01)
        if server.poll() is not None:
            raise RuntimeError(f"iperf3 server on port {port} exited with {server.returncode}")
        argv = ["iperf3", "-J", "-c", address or (SERVER6 if ipv6 else SERVER4), "-p", port, "-P", parallel]
        argv += ["-n", bytes] if bytes is not None else ["-t", seconds if seconds is not None else 2]
        argv += ["-R"] * reverse + ["-u"] * udp
        argv += ["-b", bitrate] if bitrate is not None else []
        argv += ["-l", length] if length is not None else []
        proc = self.popen(ns, *argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
        if timeout is None:
            timeout = (seconds or 2) + 30 if bytes is None else 300
        return IperfRun(server, proc, timeout)

    def iperf(self, client: str | Client, **kw: Any) -> dict:
        """Run iperf3 (see iperf_start for the options) and return its parsed -J JSON."""
        return self.iperf_start(client, **kw).wait()

    def curl(self, client: str | Client, url: str, *args: str, check: bool = True,
             timeout: float = 10) -> subprocess.CompletedProcess:
        """curl -sS url in the client's namespace (DNS is the router's dnsmasq: internet.lab resolves)."""
        return self.run(client, "curl", "-sS", "--max-time", timeout, *args, url, check=check,
                        timeout=timeout + 5)

    def ping(self, client: str | Client, address: str, count: int = 1, timeout: float = 2) -> bool:
        p = self.run(client, "ping", "-n", "-q", "-c", count, "-W", timeout, address, check=False,
                     timeout=count * timeout + 5)
        return p.returncode == 0

    def ip_bytes(self, client: str | Client) -> dict:
        """IP-layer bytes (header + payload) the client exchanged with server4/server6: rx4 tx4 rx6 tx6.

        Counted by `table inet labmeter` in the client's input and output hooks, so per skb: a TCP GSO
        super-packet (up to 64 KB) counts one IP+TCP header. With the default offload=True veths pass such
        skbs on whole, so the router's forward hook sees exactly the same skbs and lengths; with
        offload=False every skb is one MTU-sized packet, as on a wire."""
        return {k: v["bytes"] for k, v in sorted(self._meter(client).items())}

    def ip_packets(self, client: str | Client) -> dict:
        """Like ip_bytes, in packets (as the kernel saw them, i.e. GSO/GRO super-packets count once)."""
        return {k: v["packets"] for k, v in sorted(self._meter(client).items())}

    def _meter(self, client: str | Client) -> dict:
        out = self.run(self.client(client).ns, "nft", "-j", "list", "counters", "table", "inet", "labmeter")
        objects = json.loads(out.stdout)["nftables"]
        return {o["counter"]["name"]: o["counter"] for o in objects if "counter" in o}

    def link_stats(self, client: str | Client) -> dict:
        """Bytes and packets on the client's eth0: {'rx_bytes', 'rx_packets', 'tx_bytes', 'tx_packets'}."""
        c = self.client(client)
        s = json.loads(self.run(c.ns, "ip", "-j", "-s", "link", "show", "dev", c.dev).stdout)[0]["stats64"]
        return {f"{d}_{k}": s[d][k] for d in ("rx", "tx") for k in ("bytes", "packets")}
