"""When the usage report goes out, and the figures it is made of (hotspot.alerts.report_email renders them).

The schedule is kept in the database (meta `report_next`), so a restart neither skips a report nor
sends one twice; a router that was off over several report times sends one report when it is back,
not a backlog.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from hotspot.core.config import Config

SPIKE = 3  # a client that used this many times its usual bytes in a report's range stands out
NOTABLE = 100 * 10**6  # ... if that is at least this much (a phone's 3 MB day is no news)


def next_time(now: float, kind: str, hour: int) -> float:
    """The next report time after `now`: `hour`:00 local time, every day or every Monday."""
    t = datetime.fromtimestamp(now).replace(hour=hour, minute=0, second=0, microsecond=0)
    while t.timestamp() <= now or (kind == "weekly" and t.isoweekday() != 1):
        t += timedelta(days=1)
        t = t.replace(hour=hour)  # a DST change keeps the hour
    return t.timestamp()


def month(now: float) -> tuple[float, float]:
    """[start, end) of the calendar month (local time) that holds `now`."""
    t = datetime.fromtimestamp(now)
    first = t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    after = (first + timedelta(days=32)).replace(day=1)
    return first.timestamp(), after.timestamp()


def next_monthly(now: float, cycle: tuple[float, float] | None, hour: int) -> tuple[float, float, float]:
    """(due, start, end) of the end-of-cycle report for the plan's cycle under way, `cycle` (without
    one, the calendar month): due at `hour`:00 local time on the day the cycle ends, or the next day
    when the cycle ends after that hour."""
    start, end = cycle or month(now)
    t = datetime.fromtimestamp(end).replace(hour=hour, minute=0, second=0, microsecond=0)
    if t.timestamp() < end:
        t = (t + timedelta(days=1)).replace(hour=hour)
    return t.timestamp(), start, end


def span(at: float, kind: str) -> tuple[float, float]:
    """The range a report sent at `at` covers: the day, the week or the month before it."""
    if kind == "monthly":
        return month(datetime.fromtimestamp(at - 86400).timestamp())
    days = 7 if kind == "weekly" else 1
    start = datetime.fromtimestamp(at) - timedelta(days=days)
    return start.timestamp(), at


def gather(db, cfg: Config, *, start: float, end: float, plan: dict, names: dict[int, dict],
           edition: str = "daily") -> dict:
    """The report's input (see hotspot.alerts.report_email): `plan` is the plan's figures
    (PlanKeeper.figures); `names`: client id -> {"name", "mac", "cap", "state", "first_seen"};
    `edition`: daily, weekly or monthly."""
    cycle_start = plan.get("start") or start
    # The plan's own hours (every client's and the router's, as recorded): a forgotten device's
    # rows are gone from `usage`, its bytes are still the plan's.
    rows = db.execute("SELECT hour, up, down FROM usage_plan WHERE hour >= ? AND hour < ? ORDER BY hour",
                      (int(min(cycle_start, start)), int(end))).fetchall()
    days: dict[float, list[int]] = {}
    for hour, up, down in rows:
        day = datetime.fromtimestamp(hour).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        d = days.setdefault(day, [0, 0])
        d[0] += up
        d[1] += down
    per_client = db.execute(
        "SELECT client, SUM(up), SUM(down) FROM usage WHERE hour >= ? AND hour < ? GROUP BY client "
        "ORDER BY SUM(up) + SUM(down) DESC", (int(start), int(end))).fetchall()
    length = end - start
    before = dict(db.execute(  # each client's bytes in the four ranges before, for "unusual"
        "SELECT client, SUM(up + down) FROM usage WHERE hour >= ? AND hour < ? GROUP BY client",
        (int(start - 4 * length), int(start))).fetchall())
    clients, unusual, router = [], [], 0
    for cid, up, down in per_client:
        if cid == 0:
            router = up + down
            continue
        info = names.get(cid)
        if info is None:
            continue
        total = up + down
        clients.append({"name": info["name"], "mac": info["mac"], "bytes": total, "bytes_up": up,
                        "bytes_down": down, "cap": info["cap"], "state": info["state"]})
        usual = before.get(cid, 0) / 4
        if total >= NOTABLE and info["first_seen"] >= start:
            unusual.append({"name": info["name"], "mac": info["mac"], "bytes": total, "why": "new"})
        elif total >= NOTABLE and usual and total >= SPIKE * usual:
            unusual.append({"name": info["name"], "mac": info["mac"], "bytes": total,
                            "usual_bytes": int(usual), "why": "spike"})
    return {
        "router": cfg.venue or "hotspot",
        "period": edition,
        "range": (start, end),
        "range_bytes": sum(up + down for hour, up, down in rows if start <= hour < end),
        "plan": None if plan["allowance"] is None and not plan["used"] else {
            "quota": plan["allowance"], "used": plan["used"], "left": plan["left"],
            "cycle_start": plan["start"], "cycle_end": plan["end"],
            "forecast_end_bytes": plan["forecast_end_bytes"], "forecast_runs_out_at": plan["runs_out_at"],
            "forecast_low": plan.get("forecast_low"), "forecast_high": plan.get("forecast_high"),
            "guard": plan["guard"]},
        "days": sorted((day, up, down) for day, (up, down) in days.items()),
        "clients": clients[:10],
        "router_bytes": router,
        "unusual": unusual,
        "apps": apps_of(db, start, end, names),
        "ghost": ghost_of(db, start, end, names),
    }


def apps_of(db, start: float, end: float, names: dict[int, dict], devices: int = 3) -> list[dict]:
    """The app categories used in [start, end) (days that start in it, hotspot.apps.usage), most
    first, each with the devices that used it most: [{"category", "bytes", "devices": [{"name", "mac",
    "bytes"}]}]. "other" stays out: it is what no category claimed."""
    from hotspot.apps import usage as apps

    try:
        used = apps.usage(db, start, end)
    except sqlite3.OperationalError:  # no such table: an old database, never counted apps
        return []
    found: dict[str, dict] = {}
    for cid, cats in used.items():
        info = names.get(cid)
        if info is None:
            continue
        for cat, (up, down) in cats.items():
            if up + down:
                e = found.setdefault(cat, {"category": cat, "bytes": 0, "devices": []})
                e["bytes"] += up + down
                e["devices"].append({"name": info["name"], "mac": info["mac"], "bytes": up + down})
    for e in found.values():
        e["devices"] = sorted(e["devices"], key=lambda d: -d["bytes"])[:devices]
    return sorted(found.values(), key=lambda e: -e["bytes"])


def ghost_of(db, start: float, end: float, names: dict[int, dict], limit: int = 20) -> list[dict]:
    """The ghost-traffic events (hotspot.ghost) that began in [start, end), oldest first:
    [{"name", "mac", "kind", "start", "bytes", "destinations": [names or addresses]}]."""
    from hotspot.ghost import watch

    by_mac = {v["mac"]: v["name"] for v in names.values()}
    found = []
    for e in watch.events(db, since=start, limit=500):
        began = _unix(e["start"])
        if began is None or not start <= began < end:
            continue
        found.append({"name": by_mac.get(e["mac"]), "mac": e["mac"], "kind": e["kind"], "start": began,
                      "bytes": e["bytes_total"],
                      "destinations": [d.get("name") or d.get("addr") for d in e["destinations"]][:3]})
    return sorted(found, key=lambda e: e["start"])[-limit:]


def _unix(text) -> float | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
