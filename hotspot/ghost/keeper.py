"""Ghost traffic's keeper: the poll's 5-minute bins and events (hotspot/ghost/watch.py, with the pure
detector in detector.py), the owner's and the device's one-tap actions, the destinations a device's
own chains drop."""

from __future__ import annotations

import dataclasses
import logging

from hotspot.clients.keeper import NotFound
from hotspot.core.contract import BackendError, mac_arg, text
from hotspot.core.engine import Keeper
from hotspot.core.units import InvalidValue, iso
from hotspot.ghost import watch as ghost_watch
from hotspot.kernel.rules import Marks

log = logging.getLogger("hotspot")


class Ghost(Keeper):
    """`alerts`: the alerts' keeper, whose outbox delivers an event's alert."""

    def __init__(self, core, clients, counting, alerts) -> None:
        super().__init__(core)
        self.clients = clients
        self.counting = counting
        self.alerts = alerts
        self.watch = self._watch(core.cfg)
        self.due = False  # a bin closed: look for events at this poll


    def _watch(self, cfg):
        if not cfg.ghost:
            return None
        marks = Marks(cfg.ct_mark_mask)
        return ghost_watch.GhostWatch(ghost_watch.settings_of(cfg), mark_of=marks.value, mask=marks.mask,
                                      run_dir=cfg.run_dir)

    # -- hotspotd's poll -----------------------------------------------------------------------------

    def start(self) -> None:
        if self.watch is None:
            return
        from hotspot.kernel.conntrack import enable_accounting

        if not enable_accounting():  # the destinations of ghost traffic need conntrack's counters
            log.warning("ghost traffic: cannot turn on net.netfilter.nf_conntrack_acct; events will name no "
                        "destinations")

    def bin(self) -> None:
        """After accounting: the bytes the poll moved go into the current bin."""
        if self.watch is not None and self.watch.add(self.counting.moved, self.core.clock()):
            self.due = True

    def check(self) -> bool:
        """At a bin's end: events of ghost traffic, stored and their alerts queued; True when an alert
        was queued (it goes to flash at once, like the other alerts)."""
        if self.watch is None or not self.due:
            return False
        self.due = False
        now = self.core.clock()
        names = {c.id: c.alias or c.hostname for c in self.store.clients()}
        found = self.watch.check(self.store, now, names)
        if not found:
            return False
        with self.core.transaction():
            queued = self.watch.save(self.store.db, found, now, self.alerts.channel_names(), self.cfg.run_dir,
                                     self.cfg.owner_language)
        if queued:
            self.alerts.wake()
        return bool(queued)

    def config_changed(self, old) -> None:
        settings = ghost_watch.settings_of(self.cfg) if self.cfg.ghost else None
        if settings != (self.watch.st if self.watch else None):
            self.watch = self._watch(self.cfg)  # new settings: the bins start again

    def forgotten(self, ids: set[int], present: bool = False) -> None:
        """Client ids that are no more, or given to a new device, go from the bins (`present`: `ids`
        are those registered now, and the others go)."""
        if self.watch is not None:
            self.watch.forget(set(self.watch.bins) - ids if present else ids)

    # -- queries and changes -----------------------------------------------------------------------------

    def events(self, mac: str | None = None, since: float = 0) -> list[dict]:
        """Ghost-traffic events, newest first: one client's, or everyone's."""
        cid = self.clients.find(mac).id if mac else None
        return ghost_watch.events(self.store.db, cid, since)

    def blocked_destinations(self, mac: str) -> list[dict]:
        """The destinations a client's chains drop, and who blocked each: "owner" or "device"."""
        c = self.clients.find(mac)
        return [{"addr": a, "name": n, "created": iso(t), "by": "device" if d else "owner"}
                for a, n, t, d in self.store.db.execute(
                    "SELECT addr, name, created, by_device FROM blocked_dests WHERE client = ? "
                    "ORDER BY created, addr", (c.id,))]

    def of(self, mac: str) -> dict:
        """What a client's page and the admin UI show of it: its events of the last day and the
        destinations it blocked."""
        return {"mac": mac, "events": self.events(mac, since=self.core.clock() - ghost_watch.BANNER_SECONDS),
                "blocked": self.blocked_destinations(mac)}

    def block_destination(self, mac: str, target: str, *, by_device: bool = False) -> dict:
        """Drop a client's traffic to and from a remote address (v4 or v6), in its own chains; a DNS
        name blocks the addresses the snooper saw it have (live answers), and says which. `by_device`:
        the device blocked it itself (so it may unblock it); the owner's block of an address the
        device blocked makes it the owner's."""
        from hotspot.apps.snoop.names import addresses_for

        addr, name = ghost_watch.parse_destination(target)
        now = self.core.clock()
        # the router's resolver's answers, and this device's own: never another device's
        addrs = [addr] if addr else addresses_for(self.cfg.run_dir, name, now,
                                                  device=self.clients.find(mac).mac)
        if not addrs:
            raise ValueError(f"no address is known for {name} (no DNS answer for it was seen lately); "
                             "block one of its addresses instead")
        with self.core.transaction():
            before = self.clients.find(mac)
            new = sorted(set(addrs) - set(before.blocked_dests))
            if len(before.blocked_dests) + len(new) > ghost_watch.MAX_BLOCKED:
                raise ValueError(f"client {mac} may block at most {ghost_watch.MAX_BLOCKED} destinations")
            self.store.db.executemany(
                "INSERT INTO blocked_dests (client, addr, name, created, by_device) VALUES (?, ?, ?, ?, ?)",
                [(before.id, a, name, now, int(by_device)) for a in new])
            if not by_device:
                self.store.db.executemany(
                    "UPDATE blocked_dests SET by_device = 0 WHERE client = ? AND addr = ?",
                    [(before.id, a) for a in addrs])
            after = dataclasses.replace(before, blocked_dests=tuple(sorted({*before.blocked_dests, *new})))
            self.clients.apply(before, after)
        if new:
            log.info("client %s: destination %s blocked", mac, " ".join(new))
        return {"mac": mac, "name": name, "addresses": addrs, "blocked": self.blocked_destinations(mac)}

    def unblock_destination(self, mac: str, target: str, *, by_device: bool = False) -> dict:
        """Let a client reach a blocked address again (or every address blocked by that name).
        `by_device`: the device asks, and may lift only blocks it set itself; if any of them is the
        owner's, nothing changes."""
        addr, name = ghost_watch.parse_destination(target)
        with self.core.transaction():
            before = self.clients.find(mac)
            gone = [addr] if addr else [r[0] for r in self.store.db.execute(
                "SELECT addr FROM blocked_dests WHERE client = ? AND name = ?", (before.id, name))]
            gone = [a for a in gone if a in before.blocked_dests]
            if not gone:
                raise ValueError(f"client {mac} has not blocked {target.strip()}")
            if by_device:
                owners = [r[0] for r in self.store.db.execute(
                    f"SELECT addr FROM blocked_dests WHERE client = ? AND by_device = 0 AND addr IN "
                    f"({', '.join('?' * len(gone))})", (before.id, *gone))]
                if owners:
                    raise ValueError(f"only the hotspot's owner can unblock {' '.join(sorted(owners))}")
            self.store.db.executemany("DELETE FROM blocked_dests WHERE client = ? AND addr = ?",
                                      [(before.id, a) for a in gone])
            after = dataclasses.replace(before, blocked_dests=tuple(a for a in before.blocked_dests
                                                                    if a not in gone))
            self.clients.apply(before, after)
        log.info("client %s: destination %s unblocked", mac, " ".join(gone))
        return {"mac": mac, "name": name, "addresses": gone, "blocked": self.blocked_destinations(mac)}

    # -- a client's page, and a device forgotten -----------------------------------------------------------

    def client_part(self, c, view: dict, seen) -> dict:
        return {"ghost": ghost_watch.view(seen.store.db, c, seen.now)}

    @staticmethod
    def erase(db, cid: int, mac: str) -> int:
        return ghost_watch.forget(db, cid, mac)

    # -- the socket's operations -------------------------------------------------------------------------

    def ghost_act(self, ip, action, destination=None) -> dict:
        """The device at `ip` acts on its own ghost traffic: "block" or "unblock" a destination,
        "pause" itself, or "resume". It lifts only what it set itself: its own pause, never the
        owner's block; a destination it blocked, never one the owner blocked."""
        c = self.clients.at(ip)
        if action == "resume" and not c.paused:
            raise BackendError("Only the hotspot's owner can resume this device.")
        self._act(c.mac, action, destination, by_device=True)
        return self.clients.me(ip)

    def ghost_admin(self, mac, action, destination=None) -> dict:
        """The owner's same actions on a client ("pause" and "resume" are block and unblock);
        returns the client's view (with `ghost`)."""
        mac = mac_arg(mac)
        self._act(mac, action, destination, by_device=False)
        return self.clients.client(mac)

    def _act(self, mac: str, action: str, destination, *, by_device: bool) -> None:
        if action not in ("block", "unblock", "pause", "resume"):
            raise BackendError(f"unknown action {action!r}")
        with self.core.lock:
            try:
                if action == "block":
                    self.block_destination(mac, text(destination), by_device=by_device)
                elif action == "unblock":
                    self.unblock_destination(mac, text(destination), by_device=by_device)
                elif by_device:
                    self.clients.pause(mac, action == "pause")
                else:
                    self.clients.block(mac, action == "pause")
            except (NotFound, InvalidValue, ValueError) as e:
                raise BackendError(str(e).splitlines()[0]) from None
