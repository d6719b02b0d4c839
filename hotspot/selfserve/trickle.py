"""A device's background trickle: the bytes it moves in its usual quiet hours, per day.

The ghost detector (hotspot/ghost) alerts on bursts of tens of megabytes; a slow leak of a megabyte a
night stays under it for ever and still costs tens of megabytes a month. This shows it.

Its usual quiet hours are learnt from its own hourly history: over the last WINDOW_DAYS whole local days
(at least MIN_DAYS of them), an hour of the day is quiet when the device moved less than QUIET_BYTES in
it on at least three days out of four. With less history, the quiet hours are the fixed night window
NIGHT. A quiet hour stays quiet under a trickle (a leak of tens of megabytes a month is far less than
QUIET_BYTES an hour); a leak heavy enough to make an hour busy is the ghost detector's to see.

Pure: hourly rows in, per-day figures out; `offset` is the router's UTC offset in seconds (local days).
"""

from __future__ import annotations

import time

HOUR, DAY = 3600, 86400
WINDOW_DAYS = 28  # the days the quiet hours are learnt from
MIN_DAYS = 7  # fewer whole days of history: the fixed night window
SHOWN_DAYS = 14  # the days the page shows, today the last
QUIET_BYTES = 1_000_000  # an hour with less than this is idle
NIGHT = tuple(range(0, 6))  # 00:00-06:00 local


def local_midnight(t: float, offset: int) -> int:
    """The start of the local day holding `t` (a UTC timestamp)."""
    return int((t + offset) // DAY * DAY - offset)


def quiet_hours(rows: list[tuple[int, int]], *, first_seen: float, today: int,
                offset: int) -> tuple[tuple[int, ...], str, int]:
    """The local hours of the day (0-23) the device is usually idle in, how they were found ("history"
    or "night") and over how many whole days. `rows`: (hour start, bytes) of its hourly history, any
    order; `today`: the start of the local day the figures are for (its own hours are not learnt from)."""
    first_whole = -int(-(first_seen + offset) // DAY) * DAY - offset  # its first whole local day
    start = max(today - WINDOW_DAYS * DAY, first_whole if first_seen else 0)
    days = max(0, (today - start) // DAY)
    if days < MIN_DAYS:
        return NIGHT, "night", days
    busy = [0] * 24  # per hour of the day: on how many days it moved QUIET_BYTES or more
    for hour, used in rows:
        if start <= hour < today and used >= QUIET_BYTES:
            busy[(hour + offset) % DAY // HOUR] += 1
    return tuple(h for h in range(24) if busy[h] * 4 <= days), "history", days


def trickle(rows: list[tuple[int, int]], *, first_seen: float, now: float, offset: int,
            shown: int = SHOWN_DAYS) -> dict:
    """The bytes moved in the device's usual quiet hours on each of the last `shown` local days, today
    last (so far). {"quiet_hours": [local hours], "basis": "history" | "night", "learnt_days",
    "days": [{"day": "YYYY-MM-DD", "bytes"}], "per_day": the average of the whole days shown (not
    today; None without one), "per_month": per_day x 30 (None likewise)}."""
    if not isinstance(shown, int) or shown < 1:
        raise ValueError("shown is a positive number of days")
    today = local_midnight(now, offset)
    hours, basis, learnt = quiet_hours(rows, first_seen=first_seen, today=today, offset=offset)
    quiet = set(hours)
    first = today - (shown - 1) * DAY
    per_day = [0] * shown
    for hour, used in rows:
        if first <= hour <= now and (hour + offset) % DAY // HOUR in quiet:
            per_day[(hour - first) // DAY] += used
    seen_from = local_midnight(first_seen, offset) if first_seen else first
    days = [{"day": time.strftime("%Y-%m-%d", time.gmtime(first + i * DAY + offset)), "bytes": b}
            for i, b in enumerate(per_day) if first + i * DAY >= seen_from]
    whole = [d["bytes"] for d in days[:-1]] if days and days[-1]["day"] == _day(today, offset) else \
        [d["bytes"] for d in days]
    avg = round(sum(whole) / len(whole)) if whole else None
    return {"quiet_hours": list(hours), "basis": basis, "learnt_days": learnt, "days": days,
            "per_day": avg, "per_month": None if avg is None else avg * 30}


def _day(t: int, offset: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(t + offset))


def spans(hours) -> list[tuple[int, int]]:
    """Local hours of the day as runs [(start, end)], end exclusive (24 for midnight); a run across
    midnight is one: [22, 23, 0, 1] -> [(22, 2)]."""
    hs = sorted({int(h) for h in hours if 0 <= int(h) < 24})
    if len(hs) == 24:
        return [(0, 24)]
    runs: list[list[int]] = []
    for h in hs:
        if runs and runs[-1][1] == h:
            runs[-1][1] = h + 1
        else:
            runs.append([h, h + 1])
    if len(runs) > 1 and runs[0][0] == 0 and runs[-1][1] == 24:
        runs[0][0] = runs.pop()[0]
        return [tuple(r) for r in [*runs[1:], runs[0]]]  # type: ignore[misc]
    return [tuple(r) for r in runs]  # type: ignore[misc]
