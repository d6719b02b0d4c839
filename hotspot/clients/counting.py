"""Counting: the kernel's counters into the database, new devices into the kernel, periods rolled.

The kernel counts on its own; this moves what it counted since the last poll into the database, in the
same transaction as the counter values it read (so a crash neither loses nor doubles a byte), finds the
devices that appeared, builds the table again when it went, and starts each new period.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from typing import Callable

from hotspot.clients import policy
from hotspot.core.clock import boot_id, bounds
from hotspot.core.engine import Keeper
from hotspot.core.store import Client
from hotspot.core.store import counted_since as _delta
from hotspot.kernel.dumps import NftError
from hotspot.kernel.rules import ROUTER, UNREGISTERED, counter_names, hold_cmds
from hotspot.kernel.tc import MAX_CLIENT_ID
from hotspot.kernel.watch import TableGone

log = logging.getLogger("hotspot")


class Counting(Keeper):
    """`table_options()`: what the table is built with besides the clients (each capability's part,
    gathered by the house); `built`: what each capability does when the table was built anew."""

    def __init__(self, core, clients, plan, *, table_options: Callable[[], dict] = dict,
                 built: Callable[[], None] = lambda: None) -> None:
        super().__init__(core)
        self.clients = clients
        self.plan = plan
        self.table_options = table_options
        self.built = built
        self.moved: dict[int, tuple[int, int]] = {}  # what the last account() moved, by client id
        self.forgetting = None  # set by the house: a forgotten device's id is scrubbed before it is given


    # -- the table -------------------------------------------------------------------------------------

    def ensure_table(self, gone: list[TableGone] = ()) -> bool:
        """Build the table if it is missing or not the one we follow; True if it was (re)built.
        `gone`: deletions the kernel notified; the counters of the table we followed are accounted
        first, so the bytes it counted since the last poll survive its deletion."""
        core = self.core
        handle = core.nft.table_handle()
        if handle is not None and core.table_is_ours(handle):
            return False
        with core.transaction():
            followed = core.followed()
            for g in gone:
                if g.handle is not None and followed == f"{boot_id()}/{g.handle}":
                    self.account(g.counters)
            if handle is not None and followed == f"{boot_id()}/{handle}":
                self.account()  # the table we follow, built for another config: keep its bytes
            clients = self.store.clients()
            self.clients.reshape(clients)  # tc classes first, so a throttle holds from the first packet
            core.nft.delete_table()
            elements = [self.clients.decide(c).elements for c in clients]
            handle = core.nft.build([self.cfg.lan_device], list(self.cfg.wan_device), elements,
                                    **self.table_options())
            self.clients.http.clear()
            self.clients.by_cap.clear()
            for c, e in zip(clients, elements):
                self.clients.remember_http(c, e.portal)
            self.store.reset_seen()
            self.built()
            core.follow(handle)
        return True

    # -- accounting --------------------------------------------------------------------------------------

    def account(self, objs: dict[str, int] | None = None) -> dict[int, tuple[int, int]]:
        """Move what the kernel counted since the last poll into the database (caller holds a
        transaction); `objs`: counters already read (those of a table just deleted). Returns what it
        moved, by client id (the router's own bytes as ROUTER)."""
        now = self.core.trusted_time()
        end = self.store.get("period_end")
        if end is not None:  # a rollover is due: these bytes belong to the period that is ending
            now = min(now, float(end) - 0.001)
        live = objs is None
        if live:
            objs = self.core.nft.read_counters()
        rows, moved, vouchers = [], {}, {}
        for cid, seen_up, seen_down, voucher in self.store.db.execute(
                "SELECT id, seen_up, seen_down, voucher FROM clients"):
            up, down = counter_names(cid)
            ku, kd = objs.get(up), objs.get(down)
            if ku is None or kd is None:
                continue
            if ku == seen_up and kd == seen_down:
                continue  # nothing moved: no row to write (most clients at most polls)
            du, dd = _delta(ku, seen_up), _delta(kd, seen_down)
            rows.append((cid, du, dd, ku, kd))
            if du or dd:
                moved[cid] = (du, dd)
                if voucher is not None:  # a voucher's data follows the voucher: its devices' bytes
                    vouchers[voucher] = vouchers.get(voucher, 0) + du + dd
        router = self._router(objs)
        if router:
            rows.append(router)
        self.store.record(rows, int(now // 3600 * 3600), now)
        self.store.add_voucher_used(vouchers)
        billed = sum(du + dd for _cid, du, dd, _u, _d in rows) + self._unregistered(objs)
        self.plan.add(billed, now)
        self.plan.snapshot(objs)
        if router and (router[1] or router[2]):
            moved[ROUTER] = router[1:3]
        if live:  # a table just deleted took its elements of unregistered devices along, unread
            self._tally_unregistered(self.core.nft.read_unregistered(), now)
        self.moved = moved
        return moved

    def settle(self, clients: list[Client], counters: Callable[[int], dict[str, int]]) -> None:
        """File what the kernel counted for these clients since the last poll, reading only their
        own chains (`counters(id)`; the caller holds a transaction), as account() does for everyone."""
        now = self.core.trusted_time()
        end = self.store.get("period_end")
        if end is not None:
            now = min(now, float(end) - 0.001)
        rows, vouchers = [], {}
        for c in clients:
            objs = counters(c.id)
            ku, kd = (objs.get(name) for name in counter_names(c.id))
            if ku is None or kd is None:
                continue
            du, dd = _delta(ku, c.seen_up), _delta(kd, c.seen_down)
            rows.append((c.id, du, dd, ku, kd))
            if c.voucher is not None and du + dd:
                vouchers[c.voucher] = vouchers.get(c.voucher, 0) + du + dd
        self.store.record(rows, int(now // 3600 * 3600), now)
        self.store.add_voucher_used(vouchers)
        self.plan.add(sum(du + dd for _cid, du, dd, _u, _d in rows), now)

    def _router(self, objs: dict[str, int]) -> tuple[int, int, int, int, int] | None:
        """The router's own bytes over a metered uplink: a row for the history (client 0) and the
        cycle's figures; its kernel counters' last values live in meta, as it has no client row."""
        up, down = counter_names(ROUTER)
        ku, kd = objs.get(up), objs.get(down)
        if ku is None or kd is None:
            return None
        du, dd = self.store.add_reading("router_up", ku), self.store.add_reading("router_down", kd)
        return (ROUTER, du, dd, ku, kd)

    def _unregistered(self, objs: dict[str, int]) -> int:
        up, down = counter_names(UNREGISTERED)
        delta = self.store.add_reading("unregistered", objs.get(up, 0) + objs.get(down, 0))
        if delta:
            log.info("%d bytes from clients not registered yet", delta)
        return delta

    def pending_total(self, objs: dict[str, int], clients: list[Client] | None = None) -> int:
        """Every byte the kernel counted since the last poll, the clients' and the router's."""
        if not objs:
            return 0
        clients = self.store.clients() if clients is None else clients
        pending = sum(sum(self.clients.pending(objs, c)) for c in clients)
        return pending + sum(_delta(objs.get(k), int(self.store.get(f"router_{d}_seen", "0")))
                             for k, d in zip(counter_names(ROUTER), ("up", "down")))

    # -- devices not registered yet: counted from their first byte (nft/hotspot.nft: unreg_*) ---------

    def _tally_unregistered(self, readings: dict[tuple[str, str], int], now: float) -> None:
        """Take in the kernel's per-device counters of unregistered devices (the caller holds a
        transaction) and credit the bytes of those registered since to them: an upload element by
        its MAC, a download one by the client that has its address now. The plan counted these bytes
        already (the chains' own counters): it is not billed again."""
        self.store.add_unregistered(readings)
        keys: dict[int, list] = {}
        for key, (nbytes, _seen) in self.store.unregistered().items():
            c = self.store.owner(*key) if nbytes else None
            if c is not None:
                keys.setdefault(c.id, []).append(key)
        credited = 0
        for cid, ks in keys.items():
            up, down = self.store.credit(cid, ks, int(now // 3600 * 3600), now)
            credited += up + down
            log.info("client id %d: %d bytes up, %d down from before its registration", cid, up, down)
        if credited:
            total = int(self.store.get("unregistered_credited", "0")) + credited
            self.store.set("unregistered_credited", total)

    def forget_credited(self) -> None:
        """hotspotd's poll, after accounting: delete the kernel elements of unregistered devices whose
        bytes are credited (and their cap's), then their rows. A crash between the two leaves rows
        whose elements the next reading no longer finds: they go then."""
        credited = [key for key, (nbytes, _seen) in self.store.unregistered().items() if not nbytes]
        if not credited or not self.core.table_is_ours():
            return  # the common case: one query of an empty table
        owners = {key: self.store.owner(*key) for key in credited}
        done = [key for key, c in owners.items() if c is not None]
        if not done:
            return
        macs = [k for k, d in done if d == "up"]
        addrs = [k for k, d in done if d == "down"]
        addrs += [ip for k in done if k[1] == "up" for ip in owners[k].ips]  # their cap's elements
        self.core.nft.forget_unregistered(macs, addrs)
        with self.core.transaction():
            self.store.forget_unregistered(done)

    def _hold_for_credit(self, new: list[Client], readings: dict) -> tuple[list[str], list[str]]:
        """New clients with a cap that were counted before registration: hold their packets until
        the batch that registers them, so the quota of their own starts from every byte they used
        (read once held), not from a reading a flood has already left behind. Returns (MACs,
        addresses) held. Only for the few milliseconds of one dump and one batch."""
        macs, addrs = [], []
        for c in new:
            if policy.effective_cap(c) is None and policy.ask_point(c, self.cfg) is None:
                continue
            if (c.mac, "up") in readings or any((ip, "down") in readings for ip in c.ips):
                macs.append(c.mac)
                addrs += c.ips
        if macs:
            self.core.nft.hold(macs, addrs)
        return macs, addrs

    def release_holds(self) -> None:
        """hotspotd at start: a hold a crash left behind must not outlive it."""
        if self.core.table_is_ours():
            self.core.nft.release_holds()

    # -- new devices ---------------------------------------------------------------------------------

    def register(self, found: dict[str, dict]) -> list[Client]:
        """Add clients seen for the first time; refresh hostnames and addresses of known ones. An
        address belongs to one client: the one that claims it now takes it from any other. A new
        client that gets a forgotten device's id is scrubbed first (hotspot.clients.forgetting)."""
        now = self.core.clock()
        new = []
        with self.core.transaction():
            high = self.store.id_high()  # a new client at or below it gets a forgotten device's id
            known = {c.mac: c for c in self.store.clients()}
            owner = {ip: c for c in known.values() for ip in c.ips}
            claims = {mac: sorted(set(info.get("ips") or [])) for mac, info in found.items()}
            dropped, added = [], []  # (address, client id) to take out of / put into the kernel
            for mac, ips in claims.items():
                c = known.get(mac)
                if not ips or (c is not None and ips == sorted(c.ips)):
                    continue
                for ip in ips:
                    other = owner.get(ip)
                    if other is not None and other.mac != mac:
                        other.ips = [a for a in other.ips if a != ip]
                        self.store.update(other.id, ips=other.ips)
                        dropped.append((ip, other.id))
                    owner[ip] = c
            for mac, info in found.items():
                c = known.get(mac)
                if c is None:
                    if len(known) + len(new) >= min(MAX_CLIENT_ID, self.core.nft.marks.max_id) - 1:
                        log.warning("client table full; %s not registered", mac)
                        continue
                    c = self.store.add_client(mac, now, hostname=info.get("hostname"),
                                              ips=claims[mac], cap=self.cfg.default_cap)
                    new.append(c)
                    continue
                changes = {}
                if info.get("hostname") and info["hostname"] != c.hostname:
                    changes["hostname"] = info["hostname"]
                if claims[mac] and claims[mac] != sorted(c.ips):
                    changes["ips"] = claims[mac]
                    dropped += [(ip, c.id) for ip in c.ips if ip not in claims[mac]]
                    added += [(ip, c.id) for ip in claims[mac] if ip not in c.ips]
                if changes:
                    self.store.update(c.id, **changes)
            reused = [c.id for c in new if c.id <= high]
            if not self.core.table_is_ours():
                self.forgetting.scrub_later(reused)
            else:
                self.core.nft.move_addresses(dropped, added)
                if reused:
                    self.forgetting.scrub(reused)
                if new:
                    self._add_new(new)
        return new

    def _add_new(self, new: list[Client]) -> None:
        """Put newly registered clients into the kernel, credited with the bytes they used before,
        which also seed their quota (caller holds the transaction that registered them)."""
        nft = self.core.nft
        readings = nft.read_unregistered()
        held = self._hold_for_credit(new, readings)
        try:
            if held[0]:
                readings = nft.read_unregistered()  # nothing of theirs moves now
            self._tally_unregistered(readings, self.core.trusted_time())
            caps = nft.read_unregistered_caps() if held[0] else {}
            new[:] = [self.store.client(c.mac) for c in new]
            # Its quota starts from what its cap's quotas consumed, if more: they also counted the
            # packet they dropped at the cap, so one that ran out stays out.
            used = [max(c.period_total, sum(caps.get(ip, 0) for ip in c.ips)) for c in new]
            states = [self.clients.decide(c, used=u, quota_used=u) for c, u in zip(new, used)]
            self.core.tc.set_classes({cls: rate for s in states for cls, rate in s.classes.items() if rate})
            nft.add_clients([s.elements for s in states], release=held)
        except BaseException:
            if held[0]:
                try:
                    nft.batch(hold_cmds("delete", *held))
                except NftError:
                    pass  # the batch that registers them let them go already
            raise
        for c, s in zip(new, states):
            self.clients.remember_http(c, s.elements.portal)

    # -- periods -------------------------------------------------------------------------------------

    def rollover_if_due(self) -> bool:
        """Start a new period once the clock passes the current period's end."""
        now = self.core.trusted_time()
        start, end = self.store.get("period_start"), self.store.get("period_end")
        if start is not None and now < float(end):
            return False
        s, e = bounds(datetime.fromtimestamp(now), self.cfg.period, self.cfg.period_start)
        with self.core.transaction():
            if start is not None:
                ours = self.core.table_is_ours()
                if ours:
                    self.account()
                # the topped up lose their top-up; those that went on past an ask point are asked again
                topped = [c for c in self.store.clients() if c.topup or c.ask_done is not None]
                self.store.new_period()
                if ours:
                    self.core.nft.reset_quotas()
                    self.clients.set_http(self.store.clients(), {})  # the capped are capped no more
                    for c in topped:
                        after = dataclasses.replace(c, topup=0, period_up=0, period_down=0, ask_done=None)
                        now_ = policy.elements(after, self.cfg)
                        self.core.nft.update_client(now_, was=dataclasses.replace(
                            policy.elements(c, self.cfg), portal=now_.portal))  # HTTP: done above
                log.info("new period %s to %s", s.isoformat(), e.isoformat())
            self.store.set("period_start", s.timestamp())
            self.store.set("period_end", e.timestamp())
        return start is not None
