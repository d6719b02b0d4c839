"""What hotspotd answers the portal (the Backend of `hotspot/portal/backend.py`), run in the IPC
server's threads.

A client's own page is the hot path: it reads its row through a reader of its own (SQLite WAL, so it
neither waits for the poll nor holds it up) and only its own kernel counters, so it costs the same
with 5 clients or 5,000. Everything else goes through the daemon's Hotspot under the daemon's lock.
"""

from __future__ import annotations

import secrets
import threading
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

from hotspot.admin import auth as admin_auth
from hotspot.alerts import outbox
from hotspot.alerts import points as alerts
from hotspot.alerts.channels import DeliveryError
from hotspot.apps import usage as app_usage
from hotspot.captive.vouchers import MAX_BATCH, MAX_DEVICES, parse_code, parse_count
from hotspot.clients import policy
from hotspot.config import ConfigError, settings_text, write_settings
from hotspot.core.store import Client, Store
from hotspot.core.units import (
    InvalidValue,
    parse_cap,
    parse_duration,
    parse_mac,
    parse_rate_or_none,
    parse_size,
)
from hotspot.forecast import from_history as forecasts
from hotspot.ghost import watch as ghost_watch
from hotspot.kernel.neighbours import mac_of
from hotspot.kernel.nft import TABLE, NftError, client_counters, guard_quota_name
from hotspot.plan import model as plan
from hotspot.plan.keeper import PlanKeeper, guard_of
from hotspot.portal.backend import BackendError, NotAClient, VoucherRefused
from hotspot.service import Hotspot, NotFound, iso
from hotspot.service import VoucherRefused as Refused

MAX_ALIAS = 32
CHANNELS = ("webhook", "email", "sms")  # the alert channels the admin UI may test
LOG_LIMIT = 100  # alerts and deliveries the Alerts page shows


def retention_facts(cfg) -> dict:
    """How long what is recorded about a device is kept, for the notice guests read."""
    return {"client_days": None if cfg.client_retention is None else -(-cfg.client_retention // 86400),
            "hourly_days": cfg.history_hourly_days, "daily_months": cfg.history_daily_months}


def reason(view: dict, cfg, admitted: bool) -> tuple[str | None, bool]:
    """Why a client is not simply 'ok' (see backend.py), and whether it lasts until the period's end.
    The plan guard is named when it is what holds the client back: its block or stop stops the
    client whatever its own cap says; its throttle only when the client's own cap is not spent."""
    state = view["state"]
    guard = view.get("plan_guard")
    if view["owner_blocked"]:
        return "blocked", False
    if view["self_paused"]:
        return "paused", False
    if not admitted:
        return "not_admitted", False
    voucher_used = view.get("voucher_remaining") == 0
    if state == "capped" and guard in ("block", "stop"):
        return f"plan_{guard}", False
    if state == "capped":
        return ("voucher_used", False) if voucher_used else ("cap_block", True)
    if state == "throttled":
        if view["remaining"] == 0 and cfg.after_cap == "throttle":
            return ("voucher_used", False) if voucher_used else ("cap_throttle", True)
        return ("plan_throttle", False) if guard == "throttle" else ("throttle", False)
    if state == "warned":
        return "warned", True
    return None, False


def passed(used: int, whole: int | None, points) -> int | None:
    """The highest alert point (percent of `whole`) that `used` reached, or None."""
    if not whole:
        return None
    return max((p for p in points if used * 100 >= whole * p), default=None)


def plan_over(store: Store, hs: Hotspot) -> PlanKeeper:
    """The plan's figures read through `store`: for a client's page, its thread's own reader (it must
    never use the daemon's connection: the poll may be in a transaction on it)."""
    return PlanKeeper(SimpleNamespace(store=store, cfg=hs.cfg, clock=hs.clock))


def plan_snapshot(keeper: PlanKeeper, objs: dict[str, int]) -> dict:
    """As PlanKeeper.snapshot, for one request: the database's bytes to the last poll, or the guard's
    kernel quotas in `objs` where they are ahead. They are when the guard cut in: the packet that would
    cross a point is dropped, so the bytes the poll moves stop just short of it and the database alone
    would tell a blocked guest it is online. `used` is added for plan_for_client."""
    used = keeper.used_now(objs)
    return {"state": keeper.state(used, objs), "left_exempt": keeper.left_for(True, used),
            "left_other": keeper.left_for(False, used), "used": used}


def plan_for_client(keeper: PlanKeeper, snap: dict, view: dict) -> dict | None:
    """The plan-level facts that affect one client, and nothing about other clients: how much of
    the plan is used, the guard's level and whether it holds this client back, the plan's bytes left
    for it, the highest alert point passed, and the next guard step that would hold it back. None
    when the plan has no quota."""
    cfg = keeper.cfg
    allowance = keeper.allowance()
    if not allowance:
        return None
    limits = keeper.limits()
    used = snap["used"]
    exempt = view["mac"] in cfg.plan_exempt
    held = view.get("plan_guard")
    mine = ("stop",) if exempt else plan.LEVELS
    stricter = plan.LEVELS[plan.LEVELS.index(held) + 1:] if held else plan.LEVELS
    ahead = sorted((point, level) for level, point in limits.items()
                   if level in mine and level in stricter and point is not None and point > used)
    bounds = keeper.cycle()
    return {
        "percent": round(used * 100 / allowance, 1),
        "guard": snap["state"],
        "held": held,
        "left_for_you": snap["left_exempt" if exempt else "left_other"],
        "alert_point": passed(used, allowance, cfg.alert_at),
        "next_level": ahead[0][1] if ahead else None,
        "next_at_percent": round(ahead[0][0] * 100 / allowance, 1) if ahead else None,
        "cycle_end": iso(bounds[1]) if bounds else None,
        "renews": cfg.plan_period != "pass",
    }


class PortalApi:
    def __init__(self, hs: Hotspot, *, lock: threading.RLock, health=lambda: {}, speeds=lambda: {},
                 on_config=lambda cfg: None, portal_url=lambda: None, portal_hosts=lambda: [],
                 test_send=None, channels=lambda: []) -> None:
        self.hs = hs
        self.lock = lock
        self.health = health  # the daemon's: last poll, its duration, rebuilds, uptime
        self.speeds = speeds  # the daemon's {client id: (up, down) bits/s} at its last poll
        self.on_config = on_config  # the daemon applies settings written by the admin
        self.portal_url = portal_url  # where clients reach the portal, e.g. http://192.168.1.1:8080
        self.portal_hosts = portal_hosts  # the router's own addresses and names: a Host the portal owns
        self.test_send = test_send  # the daemon's Outbox.test: a test message through a channel, now
        self.channels = channels  # the names of the channels the daemon's outbox delivers through
        self.limiter = admin_auth.LoginLimiter()
        self.sessions = admin_auth.Sessions(hs.cfg.state_dir)
        self._hashing = threading.Lock()  # one scrypt (16 MiB) at a time, however many try at once
        # Signs the portal's cookies (CSRF tokens, language): made here, in memory, so both portal
        # processes and every worker share it while hotspotd runs. It makes no one admin.
        self.cookie_key = secrets.token_hex(32)
        (Path(hs.cfg.state_dir) / "portal.key").unlink(missing_ok=True)  # the old fixed key, gone
        self._local = threading.local()

    @property
    def cfg(self):
        return self.hs.cfg

    # -- a client's own ----------------------------------------------------------------------------

    def _reader(self) -> Store:
        r = getattr(self._local, "store", None)
        if r is None:
            r = self._local.store = Store(self.hs.store.path, readonly=True)
        return r

    def _client_at(self, ip: str) -> Client:
        if not isinstance(ip, str):
            raise NotAClient("no address")
        mac = mac_of(ip, self.cfg.lan_device)
        if mac is None:
            raise NotAClient("this device is not on the hotspot's LAN")
        c = self._reader().client(mac)
        if c is None:
            raise NotAClient("this device is not registered yet; try again in a few seconds")
        return c

    def _admitted(self, c: Client) -> bool:
        return policy.admitted(c, self.cfg)

    def _view(self, c: Client, objs: dict[str, int], store: Store, *, owner: bool) -> dict:
        """The client view; `owner`: for the owner (named by the owner's alias), else for the
        device itself (its DHCP hostname only: the owner's name for it is the owner's)."""
        now = self.hs.clock()
        # the plan through `store` (a client's page: its thread's reader, never the daemon's
        # connection) and the guard's quotas in `objs`
        keeper = plan_over(store, self.hs)
        plan = plan_snapshot(keeper, objs)
        view = self.hs.view(c, objs, plan)
        view = _named(view) if owner else _unnamed(view)
        start, end = _period(store, self.hs)
        admitted = self._admitted(c)
        why, till_end = reason(view, self.cfg, admitted)
        plan_facts = plan_for_client(keeper, plan, view)
        learnt = store.history(c.id, forecasts.lookback(now, start))  # the forecaster's hours too
        first = int(start) // 3600 * 3600
        hours = [(h, u + d) for h, u, d in learnt if h >= first]
        midnight = datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0)
        today_from = midnight.timestamp()
        by_hour = dict(hours)
        today = [{"hour": iso(h), "bytes": by_hour.get(h, 0)}
                 for h in range(int(today_from), int(now) + 1, 3600)]
        days: dict[str, int] = {}
        day = datetime.fromtimestamp(start).date()
        while day <= datetime.fromtimestamp(now).date():
            days[day.isoformat()] = 0
            day = datetime.fromordinal(day.toordinal() + 1).date()
        for h, b in hours:
            key = datetime.fromtimestamp(h).date().isoformat()
            if key in days:
                days[key] += b
        up, down = self.speeds().get(c.id, (0.0, 0.0))
        fc = forecasts.of_client(store, c.id, used=view["bytes_total"], cap=view["cap"], now=now, start=start,
                                 end=end, since=c.first_seen, rows=learnt)
        view.update({
            "reason": why,
            "until": _until(why, iso(end) if till_end else None, plan_facts),
            "period_start": iso(start),
            "period_end": iso(end),
            "speed_up": int(up),
            "speed_down": int(down),
            "today": today,
            "days": [{"day": k, "bytes": v} for k, v in days.items()],
            "forecast": forecasts.as_view(fc),
            "admitted": admitted,
            "auth": self.cfg.auth,
            "after_cap": self.cfg.after_cap,
            "after_cap_rate": self.cfg.after_cap_rate,
            "cap_alert": passed(view["bytes_total"], view["cap"], self.cfg.alert_at),
            "plan": plan_facts,
            "ghost": ghost_watch.view(store.db, c, now),
            "apps": _app_rows(store, c.id, start, now),
            "update_guard_categories": list(self.cfg.update_guard_categories),
        })
        return view

    def me(self, ip: str) -> dict:
        c = self._client_at(ip)
        guard = [guard_quota_name(level) for level in guard_of(self.cfg).levels]
        try:
            objs = client_counters(TABLE, c.id, c.voucher if c.voucher_bytes is not None else None, guard)
        except (NftError, OSError):
            objs = {}  # no table right now: the database's bytes, up to the last poll
        return self._view(c, objs, self._reader(), owner=False)

    # -- ghost traffic: the one-tap actions (hotspot.ghost.watch) --------------------------------

    def ghost_act(self, ip: str, action: str, destination: str | None = None) -> dict:
        """The device at `ip` acts on its own ghost traffic: "block" or "unblock" a destination,
        "pause" itself, or "resume". It lifts only what it set itself: its own pause, never the
        owner's block; a destination it blocked, never one the owner blocked."""
        c = self._client_at(ip)
        if action == "resume" and not c.paused:
            raise BackendError("Only the hotspot's owner can resume this device.")
        self._ghost(c.mac, action, destination, by_device=True)
        return self.me(ip)

    def ghost_admin(self, mac: str, action: str, destination: str | None = None) -> dict:
        """The owner's same actions on a client ("pause" and "resume" are block and unblock);
        returns the client's view (with `ghost`)."""
        mac = _mac(mac)
        self._ghost(mac, action, destination, by_device=False)
        return self.client(mac)

    def _ghost(self, mac: str, action: str, destination, *, by_device: bool) -> None:
        if action not in ("block", "unblock", "pause", "resume"):
            raise BackendError(f"unknown action {action!r}")
        with self.lock:
            try:
                if action == "block":
                    self.hs.block_destination(mac, _text(destination), by_device=by_device)
                elif action == "unblock":
                    self.hs.unblock_destination(mac, _text(destination), by_device=by_device)
                elif by_device:
                    self.hs.pause(mac, action == "pause")
                else:
                    self.hs.block(mac, action == "pause")
            except (NotFound, InvalidValue, ValueError) as e:
                raise BackendError(str(e).splitlines()[0]) from None

    def captive(self, ip: str) -> dict:
        view = self.me(ip)
        captive = view["reason"] in ("not_admitted", "blocked", "paused", "cap_block", "plan_block",
                                     "plan_stop") or (
            view["reason"] == "voucher_used" and view["state"] == "capped")
        until = view.get("admitted_until")
        until = None if captive or until is None else datetime.fromisoformat(until).timestamp()
        return {
            "captive": captive,
            "seconds_remaining": None if until is None else max(0, int(until - self.hs.clock())),
            "bytes_remaining": view["remaining"],
            "can_extend": self.cfg.auth == "voucher",
        }

    def admit(self, ip: str, voucher: str | None = None) -> dict:
        c = self._client_at(ip)
        if self.cfg.auth == "none":
            return self.me(ip)
        if voucher is not None or self.cfg.auth == "voucher":
            if not isinstance(voucher, str) or not voucher.strip():
                raise VoucherRefused("A voucher code is needed.", "invalid")
            with self.lock:
                try:
                    self.hs.redeem(c.mac, voucher)
                except Refused as e:
                    raise VoucherRefused(str(e), e.reason) from None
            return self.me(ip)
        with self.lock:
            self.hs.admit(c.mac)
        return self.me(ip)

    # -- the owner's -------------------------------------------------------------------------------

    def portal_settings(self) -> dict:
        return {
            "cookie_key": self.cookie_key,
            "auth": self.cfg.auth,
            "portal_port": self.cfg.portal_port,
            "tls": bool(self.cfg.tls_cert and self.cfg.tls_key),
            "tls_port": self.cfg.tls_port,
            "venue": self.cfg.venue,
            "portal_url": self.portal_url(),
            "portal_hosts": self.portal_hosts(),
            "retention": retention_facts(self.cfg),
        }

    def login(self, ip: str, password: str) -> str | None:
        """A new session's token for the right password, None for a wrong one. The try is counted
        before the hash is computed, for the device's address, MAC and /64 and for everyone, and only
        one hash is computed at a time."""
        if not isinstance(ip, str) or not isinstance(password, str) or len(password) > admin_auth.MAX_LENGTH:
            return None
        stored = admin_auth.stored_hash(self.cfg.state_dir)
        if stored is None:
            raise BackendError("no admin password is set: run 'hotspotctl passwd' on the router")
        keys = admin_auth.login_keys(ip, mac_of(ip, self.cfg.lan_device))
        wait = self.limiter.attempt(keys)
        if wait > 0:
            raise BackendError(f"too many failed logins; try again in {max(1, round(wait))} s")
        if not self._hashing.acquire(timeout=admin_auth.HASH_WAIT):
            raise BackendError("hotspotd is busy checking other logins; try again in a few seconds")
        try:
            right = admin_auth.verify_password(password, stored)
        finally:
            self._hashing.release()
        if not right:
            return None
        self.limiter.succeeded(keys)
        return self.sessions.issue(stored)

    def logout(self) -> dict:
        """The admin logs out: every session ends (a copy of a cookie is worth nothing after)."""
        return {"ended": self.sessions.end_all()}

    def end_sessions(self) -> dict:
        """Root's (hotspotctl passwd): every session ends now rather than at its next check."""
        return {"ended": self.sessions.end_all()}

    def session_valid(self, token) -> bool:
        """For the socket server: is `token` an admin session hotspotd issued and still open?"""
        return self.sessions.valid(token)

    def token_valid(self, token) -> bool:
        """For the socket server: is `token` the metrics bearer token of the config?"""
        want = self.cfg.metrics_token
        return bool(want) and isinstance(token, str) and secrets.compare_digest(token.encode(), want.encode())

    def _with_speed(self, view: dict) -> dict:
        view = _named(view)
        up, down = self.speeds().get(view["id"], (0.0, 0.0))
        view.update(speed_up=int(up), speed_down=int(down))
        return view

    def status(self) -> dict:
        with self.lock:
            status = self.hs.status()
        speeds = self.speeds().values()
        status["speed_up"] = int(sum(u for u, _ in speeds))
        status["speed_down"] = int(sum(d for _, d in speeds))
        return status

    def clients(self) -> list[dict]:
        with self.lock:
            return [self._with_speed(v) for v in self.hs.clients()]

    def client(self, mac: str) -> dict:
        mac = _mac(mac)
        with self.lock:
            try:
                c = self.hs.find(mac)
            except NotFound as e:
                raise BackendError(str(e)) from None
            view = self._view(c, self.hs.live_objects(), self.hs.store, owner=True)
            now = int(self.hs.clock() // 3600 * 3600)
            since = now - 7 * 24 * 3600 + 3600
            rows = {h: (u, d) for h, u, d in self.hs.store.history(c.id, since)}
            view["history"] = [{"hour": iso(h), "up": rows.get(h, (0, 0))[0], "down": rows.get(h, (0, 0))[1]}
                               for h in range(since, now + 1, 3600)]  # every hour: the chart's time axis
        return view

    def act(self, mac: str, action: str, value: str | None = None) -> dict:
        mac = _mac(mac)
        try:
            if action == "cap":
                call = lambda: self.hs.set_cap(mac, parse_cap(_text(value)))  # noqa: E731
            elif action == "throttle":
                call = lambda: self.hs.throttle(mac, parse_rate_or_none(_text(value)))  # noqa: E731
            elif action == "topup":
                call = lambda: self.hs.topup(mac, parse_size(_text(value)))  # noqa: E731
            elif action in ("block", "unblock"):
                call = lambda: self.hs.block(mac, action == "block")  # noqa: E731
            elif action == "reset":
                call = lambda: self.hs.reset(mac)  # noqa: E731
            elif action == "guard":
                choice = {"on": True, "off": False, "default": None}.get(_text(value), "?")
                if choice == "?":
                    raise BackendError("the update guard is on, off or default")
                call = lambda: self.hs.set_update_guard(mac, choice)  # noqa: E731
            elif action == "rename":
                alias = _alias(value)
                call = lambda: self.hs.rename(mac, alias)  # noqa: E731
            else:
                raise BackendError(f"unknown action {action!r}")
        except InvalidValue as e:
            raise BackendError(str(e)) from None
        with self.lock:
            try:
                return self._with_speed(call())
            except NotFound as e:
                raise BackendError(str(e)) from None

    def forget(self, mac: str) -> dict:
        """The owner erases a device, as `hotspotctl forget`: {"mac", "id", "forgotten", ...}."""
        mac = _mac(mac)
        with self.lock:
            try:
                return self.hs.forget(mac)
            except NotFound as e:
                raise BackendError(str(e)) from None

    def settings(self) -> dict:
        return settings_text(self.cfg)

    def set_settings(self, values: dict) -> dict:
        if not isinstance(values, dict):
            raise BackendError("settings must be a form of fields")
        with self.lock:
            try:
                cfg = write_settings(self.cfg.path, values)
            except (ConfigError, OSError) as e:
                raise BackendError(str(e).splitlines()[0]) from None
            self.on_config(cfg)
        return settings_text(cfg)

    def vouchers(self) -> list[dict]:
        with self.lock:
            return self.hs.vouchers()

    def create_vouchers(self, count, data, valid, devices) -> list[dict]:
        try:
            n = parse_count(_text(count), "count", MAX_BATCH)
            size = parse_cap(_text(data) or "none")
            seconds = parse_duration(_text(valid))
            most = parse_count(_text(devices), "devices", MAX_DEVICES)
        except InvalidValue as e:
            raise BackendError(str(e)) from None
        with self.lock:
            return self.hs.create_vouchers(n, size, seconds, most)

    def revoke_voucher(self, code) -> dict:
        try:
            code = parse_code(code)
        except InvalidValue as e:
            raise BackendError(str(e)) from None
        with self.lock:
            try:
                return self.hs.revoke_voucher(code)
            except NotFound as e:
                raise BackendError(str(e)) from None

    # -- the plan and its alerts ------------------------------------------------------------------

    def plan(self) -> dict:
        """The Plan page: the plan and uplinks as in status() (the modem too once hotspotd reads
        it), and the devices the guard spares, by name."""
        with self.lock:
            status = self.hs.status()
            exempt = [{"mac": mac, "name": _name_of(self.hs.store.client(mac))}
                      for mac in self.cfg.plan_exempt]
        found = {"plan": status["plan"], "uplink": status["uplink"], "exempt": exempt}
        if isinstance(status.get("modem"), dict):
            found["modem"] = status["modem"]
        return found

    def plan_topup(self, size) -> dict:
        """Add SIZE to this cycle's plan (an add-on bought from the carrier), like `hotspotctl plan
        topup`; returns the plan as `hotspotctl plan --json`."""
        try:
            n = parse_size(_text(size))
        except InvalidValue as e:
            raise BackendError(str(e)) from None
        with self.lock:
            try:
                return self.hs.plan_topup(n)
            except ValueError as e:
                raise BackendError(str(e).splitlines()[0]) from None

    def alerts(self) -> dict:
        """The Alerts page: the alerts that fired and the delivery log (newest first), and the
        channels the config sets up."""
        with self.lock:
            db = self.hs.store.db
            fired = alerts.recent(db, LOG_LIMIT)
            log = outbox.log_entries(db, LOG_LIMIT)
            names = {a["subject"]: _name_of(self.hs.store.client(a["subject"]))
                     for a in fired if a["kind"] == "client"}
        for a in fired:
            a["name"] = names.get(a["subject"]) if a["kind"] == "client" else None
        for d in log:
            d.update({k: iso(d[k]) for k in ("created", "sent_at", "next_try", "last_try")})
            if d["status"] != "pending":
                d["next_try"] = None  # only a waiting delivery has a next try
        return {"alerts": fired, "deliveries": log, "channels": self._channels()}

    def _channels(self) -> list[dict]:
        """Each channel the config names, where it goes (a webhook's scheme and host only: its path
        may hold a token) and whether the outbox can send through it now."""
        ready = set(self.channels())
        cfg = self.cfg
        found = []
        if cfg.alert_webhook:
            url = urlsplit(cfg.alert_webhook)
            found.append({"name": "webhook", "target": f"{url.scheme}://{url.netloc.rpartition('@')[2]}"})
        if cfg.alert_email:
            found.append({"name": "email", "target": ", ".join(cfg.alert_email)})
        if cfg.alert_sms:
            found.append({"name": "sms", "target": ", ".join(cfg.alert_sms)})
        return [{**c, "ready": c["name"] in ready} for c in found]

    def test_channel(self, channel) -> dict:
        """Send a test message through one channel now, as `hotspotctl alerts test CHANNEL`: its
        receipt, or BackendError with the channel's one-line reason. Not under the lock: it waits
        for the network (bounded by the channel's timeouts), never for the poll."""
        if channel not in CHANNELS:
            raise BackendError(f"unknown channel {channel!r}: webhook, email or sms")
        if self.test_send is None:
            raise BackendError("hotspotd has no outbox to send through")
        try:
            receipt = self.test_send(channel)
        except DeliveryError as e:
            raise BackendError(f"{channel}: {str(e).splitlines()[0] if str(e) else 'failed'}") from None
        return {"channel": channel, "receipt": str(receipt)}

    def set_update_guard(self, ip: str, on: bool) -> dict:
        c = self._client_at(ip)
        with self.lock:
            self.hs.set_update_guard(c.mac, bool(on))
        return self.me(ip)

    def apps(self) -> dict:
        with self.lock:
            return self.hs.apps()
    # -- usage history (hotspot/history/usage.py): a client's own through its reader, the owner's too ------

    def _history(self, cid: int | None, by, since, until) -> dict:
        from hotspot.history.usage import history_over

        texts = all(v is None or isinstance(v, str) for v in (since, until))
        if by not in ("hour", "day", "month") or not texts:
            raise BackendError("by must be hour, day or month; from and to dates or nothing")
        store = self._reader()
        uh = history_over(store, self.cfg, self.hs.clock(), _period(store, self.hs)[0],
                          plan_over(store, self.hs).cycle())
        try:
            return uh.query(cid, by, since or None, until or None)
        except InvalidValue as e:
            raise BackendError(str(e)) from None

    def me_history(self, ip: str, by: str = "day", since: str | None = None,
                   until: str | None = None) -> dict:
        return self._history(self._client_at(ip).id, by, since, until)

    def history(self, subject: str, by: str = "day", since: str | None = None,
                until: str | None = None) -> dict:
        if subject == "plan":
            return self._history(None, by, since, until)
        c = self._reader().client(_mac(subject))
        if c is None:
            raise BackendError(f"unknown client {subject}")
        return self._history(c.id, by, since, until)

    def metrics(self) -> dict:
        return {"status": self.status(), "clients": self.clients(), "health": self.health(),
                "alerts": self._alert_counts(), "apps": self.apps()["clients"]}

    def _alert_counts(self) -> dict:
        """Alerts fired by kind (all time) and deliveries in the log by status, for /metrics."""
        with self.lock:
            db = self.hs.store.db
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            fired = dict(db.execute("SELECT kind, COUNT(*) FROM alerts GROUP BY kind").fetchall()
                         if "alerts" in tables else [])
            sent = dict(db.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status").fetchall()
                        if "deliveries" in tables else [])
        return {"fired": {k: fired.get(k, 0) for k in ("plan", "client")},
                "deliveries": {k: sent.get(k, 0) for k in ("pending", "sent", "failed")}}


def _app_rows(store: Store, cid: int, start: float, now: float) -> list[dict]:
    """One client's bytes per app category this period (two indexed reads)."""
    cats = app_usage.usage(store.db, start, now + 86400, cid).get(cid, {})
    total = app_usage.totals(store.db, start, now + 86400, cid).get(cid, [0, 0])
    return app_usage.breakdown(cats, total)


def _named(view: dict) -> dict:
    """The owner sees a client by the owner's name for it, else its DHCP hostname."""
    view["dhcp_hostname"] = view["hostname"]
    view["hostname"] = view.get("alias") or view["hostname"]
    return view


def _unnamed(view: dict) -> dict:
    """The device itself sees its own DHCP hostname, never the owner's private name for it."""
    view.pop("alias", None)
    view["dhcp_hostname"] = view["hostname"]
    return view


def _name_of(c: Client | None) -> str | None:
    return None if c is None else c.alias or c.hostname


def _until(why: str | None, until: str | None, plan_facts: dict | None) -> str | None:
    """When the reason ends: the plan guard's hold ends with the plan's cycle, unless the plan is
    a pass (it does not renew: the owner tops it up or sets a new one)."""
    if why and why.startswith("plan_"):
        return plan_facts["cycle_end"] if plan_facts and plan_facts["renews"] else None
    return until


def _period(store: Store, hs: Hotspot) -> tuple[float, float]:
    start, end = store.get("period_start"), store.get("period_end")
    if start is None or end is None:
        return hs.period()
    return float(start), float(end)


def _mac(text) -> str:
    try:
        return parse_mac(_text(text))
    except InvalidValue as e:
        raise BackendError(str(e)) from None


def _text(value) -> str:
    if not isinstance(value, str):
        raise InvalidValue("a value is needed")
    return value


def _alias(value) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_ALIAS or not value.isprintable():
        raise BackendError(f"a name is at most {MAX_ALIAS} printable characters")
    return value.strip() or None

