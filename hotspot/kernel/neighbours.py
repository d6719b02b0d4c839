"""The kernel's neighbour table and the LAN's own addresses, over rtnetlink.

The portal names a client by the source address of its request only; this turns that address into
the MAC the kernel last saw using it, with one RTM_GETNEIGH for that address (O(1) in clients, no dump,
no `ip` process). Discovery dumps the whole table once per poll.

Hand-written rather than pyroute2: importing pyroute2 (0.7) loads some 400 modules, 24 MB of RSS in
hotspotd, which alone breaks the daemon's memory goal (daemon_rss_mb_5000 <= 40; measured 58 MB with
it, 29 MB without). Three requests need a few dozen lines of netlink (netlink.py).
"""

from __future__ import annotations

import ipaddress
import socket
import struct

from hotspot.kernel.netlink import NETLINK_ROUTE, NLM_F_DUMP, attrs, messages, pack_attr, request

RTM_NEWNEIGH, RTM_GETNEIGH, RTM_GETADDR = 28, 30, 22
NDA_DST, NDA_LLADDR = 1, 2
IFA_ADDRESS, IFA_LOCAL = 1, 2
_NDMSG = struct.Struct("=BBHiHBB")  # family, pad, pad, ifindex, state, flags, type
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, ifindex
# REACHABLE STALE DELAY PROBE NOARP PERMANENT: an entry the kernel would send to
_USABLE = 0x02 | 0x04 | 0x08 | 0x10 | 0x40 | 0x80


def ifindex(dev: str) -> int | None:
    try:
        return socket.if_nametoindex(dev)
    except OSError:
        return None


def _ask(msg_type: int, flags: int, body: bytes):
    """One rtnetlink request; (type, buffer, start, end) of each answer."""
    return request(NETLINK_ROUTE, msg_type, flags, body)


def _neighbour(data: bytes, start: int, end: int) -> tuple[int, str | None, str | None]:
    """(ifindex, address, MAC) of a usable entry, or (ifindex, None, None)."""
    _family, _p1, _p2, index, state, _flags, _type = _NDMSG.unpack_from(data, start)
    dst = mac = None
    for kind, a, b in attrs(data, start + _NDMSG.size, end):
        if kind == NDA_DST:
            dst = str(ipaddress.ip_address(bytes(data[a:b])))
        elif kind == NDA_LLADDR and b - a == 6:
            mac = ":".join(f"{x:02x}" for x in data[a:b])
    if not state & _USABLE:
        return index, None, None
    return index, dst, mac


def mac_of(ip: str, dev: str) -> str | None:
    """The MAC behind `ip` on `dev`, or None (not a neighbour, or an entry that failed)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    idx = ifindex(dev)
    if idx is None:
        return None
    family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
    body = _NDMSG.pack(family, 0, 0, idx, 0, 0, 0) + pack_attr(NDA_DST, addr.packed)
    try:
        for kind, data, start, end in _ask(RTM_GETNEIGH, 0, body):
            if kind == RTM_NEWNEIGH:
                return _neighbour(data, start, end)[2]
    except OSError:
        return None  # ENOENT: no such neighbour
    return None


def neighbours(dev: str) -> dict[str, list[str]]:
    """{mac: [addresses]} of every usable neighbour on `dev`; link-local and multicast skipped."""
    idx = ifindex(dev)
    if idx is None:
        return {}
    found: dict[str, list[str]] = {}
    for kind, data, start, end in _ask(RTM_GETNEIGH, NLM_F_DUMP, _NDMSG.pack(0, 0, 0, 0, 0, 0, 0)):
        if kind != RTM_NEWNEIGH:
            continue
        index, dst, mac = _neighbour(data, start, end)
        if index != idx or dst is None or mac is None:
            continue
        addr = ipaddress.ip_address(dst)
        if addr.is_link_local or addr.is_multicast:
            continue
        found.setdefault(mac, []).append(dst)
    return found


def addresses(dev: str, link_local: bool = False) -> list[str]:
    """The device's own addresses (IPv4 and global/ULA IPv6, where the portal listens; and the
    link-local ones with `link_local`)."""
    idx = ifindex(dev)
    if idx is None:
        return []
    out = []
    for _kind, data, start, end in _ask(RTM_GETADDR, NLM_F_DUMP, _IFADDRMSG.pack(0, 0, 0, 0, 0)):
        _family, _plen, _flags, _scope, index = _IFADDRMSG.unpack_from(data, start)
        if index != idx:
            continue
        found = {kind: bytes(data[a:b]) for kind, a, b in attrs(data, start + _IFADDRMSG.size, end)}
        raw = found.get(IFA_LOCAL) or found.get(IFA_ADDRESS)
        if raw:
            addr = ipaddress.ip_address(raw)
            if link_local or not addr.is_link_local:
                out.append(str(addr))
    return out


RTMGRP_NEIGH = 0x4


class NeighbourWatch:
    """The kernel's notices of new neighbours on the LAN device, so hotspotd registers a device the
    moment the router learns its MAC (its first ARP or neighbour solicitation, which comes before its
    first forwarded packet) rather than at the next poll. Its bytes before that are counted all the
    same (nft/hotspot.nft: unreg_*); this makes them few."""

    def __init__(self, dev: str) -> None:
        self.dev = dev
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK, NETLINK_ROUTE)
        self.sock.bind((0, RTMGRP_NEIGH))

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def read(self) -> set[str]:
        """The MACs of neighbours on the LAN device notified since the last read (without blocking);
        after an overrun (ENOBUFS) the caller finds them in the next dump anyway."""
        idx = ifindex(self.dev)
        found: set[str] = set()
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except BlockingIOError:
                return found
            except OSError as e:
                if e.errno != 105:  # ENOBUFS: notices were lost; the poll's dump has them
                    raise
                continue
            for kind, start, end in messages(data):
                if kind == RTM_NEWNEIGH and end - start >= _NDMSG.size:
                    index, _dst, mac = _neighbour(data, start, end)
                    if index == idx and mac is not None:
                        found.add(mac)
