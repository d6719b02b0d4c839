"""The DNS snooper: names for the addresses clients connect to, from the DNS answers they receive.

A process of its own (hotspotd starts and watches it, hotspot/apps/snoop/process.py), so its packet
capture never weighs on counting or enforcement:

    python3 -m hotspot.apps.snoop.snooper [-c /etc/config/hotspot]

It captures every DNS response the LAN device sends towards a client, on a packet socket with a
BPF filter in the kernel, so only those frames ever reach Python. For each A/AAAA record on the question's
CNAME chain whose names (the one asked or any CNAME target) fall in a category of the categories
list, it puts the address in the kernel's set of that category (c4_/c6_<category>) with the
answer's TTL as its timeout; every answered name, categorised or not, goes to the names file
(hotspot/apps/snoop/names.py). Both are written in batches, every FLUSH_SECONDS; an answer that only
moves an expiry on waits until shortly before the held entry would expire (hotspot/apps/snoop/held.py).

Answers from the router's own dnsmasq cross the LAN device too and are not skipped: dnsmasq's
nftset option fills the sets only for the domains its config lists, without their TTL, and never
writes the names file, which wants every name; adding an address again costs one element update.

Only the router's own answers (from one of the LAN device's addresses: its resolver) go into the
category sets, which every device's traffic meets. An answer from any other server was asked by one
device, which can make it say anything (8.8.8.8 is an "update" server): it names its addresses for
that device alone in the names file and changes nothing in the kernel.

SIGHUP reloads the config's categories list (a bad list is reported and the old one kept).
"""

from __future__ import annotations

import argparse
import ctypes
import ipaddress
import logging
import os
import select
import signal
import socket
import struct
import sys
import time
from collections.abc import Iterable

from hotspot.apps.categories import Categories, CategoriesError
from hotspot.apps.categories import load as load_categories
from hotspot.apps.snoop import names as dnsnames
from hotspot.apps.snoop.held import Held
from hotspot.apps.snoop.wire import DnsError, frame_reply

log = logging.getLogger("hotspot")

FLUSH_SECONDS = 0.5  # how long a seen address may wait for the kernel and the names file
PRUNE_SECONDS = 10  # how often the names file forgets answers whose TTL ran out
MAX_TTL = 86400  # an answer's TTL is capped here: a forged "forever" must not pin an address
MAX_PENDING = 50000  # addresses waiting for a flush; past this a burst is dropped, not hoarded
READ_BURST = 256  # frames read per wake-up before the loop looks at its clock again
ADDRESSES_SECONDS = 10  # how often the LAN device's own addresses (the router's resolver) are read again
# After a wake-up with frames, let the next ones gather in the socket's buffer for this long rather
# than wake (and fail a read) for nearly every frame: at 1,000 answers/s the snooper took 12 % of a
# core without this, 7 % with it (tests/bench/snoop.py).
COALESCE_SECONDS = 0.02
CATEGORY_CACHE = 10000  # names whose category is remembered (the list's lookup walks each suffix)
EXIT_CANNOT_RUN = 3  # the device not there: hotspotd retries with a back-off

# The kernel filter, as classic BPF: an IPv4 (unfragmented or first fragment) or IPv6 UDP datagram
# from port 53 that the device sends out (PACKET_OUTGOING: towards a client, never a frame a client
# sent, so a client cannot feed the sets with forged answers of its own). It is written here rather
# than compiled from "outbound and udp src port 53": that takes libpcap, which an OpenWrt router does
# not have unless installed for it, and without a live capture handle libpcap cannot compile
# "outbound" at all. It is libpcap's program for "udp src port 53" (IPv6 without
# extension headers) behind a check of the packet type. Unit-tested in tests/unit/apps/test_snooper.py.
_SKF_AD_PKTTYPE = 0xFFFFF000 + 4
_PACKET_OUTGOING = 4
_DROP, _ACCEPT = 17, 16
BPF_PROGRAM = (  # (code, jt, jf, k); jumps are relative to the next instruction
    (0x20, 0, 0, _SKF_AD_PKTTYPE),      # 0: ld pkttype
    (0x15, 0, _DROP - 2, _PACKET_OUTGOING),  # 1: jeq outgoing
    (0x28, 0, 0, 12),                    # 2: ldh [12] (ethertype)
    (0x15, 5 - 4, 0, 0x0800),            # 3: jeq IPv4 -> 5
    (0x15, 12 - 5, _DROP - 5, 0x86DD),   # 4: jeq IPv6 -> 12
    (0x30, 0, 0, 23),                    # 5: ldb [23] (IPv4 protocol)
    (0x15, 0, _DROP - 7, 17),            # 6: jeq UDP
    (0x28, 0, 0, 20),                    # 7: ldh [20] (flags, fragment offset)
    (0x45, _DROP - 9, 0, 0x1FFF),        # 8: jset offset -> drop (a later fragment)
    (0xB1, 0, 0, 14),                    # 9: ldxb 4*([14]&0xf) (IPv4 header length)
    (0x48, 0, 0, 14),                    # 10: ldh [x+14] (UDP source port)
    (0x15, _ACCEPT - 12, _DROP - 12, 53),  # 11: jeq 53
    (0x30, 0, 0, 20),                    # 12: ldb [20] (IPv6 next header)
    (0x15, 0, _DROP - 14, 17),           # 13: jeq UDP
    (0x28, 0, 0, 54),                    # 14: ldh [54] (UDP source port)
    (0x15, _ACCEPT - 16, _DROP - 16, 53),  # 15: jeq 53
    (0x06, 0, 0, 0xFFFF),                # 16: accept the whole frame
    (0x06, 0, 0, 0),                     # 17: drop
)
_SO_ATTACH_FILTER = 26
_ETH_P_ALL = 0x0003  # every protocol, the frames the device sends included


class Snooper:
    """What the capture saw since the last flush, and the flush: no capture here (unit-tested)."""

    def __init__(self, categories: Categories, nft, db, clock=time.time, min_ttl: int = 0,
                 resolvers: Iterable[str] = ()) -> None:
        self.categories = categories
        self.set_resolvers(resolvers)
        self.min_ttl = max(1, min_ttl)  # nft's timeouts are whole seconds, 1 at least
        self.nft = nft  # hotspot.kernel.nft.Nft, or a fake
        self.db = db  # the names file (hotspot.apps.snoop.names)
        self.clock = clock
        # What waits for the next flush: (category, addr) -> (ttl, deadline) for the kernel's sets,
        # (addr, device: dnsnames.SHARED or a MAC) -> (name, category, deadline) for the names file
        self.kernel: dict[tuple[str, str], tuple[int, float]] = {}
        self.names: dict[tuple[str, str], tuple[str, str | None, float]] = {}
        # What each holds until when: an answer that only moves an expiry on waits (held.py)
        self.kernel_held, self.names_held = Held(), Held()
        self.table: int | None = None  # the handle of the table kernel_held is about
        self.next_flush = self.next_prune = 0.0
        self.frames = self.bad = self.dropped = 0
        self.failing: dict[str, str] = {}  # what -> its last error, logged once until it changes

    def set_resolvers(self, addresses: Iterable[str]) -> None:
        """The router's own addresses: answers from them are its resolver's, for every device."""
        self.resolvers = frozenset(ipaddress.ip_address(a).packed for a in addresses)

    def frame(self, data: bytes, now: float) -> None:
        """One captured frame; anything that is not a well-formed answer is counted and ignored."""
        self.frames += 1
        try:
            server, client, found = frame_reply(data)
        except DnsError:
            self.bad += 1
            return
        if len(self.names) >= MAX_PENDING:
            self.dropped += len(found)
            return
        shared = server in self.resolvers  # else one device asked it: its answers are that device's
        device = dnsnames.SHARED if shared else client
        category = None
        for i, (addr, ttl, chain) in enumerate(found):
            if not chain[0]:
                continue  # an answer for the root: nothing to name
            if i == 0 or chain != found[i - 1].chain:
                category = self._category(chain)
            ttl = max(self.min_ttl, min(ttl, MAX_TTL))
            deadline = now + ttl
            key = (addr, device)  # a newer answer for a key waiting to be written replaces it
            row = (chain[0], category, deadline)
            if key in self.names or not self.names_held.wait(key, row[:2], deadline, row, now):
                self.names[key] = row
            if category and shared:
                key = (category, addr)
                if key in self.kernel or not self.kernel_held.wait(key, None, deadline, (ttl, deadline), now):
                    self.kernel[key] = (ttl, deadline)
        if not self.next_flush and (self.names or self.kernel):
            self.next_flush = now + FLUSH_SECONDS

    def _category(self, chain: tuple[str, ...]) -> str | None:
        """The first category a name of the chain falls in; a CDN's names come back every second."""
        cache = self._categories
        for name in chain:
            cat = cache.get(name, "")
            if cat == "":
                if len(cache) >= CATEGORY_CACHE:
                    cache.clear()
                cat = cache[name] = self.categories.match(name)
            if cat:
                return cat
        return None

    @property
    def categories(self) -> Categories:
        return self._categories_list

    @categories.setter
    def categories(self, categories: Categories) -> None:
        self._categories_list = categories
        self._categories: dict[str, str | None] = {}

    def due(self, now: float) -> bool:
        """Whether flush has something to write: a batch, or a deferred answer."""
        return any(t is not None and now >= t for t in self._writes())

    def wake_at(self) -> float:
        """When flush has something to do: a batch to write, a deferred answer due, pruning."""
        return min([self.next_prune] + [t for t in self._writes() if t is not None])

    def _writes(self) -> tuple:
        return self.next_flush or None, self.kernel_held.next_due(), self.names_held.next_due()

    def flush(self, now: float) -> None:
        """The kernel's sets first (what counting uses), then the names file; each failure is logged
        and the batch dropped: an address comes back with its next answer."""
        self._guard("kernel table", self._check_table)
        kernel, self.kernel = self.kernel, {}
        names, self.names = self.names, {}
        self.next_flush = 0.0
        for key, payload in self.kernel_held.due(now):
            kernel.setdefault(key, payload)  # one waiting in the batch is newer
        for key, payload in self.names_held.due(now):
            names.setdefault(key, payload)
        # nft takes whole seconds: the element expires within half a second of the answer's TTL.
        entries = [(cat, addr, ttl, max(1, min(ttl, round(deadline - now))))
                   for (cat, addr), (ttl, deadline) in kernel.items() if deadline - now >= 0.5]
        if entries:
            self._guard("kernel sets", lambda: self._to_kernel(entries, kernel))
        if names:
            rows = [(addr, name, cat, deadline, device)
                    for (addr, device), (name, cat, deadline) in names.items()]
            self._guard("names file", lambda: self._to_names(rows, names))
        if now >= self.next_prune:
            self.next_prune = now + PRUNE_SECONDS
            self.kernel_held.expire(now)
            self.names_held.expire(now)
            self._guard("names file pruning", lambda: dnsnames.prune(self.db, now))

    def _check_table(self) -> None:
        """A table rebuilt (a new handle) holds none of the addresses: they are all written again."""
        handle = self.nft.table_handle()
        if handle != self.table:
            self.table = handle
            for key, payload in self.kernel_held.forget():
                self.kernel.setdefault(key, payload)

    def _to_names(self, rows: list, names: dict) -> None:
        dnsnames.record(self.db, rows)
        for key, row in names.items():
            self.names_held.written(key, row[:2], row[2], row)

    def _to_kernel(self, entries: list, kernel: dict) -> None:
        from hotspot.kernel.dumps import NftError

        failed = None
        try:
            self.nft.add_category_addresses(entries)
            done = entries
        except NftError:
            # One set full (65,536 addresses) must not cost the others theirs: a set at a time.
            done = []
            for cat in dict.fromkeys(e[0] for e in entries):
                mine = [e for e in entries if e[0] == cat]
                try:
                    self.nft.add_category_addresses(mine)
                    done += mine
                except NftError as e:
                    failed = e
        for cat, addr, _ttl, _left in done:
            ttl, deadline = kernel[(cat, addr)]
            self.kernel_held.written((cat, addr), None, deadline, (ttl, deadline))
        if len(done) < len(entries):
            raise failed

    def _guard(self, what: str, fn) -> None:
        try:
            fn()
        except Exception as e:  # contained: the next batch tries again
            msg = f"dns snooper: {what} not updated: {type(e).__name__}: {e}"
            if msg != self.failing.get(what):
                log.error("%s", msg)
            self.failing[what] = msg
            return
        self.failing.pop(what, None)


def own_addresses(device: str) -> list[str]:
    """The LAN device's addresses, link-local ones included: where the router's resolver answers."""
    from hotspot.kernel.neighbours import addresses

    try:
        return addresses(device, link_local=True)
    except OSError as e:
        log.error("dns snooper: cannot read the addresses of %s: %s", device, e)
        return []


def bpf_program() -> bytes:
    return b"".join(struct.pack("=HBBI", *ins) for ins in BPF_PROGRAM)


def attach_filter(sock: socket.socket) -> None:
    """BPF_PROGRAM on a packet socket (SO_ATTACH_FILTER copies it into the kernel)."""
    code = ctypes.create_string_buffer(bpf_program())
    fprog = struct.pack("HL", len(BPF_PROGRAM), ctypes.addressof(code))  # struct sock_fprog
    sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)


def open_capture(device: str) -> socket.socket:
    """A packet socket on `device` that the kernel hands only BPF_PROGRAM's frames, not promiscuous
    (frames bridged between two clients are not ours to see), non-blocking. The filter is on before
    the socket is bound, so no other frame ever waits in it. The standard library's AF_PACKET does
    what scapy's L2ListenSocket did here, without scapy's 9 MB of imports (tests/bench/weight.py
    measures both)."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # protocol 0: nothing until bound
    try:
        attach_filter(sock)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)  # a burst waits in the kernel
        sock.bind((device, _ETH_P_ALL))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def run(config_path: str) -> int:
    from hotspot.config import ConfigError
    from hotspot.config import load as load_config

    cfg = load_config(config_path)
    categories = load_categories(cfg.categories_file)
    try:
        sock = open_capture(cfg.lan_device)
    except OSError as e:
        log.error("dns snooper: cannot capture on %s: %s", cfg.lan_device, e.strerror or e)
        return EXIT_CANNOT_RUN
    from hotspot.kernel.nft import Nft

    snooper = Snooper(categories, Nft(), dnsnames.connect(cfg.run_dir), min_ttl=cfg.dns_min_ttl,
                      resolvers=own_addresses(cfg.lan_device))
    next_addresses = time.time() + ADDRESSES_SECONDS
    stop, reload = [], []
    wake_r, wake_w = os.pipe()
    for fd in (wake_r, wake_w):
        os.set_blocking(fd, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    signal.signal(signal.SIGHUP, lambda *_: reload.append(1))
    log.info("dns snooper: watching DNS answers on %s (%d categorised domains)", cfg.lan_device,
             len(categories.domains))
    recv = sock.recv
    while not stop:
        now = time.time()
        wait = max(0.0, snooper.wake_at() - now)
        ready, _, _ = select.select([sock, wake_r], [], [], wait)
        if wake_r in ready:
            os.read(wake_r, 64)
        if sock in ready:
            now = time.time()
            for _ in range(READ_BURST):
                try:
                    data = recv(65535)
                except BlockingIOError:
                    time.sleep(COALESCE_SECONDS)  # all read: let the next frames gather
                    break
                except OSError as e:  # the device went away: hotspotd starts us again
                    log.error("dns snooper: capture on %s failed: %s", cfg.lan_device, e)
                    return 1
                if data:
                    snooper.frame(data, now)
        if reload:
            reload.clear()
            try:
                cfg = load_config(config_path)
                snooper.categories = load_categories(cfg.categories_file)
                snooper.min_ttl = max(1, cfg.dns_min_ttl)
                log.info("dns snooper: categories reloaded (%d domains)", len(snooper.categories.domains))
            except (ConfigError, CategoriesError) as e:
                log.error("dns snooper: categories not reloaded: %s", str(e).splitlines()[0])
        now = time.time()
        if now >= next_addresses:  # a new IPv6 prefix, an address added: the resolver's answers
            next_addresses = now + ADDRESSES_SECONDS
            snooper.set_resolvers(own_addresses(cfg.lan_device))
        if snooper.due(now) or now >= snooper.next_prune:
            snooper.flush(now)
    log.info("dns snooper: stopped (%d frames, %d not answers)", snooper.frames, snooper.bad)
    return 0


def main(argv: list[str] | None = None) -> int:
    from hotspot.config import DEFAULT_PATH, ConfigError

    p = argparse.ArgumentParser(prog="hotspot.apps.snoop.snooper", description=__doc__.splitlines()[0])
    p.add_argument("-c", "--config", default=DEFAULT_PATH, help=f"UCI config file (default {DEFAULT_PATH})")
    args = p.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("hotspot-dnssnoop[%(process)d]: %(levelname)s: %(message)s"))
    logging.getLogger().handlers[:] = [handler]
    logging.getLogger().setLevel(logging.INFO)
    try:
        return run(args.config)
    except (ConfigError, CategoriesError) as e:
        for line in str(e).splitlines():
            log.error("dns snooper: %s", line)
        return 2


if __name__ == "__main__":
    sys.exit(main())
