"""The hand-written netlink parsers, on messages laid out as the kernel sends them (no root needed)."""

from __future__ import annotations

import struct

from hotspot.kernel.nft import TableGone, TableWatch, _attr, _rule_counter, counter_key


def nest(kind: int, *attrs: bytes) -> bytes:
    return _attr(kind | 0x8000, b"".join(attrs))


def string(kind: int, text: str) -> bytes:
    return _attr(kind, text.encode() + b"\0")


def expr(name: str, *data: bytes) -> bytes:
    return nest(1, string(1, name), *([nest(2, *data)] if data else []))


def rule(table: str, chain: str, *exprs: bytes) -> bytes:
    """The attributes of a NEWRULE/DELRULE message: table, chain, handle, expressions."""
    return (string(1, table) + string(2, chain) + _attr(3, struct.pack(">Q", 7))
            + nest(4, *exprs))


def counter(nbytes: int, packets: int = 3) -> bytes:
    return expr("counter", _attr(1, struct.pack(">Q", nbytes)), _attr(2, struct.pack(">Q", packets)))


CT_SET = expr("ct", _attr(1, struct.pack(">I", 3)), _attr(2, struct.pack(">I", 1)))


def parse(attrs: bytes):
    return _rule_counter(attrs, 0, len(attrs))


def test_counter_names():
    assert [counter_key(c) for c in ("up5", "down12", "upload", "download", "forward", "upx", "down")] == [
        "u5", "d12", "u1", "d1", None, None, None]


def test_counter_rule_of_a_client():
    assert parse(rule("hotspot", "up5", CT_SET, counter(123_456_789_012))) == ("u5", 123_456_789_012)
    assert parse(rule("hotspot", "down5", counter(2**63 + 5))) == ("d5", 2**63 + 5)
    assert parse(rule("hotspot", "download", expr("ct"), counter(9))) == ("d1", 9)


def test_rules_without_a_counter_or_not_ours_are_skipped():
    assert parse(rule("hotspot", "up5", expr("quota", string(5, "q5")), expr("immediate"))) is None
    assert parse(rule("hotspot", "forward", counter(5))) is None
    assert parse(rule("hotspot", "up5", expr("counter"))) is None  # no data: not a counter we can read


def message(msg: int, attrs: bytes, family: int = 1) -> bytes:
    """A netlink message of the nf_tables subsystem: header, nfgenmsg, attributes."""
    body = struct.pack("=BBH", family, 0, 0) + attrs
    return struct.pack("=IHHII", 16 + len(body), (10 << 8) | msg, 0, 0, 0) + body


def feed(watch: TableWatch, *messages: bytes) -> list[TableGone]:
    found: list[TableGone] = []
    for m in messages:
        (length, kind) = struct.unpack_from("=IH", m)
        watch._message(kind & 0xFF, m, 20, length, found)
    return found


def watch() -> TableWatch:
    w = TableWatch.__new__(TableWatch)  # no socket: only the parsing is under test
    w.table, w._counters, w._gone = b"hotspot", {}, None
    return w


DELRULE, DELTABLE, NEWGEN = 8, 2, 15
GONE = message(DELTABLE, string(1, "hotspot") + _attr(4, struct.pack(">Q", 42)))


def test_a_deleted_table_comes_with_its_counters():
    w = watch()
    found = feed(w, message(DELRULE, rule("hotspot", "up5", CT_SET, counter(1000))),
                 message(DELRULE, rule("hotspot", "down5", counter(5000))),
                 message(DELRULE, rule("other", "up6", counter(7))),  # another table's chain
                 message(DELRULE, rule("hotspot", "up7", counter(9)), family=2),  # ip, not inet
                 GONE, message(NEWGEN, b""))
    assert found == [TableGone(42, {"u5": 1000, "d5": 5000})]


def test_rules_deleted_without_the_table_are_forgotten_at_the_end_of_their_transaction():
    w = watch()
    assert feed(w, message(DELRULE, rule("hotspot", "up5", counter(1000))), message(NEWGEN, b"")) == []
    assert feed(w, GONE, message(NEWGEN, b"")) == [TableGone(42, {})]


def element(key: bytes, *exprs: bytes, listed: bool = False) -> bytes:
    """One element of a GETSETELEM answer: its key and its stateful expressions."""
    key_attr = nest(1, _attr(1, key))  # NFTA_SET_ELEM_KEY { NFTA_DATA_VALUE }
    if listed:
        return nest(1, key_attr, nest(11, *exprs))  # NFTA_SET_ELEM_EXPRESSIONS: a list
    return nest(1, key_attr, *[_attr(7 | 0x8000, e[4:]) for e in exprs])  # NFTA_SET_ELEM_EXPR


def quota_expr(consumed: int, limit: int = 5_000_000) -> bytes:
    return expr("quota", _attr(1, struct.pack(">Q", limit)), _attr(2, struct.pack(">I", 1)),
                _attr(4, struct.pack(">Q", consumed)))


def test_elements_of_unregistered_devices_are_read_by_their_raw_key():
    from hotspot.kernel.nft import _parse_elems

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
