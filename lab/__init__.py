"""A lab router with clients in network namespaces, for tests, the demo and benchmarks.

Lab is the one object tests use; its parts, by what they do:

    topology.py   namespaces, links, the bridge, addresses and routes, NAT, the clients' meters (the picture)
    dhcp.py       the router's dnsmasq and the clients' udhcpc: addresses, leases, DHCP options, SLAAC;
                  dhclient -6 for DHCPv6 options, IPv6-only clients, the RA as a client reads it
    traffic.py    iperf3, curl and ping, and what crossed (the meters, the links' counters)
    processes.py  running things in the namespaces, owning them, removing what dead labs left
    hotspotd.py   the real hotspotd and hotspotctl in the router;  service.py  the house, one call at a time
    forward.py    a localhost port into a client's namespace;  demo.py  `make demo`
    prometheus.py Debian's Prometheus on loopback scraping lab routers (through forward.py's ports)
"""

from __future__ import annotations

import atexit
import itertools
import os
import re
import secrets
import sys
from typing import Mapping, Sequence

from lab.dhcp import Dhcp
from lab.processes import OWNERS_DIR, Client, CommandError, cleanup_stale
from lab.topology import (
    FREE_DEVICE,
    LAN_DEVICE,
    PORTAL_NAME,
    ROUTER4,
    ROUTER6,
    ROUTER_MAC,
    SERVER4,
    SERVER6,
    WAN_DEVICE,
    Topology,
)
from lab.traffic import IperfRun, Traffic

__all__ = ["FREE_DEVICE", "LAN_DEVICE", "OWNERS_DIR", "PORTAL_NAME", "ROUTER4", "ROUTER6", "ROUTER_MAC",
           "SERVER4", "SERVER6", "WAN_DEVICE", "Client", "CommandError", "IperfRun", "Lab", "cleanup_stale",
           "warm_up"]

_CLIENT_NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,11}$")


class Lab(Topology, Dhcp, Traffic):
    """Router, "internet" and clients in network namespaces. Use as a context manager; exit tears down."""

    def __init__(
        self,
        clients: Sequence[str] = ("c1",),
        *,
        dhcp: bool = True,
        static: Sequence[str] = (),
        hostnames: Mapping[str, str] | None = None,
        ipv6: bool = True,
        lease_time: str = "1h",
        offload: bool = True,
        captive_url: str | None = None,
        free_uplink: bool = False,
        dnsmasq_args: Sequence[str] = (),
    ):
        """`captive_url`: the RFC 8908 API URL dnsmasq hands out (DHCP option 114, DHCPv6 option 103).
        `free_uplink`: a second uplink, wan1, to the same internet (use_uplink() moves the default
        routes between wan0 and wan1). `dnsmasq_args`: more options for the router's dnsmasq (names
        mapped with --address, a --conf-dir)."""
        self.name = "hs" + secrets.token_hex(3)
        self.router = f"{self.name}-router"
        self.internet = f"{self.name}-inet"
        self.ipv6 = ipv6
        self.lease_time = lease_time
        self.offload = offload
        self.captive_url = captive_url
        self.free_uplink = free_uplink
        self.dnsmasq_args = list(dnsmasq_args)
        self.dir = ""
        self.leases_file = ""
        self.clients: dict[str, Client] = {}
        self.dnsmasq = None
        self._procs = []
        self._namespaces = []
        self._ports = self._statics = 0
        self._iperf_ports = itertools.count(5201)
        self._started = self._closed = False
        hostnames = dict(hostnames or {})
        for c in clients:
            self.add_client(c, dhcp=dhcp, hostname=hostnames.get(c))
        for c in static:
            self.add_client(c, dhcp=False, hostname=hostnames.get(c))

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> Lab:
        """Build the namespaces, start dnsmasq, add the clients and wait until they are configured."""
        if self._started:
            return self
        self._started = True
        atexit.register(self.close)
        try:
            self._claim()
            self._build()
            self._start_dhcp()
            for c in self.clients.values():
                self._plug(c)
            self._wait_configured(list(self.clients.values()))
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Tear everything down: processes, namespaces (and so their veths), files. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        self._release()

    # ---- clients ---------------------------------------------------------------------------------------

    def add_client(self, name: str, *, dhcp: bool = True, hostname: str | None = None,
                   mac: str | None = None, wait: bool = True) -> Client:
        """Add a client (DHCP or static). After start() it is plugged in at once and, with wait, configured
        (has its addresses) on return; before start() it is plugged in by start()."""
        if not _CLIENT_NAME_RE.match(name) or name in ("router", "inet") or name in self.clients:
            raise ValueError(f"bad or duplicate client name {name!r} (want [a-z][a-z0-9]{{0,11}})")
        self._ports += 1
        mac = (mac or "02:" + ":".join(f"{b:02x}" for b in os.urandom(5))).lower()
        if hostname is None and dhcp:
            hostname = name
        c = Client(name, f"{self.name}-{name}", mac, f"lan-{self._ports}", hostname, dhcp)
        if not dhcp:
            self._statics += 1
            c.ipv4 = f"10.77.0.{49 + self._statics}"
            c.ipv6 = f"2001:db8:77::{49 + self._statics}" if self.ipv6 else None
        self.clients[name] = c
        if self._started:
            self._plug(c)
            if wait:
                self._wait_configured([c])
        return c

    def _plug(self, c: Client) -> None:
        """Connect the client to br-lan and configure it, or start its DHCP client."""
        self._connect(c)
        if c.dhcp:
            self._start_udhcpc(c)


def warm_up() -> None:
    """Pay every first use once, before any test's timeouts run: kernel modules (veth, bridge,
    conntrack, each nf_tables expression of our table, HTB), dnsmasq, udhcpc, iperf3. On a fresh
    machine these can take seconds the first time."""
    with Lab(clients=("c1",)) as lab:
        c1 = lab.clients["c1"].mac
        build = (f"from hotspot.kernel.nft import Nft; from hotspot.kernel.rules import ClientElements; "
                 f"Nft().build([{lab.lan_device!r}], "
                 f"[{lab.wan_device!r}], [ClientElements(2, {c1!r}, quota=10**9, shape='1:4')])")
        lab.run(lab.router, sys.executable, "-c", build)
        lab.run(lab.router, "tc", "qdisc", "replace", "dev", lab.lan_device, "root", "handle", "1:", "htb")
        lab.iperf("c1", bytes=100_000, reverse=True, ipv6=True)
        lab.run(lab.router, "nft", "flush", "ruleset")
