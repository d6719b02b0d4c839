"""A lab router with clients in network namespaces, for tests, the demo and benchmarks.

Topology (every namespace name starts with ``lab.name``, e.g. ``hs1a2b3c``)::

    client ns (eth0) ──veth── lan-N ┐
    client ns (eth0) ──veth── lan-M ┤ br-lan 10.77.0.1/24, 2001:db8:77::1/64     router ns
                                    └ wan0 100.64.0.1/30, 2001:db8:ff::1/64 ──veth── eth0  internet ns
                                                                         lo: 203.0.113.10, 2001:db8:ffff::10

The router runs a real dnsmasq (DHCPv4, stateless RA for SLAAC, DNS); DHCP clients run busybox udhcpc (what
OpenWrt itself uses; unlike dhclient it has no AppArmor profile that forbids our scripts). IPv4 leaves the
router masqueraded by the lab's own ``table ip lab_nat`` (fw4's part); IPv6 is routed. No namespace has a
link to the host's network: all traffic stays between the namespaces a lab creates.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

__all__ = ["Client", "CommandError", "IperfRun", "Lab", "cleanup_stale"]

LAN_DEVICE = "br-lan"
ROUTER_MAC = "02:00:5e:77:00:01"
WAN_DEVICE = "wan0"
FREE_DEVICE = "wan1"  # a second uplink (free_uplink=True): Ethernet or a hotel's Wi-Fi, not metered
ROUTER4, ROUTER6 = "10.77.0.1", "2001:db8:77::1"
SERVER4, SERVER6 = "203.0.113.10", "2001:db8:ffff::10"
OWNERS_DIR = "/run/hotspot-lab"  # <lab>.json: the pid that owns a lab's namespaces (see cleanup_stale)
NETNS_DIR = "/run/netns"
ETC_NETNS = "/etc/netns"  # `ip netns exec NS` bind-mounts /etc/netns/NS/resolv.conf over /etc/resolv.conf
PORTAL_NAME = "portal.lab"  # the router's name for its portal, in the lab's DNS
_LAB_RE = re.compile(r"^(hs[0-9a-f]{6})-")
_CLIENT_NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,11}$")

# udhcpc event script: configures the client's own interface only; never touches /etc/resolv.conf.
_UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
deconfig)
    ip -4 addr flush dev "$interface"; ip link set dev "$interface" up; rm -f "$LAB_STATE" ;;
bound|renew)
    [ "$(cat "$LAB_STATE" 2>/dev/null)" = "$ip" ] || ip -4 addr flush dev "$interface"
    ip -4 addr replace "$ip/${mask:-24}" ${broadcast:+broadcast "$broadcast"} dev "$interface"
    for r in $router; do ip -4 route replace default via "$r" dev "$interface"; break; done
    echo "$ip" > "$LAB_STATE.tmp" && mv -f "$LAB_STATE.tmp" "$LAB_STATE"
    printf %s "$opt114" > "$LAB_STATE.opt114"
    printf %s "$opt43" > "$LAB_STATE.opt43"
    echo "$1" > "$LAB_STATE.event" ;;
esac
exit 0
"""

_METER_RULES = f"""
table inet labmeter {{
    counter rx4 {{}}
    counter tx4 {{}}
    counter rx6 {{}}
    counter tx6 {{}}
    chain input {{
        type filter hook input priority -300; policy accept;
        ip saddr {SERVER4} counter name "rx4"
        ip6 saddr {SERVER6} counter name "rx6"
    }}
    chain output {{
        type filter hook output priority -300; policy accept;
        ip daddr {SERVER4} counter name "tx4"
        ip6 daddr {SERVER6} counter name "tx6"
    }}
}}
"""

_NAT_RULES = f"""
table ip lab_nat {{
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        oifname {{ "{WAN_DEVICE}", "{FREE_DEVICE}" }} masquerade
    }}
}}
"""


class CommandError(subprocess.CalledProcessError):
    """A command in a namespace failed; str() includes its stderr."""

    def __str__(self) -> str:
        cmd = " ".join(self.cmd) if isinstance(self.cmd, (list, tuple)) else str(self.cmd)
        err = (self.stderr or self.stdout or "").strip()
        return f"command failed (exit {self.returncode}): {cmd}" + (f"\n{err}" if err else "")


@dataclass
class Client:
    name: str
    ns: str
    mac: str
    port: str  # the router-side veth (a br-lan port)
    hostname: str | None
    dhcp: bool
    ipv4: str | None = None
    ipv6: str | None = None  # global SLAAC or static address
    dev: str = "eth0"
    dhcp_process: subprocess.Popen | None = field(default=None, repr=False)


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


class Lab:
    """Router, "internet" and clients in network namespaces. Use as a context manager; exit tears down."""

    lan_device = LAN_DEVICE
    wan_device = WAN_DEVICE
    router4, router6 = ROUTER4, ROUTER6
    server4, server6 = SERVER4, SERVER6
    wan4, wan6 = "100.64.0.1", "2001:db8:ff::1"  # router side; the internet side is .2 / ::2

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
        self.dnsmasq: subprocess.Popen | None = None
        self._procs: list[subprocess.Popen] = []
        self._namespaces: list[str] = []
        self._ports = self._statics = 0
        self._iperf_ports = itertools.count(5201)  # next() is atomic: safe from several threads
        self._started = self._closed = False
        hostnames = dict(hostnames or {})
        for c in clients:
            self.add_client(c, dhcp=dhcp, hostname=hostnames.get(c))
        for c in static:
            self.add_client(c, dhcp=False, hostname=hostnames.get(c))

    # ---- lifecycle -------------------------------------------------------------------------------------

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
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        os.makedirs(OWNERS_DIR, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix=f"{self.name}-")
        os.chmod(self.dir, 0o711)  # the portal's unprivileged user passes through to hotspotd's socket
        self.leases_file = os.path.join(self.dir, "dnsmasq.leases")
        # Written (atomically) before any namespace exists, so cleanup_stale() in another process never
        # mistakes a live lab for litter.
        owner = os.path.join(OWNERS_DIR, f"{self.name}.json")
        with open(owner + ".tmp", "w") as f:
            json.dump({"pid": os.getpid(), "start": _start_time(os.getpid()), "dir": self.dir}, f)
        os.replace(owner + ".tmp", owner)
        script = os.path.join(self.dir, "udhcpc.sh")
        with open(script, "w") as f:
            f.write(_UDHCPC_SCRIPT)
        os.chmod(script, 0o755)

        r, i = self.router, self.internet
        self._add_ns(i, "net.ipv4.ip_forward=0", "net.ipv6.conf.all.forwarding=0",
                     "net.ipv6.conf.default.accept_ra=0", "net.ipv6.conf.all.accept_ra=0")
        self._add_ns(r, "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
                     "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
                     "net.ipv6.conf.default.accept_ra=0", "net.ipv6.conf.default.autoconf=0")
        self._ip(r, f"link add {WAN_DEVICE} type veth peer name eth0 netns {i}",
                 # A fixed address, as a router's bridge has: otherwise the bridge takes the lowest MAC
                 # of its ports, a client added later can change it, and every client's ARP entry for
                 # the router is wrong until it goes stale (about 30 s of silence).
                 f"link add {LAN_DEVICE} address {ROUTER_MAC} type bridge",
                 f"link set {LAN_DEVICE} up",
                 f"addr add {ROUTER4}/24 dev {LAN_DEVICE}",
                 f"addr add {self.wan4}/30 dev {WAN_DEVICE}",
                 f"link set {WAN_DEVICE} up", *self._no_gso(WAN_DEVICE))
        # The "internet" answers from its server addresses, not from eth0's: a UDP server bound to the
        # wildcard address (iperf3 -u) would otherwise reply from 100.64.0.2 and the client would drop it.
        self._ip(i, "addr add 100.64.0.2/30 dev eth0", f"addr add {SERVER4}/32 dev lo", "link set eth0 up",
                 f"route replace 100.64.0.0/30 dev eth0 proto kernel scope link src {SERVER4}",
                 *self._no_gso("eth0"))
        self._ip(r, "route add default via 100.64.0.2")
        if self.ipv6:
            self._ip(r, f"addr add {ROUTER6}/64 dev {LAN_DEVICE} nodad",
                     f"addr add {self.wan6}/64 dev {WAN_DEVICE} nodad")
            self._ip(i, "addr add 2001:db8:ff::2/64 dev eth0 nodad", f"addr add {SERVER6}/128 dev lo nodad",
                     f"route replace 2001:db8:ff::/64 dev eth0 proto kernel metric 256 src {SERVER6}",
                     f"route add 2001:db8:77::/64 via {self.wan6} src {SERVER6}")
            self._ip(r, "route add default via 2001:db8:ff::2")
            # Bridge ports (created later) need no IPv6 of their own.
            self.run(r, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1",
                     f"net.ipv6.conf.{WAN_DEVICE}.accept_ra=0", f"net.ipv6.conf.{WAN_DEVICE}.autoconf=0")
        if self.free_uplink:
            self._ip(r, f"link add {FREE_DEVICE} type veth peer name eth1 netns {i}",
                     f"addr add 100.64.1.1/30 dev {FREE_DEVICE}", f"link set {FREE_DEVICE} up",
                     *self._no_gso(FREE_DEVICE))
            self._ip(i, "addr add 100.64.1.2/30 dev eth1", "link set eth1 up",
                     f"route replace 100.64.1.0/30 dev eth1 proto kernel scope link src {SERVER4}",
                     *self._no_gso("eth1"))
            if self.ipv6:
                self.run(r, "sysctl", "-qw", f"net.ipv6.conf.{FREE_DEVICE}.disable_ipv6=0",
                         f"net.ipv6.conf.{FREE_DEVICE}.accept_ra=0")
                self._ip(r, f"addr add 2001:db8:fe::1/64 dev {FREE_DEVICE} nodad")
                self._ip(i, "addr add 2001:db8:fe::2/64 dev eth1 nodad",
                         f"route replace 2001:db8:fe::/64 dev eth1 proto kernel metric 256 src {SERVER6}")
        self.install_nat()
        self._write_resolv_conf(r, f"nameserver {ROUTER4}\n")
        self._start_dnsmasq()
        for c in self.clients.values():
            self._plug(c)
        self._wait_configured(list(self.clients.values()))

    def close(self) -> None:
        """Tear everything down: processes, namespaces (and so their veths), files. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        _stop_processes([p for p in self._procs if p.poll() is None])
        for ns in reversed(self._namespaces):
            _delete_ns(ns)
        if self.dir:
            _unmount_under(self.dir)
            shutil.rmtree(self.dir, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(OWNERS_DIR, f"{self.name}.json"))

    # ---- running things in namespaces ---------------------------------------------------------------

    def ns(self, where: str | Client) -> str:
        """The namespace name for a Client, a client's short name, or a namespace name."""
        if isinstance(where, Client):
            return where.ns
        if where in self.clients:
            return self.clients[where].ns
        return where

    def client(self, c: str | Client) -> Client:
        return c if isinstance(c, Client) else self.clients[c]

    def run(self, ns: str | Client, *argv: str, check: bool = True, timeout: float = 60,
            input: str | None = None) -> subprocess.CompletedProcess:
        """Run argv in a namespace (text mode, output captured); raise CommandError on failure."""
        cmd = ["ip", "netns", "exec", self.ns(ns), *map(str, argv)]
        p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode:
            raise CommandError(p.returncode, cmd, p.stdout, p.stderr)
        return p

    def popen(self, ns: str | Client, *argv: str, **kw: Any) -> subprocess.Popen:
        """Start argv in a namespace; the process is killed at teardown if it is still running."""
        p = subprocess.Popen(["ip", "netns", "exec", self.ns(ns), *map(str, argv)], **kw)
        self._procs.append(p)
        return p

    def nft(self, ns: str | Client, rules: str) -> None:
        self.run(ns, "nft", "-f", "-", input=rules)

    def tmpfs(self, name: str, size: str) -> str:
        """A small RAM disk of its own (`size` as mount takes it: "256k") in the lab's directory, as a
        router's flash or /var/run that can fill up; unmounted at teardown. Returns its path."""
        path = os.path.join(self.dir, name)
        os.makedirs(path)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0711", "tmpfs", path],
                       check=True, capture_output=True)
        return path

    def use_uplink(self, dev: str) -> None:
        """Send the router's and the clients' traffic out of `dev` (wan0 or, with free_uplink, wan1),
        and the internet's replies to the LAN back the same way, as when a travel router switches
        from LTE to a hotel's Wi-Fi."""
        lte = dev == WAN_DEVICE
        four, six = ("100.64.0.2", "2001:db8:ff::2") if lte else ("100.64.1.2", "2001:db8:fe::2")
        back = self.wan6 if dev == WAN_DEVICE else "2001:db8:fe::1"
        self._ip(self.router, f"route replace default via {four} dev {dev}")
        if self.ipv6:
            self._ip(self.router, f"route replace default via {six} dev {dev}")
            self._ip(self.internet, f"route replace 2001:db8:77::/64 via {back} src {SERVER6}")

    def install_nat(self) -> None:
        """(Re)load the router's `table ip lab_nat` masquerade, e.g. after a test ran `nft flush ruleset`."""
        self.nft(self.router, f"table ip lab_nat\ndelete table ip lab_nat\n{_NAT_RULES}")

    @staticmethod
    def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
        """Poll predicate until it returns something truthy (which is returned); TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
            time.sleep(interval)

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
        """Create the client's namespace, connect it to br-lan, configure it or start its DHCP client."""
        sysctls = ["net.ipv4.ip_forward=0", "net.ipv6.conf.all.forwarding=0"]
        if self.ipv6 and c.dhcp:
            sysctls += ["net.ipv6.conf.default.accept_ra=1", "net.ipv6.conf.default.autoconf=1",
                        "net.ipv6.conf.default.router_solicitation_delay=0",
                        "net.ipv6.conf.default.router_solicitation_interval=1"]
        elif self.ipv6:
            sysctls += ["net.ipv6.conf.default.accept_ra=0", "net.ipv6.conf.default.autoconf=0"]
        self._add_ns(c.ns, *sysctls)
        self._ip(self.router, f"link add {c.port} type veth peer name {c.dev} address {c.mac} netns {c.ns}",
                 f"link set {c.port} master {LAN_DEVICE} up", *self._no_gso(c.port))
        cmds = [f"link set {c.dev} up", *self._no_gso(c.dev)]
        if not c.dhcp:
            cmds += [f"addr add {c.ipv4}/24 dev {c.dev}", f"route add default via {ROUTER4}"]
            if c.ipv6:
                cmds += [f"addr add {c.ipv6}/64 dev {c.dev} nodad", f"route add default via {ROUTER6}"]
        self._ip(c.ns, *cmds)
        self.nft(c.ns, _METER_RULES)
        servers = [ROUTER4, ROUTER6] if self.ipv6 else [ROUTER4]
        self._write_resolv_conf(c.ns, "".join(f"nameserver {a}\n" for a in servers))
        if c.dhcp:
            argv = ["busybox", "udhcpc", "-f", "-i", c.dev, "-s", os.path.join(self.dir, "udhcpc.sh"),
                    "-T", "1", "-t", "60", "-A", "1", "-O", "114", "-O", "43"]
            if c.hostname:
                argv += ["-x", f"hostname:{c.hostname}"]
            env = dict(os.environ, LAB_STATE=os.path.join(self.dir, f"dhcp-{c.name}.ip"))
            with open(os.path.join(self.dir, f"udhcpc-{c.name}.log"), "w") as log:
                c.dhcp_process = self.popen(c.ns, *argv, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, env=env)

    def _wait_configured(self, clients: list[Client], timeout: float = 20) -> None:
        todo = [c for c in clients if c.dhcp]

        def done() -> bool:
            for c in list(todo):
                if c.dhcp_process and c.dhcp_process.poll() is not None:
                    raise RuntimeError(f"udhcpc for {c.name} exited:\n{self._log(f'udhcpc-{c.name}.log')}")
                if c.ipv4 is None:
                    with contextlib.suppress(FileNotFoundError), open(
                            os.path.join(self.dir, f"dhcp-{c.name}.ip")) as f:
                        c.ipv4 = f.read().strip() or None
                if c.ipv4 and self.ipv6 and c.ipv6 is None:
                    c.ipv6 = self._slaac_address(c)
                if c.ipv4 and (c.ipv6 or not self.ipv6):
                    todo.remove(c)
            return not todo

        try:
            self.wait_for(done, timeout, "DHCPv4 and SLAAC on " + ", ".join(c.name for c in todo))
        except TimeoutError as e:
            logs = "\n".join(f"--- udhcpc {c.name}:\n{self._log(f'udhcpc-{c.name}.log')}" for c in todo)
            raise TimeoutError(f"{e}\n{logs}\n--- dnsmasq:\n{self._log('dnsmasq.log')}") from None

    def _slaac_address(self, c: Client) -> str | None:
        """The client's global IPv6 address, once it also has the default route from the router's RA."""
        out = self.run(c.ns, "sh", "-c",
                       f"ip -j -6 addr show dev {c.dev} scope global; ip -j -6 route show default")
        addrs, routes = (json.loads(line) for line in out.stdout.splitlines()[:2])
        if not routes:
            return None
        for info in (a for link in addrs for a in link.get("addr_info", ())):
            if info.get("local") and not info.get("tentative") and not info.get("deprecated"):
                return info["local"]
        return None

    def addresses(self, client: str | Client) -> list[str]:
        """The client's current global addresses (v4 and v6), as the kernel has them now."""
        c = self.client(client)
        out = self.run(c.ns, "ip", "-j", "addr", "show", "dev", c.dev, "scope", "global").stdout
        return [a["local"] for link in json.loads(out) for a in link.get("addr_info", ()) if a.get("local")]

    def leases(self) -> list[dict]:
        """dnsmasq's lease file: [{'expiry', 'mac', 'ip', 'hostname' (or None), 'client_id'}]."""
        rows = []
        with contextlib.suppress(FileNotFoundError), open(self.leases_file) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 5 and parts[0] != "duid":
                    rows.append({"expiry": int(parts[0]), "mac": parts[1].lower(), "ip": parts[2],
                                 "hostname": None if parts[3] == "*" else parts[3], "client_id": parts[4]})
        return rows

    # ---- traffic and measurements ----------------------------------------------------------------------

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
        self.wait_for(lambda: server.poll() is not None or _tcp_listening(server.pid, "iperf3", port), 10,
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

    def link_stats(self, client: str | Client) -> dict:
        """Bytes and packets on the client's eth0: {'rx_bytes', 'rx_packets', 'tx_bytes', 'tx_packets'}."""
        c = self.client(client)
        s = json.loads(self.run(c.ns, "ip", "-j", "-s", "link", "show", "dev", c.dev).stdout)[0]["stats64"]
        return {f"{d}_{k}": s[d][k] for d in ("rx", "tx") for k in ("bytes", "packets")}

    def _meter(self, client: str | Client) -> dict:
        out = self.run(self.client(client).ns, "nft", "-j", "list", "counters", "table", "inet", "labmeter")
        objects = json.loads(out.stdout)["nftables"]
        return {o["counter"]["name"]: o["counter"] for o in objects if "counter" in o}

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

    def ping(self, client: str | Client, address: str, count: int = 1, timeout: float = 2) -> bool:
        p = self.run(client, "ping", "-n", "-q", "-c", count, "-W", timeout, address, check=False,
                     timeout=count * timeout + 5)
        return p.returncode == 0

    def dhcp_option(self, client: str | Client, code: int) -> str:
        """The value of a DHCP option the client's udhcpc received and passed to its script (hex, for
        an option it has no name for, is decoded); '' if none."""
        c = self.clients[client] if isinstance(client, str) else client
        try:
            with open(os.path.join(self.dir, f"dhcp-{c.name}.ip.opt{code}")) as f:
                value = f.read()
        except FileNotFoundError:
            return ""
        try:
            return bytes.fromhex(value).decode()
        except ValueError:
            return value

    def renew(self, client: str | Client, timeout: float = 5) -> None:
        """Make the client's udhcpc renew its lease now (SIGUSR1, as at T1) and wait until its script has
        taken the server's answer: the options it records (dhcp_option) are then the server's current ones."""
        c = self.client(client)
        if not c.dhcp or c.dhcp_process is None or c.dhcp_process.poll() is not None:
            raise RuntimeError(f"{c.name} has no running DHCP client")
        event = os.path.join(self.dir, f"dhcp-{c.name}.ip.event")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(event)
        c.dhcp_process.send_signal(signal.SIGUSR1)  # `ip netns exec` exec'd udhcpc: the pid is udhcpc's
        try:
            self.wait_for(lambda: os.path.exists(event), timeout, f"{c.name}'s DHCP renewal")
        except TimeoutError as e:
            raise TimeoutError(f"{e}\n{self._log(f'udhcpc-{c.name}.log')}") from None

    def curl(self, client: str | Client, url: str, *args: str, check: bool = True,
             timeout: float = 10) -> subprocess.CompletedProcess:
        """curl -sS url in the client's namespace (DNS is the router's dnsmasq: internet.lab resolves)."""
        return self.run(client, "curl", "-sS", "--max-time", timeout, *args, url, check=check,
                        timeout=timeout + 5)

    # ---- internals ---------------------------------------------------------------------------------------

    def _add_ns(self, ns: str, *sysctls: str) -> None:
        subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True)
        self._namespaces.append(ns)
        extra = ["net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"]
        if not self.ipv6:
            extra = ["net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"]
        self.run(ns, "sh", "-c", 'sysctl -qw "$@" && ip link set lo up', "-", *extra, *sysctls)

    def _ip(self, ns: str, *commands: str) -> None:
        """Several `ip` commands in one process (ip -batch)."""
        if not commands:
            return
        cmd = ["ip", "-n", ns, "-batch", "-"]
        p = subprocess.run(cmd, input="\n".join(commands) + "\n", capture_output=True, text=True)
        if p.returncode:
            raise CommandError(p.returncode, cmd + list(commands), p.stdout, p.stderr)

    def _no_gso(self, dev: str) -> list[str]:
        """With offload=False, the stack hands dev one MTU-sized packet per skb, so every hook and counter
        sees real packets. (By default TCP builds GSO super-packets of up to 64 KB, and veths pass them on
        unsegmented: every nft hook, in every namespace, then counts one IP header per super-packet.)"""
        return [] if self.offload else [f"link set {dev} gso_max_segs 1"]

    def _write_resolv_conf(self, ns: str, text: str) -> None:
        os.makedirs(os.path.join(ETC_NETNS, ns), exist_ok=True)
        with open(os.path.join(ETC_NETNS, ns, "resolv.conf"), "w") as f:
            f.write(text)

    def _start_dnsmasq(self) -> None:
        d = self.dir
        # DHCP options that may change while dnsmasq runs (the metered hint, hotspot/uplink): dnsmasq
        # re-reads this file on SIGHUP. It exists from the start, so the first read finds it.
        self.dhcp_opts_file, self.dnsmasq_pid_file = f"{d}/dhcp-opts", f"{d}/dnsmasq.pid"
        open(self.dhcp_opts_file, "a").close()
        argv = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", f"--pid-file={d}/dnsmasq.pid",
                f"--log-facility={d}/dnsmasq.log", "--log-dhcp", "--user=root", "--group=root",
                f"--interface={LAN_DEVICE}", "--bind-interfaces", "--except-interface=lo",
                "--no-resolv", "--no-hosts", "--dhcp-authoritative", "--no-ping",
                f"--dhcp-leasefile={self.leases_file}",
                f"--dhcp-range=10.77.0.100,10.77.0.199,255.255.255.0,{self.lease_time}",
                "--domain=lan", "--local=/lan/", f"--address=/internet.lab/{SERVER4}",
                f"--address=/{PORTAL_NAME}/{ROUTER4}", f"--dhcp-optsfile={self.dhcp_opts_file}"]
        if self.captive_url:
            argv += [f"--dhcp-option=114,{self.captive_url}"]
        argv += self.dnsmasq_args
        if self.ipv6:
            argv += [f"--address=/internet.lab/{SERVER6}", f"--address=/{PORTAL_NAME}/{ROUTER6}",
                     "--enable-ra",
                     f"--dhcp-range=::,constructor:{LAN_DEVICE},ra-stateless,{self.lease_time}"]
        with open(os.path.join(d, "dnsmasq.log"), "a") as log:
            self.dnsmasq = self.popen(self.router, *argv, stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.STDOUT)
        try:
            self.wait_for(lambda: self.dnsmasq.poll() is not None or _udp_bound(self.dnsmasq.pid, 67), 10,
                          "dnsmasq", interval=0.01)
        except TimeoutError:
            raise TimeoutError(f"dnsmasq did not start:\n{self._log('dnsmasq.log')}") from None
        if self.dnsmasq.poll() is not None:
            raise RuntimeError(f"dnsmasq exited:\n{self._log('dnsmasq.log')}")

    def restart_dnsmasq(self) -> None:
        """Stop the router's dnsmasq and start it again (it reads nftset options only at start)."""
        _stop_processes([self.dnsmasq])
        self._start_dnsmasq()

    def _log(self, name: str) -> str:
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""


# ---- process and namespace helpers ---------------------------------------------------------------------


def _start_time(pid: int) -> int | None:
    """A process's start time (clock ticks since boot), to tell it from a later process with the same pid."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _proc_lines(pid: int, comm: str, table: str) -> list[list[str]]:
    """Rows of /proc/PID/net/TABLE, i.e. of the namespace PID is in, once PID has exec'd `comm`."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            if f.read().strip() != comm:
                return []  # still `ip netns exec`, not yet in the namespace
        with open(f"/proc/{pid}/net/{table}") as f:
            return [line.split() for line in f.readlines()[1:]]
    except OSError:
        return []


def _tcp_listening(pid: int, comm: str, port: int) -> bool:
    return any(row[1].endswith(f":{port:04X}") and row[3] == "0A"
               for t in ("tcp", "tcp6") for row in _proc_lines(pid, comm, t))


def _udp_bound(pid: int, port: int) -> bool:
    return any(row[1].endswith(f":{port:04X}") for row in _proc_lines(pid, "dnsmasq", "udp"))


def _stop_processes(procs: list[subprocess.Popen], grace: float = 3) -> None:
    for p in procs:
        with contextlib.suppress(ProcessLookupError):
            p.terminate()
    deadline = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _unmount_under(path: str) -> None:
    """Unmount what a lab mounted in its directory (Lab.tmpfs), deepest first."""
    prefix = os.path.realpath(path) + "/"
    with open("/proc/self/mounts") as f:
        points = [line.split()[1] for line in f]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)


def _delete_ns(ns: str) -> None:
    """Kill whatever still runs in ns (untracked processes), delete it and its /etc/netns directory."""
    out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout
    for pid in out.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    subprocess.run(["ip", "netns", "delete", ns], capture_output=True)
    shutil.rmtree(os.path.join(ETC_NETNS, ns), ignore_errors=True)


def _owner_alive(lab: str) -> bool:
    try:
        with open(os.path.join(OWNERS_DIR, f"{lab}.json")) as f:
            owner = json.load(f)
    except (OSError, ValueError):
        return False
    return owner.get("start") is not None and _start_time(owner["pid"]) == owner["start"]


def ensure_user(name: str) -> None:
    """The portal's own system user (hotspotd drops the portal to it), made if this machine lacks it,
    as the OpenWrt package makes it on a router: a fresh Debian has no 'hotspot' user."""
    for _ in range(20):
        try:
            pwd.getpwnam(name)
            return
        except KeyError:
            pass
        p = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                           capture_output=True, text=True)
        if p.returncode not in (0, 9, 10):  # 9: made meanwhile by another run; 10: /etc/passwd busy
            raise RuntimeError(f"cannot create the portal's user {name}: {p.stderr.strip()}")
        time.sleep(0.1 if p.returncode else 0)
    pwd.getpwnam(name)


def warm_up() -> None:
    """Pay every first use once, before any test's timeouts run: kernel modules (veth, bridge,
    conntrack, each nf_tables expression of our table, HTB), dnsmasq, udhcpc, iperf3. On a fresh
    machine these can take seconds the first time."""
    import sys

    with Lab(clients=("c1",)) as lab:
        c1 = lab.clients["c1"].mac
        build = (f"from hotspot.kernel.nft import Nft; from hotspot.kernel.rules import ClientElements; "
                 f"Nft().build([{lab.lan_device!r}], "
                 f"[{lab.wan_device!r}], [ClientElements(2, {c1!r}, quota=10**9, shape='1:4')])")
        lab.run(lab.router, sys.executable, "-c", build)
        lab.run(lab.router, "tc", "qdisc", "replace", "dev", lab.lan_device, "root", "handle", "1:", "htb")
        lab.iperf("c1", bytes=100_000, reverse=True, ipv6=True)
        lab.run(lab.router, "nft", "flush", "ruleset")


def cleanup_stale() -> list[str]:
    """Remove namespaces (and files) left by labs whose process is gone; return the namespaces removed.

    Only names of the lab pattern (hs + 6 hex digits + '-') are considered, and a lab counts as stale only
    when the process recorded in /run/hotspot-lab/<lab>.json no longer exists, so live labs of other
    processes (e.g. a concurrent test run) are left alone.
    """
    removed = []
    names = os.listdir(NETNS_DIR) if os.path.isdir(NETNS_DIR) else []
    names += os.listdir(ETC_NETNS) if os.path.isdir(ETC_NETNS) else []
    for ns in sorted(set(names)):
        m = _LAB_RE.match(ns)
        if m and not _owner_alive(m.group(1)):
            if os.path.exists(os.path.join(NETNS_DIR, ns)):
                removed.append(ns)
            _delete_ns(ns)
    for entry in os.listdir(OWNERS_DIR) if os.path.isdir(OWNERS_DIR) else []:
        lab = entry[: -len(".json")]
        if entry.endswith(".json") and _LAB_RE.match(lab + "-") and not _owner_alive(lab):
            with contextlib.suppress(OSError, ValueError), open(os.path.join(OWNERS_DIR, entry)) as f:
                d = json.load(f).get("dir")
                if d and os.path.basename(d).startswith(f"{lab}-"):
                    _unmount_under(d)
                    shutil.rmtree(d, ignore_errors=True)
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(OWNERS_DIR, entry))
    return removed
