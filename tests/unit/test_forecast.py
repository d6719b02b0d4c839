from __future__ import annotations

from hotspot.forecast import forecast, pace

H = 3600


def test_pace_uses_the_last_six_hours_or_the_period_so_far():
    hours = [(0, 10**9)] + [(h * H, 3600 * 1000) for h in range(10, 16)]  # 1 kB/s in hours 10..15
    assert pace(hours, 16 * H, 0) == 6 * 3600 * 1000 / (6 * H)
    assert pace([(0, 7200)], 2 * H, 0) == 1.0  # a period two hours old
    assert pace([], 5, 5) == 0.0


def test_forecast_to_period_end_and_cap():
    f = forecast(total=1000, rate=10.0, now=0, period_end=1000, cap=2000)
    assert f == {"period_end_bytes": 11000, "cap_hit_at": 100.0}
    assert forecast(1000, 1.0, 0, 500, 2000)["cap_hit_at"] is None  # not before the period ends
    assert forecast(3000, 1.0, 7, 500, 2000)["cap_hit_at"] == 7  # already over
    assert forecast(1000, 0.0, 0, 500, 2000) == {"period_end_bytes": 1000, "cap_hit_at": None}
    assert forecast(1000, 5.0, 0, 500, None)["cap_hit_at"] is None
