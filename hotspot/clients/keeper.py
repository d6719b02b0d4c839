"""Clients and caps: each device's row, what the kernel holds of it, and every change the owner makes.

A change is written to the database and applied to the kernel in one step, inside one database
transaction: if nftables or tc refuse it, the transaction rolls back and nothing has changed. What the
kernel holds of a client is decided in one place (policy.decide); applying a change is applying the
difference between the decision before and the decision after.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

from hotspot.clients import policy
from hotspot.clients.page import named, page
from hotspot.clients.policy import ClientState
from hotspot.core.clock import bounds
from hotspot.core.contract import BackendError, NotAClient, mac_arg, text
from hotspot.core.engine import Keeper
from hotspot.core.store import Client
from hotspot.core.store import counted_since as _delta
from hotspot.core.units import InvalidValue, iso, parse_cap, parse_rate_or_none, parse_size
from hotspot.kernel.conntrack import drop_redirected
from hotspot.kernel.dumps import NftError, client_counters
from hotspot.kernel.neighbours import mac_of
from hotspot.kernel.rules import (
    TABLE,
    ask_quota_name,
    counter_names,
    guard_quota_name,
    quota_name,
    voucher_quota_name,
)
from hotspot.ownlimits import model as own

log = logging.getLogger("hotspot")

# A client whose usage is this close to its cap may have used it up: the kernel quota also counts
# the packet it dropped, so the bytes delivered stop short of the cap by up to one (GSO) packet.
NEAR_CAP = 1 << 20


class NotFound(LookupError):
    pass


class Clients(Keeper):
    """The clients' keeper. `plan` (hotspot.plan.keeper.PlanKeeper): its guard's level holds clients
    back. `speeds`: {client id: (up, down) bits/s} at hotspotd's last poll."""

    def __init__(self, core, plan) -> None:
        super().__init__(core)
        self.plan = plan
        self.speeds: dict[int, tuple[float, float]] = {}
        # Where this process last sent each client's plain HTTP (True: the portal), and which of them
        # went there only because they were capped: the poll looks at those and the clients near
        # their cap, the only ones whose kernel quota can change it without a database change.
        self.http: dict[int, bool] = {}
        self.by_cap: set[int] = set()
        self.parts: list = []  # the other capabilities' parts of a client's page (hotspot.clients.page)
        self.actions: dict = {}  # the other capabilities' actions on a client, for `act` (name -> fn)
        self.counting = None  # set by the house: files the kernel's bytes up to now (for reset)
        self.devices: list[str] | None = None  # the shaped devices present at the last look


    # -- queries -----------------------------------------------------------------------------------

    def find(self, mac: str) -> Client:
        c = self.store.client(mac)
        if c is None:
            raise NotFound(f"unknown client {mac}")
        return c

    @staticmethod
    def pending(objs: dict[str, int], c: Client) -> tuple[int, int]:
        """Bytes the kernel counted since the last poll."""
        up, down = counter_names(c.id)
        return (_delta(objs.get(up), c.seen_up), _delta(objs.get(down), c.seen_down))

    def period(self, store=None) -> tuple[float, float]:
        """This accounting period's [start, end), as the database has it (`store`: a reader)."""
        store = store or self.store
        start, end = store.get("period_start"), store.get("period_end")
        if start is None or end is None:
            s, e = bounds(datetime.fromtimestamp(self.core.clock()), self.cfg.period, self.cfg.period_start)
            return s.timestamp(), e.timestamp()
        return float(start), float(end)

    def view(self, c: Client, objs: dict[str, int], plan: dict | None = None) -> dict:
        """A client as the contract shows it (`clients --json`), with bytes up to this instant;
        `plan`: the plan's snapshot (PlanKeeper.snapshot; default: taken here)."""
        if plan is None:
            plan = self.plan.snapshot(objs)
        pu, pd = self.pending(objs, c)
        live = dataclasses.replace(c, period_up=c.period_up + pu, period_down=c.period_down + pd,
                                   voucher_used=voucher_used(c, objs, pu + pd))
        cap = policy.effective_cap(live)
        quota_used = objs.get(quota_name(c.id))
        over = policy.over_cap(live, quota_used)
        remaining = None if cap is None else 0 if over else max(0, cap - live.period_total)
        v_left = None
        if live.voucher_bytes is not None:
            v_left = max(0, live.voucher_bytes - live.voucher_used)
            remaining = v_left if remaining is None else min(remaining, v_left)
        exempt = c.mac in self.cfg.plan_exempt
        held = policy.plan_hold(plan["state"], exempt)  # what the plan guard does to it now
        plan_left = plan["left_exempt" if exempt else "left_other"]
        if plan_left is not None:
            remaining = plan_left if remaining is None else min(remaining, plan_left)
        state = policy.state(live, self.cfg, quota_used)
        if held and state in ("ok", "warned") or held == "capped" and state == "throttled":
            state = held
        ask_point = policy.ask_point(live, self.cfg)
        asking = policy.asking(live, self.cfg, objs.get(ask_quota_name(c.id))) and not c.held
        if asking and state in ("ok", "warned", "throttled"):
            state = "capped"  # held at its ask point until its user answers
        return {
            "mac": c.mac,
            "id": c.id,
            "ips": c.ips,
            "hostname": c.hostname,
            "alias": c.alias,
            "bytes_up": live.period_up,
            "bytes_down": live.period_down,
            "bytes_total": live.period_total,
            "cap": cap,
            "cap_base": c.cap,
            "topup": c.topup,
            "remaining": remaining,
            "rate_limit": policy.rate_limit(live, self.cfg, quota_used),
            "throttle": c.rate,
            "blocked": c.held,
            "owner_blocked": c.blocked,
            "self_paused": c.paused,
            "admitted": policy.admitted(c, self.cfg),
            "admitted_until": iso(c.admitted_until) if self.cfg.auth != "none" else None,
            "state": state,
            "plan_guard": plan["state"] if held else None,
            "first_seen": iso(c.first_seen),
            "last_seen": iso(c.last_seen),
            "voucher": c.voucher_code,
            "voucher_bytes": c.voucher_bytes,
            "voucher_used": (None if c.voucher is None else live.voucher_used if c.voucher_bytes is None
                             else min(live.voucher_used, c.voucher_bytes)),
            "voucher_remaining": v_left,
            "voucher_expires": iso(c.voucher_expires),
            "update_guard": policy.update_guarded(c, self.cfg),
            "update_guard_choice": c.update_guard,
            "owner_cap": policy.owner_cap(live),
            "own_limit": c.own_limit,
            "own_warn": c.own_warn,
            "own_warned": own.warned(c.own_warn, live.period_total),
            "own_stopped": policy.own_stopped(live, quota_used),
            "own_ask": c.own_ask,
            "ask_at": None if c.ask_at == own.OFF else c.ask_at,
            "ask_off": c.ask_at == own.OFF,
            "ask_default": self.cfg.ask_default,
            "ask_point": ask_point,
            "asking": asking,
        }

    def detail(self, mac: str) -> dict:
        """One client's whole view (hotspot.clients.page), for the owner: `hotspotctl client --json`,
        the admin UI's page and what every change returns."""
        return page(self, self.find(mac), self.core.live_objects(), self.store, owner=True, parts=self.parts)

    def at(self, ip) -> Client:
        """The client whose request came from `ip` (its row through this thread's reader): the
        kernel's neighbour table names it, nothing the request says. NotAClient if none."""
        if not isinstance(ip, str):
            raise NotAClient("no address")
        mac = mac_of(ip, self.cfg.lan_device)
        if mac is None:
            raise NotAClient("this device is not on the hotspot's LAN")
        c = self.core.reader().client(mac)
        if c is None:
            raise NotAClient("this device is not registered yet; try again in a few seconds")
        return c

    def me(self, ip: str) -> dict:
        """The page of the device at `ip`, for itself: it reads only its own row and kernel counters, so
        it costs the same with 5 clients or 5,000."""
        c = self.at(ip)
        guard = [guard_quota_name(level) for level in self.plan.guard().levels]
        if policy.ask_point(c, self.cfg) is not None:
            guard.append(ask_quota_name(c.id))  # where it stands against its ask point
        try:
            objs = client_counters(TABLE, c.id, c.voucher if c.voucher_bytes is not None else None, guard)
        except (NftError, OSError):
            objs = {}  # no table right now: the database's bytes, up to the last poll
        return page(self, c, objs, self.core.reader(), owner=False, parts=self.parts)

    def views(self, objs: dict[str, int] | None = None, clients: list[Client] | None = None) -> list[dict]:
        """Every client's view (`hotspotctl clients --json`)."""
        objs = self.core.live_objects() if objs is None else objs
        plan = self.plan.snapshot(objs)
        return [self.view(c, objs, plan) for c in (self.store.clients() if clients is None else clients)]

    # -- the owner's changes -----------------------------------------------------------------------

    def change(self, mac: str, **fields) -> dict:
        """Write a client's new fields and apply the kernel's side, in one transaction; its view."""
        self.update(mac, **fields)
        return self.detail(mac)

    def update(self, mac: str, **fields) -> None:
        with self.core.transaction():
            before = self.find(mac)
            after = dataclasses.replace(before, **fields)
            self.store.update(before.id, **fields)
            self.apply(before, after)

    def set_cap(self, mac: str, cap: int | None) -> dict:
        return self.change(mac, cap=cap)

    def topup(self, mac: str, size: int) -> dict:
        c = self.find(mac)
        if c.cap is None:
            raise ValueError(f"client {mac} has no cap to top up; set one with 'cap {mac} SIZE'")
        return self.change(mac, topup=c.topup + size)

    def throttle(self, mac: str, rate: int | None) -> dict:
        return self.change(mac, rate=rate)

    def block(self, mac: str, blocked: bool = True) -> dict:
        """The owner blocks a client, or lets it online again: unblock lifts the owner's block and the
        device's own pause (the owner's say is the last)."""
        return self.change(mac, blocked=True) if blocked else self.change(mac, blocked=False, paused=False)

    def pause(self, mac: str, paused: bool = True) -> dict:
        """The device pauses itself from its page, or resumes: its own pause only, a fact beside the
        owner's block, which it never changes (the device stays held while either holds)."""
        return self.change(mac, paused=paused)

    def rename(self, mac: str, alias: str | None) -> dict:
        """The owner's name for a client (None: back to its DHCP hostname)."""
        return self.change(mac, alias=alias or None)

    # -- the kernel's side ---------------------------------------------------------------------------

    def held(self, c: Client) -> bool:
        """Does the plan guard block or stop this client now (by the last poll's figures)?"""
        plan = self.plan.last or self.plan.snapshot()
        return policy.plan_hold(plan["state"], c.mac in self.cfg.plan_exempt) == "capped"

    def decide(self, c: Client, *, used: int | None = None, quota_used: int | None = None,
               cfg=None, ask_used: int | None = None) -> ClientState:
        """The client's whole kernel state now (policy.decide, with the plan guard's hold)."""
        return policy.decide(c, cfg or self.cfg, held=self.held(c), used=used, quota_used=quota_used,
                             ask_used=ask_used)

    def apply(self, before: Client, after: Client) -> None:
        """Carry one client's change into the kernel: the decision for its row before and after,
        their difference applied (tc classes first, then the nft elements, then the classes it no
        longer needs). The caller holds the transaction that wrote the row."""
        if not self.core.table_is_ours():
            return  # hotspotd applies everything from the database when it (re)loads the table
        objs = self.core.nft.read_objects()
        pu, pd = self.pending(objs, after)
        quota_used, ask_used = objs.get(quota_name(after.id)), objs.get(ask_quota_name(after.id))
        if policy.ask_point(after, self.cfg) != policy.ask_point(before, self.cfg):
            ask_used = None  # what the old ask quota counted says nothing of the new point
        now = self.decide(with_voucher_quota(after, objs), used=after.period_total + pu + pd,
                          quota_used=quota_used, ask_used=ask_used)
        was = self.decide(with_voucher_quota(before, objs), quota_used=quota_used,
                          ask_used=objs.get(ask_quota_name(after.id)))
        if self.http.get(after.id, was.elements.portal) != was.elements.portal:
            # this process sent its HTTP elsewhere than the decision says: rewrite the element
            was = dataclasses.replace(was, elements=dataclasses.replace(was.elements,
                                                                        portal=not now.elements.portal))
        self.put(after, now, was)

    def put(self, c: Client, now: ClientState, was: ClientState) -> None:
        """Make the kernel hold `now` of a client that held `was`."""
        tc, nft = self.core.tc, self.core.nft
        tc.set_classes({cls: rate for cls, rate in now.classes.items()
                        if rate and rate != was.classes.get(cls)})
        nft.update_client(now.elements, was=was.elements)
        if was.elements.portal and not now.elements.portal and self.cfg.portal_port:
            try:  # its connections still held by the portal must not outlive the redirect
                if drop_redirected(c.ips, self.cfg.portal_port):
                    log.debug("client %s: ended its connections held by the portal", c.mac)
            except OSError as e:
                log.warning("client %s: could not end its redirected connections: %s", c.mac, e)
        self.remember_http(c, now.elements.portal)
        tc.set_classes({cls: None for cls, rate in was.classes.items() if rate and not now.classes.get(cls)})

    def remember_http(self, c: Client, portal: bool) -> None:
        self.http[c.id] = portal
        if portal and not c.held and policy.admitted(c, self.cfg):
            self.by_cap.add(c.id)
        else:
            self.by_cap.discard(c.id)

    def set_http(self, clients: list[Client], quotas: dict[str, int]) -> list[Client]:
        """Send each client's plain HTTP where its policy says now, if this process last sent it
        elsewhere (or never); returns the clients changed."""
        changed = []
        for c in clients:
            portal = (policy.to_portal(with_voucher_quota(c, quotas), self.cfg, quotas.get(quota_name(c.id)),
                                       quotas.get(ask_quota_name(c.id))) or self.held(c))
            if self.http.get(c.id) != portal:
                changed.append((c, portal))
        if changed:
            self.core.nft.set_http([(c.mac, portal) for c, portal in changed])
            for c, portal in changed:
                self.remember_http(c, portal)
        return [c for c, _ in changed]

    def reset(self, mac: str) -> dict:
        """Zero this period's usage; the bytes stay in the history."""
        with self.core.transaction():
            ours = self.core.table_is_ours()
            if ours:
                self.counting.account()  # file what the kernel counted so far, then start again from zero
            c = self.find(mac)
            self.store.update(c.id, period_up=0, period_down=0)
            if ours:
                used = self.core.nft.reset_quota(c.id)
                after = dataclasses.replace(c, period_up=0, period_down=0)
                if policy.to_portal(c, self.cfg, used) or self.http.get(c.id):
                    self.set_http([after], {})
        return self.detail(mac)

    def set_config(self, old) -> None:
        """Move every client's kernel state from the `old` settings to the core's (the admin UI
        changed the plan while hotspotd runs); counters and quotas carry on."""
        cfg = self.cfg
        if not self.core.table_is_ours():
            return  # a new set of guard levels: hotspotd rebuilds the table at its next poll
        shared_old, shared_new = shared_classes(old), shared_classes(cfg)
        if shared_new != shared_old:
            self.core.tc.set_classes(shared_new)
        objs = self.core.nft.read_counters()
        tc, nft = self.core.tc, self.core.nft
        for c in self.store.clients():
            was = policy.decide(c, old)
            pu, pd = self.pending(objs, c)
            now = policy.decide(c, cfg, used=c.period_total + pu + pd)
            tc.set_classes({cls: r for cls, r in now.classes.items() if r and r != was.classes[cls]})
            if dataclasses.replace(now.elements, used=was.elements.used) != was.elements:
                nft.update_client(now.elements, was=was.elements)
            tc.set_classes({cls: None for cls, r in was.classes.items() if r and not now.classes[cls]})

    def reshape(self, clients: list[Client] | None = None) -> None:
        """Give every present device our HTB root and every throttled client its classes (an LTE
        device that comes up after hotspotd started gets them here)."""
        self.core.tc.setup()
        classes = {cls: rate for cls, rate in shared_classes(self.cfg).items() if rate}
        for c in self.store.clients() if clients is None else clients:
            classes.update({cls: rate for cls, rate in policy.shaping(c, self.cfg).items() if rate})
        self.core.tc.set_classes(classes)

    # -- the socket's operations (the owner's; `me` is above) ------------------------------------------

    def clients(self) -> list[dict]:
        with self.core.lock:
            return [self._with_speed(named(v)) for v in self.views()]

    def client(self, mac) -> dict:
        """The client's whole view and its last seven days by the hour (the admin UI's page)."""
        mac = mac_arg(mac)
        with self.core.lock:
            view = self.detail(mac)
            now = int(self.core.clock() // 3600 * 3600)
            since = now - 7 * 24 * 3600 + 3600
            c = self.find(mac)
            rows = {h: (u, d) for h, u, d in self.store.history(c.id, since)}
        view["history"] = [{"hour": iso(h), "up": rows.get(h, (0, 0))[0], "down": rows.get(h, (0, 0))[1]}
                           for h in range(since, now + 1, 3600)]  # every hour: the chart's time axis
        return view

    def act(self, mac, action, value=None) -> dict:
        """The owner's actions on one client, parsed as the command line parses them."""
        mac = mac_arg(mac)
        try:
            if action == "cap":
                call = lambda: self.set_cap(mac, parse_cap(text(value)))  # noqa: E731
            elif action == "throttle":
                call = lambda: self.throttle(mac, parse_rate_or_none(text(value)))  # noqa: E731
            elif action == "topup":
                call = lambda: self.topup(mac, parse_size(text(value)))  # noqa: E731
            elif action in ("block", "unblock"):
                call = lambda: self.block(mac, action == "block")  # noqa: E731
            elif action == "reset":
                call = lambda: self.reset(mac)  # noqa: E731
            elif action == "rename":
                alias = parse_alias(value)
                call = lambda: self.rename(mac, alias)  # noqa: E731
            elif action in self.actions:
                call = self.actions[action](mac, value)
            else:
                raise BackendError(f"unknown action {action!r}")
        except InvalidValue as e:
            raise BackendError(str(e)) from None
        with self.core.lock:
            return self._with_speed(call())

    def _with_speed(self, view: dict) -> dict:
        up, down = self.speeds.get(view["id"], (0.0, 0.0))
        view.update(speed_up=int(up), speed_down=int(down))
        return view

    def reshape_step(self) -> None:
        """hotspotd's poll: an uplink that came or went (an LTE modem's device) gets our HTB root and
        the classes again."""
        present = self.core.tc.present()
        if present != self.devices:
            if self.devices is not None:
                log.info("devices present now: %s", ", ".join(present) or "none")
            self.reshape()
            self.devices = present

    def forget_http(self, ids: set[int]) -> None:
        """Clients that are no more: what this process sent of their HTTP goes too."""
        for cid in ids:
            self.http.pop(cid, None)
            self.by_cap.discard(cid)


MAX_ALIAS = 32


def parse_alias(value) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_ALIAS or not value.isprintable():
        raise BackendError(f"a name is at most {MAX_ALIAS} printable characters")
    return value.strip() or None


def shared_classes(cfg) -> dict[str, int | None]:
    """The tc classes clients share: the plan guard's throttle and the update guard's."""
    from hotspot.plan.keeper import guard_shaping

    return {**guard_shaping(cfg), **policy.app_guard_shaping(cfg)}


def voucher_used(c: Client, objs: dict[str, int], pending: int = 0) -> int:
    """The bytes of a client's voucher up to now: the database's (plus this client's bytes since the
    last poll), or its kernel quota's, which counts every device's at once."""
    if c.voucher is None:
        return c.voucher_used
    return max(c.voucher_used + pending, objs.get(voucher_quota_name(c.voucher), 0))


def with_voucher_quota(c: Client, quotas: dict[str, int]) -> Client:
    """The client with its voucher's kernel quota folded into voucher_used (policy then sees a
    voucher used up between two polls)."""
    if c.voucher is None or c.voucher_bytes is None:
        return c
    used = voucher_used(c, quotas)
    return c if used == c.voucher_used else dataclasses.replace(c, voucher_used=used)
