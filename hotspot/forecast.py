"""Where a client's usage is heading at its recent pace (a simple, honest first forecaster)."""

from __future__ import annotations

WINDOW = 6 * 3600  # the recent pace: the last six hours (or the period so far, if shorter)


def pace(hours: list[tuple[int, int]], now: float, period_start: float) -> float:
    """Bytes per second over the recent window, from hourly buckets (hour start, bytes)."""
    since = max(period_start, (now - WINDOW) // 3600 * 3600)
    seconds = now - since
    if seconds <= 0:
        return 0.0
    return sum(b for hour, b in hours if hour >= since) / seconds


def forecast(total: int, rate: float, now: float, period_end: float, cap: int | None) -> dict:
    """{"period_end_bytes": usage at the period's end, "cap_hit_at": unix time or None}."""
    left = max(0.0, period_end - now)
    hit = None
    if cap is not None and rate > 0:
        hit = now if total >= cap else now + (cap - total) / rate
        if hit > period_end:
            hit = None
    return {"period_end_bytes": int(total + rate * left), "cap_hit_at": hit}
