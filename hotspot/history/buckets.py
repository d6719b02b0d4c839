"""Usage history: bucket keys, ranges and retention (pure: no database, no clock of its own).

Usage is filed by the hour (`usage`: unix time of the hour's start), by the day (`usage_days`: the
local date as YYYYMMDD) and by the month (`usage_months`: YYYYMM). Days and months are the router's
local ones: Python's local time, i.e. the TZ environment (OpenWrt's system time zone). An hour belongs
to the local day its start falls in, so a 23- or 25-hour day around a DST change holds 23 or 25 hours,
and a zone with a half-hour offset files an hour at 23:30 under the day it starts. Once compacted, a
day or month key does not move if the time zone changes later.

Each byte lives in exactly one table: compaction moves rows (hours older than the hourly cutoff into
days, days older than the daily cutoff into months) and a query over a range adds up the three, so
the answer is the same before and after compaction, only coarser where the fine rows expired.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from hotspot.core.units import MAX_YEAR, MIN_YEAR, InvalidValue, check_when, quote

BYS = ("hour", "day", "month")
PLAN = -1  # the client id of the plan's own rows in usage_days/usage_months: every client summed
HOUR = 3600


def day_key(d: date) -> int:
    return d.year * 10000 + d.month * 100 + d.day


def month_key(d: date) -> int:
    return d.year * 100 + d.month


def key_date(key: int) -> date:
    """The first day a day key (YYYYMMDD) or month key (YYYYMM) stands for."""
    if key >= 10**6:
        return date(key // 10000, key // 100 % 100, key % 100)
    return date(key // 100, key % 100, 1)


def local_date(ts: float) -> date:
    return datetime.fromtimestamp(ts).date()


def midnight(d: date) -> float:
    """The unix time a local day starts."""
    return datetime(d.year, d.month, d.day).timestamp()


def add_months(d: date, n: int) -> date:
    """The first of the month `n` months from `d`'s."""
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    return date(y, m + 1, 1)


def hour_day(hour: int) -> int:
    return day_key(local_date(hour))


def hour_month(hour: int) -> int:
    return month_key(local_date(hour))


def cutoffs(now: float, hourly_days: int, daily_months: int,
            keep_from: float | None = None) -> tuple[int, int]:
    """(hour, day key): hours before the first go into days, days before the second into months.
    Whole local days and months move; `keep_from` (the current period's or plan cycle's start)
    keeps the hours from that day on, whatever their age, for the pages that read them."""
    today = local_date(now)
    first_day = today - timedelta(days=hourly_days)
    if keep_from is not None:
        first_day = min(first_day, local_date(keep_from))
    first_month = add_months(today, -daily_months)
    return int(midnight(first_day)), day_key(first_month)


# -- ranges -------------------------------------------------------------------------------------

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def parse_when(text: str, what: str = "date") -> datetime:
    """YYYY-MM-DD (local midnight) or an ISO 8601 date-time (local time unless it names an offset),
    in the years MIN_YEAR..MAX_YEAR (hotspot/core/units.py), both as written and in local time."""
    if not isinstance(text, str) or len(text) > 40:
        raise InvalidValue(f"{what} must be YYYY-MM-DD or an ISO 8601 date and time")
    t = text.strip()
    try:
        if _DATE.fullmatch(t):
            d = date.fromisoformat(t)
            when = datetime(d.year, d.month, d.day)
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ][0-9:.+\-Z]+", t, re.ASCII):
            when = datetime.fromisoformat(t.replace("Z", "+00:00"))
        else:
            raise ValueError(t)
    except ValueError:
        raise InvalidValue(f"{what} {quote(text)} is not YYYY-MM-DD or an ISO 8601 date and time") from None
    check_when(when, what, text)
    return check_when(when.astimezone().replace(tzinfo=None), what, text) if when.tzinfo else when


def _limits() -> tuple[float, float]:
    """The first and the last instant a range may cover, as unix times (local midnights)."""
    return midnight(date(MIN_YEAR, 1, 1)), midnight(date(MAX_YEAR + 1, 1, 1))


def _ts(when: datetime) -> float:
    return when.timestamp()


def bucket_range(by: str, since: float, until: float) -> tuple[int, int]:
    """The buckets [first, end) that cover [since, until): hour starts, or day or month keys."""
    if by == "hour":
        return int(since // HOUR * HOUR), int(-(-until // HOUR) * HOUR)
    d0, last = local_date(since), local_date(until)
    if midnight(last) < until:
        last += timedelta(days=1)
    if by == "day":
        return day_key(d0), day_key(last)
    m1 = month_key(last) if last.day == 1 else month_key(add_months(last, 1))
    return month_key(d0), m1


def default_range(by: str, now: float) -> tuple[float, float]:
    """The last 48 hours, 30 days (today included) or 12 months (this one included)."""
    today = local_date(now)
    if by == "hour":
        end = now // HOUR * HOUR + HOUR
        return end - 48 * HOUR, end
    if by == "day":
        return midnight(today - timedelta(days=29)), midnight(today + timedelta(days=1))
    return midnight(add_months(today, -11)), midnight(add_months(today, 1))


def resolve(by: str, since: str | None, until: str | None, now: float) -> tuple[float, float]:
    """[since, until) as unix times from the user's texts (None: the default range's end)."""
    if by not in BYS:
        raise InvalidValue(f"--by must be one of {', '.join(BYS)}, not {quote(str(by))}")
    d_since, d_until = default_range(by, now)
    s = _ts(parse_when(since, "--from")) if since else None
    u = _ts(parse_when(until, "--to")) if until else None
    first, last = _limits()
    if s is None and u is not None:
        s = max(first, u - (d_until - d_since))  # the default range's length, ending at --to
    if u is None and s is not None:
        u = max(d_until, min(last, s + (d_until - d_since)))  # at least that length from --from
    s = d_since if s is None else s
    u = d_until if u is None else u
    if u <= s:
        raise InvalidValue("--to must be after --from")
    return s, u


def start_of(by: str, key: int) -> float:
    """A bucket's start as a unix time."""
    return float(key) if by == "hour" else midnight(key_date(key))


def next_key(by: str, key: int) -> int:
    if by == "hour":
        return key + HOUR
    d = key_date(key)
    return day_key(d + timedelta(days=1)) if by == "day" else month_key(add_months(d, 1))


def keys(by: str, first: int, end: int) -> list[int]:
    """Every bucket key in [first, end), for a chart's axis."""
    out, k = [], first
    while k < end:
        out.append(k)
        k = next_key(by, k)
    return out


def too_old(by: str, first: int, hour_cutoff: int, day_cutoff: int) -> str | None:
    """Why [first, ...) asks for finer buckets than retention kept, or None."""
    if by == "hour" and first < hour_cutoff:
        return (f"hourly history starts {local_date(hour_cutoff).isoformat()} (history_hourly_days): "
                "ask --by day for earlier")
    if by == "day" and first < day_cutoff:
        return (f"daily history starts {key_date(day_cutoff).isoformat()} (history_daily_months): "
                "ask --by month for earlier")
    return None
