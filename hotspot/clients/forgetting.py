"""Devices that leave: forgetting one (hotspotctl forget, the admin UI, client_retention) and giving
its id to a new device safely (which devices go is hotspot/clients/retention.py's rule, pure).
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Callable

from hotspot.clients import policy, retention
from hotspot.core.clock import trusted_now
from hotspot.core.engine import Keeper
from hotspot.core.store import Client
from hotspot.core.units import format_duration, iso
from hotspot.kernel.conntrack import remark
from hotspot.kernel.dumps import NftError, client_counters
from hotspot.kernel.rules import TABLE, UNREGISTERED
from hotspot.kernel.tc import ShaperError

log = logging.getLogger("hotspot")

# Seconds between looks for devices to forget (HOTSPOT_RETENTION_INTERVAL: tests look every poll).
RETENTION_INTERVAL = float(os.environ.get("HOTSPOT_RETENTION_INTERVAL", retention.INTERVAL))


class Forgetting(Keeper):
    """`erasers`: each capability's eraser of what it recorded about a device (db, id, mac) -> rows
    erased (ghost-traffic events, alerts, deliveries...), gathered by the house."""

    def __init__(self, core, clients, counting, *,
                 erasers: Callable[[], list[Callable[[object, int, str], int]]] = list) -> None:
        super().__init__(core)
        self.clients = clients
        self.counting = counting
        self.erasers = erasers
        self._forgotten = core.store.get("forgotten")  # how many forgets the database had at the last look
        self.retain_next = 0.0  # time.monotonic() of the next look for devices to forget


    def forget(self, mac) -> dict:
        """The socket's: the owner erases a device, as `hotspotctl forget`."""
        from hotspot.clients.keeper import NotFound
        from hotspot.core.contract import BackendError, mac_arg

        mac = mac_arg(mac)
        with self.core.lock:
            try:
                return self.forget_device(mac)
            except NotFound as e:
                raise BackendError(str(e)) from None

    def forget_device(self, mac: str) -> dict:
        """Erase a device now, whatever its idle time (hotspotctl forget, the admin UI): as
        retention does (forget_clients). NotFound for a MAC that is not registered."""
        with self.core.transaction():
            (done,) = self.forget_clients([self.clients.find(mac)])
        log.info("client %s forgotten (id %d is free again)", done["mac"], done["id"])
        return done

    def retain_step(self) -> None:
        """hotspotd's poll: client_retention, a few devices at a time, once a minute (at once again
        while a look finds more than a step's worth)."""
        if time.monotonic() < self.retain_next:
            return
        done = self.retain()
        self.retain_next = time.monotonic() + (0 if len(done) >= retention.STEP else RETENTION_INTERVAL)

    def retain(self, limit: int = retention.STEP) -> list[dict]:
        """hotspotd's poll: forget up to `limit` devices that had no traffic for client_retention,
        the longest idle first (hotspot.clients.retention says which); what forget returns for each. A
        clock behind the last trusted time forgets nobody: nothing is surely idle then."""
        if self.cfg.client_retention is None:
            return []
        with self.core.transaction():
            now, trusted = trusted_now(self.core.clock(), float(self.store.get("last_good", "0")))
            if not trusted:
                return []
            idle = self.store.idle_since(now - self.cfg.client_retention)
            due = retention.due(idle, now, self.cfg.client_retention, exempt=self.cfg.plan_exempt,
                                limit=limit)
            done = self.forget_clients(self.store.clients_by_id([c.id for c in due])) if due else []
        for d in done:
            log.info("client %s forgotten after %s without traffic (client_retention); id %d is free again",
                     d["mac"], format_duration(self.cfg.client_retention), d["id"])
        return done

    def forget_clients(self, clients: list[Client]) -> list[dict]:
        """Forget devices (the caller holds a transaction). In the kernel first: they are unlinked
        from the maps, so their traffic counts as not registered from the next packet, and the last
        bytes their chains counted are filed (the plan's totals and history, their vouchers); then
        their chains, quotas, per-category counters and tc classes go, and the connections that
        carry their id in the conntrack mark carry the not-registered id instead. Then the
        database forgets them: their rows (Store.forget_client), and what each capability recorded
        about them (ghost-traffic events, alerts and their deliveries). If nftables refuses,
        hotspotd rebuilds the table from the database instead, which has them no more."""
        if not clients:
            return []
        if self.core.table_is_ours():
            self._unplug(clients)
            clients = self.store.clients_by_id([c.id for c in clients])  # with the bytes just filed
        else:
            self.scrub_later([c.id for c in clients])
        done = []
        for c in clients:
            erased = self.store.forget_client(c)
            erased += sum(erase(self.store.db, c.id, c.mac) for erase in self.erasers())
            done.append({"mac": c.mac, "id": c.id, "forgotten": True, "bytes_total": c.period_total,
                         "last_seen": iso(c.last_seen), "rows_erased": erased})
        self.clients.forget_http({c.id for c in clients})
        return done

    def _unplug(self, clients: list[Client]) -> None:
        nft = self.core.nft
        elements = [policy.elements(c, self.cfg) for c in clients]
        try:
            nft.unlink_clients(elements)
            unlinked = True
        except NftError as e:
            self.core.distrust_table(f"could not unlink forgotten clients: {e}")
            unlinked = False
        try:  # unlinked: their chains count nothing more
            self.counting.settle(clients, lambda cid: client_counters(TABLE, cid))
        except (NftError, OSError) as e:
            log.error("could not read the last bytes of forgotten clients: %s", e)
        if unlinked:
            try:
                nft.drop_clients(elements)
            except NftError as e:
                self.core.distrust_table(f"could not delete forgotten clients' chains: {e}")
        classes = {cls: None for c in clients for cls, rate in policy.shaping(c, self.cfg).items() if rate}
        try:
            self.core.tc.set_classes(classes)
        except ShaperError as e:
            log.warning("could not remove forgotten clients' tc classes: %s", e)
        self.release_flows([c.id for c in clients])

    def scrub(self, ids: list[int]) -> None:
        """Before a forgotten device's id names a new client: nothing the old one left may reach
        it. Forgetting took its kernel state already; a packet that was in flight then may have
        made a counting element or marked a connection, and a reading of such an element since
        may have made rows for the id."""
        try:
            self.core.nft.drop_app_counters(ids)
        except NftError as e:
            log.warning("could not clear the category counters of ids %s: %s", ids, e)
        self.release_flows(ids)
        marks = ", ".join("?" * len(ids))
        for table in ("app_seen", "app_usage"):
            self.store.db.execute(f"DELETE FROM {table} WHERE client IN ({marks})", ids)

    def scrub_later(self, ids: list[int]) -> None:
        """Without our table now: the next build releases the connections that carry these ids."""
        if ids:
            waiting = json.loads(self.store.get("scrub_ids", "[]"))
            self.store.set("scrub_ids", json.dumps(sorted(set(waiting) | set(ids))))

    def table_built(self) -> None:
        """The table was built anew (its counting sets are new): release the connections of the ids
        forgotten meanwhile."""
        self.release_flows(json.loads(self.store.get("scrub_ids", "[]")))
        self.store.set("scrub_ids", "[]")

    def release_flows(self, ids: list[int]) -> None:
        """The connections that carry these ids in their mark carry the not-registered id instead
        (conntrack.remark): they go on, counted as a device not registered yet."""
        if not ids:
            return
        marks = self.core.nft.marks
        try:
            remark({marks.value(cid) for cid in ids}, marks.mask, marks.value(UNREGISTERED))
        except OSError as e:
            log.warning("could not release the connections of ids %s: %s", ids, e)

    def notice_forgotten(self) -> set[int] | None:
        """hotspotd's poll: when devices were forgotten since the last look (here, through the
        socket, or by hotspotctl in another process), the ids registered now (the caller drops what
        it keeps about the others); None when nothing was."""
        mark = self.store.get("forgotten")
        if mark == self._forgotten:
            return None
        self._forgotten = mark
        ids = {r[0] for r in self.store.db.execute("SELECT id FROM clients")}
        self.clients.forget_http(set(self.clients.http) - ids)
        return ids
