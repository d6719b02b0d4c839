"""Notices the deletion of our table from nftables' netlink notifications, with its last counters."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from hotspot.kernel.dumps import (
    NFNL_SUBSYS_NFTABLES,
    NFPROTO_INET,
    NFTA_RULE_TABLE,
    NFTA_TABLE_HANDLE,
    NFTA_TABLE_NAME,
    rule_counter,
)
from hotspot.kernel.netlink import NETLINK_NETFILTER, attrs, messages
from hotspot.kernel.rules import TABLE

_NFNLGRP_NFTABLES = 7
_SOL_NETLINK, _NETLINK_ADD_MEMBERSHIP = 270, 1
_NFT_MSG_DELTABLE, _NFT_MSG_DELRULE, _NFT_MSG_NEWGEN = 2, 8, 15
_WATCH_BUFFER = 64 << 20  # a flush of 5,000 clients notifies ~35,000 deletions (rules, chains, objects)


@dataclass(frozen=True)
class TableGone:
    """Our table was deleted (`nft flush ruleset`, an fw4 reload that took it, teardown). `counters`
    holds each counter's value at that instant, from the kernel's own notification, so the bytes
    counted since the last poll are not lost with it. handle None: notifications were lost."""

    handle: int | None
    counters: dict[str, int]


class TableWatch:
    """Listens to nftables' notifications for the deletion of our table, so hotspotd rebuilds it in
    milliseconds rather than at the next poll. Hand-written like the dumps (dumps.py): it must skim
    tens of thousands of notifications per flush, and it shares their counter rule parser."""

    def __init__(self, table: str = TABLE) -> None:
        self.table = table.encode()
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK,
                                  NETLINK_NETFILTER)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, 33, _WATCH_BUFFER)  # SO_RCVBUFFORCE (root)
        except PermissionError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _WATCH_BUFFER)
        self.sock.bind((0, 0))
        self.sock.setsockopt(_SOL_NETLINK, _NETLINK_ADD_MEMBERSHIP, _NFNLGRP_NFTABLES)
        self._counters: dict[str, int] = {}  # counters deleted in the transaction being read
        self._gone: int | None = None  # our table's handle, if this transaction deleted it

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def read(self) -> list[TableGone]:
        """Every deletion of our table notified since the last read (without blocking)."""
        found: list[TableGone] = []
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except BlockingIOError:
                return found
            except OSError as e:  # ENOBUFS: the kernel dropped notifications; the caller must look
                if e.errno != 105:
                    raise
                self._counters, self._gone = {}, None
                found.append(TableGone(None, {}))
                continue
            for kind, body, end in messages(data):
                if kind >> 8 == NFNL_SUBSYS_NFTABLES and body + 4 <= end:
                    self._message(kind & 0xFF, data, body + 4, end, found)

    def _message(self, msg: int, buf: bytes, start: int, end: int, found: list[TableGone]) -> None:
        if msg == _NFT_MSG_DELRULE and buf[start - 4] == NFPROTO_INET:
            table = None
            for kind, a, b in attrs(buf, start, end):
                if kind == NFTA_RULE_TABLE:
                    table = bytes(buf[a:b]).rstrip(b"\0")
                    break
            counted = rule_counter(buf, start, end) if table == self.table else None
            if counted:
                self._counters[counted[0]] = counted[1]
        elif msg == _NFT_MSG_DELTABLE and buf[start - 4] == NFPROTO_INET:
            name = handle = None
            for kind, a, b in attrs(buf, start, end):
                if kind == NFTA_TABLE_NAME:
                    name = bytes(buf[a:b]).rstrip(b"\0")
                elif kind == NFTA_TABLE_HANDLE:
                    (handle,) = struct.unpack_from(">Q", buf, a)
            if name == self.table:
                self._gone = handle
        elif msg == _NFT_MSG_NEWGEN:  # the end of a transaction
            if self._gone is not None:
                found.append(TableGone(self._gone, self._counters))
            self._counters, self._gone = {}, None
