"""The kernel's neighbour table over rtnetlink (pyroute2): who is behind a LAN address.

The portal names a client by the source address of its request only; this turns that address into
the MAC the kernel last saw using it, with one RTM_GETNEIGH for that address (O(1) in clients, no
dump, no `ip` process). pyroute2 sockets are not shared between threads: one per thread.
"""

from __future__ import annotations

import ipaddress
import threading

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

_USABLE = 0x02 | 0x04 | 0x08 | 0x10 | 0x40 | 0x80  # REACHABLE STALE DELAY PROBE NOARP PERMANENT
_local = threading.local()


def _ipr() -> IPRoute:
    ipr = getattr(_local, "ipr", None)
    if ipr is None:
        ipr = _local.ipr = IPRoute()
    return ipr


def ifindex(dev: str) -> int | None:
    found = _ipr().link_lookup(ifname=dev)
    return found[0] if found else None


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
    try:
        found = _ipr().neigh("get", dst=str(addr), ifindex=idx)
    except NetlinkError:
        return None
    for n in found:
        mac = n.get_attr("NDA_LLADDR")
        if mac and n["state"] & _USABLE:
            return mac.lower()
    return None


def neighbours(dev: str) -> dict[str, list[str]]:
    """{mac: [addresses]} of every usable neighbour on `dev`; link-local and multicast skipped."""
    idx = ifindex(dev)
    if idx is None:
        return {}
    found: dict[str, list[str]] = {}
    for n in _ipr().get_neighbours(ifindex=idx):
        mac, dst = n.get_attr("NDA_LLADDR"), n.get_attr("NDA_DST")
        if not mac or not dst or not n["state"] & _USABLE:
            continue
        addr = ipaddress.ip_address(dst)
        if addr.is_link_local or addr.is_multicast:
            continue
        found.setdefault(mac.lower(), []).append(str(addr))
    return found


def addresses(dev: str) -> list[str]:
    """The device's own addresses (IPv4 and global/ULA IPv6), where the portal listens."""
    idx = ifindex(dev)
    if idx is None:
        return []
    out = []
    for a in _ipr().get_addr(index=idx):
        addr = ipaddress.ip_address(a.get_attr("IFA_ADDRESS"))
        if not addr.is_link_local:
            out.append(str(addr))
    return out
