"""Clients loaded as nft text (Nft.add_clients) are the same, object for object, as the same clients
sent as python-nftables JSON (rules.new_clients_cmds): both listed back from the real kernel."""

from __future__ import annotations

import json
import sys

from lab import Lab

SCRIPT = r'''
import json, sys
from hotspot.kernel import rules as hr
from hotspot.kernel.nft import Nft

lan, wan = sys.argv[1], sys.argv[2]
guard = hr.Guard(levels=hr.GUARD_LEVELS, rate=10**6)
C = hr.ClientElements
clients = [
    C(id=2, mac="02:AA:00:00:00:02", ips=("10.9.0.2", "fd00::2")),
    C(id=3, mac="02:aa:00:00:00:03", quota=10**9, used=12345, portal=True),
    C(id=4, mac="02:aa:00:00:00:04", quota=500, used=900, shape="1:8", shape_rate=10**6,
      shape_capped="1:9", capped_rate=10**5),
    C(id=5, mac="02:aa:00:00:00:05", blocked=True, portal=True),
    C(id=6, mac="02:aa:00:00:00:06", gated=True, portal=True, voucher=7, voucher_quota=5000),
    C(id=7, mac="02:aa:00:00:00:07", voucher=7, voucher_quota=5000, voucher_used=100,
      blocked_dests=("192.0.2.1", "2001:db8::1", "192.0.2.9")),
    C(id=8, mac="02:aa:00:00:00:08", exempt=True, app_guard=("updates", "backup")),
    C(id=9, mac="02:aa:00:00:00:09", app_guard=("video",), app_guard_rate=2 * 10**6),
]
nft = Nft(guard=guard)

def listed():
    out = json.loads(nft._nft.cmd("list table inet hotspot")[1])["nftables"]
    found = []
    for o in out:
        (kind, body), = o.items()
        if kind == "metainfo":
            continue
        body = {k: v for k, v in body.items() if k != "handle"}
        if "elem" in body:
            body["elem"] = sorted(json.dumps(e, sort_keys=True) for e in body["elem"])
        found.append(json.dumps({kind: body}, sort_keys=True))
    return found

def build():
    nft.build([lan], [wan], [], guard=guard, guard_limits={"stop": 10**12}, gate_unregistered=True)

build()
nft.batch(hr.new_clients_cmds(clients, nft.marks, guard))
by_json = listed()
nft.delete_table()
build()
nft.add_clients(clients)
by_text = listed()
nft.delete_table()
print(json.dumps({"json": by_json, "text": by_text}))
'''


def test_clients_loaded_as_text_are_the_clients_sent_as_json():
    with Lab(clients=()) as lab:
        p = lab.run(lab.router, sys.executable, "-c", SCRIPT, lab.lan_device, lab.wan_device, timeout=60)
        out = json.loads(p.stdout)
    by_json, by_text = out["json"], out["text"]
    assert any('"name": "up9"' in o for o in by_text) and any('"q4"' in o for o in by_text)
    assert by_text == by_json
