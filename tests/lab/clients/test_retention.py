"""Devices that leave, with real traffic: a forgotten device's id given to a new one while the old
device's flow still runs, `hotspotctl forget` beside a running hotspotd, and client_retention in
hotspotd's poll."""

from __future__ import annotations

import time

from hotspot.config import Config
from hotspot.kernel.tc import class_id
from lab import Lab
from lab.hotspotd import Hotspotd
from lab.service import LabService
from tests.lab.conftest import register

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


def test_hotspotctl_forget_beside_hotspotd_erases_the_device_and_it_comes_back_new(lab, start_hotspotd):
    d = start_hotspotd()
    register(lab, d, "c1", "c2")
    mac = lab.clients["c1"].mac
    d.ctl("cap", mac, "1GB")
    lab.iperf("c1", bytes=3 * MB, reverse=True)
    d.wait_polls()
    before = d.client(mac)
    assert before["bytes_total"] > 3 * MB and d.json("history", mac, "--by", "hour")
    plan_before = sum(r["bytes_total"] for r in d.json("history", "plan", "--by", "hour"))
    used_before = d.json("plan")["used"]

    p = d.ctl("forget", mac)
    assert p.stderr == "" and p.stdout.count("\n") == 1 and p.stdout.startswith(f"{mac}: forgotten")
    assert lab.ping("c1", lab.server4)  # it is still here: hotspotd finds it again, as a new device
    back = lab.wait_for(lambda: (d.clients().get(mac) or {}).get("first_seen", "") > before["first_seen"] and
                        d.client(mac), 10, "c1 registered again")
    assert back["cap"] is None and back["bytes_total"] < 10_000  # the default cap, counting from zero
    assert sum(r["bytes_total"] for r in d.json("history", mac, "--by", "hour")) < 10_000
    assert sum(r["bytes_total"] for r in d.json("history", "plan", "--by", "hour")) >= plan_before
    assert d.json("plan")["used"] >= used_before > 3 * MB  # its bytes stay the plan's

    other = lab.clients["c2"].mac
    forgotten = d.json("forget", other)
    assert forgotten["mac"] == other and forgotten["forgotten"] is True and isinstance(forgotten["id"], int)
    for args, status in ((("forget", "02:00:00:00:00:99"), 1), (("forget", "zz:zz"), 2)):
        bad = d.ctl(*args, check=False)
        assert (bad.returncode, bad.stdout, bad.stderr.count("\n")) == (status, "", 1), bad
    assert "Traceback" not in d.log() and "ERROR" not in d.log()


def test_hotspotd_forgets_an_idle_device_and_keeps_one_with_bytes_this_period(lab):
    """client_retention in hotspotd's poll: c2 (registered by its lease, never metered) is forgotten
    once the clock is past the retention, and found again as a new device; c1 used data this period
    and stays, whatever its idle time."""
    d = Hotspotd(lab, client_retention=3600)
    d.extra_env["HOTSPOT_RETENTION_INTERVAL"] = "0"
    d.start()
    try:
        register(lab, d, "c1")
        c1, c2 = (lab.clients[n].mac for n in ("c1", "c2"))
        first = d.wait_client(c2)
        kept = d.client(c1)
        d.clock_file.write_text("7200")  # two hours later
        lab.wait_for(lambda: f"client {c2} forgotten after 1h without traffic" in d.log(), 10,
                     "hotspotd to forget c2")
        again = d.wait_client(c2)
        assert again["first_seen"] > first["first_seen"]
        assert d.client(c1)["first_seen"] == kept["first_seen"]
        assert f"client {c1} forgotten" not in d.log()
    finally:
        d.stop()


def test_the_admin_ui_forgets_a_device_and_guests_read_what_is_kept(lab, start_hotspotd):
    """Through the real portal and hotspotd's socket: the sign-in page's notice gives the configured
    retention; the owner's 'Forget this device' erases the device, which comes back as a new one."""
    from tests.lab.portal.test_security import PASSWORD, Browser

    d = start_hotspotd(auth="click", client_retention=30 * 86400, history_hourly_days=14)
    register(lab, d, "c1", "c2")
    d.ctl("passwd", input=PASSWORD + "\n")
    d.wait_portal()
    guest, owner = Browser(lab, d, "c1"), Browser(lab, d, "c2")
    page = " ".join(guest.request("/signin")[2].split())
    assert "What this hotspot records about your device" in page
    assert "by the hour for 14 days, then by the day for 13 months" in page
    assert "uses no data for 30 days is forgotten with everything recorded about it" in page

    victim = lab.clients["c1"].mac
    before = d.client(victim)
    assert owner.post("/admin/login", {"password": PASSWORD})[0] == 303
    assert owner.post(f"/admin/clients/{victim}/forget", {}, csrf="forged")[0] == 400
    assert d.client(victim)["first_seen"] == before["first_seen"]
    token = owner.csrf(f"/admin/clients/{victim}")
    status, head, _ = owner.post(f"/admin/clients/{victim}/forget", {}, csrf=token)
    assert status == 303 and "/admin/clients" in head
    assert f"client {victim} forgotten (id {before['id']} is free again)" in d.log()
    assert "Forgotten: " in owner.request("/admin/clients")[2]
