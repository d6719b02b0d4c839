"""Reads our table's counters, quotas and set elements with raw netlink dumps, without libnftables.

The hot read, every counter and quota of every client at each poll, is one dump of the table's rules
and one of its objects: libnftables formats thousands of objects as JSON far too slowly for a router
(see tests/bench). The parsers below read the kernel's answers as the kernel lays them out; watch.py
shares the counter rule's.
"""

from __future__ import annotations

import os
import socket
import struct

from hotspot.apps.categories import CATEGORIES
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
from hotspot.kernel.rules import app_counter_set, chain_names, counter_key, quota_name, voucher_quota_name


class NftError(RuntimeError):
    """nftables refused a command (the message is nft's own, on one line) or a dump failed."""


# nf_tables' netlink numbers (linux/netfilter/nf_tables.h, nfnetlink.h)
NFNL_SUBSYS_NFTABLES = 10
NFPROTO_INET = 1
NFT_MSG_GETTABLE, NFT_MSG_NEWRULE, NFT_MSG_GETRULE, NFT_MSG_GETSETELEM, NFT_MSG_GETOBJ = 1, 6, 7, 13, 19
NFTA_TABLE_NAME, NFTA_TABLE_HANDLE = 1, 4
NFTA_RULE_TABLE, NFTA_RULE_CHAIN, NFTA_RULE_EXPRESSIONS = 1, 2, 4
NFTA_EXPR_NAME, NFTA_EXPR_DATA = 1, 2
NFTA_OBJ_TABLE, NFTA_OBJ_NAME, NFTA_OBJ_TYPE, NFTA_OBJ_DATA = 1, 2, 3, 4
NFT_OBJECT_QUOTA = 2
NFTA_COUNTER_BYTES = 1
NFTA_QUOTA_CONSUMED = 4
NFTA_SET_ELEM_LIST_TABLE, NFTA_SET_ELEM_LIST_SET, NFTA_SET_ELEM_LIST_ELEMENTS = 1, 2, 3
NFTA_SET_ELEM_KEY, NFTA_SET_ELEM_EXPR, NFTA_SET_ELEM_EXPRESSIONS = 1, 7, 11

_NLMSG = struct.Struct("=IH")
_NLA = struct.Struct("=HH")
_BE32 = struct.Struct(">I")
_BE64 = struct.Struct(">Q")


def _dump(msg: int, attributes: bytes, parse, *, flags: int = NLM_F_DUMP) -> bool:
    """Send one nf_tables dump request (or, with flags=NLM_F_ACK, a get of one object) and feed each
    reply's attributes to parse(buf, start, end). Returns False when the kernel answers ENOENT."""
    msg_type = (NFNL_SUBSYS_NFTABLES << 8) | msg
    payload = struct.pack("=BBH", NFPROTO_INET, 0, 0) + attributes
    header = struct.pack("=IHHII", 16 + len(payload), msg_type, NLM_F_REQUEST | flags, 1, 0)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.send(header + payload)
        while True:
            data = sock.recv(1 << 17)
            for kind, body, end in messages(data):
                if kind == NLMSG_DONE:
                    return True
                if kind == NLMSG_ERROR:
                    (errno,) = struct.unpack_from("=i", data, body)
                    if errno == 0:
                        return True
                    if -errno == 2:
                        return False
                    raise NftError(f"netlink dump failed: {os.strerror(-errno)}")
                parse(data, body + 4, end)  # after the nfgenmsg header


def _name(kind: int, name: str) -> bytes:
    return pack_attr(kind, name.encode() + b"\0")


# -- the table --------------------------------------------------------------------------------------


def table_handle(table: str) -> int | None:
    """The handle of the inet table `table`, or None; a new handle means the table was rebuilt."""
    found: list[int] = []

    def parse(buf, start, end):
        name = handle = None
        for kind, a, b in attrs(buf, start, end):
            if kind == NFTA_TABLE_NAME:
                name = bytes(buf[a:b]).rstrip(b"\0").decode()
            elif kind == NFTA_TABLE_HANDLE:
                (handle,) = struct.unpack_from(">Q", buf, a)
        if name == table and handle is not None:
            found.append(handle)

    _dump(NFT_MSG_GETTABLE, b"", parse)
    return found[0] if found else None


# -- counters and quotas ------------------------------------------------------------------------------


def dump_quotas(table: str) -> dict[str, int]:
    """{name: consumed} for every quota of the table."""
    result: dict[str, int] = {}
    attributes = _name(NFTA_OBJ_TABLE, table) + pack_attr(NFTA_OBJ_TYPE, struct.pack(">I", NFT_OBJECT_QUOTA))
    _dump(NFT_MSG_GETOBJ, attributes, lambda buf, a, b: _parse_quota(buf, a, b, result))
    return result


def dump_counters(table: str) -> dict[str, int]:
    """{"u<id>"/"d<id>": bytes} from the counter rule of every client chain of the table."""
    result: dict[str, int] = {}
    payload = struct.pack("=BBH", NFPROTO_INET, 0, 0) + _name(NFTA_RULE_TABLE, table)
    header = struct.pack("=IHHII", 16 + len(payload), (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETRULE,
                         NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.send(header + payload)
        while not rule_dump_counters(sock.recv(1 << 17), result):  # a kernel dump buffer (<= 32 kB) each
            pass
    return result


_RULE = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE  # each rule of a dump's answer


def rule_dump_counters(buf: bytes, out: dict[str, int]) -> bool:
    """Add to `out` the counters of the rules in one buffer of a rule dump; True at the dump's end.

    The hot read of every poll: at 5,000 clients 20,000 rules or more, most without a counter. The
    messages are walked in one loop: a rule without a counter costs a header read and a search in C,
    and a counter rule is read as rule_counter() reads it, with the same checks inlined (a third of
    the CPU of messages() and rule_counter() called for each; tests/bench/service.py)."""
    nlmsg, nla, be64, keys = _NLMSG.unpack_from, _NLA.unpack_from, _BE64.unpack_from, _KEYS
    size, msg = len(buf), 0
    while msg + 16 <= size:
        length, kind = nlmsg(buf, msg)
        if length < 16:
            return False
        end, pos = msg + length, msg + 20  # after the netlink and nfgenmsg headers
        msg = (end + 3) & ~3
        if kind != _RULE:
            if kind == NLMSG_DONE:
                return True
            if kind == NLMSG_ERROR:
                (errno,) = struct.unpack_from("=i", buf, pos - 4)
                if errno == 0 or -errno == 2:
                    return True
                raise NftError(f"netlink dump failed: {os.strerror(-errno)}")
            continue
        at = buf.find(b"counter\0", pos, end)  # NFTA_EXPR_NAME, then NFTA_EXPR_DATA
        if at < 0 or at + 12 > end:
            continue
        chain = exprs_end = None
        while pos + 4 <= end:
            alen, akind = nla(buf, pos)
            if alen < 4:
                chain = None
                break
            akind &= 0x3FFF
            if akind == NFTA_RULE_CHAIN:
                chain = buf[pos + 4:pos + alen - 1]
            elif akind == NFTA_RULE_EXPRESSIONS:
                if not pos < at < pos + alen:
                    chain = None
                    break
                exprs_end = pos + alen
            pos += (alen + 3) & ~3
        if chain is None or exprs_end is None:
            continue
        key = keys.get(chain)
        if key is None:
            key = keys[chain] = counter_key(chain.decode())
            if key is None:
                continue
        dlen, dkind = nla(buf, at + 8)
        if dkind & 0x3FFF != NFTA_EXPR_DATA:
            continue
        pos, stop = at + 12, min(at + 8 + dlen, exprs_end)
        while pos + 4 <= stop:
            alen, akind = nla(buf, pos)
            if alen < 4:
                break
            if akind & 0x3FFF == NFTA_COUNTER_BYTES:
                out[key] = be64(buf, pos + 4)[0]
                break
            pos += (alen + 3) & ~3
    return False


def client_counters(table: str, cid: int, voucher: int | None = None, quotas=()) -> dict[str, int]:
    """One client's counters and quota ("u<id>", "d<id>", "q<id>"), its voucher's quota
    ("v<voucher>") if given, and the named `quotas` that exist (the plan guard's "g_<level>"),
    reading only those chains and quotas: what a portal request costs does not grow with the number
    of clients."""
    result: dict[str, int] = {}

    def parse(buf, start, end):
        found = rule_counter(buf, start, end)
        if found:
            result[found[0]] = found[1]

    for chain in chain_names(cid):
        _dump(NFT_MSG_GETRULE, _name(NFTA_RULE_TABLE, table) + _name(NFTA_RULE_CHAIN, chain), parse)
    names = [quota_name(cid)] + ([] if voucher is None else [voucher_quota_name(voucher)]) + list(quotas)
    for name in names:
        attributes = _name(NFTA_OBJ_TABLE, table) + _name(NFTA_OBJ_NAME, name)
        attributes += pack_attr(NFTA_OBJ_TYPE, struct.pack(">I", NFT_OBJECT_QUOTA))
        _dump(NFT_MSG_GETOBJ, attributes, lambda buf, a, b: _parse_quota(buf, a, b, result), flags=NLM_F_ACK)
    return result


_KEYS: dict[bytes, str | None] = {}  # chain name -> counter name, for the parser below


def rule_counter(buf: bytes, pos: int, end: int) -> tuple[str, int] | None:
    """(counter name, bytes) from one rule's attributes, if it is a counter rule of ours. This runs
    for every client at every poll, so rather than walk each expression it finds the counter's name
    and reads the bytes attribute at the head of the data that follows it (7x faster, same result)."""
    at = buf.find(b"counter\0", pos, end)  # NFTA_EXPR_NAME, then NFTA_EXPR_DATA
    if at < 0 or at + 12 > end:
        return None
    chain = exprs_end = None
    nla = _NLA.unpack_from
    while pos + 4 <= end:
        length, kind = nla(buf, pos)
        if length < 4:
            return None
        kind &= 0x3FFF
        if kind == NFTA_RULE_CHAIN:
            chain = buf[pos + 4:pos + length - 1]
        elif kind == NFTA_RULE_EXPRESSIONS:
            if not pos < at < pos + length:
                return None
            exprs_end = pos + length
        pos += (length + 3) & ~3
    if chain is None or exprs_end is None:
        return None
    key = _KEYS.get(chain)
    if key is None:
        key = _KEYS[chain] = counter_key(chain.decode())
        if key is None:
            return None
    data_len, data_kind = nla(buf, at + 8)
    if data_kind & 0x3FFF != NFTA_EXPR_DATA:
        return None
    pos, end = at + 12, min(at + 8 + data_len, exprs_end)
    while pos + 4 <= end:
        length, kind = nla(buf, pos)
        if length < 4:
            return None
        if kind & 0x3FFF == NFTA_COUNTER_BYTES:
            return key, _BE64.unpack_from(buf, pos + 4)[0]
        pos += (length + 3) & ~3
    return None


def _parse_quota(buf: bytes, pos: int, end: int, out: dict[str, int]) -> None:
    """One quota object's attributes; an inline loop, as this runs for every capped client."""
    name, obj_type, data = None, 0, None
    nla = _NLA.unpack_from
    while pos + 4 <= end:
        length, kind = nla(buf, pos)
        if length < 4:
            return
        kind &= 0x3FFF
        if kind == NFTA_OBJ_NAME:
            name = bytes(buf[pos + 4:pos + length - 1]).decode()  # NUL-terminated
        elif kind == NFTA_OBJ_TYPE:
            obj_type = _BE32.unpack_from(buf, pos + 4)[0]
        elif kind == NFTA_OBJ_DATA:
            data = (pos + 4, pos + length)
        pos += (length + 3) & ~3
    if name is None or data is None or obj_type != NFT_OBJECT_QUOTA:
        return
    pos, end = data
    while pos + 4 <= end:
        length, kind = nla(buf, pos)
        if length < 4:
            return
        if kind & 0x3FFF == NFTA_QUOTA_CONSUMED:
            out[name] = _BE64.unpack_from(buf, pos + 4)[0]
            return
        pos += (length + 3) & ~3


# -- set elements with a counter or a quota -----------------------------------------------------------


def dump_app_counters(table: str) -> dict[tuple[str, str], dict[int, int]]:
    """{(category, "up"/"down"): {masked conntrack mark: bytes}} from the per-category counting sets;
    one netlink dump per set (libnftables' JSON would take seconds at thousands of elements)."""
    result: dict[tuple[str, str], dict[int, int]] = {}
    for cat in CATEGORIES:
        for direction in ("up", "down"):
            found = result[(cat, direction)] = {}
            attributes = _name(NFTA_SET_ELEM_LIST_TABLE, table)
            attributes += _name(NFTA_SET_ELEM_LIST_SET, app_counter_set(cat, direction))
            _dump(NFT_MSG_GETSETELEM, attributes,
                  lambda buf, a, b, found=found: _parse_elems(buf, a, b, found))
    return result


def dump_set_counters(table: str, name: str, what: str = "counter") -> dict[bytes, int]:
    """{key as the kernel holds it: bytes} of a set whose elements have a counter (or, with what
    "quota", a quota: the bytes it consumed)."""
    found: dict[bytes, int] = {}
    attributes = _name(NFTA_SET_ELEM_LIST_TABLE, table) + _name(NFTA_SET_ELEM_LIST_SET, name)
    _dump(NFT_MSG_GETSETELEM, attributes,
          lambda buf, a, b: _parse_elems(buf, a, b, found, raw=True, what=what))
    return found


_STATEFUL = {"counter": (b"counter", NFTA_COUNTER_BYTES), "quota": (b"quota", NFTA_QUOTA_CONSUMED)}


def _parse_elems(buf: bytes, start: int, end: int, out: dict, raw: bool = False,
                 what: str = "counter") -> None:
    """One GETSETELEM answer: each element's key (a 32-bit one as a number, or with `raw` its
    bytes) and its counter's bytes (or its quota's consumed bytes)."""
    for kind, a, b in attrs(buf, start, end):
        if kind != NFTA_SET_ELEM_LIST_ELEMENTS:
            continue
        for _, ea, eb in attrs(buf, a, b):  # NFTA_LIST_ELEM
            key = nbytes = None
            for k, xa, xb in attrs(buf, ea, eb):
                if k == NFTA_SET_ELEM_KEY:
                    for _, va, vb in attrs(buf, xa, xb):  # NFTA_DATA_VALUE: host byte order
                        key = bytes(buf[va:vb]) if raw else struct.unpack_from("=I", buf, va)[0]
                elif k in (NFTA_SET_ELEM_EXPR, NFTA_SET_ELEM_EXPRESSIONS):
                    nbytes = _counter_bytes(buf, xa, xb, k == NFTA_SET_ELEM_EXPRESSIONS, *_STATEFUL[what])
            if key is not None and nbytes is not None:
                out[key] = nbytes


def _counter_bytes(buf: bytes, start: int, end: int, listed: bool, expr: bytes = b"counter",
                   field: int = NFTA_COUNTER_BYTES) -> int | None:
    """The bytes of a counter expression (or of the first counter in a list of expressions); with
    `expr` and `field`, another attribute of another expression (a quota's consumed bytes)."""
    if listed:
        for _, a, b in attrs(buf, start, end):
            found = _counter_bytes(buf, a, b, False, expr, field)
            if found is not None:
                return found
        return None
    name = data = None
    for k, a, b in attrs(buf, start, end):
        if k == NFTA_EXPR_NAME:
            name = bytes(buf[a:b]).rstrip(b"\0")
        elif k == NFTA_EXPR_DATA:
            data = (a, b)
    if name != expr or data is None:
        return None
    for k, a, _b in attrs(buf, *data):
        if k == field:
            return _BE64.unpack_from(buf, a)[0]
    return None
