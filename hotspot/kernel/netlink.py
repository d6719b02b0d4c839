"""The few bytes of netlink hotspot writes by hand: attributes, message walking, one request loop.

Shared by the nf_tables dumps and notices (dumps.py, watch.py), conntrack.py, neighbours.py and
routes.py; nothing else, which is why hotspotd does without pyroute2 (24 MB to import, neighbours.py).
"""

from __future__ import annotations

import socket
import struct

NETLINK_ROUTE, NETLINK_NETFILTER = 0, 12
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3


def pack_attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def attrs(buf: bytes, start: int, end: int):
    """Each attribute between start and end: (type without flags, start of its payload, its end)."""
    while start + 4 <= end:
        length, kind = struct.unpack_from("=HH", buf, start)
        if length < 4:
            return
        yield kind & 0x3FFF, start + 4, start + length
        start += (length + 3) & ~3


def messages(data: bytes):
    """Each netlink message in a buffer from the kernel: (type, start of its body, its end)."""
    pos = 0
    while pos + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, pos)
        if length < 16:
            return
        yield kind, pos + 16, pos + length
        pos += (length + 3) & ~3


def request(protocol: int, msg_type: int, flags: int, body: bytes):
    """Send one request on a new netlink socket of `protocol`; yield (type, buffer, start, end) of each
    answer until the kernel's end of it. An error answer raises OSError; a dump ends at NLMSG_DONE."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, protocol) as sock:
        sock.send(struct.pack("=IHHII", 16 + len(body), msg_type, NLM_F_REQUEST | flags, 1, 0) + body)
        while True:
            data = sock.recv(1 << 16)
            for kind, start, end in messages(data):
                if kind == NLMSG_DONE:
                    return
                if kind == NLMSG_ERROR:
                    (errno,) = struct.unpack_from("=i", data, start)
                    if errno:
                        raise OSError(-errno, "netlink")
                    return
                yield kind, data, start, end
            if not flags & NLM_F_DUMP:
                return  # a get has one answer
