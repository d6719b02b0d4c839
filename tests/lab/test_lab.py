"""The lab itself works: addressing (DHCPv4, SLAAC, static), DNS, NAT, traffic, meters and teardown."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from lab import OWNERS_DIR, Lab, cleanup_stale


def lab_namespaces(name: str) -> list[str]:
    return sorted(n for n in os.listdir("/run/netns") if n.startswith(name + "-"))


def links(lab: Lab, ns: str) -> set[str]:
    return {link["ifname"] for link in json.loads(lab.run(ns, "ip", "-j", "link").stdout)}


def test_dhcp_and_slaac(lab: Lab) -> None:
    assert set(lab.clients) == {"c1", "c2"}
    for c in lab.clients.values():
        assert 100 <= int(ipaddress.ip_address(c.ipv4)) - int(ipaddress.ip_address("10.77.0.0")) <= 199
        assert ipaddress.ip_address(c.ipv6) in ipaddress.ip_network("2001:db8:77::/64")
        assert set(lab.addresses(c)) == {c.ipv4, c.ipv6}
        assert c.mac == c.mac.lower() and c.ns.startswith(lab.name + "-")
        routes = lab.run(c, "ip", "-j", "-6", "route", "show", "default").stdout
        assert json.loads(routes), "the router's RA gave no IPv6 default route"
    leases = {row["mac"]: row for row in lab.leases()}
    assert {m: (r["ip"], r["hostname"]) for m, r in leases.items()} == {
        c.mac: (c.ipv4, c.name) for c in lab.clients.values()}
    with open(lab.leases_file) as f:
        assert " c1 " in f.read()
    # Isolated: no namespace has a link to anything but the lab's own namespaces.
    assert links(lab, lab.router) == {"lo", "br-lan", "wan0", "lan-1", "lan-2"}
    assert links(lab, lab.internet) == links(lab, "c1") == links(lab, "c2") == {"lo", "eth0"}


def test_hostnames_static_and_late_clients() -> None:
    with Lab(clients=("c1",), static=("s1", "s2"), hostnames={"c1": "alice-phone"}) as lab:
        s1, s2 = lab.clients["s1"], lab.clients["s2"]
        assert (s1.ipv4, s1.ipv6, s2.ipv4, s2.ipv6) == ("10.77.0.50", "2001:db8:77::50",
                                                        "10.77.0.51", "2001:db8:77::51")
        assert set(lab.addresses("s1")) == {"10.77.0.50", "2001:db8:77::50"}  # no SLAAC on a static client
        for addr in (lab.server4, lab.server6):
            assert lab.ping("s1", addr)
        assert lab.ping("c1", s1.ipv4) and lab.ping("c1", s1.ipv6)  # LAN to LAN through the bridge
        late = lab.add_client("c9", hostname="late-laptop")
        assert late.ipv4 and late.ipv6 and lab.ping(late, lab.server4)
        hosts = {row["mac"]: row["hostname"] for row in lab.leases()}
        assert hosts == {lab.clients["c1"].mac: "alice-phone", late.mac: "late-laptop"}  # no statics


def test_internet_reachable_with_dns_and_nat(lab: Lab) -> None:
    for addr in (lab.server4, lab.server6):
        assert lab.ping("c1", addr), addr
    hosts = lab.run("c1", "getent", "ahosts", "internet.lab").stdout
    assert lab.server4 in hosts and lab.server6 in hosts
    www = os.path.join(lab.dir, "www")
    os.mkdir(www)
    with open(os.path.join(www, "hello.txt"), "w") as f:
        f.write("hello from the internet\n")
    lab.popen(lab.internet, sys.executable, "-m", "http.server", "-b", "::", "-d", www, "8000",
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = "http://internet.lab:8000/hello.txt"
    lab.wait_for(lambda: lab.curl("c1", url, check=False).returncode == 0, 10, "the web server")
    for family in ("-4", "-6"):
        assert lab.curl("c1", url, family).stdout == "hello from the internet\n"
    # IPv4 leaves masqueraded by the lab's own table (the internet has no route back to the LAN) ...
    assert "10.77.0.0" not in lab.run(lab.internet, "ip", "route").stdout
    lab.run(lab.router, "nft", "flush", "ruleset")
    assert not lab.ping("c1", lab.server4, timeout=1)
    lab.install_nat()  # ... which tests can restore after flushing the router's ruleset
    assert lab.ping("c1", lab.server4)


@pytest.mark.parametrize("ipv6", [False, True], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("reverse", [False, True], ids=["upload", "download"])
def test_iperf_bytes_match_meter(lab: Lab, ipv6: bool, reverse: bool) -> None:
    """ip_bytes counts what iperf3 sent, plus one IP+TCP header per packet the kernel saw, within 1%."""
    before, pkts_before = lab.ip_bytes("c1"), lab.ip_packets("c1")
    # A rate limit lets the sender's socket drain before the test ends (iperf3 counts bytes written to the
    # socket; at full veth speed, MBs still queued at the end are dropped by the RST and never cross).
    result = lab.iperf("c1", bytes=4_000_000, bitrate="400M", reverse=reverse, ipv6=ipv6)
    after, pkts_after = lab.ip_bytes("c1"), lab.ip_packets("c1")
    fam, hdr = ("6", 40 + 32) if ipv6 else ("4", 20 + 32)  # IP + TCP with timestamps
    data_dir, ack_dir = ("rx", "tx") if reverse else ("tx", "rx")
    sent = result["end"]["sum_sent"]["bytes"]
    packets = pkts_after[data_dir + fam] - pkts_before[data_dir + fam]
    measured = after[data_dir + fam] - before[data_dir + fam]
    expected = sent + packets * hdr
    assert sent >= 4_000_000
    assert abs(measured - expected) <= 0.01 * expected, (measured, expected)
    assert 0 < after[ack_dir + fam] - before[ack_dir + fam] < 0.05 * sent  # ACKs and the control channel
    other = "4" if ipv6 else "6"
    assert after["tx" + other] == before["tx" + other] and after["rx" + other] == before["rx" + other]


def test_udp_iperf_and_link_stats() -> None:
    with Lab(clients=("c1",), ipv6=False, offload=False) as lab:
        assert lab.clients["c1"].ipv6 is None and not lab.ping("c1", lab.server6, timeout=1)
        link0 = lab.link_stats("c1")
        result = lab.iperf("c1", seconds=1, udp=True, bitrate="20M", length=1000)
        link1 = lab.link_stats("c1")
        meter = lab.ip_bytes("c1")
        s = result["end"]["sum"]
        assert s["packets"] > 100 and s["bytes"] == s["packets"] * 1000
        assert 0 <= meter["tx4"] - s["packets"] * 1028 < 5000  # + 20 IP + 8 UDP; + the TCP control channel
        tx = link1["tx_bytes"] - link0["tx_bytes"]
        assert 0 <= tx - (meter["tx4"] + 14 * (link1["tx_packets"] - link0["tx_packets"])) < 2000


def test_teardown_leaves_nothing() -> None:
    with pytest.raises(RuntimeError, match="boom"), Lab(clients=("c1",)) as lab:
        namespaces = lab_namespaces(lab.name)
        assert namespaces == sorted([lab.router, lab.internet, lab.clients["c1"].ns])
        pids = [lab.dnsmasq.pid, lab.clients["c1"].dhcp_process.pid]
        raise RuntimeError("boom")
    assert lab_namespaces(lab.name) == []
    assert not os.path.exists(lab.dir)
    assert not any(os.path.exists(f"/etc/netns/{ns}") for ns in namespaces)
    assert not os.path.exists(os.path.join(OWNERS_DIR, lab.name + ".json"))
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}"), pid


def test_cleanup_stale_removes_only_dead_labs(lab: Lab) -> None:
    """A process that dies without tearing down leaves its lab behind; cleanup_stale removes it, only it."""
    code = textwrap.dedent("""
        import os, signal
        from lab import Lab
        lab = Lab(clients=("c1",)).start()
        print(lab.name, lab.dir, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert out.returncode == -signal.SIGKILL, out.stderr
    name, directory = out.stdout.split()
    assert len(lab_namespaces(name)) == 3 and os.path.isdir(directory)
    removed = cleanup_stale()
    assert set(removed) >= {f"{name}-router", f"{name}-inet", f"{name}-c1"}  # maybe more, from other runs
    assert lab_namespaces(name) == [] and not os.path.exists(directory)
    assert lab_namespaces(lab.name) == sorted(
        [lab.router, lab.internet, *(c.ns for c in lab.clients.values())])
    assert lab.ping("c1", lab.server4)  # the live lab was left alone
