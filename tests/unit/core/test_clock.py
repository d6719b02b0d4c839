from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from hotspot.core.clock import bounds, period_id, trusted_now


def dt(s: str) -> datetime:
    return datetime.fromisoformat(s)


@pytest.mark.parametrize(
    "now, start, begin, end",
    [
        ("2026-11-15 12:00", 1, "2026-11-01", "2026-12-01"),
        ("2026-11-01 00:00", 1, "2026-11-01", "2026-12-01"),  # the first instant belongs to the new period
        ("2026-11-30 23:59:59.999999", 1, "2026-11-01", "2026-12-01"),
        ("2026-12-31 23:00", 1, "2026-12-01", "2027-01-01"),  # year end
        ("2026-11-15 00:00", 15, "2026-11-15", "2026-12-15"),
        ("2026-11-14 23:59", 15, "2026-10-15", "2026-11-15"),
        ("2026-01-10 08:00", 15, "2025-12-15", "2026-01-15"),  # back across the year
        # start=31 clamps to the last day of shorter months
        ("2026-02-28 00:00", 31, "2026-02-28", "2026-03-31"),
        ("2026-02-27 10:00", 31, "2026-01-31", "2026-02-28"),
        ("2026-03-30 10:00", 31, "2026-02-28", "2026-03-31"),
        ("2026-04-30 00:00", 31, "2026-04-30", "2026-05-31"),
        ("2026-04-29 00:00", 31, "2026-03-31", "2026-04-30"),
        ("2026-12-31 00:00", 31, "2026-12-31", "2027-01-31"),
        # leap years
        ("2028-02-29 06:00", 31, "2028-02-29", "2028-03-31"),
        ("2028-02-28 06:00", 31, "2028-01-31", "2028-02-29"),
        ("2028-02-29 06:00", 29, "2028-02-29", "2028-03-29"),
        ("2027-02-28 06:00", 29, "2027-02-28", "2027-03-29"),
        ("2027-03-01 06:00", 30, "2027-02-28", "2027-03-30"),
        ("2100-02-28 06:00", 30, "2100-02-28", "2100-03-30"),  # 2100 is not a leap year
        ("2000-02-29 06:00", 30, "2000-02-29", "2000-03-30"),  # 2000 is
    ],
)
def test_monthly(now, start, begin, end):
    assert bounds(dt(now), "monthly", start) == (dt(begin), dt(end))


@pytest.mark.parametrize(
    "now, start, begin",
    [
        ("2026-11-16 00:00", 1, "2026-11-16"),  # Monday 16 Nov 2026, start Monday
        ("2026-11-22 23:59", 1, "2026-11-16"),  # the Sunday after
        ("2026-11-23 00:00", 1, "2026-11-23"),
        ("2026-11-15 12:00", 1, "2026-11-09"),  # a Sunday belongs to the week begun the Monday before
        ("2026-11-15 12:00", 7, "2026-11-15"),  # weeks starting on Sunday
        ("2026-11-14 12:00", 7, "2026-11-08"),
        ("2026-11-18 12:00", 3, "2026-11-18"),  # Wednesday
        ("2026-11-17 12:00", 3, "2026-11-11"),
        ("2027-01-01 09:00", 1, "2026-12-28"),  # across the year
        ("2028-03-01 09:00", 3, "2028-03-01"),
        ("2028-02-29 09:00", 3, "2028-02-23"),  # across a leap day
    ],
)
def test_weekly(now, start, begin):
    b, e = bounds(dt(now), "weekly", start)
    assert b == dt(begin)
    assert e == b + timedelta(days=7)
    assert b.isoweekday() == start
    assert b <= dt(now) < e


@pytest.mark.parametrize(
    "now, begin, end",
    [
        ("2026-11-15 12:34:56", "2026-11-15", "2026-11-16"),
        ("2026-11-15 00:00", "2026-11-15", "2026-11-16"),
        ("2026-12-31 23:59:59", "2026-12-31", "2027-01-01"),
        ("2028-02-28 10:00", "2028-02-28", "2028-02-29"),
    ],
)
def test_daily(now, begin, end):
    assert bounds(dt(now), "daily", 1) == (dt(begin), dt(end))
    assert bounds(dt(now), "daily", 17) == (dt(begin), dt(end))  # start is ignored


def test_every_day_of_a_leap_year_is_in_its_period():
    for period, start in [("monthly", 1), ("monthly", 29), ("monthly", 31), ("weekly", 1), ("weekly", 7)]:
        now = dt("2028-01-01 13:00")
        while now.year == 2028:
            b, e = bounds(now, period, start)
            assert b <= now < e
            assert b.time() == e.time() == datetime.min.time()
            assert bounds(e, period, start)[0] == e  # periods tile with no gap or overlap
            now += timedelta(days=1)


def test_aware_datetime_keeps_its_tzinfo():
    tz = timezone(timedelta(hours=2))
    b, e = bounds(datetime(2026, 11, 15, 12, tzinfo=tz), "monthly", 1)
    assert b == datetime(2026, 11, 1, tzinfo=tz)
    assert e == datetime(2026, 12, 1, tzinfo=tz)


@pytest.mark.parametrize(
    "period, start",
    [("yearly", 1), ("Monthly", 1), ("monthly", 0), ("monthly", 32), ("weekly", 0), ("weekly", 8)],
)
def test_bad_arguments(period, start):
    with pytest.raises(ValueError):
        bounds(dt("2026-11-15"), period, start)


def test_period_id():
    assert period_id(dt("2026-11-15 12:00"), "monthly", 1) == "2026-11-01"
    assert period_id(dt("2026-11-10 12:00"), "monthly", 15) == "2026-10-15"
    assert period_id(dt("2026-11-15 12:00"), "weekly", 1) == "2026-11-09"
    assert period_id(dt("2026-11-15 12:00"), "daily", 1) == "2026-11-15"
    assert period_id(dt("2026-03-05 12:00"), "monthly", 31) == "2026-02-28"


def test_trusted_now():
    good = 1_800_000_000.0
    assert trusted_now(good + 5, good) == (good + 5, True)
    assert trusted_now(good + 86400 * 365, good) == (good + 86400 * 365, True)  # NTP's first sync jumps ahead
    assert trusted_now(good - 10, good) == (good - 10, True)  # a small NTP step back
    assert trusted_now(good - 3600, good) == (good - 3600, True)
    assert trusted_now(good - 3601, good) == (good, False)
    assert trusted_now(0.0, good) == (good, False)  # booted at 1970
    assert trusted_now(good - 100, good, slack=60) == (good, False)
