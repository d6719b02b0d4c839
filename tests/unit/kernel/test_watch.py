"""The table watch (kernel/watch.py) on nftables' notifications laid out as the kernel sends them (no
root needed)."""

from __future__ import annotations

import struct

from hotspot.kernel.netlink import pack_attr
from hotspot.kernel.watch import TableGone, TableWatch
from tests.unit.kernel.test_dumps import CT_SET, counter, rule, string


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
GONE = message(DELTABLE, string(1, "hotspot") + pack_attr(4, struct.pack(">Q", 42)))


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
