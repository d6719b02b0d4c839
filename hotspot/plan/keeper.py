"""The plan's running state: its cycle, the bytes it was billed, top-ups, roaming, the guard.

The database holds the figures (table meta) and is the truth; the kernel holds the guard's quotas,
which count the same bytes between polls and cut in at the byte. Everything that moves a guard
point (a top-up, a new quota, roaming, a new cycle) moves the kernel's quotas in the same step.
"""

from __future__ import annotations

import logging

from hotspot.core.config import Config
from hotspot.core.engine import Keeper
from hotspot.core.units import iso
from hotspot.forecast import from_history as forecasts
from hotspot.kernel.rules import GUARD_CLASS, Guard, guard_quota_name
from hotspot.plan import calibration, sims
from hotspot.plan import model as plan
from hotspot.plan import roaming as roaming_spans

log = logging.getLogger("hotspot")


def guard_of(cfg: Config) -> Guard:
    """The guard's levels the table needs: those set at home or while roaming (a level set only for
    roaming waits, at home, with a point no plan reaches)."""
    levels = tuple(level for level in plan.LEVELS
                   if cfg.guard(False)[level] is not None or cfg.guard(True)[level] is not None)
    return Guard(levels=levels, rate=cfg.plan_throttle_rate if "throttle" in levels else None)


def _cycle_settings(cfg: Config) -> tuple:
    return (cfg.plan_period, cfg.plan_period_start, cfg.plan_start_hour, cfg.plan_timezone,
            cfg.plan_pass_length, cfg.plan_activated)


def guard_shaping(cfg: Config) -> dict[str, int | None]:
    """The guard's shared throttle class and its rate (None: no class)."""
    return {GUARD_CLASS: guard_of(cfg).rate}


class PlanKeeper(Keeper):
    """The plan's keeper. `store`: another connection to read through (a request's reader: it must
    never use the daemon's connection, which the poll may hold in a transaction). `counting` (set by
    the house): files the kernel's bytes up to now before the cycle changes."""

    def __init__(self, core, store=None) -> None:
        super().__init__(core)
        self._store = store
        self.counting = None

    @property
    def store(self):
        return self._store or self.core.store

    def guard(self) -> Guard:
        """The guard's levels and throttle rate the table holds for this config."""
        return guard_of(self.cfg)

    def over(self, store) -> PlanKeeper:
        """The same plan, read through `store`."""
        return PlanKeeper(self.core, store)

    # -- figures --------------------------------------------------------------------------------

    def _int(self, key: str) -> int:
        return int(self.store.get(key, "0"))

    def used(self) -> int:
        return self._int("plan_used")

    def topup(self) -> int:
        return self._int("plan_topup")

    def roaming(self) -> bool:
        return self.store.get("plan_roaming") == "1"

    def allowance(self) -> int | None:
        """This cycle's bytes, top-ups included. A pass that has ended allows no more than was used:
        past it the carrier bills by the megabyte, so its guard points at 100 % hold from then on."""
        limit = plan.allowance(self.cfg, self.topup())
        return limit if limit is None or not self.expired() else min(limit, self.used())

    def expired(self) -> bool:
        end = self.store.get("plan_end")
        return self.cfg.plan_period == "pass" and end is not None and self.core.clock() >= float(end)

    def roaming_bucket(self) -> bool:
        """Roaming on a plan with a roaming_quota: the guard counts the roaming bytes against it."""
        return self.cfg.roaming_quota is not None and self.roaming()

    def roaming_used(self) -> int:
        return self._int("plan_roaming_used")

    def guarded(self, used: int | None = None) -> int:
        """The bytes the guard's points are measured against, for the plan's bytes `used`: those, or
        while roaming on a roaming_quota, the roaming bytes (with the same bytes since the last poll)."""
        used = self.used() if used is None else used
        if not self.roaming_bucket():
            return used
        return self.roaming_used() + max(0, used - self.used())

    def limits(self) -> dict[str, int | None]:
        if self.roaming_bucket():
            return plan.guard_limits(self.cfg, self.cfg.roaming_quota, True)
        return plan.guard_limits(self.cfg, self.allowance(), self.roaming())

    def state(self, used: int | None = None, objs: dict[str, int] | None = None) -> str:
        """The guard's level reached: "ok", "throttle", "block" or "stop". A level's kernel quota
        (in `objs`, counting from guard_base) may have passed its point when the database has not:
        it also counts the packet it dropped, and the bytes delivered stop one packet short of it."""
        used = self.guarded(used)
        limits, base = self.limits(), self.guard_base()
        for level in reversed(plan.LEVELS):
            point = limits.get(level)
            kernel = (objs or {}).get(guard_quota_name(level))
            if point is not None and max(used, 0 if kernel is None else base + kernel) >= point:
                return level
        return "ok"

    def left_for(self, exempt: bool, used: int | None = None) -> int | None:
        """The plan's bytes a client may still use before the guard holds it back: to the block or
        stop point (the stop point only, for an exempt device); None when no such point is set."""
        limits = self.limits()
        points = [limits.get("stop")] + ([] if exempt else [limits.get("block")])
        points = [p for p in points if p is not None]
        if not points:
            return None
        return max(0, min(points) - self.guarded(used))

    def snapshot(self, objs: dict[str, int] | None = None) -> dict:
        """What a client's view needs of the plan: the guard's level, and the bytes left before it
        holds back an exempt device and any other. hotspotd keeps the last one in `last` for the
        portal's threads, which must not use the daemon's database connection."""
        used = self.used()
        snap = {"state": self.state(used, objs), "left_exempt": self.left_for(True, used),
                "left_other": self.left_for(False, used)}
        self.last = snap  # swapped in whole: readers in other threads see the old or the new one
        return snap

    last: dict | None = None

    def activated(self) -> float | None:
        value = self.store.get("plan_activated")
        return float(value) if value else None

    def cycle(self) -> tuple[float, float] | None:
        start, end = self.store.get("plan_start"), self.store.get("plan_end")
        if start is not None and end is not None:
            return float(start), float(end)
        return plan.cycle(self.core.clock(), self.cfg, self.activated())

    # -- changes (the caller holds a transaction) ---------------------------------------------

    def add(self, nbytes: int, now: float) -> None:
        """Bytes the carrier billed since the last poll. A pass without a set activation starts at
        its first byte."""
        if not nbytes:
            return
        if self.cfg.plan_period == "pass" and self.cfg.plan_activated is None and self.activated() is None:
            self.store.set("plan_activated", now)
            self._start_cycle(now)
            log.info("plan: the pass starts now")
        self.store.set("plan_used", self.used() + nbytes)
        if self.roaming():
            self.store.set("plan_roaming_used", self.roaming_used() + nbytes)

    def _start_cycle(self, now: float) -> bool:
        bounds = plan.cycle(now, self.cfg, self.activated())
        if bounds is None:
            return False
        self.store.set("plan_start", bounds[0])
        self.store.set("plan_end", bounds[1])
        return True

    def rollover_if_due(self, now: float, ours: bool) -> bool:
        """Start the plan's next cycle once `now` passes the current one's end (a pass does not
        renew: after its end, nothing is left of it until the owner tops up or sets a new one)."""
        start, end = self.store.get("plan_start"), self.store.get("plan_end")
        if start is None:
            return self._start_cycle(now) and False
        if now < float(end):
            return False
        if self.cfg.plan_period == "pass":
            if self.store.get("plan_expired") != end:
                self.store.set("plan_expired", end)
                self._push_limits(ours)
                log.warning("plan: the pass ended at %s; its guard holds from now on", iso(float(end)))
            return False
        self._new_cycle(now, ours)
        return True

    def _new_cycle(self, now: float, ours: bool) -> None:
        """Start the cycle containing `now` from zero: no bytes, no top-up, the guard's quotas reset."""
        meters = [f"meter_{m}{part}" for m in self.meters() for part in ("", "_from")]
        for key in ("plan_used", "plan_topup", "plan_roaming_used", "router_up", "router_down", *meters):
            self.store.set(key, 0)
        self._start_cycle(now)
        self._push_limits(ours)
        log.info("plan: a new cycle, to %s", iso(float(self.store.get("plan_end"))))

    def meter(self, name: str, raw: int | None) -> None:
        """Another count of the same bytes (the modem's bearer, or the uplinks' interface counters),
        added up over the cycle from its raw readings; a reading below the last one means the counter
        started again (a reconnect, a reboot), so all of it is new."""
        if raw is None:
            return
        if self.store.get(f"meter_{name}_seen") is None:  # its first reading: both counts start here
            self.store.set(f"meter_{name}", 0)
            self.store.set(f"meter_{name}_from", self.used())
        self.store.add_reading(f"meter_{name}", raw, first_counts=False)

    def meters(self) -> dict[str, int]:
        """Each other count of the plan's bytes, by name: what it counted since it was first read
        (or since the cycle began, whichever is later)."""
        rows = self.store.db.execute("SELECT key, value FROM meta WHERE key LIKE 'meter\\_%' ESCAPE '\\' "
                                     "AND key NOT LIKE '%\\_seen' ESCAPE '\\' "
                                     "AND key NOT LIKE '%\\_from' ESCAPE '\\'").fetchall()
        return {k.removeprefix("meter_"): int(v) for k, v in rows}

    def meter_views(self, used: int) -> dict[str, dict]:
        """Each other count beside ours over the same span: {name: {"bytes", "ours", "difference"}}."""
        found = {}
        for name, n in self.meters().items():
            ours = used - self._int(f"meter_{name}_from")
            found[name] = {"bytes": n, "ours": ours, "difference": n - ours}
        return found

    def add_topup(self, size: int) -> None:
        if self.cfg.plan_quota is None:
            raise ValueError("the plan has no quota to top up; set one with 'hotspotctl plan set SIZE'")
        self.store.set("plan_topup", self.topup() + size)
        self._push_limits()

    def set_roaming(self, roaming: bool) -> bool:
        """The modem says whether it roams; the guard switches to the other threshold set."""
        if roaming == self.roaming():
            return False
        self.store.set("plan_roaming", "1" if roaming else "0")
        (roaming_spans.began if roaming else roaming_spans.ended)(self.store.db, self.core.clock())
        self._push_limits()
        log.warning("plan: %s; the guard's points are now %s", "roaming" if roaming else "back home",
                    ", ".join(f"{k} at {v}" for k, v in self.limits().items() if v is not None) or "none")
        return True

    def _push_limits(self, ours: bool | None = None) -> None:
        """The guard's quotas count again from the plan's bytes now (the caller accounted the
        kernel's counters first, where it matters) up to the points in force."""
        if ours is None:
            ours = self.core.table_is_ours()
        if ours:
            base = self.guarded()
            self.core.nft.set_guard_limits(self.limits(), base)
            self.store.set("guard_base", base)

    def guard_base(self) -> int:
        """The plan's bytes when the guard's kernel quotas last started from zero."""
        return self._int("guard_base")

    def used_now(self, objs: dict[str, int]) -> int:
        """The plan's bytes: the database's (to the last poll), or the guard's kernel quotas' where
        they are ahead (they count between polls, and the packet a point dropped)."""
        kernel = [v for k, v in objs.items() if k.startswith("g_")]
        used = self.used()
        return used + max(0, self.guard_base() + max(kernel) - self.guarded(used)) if kernel else used

    def config_changed(self, old: Config) -> None:
        """New plan settings (the levels themselves stay: a new set of levels rebuilds the table). A
        cycle defined anew keeps its bytes, unless it starts after the old one ended (a new pass)."""
        if _cycle_settings(old) != _cycle_settings(self.cfg):
            if old.plan_activated != self.cfg.plan_activated:
                self.store.db.execute("DELETE FROM meta WHERE key = 'plan_activated'")
            now, end = self.core.clock(), self.store.get("plan_end")
            bounds = plan.cycle(now, self.cfg, self.activated())
            if bounds and end is not None and bounds[0] >= float(end):
                self._new_cycle(now, self.core.table_is_ours())
            elif bounds:
                self._start_cycle(now)
        self._push_limits()

    # -- what hotspotd's poll, hotspotctl and the admin UI do --------------------------------------

    def rollover_step(self) -> bool:
        """hotspotd's poll: start the plan's next cycle once the clock passes the current one's end."""
        now = self.core.trusted_time()
        end = self.store.get("plan_end")
        if end is not None and (now < float(end) or self.cfg.plan_period == "pass"):
            return False
        with self.core.transaction():
            ours = self.core.table_is_ours()
            if ours and end is not None:
                self.counting.account()  # the ending cycle's last bytes
            return self.rollover_if_due(now, ours)

    def topup_plan(self, size: int) -> dict:
        """Add to this cycle's plan (the owner bought an add-on): the guard's points move up at once."""
        with self.core.transaction():
            if self.core.table_is_ours():
                self.counting.account()  # the guard counts on from the plan's bytes up to this instant
            self.add_topup(size)
        return self.view_now()

    def view_now(self, objs: dict[str, int] | None = None, clients=None) -> dict:
        """The plan as `hotspotctl plan` shows it, with the bytes the kernel counted since the last
        poll; `clients`: the rows the caller read already."""
        objs = self.core.live_objects() if objs is None else objs
        return self.view(self.counting.pending_total(objs, clients), objs)

    def plan_topup(self, size) -> dict:
        """The socket's: add SIZE to this cycle's plan, like `hotspotctl plan topup`."""
        from hotspot.core.contract import BackendError, text
        from hotspot.core.units import InvalidValue, parse_size

        try:
            n = parse_size(text(size))
        except InvalidValue as e:
            raise BackendError(str(e)) from None
        with self.core.lock:
            try:
                return self.topup_plan(n)
            except ValueError as e:
                raise BackendError(str(e).splitlines()[0]) from None

    def active_iccid(self) -> str | None:
        """The ICCID of the SIM whose plan is in force; None for the plan used without a modem."""
        return self.store.get(sims.ACTIVE) or None

    def calibrate(self, theirs: int, at: float | None = None, source: str = "owner",
                  text: str | None = None) -> dict:
        """The carrier counted `theirs` bytes of this cycle by `at` (default now): the plan's bytes
        become that plus what was counted since; the gap to ours then is kept. ValueError (one line)
        for a figure that cannot be."""
        if source not in calibration.SOURCES:
            raise ValueError(f"unknown source {source!r}")
        with self.core.transaction():
            if self.core.table_is_ours():
                self.counting.account()  # our figure up to this instant
            now = self.core.clock()
            at = now if at is None else float(at)
            why = calibration.check(theirs, at, now, self.cycle())
            if why:
                raise ValueError(why)
            first = int(at // 3600 * 3600)
            since = calibration.counted_since(self.store.hour_totals(None, first, int(now) + 3600), at, now)
            used = self.used()
            ours = max(0, used - since)
            self.store.set("plan_used", theirs + (used - ours))
            calibration.record(self.store.db, self.active_iccid() or "", at, now, theirs, ours, source, text)
            self._push_limits()
        log.warning("plan: calibrated to the carrier's %d bytes at %s (ours then %d, gap %+d), from %s",
                    theirs, iso(at), ours, theirs - ours, source)
        return self.view_now()

    # -- the kernel's part ---------------------------------------------------------------------------

    def table_options(self) -> dict:
        return {"guard": guard_of(self.cfg), "guard_limits": self.limits(), "plan_used": self.guarded()}

    def built_for(self, cfg: Config) -> str:
        return "+".join(guard_of(cfg).levels) or "noguard"

    def table_built(self) -> None:
        self.store.set("guard_base", self.guarded())  # the guard's quotas count from here

    # -- a client's page -------------------------------------------------------------------------------

    def request_snapshot(self, objs: dict[str, int]) -> dict:
        """As snapshot, for one request: the database's bytes to the last poll, or the guard's kernel
        quotas in `objs` where they are ahead. They are when the guard cut in: the packet that would
        cross a point is dropped, so the bytes the poll moves stop just short of it and the database
        alone would tell a blocked guest it is online. `used` is added for facts_for."""
        used = self.used_now(objs)
        return {"state": self.state(used, objs), "left_exempt": self.left_for(True, used),
                "left_other": self.left_for(False, used), "used": used}

    def client_part(self, c, view: dict, seen) -> dict:
        """The plan-level facts that affect one client, and nothing about other clients: how much of
        the plan is used, the guard's level and whether it holds this client back, the plan's bytes
        left for it, the highest alert point passed, and the next guard step that would hold it back.
        None when the plan has no quota."""
        keeper = self.over(seen.store)
        snap = seen.plan
        cfg = self.cfg
        allowance = keeper.allowance()
        if not allowance:
            return {"plan": None}
        limits = keeper.limits()
        used = snap["used"]
        exempt = view["mac"] in cfg.plan_exempt
        held = view.get("plan_guard")
        mine = ("stop",) if exempt else plan.LEVELS
        stricter = plan.LEVELS[plan.LEVELS.index(held) + 1:] if held else plan.LEVELS
        ahead = sorted((point, level) for level, point in limits.items()
                       if level in mine and level in stricter and point is not None and point > used)
        bounds = keeper.cycle()
        return {"plan": {
            "percent": round(used * 100 / allowance, 1),
            "guard": snap["state"],
            "held": held,
            "left_for_you": snap["left_exempt" if exempt else "left_other"],
            "alert_point": plan.passed(used, allowance, cfg.alert_at),
            "next_level": ahead[0][1] if ahead else None,
            "next_at_percent": round(ahead[0][0] * 100 / allowance, 1) if ahead else None,
            "cycle_end": iso(bounds[1]) if bounds else None,
            "renews": cfg.plan_period != "pass",
        }}

    # -- views --------------------------------------------------------------------------------

    def figures(self, pending: int = 0, objs: dict[str, int] | None = None) -> dict:
        """The plan's figures now, as numbers (unix times); `pending`: bytes counted since the last
        poll; `objs`: the kernel's counters and quotas."""
        used = self.used() + pending
        limit = self.allowance()
        now = self.core.clock()
        bounds = self.cycle()
        start, end = bounds if bounds else (None, None)
        fc = None
        if bounds and now < end:
            fc = forecasts.of_plan(self.store, used=used, limit=limit, now=max(now, start), start=start,
                                   end=end)
        return {"used": used, "allowance": limit, "left": plan.remaining(used, limit), "start": start,
                "end": end, "forecast_end_bytes": fc and fc["period_end_bytes"],
                "forecast_low": fc and fc["low"], "forecast_high": fc and fc["high"],
                "runs_out_at": fc and fc["cap_hit_at"], "runs_out_earliest": fc and fc["cap_hit_earliest"],
                "guard": self.state(used, objs), "limits": self.limits()}

    def view(self, pending: int = 0, objs: dict[str, int] | None = None) -> dict:
        """The plan as `status` and `hotspotctl plan` show it."""
        f = self.figures(pending, objs)
        used, limit = f["used"], f["allowance"]
        return {
            "quota": self.cfg.plan_quota,
            "topup": self.topup(),
            "allowance": limit,
            "used": used,
            "left": f["left"],
            "percent": None if not limit else round(used * 100 / limit, 1),
            "cycle": self.cfg.plan_period,
            "cycle_start": iso(f["start"]),
            "cycle_end": iso(f["end"]),
            "expired": self.expired(),
            "forecast_end_bytes": f["forecast_end_bytes"],
            "runs_out_at": iso(f["runs_out_at"]),
            "forecast_low": f["forecast_low"],  # the forecast's 80 % range (hotspot.forecast.model)
            "forecast_high": f["forecast_high"],
            "runs_out_earliest": iso(f["runs_out_earliest"]),
            "router_bytes": self._int("router_up") + self._int("router_down"),
            "router_up": self._int("router_up"),
            "router_down": self._int("router_down"),
            "roaming": self.roaming(),
            "roaming_quota": self.cfg.roaming_quota,
            "roaming_used": self.roaming_used(),
            "sim": self.active_iccid(),
            "calibrations": calibration.recent(self.store.db, self.active_iccid() or "", 5),
            "meters": self.meter_views(used),
            "guard": {"state": f["guard"], "limits": f["limits"],
                      "throttle_rate": self.cfg.plan_throttle_rate if f["limits"].get("throttle") else None,
                      "exempt": list(self.cfg.plan_exempt)},
        }
