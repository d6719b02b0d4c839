"""The forecaster (hotspot.forecast.model) fed from the store: a client's and the plan's forecast as the
views show them. Only complete hours are learnt from and they change once an hour, so the plan's
hourly sums (a query over every client's buckets) are read once an hour and kept."""

from __future__ import annotations

from hotspot.core.units import iso
from hotspot.forecast import model as fc

HOUR = fc.HOUR


def lookback(now: float, start: float) -> int:
    """The first hour the forecaster reads: four weeks back, or the period's start if earlier."""
    return int(min(start, now - fc.LOOKBACK_H * HOUR)) // HOUR * HOUR


def of_client(store, cid: int, *, used: int, cap: int | None, now: float, start: float, end: float,
              since: float | None = None, rows: list | None = None) -> dict:
    """A client's forecast (unix times); `used`: its bytes this period, up to this instant; `rows`:
    its hours from `lookback(now, start)` on, if the caller has read them already."""
    if rows is None:
        rows = store.history(cid, lookback(now, start))
    return fc.forecast(rows, now, start, end, cap, used=used, since=since)


_plan_cache: dict = {}  # (database, hour, since) -> the plan's complete hours


def of_plan(store, *, used: int, limit: int | None, now: float, start: float, end: float) -> dict:
    """The plan's forecast (unix times); `limit`: its allowance (cap_hit_at is when it runs out)."""
    cur = int(now) // HOUR * HOUR
    key = (str(getattr(store, "path", id(store))), cur, lookback(now, start))
    rows = _plan_cache.get(key)
    if rows is None:
        rows = store.plan_history(key[2], cur)
        _plan_cache.clear()
        _plan_cache[key] = rows
    return fc.forecast(rows, now, start, end, limit, used=used)


def as_view(f: dict | None) -> dict | None:
    """What a view shows: {"period_end_bytes", "low", "high", "cap_hit_at", "cap_hit_earliest",
    "cap_hit_latest"}, times in ISO 8601."""
    if f is None:
        return None
    return {"period_end_bytes": f["period_end_bytes"], "low": f["low"], "high": f["high"],
            "cap_hit_at": iso(f["cap_hit_at"]), "cap_hit_earliest": iso(f["cap_hit_earliest"]),
            "cap_hit_latest": iso(f["cap_hit_latest"])}
