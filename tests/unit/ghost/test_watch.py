"""The kernel side of ghost traffic without root: ctnetlink messages with marks and byte counters
parsed, destinations summed from a snapshot, and a blocked destination's rules as constants in
the client's own chains (nothing for the others)."""

from __future__ import annotations

import socket
import struct

from hotspot.ghost.watch import destinations
from hotspot.kernel.conntrack import parse_flow
from hotspot.kernel.netlink import pack_attr
from hotspot.kernel.rules import ClientElements, Marks, client_rules

NESTED = 0x8000


def _ct(cid: int, mark: int, src: str, dst: str, up: int, down: int, v6: bool = False) -> bytes:
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    ip = (pack_attr(3 if v6 else 1, socket.inet_pton(fam, src))
          + pack_attr(4 if v6 else 2, socket.inet_pton(fam, dst)))
    tup = pack_attr(1 | NESTED, pack_attr(1 | NESTED, ip) + pack_attr(2 | NESTED, pack_attr(1, bytes([6]))))
    counters = [pack_attr(n | NESTED, pack_attr(1, struct.pack(">Q", 1)) + pack_attr(2, struct.pack(">Q", b)))
                for n, b in ((9, up), (10, down))]
    body = struct.pack("=BBH", fam, 0, 0) + tup + pack_attr(8, struct.pack(">I", mark)) + b"".join(counters)
    body += pack_attr(12, struct.pack(">I", cid))
    return struct.pack("=IHHII", 16 + len(body), 0x100, 0, 1, 0) + body


def test_a_conntrack_entry_gives_mark_addresses_and_bytes_each_way():
    m = Marks()
    msg = _ct(77, m.value(5) | 0x100, "10.0.0.9", "203.0.113.10", 5_000_000, 40_000)
    f = parse_flow(msg, 16, len(msg))
    assert (f.id, f.mark & m.mask, f.src, f.dst, f.up, f.down) == (
        77, m.value(5), "10.0.0.9", "203.0.113.10", 5_000_000, 40_000)
    msg6 = _ct(78, m.value(5), "fd00::9", "2001:db8::1", 1, 2, v6=True)
    assert parse_flow(msg6, 16, len(msg6)).dst == "2001:db8::1"


def test_destinations_count_from_the_snapshot_and_only_this_clients_connections():
    m = Marks()
    flows = [parse_flow(b, 16, len(b)) for b in (
        _ct(1, m.value(5), "10.0.0.9", "203.0.113.10", 9_000_000, 10_000),   # 1 MB before the run
        _ct(2, m.value(5), "10.0.0.9", "203.0.113.10", 2_000_000, 0),        # new since: all of it
        _ct(3, m.value(5), "10.0.0.9", "198.51.100.1", 100_000, 0),
        _ct(4, m.value(6), "10.0.0.8", "198.51.100.2", 50_000_000, 0))]     # another client's
    found = destinations(flows, {1: (1_000_000, 10_000)}, m.value(5), m.mask)
    assert found == [{"addr": "203.0.113.10", "name": None, "up": 10_000_000, "down": 0},
                     {"addr": "198.51.100.1", "name": None, "up": 100_000, "down": 0}]


def test_blocked_destinations_are_drop_rules_before_the_counter_in_its_own_chains():
    m = Marks()
    plain = ClientElements(id=5, mac="02:00:00:00:00:05")
    up, down = client_rules(plain, m)
    assert len(up) == 1 and len(down) == 1  # the counter only: others pay nothing
    c = ClientElements(id=5, mac="02:00:00:00:00:05", blocked_dests=("2001:db8::1", "203.0.113.10"),
                       quota=10**9)
    up, down = client_rules(c, m)
    (match4, drop), (match6, _drop) = up[0], up[1]
    assert match4["match"]["left"]["payload"] == {"protocol": "ip", "field": "daddr"}
    assert match4["match"]["right"] == {"set": ["203.0.113.10"]} and drop == {"drop": None}
    assert match6["match"]["left"]["payload"] == {"protocol": "ip6", "field": "daddr"}
    assert down[0][0]["match"]["left"]["payload"]["field"] == "saddr"
    assert {"quota": "q5"} in up[2] and "counter" in up[-1][0]  # then the cap, the counter last


def test_cli_refuses_a_bad_destination_in_one_line_before_touching_anything(tmp_path):
    import io

    from hotspot.cli import Environment, ExitStatus, main

    err = io.StringIO()
    env = Environment(stdout=io.StringIO(), stderr=err)
    args = ["-c", str(tmp_path / "none"), "destination", "block", "02:00:00:00:00:05",
            "1.2.3.4; flush ruleset"]
    assert main(args, env) == ExitStatus.USAGE
    assert err.getvalue().count("\n") == 1 and "not an IP address or a DNS name" in err.getvalue()
    assert not (tmp_path / "none").exists()
