"""The DNS snooper, run by the real hotspotd: scapy-crafted answers with exact names and TTLs cross
the router's LAN device on their way to a client from a resolver on one of the router's own LAN
addresses (answers dnsmasq never gave), and their addresses land in the right category sets with the
TTL as timeout, expire at the TTL, are refreshed by a repeated answer and are named in the names
file. The same answers from a server on the internet were asked by one device: they feed no set,
and only that device's names."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from pathlib import Path

from hotspot.apps.snoop import names as dnsnames
from lab import ROUTER_MAC
from tests.lab.conftest import ECHO_PORT, ECHO_SCRIPT, RESOLVER4, RESOLVER6, listening, router_resolver, serve

CATEGORIES = "[video]\nvideo.test\n[updates]\nupdates.test\n"

# Sends each (address, hex payload) from the client's UDP port `sport` (0: any) to port `dport`.
SEND = r"""
import socket, sys
sport, dport = int(sys.argv[1]), int(sys.argv[2])
for arg in sys.argv[3:]:
    addr, payload = arg.split("/")
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind(("::" if ":" in addr else "0.0.0.0", sport))
        s.sendto(bytes.fromhex(payload), (addr, dport))
"""


def answer(qname: str, *records: tuple, qtype: str = "A") -> bytes:
    """A DNS response for `qname` with (owner, type, ttl, rdata) answer records, built by scapy."""
    from scapy.layers.dns import DNS, DNSQR, DNSRR

    an = None
    for owner, rtype, ttl, rdata in records:
        rr = DNSRR(rrname=owner, type=rtype, ttl=ttl, rdata=rdata)
        an = rr if an is None else an / rr
    return bytes(DNS(id=7, qr=1, rd=1, ra=1, qd=DNSQR(qname=qname, qtype=qtype), an=an))


def send(lab, *answers: tuple[str, bytes], sport: int = 0, dport: int = ECHO_PORT) -> float:
    """Answers go to the internet's UDP echo on port 53, which sends them back to the client from
    port 53: real DNS responses crossing the router. Returns when the sending began: no answer reached
    the snooper before it (the sender's start and exit take a while on a loaded machine)."""
    began = time.monotonic()
    lab.run("c1", sys.executable, "-c", SEND, sport, dport, *(f"{a}/{p.hex()}" for a, p in answers))
    return began


def elements(d, family: int, category: str) -> dict[str, dict]:
    """{address: {"timeout", "expires"}} of a category set."""
    out = json.loads(d.nft("-j", "list", "set", "inet", "hotspot", f"c{family}_{category}"))
    elems = next(o["set"] for o in out["nftables"] if "set" in o).get("elem", [])
    return {e["elem"]["val"]: e["elem"] for e in elems if isinstance(e, dict)}


def snooper_pids(d) -> list[int]:
    return [int(p) for p in re.findall(r"dns snooper started \(pid (\d+)\)", d.log())]


def test_snooper_fills_category_sets_with_ttls(lab, start_hotspotd):
    serve(lab, lab.internet, ECHO_SCRIPT, ECHO_PORT)
    lab.wait_for(lambda: listening(lab, lab.internet, ECHO_PORT, "u"), 10, "the internet's UDP echo")
    router_resolver(lab)
    cats = Path(lab.dir) / "categories.conf"
    cats.write_text(CATEGORIES)
    d = start_hotspotd(categories_file=str(cats), dns_min_ttl=0)  # each address exactly its TTL
    lab.wait_for(lambda: "dns snooper: watching" in d.log(), 10, "the dns snooper")
    run_dir = d.config.run_dir

    chain = answer("www.video.test", ("www.video.test", "CNAME", 300, "edge.cdn.example"),
                   ("edge.cdn.example", "CNAME", 300, "e1.cdn.example"),
                   ("e1.cdn.example", "A", 3, "198.51.100.1"),
                   ("off.chain.example", "A", 300, "198.51.100.66"))  # not on the chain: ignored
    s4, s6 = RESOLVER4, RESOLVER6
    # A client's own "answer" (from its port 53, into the router) must not feed the sets.
    send(lab, (lab.server4, answer("spoof.video.test", ("spoof.video.test", "A", 300, "198.51.100.9"))),
         sport=53, dport=9)
    # Nor must answers from a server on the internet: one device asked them (c1 resolving through its
    # own server); they name destinations for that device only.
    send(lab, (lab.server4, answer("net.video.test", ("net.video.test", "A", 300, "198.51.100.20"))),
         (lab.server6, answer("net6.video.test", ("net6.video.test", "AAAA", 300, "2001:db8:abcd::20"),
                              qtype="AAAA")))
    sent = send(lab, (s4, chain),
                (s4, answer("foo.example", ("foo.example", "CNAME", 30, "x.updates.test"),
                            ("x.updates.test", "A", 30, "198.51.100.2"))),  # the CNAME target's category
                (s4, answer("plain.example", ("plain.example", "A", 30, "198.51.100.3"))),
                (s6, answer("v6.video.test", ("v6.video.test", "AAAA", 30, "2001:db8:abcd::1"),
                            qtype="AAAA")),
                (s4, answer("short.video.test", ("short.video.test", "A", 2, "198.51.100.5"))),
                (s4, chain[:40]),  # truncated
                (s4, b"\x00\x07\x81\x80\x00\x01\x00\x01\xc0\x0c" + b"\x00" * 20))  # a pointer loop
    sent_all = time.monotonic()  # every answer is out: deadlines after it hold whatever the sender's start
    video = lab.wait_for(lambda: (lambda e: len(e) == 2 and e)(elements(d, 4, "video")), 5,
                         "the video answers in c4_video")
    assert {a: e["timeout"] for a, e in video.items()} == {"198.51.100.1": 3, "198.51.100.5": 2}
    assert {a: e["timeout"] for a, e in elements(d, 4, "updates").items()} == {"198.51.100.2": 30}
    assert {a: e["timeout"] for a, e in elements(d, 6, "video").items()} == {"2001:db8:abcd::1": 30}
    assert set(elements(d, 4, "any")) == {"198.51.100.1", "198.51.100.2", "198.51.100.5"}  # the union
    assert set(elements(d, 6, "any")) == {"2001:db8:abcd::1"}
    for cat in ("social", "messaging", "maps", "backup", "games"):
        assert not elements(d, 4, cat) and not elements(d, 6, cat)
    addrs = ["198.51.100.1", "198.51.100.2", "198.51.100.3", "2001:db8:abcd::1", "198.51.100.5",
             "198.51.100.9", "198.51.100.66"]
    assert dnsnames.names_for(run_dir, addrs, time.time()) == {
        "198.51.100.1": "www.video.test", "198.51.100.2": "foo.example", "198.51.100.3": "plain.example",
        "2001:db8:abcd::1": "v6.video.test", "198.51.100.5": "short.video.test"}
    own = ["198.51.100.20", "2001:db8:abcd::20"]
    assert dnsnames.names_for(run_dir, own, time.time()) == {}
    assert dnsnames.names_for(run_dir, own, time.time(), device=lab.clients["c1"].mac) == {
        "198.51.100.20": "net.video.test", "2001:db8:abcd::20": "net6.video.test"}
    assert dnsnames.names_for(run_dir, own, time.time(), device=ROUTER_MAC) == {}

    # The chain's answer again, a second in: its address stays its full TTL from now on.
    time.sleep(max(0.0, sent_all + 1.2 - time.monotonic()))
    again = send(lab, (s4, chain))
    gone = lab.wait_for(lambda: "198.51.100.5" not in elements(d, 4, "video") and time.monotonic(), 3,
                        "the 2 s answer to expire")
    assert gone - sent >= 1.5, "expired before its TTL"
    # the names file keeps the answer's exact TTL, the kernel whole seconds (up to half a second
    # less): by the TTL's end, with the capture's delay, the name is gone too
    time.sleep(max(0.0, sent_all + 2.6 - time.monotonic()))
    assert "198.51.100.5" not in dnsnames.names_for(run_dir, ["198.51.100.5"], time.time())
    time.sleep(max(0.0, sent_all + 3.6 - time.monotonic()))
    assert "198.51.100.1" in elements(d, 4, "video"), "the refreshed address expired with its first TTL"
    gone = lab.wait_for(lambda: "198.51.100.1" not in elements(d, 4, "video") and time.monotonic(), 3,
                        "the refreshed answer to expire")
    # nft's timeouts are whole seconds, so an element goes within half a second of its TTL (3 s), and
    # `again` is when the test sent the answer, a little before the snooper saw it
    assert 2.3 <= gone - again <= 4.0

    # The router's own dnsmasq answers pass the LAN device too: their names are kept.
    lab.run("c1", "busybox", "nslookup", "internet.lab", lab.router4)
    net = lab.server4
    lab.wait_for(lambda: dnsnames.names_for(run_dir, [net], time.time()).get(net) == "internet.lab", 3,
                 "dnsmasq's answer in the names file")

    # An edited list, applied by a reload (hotspotd forwards its SIGHUP).
    cats.write_text(CATEGORIES + "[games]\ngames.test\n")
    (pid,) = snooper_pids(d)
    d.proc.send_signal(signal.SIGHUP)
    lab.wait_for(lambda: "categories reloaded" in d.log(), 5, "the categories reload")
    send(lab, (s4, answer("play.games.test", ("play.games.test", "A", 30, "198.51.100.7"))))
    lab.wait_for(lambda: "198.51.100.7" in elements(d, 4, "games"), 3, "the new category's answer")

    # The snooper survived the malformed answers; killed, hotspotd starts it again.
    os.kill(pid, signal.SIGKILL)
    lab.wait_for(lambda: len(snooper_pids(d)) == 2 and "dns snooper: watching" in d.log().split(
        "exited with status")[-1], 5, "a new dns snooper")
    send(lab, (s4, answer("new.video.test", ("new.video.test", "A", 30, "198.51.100.8"))))
    lab.wait_for(lambda: "198.51.100.8" in elements(d, 4, "video"), 3, "the new snooper's answer")
    assert "Traceback" not in d.log()


def test_a_repeated_answer_that_waits_keeps_its_address_to_the_latest_ttl(lab, start_hotspotd):
    """An answer that only moves an expiry on is not written at once (hotspot/apps/snoop/held.py):
    the address must still be in its set, and named, until the latest answer's TTL runs out, then go."""
    router_resolver(lab)
    cats = Path(lab.dir) / "categories.conf"
    cats.write_text(CATEGORIES)
    d = start_hotspotd(categories_file=str(cats), dns_min_ttl=0)
    lab.wait_for(lambda: "dns snooper: watching" in d.log(), 10, "the dns snooper")
    run_dir = d.config.run_dir
    msg = answer("keep.video.test", ("keep.video.test", "A", 9, "198.51.100.11"))
    first = send(lab, (RESOLVER4, msg))
    lab.wait_for(lambda: "198.51.100.11" in elements(d, 4, "video"), 3, "the first answer")
    time.sleep(max(0.0, first + 2.0 - time.monotonic()))
    again = send(lab, (RESOLVER4, msg))  # 7 s left in the kernel: this one waits, then goes in
    time.sleep(max(0.0, first + 9.6 - time.monotonic()))  # past the first answer's TTL
    assert "198.51.100.11" in elements(d, 4, "video"), "expired with the first answer's TTL"
    assert "198.51.100.11" in elements(d, 4, "any")
    assert dnsnames.names_for(run_dir, ["198.51.100.11"], time.time()) == {"198.51.100.11": "keep.video.test"}
    gone = lab.wait_for(lambda: "198.51.100.11" not in elements(d, 4, "video") and time.monotonic(), 4,
                        "the latest answer to expire")
    assert 8.3 <= gone - again <= 10.0  # its TTL, 9 s, in whole seconds, from a little before it was seen
    assert "Traceback" not in d.log()
