"""When the usage report goes out, and the figures it is made of (hotspot.alerts.report_email renders them).

The schedule is kept in the database (meta `report_next`), so a restart neither skips a report nor
sends one twice; a router that was off over several report times sends one report when it is back,
not a backlog.
"""

from __future__ import annotations

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


def span(at: float, kind: str) -> tuple[float, float]:
    """The range a report sent at `at` covers: the day or the week before it."""
    days = 7 if kind == "weekly" else 1
    start = datetime.fromtimestamp(at) - timedelta(days=days)
    return start.timestamp(), at


def gather(db, cfg: Config, *, start: float, end: float, plan: dict, names: dict[int, dict]) -> dict:
    """The report's input (see hotspot.alerts.report_email): `plan` is the plan's figures
    (PlanKeeper.figures); `names`: client id -> {"name", "mac", "cap", "state", "first_seen"}."""
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
        "period": cfg.report if cfg.report != "none" else "daily",
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
    }
