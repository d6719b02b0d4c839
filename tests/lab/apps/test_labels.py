"""A connection keeps the category its first packet found, for its whole life: every category, through
the label's bits, in the real kernel (nft/hotspot.nft, cat_up and cat_up_known)."""

from __future__ import annotations

import json
import sys

from hotspot.apps.categories import CATEGORIES
from lab import Lab

BUILD = r'''
import sys
from hotspot.kernel.nft import Nft
from hotspot.kernel.rules import ClientElements
Nft().build([sys.argv[1]], [sys.argv[2]], [ClientElements(id=2, mac=sys.argv[3])])
'''

SEND = r'''
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", int(sys.argv[2])))
for _ in range(int(sys.argv[3])):
    s.sendto(b"x" * 20, (sys.argv[1], 9))
'''


def _packets(lab: Lab, name: str) -> int:
    """Packets counted for client 2 in a counting set."""
    out = lab.run(lab.router, "nft", "-j", "list", "set", "inet", "hotspot", name).stdout
    sets = [o["set"] for o in json.loads(out)["nftables"] if "set" in o]
    return sum(e["elem"]["counter"]["packets"] for e in sets[0].get("elem", [])
               if isinstance(e, dict) and e["elem"]["val"] == 2 << 16)


def test_each_category_is_kept_in_the_connection_after_its_address_left_the_sets():
    with Lab(clients=("c1",), ipv6=False) as lab:
        lab.run(lab.router, sys.executable, "-c", BUILD, lab.lan_device, lab.wan_device,
                lab.clients["c1"].mac)
        server = lab.server4
        for i, category in enumerate(CATEGORIES):
            port = str(40000 + i)
            lab.nft(lab.router, f"add element inet hotspot c4_{category} {{ {server} }}\n"
                                f"add element inet hotspot c4_any {{ {server} }}\n")
            lab.run("c1", sys.executable, "-c", SEND, server, port, "2")  # labels the connection
            lab.nft(lab.router, f"delete element inet hotspot c4_{category} {{ {server} }}\n"
                                f"delete element inet hotspot c4_any {{ {server} }}\n")
            lab.run("c1", sys.executable, "-c", SEND, server, port, "5")  # the label alone says which
            lab.run("c1", sys.executable, "-c", SEND, server, str(41000 + i), "3")  # no category
        counted = {category: _packets(lab, f"cu_{category}") for category in CATEGORIES}
    assert counted == {category: 7 for category in CATEGORIES}
