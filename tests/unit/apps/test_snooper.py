"""The DNS snooper's parts that need no capture: the hand-written answer parser (against scapy-built
frames and every kind of broken one), the kernel filter (run here by a small classic-BPF
interpreter), the batching into the kernel's sets and the names file, and the nft commands."""

from __future__ import annotations

import random
import struct

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Raw

from hotspot.apps.categories import parse
from hotspot.apps.snoop import names as dnsnames
from hotspot.apps.snoop.held import AHEAD
from hotspot.apps.snoop.snooper import BPF_PROGRAM, MAX_TTL, Snooper
from hotspot.apps.snoop.wire import Answer, DnsError, frame_answers
from hotspot.kernel.dumps import NftError
from hotspot.kernel.rules import category_address_text

CATS = parse("[video]\nvideo.test\n[updates]\nupdates.test\n")


def dns(qname="www.video.test", *records, qtype="A", **flags) -> DNS:
    an = None
    for owner, rtype, ttl, rdata in records:
        rr = DNSRR(rrname=owner, type=rtype, ttl=ttl, rdata=rdata)
        an = rr if an is None else an / rr
    return DNS(id=1, qr=1, rd=1, ra=1, qd=DNSQR(qname=qname, qtype=qtype), an=an, **flags)


# The answers' source in frame4 and frame6: the router's own resolver, for the snooper's tests that
# fill the shared sets.
RESOLVERS = ("203.0.113.10", "2001:db8:ffff::10")


def frame4(msg, sport=53, **ip) -> bytes:
    ip = IP(src="203.0.113.10", dst="10.77.0.100", **ip)
    return bytes(Ether() / ip / UDP(sport=sport, dport=40000) / msg)


def frame6(msg, sport=53) -> bytes:
    ip = IPv6(src="2001:db8:ffff::10", dst="2001:db8:77::100")
    return bytes(Ether() / ip / UDP(sport=sport, dport=4000) / msg)


CHAIN = dns("www.video.test", ("www.video.test", "CNAME", 300, "edge.cdn.example"),
            ("edge.cdn.example", "CNAME", 300, "e1.cdn.example"),
            ("e1.cdn.example", "A", 60, "198.51.100.1"), ("e1.cdn.example", "A", 61, "198.51.100.2"),
            ("off.chain.example", "A", 300, "198.51.100.66"))


# -- the parser -------------------------------------------------------------------------------------

def test_a_cname_chain_gives_its_addresses_with_every_name_of_the_chain():
    chain = ("www.video.test", "edge.cdn.example", "e1.cdn.example")
    assert frame_answers(frame4(CHAIN)) == [Answer("198.51.100.1", 60, chain),
                                            Answer("198.51.100.2", 61, chain)]


def test_aaaa_over_ipv6_and_names_in_any_case():
    msg = dns("V6.Video.TEST.", ("v6.video.test", "AAAA", 30, "2001:DB8:ABCD::1"), qtype="AAAA")
    assert frame_answers(frame6(msg)) == [Answer("2001:db8:abcd::1", 30, ("v6.video.test",))]


def test_a_vlan_tag_and_ipv4_options_are_skipped():
    pkt = Ether() / Dot1Q(vlan=5) / IP(src="203.0.113.10", dst="10.77.0.100", options=b"\x01\x01\x01\x00") \
        / UDP(sport=53, dport=4000) / dns("a.test", ("a.test", "A", 5, "192.0.2.1"))
    assert frame_answers(bytes(pkt)) == [Answer("192.0.2.1", 5, ("a.test",))]


@pytest.mark.parametrize("msg", [
    DNS(id=1, qr=0, qd=DNSQR(qname="a.test")),  # a query
    dns("a.test", ("a.test", "A", 5, "192.0.2.1"), rcode=3),  # NXDOMAIN with a record
    dns("a.test", ("a.test", "TXT", 5, "hello")),  # no address
    dns("a.test", ("b.test", "A", 5, "192.0.2.1")),  # not for the question
])
def test_what_names_no_address_gives_none(msg):
    assert frame_answers(frame4(msg)) == []


def test_a_ttl_with_the_high_bit_set_is_read_as_positive():
    raw = bytearray(bytes(dns("a.test", ("a.test", "A", 5, "192.0.2.1"))))
    raw[-10:-6] = b"\xff\xff\xff\xff"  # TTL (RFC 2181: treat as zero... or huge; never negative)
    assert frame_answers(frame4(bytes(raw)))[0].ttl == 0x7FFFFFFF


HEADER = struct.pack(">HHHHHH", 1, 0x8180, 1, 1, 0, 0)


@pytest.mark.parametrize("frame", [
    frame4(CHAIN, sport=5353),  # not from port 53
    frame4(CHAIN, frag=10),  # a later fragment
    frame4(CHAIN)[:60],  # truncated
    bytes(Ether() / IP(src="203.0.113.10", dst="10.77.0.100") / TCP(sport=53) / (b"x" * 40)),
    bytes(Ether() / ARP()),
    b"\x00" * 13,
    frame4(HEADER + b"\xc0\x0c\x00\x01\x00\x01"),  # the question points at itself
    frame4(HEADER + b"\x01a\x00\x00\x01\x00\x01" + b"\xc0\x20"),  # a pointer forwards
    frame4(HEADER + b"\x01a\x00\x00\x01\x00\x01" + b"\x02a \x00"),  # a space in a name
    frame4(HEADER + b"\x01a\x00\x00\x01\x00\x01" + b"\x03a.b\x00"),  # a dot in a label
    frame4(HEADER + b"\x01a\x00\x00\x01\x00\x01" + b"\x80a\x00"),  # a reserved label type
    frame4(HEADER + b"\x01a\x00\x00\x01\x00\x01" + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x05\x00\x04\x01"),
    frame4(HEADER + (b"\x3f" + b"a" * 63) * 5 + b"\x00\x00\x01\x00\x01"),  # a name over 255 bytes
])
def test_broken_frames_raise_dns_error(frame):
    with pytest.raises(DnsError):
        frame_answers(frame)


def test_no_mangled_answer_raises_anything_but_dns_error():
    rng = random.Random(8)
    good = frame4(CHAIN)
    for _ in range(3000):
        raw = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            raw[rng.randrange(42, len(raw))] = rng.randrange(256)  # the DNS message only
        raw = raw[:rng.randrange(42, len(raw) + 1)] if rng.random() < 0.3 else raw
        try:
            for a in frame_answers(bytes(raw)):
                assert all(name.isascii() and " " not in name for name in a.chain)
        except DnsError:
            pass


def pointer_chain_answer(size: int = 1472) -> bytes:
    """A 1.5 kB answer (a full Ethernet frame) built to make a parser walk: an unknown record whose
    data is a chain of compression pointers, each to the one before it (all backwards, all legal one
    by one), ending at the question's name, then as many A records as fit, each owner pointing at the
    chain's top. Every owner decodes to the question's name, so each record is on the chain; reading
    them all naively takes a hop per link per record."""
    question = b"\x01a\x04test\x00\x00\x01\x00\x01"
    base = 12 + len(question) + 12  # where the chain starts: after the first record's owner and fixed part
    links, top = (size - base - 16 * 40) // 2, 12
    chain = bytearray()
    for i in range(links):
        chain += struct.pack(">H", 0xC000 | top)
        top = base + 2 * i
    body = bytearray(question + b"\xc0\x0c" + struct.pack(">HHIH", 0xFF00, 1, 60, len(chain)) + chain)
    records = 1
    while 12 + len(body) + 16 <= size:
        body += struct.pack(">HHHIH", 0xC000 | top, 1, 1, 60, 4) + bytes([192, 0, 2, records])
        records += 1
    return struct.pack(">HHHHHH", 1, 0x8180, 1, records, 0, 0) + bytes(body)


def udp4(payload: bytes, **ip) -> bytes:
    return bytes(Ether() / IP(src="203.0.113.10", dst="10.77.0.100", **ip) / UDP(sport=53, dport=40000)
                 / Raw(payload))


def test_a_pointer_chain_answer_is_malformed_and_costs_little():
    frame = udp4(pointer_chain_answer())
    assert 1400 < len(frame) <= 1514
    with pytest.raises(DnsError):
        frame_answers(frame)
    s = Snooper(CATS, FakeNft(), None)
    s.frame(frame, 1000.0)
    assert (s.frames, s.bad) == (1, 1) and not s.names


def test_a_long_answer_that_is_well_formed_is_still_read():
    """The bound on the work per answer leaves room for the biggest answers a frame holds: 89
    addresses for a name of six labels, each owner a pointer to the question's name, in 1.5 kB."""
    question = b"".join(bytes([len(p)]) + p for p in b"a.b.c.d.video.test".split(b".")) + b"\0\0\1\0\1"
    records = [struct.pack(">HHHIH", 0xC00C, 1, 1, 60, 4) + bytes([198, 51, 100, i]) for i in range(1, 90)]
    msg = struct.pack(">HHHHHH", 1, 0x8180, 1, len(records), 0, 0) + question + b"".join(records)
    frame = udp4(msg)
    assert len(frame) <= 1514
    got = frame_answers(frame)
    assert len(got) == 89 and got[-1] == Answer("198.51.100.89", 60, ("a.b.c.d.video.test",))
    scapy_built = [("www.video.test", "CNAME", 60, "edge.cdn.example")]  # scapy writes every name in full
    scapy_built += [("edge.cdn.example", "A", 60, f"198.51.100.{i}") for i in range(1, 81)]
    assert len(frame_answers(frame4(dns("www.video.test", *scapy_built)))) == 80


def _vlan(frame: bytes, tags: int, tpid: int = 0x8100) -> bytes:
    return frame[:12] + struct.pack(">HH", tpid, 5) * tags + frame[12:]


def _mutate(rng: random.Random, frame: bytes) -> bytes:
    """One of: bytes changed anywhere (Ethernet, VLAN, IP and UDP headers included), a header field
    set to an edge value, VLAN tags stacked, the frame cut short or grown."""
    raw = bytearray(frame)
    kind = rng.randrange(6)
    if kind == 0:
        for _ in range(rng.randint(1, 8)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
    elif kind == 1:
        for _ in range(rng.randint(1, 3)):
            raw[rng.randrange(min(len(raw), 62))] = rng.choice((0, 1, 0x45, 0x7F, 0x80, 0xC0, 0xFF))
    elif kind == 2:
        raw = bytearray(_vlan(bytes(raw), rng.choice((1, 2, 3, 50, 300)), rng.choice((0x8100, 0x88A8))))
    elif kind == 3:
        raw = raw[:rng.randrange(len(raw) + 1)]
    elif kind == 4:
        raw += bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    else:
        raw[rng.randrange(42, len(raw))] = rng.choice((0xC0, 0xFF, 0x3F))
        raw[rng.randrange(42, len(raw))] = rng.randrange(256)
    return bytes(raw)


def _cost(frame: bytes, repeats: int = 5, inner: int = 4) -> float:
    """Seconds one parse of `frame` takes: the least of a few timed runs, which noise only lengthens."""
    from time import perf_counter

    best = float("inf")
    for _ in range(repeats):
        t0 = perf_counter()
        for _ in range(inner):
            try:
                frame_answers(frame)
            except DnsError:
                pass
        best = min(best, perf_counter() - t0)
    return best / inner


def test_no_frame_costs_more_than_fifty_times_the_median():
    """Fuzzed frames of every shape the snooper's path reads (IPv4 with options, IPv6, one and two
    VLAN tags, a long answer, the pointer chain), mutated in every header and in the answer, over
    several seeds: nothing but DnsError comes out, and no frame takes more than 50 times the median
    frame's time (parse time, not a timed assertion on its own: a ratio within one run)."""
    aaaa = dns("V6.Video.TEST.", ("v6.video.test", "AAAA", 30, "2001:DB8:ABCD::1"), qtype="AAAA")
    many = dns("www.video.test", *[("www.video.test", "A", 60, f"198.51.100.{i}") for i in range(1, 40)])
    options = bytes(Ether() / IP(src="203.0.113.10", options=b"\x01" * 40) / UDP(sport=53) / CHAIN)
    bases = [frame4(CHAIN), frame6(CHAIN), frame6(aaaa), _vlan(frame4(CHAIN), 1),
             _vlan(frame6(aaaa), 2, 0x88A8), options, frame4(many), udp4(pointer_chain_answer())]
    frames = list(bases)
    for seed in (1, 2, 3, 4, 5):
        rng = random.Random(seed)
        for _ in range(150):
            frames.append(_mutate(rng, rng.choice(bases)))
    for frame in frames:
        try:
            for a in frame_answers(frame):
                assert all(name.isascii() and " " not in name for name in a.chain)
        except DnsError:
            pass
    costs = [_cost(f) for f in frames]
    median = sorted(costs)[len(costs) // 2]
    worst = max(range(len(frames)), key=costs.__getitem__)
    assert costs[worst] <= 50 * median, (
        f"frame {worst} ({len(frames[worst])} bytes) took {costs[worst] / median:.0f}x the median "
        f"({median * 1e6:.1f} us): {frames[worst][:80].hex()}")


# -- the kernel filter ------------------------------------------------------------------------------

OUTGOING, HOST = 4, 0


def run_bpf(frame: bytes, pkttype: int) -> int:
    """Classic BPF, the instructions BPF_PROGRAM uses; a load past the end drops the frame."""
    a = x = pc = 0
    while True:
        code, jt, jf, k = BPF_PROGRAM[pc]
        pc += 1
        try:
            if code == 0x20:
                a = pkttype if k == 0xFFFFF004 else struct.unpack_from(">I", frame, k)[0]
            elif code == 0x28:
                a = struct.unpack_from(">H", frame, k)[0]
            elif code == 0x30:
                a = frame[k]
            elif code == 0x48:
                a = struct.unpack_from(">H", frame, x + k)[0]
            elif code == 0xB1:
                x = (frame[k] & 0xF) * 4
            elif code == 0x15:
                pc += jt if a == k else jf
            elif code == 0x45:
                pc += jt if a & k else jf
            elif code == 0x06:
                return k
            else:
                raise AssertionError(f"opcode {code:#x}")
        except (struct.error, IndexError):
            return 0


@pytest.mark.parametrize("frame, pkttype, passes", [
    (frame4(CHAIN), OUTGOING, True),
    (frame6(CHAIN), OUTGOING, True),
    (bytes(Ether() / IP(options=b"\x01\x01\x01\x00") / UDP(sport=53) / CHAIN), OUTGOING, True),
    (frame4(CHAIN), HOST, False),  # a client's own "answer", into the router
    (frame4(CHAIN, sport=5353), OUTGOING, False),
    (bytes(Ether() / IP() / UDP(sport=4000, dport=53) / CHAIN), OUTGOING, False),  # a query
    (frame4(CHAIN, frag=10), OUTGOING, False),
    (bytes(Ether() / IP() / TCP(sport=53)), OUTGOING, False),
    (bytes(Ether() / IPv6() / TCP(sport=53)), OUTGOING, False),
    (bytes(Ether() / ARP()), OUTGOING, False),
])
def test_the_kernel_filter_passes_only_answers_going_to_clients(frame, pkttype, passes):
    assert bool(run_bpf(frame, pkttype)) is passes


# -- batches into the kernel and the names file -------------------------------------------------------

class FakeNft:
    def __init__(self, refuse=()):
        self.batches, self.refuse = [], set(refuse)
        self.handle = 1  # the table's: a new one is a rebuilt table

    def table_handle(self):
        return self.handle

    def add_category_addresses(self, entries):
        if {e[0] for e in entries} & self.refuse:
            raise NftError("Could not process rule: No space left on device")
        self.batches.append(sorted(entries))


@pytest.fixture
def db(tmp_path):
    return dnsnames.connect(str(tmp_path))


def test_a_flush_puts_categorised_addresses_in_the_kernel_and_every_name_in_the_file(db, tmp_path):
    nft = FakeNft()
    s = Snooper(CATS, nft, db, resolvers=RESOLVERS)
    s.frame(frame4(CHAIN), 1000.0)
    s.frame(frame4(dns("plain.example", ("plain.example", "A", 30, "192.0.2.3"))), 1000.0)
    s.frame(frame4(dns("x.example", ("x.example", "CNAME", 30, "dl.updates.test"),
                       ("dl.updates.test", "AAAA", 20, "2001:db8::5"), qtype="AAAA")), 1000.2)
    s.frame(b"garbage", 1000.2)
    assert not s.due(1000.4) and s.due(1000.5)
    s.flush(1000.5)
    assert nft.batches == [[("updates", "2001:db8::5", 20, 20), ("video", "198.51.100.1", 60, 60),
                            ("video", "198.51.100.2", 61, 60)]]
    assert (s.frames, s.bad) == (4, 1)
    addrs = ["198.51.100.1", "192.0.2.3", "2001:db8::5", "198.51.100.66"]
    assert dnsnames.names_for(str(tmp_path), addrs, 1000.5) == {
        "198.51.100.1": "www.video.test", "192.0.2.3": "plain.example", "2001:db8::5": "x.example"}
    assert db.execute("SELECT category FROM names WHERE addr = '192.0.2.3'").fetchone() == (None,)
    assert not s.due(1001.0)  # nothing waits


def test_an_answer_from_another_server_changes_no_set_and_names_only_its_device(db, tmp_path):
    """A device resolving through its own server can make it say anything ("8.8.8.8 is an update
    server"): only the router's resolver's answers reach the sets every device meets."""
    nft = FakeNft()
    s = Snooper(CATS, nft, db, resolvers=("10.77.0.1", "fe80::1"))
    own = dns("dl.updates.test", ("dl.updates.test", "A", 300, "8.8.8.8"))
    s.frame(bytes(Ether(dst="02:00:00:00:00:0a") / IP(src="203.0.113.10", dst="10.77.0.100")
                  / UDP(sport=53, dport=4000) / own), 1000.0)
    video = dns("www.video.test", ("www.video.test", "A", 60, "192.0.2.1"))
    s.frame(bytes(Ether(dst="02:00:00:00:00:0b") / IP(src="10.77.0.1", dst="10.77.0.101")
                  / UDP(sport=53, dport=4000) / video), 1000.0)
    v6 = dns("v6.video.test", ("v6.video.test", "AAAA", 60, "2001:db8::1"), qtype="AAAA")
    s.frame(bytes(Ether(dst="02:00:00:00:00:0b") / IPv6(src="fe80::1", dst="fe80::b")
                  / UDP(sport=53, dport=4000) / v6), 1000.0)
    s.flush(1000.5)
    assert nft.batches == [[("video", "192.0.2.1", 60, 60), ("video", "2001:db8::1", 60, 60)]]
    run = str(tmp_path)
    assert dnsnames.names_for(run, ["8.8.8.8", "192.0.2.1"], 1000.5) == {"192.0.2.1": "www.video.test"}
    assert dnsnames.names_for(run, ["8.8.8.8"], 1000.5, device="02:00:00:00:00:0b") == {}
    assert dnsnames.names_for(run, ["8.8.8.8"], 1000.5, device="02:00:00:00:00:0a") == {
        "8.8.8.8": "dl.updates.test"}
    s.set_resolvers(["203.0.113.10"])  # the LAN's addresses read again: now that server is the router's
    s.frame(bytes(Ether(dst="02:00:00:00:00:0a") / IP(src="203.0.113.10", dst="10.77.0.100")
                  / UDP(sport=53, dport=4000) / own), 1001.0)
    s.flush(1001.5)
    assert nft.batches[-1] == [("updates", "8.8.8.8", 300, 300)]


def test_a_repeated_answer_takes_the_latest_ttl_and_ttls_are_capped(db):
    nft = FakeNft()
    s = Snooper(CATS, nft, db, resolvers=RESOLVERS)
    s.frame(frame4(dns("a.video.test", ("a.video.test", "A", 300, "192.0.2.1"))), 1000.0)
    s.frame(frame4(dns("a.video.test", ("a.video.test", "A", 5, "192.0.2.1"))), 1000.1)
    s.frame(frame4(dns("b.video.test", ("b.video.test", "A", 0, "192.0.2.2"))), 1000.1)
    s.frame(frame4(dns("c.video.test", ("c.video.test", "A", 10**9, "192.0.2.3"))), 1000.1)
    s.flush(1000.6)
    assert nft.batches == [[("video", "192.0.2.1", 5, 4), ("video", "192.0.2.2", 1, 1),
                            ("video", "192.0.2.3", MAX_TTL, MAX_TTL)]]


def test_dns_min_ttl_keeps_short_lived_answers_long_enough_to_count(db):
    nft = FakeNft()
    # the default min TTL: a TTL-0 answer's connection still counts
    s = Snooper(CATS, nft, db, min_ttl=60, resolvers=RESOLVERS)
    s.frame(frame4(dns("b.video.test", ("b.video.test", "A", 0, "192.0.2.2"))), 1000.0)
    s.frame(frame4(dns("c.video.test", ("c.video.test", "A", 600, "192.0.2.3"))), 1000.0)
    s.flush(1000.5)
    assert nft.batches == [[("video", "192.0.2.2", 60, 60), ("video", "192.0.2.3", 600, 600)]]


def test_a_full_set_costs_only_its_own_category_and_is_logged_once(db, caplog):
    nft = FakeNft(refuse={"video"})
    s = Snooper(CATS, nft, db, resolvers=RESOLVERS)
    for at, addr in ((1000.0, "192.0.2.2"), (1001.0, "192.0.2.3")):
        s.frame(frame4(dns("a.video.test", ("a.video.test", "A", 30, "192.0.2.1"))), at)
        s.frame(frame4(dns("b.updates.test", ("b.updates.test", "A", 30, addr))), at)
        s.flush(at + 0.5)
    assert nft.batches == [[("updates", "192.0.2.2", 30, 30)], [("updates", "192.0.2.3", 30, 30)]]
    assert len([r for r in caplog.records if "kernel sets not updated" in r.message]) == 1


def test_answers_whose_ttl_ran_out_are_pruned(db, tmp_path):
    s = Snooper(CATS, FakeNft(), db, resolvers=RESOLVERS)
    s.frame(frame4(dns("a.test", ("a.test", "A", 2, "192.0.2.1"))), 1000.0)
    s.flush(1000.5)
    s.next_prune = 0
    s.flush(1003.0)
    assert db.execute("SELECT count(*) FROM names").fetchone() == (0,)


# -- the nft commands ---------------------------------------------------------------------------------

def test_each_address_is_added_deleted_and_added_again_in_its_set_and_the_union():
    text = category_address_text([("video", "192.0.2.1", 30, 29), ("video", "2001:DB8::1", 5, 5),
                                  ("games", "192.0.2.2", 60, 60)])
    both = "192.0.2.1 timeout 30s expires 29s, 192.0.2.2 timeout 60s expires 60s"
    assert text.splitlines() == [
        "add element inet hotspot c4_video { 192.0.2.1 timeout 30s expires 29s }",
        "delete element inet hotspot c4_video { 192.0.2.1 }",
        "add element inet hotspot c4_video { 192.0.2.1 timeout 30s expires 29s }",
        f"add element inet hotspot c4_any {{ {both} }}",
        "delete element inet hotspot c4_any { 192.0.2.1, 192.0.2.2 }",
        f"add element inet hotspot c4_any {{ {both} }}",
        "add element inet hotspot c6_video { 2001:db8::1 timeout 5s expires 5s }",
        "delete element inet hotspot c6_video { 2001:db8::1 }",
        "add element inet hotspot c6_video { 2001:db8::1 timeout 5s expires 5s }",
        "add element inet hotspot c6_any { 2001:db8::1 timeout 5s expires 5s }",
        "delete element inet hotspot c6_any { 2001:db8::1 }",
        "add element inet hotspot c6_any { 2001:db8::1 timeout 5s expires 5s }",
        "add element inet hotspot c4_games { 192.0.2.2 timeout 60s expires 60s }",
        "delete element inet hotspot c4_games { 192.0.2.2 }",
        "add element inet hotspot c4_games { 192.0.2.2 timeout 60s expires 60s }"]


@pytest.mark.parametrize("entry", [
    ("ads", "192.0.2.1", 30, 30), ("video", "192.0.2.1; flush ruleset", 30, 30),
    ("video", "192.0.2.1 }; flush ruleset; add element inet hotspot c4_video { 192.0.2.1", 30, 30),
    ("video", "::1 } ; flush ruleset", 30, 30), ("video", "fe80::1%eth0", 30, 30),
    ("video", 3221225985, 30, 30),
    ("video", "192.0.2.1", 30, 31), ("video", "192.0.2.1", 30, 0), ("video", "192.0.2.1", "30s; flush", 30),
    ("video", "192.0.2.1", 30, "1; flush ruleset")])
def test_a_bad_entry_sends_nothing(entry):
    with pytest.raises(ValueError):
        category_address_text([("video", "192.0.2.9", 30, 30), entry])


# -- answers that only move an expiry on: written once, before the held one runs out --------------

def test_a_repeated_answer_waits_and_is_written_before_the_held_one_expires(db, tmp_path):
    nft = FakeNft()
    s = Snooper(CATS, nft, db, resolvers=RESOLVERS)
    video = frame4(dns("a.video.test", ("a.video.test", "A", 30, "192.0.2.1")))
    s.frame(video, 1000.0)
    s.flush(1000.5)
    for at in (1002.0, 1010.0, 1020.0):  # the same answer again: nothing to write yet
        s.frame(video, at)
        assert not s.due(at + 0.5), at
        s.flush(at + 0.5)
    assert nft.batches == [[("video", "192.0.2.1", 30, 30)]]
    assert db.execute("SELECT expires FROM names").fetchall() == [(1030.0,)]
    assert s.wake_at() == 1030.0 - AHEAD
    assert s.due(1025.0)
    s.flush(1025.0)  # the latest answer's TTL, and the time it has left
    assert nft.batches[-1] == [("video", "192.0.2.1", 30, 25)]
    assert db.execute("SELECT expires FROM names").fetchall() == [(1050.0,)]
    assert dnsnames.names_for(str(tmp_path), ["192.0.2.1"], 1049.0) == {"192.0.2.1": "a.video.test"}
    assert s.wake_at() == s.next_prune  # no answer since: nothing wakes for it, and it is forgotten
    s.flush(1045.0)
    s.next_prune = 0
    s.flush(1050.0)
    assert len(nft.batches) == 2 and len(s.kernel_held) == len(s.names_held) == 0


def test_what_changes_is_written_at_once(db, tmp_path):
    nft = FakeNft()
    s = Snooper(CATS, nft, db, resolvers=RESOLVERS)
    s.frame(frame4(dns("a.video.test", ("a.video.test", "A", 300, "192.0.2.1"))), 1000.0)
    s.flush(1000.5)
    s.frame(frame4(dns("a.video.test", ("a.video.test", "A", 20, "192.0.2.1"))), 1001.0)  # sooner
    s.frame(frame4(dns("b.updates.test", ("b.updates.test", "A", 300, "192.0.2.1"))), 1001.0)  # renamed
    s.flush(1001.5)
    assert nft.batches[-1] == [("updates", "192.0.2.1", 300, 300), ("video", "192.0.2.1", 20, 20)]
    assert dnsnames.names_for(str(tmp_path), ["192.0.2.1"], 1001.5) == {"192.0.2.1": "b.updates.test"}
    s.frame(frame4(dns("c.video.test", ("c.video.test", "A", 3, "192.0.2.2"))), 1002.0)
    s.flush(1002.5)
    s.frame(frame4(dns("c.video.test", ("c.video.test", "A", 3, "192.0.2.2"))), 1003.0)  # held < 5 s
    s.flush(1003.5)
    assert nft.batches[-2:] == [[("video", "192.0.2.2", 3, 2)], [("video", "192.0.2.2", 3, 2)]]


def test_a_rebuilt_table_gets_every_held_address_again(db):
    nft = FakeNft()
    s = Snooper(CATS, nft, db, resolvers=RESOLVERS)
    s.frame(frame4(dns("a.video.test", ("a.video.test", "A", 60, "192.0.2.1"))), 1000.0)
    s.frame(frame4(dns("b.updates.test", ("b.updates.test", "A", 60, "192.0.2.2"))), 1000.0)
    s.flush(1000.5)
    s.frame(frame4(dns("a.video.test", ("a.video.test", "A", 60, "192.0.2.1"))), 1010.0)  # waits
    nft.handle = 2  # hotspotd rebuilt the table: its sets are empty
    s.flush(1010.5)
    assert nft.batches[-1] == [("updates", "192.0.2.2", 60, 50), ("video", "192.0.2.1", 60, 60)]


def test_addresses_are_spelt_as_ipaddress_spells_them():
    import ipaddress

    from hotspot.apps.snoop.wire import address_text

    rng = random.Random(5)
    hextets = (0, 0, 0, 1, 0xFFFF, 0xDB8, 0x2001, 0xABCD)  # zero runs of every length and place
    raws = [bytes(rng.getrandbits(8) for _ in range(4)) for _ in range(200)]
    raws += [struct.pack(">8H", *(rng.choice(hextets) for _ in range(8))) for _ in range(3000)]
    raws += [ipaddress.IPv6Address(a).packed for a in ("::", "::1", "::ffff:192.0.2.1", "::192.0.2.1",
                                                        "64:ff9b::192.0.2.1", "::ffff:0:0", "1::")]
    for raw in raws:
        assert address_text(raw) == str(ipaddress.ip_address(raw)), raw.hex()


def test_past_its_limit_an_entry_is_not_held_and_each_answer_is_written():
    from hotspot.apps.snoop.held import Held

    held = Held(max_held=2)
    for i in range(3):
        held.written(i, None, 1100.0, i)
    assert len(held) == 2
    assert held.wait(0, None, 1101.0, "later", 1000.0)  # held: it waits
    assert not held.wait(2, None, 1101.0, "later", 1000.0)  # not held: written now
    assert held.due(1095.0) == [(0, "later")]
