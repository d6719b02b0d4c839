"""Which apps use the data, with the real dnsmasq and the real hotspotd in one lab run: hotspotd writes
dnsmasq's nftset lines from its categories list, the router's dnsmasq (restarted, as nftset needs)
puts the addresses it forwards for a category's names into the kernel's sets, and the bytes a client
then exchanges with such an address count for that category, exactly as on its own interface, while
an address no category claims counts as "other". The update guard holds an "update" destination
back for a guarded client only while the metered uplink is in use; dns_redirect hands plain DNS
asked of another server to the router's dnsmasq."""

from __future__ import annotations

import json
import sys
import time

from hotspot.apps.snoop import names as dnsnames
from lab import FREE_DEVICE, WAN_DEVICE, Lab
from lab.hotspotd import Hotspotd

UPSTREAM4, UPSTREAM6 = Lab.server4, Lab.server6  # a DNS server on the lab's internet
VIDEO4, VIDEO6, UPDATE4, PLAIN4 = "203.0.113.11", "2001:db8:ffff::11", "203.0.113.12", "203.0.113.13"
CATEGORIES = "[video]\nvideo.test\n[updates]\nupdate.test\n"

# A DNS query by hand (stdlib only): the A or AAAA addresses SERVER answers for NAME.
_ASK = r"""
import socket, struct, sys
server, name, qtype = sys.argv[1], sys.argv[2], int(sys.argv[3])
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", qtype, 1)
s = socket.socket(socket.AF_INET6 if ":" in server else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(q, (server, 53))
a = s.recv(4096)
n, pos, out = struct.unpack_from(">H", a, 6)[0], len(q), []
for _ in range(n):
    pos += 2 if a[pos] >= 0xC0 else a.index(b"\0", pos) + 1 - pos
    t, _c, _ttl, ln = struct.unpack_from(">HHIH", a, pos)
    pos += 10
    if t in (1, 28):
        out.append(socket.inet_ntop(socket.AF_INET if t == 1 else socket.AF_INET6, a[pos:pos + ln]))
    pos += ln
print(" ".join(out))
"""

_METER = f"""
table inet appmeter {{
    counter video_tx {{}}
    counter video_rx {{}}
    counter plain_tx {{}}
    counter plain_rx {{}}
    chain output {{
        type filter hook output priority -300; policy accept;
        ip daddr {VIDEO4} counter name "video_tx"
        ip daddr {PLAIN4} counter name "plain_tx"
    }}
    chain input {{
        type filter hook input priority -300; policy accept;
        ip saddr {VIDEO4} counter name "video_rx"
        ip saddr {PLAIN4} counter name "plain_rx"
    }}
}}
"""


def ask(lab: Lab, client: str, server: str, name: str, qtype: int = 1) -> list[str]:
    return lab.run(client, sys.executable, "-c", _ASK, server, name, str(qtype)).stdout.split()


def wire(lab: Lab, client: str) -> dict[str, int]:
    out = json.loads(lab.run(client, "nft", "-j", "list", "counters", "table", "inet", "appmeter").stdout)
    return {o["counter"]["name"]: o["counter"]["bytes"] for o in out["nftables"] if "counter" in o}


def kernel_set(d: Hotspotd, name: str) -> list:
    out = json.loads(d.nft("-j", "list", "set", "inet", "hotspot", name))
    return [o for o in out["nftables"] if "set" in o][0]["set"].get("elem", [])


def addresses(d: Hotspotd, name: str) -> set[str]:
    return {e["elem"]["val"] if isinstance(e, dict) else e for e in kernel_set(d, name)}


def category_bytes(d: Hotspotd, name: str, cid: int) -> int:
    mark = cid << 16
    return sum(e["elem"]["counter"]["bytes"] for e in kernel_set(d, name) if e["elem"]["val"] == mark)


def start(tmp_path, dns_redirect: bool = True) -> tuple[Lab, Hotspotd]:
    conf_dir = tmp_path / "dnsmasq.d"
    conf_dir.mkdir()
    (tmp_path / "categories.conf").write_text(CATEGORIES)
    lab = Lab(clients=("c1", "c2"), free_uplink=True,
              dnsmasq_args=[f"--conf-dir={conf_dir}", "--server=/test/" + UPSTREAM4]).start()
    try:
        lab.run(lab.internet, "sh", "-ec", f"""
            ip addr add {VIDEO4}/32 dev lo; ip addr add {UPDATE4}/32 dev lo; ip addr add {PLAIN4}/32 dev lo
            ip -6 addr add {VIDEO6}/128 dev lo nodad""")
        # the upstream server: answers the names of the test, and a "wrong" internet.lab
        lab.popen(lab.internet, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                  "--no-hosts", "--bind-interfaces", f"--listen-address={UPSTREAM4}",
                  f"--listen-address={UPSTREAM6}", "--user=root", "--group=root",
                  f"--address=/video.test/{VIDEO4}", f"--address=/video.test/{VIDEO6}",
                  f"--address=/update.test/{UPDATE4}", f"--address=/plain.test/{PLAIN4}",
                  "--address=/internet.lab/203.0.113.99", f"--address=/fake.update.test/{PLAIN4}")
        lab.nft(lab.clients["c1"].ns, _METER)
        d = Hotspotd(lab, categories_file=str(tmp_path / "categories.conf"),
                     dnsmasq_nftset_file=str(conf_dir / "hotspot-categories.conf"),
                     unmetered_device=(FREE_DEVICE,), dns_redirect=dns_redirect, poll_interval=0.2)
        d.extra_env["HOTSPOT_APPS_INTERVAL"] = "0"
        d.start()
    except BaseException:
        lab.close()
        raise
    return lab, d


def test_app_categories_the_update_guard_and_dns_redirect(tmp_path):
    lab, d = start(tmp_path)
    try:
        nftset_file = tmp_path / "dnsmasq.d" / "hotspot-categories.conf"
        lab.wait_for(nftset_file.exists, 5, "hotspotd to write dnsmasq's nftset lines")
        assert "nftset=/video.test/4#inet#hotspot#c4_video,4#inet#hotspot#c4_any," in nftset_file.read_text()
        lab.restart_dnsmasq()
        for name in ("c1", "c2"):
            lab.ping(name, lab.server4)
            d.wait_client(lab.clients[name].mac)
        c1 = d.client(lab.clients["c1"].mac)

        # the router's dnsmasq answers and fills the sets; an uncategorised name fills none
        assert ask(lab, "c1", lab.router4, "video.test") == [VIDEO4]
        assert ask(lab, "c1", lab.router4, "video.test", 28) == [VIDEO6]
        assert ask(lab, "c1", lab.router4, "plain.test") == [PLAIN4]
        assert ask(lab, "c2", lab.router4, "update.test") == [UPDATE4]
        assert addresses(d, "c4_video") == {VIDEO4} and addresses(d, "c6_video") == {VIDEO6}
        assert addresses(d, "c4_updates") == {UPDATE4}
        assert addresses(d, "c4_any") == {VIDEO4, UPDATE4} and addresses(d, "c6_any") == {VIDEO6}

        # known bytes: the category's kernel counter and hotspotctl match the client's interface
        lab.iperf("c1", bytes=3_000_000, address=VIDEO4)
        lab.iperf("c1", bytes=2_000_000, address=VIDEO4, reverse=True)
        lab.iperf("c1", bytes=1_000_000, address=PLAIN4)
        # a connection keeps its category for its whole life (its conntrack label): its address
        # leaving the sets mid-flight, as when its answer's TTL runs out, changes nothing for it
        run = lab.iperf_start("c1", seconds=3, address=VIDEO4, reverse=True)
        time.sleep(1.5)
        for name in ("c4_video", "c4_any"):
            lab.run(lab.router, "nft", "delete", "element", "inet", "hotspot", name, f"{{ {VIDEO4} }}")
        run.wait()
        w = wire(lab, "c1")
        assert w["video_tx"] > 3_000_000 and w["video_rx"] > 2_000_000
        assert category_bytes(d, "cu_video", c1["id"]) == w["video_tx"]
        assert category_bytes(d, "cd_video", c1["id"]) == w["video_rx"]
        d.wait_polls(3)
        rows = {r["category"]: r for r in d.json("apps", c1["mac"])["clients"][0]["categories"]}
        assert (rows["video"]["bytes_up"], rows["video"]["bytes_down"]) == (w["video_tx"], w["video_rx"])
        total = d.client(c1["mac"])
        assert rows["other"]["bytes_total"] == total["bytes_total"] - rows["video"]["bytes_total"]
        assert rows["other"]["bytes_total"] >= w["plain_tx"] + w["plain_rx"]
        assert rows["updates"]["bytes_total"] == 0
        assert f"video {rows['video']['percent']:g}%" in d.ctl("client", c1["mac"]).stdout

        # the update guard: c1 opts in; "update" traffic is held only while the uplink is metered
        assert d.json("guard", c1["mac"], "on")["update_guard"] is True
        assert not lab.ping("c1", UPDATE4, timeout=1)
        assert lab.ping("c2", UPDATE4), "an unguarded client is never held"
        assert lab.ping("c1", VIDEO4), "only the guarded categories"
        lab.use_uplink(FREE_DEVICE)
        assert lab.ping("c1", UPDATE4), "a free uplink: the guard is off"
        lab.use_uplink(WAN_DEVICE)
        assert not lab.ping("c1", UPDATE4, timeout=1)
        d.ctl("guard", c1["mac"], "default")
        assert lab.ping("c1", UPDATE4)

        # dns_redirect: plain DNS asked of another server gets the router's answer
        assert ask(lab, "c2", UPSTREAM4, "internet.lab") == [lab.server4]
        assert ask(lab, "c2", UPSTREAM6, "internet.lab", 28) == [lab.server6]
    finally:
        d.stop()
        lab.close()


def test_a_devices_own_dns_answers_never_change_what_other_devices_reach(tmp_path):
    """c1 resolves through its own server on the internet, which says an "update" name is at an
    address everyone uses (PLAIN4, as 8.8.8.8 would be): the snooper sees that answer cross the LAN
    device, but it was asked by one device, so it fills no shared set, and c2, whose update guard
    blocks, still reaches the address. The router's own answers still fill the sets."""
    lab, d = start(tmp_path, dns_redirect=False)
    try:
        lab.wait_for(lambda: "dns snooper: watching" in d.log(), 10, "the dns snooper")
        lab.wait_for((tmp_path / "dnsmasq.d" / "hotspot-categories.conf").exists, 5, "the nftset lines")
        lab.restart_dnsmasq()
        c1, c2 = lab.clients["c1"], lab.clients["c2"]
        for c in (c1, c2):
            lab.ping(c.name, lab.server4)
            d.wait_client(c.mac)
        assert d.json("guard", c2.mac, "on")["update_guard"] is True
        assert lab.ping("c2", PLAIN4), "nothing holds the address back yet"

        assert ask(lab, "c1", UPSTREAM4, "fake.update.test") == [PLAIN4]  # not the router's resolver
        time.sleep(2)  # the snooper's batch (every half second), had it taken the answer
        assert lab.ping("c2", PLAIN4), "another device's answer blocked this one"
        assert PLAIN4 not in addresses(d, "c4_updates") | addresses(d, "c4_any")
        assert lab.ping("c1", PLAIN4)
        run_dir = d.config.run_dir
        assert dnsnames.names_for(run_dir, [PLAIN4], time.time()) == {}  # nobody else's name for it
        assert dnsnames.names_for(run_dir, [PLAIN4], time.time(), device=c1.mac) == {
            PLAIN4: "fake.update.test"}  # c1's own: its ghost traffic is named as it asked
        assert dnsnames.addresses_for(run_dir, "fake.update.test", time.time()) == []
        assert dnsnames.addresses_for(run_dir, "fake.update.test", time.time(), device=c1.mac) == [PLAIN4]

        # the router's own resolver still fills the sets, and the guard holds back what it names
        assert ask(lab, "c2", lab.router4, "update.test") == [UPDATE4]
        lab.wait_for(lambda: UPDATE4 in addresses(d, "c4_updates"), 3, "the router's answer in c4_updates")
        assert not lab.ping("c2", UPDATE4, timeout=1)
        assert "Traceback" not in d.log()
    finally:
        d.stop()
        lab.close()
