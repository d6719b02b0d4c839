"""The addresses a captured DNS answer gives, read from the frame's bytes by hand.

The DNS snooper (hotspot/apps/snoop/snooper.py) captures the frames; it parses here: scapy's own DNS layer
took 390-620 us per answer (Ether/IP/UDP/DNS dissection, or DNS alone, a CNAME and two A records,
x86-64), i.e. 40-60 % of a core at 1,000 answers/s where the goal is 6 %, and a router's
CPU is several times slower. This reads only what the snooper needs: the question, the CNAME chain
and the A/AAAA records on it, in ~15 us (tests/bench/snoop.py).

Everything here is attacker-controlled: any frame that is not a well-formed answer raises
DnsError (never anything else), and names are checked before anyone sees them.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from typing import NamedTuple

TYPE_A, TYPE_CNAME, TYPE_AAAA = 1, 5, 28
CLASS_IN = 1
MAX_CHAIN = 16  # CNAME hops followed from the question (resolvers stop at about 8-16)
# Pointers followed, and labels read again behind them, per message, over all its names. Each
# pointer may only go backwards, so no name loops, but chains of them can make every record's name a
# walk through the whole message: a 1.5 kB answer built so took 650 times an ordinary one. (What a
# name holds in place is read once: the message's length bounds that.) A full frame holds about 90
# address records (16 bytes each); owners that each point to a name of 6 labels take 90 x 8 = 720.
# A message that needs more is malformed.
MAX_NAME_STEPS = 768
MAX_VLAN_TAGS = 2  # 802.1Q, or 802.1ad with the 802.1Q tag inside it
_ETH_VLAN = (0x8100, 0x88A8)
_H = struct.Struct(">H")
_DNS_HEADER = struct.Struct(">HHHHHH")
_RR = struct.Struct(">HHIH")  # type, class, ttl, rdlength
# Bytes a name may hold: letters, digits, '-', '_' (SRV-style labels) and '*'. Anything else
# (spaces, dots inside a label, control or non-ASCII bytes) does not name a host a client reaches.
_NAME_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_*")


class DnsError(ValueError):
    """Not a DNS answer this reads (malformed, truncated, or not an answer at all)."""


class Answer(NamedTuple):
    addr: str  # as ipaddress prints it
    ttl: int  # seconds, the address record's own
    chain: tuple[str, ...]  # the name asked for, then each CNAME target down to the record's owner


class Reply(NamedTuple):
    server: bytes  # the answer's source address, packed (4 or 16 bytes)
    client: str  # the frame's Ethernet destination, the device the answer goes to (aa:bb:cc:dd:ee:ff)
    answers: list[Answer]


def frame_reply(frame: bytes) -> Reply:
    """Who sent the answer in one captured frame, to which device, and what it says; DnsError for
    anything else, whatever the bytes."""
    try:
        server, payload = udp_payload(frame)
        return Reply(server, frame[:6].hex(":"), answers(payload))
    except DnsError:
        raise
    except (struct.error, IndexError, ValueError) as e:  # belt and braces: every read is bounded
        raise DnsError(f"malformed: {e}") from None


def frame_answers(frame: bytes) -> list[Answer]:
    """The answers in one captured frame; DnsError for anything else, whatever the bytes."""
    return frame_reply(frame).answers


def udp_payload(frame: bytes) -> tuple[bytes, bytes]:
    """(source address, packed; payload) of an Ethernet frame's UDP datagram from port 53 (IPv4
    unfragmented or the first fragment, IPv6 without extension headers)."""
    off = 12
    if len(frame) < 14:
        _fail("short frame")
    (ethertype,) = _H.unpack_from(frame, off)
    tags = 0
    while ethertype in _ETH_VLAN:  # a tag left in the frame (the kernel most often strips it)
        tags += 1
        off += 4
        if tags > MAX_VLAN_TAGS or len(frame) < off + 2:
            _fail("too many VLAN tags" if tags > MAX_VLAN_TAGS else "short frame")
        (ethertype,) = _H.unpack_from(frame, off)
    ip = off + 2
    if ethertype == 0x0800:
        if len(frame) < ip + 20 or frame[ip] >> 4 != 4:
            _fail("bad IPv4 header")
        ihl = (frame[ip] & 0xF) * 4
        total = _H.unpack_from(frame, ip + 2)[0]
        if frame[ip + 9] != 17 or ihl < 20 or _H.unpack_from(frame, ip + 6)[0] & 0x1FFF:
            _fail("not a first UDP fragment")
        udp, end = ip + ihl, min(len(frame), ip + total)
        source = frame[ip + 12:ip + 16]
    elif ethertype == 0x86DD:
        if len(frame) < ip + 40 or frame[ip] >> 4 != 6 or frame[ip + 6] != 17:
            _fail("not IPv6 UDP")
        udp, end = ip + 40, min(len(frame), ip + 40 + _H.unpack_from(frame, ip + 4)[0])
        source = frame[ip + 8:ip + 24]
    else:
        _fail("not IP")
    if end < udp + 8 or _H.unpack_from(frame, udp)[0] != 53:
        _fail("not UDP from port 53")
    return source, frame[udp + 8:min(end, udp + _H.unpack_from(frame, udp + 4)[0])]


def answers(msg: bytes) -> list[Answer]:
    """The A/AAAA records on the question's CNAME chain in a DNS response. Records that are off the
    chain (a client's resolver ignores them too) and every other type are skipped."""
    if len(msg) < 12:
        _fail("short DNS header")
    _id, flags, qdcount, ancount, _ns, _ar = _DNS_HEADER.unpack_from(msg)
    if not flags & 0x8000 or flags & 0x7800 or flags & 0xF:  # QR, opcode QUERY, rcode NOERROR
        return []
    if qdcount != 1:
        _fail("not one question")
    asked, pos, steps = read_name(msg, 12, MAX_NAME_STEPS)
    pos += 4  # qtype, qclass
    cnames: dict[str, str] = {}
    records: list[tuple[str, int, bytes]] = []
    for _ in range(ancount):
        owner, pos, steps = read_name(msg, pos, steps)
        if pos + 10 > len(msg):
            _fail("truncated record")
        rtype, rclass, ttl, rdlen = _RR.unpack_from(msg, pos)
        pos += 10
        if pos + rdlen > len(msg):
            _fail("truncated record")
        if rclass == CLASS_IN:
            if rtype == TYPE_CNAME:
                target, _end, steps = read_name(msg, pos, steps)
                cnames.setdefault(owner, target)
            elif rtype == TYPE_A and rdlen == 4 or rtype == TYPE_AAAA and rdlen == 16:
                records.append((owner, ttl & 0x7FFFFFFF, msg[pos:pos + rdlen]))  # RFC 2181 8
        pos += rdlen
    if not records:
        return []
    chain = [asked]
    while chain[-1] in cnames and len(chain) <= MAX_CHAIN:
        target = cnames[chain[-1]]
        if target in chain:
            break  # a loop
        chain.append(target)
    depth = {name: i for i, name in enumerate(chain)}
    out = []
    for owner, ttl, raw in records:
        i = depth.get(owner)
        if i is not None:
            out.append(Answer(address_text(raw), ttl, tuple(chain[:i + 1])))
    return out


def address_text(raw: bytes) -> str:
    """A packed address as ipaddress prints it (the names file's and nft's spelling), by the C
    library's inet_ntop, five times quicker; ipaddress only for the IPv6 forms inet_ntop writes with
    a dotted quad in them (::ffff:a.b.c.d, ::a.b.c.d)."""
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw)
    text = socket.inet_ntop(socket.AF_INET6, raw)
    return text if "." not in text else str(ipaddress.IPv6Address(raw))


def read_name(msg: bytes, pos: int, steps: int) -> tuple[str, int, int]:
    """(name, lower case without the final dot; the position after it; what is left of `steps`),
    following compression pointers, which may only point backwards (so a loop cannot run forever).
    Each pointer followed and each label read behind one takes one of `steps`, the message's
    budget (MAX_NAME_STEPS)."""
    labels: list[bytes] = []
    end = None  # where the name ends in the record, once a pointer is followed
    size = 0
    limit = pos  # a pointer must go before the last place we jumped from
    while True:
        if pos >= len(msg):
            _fail("truncated name")
        if end is not None:  # behind a pointer: what this message's names may read again
            steps -= 1
            if steps < 0:
                _fail("too many compression pointers and labels behind them in one message")
        n = msg[pos]
        if n == 0:
            pos += 1
            break
        if n & 0xC0 == 0xC0:
            if pos + 1 >= len(msg):
                _fail("truncated pointer")
            target = ((n & 0x3F) << 8) | msg[pos + 1]
            if end is None:
                end = pos + 2
            if target >= limit:
                _fail("forward or looping pointer")
            pos = limit = target
            continue
        if n & 0xC0:
            _fail("bad label type")
        label = msg[pos + 1:pos + 1 + n]
        if len(label) != n:
            _fail("truncated label")
        size += n + 1
        if size > 255:
            _fail("name too long")
        if not _NAME_BYTES.issuperset(label):
            _fail("bad byte in name")
        labels.append(label)
        pos += 1 + n
    return b".".join(labels).decode("ascii").lower(), pos if end is None else end, steps


def _fail(why: str):
    raise DnsError(why)
