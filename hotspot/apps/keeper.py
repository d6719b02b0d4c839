"""Which apps use the data: the kernel's per-category counters into the database, dnsmasq's nftset
lines, the DNS snooper's process, and the update guard's choice per device."""

from __future__ import annotations

import logging
import os
import time

from hotspot.apps import categories, usage
from hotspot.apps import dnsmasq as nftset
from hotspot.apps.snoop.process import SnoopProcess
from hotspot.clients import policy
from hotspot.core import parts
from hotspot.core.contract import BackendError
from hotspot.core.engine import Keeper
from hotspot.core.units import iso
from hotspot.kernel.rules import ROUTER

log = logging.getLogger("hotspot")

# Seconds between readings of the per-category counters (HOTSPOT_APPS_INTERVAL: tests read every poll).
APPS_INTERVAL = float(os.environ.get("HOTSPOT_APPS_INTERVAL", "30"))


class Apps(Keeper):
    def __init__(self, core, clients) -> None:
        super().__init__(core)
        self.clients = clients
        self.read_at = 0.0  # time.monotonic() of the last reading of the per-category counters
        self.nftset_made: tuple | None = None  # what dnsmasq's nftset file was last written from
        self.snoop: SnoopProcess | None = None  # the DNS snooper (dns_snoop), a process of its own
        clients.actions["guard"] = self._guard_action


    # -- hotspotd's poll ---------------------------------------------------------------------------------

    def account(self) -> int:
        """Move what the kernel counted per client per category into the database; the bytes added."""
        with self.core.transaction():
            if not self.core.table_is_ours():
                return 0
            return usage.record(self.store.db, self.core.nft.read_apps(), self.core.trusted_time())

    def read(self, now: bool = False) -> None:
        """The per-category counters, every APPS_INTERVAL (a dump of 14 sets, one element per client
        each), or `now`."""
        if not now and time.monotonic() - self.read_at < APPS_INTERVAL:
            return
        self.read_at = time.monotonic()
        self.account()

    def dnsmasq_sets(self) -> None:
        """dnsmasq's nftset lines, rewritten (and dnsmasq restarted) when the categories list or its
        settings changed (hotspot.apps.dnsmasq)."""
        path = self.cfg.dnsmasq_nftset_file
        source = self.cfg.categories_file or str(categories.BUILTIN)
        try:
            mtime = os.stat(source).st_mtime_ns
        except OSError:
            mtime = None
        made = (path, source, mtime, self.cfg.dnsmasq_restart)
        if not path or made == self.nftset_made:
            return
        self.nftset_made = made
        if not nftset.supported():
            log.warning("dnsmasq has no nftset support (OpenWrt: install dnsmasq-full): app categories "
                        "come only from the DNS snooper")
            return
        if nftset.install(path, nftset.lines(categories.load(self.cfg.categories_file)),
                          self.cfg.dnsmasq_restart or ""):
            log.info("dnsmasq's nftset lines written to %s%s", path,
                     f"; ran {self.cfg.dnsmasq_restart}" if self.cfg.dnsmasq_restart else "")

    def supervise_snoop(self) -> None:
        """The DNS snooper runs while dns_snoop is on, started again if it exits; whatever becomes
        of it, counting and enforcement go on in hotspotd."""
        if self.cfg.dns_snoop and parts.installed("dns_snooper"):
            self.snoop = self.snoop or SnoopProcess(self.cfg.path)
            self.snoop.check()
        elif self.snoop:
            self.snoop.stop()
            self.snoop = None

    def reload_snoop(self) -> None:
        """The categories list again (SIGHUP, new settings)."""
        if self.snoop:
            self.snoop.reload()

    def stop(self) -> None:
        if self.snoop:
            self.snoop.stop()

    def config_changed(self, old) -> None:
        self.reload_snoop()  # its categories list may have changed

    # -- queries and changes --------------------------------------------------------------------------

    def usage(self, mac: str | None = None, since: float | None = None, until: float | None = None) -> dict:
        """The bytes per category (and "other") of one client, or of every client and the router,
        over the days from `since` to `until` (default: this period), as of hotspotd's last reading."""
        start, _end = self.clients.period()
        since = start if since is None else since
        until = self.core.clock() + 86400 if until is None else until
        cid = self.clients.find(mac).id if mac else None
        cats = usage.usage(self.store.db, since, until, cid)
        totals = usage.totals(self.store.db, since, until, cid)
        clients = [self.clients.find(mac)] if mac else self.store.clients()
        rows = []
        for c in clients:
            rows.append({"mac": c.mac, "name": c.alias or c.hostname,
                         "update_guard": policy.update_guarded(c, self.cfg),
                         "categories": usage.breakdown(cats.get(c.id, {}), totals.get(c.id, [0, 0]))})
        if not mac and (cats.get(ROUTER) or totals.get(ROUTER)):
            rows.append({"mac": None, "name": "router", "update_guard": False,
                         "categories": usage.breakdown(cats.get(ROUTER, {}), totals.get(ROUTER, [0, 0]))})
        named = {r["mac"] or "router": r["categories"] for r in rows}
        return {"since": iso(usage.day_start(since)), "until": iso(until), "clients": rows,
                "by_category": [] if mac else usage.by_category(named)}

    def guard(self, mac: str, choice: bool | None) -> dict:
        """A device opts in (True) or out (False) of the update guard, or follows the default (None)."""
        return self.clients.change(mac, update_guard=choice)

    def _guard_action(self, mac: str, value):
        choice = {"on": True, "off": False, "default": None}.get(value if isinstance(value, str) else "", "?")
        if choice == "?":
            raise BackendError("the update guard is on, off or default")
        return lambda: self.guard(mac, choice)

    # -- the table's part, a client's page -------------------------------------------------------------

    def table_options(self) -> dict:
        return {"dns_redirect": self.cfg.dns_redirect}

    def built_for(self, cfg) -> str:
        return "/dns" if cfg.dns_redirect else ""  # the redirect is built into the table

    def table_built(self) -> None:
        usage.reset_seen(self.store.db)  # the per-category counters start again from zero

    def client_part(self, c, view: dict, seen) -> dict:
        """One client's bytes per app category this period (two indexed reads)."""
        end = seen.now + 86400
        cats = usage.usage(seen.store.db, seen.start, end, c.id).get(c.id, {})
        total = usage.totals(seen.store.db, seen.start, end, c.id).get(c.id, [0, 0])
        return {"apps": usage.breakdown(cats, total),
                "update_guard_categories": list(self.cfg.update_guard_categories)}

    # -- the socket's operations ---------------------------------------------------------------------

    def set_update_guard(self, ip, on) -> dict:
        """The device at `ip` switches the update guard on or off for itself."""
        c = self.clients.at(ip)
        with self.core.lock:
            self.guard(c.mac, bool(on))
        return self.clients.me(ip)

    def apps(self) -> dict:
        with self.core.lock:
            return self.usage()
