"""The service layer: every operation on clients, for the daemon, the CLI and the portal alike.

A change is written to the database and applied to the kernel in one step, inside one database
transaction: if nftables or tc refuse it, the transaction rolls back and nothing has changed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sqlite3
import time
from datetime import datetime
from pathlib import Path

from hotspot.alerts import outbox, reports
from hotspot.alerts import points as alerts
from hotspot.apps import usage as apps
from hotspot.captive.vouchers import MAX_BATCH, MAX_DEVICES, new_code, parse_code
from hotspot.clients import policy, retention
from hotspot.config import Config
from hotspot.core.clock import bounds, trusted_now
from hotspot.core.store import Client, Store, Voucher
from hotspot.core.store import counted_since as _delta
from hotspot.core.units import InvalidValue, format_duration, iso
from hotspot.forecast import from_history as forecasts
from hotspot.kernel.conntrack import drop_redirected, remark
from hotspot.kernel.nft import (
    ROUTER,
    TABLE,
    UNREGISTERED,
    Marks,
    Nft,
    NftError,
    TableGone,
    client_counters,
    counter_names,
    hold_cmds,
    quota_name,
    voucher_quota_name,
)
from hotspot.kernel.tc import MAX_CLIENT_ID, Shaper, ShaperError
from hotspot.plan.keeper import PlanKeeper, guard_of, guard_shaping
from hotspot.uplink.metered import active_uplink

log = logging.getLogger("hotspot")


class NotFound(LookupError):
    pass


class VoucherRefused(ValueError):
    """A voucher that cannot admit a device; `reason` is one of policy.voucher_refusal's."""

    MESSAGES = {
        "invalid": "That voucher code is not valid.",
        "revoked": "This voucher has been revoked.",
        "expired": "This voucher has expired.",
        "used_up": "This voucher's data is used up.",
        "devices": "This voucher is already in use on as many devices as it allows.",
    }

    def __init__(self, reason: str) -> None:
        super().__init__(self.MESSAGES.get(reason, reason))
        self.reason = reason


# A client whose usage is this close to its cap may have used it up: the kernel quota also counts
# the packet it dropped, so the bytes delivered stop short of the cap by up to one (GSO) packet.
NEAR_CAP = 1 << 20


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def default_clock() -> float:
    """The wall clock; tests shift it through HOTSPOT_CLOCK_FILE (seconds to add) to cross periods."""
    path = os.environ.get("HOTSPOT_CLOCK_FILE")
    if path:
        try:
            return time.time() + float(Path(path).read_text().strip() or 0)
        except (OSError, ValueError):
            pass
    return time.time()


class Hotspot:
    def __init__(self, cfg: Config, *, clock=default_clock, nft: Nft | None = None) -> None:
        self.cfg = cfg
        self.clock = clock
        self.store = Store.open(cfg.run_dir, cfg.state_dir)
        self._nft = nft
        self.shaper = Shaper(cfg.lan_device, list(cfg.wan_device))
        # Where this process last sent each client's plain HTTP (True: the portal), and which of them
        # went there only because they were capped: the poll looks at those and the clients near
        # their cap, the only ones whose kernel quota can change it without a database change.
        self._http: dict[int, bool] = {}
        self._by_cap: set[int] = set()
        self._plan_http: str | None = None  # the guard's level the clients' HTTP verdicts follow
        self.modem_info: dict | None = None  # hotspotd's last reading of the modem (None: none yet)
        self._forgotten = self.store.get("forgotten")  # how many forgets the database had at the last look
        self.plan = PlanKeeper(self)
        self._trusted: tuple[float, float] | None = None  # (trusted time, time.monotonic() then)

    @property
    def nft(self) -> Nft:
        if self._nft is None:
            self._nft = Nft(Marks(self.cfg.ct_mark_mask), guard=guard_of(self.cfg))
        return self._nft

    def close(self) -> None:
        self.store.close()

    # -- kernel identity ----------------------------------------------------------------------

    def _identity(self, handle: int | None) -> str | None:
        """What the database records of the table it follows: this boot, its handle, then what the
        table was built for: the mark mask, whether unregistered MACs are gated, the portal port."""
        if handle is None:
            return None
        gate = "gate" if self.cfg.auth != "none" else "open"
        guard = "+".join(guard_of(self.cfg).levels) or "noguard"
        dns = "/dns" if self.cfg.dns_redirect else ""  # the redirect is built into the table
        cap = f"/cap{self.cfg.default_cap}" if self.cfg.default_cap else ""  # so is the unregistered's cap
        return (f"{boot_id()}/{handle}/{self.cfg.ct_mark_mask:#x}/{gate}/{self.cfg.portal_port}/{guard}"
                f"{dns}{cap}")

    def table_is_ours(self, handle: int | None = None) -> bool:
        """True when the kernel table (`handle`, default: looked up) is the one whose counters the
        database follows, built for this config's mark mask."""
        ours = self.store.get("table")
        if ours is None:
            return False
        return ours == self._identity(self.nft.table_handle() if handle is None else handle)

    def pending(self, objs: dict[str, int], c: Client) -> tuple[int, int]:
        """Bytes the kernel counted since the last poll."""
        up, down = counter_names(c.id)
        return (_delta(objs.get(up), c.seen_up), _delta(objs.get(down), c.seen_down))

    def live_objects(self) -> dict[str, int]:
        """The kernel's counters, or {} when there is no table we follow (or we may not read it)."""
        try:
            return self.nft.read_objects() if self.table_is_ours() else {}
        except (NftError, PermissionError):
            return {}

    # -- queries ------------------------------------------------------------------------------

    def find(self, mac: str) -> Client:
        c = self.store.client(mac)
        if c is None:
            raise NotFound(f"unknown client {mac}")
        return c

    def view(self, c: Client, objs: dict[str, int], plan: dict | None = None) -> dict:
        """A client as the contract shows it (`clients --json`), with bytes up to this instant;
        `plan`: the plan's snapshot (PlanKeeper.snapshot; default: taken here)."""
        if plan is None:
            plan = self.plan.snapshot(objs)
        pu, pd = self.pending(objs, c)
        live = dataclasses.replace(c, period_up=c.period_up + pu, period_down=c.period_down + pd,
                                   voucher_used=_voucher_used(c, objs, pu + pd))
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
        }

    def clients(self) -> list[dict]:
        objs = self.live_objects()
        plan = self.plan.snapshot(objs)
        return [self.view(c, objs, plan) for c in self.store.clients()]

    def client(self, mac: str) -> dict:
        c = self.find(mac)
        v = self.view(c, self.live_objects())
        start, end = self.period()  # the forecast (issue 8): the likely total, its range, the cap's day
        v["forecast"] = forecasts.as_view(forecasts.of_client(
            self.store, c.id, used=v["bytes_total"], cap=v["cap"], now=self.clock(), start=start, end=end,
            since=c.first_seen))
        return v

    def period(self) -> tuple[float, float]:
        start, end = self.store.get("period_start"), self.store.get("period_end")
        if start is None or end is None:
            s, e = bounds(datetime.fromtimestamp(self.clock()), self.cfg.period, self.cfg.period_start)
            return s.timestamp(), e.timestamp()
        return float(start), float(end)

    def status(self) -> dict:
        objs = self.live_objects()
        plan = self.plan.snapshot(objs)
        clients = self.store.clients()
        views = [self.view(c, objs, plan) for c in clients]
        start, end = self.period()
        pid = daemon_pid(self.cfg)
        present = set(self.shaper.present()) if objs or pid else set()
        try:
            active = active_uplink(list(self.cfg.wan_device), list(self.cfg.unmetered_device))[0]
        except OSError:
            active = None
        return {
            "daemon": {"running": pid is not None, "pid": pid},
            "kernel": {"table": bool(objs)},
            "uplink": [{"device": d, "present": d in present, "metered": d in self.cfg.wan_device,
                        "active": d == active}
                       for d in (*self.cfg.wan_device, *self.cfg.unmetered_device)],
            "plan": {
                "period": self.cfg.period,
                "period_start": iso(start),
                "period_end": iso(end),
                "default_cap": self.cfg.default_cap,
                "after_cap": self.cfg.after_cap,
                "after_cap_rate": self.cfg.after_cap_rate if self.cfg.after_cap == "throttle" else None,
                **{f"plan_{k}" if k in ("quota", "topup", "used", "left", "percent") else k: v
                   for k, v in self.plan_view(objs, clients).items()},
            },
            "clients": len(views),
            "states": {s: sum(v["state"] == s for v in views) for s in policy.STATES},
            "bytes_up": sum(v["bytes_up"] for v in views),
            "bytes_down": sum(v["bytes_down"] for v in views),
            "bytes_total": sum(v["bytes_total"] for v in views),
            # the plan's bytes of devices not registered yet, and those of them credited to the
            # devices once registered (both only grow)
            "bytes_unregistered": int(self.store.get("unregistered", "0")),
            "bytes_unregistered_credited": int(self.store.get("unregistered_credited", "0")),
            "modem": self._modem(),
            "last_commit": iso(float(self.store.get("last_commit", "0"))),
        }

    def _modem(self) -> dict | None:
        """The modem as hotspotd last read it, or (hotspotctl, without the daemon's reading) read now;
        None without ModemManager or a modem."""
        if self.modem_info is not None or not self.cfg.modem:
            return self.modem_info
        from hotspot.uplink.modem import ModemError, read

        try:
            m = read(timeout=1.0)
        except ModemError as e:
            return {"error": str(e)}
        return m.as_dict() if m else None

    # -- usage history (hotspot/history) --------------------------------------------------------

    def usage_history(self, subject: str, by: str = "hour", since=None, until=None) -> dict:
        """A client's (a MAC) or the plan's ("plan": every client and the router) usage by hour,
        day or month over [since, until) (see UsageHistory.query); NotFound, InvalidValue."""
        cid = None if subject == "plan" else self.find(subject).id
        return self._history().query(cid, by, since, until)

    def history(self, mac: str, by: str = "hour", since=None, until=None) -> list[dict]:
        """`hotspotctl history`: the rows of usage_history."""
        return self.usage_history(mac, by, since, until)["rows"]

    def compact_history(self, budget: float = 0.05) -> None:
        """hotspotd's poll: move a bounded share of expired hours into days, days into months."""
        self._compaction = self._history().compact(getattr(self, "_compaction", None), budget)

    def _history(self):
        from hotspot.history.usage import history_over

        return history_over(self.store, self.cfg, self.clock(), self.period()[0], self.plan.cycle())

    # -- changes ------------------------------------------------------------------------------

    def _change(self, mac: str, **fields) -> dict:
        self._update(mac, **fields)
        return self.client(mac)

    def _update(self, mac: str, **fields) -> None:
        with self.store.transaction():
            before = self.find(mac)
            after = dataclasses.replace(before, **fields)
            self.store.update(before.id, **fields)
            self._apply(before, after)

    def admit(self, mac: str, seconds: float | None = None) -> dict:
        """Let a client use the uplink (auth click or voucher) for `seconds` (default: the config's
        session_timeout), or until it has no bytes counted for idle_timeout; hotspotd ends it."""
        now = self.clock()
        length = self.cfg.session_timeout if seconds is None else seconds
        if not length > 0:
            raise ValueError(f"an admission must last more than 0 seconds, not {length}")
        return self._change(mac, admitted_until=now + length, admitted_at=now)

    def unadmit(self, mac: str) -> dict:
        """End a client's admission: with auth click or voucher it may reach only the router again."""
        return self._change(mac, admitted_until=None, admitted_at=None)

    def set_cap(self, mac: str, cap: int | None) -> dict:
        return self._change(mac, cap=cap)

    def topup(self, mac: str, size: int) -> dict:
        c = self.find(mac)
        if c.cap is None:
            raise ValueError(f"client {mac} has no cap to top up; set one with 'cap {mac} SIZE'")
        return self._change(mac, topup=c.topup + size)

    def throttle(self, mac: str, rate: int | None) -> dict:
        return self._change(mac, rate=rate)

    def block(self, mac: str, blocked: bool = True) -> dict:
        """The owner blocks a client, or lets it online again: unblock lifts the owner's block and the
        device's own pause (the owner's say is the last)."""
        return self._change(mac, blocked=True) if blocked else self._change(mac, blocked=False, paused=False)

    def pause(self, mac: str, paused: bool = True) -> dict:
        """The device pauses itself from its page, or resumes: its own pause only, a fact beside the
        owner's block, which it never changes (the device stays held while either holds)."""
        return self._change(mac, paused=paused)

    def rename(self, mac: str, alias: str | None) -> dict:
        """The owner's name for a client (None: back to its DHCP hostname)."""
        return self._change(mac, alias=alias or None)

    def reset(self, mac: str) -> dict:
        """Zero this period's usage; the bytes stay in the history."""
        with self.store.transaction():
            ours = self.table_is_ours()
            if ours:
                self.account()  # file what the kernel counted so far, then start again from zero
            c = self.find(mac)
            self.store.update(c.id, period_up=0, period_down=0)
            if ours:
                used = self.nft.reset_quota(c.id)
                after = dataclasses.replace(c, period_up=0, period_down=0)
                if policy.to_portal(c, self.cfg, used) or self._http.get(c.id):
                    self._set_http([after], {})
        return self.client(mac)

    def _apply(self, before: Client, after: Client) -> None:
        """Carry one client's change into the kernel (tc classes first, then the nft elements)."""
        if not self.table_is_ours():
            return  # hotspotd applies everything from the database when it (re)loads the table
        old, new = policy.shaping(before, self.cfg), policy.shaping(after, self.cfg)
        self.shaper.set_classes({cls: rate for cls, rate in new.items() if rate and rate != old[cls]})
        objs = self.nft.read_objects()
        pu, pd = self.pending(objs, after)
        used = after.period_total + pu + pd
        quota_used = objs.get(quota_name(after.id))
        after, before = _with_voucher_quota(after, objs), _with_voucher_quota(before, objs)
        held = self._held(after)
        now = policy.elements(after, self.cfg, used=used, quota_used=quota_used, held=held)
        was = policy.elements(before, self.cfg, quota_used=quota_used, held=held)
        if self._http.get(after.id, was.portal) != was.portal:
            was = dataclasses.replace(was, portal=not now.portal)  # make sure the element is rewritten
        self.nft.update_client(now, was=was)
        if was.portal and not now.portal and self.cfg.portal_port:
            try:  # its connections still held by the portal must not outlive the redirect
                if drop_redirected(after.ips, self.cfg.portal_port):
                    log.debug("client %s: ended its connections held by the portal", after.mac)
            except OSError as e:
                log.warning("client %s: could not end its redirected connections: %s", after.mac, e)
        self._remember_http(after, now.portal)
        self.shaper.set_classes({cls: None for cls, rate in old.items() if rate and not new[cls]})

    def set_config(self, cfg) -> None:
        """Move every client's kernel state from the current settings to `cfg`'s (the admin UI
        changed the plan while hotspotd runs); counters and quotas carry on."""
        old, self.cfg = self.cfg, cfg
        with self.store.transaction():
            if self.table_is_ours():
                self.account()
            self.plan.config_changed(old)  # the database's side, and the guard's points if ours
        if not self.table_is_ours():
            return  # a new set of guard levels: hotspotd rebuilds the table at its next poll
        if guard_shaping(cfg) != guard_shaping(old):
            self.shaper.set_classes(guard_shaping(cfg))
        if policy.app_guard_shaping(cfg) != policy.app_guard_shaping(old):
            self.shaper.set_classes(policy.app_guard_shaping(cfg))
        objs = self.nft.read_counters()
        for c in self.store.clients():
            before, after = policy.shaping(c, old), policy.shaping(c, cfg)
            self.shaper.set_classes({cls: r for cls, r in after.items() if r and r != before[cls]})
            pu, pd = self.pending(objs, c)
            was, now = policy.elements(c, old), policy.elements(c, cfg, used=c.period_total + pu + pd)
            if dataclasses.replace(now, used=was.used) != was:
                self.nft.update_client(now, was=was)
            self.shaper.set_classes({cls: None for cls, r in before.items() if r and not after[cls]})

    def _remember_http(self, c: Client, portal: bool) -> None:
        self._http[c.id] = portal
        if portal and not c.held and policy.admitted(c, self.cfg):
            self._by_cap.add(c.id)
        else:
            self._by_cap.discard(c.id)

    def _set_http(self, clients: list[Client], quotas: dict[str, int]) -> list[Client]:
        """Send each client's plain HTTP where its policy says now, if this process last sent it
        elsewhere (or never); returns the clients changed."""
        changed = []
        for c in clients:
            portal = (policy.to_portal(_with_voucher_quota(c, quotas), self.cfg, quotas.get(quota_name(c.id)))
                      or self._held(c))
            if self._http.get(c.id) != portal:
                changed.append((c, portal))
        if changed:
            self.nft.set_http([(c.mac, portal) for c, portal in changed])
            for c, portal in changed:
                self._remember_http(c, portal)
        return [c for c, _ in changed]

    def _held(self, c: Client) -> bool:
        """Does the plan guard block or stop this client now (by the last poll's figures)?"""
        plan = self.plan.last or self.plan.snapshot()
        return policy.plan_hold(plan["state"], c.mac in self.cfg.plan_exempt) == "capped"

    def refresh_portal(self) -> list[Client]:
        """hotspotd's poll: a client that used up its cap (after_cap block) has its plain HTTP sent
        to the portal, and one that no longer is has it back. Only clients near their cap, or sent
        there for their cap before, are looked at (and the devices of vouchers near the end of their
        data); the quotas are read only if there are any."""
        plan_state = (self.plan.last or {}).get("state")
        if plan_state != self._plan_http:  # the guard blocks, stops or lets go: everyone's HTTP
            self._plan_http = plan_state
            changed = self._set_http(self.store.clients(), self.nft.read_quotas())
            if changed:
                log.info("plan guard %s: %d clients' plain HTTP now goes where it should", plan_state,
                         len(changed))
            return changed
        if self.cfg.after_cap != "block" and not self._by_cap:
            return []
        near = {c.id: c for c in self.store.near_cap(NEAR_CAP)}
        near.update({c.id: c for c in self.store.near_voucher(NEAR_CAP)})
        near.update({c.id: c for c in self.store.clients_by_id(self._by_cap - set(near))})
        if not near:
            return []
        quotas = self.nft.read_quotas()
        self._used_up(list(near.values()), quotas)
        changed = self._set_http(list(near.values()), quotas)
        for c in changed:
            log.info("client %s: plain HTTP now goes %s", c.mac,
                     "to the portal" if self._http[c.id] else "on its way")
        return changed

    def _used_up(self, clients: list[Client], quotas: dict[str, int]) -> None:
        """A voucher whose kernel quota ran out is used up in the database too: the bytes delivered
        stop short of its data by the packet the quota dropped, and a rebuilt quota, seeded with
        them, must still be used up."""
        done = set()
        for c in clients:
            if c.voucher is None or c.voucher_bytes is None or c.voucher in done:
                continue
            done.add(c.voucher)
            if c.voucher_used < c.voucher_bytes <= quotas.get(voucher_quota_name(c.voucher), 0):
                self.store.update_voucher(c.voucher, used=c.voucher_bytes)
                log.info("voucher %s: its data is used up", c.voucher_code)

    def sync_http(self) -> None:
        """Rewrite every client's plain-HTTP verdict from the database and the kernel quotas (hotspotd
        at start, when it finds the table a previous run left)."""
        if not self.table_is_ours():
            return
        self._http.clear()
        self._set_http(self.store.clients(), self.nft.read_quotas())

    def expire_sessions(self) -> list[str]:
        """hotspotd's poll: end the admissions that ran out (session_timeout) or went idle (no
        bytes counted for idle_timeout); returns their MACs."""
        if self.cfg.auth == "none":
            return []
        ended = self.store.expired(self.clock(), self.cfg.idle_timeout)
        for mac in ended:
            self._update(mac, admitted_until=None, admitted_at=None)
            log.info("client %s: session ended, back to the portal", mac)
        return ended

    # -- vouchers -----------------------------------------------------------------------------

    def voucher_view(self, v: Voucher, objs: dict[str, int], devices: int = 0, pending: int = 0) -> dict:
        """A voucher as `hotspotctl voucher list --json` shows it; `objs`: the kernel's counters and
        quotas, `devices`: how many devices use it, `pending`: their bytes since the last poll."""
        used = v.used + pending
        if v.bytes is not None:
            used = min(v.bytes, max(used, objs.get(voucher_quota_name(v.id), 0)))
        return {
            "code": v.code,
            "batch": v.batch,
            "created": iso(v.created),
            "bytes": v.bytes,
            "used": used,
            "remaining": None if v.bytes is None else max(0, v.bytes - used),
            "valid_seconds": v.valid_seconds,
            "devices": v.devices,
            "devices_used": devices,
            "first_used": iso(v.first_used),
            "expires": iso(v.expires),
            "revoked": iso(v.revoked),
            "state": policy.voucher_state(v, self.clock(), used),
        }

    def vouchers(self, batch: int | None = None) -> list[dict]:
        objs = self.live_objects()
        devices, pending = {}, {}
        for c in self.store.clients():
            if c.voucher is not None:
                devices[c.voucher] = devices.get(c.voucher, 0) + 1
                pending[c.voucher] = pending.get(c.voucher, 0) + sum(self.pending(objs, c))
        return [self.voucher_view(v, objs, devices.get(v.id, 0), pending.get(v.id, 0))
                for v in self.store.vouchers(batch)]

    def voucher(self, code: str) -> dict:
        code = parse_code(code)
        for v in self.vouchers():
            if v["code"] == code:
                return v
        raise NotFound(f"unknown voucher {code}")

    def create_vouchers(self, count: int, data: int | None, valid: int, devices: int) -> list[dict]:
        """`count` new vouchers of one batch: `data` bytes shared by up to `devices` devices (None: no
        limit), valid for `valid` seconds from their first use."""
        if not (1 <= count <= MAX_BATCH and 1 <= devices <= MAX_DEVICES and valid > 0
                and (data is None or data > 0)):
            raise ValueError("bad voucher parameters")
        with self.store.transaction():
            codes: set[str] = set()
            while len(codes) < count:
                codes |= {new_code() for _ in range(count - len(codes))}
                codes -= self.store.codes_taken(sorted(codes))
            made = self.store.add_vouchers(sorted(codes), self.clock(), bytes=data, valid_seconds=valid,
                                           devices=devices)
        return [self.voucher_view(v, {}) for v in made]

    def redeem(self, mac: str, code: str) -> dict:
        """Admit a device with a voucher until the voucher expires (its validity starts at its first
        use); the device's bytes count against the voucher's data from now on, with its other
        devices'. VoucherRefused says why not."""
        try:
            code = parse_code(code)
        except InvalidValue:
            raise VoucherRefused("invalid") from None
        now = self.clock()
        with self.store.transaction():
            before = self.find(mac)
            ours = self.table_is_ours()
            if ours:
                self.account()  # the bytes so far belong to the voucher it had before, if any
                before = self.find(mac)
            v = self.store.voucher(code)
            used = others = None
            if v is not None:
                used = v.used
                if ours and v.bytes is not None:
                    used = max(used, self.nft.read_quotas().get(voucher_quota_name(v.id), 0))
                others = sum(d.id != before.id for d in self.store.voucher_clients(v.id))
            why = policy.voucher_refusal(v, now, used=used, others=others or 0)
            if why:
                raise VoucherRefused(why)
            expires = v.expires
            if v.first_used is None:
                expires = now + v.valid_seconds
                self.store.update_voucher(v.id, first_used=now, expires=expires)
            self.store.update(before.id, voucher=v.id, admitted_until=expires, admitted_at=now)
            self._apply(before, self.find(mac))
            log.info("client %s: signed in with voucher %s", mac, code)
        return self.client(mac)

    def revoke_voucher(self, code: str) -> dict:
        """Revoke a voucher: its devices lose their session at once (they see the portal again)."""
        code = parse_code(code)
        with self.store.transaction():
            v = self.store.voucher(code)
            if v is None:
                raise NotFound(f"unknown voucher {code}")
            ours = self.table_is_ours()
            if ours:
                self.account()  # the voucher keeps the bytes its devices used until now
            if v.revoked is None:
                self.store.update_voucher(v.id, revoked=self.clock())
            for before in self.store.voucher_clients(v.id):
                self.store.update(before.id, voucher=None, admitted_until=None, admitted_at=None)
                self._apply(before, self.find(before.mac))
                log.info("client %s: voucher %s revoked, back to the portal", before.mac, code)
            if ours and v.bytes is not None:
                self.nft.delete_quotas([voucher_quota_name(v.id)])
        return self.voucher(code)

    # -- ghost traffic (hotspot.ghost.watch) ---------------------------------------------------

    def ghost_events(self, mac: str | None = None, since: float = 0) -> list[dict]:
        """Ghost-traffic events, newest first: one client's, or everyone's."""
        from hotspot.ghost import watch as ghost_watch

        cid = self.find(mac).id if mac else None
        return ghost_watch.events(self.store.db, cid, since)

    def blocked_destinations(self, mac: str) -> list[dict]:
        """The destinations a client's chains drop, and who blocked each: "owner" or "device"."""
        c = self.find(mac)
        return [{"addr": a, "name": n, "created": iso(t), "by": "device" if d else "owner"}
                for a, n, t, d in self.store.db.execute(
                    "SELECT addr, name, created, by_device FROM blocked_dests WHERE client = ? "
                    "ORDER BY created, addr", (c.id,))]

    def ghost(self, mac: str) -> dict:
        """What a client's page and the admin UI show of it: its events of the last day and the
        destinations it blocked."""
        from hotspot.ghost.watch import BANNER_SECONDS

        return {"mac": mac, "events": self.ghost_events(mac, since=self.clock() - BANNER_SECONDS),
                "blocked": self.blocked_destinations(mac)}

    def block_destination(self, mac: str, target: str, *, by_device: bool = False) -> dict:
        """Drop a client's traffic to and from a remote address (v4 or v6), in its own chains; a DNS
        name blocks the addresses the snooper saw it have (live answers), and says which. `by_device`:
        the device blocked it itself (so it may unblock it); the owner's block of an address the
        device blocked makes it the owner's."""
        from hotspot.apps.snoop.names import addresses_for
        from hotspot.ghost.watch import MAX_BLOCKED, parse_destination

        addr, name = parse_destination(target)
        now = self.clock()
        # the router's resolver's answers, and this device's own: never another device's
        addrs = [addr] if addr else addresses_for(self.cfg.run_dir, name, now, device=self.find(mac).mac)
        if not addrs:
            raise ValueError(f"no address is known for {name} (no DNS answer for it was seen lately); "
                             "block one of its addresses instead")
        with self.store.transaction():
            before = self.find(mac)
            new = sorted(set(addrs) - set(before.blocked_dests))
            if len(before.blocked_dests) + len(new) > MAX_BLOCKED:
                raise ValueError(f"client {mac} may block at most {MAX_BLOCKED} destinations")
            self.store.db.executemany(
                "INSERT INTO blocked_dests (client, addr, name, created, by_device) VALUES (?, ?, ?, ?, ?)",
                [(before.id, a, name, now, int(by_device)) for a in new])
            if not by_device:
                self.store.db.executemany(
                    "UPDATE blocked_dests SET by_device = 0 WHERE client = ? AND addr = ?",
                    [(before.id, a) for a in addrs])
            after = dataclasses.replace(before, blocked_dests=tuple(sorted({*before.blocked_dests, *new})))
            self._apply(before, after)
        if new:
            log.info("client %s: destination %s blocked", mac, " ".join(new))
        return {"mac": mac, "name": name, "addresses": addrs, "blocked": self.blocked_destinations(mac)}

    def unblock_destination(self, mac: str, target: str, *, by_device: bool = False) -> dict:
        """Let a client reach a blocked address again (or every address blocked by that name).
        `by_device`: the device asks, and may lift only blocks it set itself; if any of them is the
        owner's, nothing changes."""
        from hotspot.ghost.watch import parse_destination

        addr, name = parse_destination(target)
        with self.store.transaction():
            before = self.find(mac)
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
            self._apply(before, after)
        log.info("client %s: destination %s unblocked", mac, " ".join(gone))
        return {"mac": mac, "name": name, "addresses": gone, "blocked": self.blocked_destinations(mac)}
    # -- which apps use the data, and the update guard ----------------------------------------

    def account_apps(self) -> int:
        """hotspotd: move what the kernel counted per client per category into the database; the
        bytes added."""
        with self.store.transaction():
            if not self.table_is_ours():
                return 0
            return apps.record(self.store.db, self.nft.read_apps(), self.trusted_time())

    def apps(self, mac: str | None = None, since: float | None = None, until: float | None = None) -> dict:
        """The bytes per category (and "other") of one client, or of every client and the router,
        over the days from `since` to `until` (default: this period), as of hotspotd's last reading."""
        start, _end = self.period()
        since = start if since is None else since
        until = self.clock() + 86400 if until is None else until
        cid = self.find(mac).id if mac else None
        cats = apps.usage(self.store.db, since, until, cid)
        totals = apps.totals(self.store.db, since, until, cid)
        clients = [self.find(mac)] if mac else self.store.clients()
        rows = []
        for c in clients:
            rows.append({"mac": c.mac, "name": c.alias or c.hostname,
                         "update_guard": policy.update_guarded(c, self.cfg),
                         "categories": apps.breakdown(cats.get(c.id, {}), totals.get(c.id, [0, 0]))})
        if not mac and (cats.get(ROUTER) or totals.get(ROUTER)):
            rows.append({"mac": None, "name": "router", "update_guard": False,
                         "categories": apps.breakdown(cats.get(ROUTER, {}), totals.get(ROUTER, [0, 0]))})
        named = {r["mac"] or "router": r["categories"] for r in rows}
        return {"since": iso(apps.day_start(since)), "until": iso(until), "clients": rows,
                "by_category": [] if mac else apps.by_category(named)}

    def set_update_guard(self, mac: str, choice: bool | None) -> dict:
        """A device opts in (True) or out (False) of the update guard, or follows the default (None)."""
        return self._change(mac, update_guard=choice)

    # -- devices that leave (hotspot/clients/retention.py) -----------------------------------------------

    def forget(self, mac: str) -> dict:
        """Erase a device now, whatever its idle time (hotspotctl forget, the admin UI): as
        retention does (forget_clients). NotFound for a MAC that is not registered."""
        with self.store.transaction():
            (done,) = self.forget_clients([self.find(mac)])
        log.info("client %s forgotten (id %d is free again)", done["mac"], done["id"])
        return done

    def retain(self, limit: int = retention.STEP) -> list[dict]:
        """hotspotd's poll: forget up to `limit` devices that had no traffic for client_retention,
        the longest idle first (hotspot.clients.retention says which); what forget returns for each. A
        clock behind the last trusted time forgets nobody: nothing is surely idle then."""
        if self.cfg.client_retention is None:
            return []
        with self.store.transaction():
            now, trusted = trusted_now(self.clock(), float(self.store.get("last_good", "0")))
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
        database forgets them: their rows (Store.forget_client), their ghost-traffic events, the
        alerts about them and those alerts' deliveries. If nftables refuses, hotspotd rebuilds the
        table from the database instead, which has them no more."""
        if not clients:
            return []
        if self.table_is_ours():
            self._unplug(clients)
            clients = self.store.clients_by_id([c.id for c in clients])  # with the bytes just filed
        else:
            self._scrub_later([c.id for c in clients])
        from hotspot.ghost import watch as ghost_watch

        done = []
        for c in clients:
            erased = (self.store.forget_client(c) + ghost_watch.forget(self.store.db, c.id, c.mac)
                      + alerts.forget(self.store.db, c.mac) + outbox.forget(self.store.db, c.mac))
            self._http.pop(c.id, None)
            self._by_cap.discard(c.id)
            done.append({"mac": c.mac, "id": c.id, "forgotten": True, "bytes_total": c.period_total,
                         "last_seen": iso(c.last_seen), "rows_erased": erased})
        return done

    def _unplug(self, clients: list[Client]) -> None:
        elements = [policy.elements(c, self.cfg) for c in clients]
        try:
            self.nft.unlink_clients(elements)
            unlinked = True
        except NftError as e:
            self._rebuild_table(f"could not unlink forgotten clients: {e}")
            unlinked = False
        try:
            self._settle(clients)  # unlinked: their chains count nothing more
        except (NftError, OSError) as e:
            log.error("could not read the last bytes of forgotten clients: %s", e)
        if unlinked:
            try:
                self.nft.drop_clients(elements)
            except NftError as e:
                self._rebuild_table(f"could not delete forgotten clients' chains: {e}")
        classes = {cls: None for c in clients for cls, rate in policy.shaping(c, self.cfg).items() if rate}
        try:
            self.shaper.set_classes(classes)
        except ShaperError as e:
            log.warning("could not remove forgotten clients' tc classes: %s", e)
        self._release_flows([c.id for c in clients])

    def _settle(self, clients: list[Client]) -> None:
        """File what the kernel counted for these clients since the last poll, reading only their
        own chains (the caller holds a transaction), as account() does for everyone."""
        now = self.trusted_time()
        end = self.store.get("period_end")
        if end is not None:
            now = min(now, float(end) - 0.001)
        rows, vouchers = [], {}
        for c in clients:
            objs = client_counters(TABLE, c.id)
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

    def _rebuild_table(self, why: str) -> None:
        """The table no longer matches the database: hotspotd builds it again at its next poll
        (keeping what it counted: the identity still names this boot and handle)."""
        log.error("%s; the table is rebuilt from the database", why)
        self.store.set("table", f"{self.store.get('table')}/stale")

    def _scrub(self, ids: list[int]) -> None:
        """Before a forgotten device's id names a new client: nothing the old one left may reach
        it. Forgetting took its kernel state already; a packet that was in flight then may have
        made a counting element or marked a connection, and a reading of such an element since
        may have made rows for the id."""
        try:
            self.nft.drop_app_counters(ids)
        except NftError as e:
            log.warning("could not clear the category counters of ids %s: %s", ids, e)
        self._release_flows(ids)
        marks = ", ".join("?" * len(ids))
        for table in ("app_seen", "app_usage"):
            self.store.db.execute(f"DELETE FROM {table} WHERE client IN ({marks})", ids)

    def _scrub_later(self, ids: list[int]) -> None:
        """Without our table now: the next build releases the connections that carry these ids."""
        if ids:
            waiting = json.loads(self.store.get("scrub_ids", "[]"))
            self.store.set("scrub_ids", json.dumps(sorted(set(waiting) | set(ids))))

    def _release_flows(self, ids: list[int]) -> None:
        """The connections that carry these ids in their mark carry the not-registered id instead
        (conntrack.remark): they go on, counted as a device not registered yet."""
        marks = self.nft.marks
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
        for cid in set(self._http) - ids:
            del self._http[cid]
        self._by_cap &= ids
        return ids

    # -- the engine (hotspotd) ----------------------------------------------------------------

    def ensure_table(self, gone: list[TableGone] = ()) -> bool:
        """Build the table if it is missing or not the one we follow; True if it was (re)built.
        `gone`: deletions the kernel notified; the counters of the table we followed are accounted
        first, so the bytes it counted since the last poll survive its deletion."""
        handle = self.nft.table_handle()
        if handle is not None and self.table_is_ours(handle):
            return False
        with self.store.transaction():
            followed = "/".join((self.store.get("table") or "").split("/")[:2])  # boot/handle, any build
            for g in gone:
                if g.handle is not None and followed == f"{boot_id()}/{g.handle}":
                    self.account(g.counters)
            if handle is not None and followed == f"{boot_id()}/{handle}":
                self.account()  # the table we follow, built for another mask: keep its bytes
            clients = self.store.clients()
            self.reshape(clients)  # tc classes first, so a throttle holds from the table's first packet
            self.nft.delete_table()
            elements = [policy.elements(c, self.cfg, held=self._held(c)) for c in clients]
            handle = self.nft.build([self.cfg.lan_device], list(self.cfg.wan_device), elements,
                                    portal_port=self.cfg.portal_port,
                                    gate_unregistered=self.cfg.auth != "none",
                                    free=list(self.cfg.unmetered_device), guard=guard_of(self.cfg),
                                    guard_limits=self.plan.limits(), plan_used=self.plan.used(),
                                    dns_redirect=self.cfg.dns_redirect,
                                    unregistered_cap=self.cfg.default_cap)
            apps.reset_seen(self.store.db)
            self._http.clear()
            self._by_cap.clear()
            for c, e in zip(clients, elements):
                self._remember_http(c, e.portal)
            self.store.reset_seen()
            self.store.set("guard_base", self.plan.used())  # the guard's quotas count from here
            self.store.set("table", self._identity(handle))
            self._release_flows(json.loads(self.store.get("scrub_ids", "[]")))  # its counting sets are new
            self.store.set("scrub_ids", "[]")
        return True

    def reshape(self, clients: list[Client] | None = None) -> None:
        """Give every present device our HTB root and every throttled client its classes (an LTE
        device that comes up after hotspotd started gets them here)."""
        self.shaper.setup()
        classes = {cls: rate for cls, rate in guard_shaping(self.cfg).items() if rate}
        classes.update({cls: rate for cls, rate in policy.app_guard_shaping(self.cfg).items() if rate})
        for c in self.store.clients() if clients is None else clients:
            classes.update({cls: rate for cls, rate in policy.shaping(c, self.cfg).items() if rate})
        self.shaper.set_classes(classes)

    def trusted_time(self) -> float:
        """The time to file usage at (hotspot.core.clock.trusted_now). While the wall clock is behind the
        last trusted time (a router without a real-time clock, before NTP syncs), time goes on from
        there by the monotonic clock, which no step of the wall clock moves: an hour's bytes stay in
        their hour, and a period ends when it really does."""
        last_good = float(self.store.get("last_good", "0"))
        now, ok = trusted_now(self.clock(), last_good)
        mono = time.monotonic()
        if ok:
            self._trusted = (now, mono)
        else:
            if self._trusted is None:  # this process never saw a trusted time: from the last on record
                self._trusted = (last_good, mono)
            wall, at = self._trusted
            now = max(last_good, wall + mono - at)
        self.store.set("last_good", now)
        return now

    def account(self, objs: dict[str, int] | None = None) -> dict[int, tuple[int, int]]:
        """Move what the kernel counted since the last poll into the database (caller holds a
        transaction); `objs`: counters already read (those of a table just deleted)."""
        now = self.trusted_time()
        end = self.store.get("period_end")
        if end is not None:  # a rollover is due: these bytes belong to the period that is ending
            now = min(now, float(end) - 0.001)
        live = objs is None
        if live:
            objs = self.nft.read_counters()
        rows, moved, vouchers = [], {}, {}
        for cid, seen_up, seen_down, voucher in self.store.db.execute(
                "SELECT id, seen_up, seen_down, voucher FROM clients"):
            up, down = counter_names(cid)
            ku, kd = objs.get(up), objs.get(down)
            if ku is None or kd is None:
                continue
            du, dd = _delta(ku, seen_up), _delta(kd, seen_down)
            rows.append((cid, du, dd, ku, kd))
            if du or dd:
                moved[cid] = (du, dd)
                if voucher is not None:  # a voucher's data follows the voucher: its devices' bytes
                    vouchers[voucher] = vouchers.get(voucher, 0) + du + dd
        router = self._account_router(objs)
        if router:
            rows.append(router)
        self.store.record(rows, int(now // 3600 * 3600), now)
        self.store.add_voucher_used(vouchers)
        billed = sum(du + dd for _cid, du, dd, _u, _d in rows) + self._account_unregistered(objs)
        self.plan.add(billed, now)
        self.plan.snapshot(objs)
        if router and (router[1] or router[2]):
            moved[ROUTER] = router[1:3]
        if live:  # a table just deleted took its elements of unregistered devices along, unread
            self._tally_unregistered(self.nft.read_unregistered(), now)
        return moved

    def _account_router(self, objs: dict[str, int]) -> tuple[int, int, int, int, int] | None:
        """The router's own bytes over a metered uplink: a row for the history (client 0) and the
        cycle's figures; its kernel counters' last values live in meta, as it has no client row."""
        up, down = counter_names(ROUTER)
        ku, kd = objs.get(up), objs.get(down)
        if ku is None or kd is None:
            return None
        du, dd = self.store.add_reading("router_up", ku), self.store.add_reading("router_down", kd)
        return (ROUTER, du, dd, ku, kd)

    def _account_unregistered(self, objs: dict[str, int]) -> int:
        up, down = counter_names(UNREGISTERED)
        delta = self.store.add_reading("unregistered", objs.get(up, 0) + objs.get(down, 0))
        if delta:
            log.info("%d bytes from clients not registered yet", delta)
        return delta

    # -- devices not registered yet: counted from their first byte (nft/hotspot.nft: unreg_*) ----------

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
        if not credited or not self.table_is_ours():
            return  # the common case: one query of an empty table
        owners = {key: self.store.owner(*key) for key in credited}
        done = [key for key, c in owners.items() if c is not None]
        if not done:
            return
        macs = [k for k, d in done if d == "up"]
        addrs = [k for k, d in done if d == "down"]
        addrs += [ip for k in done if k[1] == "up" for ip in owners[k].ips]  # their cap's elements
        self.nft.forget_unregistered(macs, addrs)
        with self.store.transaction():
            self.store.forget_unregistered(done)

    def _hold_for_credit(self, new: list[Client], readings: dict) -> tuple[list[str], list[str]]:
        """New clients with a cap that were counted before registration: hold their packets until
        the batch that registers them, so the quota of their own starts from every byte they used
        (read once held), not from a reading a flood has already left behind. Returns (MACs,
        addresses) held. Only for the few milliseconds of one dump and one batch."""
        macs, addrs = [], []
        for c in new:
            if policy.effective_cap(c) is None:
                continue
            if (c.mac, "up") in readings or any((ip, "down") in readings for ip in c.ips):
                macs.append(c.mac)
                addrs += c.ips
        if macs:
            self.nft.hold(macs, addrs)
        return macs, addrs

    def release_holds(self) -> None:
        """hotspotd at start: a hold a crash left behind must not outlive it."""
        if self.table_is_ours():
            self.nft.batch([{"flush": {"set": {"family": "inet", "table": "hotspot", "name": name}}}
                            for name in ("unreg_hold", "unreg_hold4", "unreg_hold6")])

    def register(self, found: dict[str, dict]) -> list[Client]:
        """Add clients seen for the first time; refresh hostnames and addresses of known ones. An
        address belongs to one client: the one that claims it now takes it from any other."""
        now = self.clock()
        new = []
        with self.store.transaction():
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
                    if len(known) + len(new) >= min(MAX_CLIENT_ID, self.nft.marks.max_id) - 1:
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
            if not self.table_is_ours():
                self._scrub_later(reused)
            else:
                self.nft.move_addresses(dropped, added)
                if reused:
                    self._scrub(reused)
                if new:
                    self._add_new(new)
        return new

    def _add_new(self, new: list[Client]) -> None:
        """Put newly registered clients into the kernel, credited with the bytes they used before,
        which also seed their quota (caller holds the transaction that registered them)."""
        readings = self.nft.read_unregistered()
        held = self._hold_for_credit(new, readings)
        try:
            if held[0]:
                readings = self.nft.read_unregistered()  # nothing of theirs moves now
            self._tally_unregistered(readings, self.trusted_time())
            caps = self.nft.read_unregistered_caps() if held[0] else {}
            new[:] = [self.store.client(c.mac) for c in new]
            self.shaper.set_classes({cls: rate for c in new
                                     for cls, rate in policy.shaping(c, self.cfg).items() if rate})
            # Its quota starts from what its cap's quotas consumed, if more: they also counted the
            # packet they dropped at the cap, so one that ran out stays out.
            used = [max(c.period_total, sum(caps.get(ip, 0) for ip in c.ips)) for c in new]
            elements = [policy.elements(c, self.cfg, used=u, quota_used=u, held=self._held(c))
                        for c, u in zip(new, used)]
            self.nft.add_clients(elements, release=held)
        except BaseException:
            if held[0]:
                try:
                    self.nft.batch(hold_cmds("delete", *held))
                except NftError:
                    pass  # the batch that registers them let them go already
            raise
        for c, e in zip(new, elements):
            self._remember_http(c, e.portal)

    def rollover_if_due(self) -> bool:
        """Start a new period once the clock passes the current period's end."""
        now = self.trusted_time()
        start, end = self.store.get("period_start"), self.store.get("period_end")
        if start is not None and now < float(end):
            return False
        s, e = bounds(datetime.fromtimestamp(now), self.cfg.period, self.cfg.period_start)
        with self.store.transaction():
            if start is not None:
                ours = self.table_is_ours()
                if ours:
                    self.account()
                topped = [c for c in self.store.clients() if c.topup]
                self.store.new_period()
                if ours:
                    self.nft.reset_quotas()
                    self._set_http(self.store.clients(), {})  # the capped are capped no more
                    for c in topped:
                        after = dataclasses.replace(c, topup=0, period_up=0, period_down=0)
                        now_ = policy.elements(after, self.cfg)
                        self.nft.update_client(now_, was=dataclasses.replace(
                            policy.elements(c, self.cfg), portal=now_.portal))  # HTTP: done above
                log.info("new period %s to %s", s.isoformat(), e.isoformat())
            self.store.set("period_start", s.timestamp())
            self.store.set("period_end", e.timestamp())
        return start is not None

    def plan_rollover_if_due(self) -> bool:
        """Start the plan's next cycle once the clock passes the current one's end."""
        now = self.trusted_time()
        end = self.store.get("plan_end")
        if end is not None and (now < float(end) or self.cfg.plan_period == "pass"):
            return False
        with self.store.transaction():
            ours = self.table_is_ours()
            if ours and end is not None:
                self.account()  # the ending cycle's last bytes
            return self.plan.rollover_if_due(now, ours)

    def plan_topup(self, size: int) -> dict:
        """Add to this cycle's plan (the owner bought an add-on): the guard's points move up at once."""
        with self.store.transaction():
            if self.table_is_ours():
                self.account()  # the guard counts on from the plan's bytes up to this instant
            self.plan.add_topup(size)
        return self.plan_view()

    def plan_view(self, objs: dict[str, int] | None = None, clients: list[Client] | None = None) -> dict:
        """The plan as `hotspotctl plan` shows it; `clients`: the rows the caller read already."""
        objs = self.live_objects() if objs is None else objs
        pending = 0
        if objs:
            clients = self.store.clients() if clients is None else clients
            pending = sum(sum(self.pending(objs, c)) for c in clients)
            pending += sum(_delta(objs.get(k), int(self.store.get(f"router_{d}_seen", "0")))
                           for k, d in zip(counter_names(ROUTER), ("up", "down")))
        return self.plan.view(pending, objs)

    def check_alerts(self, channels: list[str]) -> list:
        """hotspotd's poll: fire the alert points the plan and the clients reached (hotspot.alerts.points),
        queueing their notifications to `channels`. Usage is the database's, or a kernel quota's
        where it is ahead (it counts the packet it dropped at the cap)."""
        if not self.cfg.alert_at:
            return []
        low = min(self.cfg.alert_at)
        with self.store.transaction():
            plan = None
            allowance, bounds = self.plan.allowance(), self.plan.cycle()
            candidates = self.store.near_cap(0, percent=low) if self.cfg.alert_clients else []
            plan_near = allowance and bounds and self.plan.used() * 100 >= allowance * low - 100 * NEAR_CAP
            if not candidates and not plan_near:
                return []
            quotas = self.nft.read_quotas() if self.table_is_ours() else {}
            if plan_near:
                used = self.plan.used_now(quotas)
                plan = {"used": used, "allowance": allowance, "cycle_start": bounds[0],
                        "cycle_end": bounds[1], "forecast": lambda: self._plan_forecast(quotas)}
            period_start = float(self.store.get("period_start") or 0)
            clients = [{"mac": c.mac, "name": c.alias or c.hostname, "cap": policy.effective_cap(c),
                        "used": max(c.period_total, quotas.get(quota_name(c.id), 0)),
                        "period_start": period_start, "forecast": self._client_forecast(c)}
                       for c in candidates]
            queued = alerts.check(self.store.db, self.cfg, plan=plan, clients=clients, now=self.clock(),
                                  channels=channels)
        return queued

    # -- forecasts for the alerts (issue 8): computed only for an alert that fires ---------------------

    def _plan_forecast(self, objs: dict[str, int]) -> dict:
        f = self.plan.figures(objs=objs)
        return {"end_bytes": f["forecast_end_bytes"], "low": f["forecast_low"], "high": f["forecast_high"],
                "runs_out_at": f["runs_out_at"], "runs_out_earliest": f["runs_out_earliest"]}

    def _client_forecast(self, c: Client):
        def forecast() -> dict:
            start, end = self.period()
            f = forecasts.of_client(self.store, c.id, used=c.period_total, cap=policy.effective_cap(c),
                                    now=self.clock(), start=start, end=end, since=c.first_seen)
            return {"end_bytes": f["period_end_bytes"], "low": f["low"], "high": f["high"],
                    "runs_out_at": f["cap_hit_at"], "runs_out_earliest": f["cap_hit_earliest"]}
        return forecast

    def report_if_due(self, channels: list[str]) -> bool:
        """hotspotd's poll: queue the daily or weekly usage report to `channels` when its time came
        (hotspot.alerts.reports); True if one was queued."""
        if self.cfg.report == "none":
            return False
        now = self.clock()
        due = self.store.get("report_next")
        if due is None or float(due) > now + 8 * 86400:  # first run, or the clock went back
            with self.store.transaction():
                self.store.set("report_next", reports.next_time(now, self.cfg.report, self.cfg.report_hour))
            return False
        if now < float(due):
            return False
        message = self.report(float(due))
        with self.store.transaction():
            if channels:
                outbox.enqueue(self.store.db, message, channels, kind="report", now=now)
            self.store.set("report_next", reports.next_time(now, self.cfg.report, self.cfg.report_hour))
        log.info("usage report queued: %s", message.subject)
        return bool(channels)

    def report(self, at: float):
        """The usage report for the day or week before `at`, as a Message (with the modem as
        hotspotd last read it)."""
        from hotspot.alerts.report_email import build_report

        start, end = reports.span(at, self.cfg.report)
        objs = self.live_objects()
        plan = self.plan.snapshot(objs)
        names = {}
        for c in self.store.clients():
            v = self.view(c, objs, plan)
            names[c.id] = {"name": c.alias or c.hostname, "mac": c.mac, "cap": v["cap"], "state": v["state"],
                           "first_seen": c.first_seen}
        data = reports.gather(self.store.db, self.cfg, start=start, end=end, names=names,
                              plan=self.plan.figures(objs=objs))
        m = self.modem_info
        if m and "error" not in m:
            data["modem"] = {"operator": m["operator_name"], "roaming": m["roaming"],
                             "technology": "/".join(m["access_technologies"]).upper() or None,
                             "signal": m["signal_quality"], "signal_dbm": m["rsrp"]}
        return build_report(data, now=self.clock())

    def commit(self) -> None:
        """Copy the database to flash, stamped with the time; the working copy records it once the copy
        made it (a full run_dir, where it cannot, does not keep the copy from the flash)."""
        now = self.clock()
        self.store.commit_to(self.cfg.state_dir, {"last_commit": now})
        with contextlib.suppress(sqlite3.OperationalError), self.store.transaction():
            self.store.set("last_commit", now)

    def teardown(self) -> bool:
        self.shaper.teardown()
        return self.nft.delete_table()


def _voucher_used(c: Client, objs: dict[str, int], pending: int = 0) -> int:
    """The bytes of a client's voucher up to now: the database's (plus this client's bytes since the
    last poll), or its kernel quota's, which counts every device's at once."""
    if c.voucher is None:
        return c.voucher_used
    return max(c.voucher_used + pending, objs.get(voucher_quota_name(c.voucher), 0))


def _with_voucher_quota(c: Client, quotas: dict[str, int]) -> Client:
    """The client with its voucher's kernel quota folded into voucher_used (policy then sees a
    voucher used up between two polls)."""
    if c.voucher is None or c.voucher_bytes is None:
        return c
    used = _voucher_used(c, quotas)
    return c if used == c.voucher_used else dataclasses.replace(c, voucher_used=used)


def daemon_pid(cfg: Config) -> int | None:
    try:
        pid = int((Path(cfg.run_dir) / "hotspotd.pid").read_text())
    except (OSError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None
