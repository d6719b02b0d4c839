"""Counted bytes against bytes on the client's interface, IPv4 and IPv6, both directions."""

from __future__ import annotations

import pytest

from lab import Lab
from lab.hotspotd import Hotspotd

SIZE = 200_000_000


@pytest.fixture(scope="module")
def metered():
    # offload=False: every packet is MTU-sized, as on a real wire, so headers count per packet.
    with Lab(clients=("c1", "c2"), offload=False) as lab:
        d = Hotspotd(lab).start()
        for name in ("c1", "c2"):
            lab.ping(name, lab.server4)
            d.wait_client(lab.clients[name].mac)
        yield lab, d
        d.stop()


@pytest.mark.parametrize("ipv6", [False, True], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("reverse", [True, False], ids=["down", "up"])
def test_counted_bytes_match_the_wire(metered, ipv6, reverse):
    lab, d = metered
    mac = lab.clients["c1"].mac
    before, wire_before = d.client(mac), lab.ip_bytes("c1")
    other_before = d.client(lab.clients["c2"].mac)["bytes_total"]
    lab.iperf("c1", bytes=SIZE, reverse=reverse, ipv6=ipv6)
    after, wire_after = d.client(mac), lab.ip_bytes("c1")

    fam = "6" if ipv6 else "4"
    wire_down = wire_after["rx" + fam] - wire_before["rx" + fam]
    wire_up = wire_after["tx" + fam] - wire_before["tx" + fam]
    counted_down = after["bytes_down"] - before["bytes_down"]
    counted_up = after["bytes_up"] - before["bytes_up"]
    bulk_wire, bulk_counted = (wire_down, counted_down) if reverse else (wire_up, counted_up)
    assert bulk_wire > SIZE
    assert abs(bulk_counted - bulk_wire) <= 0.005 * bulk_wire, (bulk_counted, bulk_wire)
    # the other direction (ACKs) is counted too
    ack_wire, ack_counted = (wire_up, counted_up) if reverse else (wire_down, counted_down)
    assert abs(ack_counted - ack_wire) <= 0.005 * ack_wire + 2000, (ack_counted, ack_wire)
    # and nothing is charged to the client that sat idle
    assert d.client(lab.clients["c2"].mac)["bytes_total"] == other_before


def test_router_and_lan_traffic_are_free(metered):
    lab, d = metered
    mac = lab.clients["c1"].mac
    before = d.client(mac)["bytes_total"]
    for _ in range(20):
        assert lab.ping("c1", lab.router4)
        assert lab.ping("c1", lab.clients["c2"].ipv4)
    lab.run("c1", "getent", "hosts", "internet.lab")  # DNS to the router's dnsmasq
    assert d.client(mac)["bytes_total"] == before
