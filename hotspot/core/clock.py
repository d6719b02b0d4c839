"""Time on a router: the wall clock, time to trust when it jumps, and calendar periods.

Periods (daily, weekly, monthly) are computed on naive local datetimes so a period starts at local
midnight whatever the UTC offset, and a DST change only makes that day 23 or 25 hours long.
"""

from __future__ import annotations

import calendar
import os
import time as _time
from datetime import date, datetime, time, timedelta
from pathlib import Path

PERIODS = ("daily", "weekly", "monthly")


def _month_start(year: int, month: int, start: int) -> datetime:
    """Day `start` of the month at 00:00, or the month's last day if it is shorter (31 -> Feb 28/29)."""
    last = calendar.monthrange(year, month)[1]
    return datetime.combine(date(year, month, min(start, last)), time())


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    y, m = divmod(year * 12 + month - 1 + n, 12)
    return y, m + 1


def bounds(now: datetime, period: str, start: int) -> tuple[datetime, datetime]:
    """[start, end) of the period that contains the naive local datetime `now`.

    `start` is the day of the month (1..31) for monthly periods, the ISO weekday (1 = Monday .. 7 = Sunday)
    for weekly ones, and is ignored for daily ones.
    """
    midnight = datetime.combine(now.date(), time(), now.tzinfo)
    if period == "daily":
        return midnight, midnight + timedelta(days=1)
    if period == "weekly":
        if not 1 <= start <= 7:
            raise ValueError(f"weekly period start must be 1 (Monday) .. 7 (Sunday), not {start!r}")
        begin = midnight - timedelta(days=(now.isoweekday() - start) % 7)
        return begin, begin + timedelta(days=7)
    if period == "monthly":
        if not 1 <= start <= 31:
            raise ValueError(f"monthly period start must be a day 1..31, not {start!r}")
        y, m = now.year, now.month
        if now < _month_start(y, m, start).replace(tzinfo=now.tzinfo):
            y, m = _add_months(y, m, -1)
        begin = _month_start(y, m, start).replace(tzinfo=now.tzinfo)
        end = _month_start(*_add_months(y, m, 1), start).replace(tzinfo=now.tzinfo)
        return begin, end
    raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")


def period_id(now: datetime, period: str, start: int) -> str:
    """A stable key for the period containing `now`: the ISO date it starts on, e.g. '2026-11-01'."""
    return bounds(now, period, start)[0].date().isoformat()


def trusted_now(now: float, last_good: float, slack: float = 3600) -> tuple[float, bool]:
    """Guard against a clock that jumped back: return (time to file usage at, whether `now` is trusted).

    Routers without a real-time clock boot at an old date (the firmware build time, or 1970) until NTP
    syncs. Usage filed at that time would land in a long-past period and history bucket, and could reset
    or double-count the current period. So a `now` more than `slack` seconds before the last time we
    trusted is not believed: `last_good` is returned instead, from which the caller goes on by a
    monotonic clock until the wall clock is back. Small backward steps (NTP corrections) within
    `slack` are accepted. Forward jumps are accepted: they are what NTP's first sync looks like.
    """
    if now < last_good - slack:
        return last_good, False
    return now, True


def default_clock() -> float:
    """The wall clock; tests shift it through HOTSPOT_CLOCK_FILE (seconds to add) to cross periods."""
    path = os.environ.get("HOTSPOT_CLOCK_FILE")
    if path:
        try:
            return _time.time() + float(Path(path).read_text().strip() or 0)
        except (OSError, ValueError):
            pass
    return _time.time()


def boot_id() -> str:
    """This boot of the kernel: a table handle means something only within one."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"
