"""The background trickle (hotspot/selfserve/trickle.py): usual quiet hours learnt from a device's own
hourly history, its bytes in them per local day, and bad input."""

import calendar

import pytest

from hotspot.selfserve.trickle import DAY, HOUR, NIGHT, QUIET_BYTES, quiet_hours, spans, trickle

T0 = calendar.timegm((2026, 11, 1, 0, 0, 0))  # a local midnight at offset 0
MB = 1_000_000


def history(days: int, *, busy=range(8, 23), busy_bytes=50 * MB, leak=None, offset=0, start=T0):
    """`days` local days of hourly rows: busy in `busy` hours, and a trickle of `leak` bytes in 03:00."""
    rows = []
    for d in range(days):
        for h in range(24):
            t = start + d * DAY + h * HOUR - offset
            b = busy_bytes if h in busy else 0
            if leak and h == 3:
                b += leak
            if b:
                rows.append((t, b))
    return rows


def test_quiet_hours_are_learnt_from_four_weeks_of_its_own_history():
    rows = history(35)
    hours, basis, days = quiet_hours(rows, first_seen=T0, today=T0 + 35 * DAY, offset=0)
    assert basis == "history" and days == 28
    assert hours == (0, 1, 2, 3, 4, 5, 6, 7, 23)


def test_too_little_history_is_the_fixed_night():
    rows = history(5)
    hours, basis, days = quiet_hours(rows, first_seen=T0, today=T0 + 5 * DAY, offset=0)
    assert (hours, basis, days) == (NIGHT, "night", 5)
    # a device first seen mid-day counts from its next midnight
    assert quiet_hours(rows, first_seen=T0 + 12 * HOUR, today=T0 + 7 * DAY, offset=0)[1] == "night"
    assert quiet_hours(rows, first_seen=T0, today=T0 + 7 * DAY, offset=0)[1] == "history"


def test_an_hour_busy_on_one_day_in_four_stays_quiet_and_busier_is_not():
    rows = history(28)
    rows += [(T0 + d * DAY + 2 * HOUR, 5 * MB) for d in range(0, 28, 4)]  # 7 of 28 days: quiet still
    rows += [(T0 + d * DAY + 4 * HOUR, 5 * MB) for d in range(0, 28, 3)]  # 10 of 28: not quiet
    hours, _, _ = quiet_hours(rows, first_seen=T0, today=T0 + 28 * DAY, offset=0)
    assert 2 in hours and 4 not in hours


def test_a_slow_leak_below_the_ghost_threshold_shows_per_day_and_keeps_its_hours_quiet():
    leak = 900_000  # under QUIET_BYTES an hour, ~27 MB a month
    rows = history(42, leak=leak)
    t = trickle(rows, first_seen=T0, now=T0 + 41 * DAY + 15 * HOUR, offset=0)
    assert t["basis"] == "history" and 3 in t["quiet_hours"]
    assert len(t["days"]) == 14 and t["days"][-1]["day"] == "2026-12-12"
    assert all(d["bytes"] == leak for d in t["days"])  # the busy hours' 50 MB are not in it
    assert t["per_day"] == leak and t["per_month"] == 30 * leak


def test_local_days_follow_the_offset():
    offset = 8 * HOUR  # China: local midnight is 16:00 UTC
    rows = history(30, leak=700_000, offset=offset)
    now = T0 + 29 * DAY + 12 * HOUR - offset
    t = trickle(rows, first_seen=T0 - offset, now=now, offset=offset)
    assert t["basis"] == "history" and t["days"][-1]["day"] == "2026-11-30"
    assert all(d["bytes"] == 700_000 for d in t["days"])
    assert set(t["quiet_hours"]) == {0, 1, 2, 3, 4, 5, 6, 7, 23}


def test_a_new_device_shows_only_its_own_days_and_no_average_before_a_whole_day():
    t = trickle([(T0 + 2 * HOUR, 300_000)], first_seen=T0 + HOUR, now=T0 + 10 * HOUR, offset=0)
    assert t["basis"] == "night" and t["days"] == [{"day": "2026-11-01", "bytes": 300_000}]
    assert t["per_day"] is None and t["per_month"] is None


def test_no_history_at_all_and_a_device_never_idle():
    t = trickle([], first_seen=T0, now=T0 + 30 * DAY, offset=0)
    assert t["basis"] == "history" and t["quiet_hours"] == list(range(24)) and t["per_day"] == 0
    busy = history(30, busy=range(24), busy_bytes=2 * QUIET_BYTES)
    t = trickle(busy, first_seen=T0, now=T0 + 30 * DAY, offset=0)
    assert t["quiet_hours"] == [] and all(d["bytes"] == 0 for d in t["days"])


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        trickle([], first_seen=T0, now=T0, offset=0, shown=0)
    with pytest.raises(ValueError):
        trickle([], first_seen=T0, now=T0, offset=0, shown="14")


def test_spans_join_runs_and_midnight():
    assert spans([0, 1, 2, 3, 4, 5]) == [(0, 6)]
    assert spans([23, 0, 1, 22]) == [(22, 2)]
    assert spans([1, 2, 5, 22, 23, 0]) == [(5, 6), (22, 3)]
    assert spans(range(24)) == [(0, 24)]
    assert spans([]) == [] and spans([23]) == [(23, 24)] and spans([99, -1, 3]) == [(3, 4)]
