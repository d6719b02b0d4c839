"""A guest's own choices: its warning point, its own limit and its ask point, set on its own page, and
the hold at an ask point until its user answers ("continue to the limit" or "stop here").

The choices live in the device's row (and, for a device on a voucher, with the voucher too, so the
device that next signs in with it gets them). The kernel does the rest from the row: the lower of the
owner's cap and the own limit is the client's quota; an ask point is a quota of its own that holds
the device (like the captive gate) from the byte it crosses (hotspot.clients.policy). The poll only
sends a held device's plain HTTP to the portal's page that asks.
"""

from __future__ import annotations

import dataclasses
import logging

from hotspot.clients import policy
from hotspot.clients.keeper import NEAR_CAP
from hotspot.core.contract import BackendError, text
from hotspot.core.engine import Keeper
from hotspot.core.store import Client
from hotspot.core.units import InvalidValue, parse_cap
from hotspot.kernel.rules import ask_quota_name
from hotspot.ownlimits import model as own

log = logging.getLogger("hotspot")

ANSWERS = ("continue", "stop")


def parse_point(value) -> int | None:
    """A point from a form field: a SIZE, or empty / 'none' for none."""
    return parse_cap(text(value).strip() or "none")


class OwnLimits(Keeper):
    def __init__(self, core, clients) -> None:
        super().__init__(core)
        self.clients = clients
        clients.actions["ask"] = self._ask_action

    # -- the device's own choices ----------------------------------------------------------------------

    def _write(self, mac: str, **fields) -> None:
        """Write a device's fields and carry them into the kernel; the caller holds the transaction."""
        before = self.clients.find(mac)
        self.store.update(before.id, **fields)
        self.clients.apply(before, self.clients.find(mac))

    def _ask_used(self, c: Client) -> int | None:
        """What the device's kernel ask quota counted (it holds the device before the poll knows)."""
        if not self.core.table_is_ours():
            return None
        return self.core.nft.read_quotas().get(ask_quota_name(c.id))

    def live(self, c: Client) -> Client:
        """The client with the bytes the kernel counted since the last poll."""
        pu, pd = self.clients.pending(self.core.nft.read_counters() if self.core.table_is_ours() else {}, c)
        return dataclasses.replace(c, period_up=c.period_up + pu, period_down=c.period_down + pd)

    def choose(self, mac: str, *, limit: int | None, warn: int | None, ask: int | None) -> own.Refusal | None:
        """Set a device's own limit, warning point and ask point, or say why not (nothing changed)."""
        with self.core.transaction():
            c = self.live(self.clients.find(mac))
            # an ask point it keeps as it was may be one it passed already
            why = own.check(limit=limit, warn=warn, ask=None if ask == c.own_ask else ask,
                            owner_cap=policy.owner_cap(c), used=c.period_total)
            if why:
                return why
            self._write(mac, own_limit=limit, own_warn=warn, own_ask=ask)
            if c.voucher is not None:
                self.store.set_voucher_choices(c.voucher, own_limit=limit, own_warn=warn, own_ask=ask)
        log.info("client %s: its own limit %s, warning %s, ask point %s", mac, limit, warn, ask)
        return None

    def answer(self, mac: str, answer: str) -> own.Refusal | None:
        """The device's user answers at its ask point: "continue" lets it go on to its limit at once,
        "stop" makes what it used its own limit (it may raise or clear that on its page later)."""
        with self.core.transaction():
            c = self.live(self.clients.find(mac))
            point = policy.ask_point(c, self.cfg)
            if not own.holding(point, c.period_total, self._ask_used(c)):
                return own.Refusal("not_asked")  # only a device held there answers, never ahead of it
            if answer == "continue":
                self._write(mac, ask_done=point)
            else:
                used = c.period_total
                warn = c.own_warn if c.own_warn is not None and c.own_warn < used else None
                self._write(mac, ask_done=point, own_limit=used, own_warn=warn)
                if c.voucher is not None:
                    self.store.set_voucher_choices(c.voucher, own_limit=used, own_warn=warn,
                                                   own_ask=c.own_ask)
        log.info("client %s: answered %r at its ask point %d", mac, answer, point)
        return None

    # -- the owner's ask point for a device ----------------------------------------------------------

    def owner_ask(self, mac: str, value: str) -> dict:
        """The owner's ask point for one device: SIZE, "none" (never, whatever ask_default says),
        "default" (ask_default), or "continue" (release it now, as its user would)."""
        if value == "continue":
            with self.core.transaction():
                c = self.live(self.clients.find(mac))
                point = policy.ask_point(c, self.cfg)
                if not own.holding(point, c.period_total, self._ask_used(c)):
                    raise BackendError(f"client {mac} is not waiting at an ask point")
                self._write(mac, ask_done=point)
            return self.clients.detail(mac)
        if value == "default":
            return self.clients.change(mac, ask_at=None)
        point = parse_cap(value)
        return self.clients.change(mac, ask_at=own.OFF if point is None else point)

    def _ask_action(self, mac: str, value):
        value = text(value).strip().lower()
        if value not in ("continue", "default"):
            try:
                parse_cap(value)
            except InvalidValue as e:
                raise BackendError(f"{e} (or default, or continue)") from None
        return lambda: self.owner_ask(mac, value)

    # -- hotspotd's poll ---------------------------------------------------------------------------------

    def refresh_asking(self) -> list[Client]:
        """Send the plain HTTP of a device its ask quota holds now to the portal's page that asks (the
        kernel already holds it back). Only devices near an ask point are looked at; those sent there
        before are the captive gate's to bring back (Clients.by_cap)."""
        near = [c for c in self.store.near_ask(NEAR_CAP, self.cfg.ask_default)
                if policy.ask_point(c, self.cfg) is not None]
        if not near or not self.core.table_is_ours():
            return []
        changed = self.clients.set_http(near, self.core.nft.read_quotas())
        for c in changed:
            log.info("client %s: %s at its ask point", c.mac,
                     "held" if self.clients.http[c.id] else "released")
        return changed

    # -- the socket's operations ---------------------------------------------------------------------

    def set_own_limits(self, ip, limit, warn, ask) -> dict:
        c = self.clients.at(ip)
        try:
            points = parse_point(limit), parse_point(warn), parse_point(ask)
        except InvalidValue:
            return {"refused": "invalid", "amount": None}
        with self.core.lock:
            why = self.choose(c.mac, limit=points[0], warn=points[1], ask=points[2])
        return {"refused": why.reason if why else None, "amount": why.amount if why else None}

    def answer_ask(self, ip, answer) -> dict:
        c = self.clients.at(ip)
        if answer not in ANSWERS:
            raise BackendError("the answer is continue or stop")
        with self.core.lock:
            why = self.answer(c.mac, answer)
        return {"refused": why.reason if why else None, "amount": None}

