"""A poll that finds no new bytes writes nothing of them to the database; one that finds some does."""

from __future__ import annotations

import json
import sys

from lab import Lab

# Runs in the lab router's namespace: the real house against the real table.
SCRIPT = r"""
import json, subprocess, sys
from hotspot.config import Config
from hotspot.house import House

d, lan, wan, mac, client_ip, server = sys.argv[1:7]
cfg = Config(lan_device=lan, wan_device=(wan,), run_dir=f"{d}/run", state_dir=f"{d}/state",
             leases_file=f"{d}/leases", dnsmasq_nftset_file=None, dnsmasq_restart=None)
hs = House(cfg)
out = {}
try:
    hs.nft.delete_table()
    hs.counting.ensure_table()
    hs.counting.register({mac: {"ips": [client_ip], "hostname": "c1"}})
    print("registered", flush=True)
    sys.stdin.readline()  # the client sends metered bytes now
    for _ in range(2):
        with hs.core.transaction():
            hs.counting.account()
    cid = hs.store.client(mac).id
    out["counted"] = hs.store.client(mac).period_total
    before = hs.store.db.total_changes
    with hs.core.transaction():
        out["idle_moved"] = {str(k): v for k, v in hs.counting.account().items()}
    out["idle_changes"] = hs.store.db.total_changes - before
    print("ready", flush=True)
    sys.stdin.readline()  # more bytes now
    before = hs.store.db.total_changes
    with hs.core.transaction():
        moved = hs.counting.account()
    out["busy_changes"] = hs.store.db.total_changes - before
    out["busy_moved"] = sum(moved.get(cid, (0, 0)))
    out["counted_after"] = hs.store.client(mac).period_total
finally:
    hs.nft.delete_table()
    hs.close()
print(json.dumps(out), flush=True)
"""


def test_a_poll_without_new_bytes_writes_nothing():
    with Lab(clients=("c1",), ipv6=False) as lab:  # no IPv6: the router's own ND is not metered traffic
        c1 = lab.clients["c1"]
        job = lab.popen(lab.router, sys.executable, "-c", SCRIPT, f"{lab.dir}/idle", lab.lan_device,
                        lab.wan_device, c1.mac, c1.ipv4, lab.server4, stdin=-1, stdout=-1, text=True)
        try:
            assert job.stdout.readline().strip() == "registered"
            for _ in range(3):
                assert lab.ping("c1", lab.server4)
            job.stdin.write("go\n")
            job.stdin.flush()
            assert job.stdout.readline().strip() == "ready"
            wire = lab.ip_bytes("c1")
            for _ in range(5):
                assert lab.ping("c1", lab.server4)
            sent = sum(lab.ip_bytes("c1")[k] - wire[k] for k in ("rx4", "tx4"))
            out, _ = job.communicate("go\n", timeout=30)
        finally:
            if job.poll() is None:
                job.kill()
    result = json.loads(out.strip().splitlines()[-1])
    assert result["counted"] > 0, result  # the first pings were counted
    assert result["idle_moved"] == {}
    # nothing moved: no client row, no hour, no counter reading; only the poll's trusted time (meta
    # last_good, which goes on while the wall clock cannot be believed)
    assert result["idle_changes"] == 1, result
    assert result["busy_moved"] == sent  # five pings each way: every byte, as on the wire
    assert result["busy_changes"] > 0
    assert result["counted_after"] == result["counted"] + sent
