"""The metered hint in the real kernel and with the real dnsmasq: hotspot.uplink.metered.active_uplink()
follows the router's default route from one device to another, and DhcpHint puts DHCP option 43
ANDROID_METERED into the lab dnsmasq's --dhcp-optsfile, where a real DHCP client (udhcpc asking for
option 43, as Android does) finds it at its next renewal, and finds it gone at the renewal after the
switch."""

from __future__ import annotations

import json
import os
import sys

from hotspot.uplink.metered import DhcpHint
from lab import Lab

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
METERED, UNMETERED = "wan0", "wan9"  # the lab's own uplink and this test's second one (a veth pair)

_ACTIVE = "import json, sys; from hotspot.uplink.metered import active_uplink; " \
          "print(json.dumps(active_uplink([sys.argv[1]], [sys.argv[2]])))"


def active_uplink(lab: Lab) -> tuple[str | None, bool]:
    """hotspot.uplink.metered.active_uplink() as hotspotd would run it: in the router's namespace."""
    out = lab.run(lab.router, "env", f"PYTHONPATH={ROOT}", sys.executable, "-c", _ACTIVE, METERED, UNMETERED)
    dev, metered = json.loads(out.stdout)
    return dev, metered


def add_second_uplink(lab: Lab) -> None:
    """An unmetered uplink next to wan0 that takes no default route yet; wan0's own default route gets
    a metric, as netifd gives each uplink one."""
    lab.run(lab.router, "sh", "-ec", f"""
        ip link add {UNMETERED} type veth peer name {UNMETERED}p
        ip addr add 192.0.2.1/24 dev {UNMETERED}
        sysctl -qw net.ipv6.conf.{UNMETERED}.disable_ipv6=0
        ip -6 addr add 2001:db8:99::1/64 dev {UNMETERED} nodad
        ip link set {UNMETERED}p up
        ip link set {UNMETERED} up
        ip route replace default via 100.64.0.2 dev {METERED} metric 20
        ip route del default via 100.64.0.2 dev {METERED} metric 0
    """)


def use(lab: Lab, dev: str) -> None:
    """Make `dev` the better uplink (lower metric), as netifd does when an uplink comes up."""
    if dev == UNMETERED:
        lab.run(lab.router, "ip", "route", "add", "default", "via", "192.0.2.254", "dev", UNMETERED,
                "metric", "10")
    else:
        lab.run(lab.router, "ip", "route", "del", "default", "dev", UNMETERED)


def hup_count(lab: Lab) -> int:
    """How many times dnsmasq has (re-)read the optsfile: it logs "read FILE" each time."""
    with open(os.path.join(lab.dir, "dnsmasq.log")) as f:
        return f.read().count(f"read {lab.dhcp_opts_file}")


def set_hint(lab: Lab, hint: DhcpHint, metered: bool) -> None:
    reads = hup_count(lab)
    assert hint.set(metered) is True
    lab.wait_for(lambda: hup_count(lab) > reads, 5, "dnsmasq to re-read its optsfile after SIGHUP")


def test_the_metered_hint_follows_the_uplink_to_a_dhcp_client():
    with Lab(clients=("c1",)) as lab:
        hint = DhcpHint(lab.dhcp_opts_file, lab.dnsmasq_pid_file)
        assert lab.dhcp_option("c1", 43) == ""
        add_second_uplink(lab)

        # on the metered uplink: the client sees the hint from its next renewal on
        dev, metered = active_uplink(lab)
        assert (dev, metered) == (METERED, True)
        set_hint(lab, hint, metered)
        assert lab.dhcp_option("c1", 43) == "", "DHCP cannot push: nothing before the renewal"
        lab.renew("c1")
        assert lab.dhcp_option("c1", 43) == "ANDROID_METERED"
        reads = hup_count(lab)
        assert hint.set(True) is False, "no change: no write, no SIGHUP"
        lab.renew("c1")
        assert hup_count(lab) == reads
        assert lab.dhcp_option("c1", 43) == "ANDROID_METERED"

        # the router switches to the unmetered uplink: the hint is gone at the next renewal
        use(lab, UNMETERED)
        dev, metered = active_uplink(lab)
        assert (dev, metered) == (UNMETERED, False)
        set_hint(lab, hint, metered)
        lab.renew("c1")
        assert lab.dhcp_option("c1", 43) == ""

        # and back
        use(lab, METERED)
        assert active_uplink(lab) == (METERED, True)
        set_hint(lab, hint, True)
        lab.renew("c1")
        assert lab.dhcp_option("c1", 43) == "ANDROID_METERED"
        assert lab.dnsmasq.poll() is None


def test_active_uplink_reads_the_kernels_routes():
    """Multipath, IPv6 when IPv4 has no default route, and no default route at all."""
    with Lab(clients=()) as lab:
        add_second_uplink(lab)
        assert active_uplink(lab) == (METERED, True)
        lab.run(lab.router, "sh", "-ec", f"""
            ip route add default metric 5 nexthop dev {UNMETERED} nexthop via 100.64.0.2 dev {METERED}
        """)
        assert active_uplink(lab) == (UNMETERED, False), "a multipath route: its first nexthop"
        lab.run(lab.router, "sh", "-ec", f"""
            ip -4 route flush default
            ip -6 route add default via 2001:db8:99::254 dev {UNMETERED} metric 10
        """)
        assert active_uplink(lab) == (UNMETERED, False), "IPv6's default route, lower metric"
        lab.run(lab.router, "ip", "-6", "route", "del", "default", "dev", UNMETERED)
        assert active_uplink(lab) == (METERED, True), "IPv6's default route via wan0"
        lab.run(lab.router, "ip", "-6", "route", "flush", "default")
        assert active_uplink(lab) == (None, False)
