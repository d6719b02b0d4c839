"""The lab's network: namespaces, links, the bridge, addresses and routes, NAT and the clients' meters.

Topology (every namespace name starts with ``lab.name``, e.g. ``hs1a2b3c``)::

    client ns (eth0) ──veth── lan-N ┐
    client ns (eth0) ──veth── lan-M ┤ br-lan 10.77.0.1/24, 2001:db8:77::1/64     router ns
                                    └ wan0 100.64.0.1/30, 2001:db8:ff::1/64 ──veth── eth0  internet ns
                                                                         lo: 203.0.113.10, 2001:db8:ffff::10

The router runs a real dnsmasq (DHCPv4, stateless RA for SLAAC and stateless DHCPv6, DNS); DHCP clients run
busybox udhcpc (what OpenWrt itself uses; unlike dhclient it has no AppArmor profile that forbids our
scripts), and Debian's dhclient -6, from a copy, where a test asks for DHCPv6 options. IPv4 leaves the
router masqueraded by the lab's own ``table ip lab_nat`` (fw4's part); IPv6 is routed. No namespace has a
link to the host's network: all traffic stays between the namespaces a lab creates.
"""

from __future__ import annotations

import json
import os
import subprocess

from lab.processes import ETC_NETNS, Client, CommandError, Processes

LAN_DEVICE = "br-lan"
ROUTER_MAC = "02:00:5e:77:00:01"
WAN_DEVICE = "wan0"
FREE_DEVICE = "wan1"  # a second uplink (free_uplink=True): Ethernet or a hotel's Wi-Fi, not metered
ROUTER4, ROUTER6 = "10.77.0.1", "2001:db8:77::1"
SERVER4, SERVER6 = "203.0.113.10", "2001:db8:ffff::10"
PORTAL_NAME = "portal.lab"  # the router's name for its portal, in the lab's DNS

# Each client's own count of what it exchanged with the internet's servers (Lab.ip_bytes): the truth
# hotspot's accounting is tested against.
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


class Topology(Processes):
    """Builds the router's and the internet's namespaces and connects each client to br-lan."""

    lan_device = LAN_DEVICE
    wan_device = WAN_DEVICE
    router4, router6 = ROUTER4, ROUTER6
    server4, server6 = SERVER4, SERVER6
    wan4, wan6 = "100.64.0.1", "2001:db8:ff::1"  # router side; the internet side is .2 / ::2

    router: str  # the router's namespace
    internet: str  # the internet's namespace
    ipv6: bool
    offload: bool
    free_uplink: bool

    def _build(self) -> None:
        """The router and the internet, linked by wan0 (and wan1), with their addresses and routes."""
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

    def _connect(self, c: Client) -> None:
        """The client's namespace on a br-lan port, its meter, its resolver and (static) its addresses."""
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

    def addresses(self, client: str | Client) -> list[str]:
        """The client's current global addresses (v4 and v6), as the kernel has them now."""
        c = self.client(client)
        out = self.run(c.ns, "ip", "-j", "addr", "show", "dev", c.dev, "scope", "global").stdout
        return [a["local"] for link in json.loads(out) for a in link.get("addr_info", ()) if a.get("local")]

    def _add_ns(self, ns: str, *sysctls: str) -> None:
        """A namespace of the lab's, without duplicate address detection, or without IPv6 at all."""
        extra = ["net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"]
        if not self.ipv6:
            extra = ["net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"]
        self._own_ns(ns, *extra, *sysctls)

    @staticmethod
    def _ip(ns: str, *commands: str) -> None:
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

    @staticmethod
    def _write_resolv_conf(ns: str, text: str) -> None:
        os.makedirs(os.path.join(ETC_NETNS, ns), exist_ok=True)
        with open(os.path.join(ETC_NETNS, ns, "resolv.conf"), "w") as f:
            f.write(text)
