"""Which device carries the default route, over rtnetlink (one RTM_GETROUTE dump, no `ip` process).

hotspotd asks this every poll to learn which uplink is in use (metered.py): the best default route of
the main table, i.e. the one with the lowest metric, which is what OpenWrt's netifd uses to prefer one
uplink over another (its per-interface `metric`). Hand-written like neighbours.py, for the same reason:
pyroute2 would cost the daemon 24 MB.

Not handled, on purpose: routes through nexthop objects (`ip route add default nhid N`, which carry no
device of their own; netifd and mwan3 do not make them) are skipped, and policy routing (ip rules that
send traffic to other tables, as mwan3 does) is not followed: this reports the main table only.
"""

from __future__ import annotations

import socket
import struct

from hotspot.kernel.netlink import NETLINK_ROUTE, NLM_F_DUMP, attrs, request

RTM_NEWROUTE, RTM_GETROUTE = 24, 26
RT_TABLE_MAIN = 254
RTN_UNICAST = 1
RTNH_F_DEAD = 0x1  # the nexthop's device is down: the kernel does not use the route
RTA_OIF, RTA_PRIORITY, RTA_MULTIPATH, RTA_TABLE = 4, 6, 9, 15
_RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol, scope, type, flags
_RTNEXTHOP = struct.Struct("=HBBi")  # len, flags, hops, ifindex


def default_route(data: bytes, start: int, end: int) -> tuple[int, int] | None:
    """(metric, ifindex) of one RTM_NEWROUTE body if it is a usable default route of the main table,
    else None. A multipath route counts by its first nexthop's device."""
    _family, dst_len, _src_len, _tos, table, _proto, _scope, kind, flags = _RTMSG.unpack_from(data, start)
    if dst_len or kind != RTN_UNICAST or flags & RTNH_F_DEAD:
        return None
    metric, oif = 0, None
    for field, a, b in attrs(data, start + _RTMSG.size, end):
        if field == RTA_TABLE:
            (table,) = struct.unpack_from("=I", data, a)  # rtm_table is 8 bits; this is the real one
        elif field == RTA_PRIORITY:
            (metric,) = struct.unpack_from("=I", data, a)
        elif field == RTA_OIF:
            (oif,) = struct.unpack_from("=i", data, a)
        elif field == RTA_MULTIPATH and oif is None and b - a >= _RTNEXTHOP.size:
            oif = _RTNEXTHOP.unpack_from(data, a)[3]
    if table != RT_TABLE_MAIN or not oif:
        return None
    return metric, oif


def default_route_device(family: int = socket.AF_INET) -> str | None:
    """The device of the best (lowest metric) default route of `family` (AF_INET or AF_INET6) in the
    main table of this process's network namespace, or None when there is none."""
    body = _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)
    found = []
    for kind, data, start, end in request(NETLINK_ROUTE, RTM_GETROUTE, NLM_F_DUMP, body):
        route = default_route(data, start, end) if kind == RTM_NEWROUTE else None
        if route:
            found.append(route)
    for _metric, index in sorted(found, key=lambda r: r[0]):  # stable: equal metrics keep the kernel's order
        try:
            return socket.if_indextoname(index)
        except OSError:
            continue  # the device went away since the dump
    return None
