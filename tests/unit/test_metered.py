"""The metered hint without root: the parsing of an RTM_GETROUTE dump (hotspot/routes.py)."""

from __future__ import annotations

import socket
import struct

from hotspot import routes
from hotspot.netlink import attr, messages

# ---- the route dump ---------------------------------------------------------------------------------


def route(*, dst_len=0, table=254, kind=1, flags=0, family=socket.AF_INET, metric=None, oif=None,
          table_attr=None, nexthops=()) -> bytes:
    """One RTM_NEWROUTE message as the kernel sends it."""
    body = routes._RTMSG.pack(family, dst_len, 0, 0, table, 4, 0, kind, flags)
    if table_attr is not None:
        body += attr(routes.RTA_TABLE, struct.pack("=I", table_attr))
    if metric is not None:
        body += attr(routes.RTA_PRIORITY, struct.pack("=I", metric))
    if oif is not None:
        body += attr(routes.RTA_OIF, struct.pack("=i", oif))
    if nexthops:
        hops = b"".join(routes._RTNEXTHOP.pack(8, 0, 0, i) for i in nexthops)
        body += attr(routes.RTA_MULTIPATH, hops)
    return struct.pack("=IHHII", 16 + len(body), routes.RTM_NEWROUTE, 2, 1, 0) + body


def parse(msg: bytes):
    ((_kind, start, end),) = messages(msg)
    return routes.default_route(msg, start, end)


def test_default_route_parsing():
    assert parse(route(metric=10, oif=3, table_attr=254)) == (10, 3)
    assert parse(route(oif=3)) == (0, 3), "no RTA_PRIORITY: metric 0"
    assert parse(route(family=socket.AF_INET6, metric=1024, oif=2)) == (1024, 2)
    assert parse(route(dst_len=24, oif=3)) is None, "not a default route"
    assert parse(route(table=255, oif=3)) is None, "local table"
    assert parse(route(table=252, table_attr=1000, oif=3)) is None, "table 1000 (rtm_table says COMPAT)"
    assert parse(route(table=252, table_attr=254, oif=3)) == (0, 3)
    assert parse(route(kind=7)) is None, "unreachable: no device"
    assert parse(route(oif=3, flags=routes.RTNH_F_DEAD)) is None
    assert parse(route(metric=5, nexthops=(7, 3))) == (5, 7), "multipath: the first nexthop's device"
    assert parse(route(metric=5)) is None, "no device (e.g. nhid)"


def test_default_route_device_takes_the_lowest_metric(monkeypatch):
    names = {2: "wan0", 3: "wwan0", 4: "gone0"}

    def indextoname(i):
        if i == 4:
            raise OSError(6, "No such device or address")
        return names[i]

    def answers(msgs):
        def request(_proto, _type, _flags, _body):
            for m in msgs:
                for kind, start, end in messages(m):
                    yield kind, m, start, end
        return request

    monkeypatch.setattr(routes.socket, "if_indextoname", indextoname)
    monkeypatch.setattr(routes, "request", answers([route(metric=20, oif=3), route(dst_len=8, oif=9),
                                                    route(metric=10, oif=2), route(metric=1, oif=4)]))
    assert routes.default_route_device() == "wan0", "lowest metric whose device still exists"
    monkeypatch.setattr(routes, "request", answers([route(metric=20, oif=3), route(metric=20, oif=2)]))
    assert routes.default_route_device() == "wwan0", "equal metrics: the kernel's first"
    monkeypatch.setattr(routes, "request", answers([route(dst_len=8, oif=3)]))
    assert routes.default_route_device() is None
