"""Devices that leave, with real traffic: a forgotten device's id given to a new one while the old
device's flow still runs, `hotspotctl forget` beside a running hotspotd, and client_retention in
hotspotd's poll."""

from __future__ import annotations

import time

from hotspot.config import Config
from hotspot.lab import Lab
from hotspot.lab.service import LabService
from hotspot.shaper import class_id

MB = 1_000_000


def found(lab: Lab, name: str) -> dict:
    c = lab.clients[name]
    return {c.mac: {"ips": [ip for ip in (c.ipv4, c.ipv6) if ip], "hostname": name}}


def table_has(lab: Lab, what: str, name: str, needle: str) -> bool:
    out = lab.run(lab.router, "nft", "list", what, "inet", "hotspot", name, check=False).stdout
    return needle in out


def test_an_id_given_again_while_the_old_device_s_flow_runs_counts_only_the_new_device():
    """Device A (id N) has a cap, a throttle and a UDP stream from the internet (video, for the app
    categories) that goes on after A is forgotten; device B registers and gets id N. A's packets
    must reach nothing of B's: not its counters, not its quota, not its category counter; B's
    counters start from zero, and its bytes are the bytes on its wire. A's bytes after it was
    forgotten still count, as a device not registered, into the plan."""
    with Lab(clients=("a", "b"), offload=False) as lab:
        svc = LabService(lab, Config(lan_device=lab.lan_device, wan_device=(lab.wan_device,),
                                     dnsmasq_nftset_file=None, dnsmasq_restart=None))
        try:
            svc.call("ensure_table")
            svc.call("categorise", "video", lab.server4)
            (a,) = svc.call("register", found(lab, "a"))
            n = a["id"]
            svc.call("set_cap", a["mac"], 10_000 * MB)
            svc.call("throttle", a["mac"], 50_000_000)
            assert table_has(lab, "quota", f"q{n}", "bytes")
            plan_before, wire_a0 = svc.call("plan_used"), lab.ip_bytes("a")
            wire_b0 = lab.ip_bytes("b")

            stream = lab.iperf_start("a", udp=True, reverse=True, bitrate="16M", seconds=10)
            time.sleep(3)
            svc.call("account")
            assert svc.call("client", a["mac"])["bytes_down"] > 2 * MB
            assert [n, lab.clients["a"].ipv4] in [f[:2] for f in svc.call("flows")]
            assert any(x[2] == n and x[3] > 0 for x in svc.call("app_counters"))

            done = svc.call("forget", a["mac"])
            assert (done["mac"], done["id"], done["forgotten"]) == (a["mac"], n, True)
            assert done["bytes_total"] > 2 * MB  # its last bytes were filed before it went
            time.sleep(0.5)  # A's stream goes on
            assert not [f for f in svc.call("flows") if f[0] == n]
            assert not [x for x in svc.call("app_counters") if x[2] == n]
            for what, name, gone in (("map", "client_up", a["mac"]), ("map", "http", a["mac"]),
                                     ("map", "free", a["mac"]), ("map", "addr4", lab.clients["a"].ipv4),
                                     ("table", "", f"chain up{n} ")):
                assert not table_has(lab, what, name, gone), (what, name)
            assert not table_has(lab, "quota", f"q{n}", "bytes")
            classes = lab.run(lab.router, "tc", "class", "show", "dev", lab.lan_device).stdout
            assert f"class htb {class_id(n)} " not in classes

            (b,) = svc.call("register", found(lab, "b"))
            assert b["id"] == n
            svc.call("set_cap", b["mac"], 30 * MB)
            time.sleep(1)  # A's stream still flows
            svc.call("account")
            fresh = svc.call("counters", n)
            assert fresh == {f"u{n}": 0, f"d{n}": 0, f"q{n}": 0}, fresh
            assert svc.call("client", b["mac"])["bytes_total"] == 0

            lab.iperf("b", bytes=8 * MB, reverse=True)
            wire_b = lab.ip_bytes("b")
            stream.wait()
            time.sleep(0.5)
            svc.call("account")
            wire_a = lab.ip_bytes("a")
            view = svc.call("client", b["mac"])
            counted = svc.call("counters", n)
            on_wire = (wire_b["rx4"] - wire_b0["rx4"], wire_b["tx4"] - wire_b0["tx4"])
            assert abs(view["bytes_down"] - on_wire[0]) <= 0.005 * on_wire[0], (view, on_wire)
            assert abs(view["bytes_up"] - on_wire[1]) <= 0.005 * on_wire[1] + 2000, (view, on_wire)
            assert counted[f"q{n}"] == counted[f"u{n}"] + counted[f"d{n}"] == view["bytes_total"]
            assert view["state"] == "ok" and view["bytes_total"] < 30 * MB
            cats = {(x[0], x[1]): x[3] for x in svc.call("app_counters") if x[2] == n}
            assert cats == {("video", "up"): counted[f"u{n}"], ("video", "down"): counted[f"d{n}"]}
            for f in svc.call("flows"):
                assert f[0] != n or f[1] == lab.clients["b"].ipv4, f  # id N names only B's connections

            # every byte on both wires is the plan's: A's before and after it was forgotten, and B's
            wire_total = sum(wire_a[k] - wire_a0[k] + wire_b[k] - wire_b0[k] for k in ("rx4", "tx4"))
            plan = svc.call("plan_used") - plan_before
            assert abs(plan - wire_total) <= 0.01 * wire_total, (plan, wire_total)
            assert svc.call("unregistered") > 8 * MB  # A's stream once it was forgotten
        finally:
            svc.call("teardown")
            svc.close()
