"""One client's view with everything about it: the same for its own page (/api/me), the admin UI's
client page and `hotspotctl client --json`.

The clients' keeper makes the contract's fields (Clients.view); each capability adds its part (the plan's
facts, its apps, its ghost traffic, its alert point...: a keeper's `client_part(c, view, seen)`);
then the reason the client is not simply "ok", and until when, are said from all of it.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from hotspot.core.store import Client
from hotspot.core.units import iso
from hotspot.forecast import from_history as forecasts


@dataclass(frozen=True)
class Seen:
    """What a page is made from: the database as `store` reads it, the kernel's counters `objs`, the
    plan's snapshot through that store, the time, and the period."""

    store: object
    objs: dict[str, int]
    plan: dict
    now: float
    start: float
    end: float


Part = Callable[[Client, dict, Seen], dict]


def page(clients, c: Client, objs: dict[str, int], store, *, owner: bool, parts: list[Part]) -> dict:
    """The client `c`'s view, read through `store` (a client's page: its thread's own reader, never
    the daemon's connection) with the kernel's counters `objs`; `owner`: for the owner (named by the
    owner's alias), else for the device itself (its DHCP hostname only)."""
    now = clients.core.clock()
    plan = clients.plan.over(store).request_snapshot(objs)
    view = clients.view(c, objs, plan)
    view = named(view) if owner else unnamed(view)
    start, end = clients.period(store)
    learnt = store.hour_totals(c.id, forecasts.lookback(now, start), 2**62)  # the forecaster's hours too
    first = int(start) // 3600 * 3600
    hours = learnt[bisect_left(learnt, (first,)):]
    up, down = clients.speeds.get(c.id, (0.0, 0.0))
    fc = forecasts.of_client(store, c.id, used=view["bytes_total"], cap=view["cap"], now=now, start=start,
                             end=end, since=c.first_seen, rows=learnt)
    view.update({
        "period_start": iso(start),
        "period_end": iso(end),
        "speed_up": int(up),
        "speed_down": int(down),
        "today": today(hours, now),
        "days": days(hours, start, now),
        "forecast": forecasts.as_view(fc),
        "auth": clients.cfg.auth,
        "after_cap": clients.cfg.after_cap,
        "after_cap_rate": clients.cfg.after_cap_rate,
    })
    seen = Seen(store, objs, plan, now, start, end)
    for part in parts:
        view.update(part(c, view, seen))
    why, till_end = reason(view, clients.cfg)
    view["reason"] = why
    view["until"] = until(why, iso(end) if till_end else None, view.get("plan"))
    return view


def today(hours: list[tuple[int, int]], now: float) -> list[dict]:
    """Every hour of today so far (local time), with its bytes."""
    midnight = datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0)
    by_hour = dict(hours)
    return [{"hour": iso(h), "bytes": by_hour.get(h, 0)}
            for h in range(int(midnight.timestamp()), int(now) + 1, 3600)]


def days(hours: list[tuple[int, int]], start: float, now: float) -> list[dict]:
    """Every day of the period so far, with its bytes."""
    found: dict[str, int] = {}
    day = datetime.fromtimestamp(start).date()
    while day <= datetime.fromtimestamp(now).date():
        found[day.isoformat()] = 0
        day = datetime.fromordinal(day.toordinal() + 1).date()
    for h, b in hours:
        key = datetime.fromtimestamp(h).date().isoformat()
        if key in found:
            found[key] += b
    return [{"day": k, "bytes": v} for k, v in found.items()]


def reason(view: dict, cfg) -> tuple[str | None, bool]:
    """Why a client is not simply 'ok', and whether it lasts until the period's end. The plan guard is
    named when it is what holds the client back: its block or stop stops the client whatever its own
    cap says; its throttle only when the client's own cap is not spent."""
    state = view["state"]
    guard = view.get("plan_guard")
    if view["owner_blocked"]:
        return "blocked", False
    if view["self_paused"]:
        return "paused", False
    if not view["admitted"]:
        return "not_admitted", False
    if view.get("asking"):
        return "ask", False
    if state == "capped" and view.get("own_stopped") and guard not in ("block", "stop"):
        return "own_limit", True
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


def until(why: str | None, period_end: str | None, plan_facts: dict | None) -> str | None:
    """When the reason ends: the plan guard's hold ends with the plan's cycle, unless the plan is
    a pass (it does not renew: the owner tops it up or sets a new one)."""
    if why and why.startswith("plan_"):
        return plan_facts["cycle_end"] if plan_facts and plan_facts["renews"] else None
    return period_end


def named(view: dict) -> dict:
    """The owner sees a client by the owner's name for it, else its DHCP hostname."""
    view["dhcp_hostname"] = view["hostname"]
    view["hostname"] = view.get("alias") or view["hostname"]
    return view


def unnamed(view: dict) -> dict:
    """The device itself sees its own DHCP hostname, never the owner's private name for it."""
    view.pop("alias", None)
    view["dhcp_hostname"] = view["hostname"]
    return view
