"""The forecaster (hotspot.forecast.model) fed from the store: a client's and the plan's forecast as the
views show them. Only complete hours are learnt from and they change once an hour, so the plan's
hourly sums (a query over every client's buckets) are read once an hour and kept, and what a
client's hours say is kept for the hour too."""

from __future__ import annotations

from hotspot.core.units import iso
from hotspot.forecast import model as fc

HOUR = fc.HOUR


def lookback(now: float, start: float) -> int:
    """The first hour the forecaster reads: four weeks back, or the period's start if earlier."""
    return int(min(start, now - fc.LOOKBACK_H * HOUR)) // HOUR * HOUR


CACHED = 1024  # clients whose learnt hours are kept (a few kB each)
_learnt: dict = {}  # the current hour -> {(database, client, first hour read, since): Learnt}


def of_client(store, cid: int, *, used: int, cap: int | None, now: float, start: float, end: float,
              since: float | None = None, rows: list | None = None) -> dict:
    """A client's forecast (unix times); `used`: its bytes this period, up to this instant; `rows`:
    its (hour, bytes) from `lookback(now, start)` on (Store.hour_totals), if the caller has read them.

    What its complete hours say is kept for the rest of the hour (a page opened again, an alert
    after a page: no hours read, nothing learnt again): they are taken as they stood at the hour's
    first forecast, which the poll that closes the hour may still add its last seconds to."""
    cur = int(now) // HOUR * HOUR
    kept = _learnt.get(cur)
    if kept is None or len(kept) >= CACHED:
        _learnt.clear()
        kept = _learnt[cur] = {}
    key = (str(getattr(store, "path", id(store))), cid, lookback(now, start), since)
    learnt = kept.get(key)
    if learnt is None:
        if rows is None:
            rows = store.hour_totals(cid, key[2], cur)
        learnt = kept[key] = fc.learn(rows, now, since)
    return learnt.project(now, start, end, cap, used)


_plan_cache: dict = {}  # (database, hour, since) -> what the plan's complete hours say


def of_plan(store, *, used: int, limit: int | None, now: float, start: float, end: float) -> dict:
    """The plan's forecast (unix times); `limit`: its allowance (cap_hit_at is when it runs out)."""
    cur = int(now) // HOUR * HOUR
    key = (str(getattr(store, "path", id(store))), cur, lookback(now, start))
    learnt = _plan_cache.get(key)
    if learnt is None:
        learnt = fc.learn(store.hour_totals(None, key[2], cur), now)
        _plan_cache.clear()
        _plan_cache[key] = learnt
    return learnt.project(now, start, end, limit, used)


def as_view(f: dict | None) -> dict | None:
    """What a view shows: {"period_end_bytes", "low", "high", "cap_hit_at", "cap_hit_earliest",
    "cap_hit_latest"}, times in ISO 8601."""
    if f is None:
        return None
    return {"period_end_bytes": f["period_end_bytes"], "low": f["low"], "high": f["high"],
            "cap_hit_at": iso(f["cap_hit_at"]), "cap_hit_earliest": iso(f["cap_hit_earliest"]),
            "cap_hit_latest": iso(f["cap_hit_latest"])}
