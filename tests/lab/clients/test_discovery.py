"""Clients are found from their first packet, the neighbour table and dnsmasq's leases."""

from __future__ import annotations

import json
import sys
import time

from lab import Lab
from lab.hotspotd import Hotspotd


def test_dhcp_and_static_clients_are_discovered_within_two_polls():
    with Lab(clients=("phone", "laptop"), static=("printer",),
             hostnames={"phone": "Anna-s-Phone", "laptop": "work-laptop"}) as lab:
        d = Hotspotd(lab, poll_interval=1.0).start()
        macs = {name: c.mac for name, c in lab.clients.items()}
        for name in macs:
            t0 = time.monotonic()
            lab.ping(name, lab.server4)
            d.wait_client(macs[name], timeout=2 * d.config.poll_interval + 0.5)
            assert time.monotonic() - t0 <= 2 * d.config.poll_interval + 0.5
        clients = d.clients()
        assert clients[macs["phone"]]["hostname"] == "Anna-s-Phone"
        assert clients[macs["laptop"]]["hostname"] == "work-laptop"
        printer = clients[macs["printer"]]
        assert printer["hostname"] is None
        assert lab.clients["printer"].ipv4 in printer["ips"]
        assert lab.clients["phone"].ipv4 in clients[macs["phone"]]["ips"]
        lab.ping("phone", lab.server6)  # the router learns its IPv6 address as a neighbour
        v6 = lab.clients["phone"].ipv6
        lab.wait_for(lambda: v6 in d.client(macs["phone"])["ips"], 3, "the phone's IPv6 address")
        # counted from their first registered byte, IPv6 included
        lab.iperf("printer", bytes=1_000_000, reverse=True, ipv6=True)
        assert d.client(macs["printer"])["bytes_down"] >= 1_000_000
        d.stop()


def test_hostile_hostname_is_cleaned_and_never_reaches_nft():
    """dnsmasq already drops most illegal names; a lease file from another DHCP server may not."""
    hostile = "<img/src=x/onerror=alert(1)>;flush;ruleset"
    with Lab(clients=(), static=("c1",)) as lab:  # no DHCP, so dnsmasq never rewrites our lease line
        d = Hotspotd(lab).start()
        mac = lab.clients["c1"].mac
        with open(lab.leases_file, "a") as f:
            f.write(f"{int(time.time()) + 3600} {mac} {lab.clients['c1'].ipv4} {hostile} *\n")
        lab.ping("c1", lab.server4)
        name = lab.wait_for(lambda: d.client(mac)["hostname"] if mac in d.clients() else None, 3, "hostname")
        assert name == "imgsrcxonerroralert1flushruleset"
        assert "table inet hotspot" in d.nft("list", "tables")
        d.stop()


NEIGHBOUR_PROBE = """
import json, sys
from hotspot.kernel.neighbours import mac_of, neighbours
dev = sys.argv[1]
print(json.dumps({"all": neighbours(dev), "of": {ip: mac_of(ip, dev) for ip in sys.argv[2:]}}))
"""


def test_neighbours_are_read_over_netlink_one_address_at_a_time(lab):
    """The neighbour table over rtnetlink: failed entries, link-local and multicast addresses are
    no client's; one address is looked up on its own (what a portal request costs)."""
    dev = "hsnb0"
    lab.run(lab.router, "ip", "link", "add", dev, "type", "veth", "peer", "name", "hsnb1")
    lab.run(lab.router, "sysctl", "-qw", f"net.ipv6.conf.{dev}.disable_ipv6=0")
    lab.run(lab.router, "ip", "link", "set", dev, "up")
    try:
        for argv in (["192.0.2.10", "lladdr", "02:AA:00:00:00:01", "nud", "stale"],
                     ["2001:db8:1::0a", "lladdr", "02:aa:00:00:00:01", "nud", "reachable"],
                     ["192.0.2.11", "lladdr", "02:aa:00:00:00:02", "nud", "permanent"],
                     ["192.0.2.12", "nud", "failed"],
                     ["fe80::1", "lladdr", "02:aa:00:00:00:03", "nud", "reachable"],
                     ["169.254.3.4", "lladdr", "02:aa:00:00:00:04", "nud", "stale"]):
            lab.run(lab.router, "ip", "neigh", "add", argv[0], "dev", dev, *argv[1:])
        out = json.loads(lab.run(lab.router, sys.executable, "-c", NEIGHBOUR_PROBE, dev, "192.0.2.10",
                                 "2001:db8:1::a", "::ffff:192.0.2.11", "192.0.2.12", "192.0.2.99",
                                 "not-an-ip").stdout)
    finally:
        lab.run(lab.router, "ip", "link", "del", dev)
    assert out["all"] == {"02:aa:00:00:00:01": ["192.0.2.10", "2001:db8:1::a"],
                          "02:aa:00:00:00:02": ["192.0.2.11"]}
    assert out["of"] == {"192.0.2.10": "02:aa:00:00:00:01", "2001:db8:1::a": "02:aa:00:00:00:01",
                         "::ffff:192.0.2.11": "02:aa:00:00:00:02", "192.0.2.12": None,
                         "192.0.2.99": None, "not-an-ip": None}
