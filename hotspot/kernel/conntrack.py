"""Conntrack over ctnetlink: ends portal redirects, re-marks a forgotten client's connections, lists flows.

Connections the kernel redirected to the portal end when a client is let through. A browser holds
connections it opened to a site while it was captive (Chromium opens a spare one with the first):
the kernel sent them to the portal, and conntrack keeps sending them there after the client is
admitted, so the browser would meet the portal again in that site's name. Deleting their entries
makes the next packet on such a connection fail, and the browser opens a new one, which goes out.

Hand-written ctnetlink (one dump per address family, one delete per entry found): pyroute2's
conntrack helpers always ask for IPv4 (the family of the request is not theirs to set), a client's
IPv6 connections matter as much, and pyroute2 costs hotspotd 24 MB to import (neighbours.py).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from dataclasses import dataclass

from hotspot.kernel.netlink import (
    NETLINK_NETFILTER,
    NLM_F_ACK,
    NLM_F_DUMP,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    attrs,
    messages,
    pack_attr,
)

_SUBSYS_CTNETLINK = 1
_MSG_GET, _MSG_DELETE = 1, 2
_CTA_TUPLE_ORIG, _CTA_TUPLE_REPLY = 1, 2
_CTA_MARK, _CTA_COUNTERS_ORIG, _CTA_COUNTERS_REPLY, _CTA_ID = 8, 9, 10, 12
_CTA_COUNTERS_BYTES = 2
_CTA_TUPLE_IP, _CTA_TUPLE_PROTO = 1, 2
_CTA_IP_V4_SRC, _CTA_IP_V4_DST, _CTA_IP_V6_SRC, _CTA_IP_V6_DST = 1, 2, 3, 4
_CTA_PROTO_NUM, _CTA_PROTO_SRC_PORT, _CTA_PROTO_DST_PORT = 1, 2, 3


def _request(sock: socket.socket, msg: int, family: int, flags: int, payload: bytes = b"") -> None:
    body = struct.pack("=BBH", family, 0, 0) + payload
    sock.send(struct.pack("=IHHII", 16 + len(body), (_SUBSYS_CTNETLINK << 8) | msg, flags, 1, 0) + body)


def _acked(sock: socket.socket, msg: int, family: int, payload: bytes) -> bool:
    """Send one change to a connection and read its answer: True when done, False when the
    connection ended meanwhile (ENOENT); any other refusal is an error."""
    _request(sock, msg, family, NLM_F_REQUEST | NLM_F_ACK, payload)
    data = sock.recv(4096)
    for kind, body, _end in messages(data):
        if kind == NLMSG_ERROR:
            (errno,) = struct.unpack_from("=i", data, body)
            if errno and -errno != 2:
                raise OSError(-errno, os.strerror(-errno))
            return errno == 0
    return False


def _tuple(buf: bytes, start: int, end: int) -> tuple[str | None, int | None, int | None, int | None]:
    """(source address, protocol, source port, destination port) of a CTA_TUPLE_* attribute."""
    src = proto = sport = dport = None
    for kind, a, b in attrs(buf, start, end):
        if kind == _CTA_TUPLE_IP:
            for k, x, y in attrs(buf, a, b):
                if k in (_CTA_IP_V4_SRC, _CTA_IP_V6_SRC):
                    src = str(ipaddress.ip_address(bytes(buf[x:y])))
        elif kind == _CTA_TUPLE_PROTO:
            for k, x, _y in attrs(buf, a, b):
                if k == _CTA_PROTO_NUM:
                    proto = buf[x]
                elif k == _CTA_PROTO_SRC_PORT:
                    sport = struct.unpack_from(">H", buf, x)[0]
                elif k == _CTA_PROTO_DST_PORT:
                    dport = struct.unpack_from(">H", buf, x)[0]
    return src, proto, sport, dport


def _redirected(sock: socket.socket, family: int, ips: set[str], port: int) -> list[bytes]:
    """The original tuples (raw attributes) of the family's TCP port 80 entries from `ips` whose
    replies come from `port` on the router."""
    _request(sock, _MSG_GET, family, NLM_F_REQUEST | NLM_F_DUMP)
    found = []
    while True:
        data = sock.recv(1 << 16)
        for kind, body, end in messages(data):
            if kind in (NLMSG_DONE, NLMSG_ERROR):
                return found
            orig = reply = None
            for k, a, b in attrs(data, body + 4, end):  # after the nfgenmsg header
                if k == _CTA_TUPLE_ORIG:
                    orig = (a, b)
                elif k == _CTA_TUPLE_REPLY:
                    reply = (a, b)
            if orig is None or reply is None:
                continue
            src, proto, _sport, dport = _tuple(data, *orig)
            rsport = _tuple(data, *reply)[2]
            if proto == socket.IPPROTO_TCP and dport == 80 and rsport == port and src in ips:
                found.append(bytes(data[orig[0]:orig[1]]))


def drop_redirected(ips: list[str], portal_port: int) -> int:
    """Delete the conntrack entries of plain HTTP from `ips` that the kernel redirected to the
    portal's port; returns how many went."""
    wanted = {str(ipaddress.ip_address(ip)) for ip in ips}
    dropped = 0
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER) as sock:
        for family in (socket.AF_INET, socket.AF_INET6):
            for orig in _redirected(sock, family, wanted, portal_port):
                nested = pack_attr(_CTA_TUPLE_ORIG | 0x8000, orig)  # NLA_F_NESTED
                dropped += _acked(sock, _MSG_DELETE, family, nested)
    return dropped


_MSG_NEW = 0
_CTA_ZONE, _CTA_MARK_MASK = 18, 21


def remark(marks: set[int], mask: int, new: int) -> int:
    """Give every connection (IPv4 and IPv6) whose mark holds one of `marks` in the bits of `mask`
    the value `new` in those bits instead, keeping the others (mwan3's); returns how many changed.
    A forgotten client's connections become a not-registered device's: they go on (an IPv4
    connection's NAT lives in its entry, so deleting the entry would end it) and their packets,
    counted as not registered, reach nothing of the next client given the id (its down chain is
    found by the mark). One dump of the whole table (the kernel walks every bucket of its hash for
    each, so never one per client; filtered by the kernel when there is one mark), then one update
    per connection found."""
    if not marks:
        return 0
    changed = 0
    wanted = b""
    if len(marks) == 1:
        wanted = (pack_attr(_CTA_MARK, struct.pack(">I", next(iter(marks))))
                  + pack_attr(_CTA_MARK_MASK, struct.pack(">I", mask)))
    update = (pack_attr(_CTA_MARK, struct.pack(">I", new & mask))
              + pack_attr(_CTA_MARK_MASK, struct.pack(">I", mask)))
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        for family, orig, zone in _marked(sock, wanted, marks, mask):
            payload = pack_attr(_CTA_TUPLE_ORIG | 0x8000, orig) + zone + update  # NLA_F_NESTED
            changed += _acked(sock, _MSG_NEW, family, payload)
    return changed


def _marked(sock: socket.socket, wanted: bytes, marks: set[int],
            mask: int) -> list[tuple[int, bytes, bytes]]:
    """(family, original tuple, zone attribute or b"") of the entries of every family (AF_UNSPEC)
    whose mark holds one of `marks` in `mask` (`wanted`: the kernel's filter, if any)."""
    _request(sock, _MSG_GET, socket.AF_UNSPEC, NLM_F_REQUEST | NLM_F_DUMP, wanted)
    found = []
    while True:
        data = sock.recv(1 << 16)
        for kind, body, end in messages(data):
            if kind in (NLMSG_DONE, NLMSG_ERROR):
                return found
            orig, zone, value = None, b"", 0
            for k, a, b in attrs(data, body + 4, end):  # after the nfgenmsg header
                if k == _CTA_TUPLE_ORIG:
                    orig = bytes(data[a:b])
                elif k == _CTA_ZONE:
                    zone = pack_attr(_CTA_ZONE, bytes(data[a:b]))
                elif k == _CTA_MARK:
                    (value,) = struct.unpack_from(">I", data, a)
            if orig is not None and value & mask in marks:
                found.append((data[body], orig, zone))


# -- flows with byte counters (ghost traffic: which destinations carried a client's bytes) ---------

ACCT_SYSCTL = "/proc/sys/net/netfilter/nf_conntrack_acct"


@dataclass(frozen=True)
class Flow:
    """One conntrack entry: its id, mark, the original direction's source and destination (the
    client and the remote end for a connection the client opened) and the bytes each way so far
    (0 when the kernel keeps no counters: nf_conntrack_acct off when it began)."""

    id: int
    mark: int
    src: str
    dst: str
    up: int
    down: int


def enable_accounting(path: str = ACCT_SYSCTL) -> bool:
    """Have the kernel count each connection's bytes (net.netfilter.nf_conntrack_acct, per network
    namespace; connections opened before have no counters). True if it is on."""
    try:
        with open(path, "r+") as f:
            if f.read().strip() != "1":
                f.seek(0)
                f.write("1")
        return True
    except OSError:
        return False


def _addresses(buf: bytes, start: int, end: int) -> tuple[str | None, str | None]:
    src = dst = None
    for kind, a, b in attrs(buf, start, end):
        if kind == _CTA_TUPLE_IP:
            for k, x, y in attrs(buf, a, b):
                if k in (_CTA_IP_V4_SRC, _CTA_IP_V6_SRC):
                    src = str(ipaddress.ip_address(bytes(buf[x:y])))
                elif k in (_CTA_IP_V4_DST, _CTA_IP_V6_DST):
                    dst = str(ipaddress.ip_address(bytes(buf[x:y])))
    return src, dst


def _bytes(buf: bytes, start: int, end: int) -> int:
    for kind, a, _b in attrs(buf, start, end):
        if kind == _CTA_COUNTERS_BYTES:
            return struct.unpack_from(">Q", buf, a)[0]
    return 0


def parse_flow(buf: bytes, body: int, end: int) -> Flow | None:
    """One ctnetlink message (its body from the nfgenmsg header on) as a Flow; None without tuple."""
    cid = mark = up = down = 0
    src = dst = None
    for k, a, b in attrs(buf, body + 4, end):
        if k == _CTA_TUPLE_ORIG:
            src, dst = _addresses(buf, a, b)
        elif k == _CTA_MARK:
            (mark,) = struct.unpack_from(">I", buf, a)
        elif k == _CTA_ID:
            (cid,) = struct.unpack_from(">I", buf, a)
        elif k == _CTA_COUNTERS_ORIG:
            up = _bytes(buf, a, b)
        elif k == _CTA_COUNTERS_REPLY:
            down = _bytes(buf, a, b)
    if src is None or dst is None:
        return None
    return Flow(cid, mark, src, dst, up, down)


def flows(mask: int) -> list[Flow]:
    """Every conntrack entry (IPv4 and IPv6) whose mark has bits in `mask` (a client's id)."""
    found = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER) as sock:
        for family in (socket.AF_INET, socket.AF_INET6):
            _request(sock, _MSG_GET, family, NLM_F_REQUEST | NLM_F_DUMP)
            done = False
            while not done:
                data = sock.recv(1 << 16)
                for kind, body, end in messages(data):
                    if kind in (NLMSG_DONE, NLMSG_ERROR):
                        done = True
                        break
                    f = parse_flow(data, body, end)
                    if f is not None and f.mark & mask:
                        found.append(f)
    return found
