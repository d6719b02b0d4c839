"""The netlink dumps' parsers (kernel/dumps.py), on messages laid out as the kernel sends them (no
root needed)."""

from __future__ import annotations

import struct

from hotspot.kernel.dumps import _parse_elems, rule_counter, rule_dump_counters
from hotspot.kernel.netlink import pack_attr


def nest(kind: int, *attrs: bytes) -> bytes:
    return pack_attr(kind | 0x8000, b"".join(attrs))


def string(kind: int, text: str) -> bytes:
    return pack_attr(kind, text.encode() + b"\0")


def expr(name: str, *data: bytes) -> bytes:
    return nest(1, string(1, name), *([nest(2, *data)] if data else []))


def rule(table: str, chain: str, *exprs: bytes) -> bytes:
    """The attributes of a NEWRULE/DELRULE message: table, chain, handle, expressions."""
    return (string(1, table) + string(2, chain) + pack_attr(3, struct.pack(">Q", 7))
            + nest(4, *exprs))


def counter(nbytes: int, packets: int = 3) -> bytes:
    return expr("counter", pack_attr(1, struct.pack(">Q", nbytes)), pack_attr(2, struct.pack(">Q", packets)))


CT_SET = expr("ct", pack_attr(1, struct.pack(">I", 3)), pack_attr(2, struct.pack(">I", 1)))


def parse(attrs: bytes):
    return rule_counter(attrs, 0, len(attrs))


def test_counter_rule_of_a_client():
    assert parse(rule("hotspot", "up5", CT_SET, counter(123_456_789_012))) == ("u5", 123_456_789_012)
    assert parse(rule("hotspot", "down5", counter(2**63 + 5))) == ("d5", 2**63 + 5)
    assert parse(rule("hotspot", "download", expr("ct"), counter(9))) == ("d1", 9)


def test_rules_without_a_counter_or_not_ours_are_skipped():
    assert parse(rule("hotspot", "up5", expr("quota", string(5, "q5")), expr("immediate"))) is None
    assert parse(rule("hotspot", "forward", counter(5))) is None
    assert parse(rule("hotspot", "up5", expr("counter"))) is None  # no data: not a counter we can read


def message(kind: int, body: bytes) -> bytes:
    """A netlink message as a dump's answer carries it: header, nfgenmsg, the attributes."""
    payload = struct.pack("=BBH", 1, 0, 0) + body
    return struct.pack("=IHHII", 16 + len(payload), kind, 2, 1, 0) + payload + b"\0" * (-len(payload) % 4)


def test_a_rule_dump_buffer_is_read_as_each_rule_is():
    rules = [rule("hotspot", "up5", expr("quota", string(5, "q5")), expr("immediate")),
             rule("hotspot", "up5", CT_SET, counter(123_456_789_012)),
             rule("hotspot", "down5", counter(2**63 + 5)),
             rule("hotspot", "forward", counter(5)),
             rule("hotspot", "up6", expr("counter")),
             rule("hotspot", "download", expr("ct"), counter(9)),
             rule("hotspot", "up7x", counter(1)),
             rule("hotspot", "down8", string(9, "counter"), counter(4))]  # the name before the rule's list
    buf = b"".join(message(10 << 8 | 6, r) for r in rules)
    found: dict = {}
    assert rule_dump_counters(buf, found) is False  # no end of the dump yet
    assert found == dict(filter(None, map(parse, rules)))
    assert found == {"u5": 123_456_789_012, "d5": 2**63 + 5, "d1": 9}
    assert rule_dump_counters(message(3, b""), found) is True  # NLMSG_DONE


def element(key: bytes, *exprs: bytes, listed: bool = False) -> bytes:
    """One element of a GETSETELEM answer: its key and its stateful expressions."""
    key_attr = nest(1, pack_attr(1, key))  # NFTA_SET_ELEM_KEY { NFTA_DATA_VALUE }
    if listed:
        return nest(1, key_attr, nest(11, *exprs))  # NFTA_SET_ELEM_EXPRESSIONS: a list
    return nest(1, key_attr, *[pack_attr(7 | 0x8000, e[4:]) for e in exprs])  # NFTA_SET_ELEM_EXPR


def quota_expr(consumed: int, limit: int = 5_000_000) -> bytes:
    return expr("quota", pack_attr(1, struct.pack(">Q", limit)), pack_attr(2, struct.pack(">I", 1)),
                pack_attr(4, struct.pack(">Q", consumed)))


def test_elements_of_unregistered_devices_are_read_by_their_raw_key():
    mac, v6 = bytes.fromhex("aabbccddee01"), bytes(15) + b"\x02"
    answer = nest(3, element(mac, counter(1500)), element(v6, counter(40), listed=True))
    found: dict = {}
    _parse_elems(answer, 0, len(answer), found, raw=True)
    assert found == {mac: 1500, v6: 40}
    # the default cap's elements: what their quota consumed, drops included
    answer = nest(3, element(bytes([10, 0, 0, 2]), quota_expr(5_001_448)))
    found = {}
    _parse_elems(answer, 0, len(answer), found, raw=True, what="quota")
    assert found == {bytes([10, 0, 0, 2]): 5_001_448}
    # an element without the expression asked for is skipped, not read as zero
    found = {}
    _parse_elems(answer, 0, len(answer), found, raw=True)
    assert found == {}
