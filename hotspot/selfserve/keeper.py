"""A guest's own choices, kept by hotspotd: data off (its own pause, never the owner's block), asking the
owner for more (an alert through the outbox, at most once an hour), and its background trickle on its
page and the owner's (hotspot/selfserve/trickle.py)."""

from __future__ import annotations

import logging
import time

from hotspot.alerts import outbox
from hotspot.alerts.language import words
from hotspot.core.contract import BackendError
from hotspot.core.engine import Keeper
from hotspot.core.units import iso
from hotspot.selfserve import asking
from hotspot.selfserve import trickle as trickles

log = logging.getLogger("hotspot")
ASKED = "ask_owner:"  # meta key prefix: a device's last ask (its MAC follows)


def utc_offset(t: float) -> int:
    return time.localtime(t).tm_gmtoff


class SelfServe(Keeper):
    """`alerts`: the alerts' keeper (its outbox and channels); `portal_url()`: the portal's address for
    the owner's approve link (None while hotspotd does not know it)."""

    def __init__(self, core, clients, alerts, *, portal_url=lambda: None, offset=utc_offset) -> None:
        super().__init__(core)
        self.clients = clients
        self.alerts = alerts
        self.portal_url = portal_url
        self.offset = offset

    # -- a client's page, and a device forgotten --------------------------------------------------------

    def client_part(self, c, view: dict, seen) -> dict:
        now = seen.now
        last = seen.store.get(ASKED + c.mac)
        last = float(last) if last else None
        nxt = asking.next_ask(last, now)
        rows = seen.store.hour_totals(c.id, trickles.local_midnight(now, self.offset(now))
                                      - (trickles.WINDOW_DAYS + 1) * trickles.DAY, 2**62)
        return {
            "ask": {"asked_at": iso(last), "next_at": iso(nxt), "told": bool(self.alerts.channel_names()),
                    "topup": asking.proposed_topup(view.get("cap_base"))},
            "trickle": trickles.trickle(rows, first_seen=c.first_seen, now=now, offset=self.offset(now)),
        }

    @staticmethod
    def erase(db, cid: int, mac: str) -> int:
        outbox.schema(db)
        n = db.execute("DELETE FROM meta WHERE key = ?", (ASKED + mac,)).rowcount
        return n + db.execute("DELETE FROM deliveries WHERE kind = 'ask' AND instr(message_json, ?) > 0",
                              (mac,)).rowcount

    # -- the socket's operations -------------------------------------------------------------------------

    def data_off(self, ip, off) -> dict:
        """The device at `ip` turns its own data off or back on: its own pause only. Back on never lifts
        the owner's block or pause (the device stays held while the owner holds it)."""
        if not isinstance(off, bool):
            raise BackendError("off is true or false")
        c = self.clients.at(ip)
        with self.core.lock:
            c = self.clients.find(c.mac)
            if not off and not c.paused:
                raise BackendError("This device's data was not turned off from its page; only the hotspot's "
                                   "owner can let it back on.")
            if c.paused != off:
                self.clients.pause(c.mac, off)
                log.info("client %s: data %s from its page", c.mac, "off" if off else "back on")
        return self.clients.me(ip)

    def ask_owner(self, ip) -> dict:
        """The device at `ip` asks the owner for more data: the owner's alert with its usage, cap and a
        link to approve a top-up, at most once an hour; BackendError (nothing sent) without a cap of its
        own, an alert channel, or before the hour has passed."""
        c = self.clients.at(ip)
        view = self.clients.me(ip)
        size = asking.proposed_topup(view["cap_base"])
        if size is None:
            raise BackendError("This device has no cap of its own to top up.")
        channels = self.alerts.channel_names()
        if not channels:
            raise BackendError("The hotspot's owner has set up no alert channel: ask them in person.")
        with self.core.lock, self.core.transaction():
            now = self.core.clock()
            last = self.store.get(ASKED + c.mac)
            if asking.next_ask(float(last) if last else None, now) is not None:
                raise BackendError("You asked less than an hour ago; the owner was told.")
            recent = self.store.db.execute(
                "SELECT COUNT(*) FROM meta WHERE key LIKE ? AND CAST(value AS REAL) > ?",
                (ASKED + "%", now - asking.INTERVAL)).fetchone()[0]
            if recent >= asking.MAX_PER_INTERVAL:  # new MACs each time would flood the owner
                raise BackendError("Many devices asked the owner within the hour; try again later.")
            m = asking.message(mac=c.mac, name=c.alias or c.hostname, used=view["bytes_total"],
                               cap=view["cap"], size=size,
                               link=asking.approve_url(self.portal_url(), c.mac, size),
                               gettext=words(self.cfg.owner_language)._)
            self.alerts.notify(m, channels, kind="ask")
            self.store.set(ASKED + c.mac, now)
        self.alerts.wake()
        log.info("client %s asked the owner for more data", c.mac)
        return self.clients.me(ip)
