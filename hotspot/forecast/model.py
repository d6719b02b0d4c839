"""Where a device's (or the plan's) usage is heading by the period's end, with an honest range.

One forecaster for a client, the plan and `hotspotctl forecast`. From the hourly buckets of the last
four weeks it learns two things:

- the shape: an hour-of-week profile (how much of a week falls in each of its 168 hours), each week
  weighted by its recency and scaled to its own total, half of it smoothed into weekday x hour-of-day
  so four samples per hour do not make it jumpy; with under two weeks, an hour-of-day profile; with
  under a day, flat;
- the level: bytes per profile unit over the recent days, each day weighted by its recency (half-life
  HALF_LIFE days) and clipped at BURST times the level, so one binge does not become the new pace.

The rest of the period is the level times the profile's mass over the hours left. The range comes
from the device's own past errors: the same level, estimated at one, two and three weeks back, is
checked against the week that followed, and those errors (pooled with a prior, wider when history
is short) give a log-normal spread around the rest of the period; the range also takes in the
device's four-week average where its recent days left it (a holiday, a spike). The nominal coverage
is 80 %. Buckets are the store's: unix hours (multiples of 3600), sorted; hours before the first
bucket are unknown, missing hours after it are zero.

Pure and fast (a few list operations in C per device): tests/bench/forecast.py measures it.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from itertools import accumulate, chain, repeat
from operator import add, mul

HOUR = 3600
DAY_H, WEEK_H = 24, 168
LOOKBACK_H = 4 * WEEK_H  # the history the forecaster learns from
HALF_LIFE = 7.0  # days: how fast an old day's weight in the level fades
BURST = 3.0  # a day above this many times the level counts as this many times
Z = 1.2816  # the 80 % range of a normal spread
PRIOR_SIGMA, PRIOR_WEIGHT = 0.25, 2.0  # the spread assumed before the device's own errors are known
TREND = 0.7  # how much of a steady growth (or decline) the level follows
LAG = 8.0  # days: the level's weighted age, which a growth makes up for
WEEK_WEIGHTS = (1.0, 0.85, 0.7, 0.6)  # the most recent week first


def forecast(hours, now: float, start: float, end: float, cap: int | None = None, *,
             used: int | None = None, since: float | None = None) -> dict:
    """The forecast for the period [start, end) at `now`.

    hours: sorted (hour, bytes) or (hour, up, down) rows, the store's buckets (the current, partial
    hour included); used: the period's bytes so far (default: the buckets in [start, now)); since:
    when the history begins (default: the first bucket). Returns {"period_end_bytes", "low", "high",
    "cap_hit_at", "cap_hit_earliest", "cap_hit_latest" (unix times or None), "rate" (bytes/s now),
    "basis" ("week", "day", "flat" or "none": the profile used), "history_days"}."""
    cols = list(zip(*hours)) or [(), ()]
    starts, parts = cols[0], cols[1:]  # (bytes,) or (up, down)
    cur = int(now // HOUR) * HOUR  # the current hour: not complete, so not learnt from
    if used is None:
        i, j = bisect_left(starts, start), bisect_left(starts, now)
        used = sum(sum(p[i:j]) for p in parts)
    first = since if since is not None else (starts[0] if starts else cur)
    first = int(-(-first // HOUR)) * HOUR
    n = max(0, min(LOOKBACK_H, (cur - first) // HOUR))
    lo, hi = bisect_left(starts, cur - n * HOUR), bisect_left(starts, cur)
    window = list(map(add, parts[0][lo:hi], parts[1][lo:hi])) if len(parts) == 2 else list(parts[0][lo:hi])
    hours_in = starts[lo:hi]
    days = n // DAY_H
    # the day sums, the most recent first, found by bisection (no hour-by-hour work on four weeks)
    edges = list(map(bisect_left, repeat(hours_in), range(cur - days * 86400, cur + 1, 86400)))
    actual = [sum(window[i:j]) for i, j in zip(edges, edges[1:])][::-1]
    # the hours of the last two weeks (or of the history, if shorter than a day) in a dense list
    span = min(days, 14) * DAY_H or n
    i = edges[-1 - min(days, 14)] if days else 0
    if hi - lo - i == span:  # every hour has its bucket
        recent = window[i:]
    else:
        seen = dict(zip(hours_in[i:], window[i:]))
        recent = list(map(seen.get, range(cur - span * HOUR, cur, HOUR), repeat(0)))
    model = _Model(actual, recent, n)
    left = max(0.0, end - max(now, start))
    mass = model.mass(now - cur, now - cur + left) if left else 0.0
    rest = model.level * mass * math.exp(model.growth * (LAG + left / 86400 / 2))
    sigma = model.sigma * max(0.6, min(2.0, (max(left, 3600) / (7 * 86400)) ** -0.25))
    spread = math.exp(Z * sigma)
    # the range: the recent level's spread, and the four-week average's if that is elsewhere
    base = model.average * mass
    lo_rest = min(rest / spread, base / spread if base < rest else rest / spread)
    hi_rest = max(rest * spread, base * spread if base > rest else rest * spread)
    point, low, high = used + rest, used + lo_rest, used + hi_rest
    hit = earliest = latest = None
    if cap is not None:
        pace = (lambda extra: extra / mass) if mass > 0 else (lambda extra: 0.0)
        hit, earliest, latest = (model.reach(cap - used, level, now, end)
                                 for level in (model.level, pace(hi_rest), pace(lo_rest)))
    return {"period_end_bytes": int(point), "low": int(low), "high": int(high), "cap_hit_at": hit,
            "cap_hit_earliest": earliest, "cap_hit_latest": latest,
            "rate": model.level * model.profile[0] / HOUR, "basis": model.basis,
            "history_days": round(n / DAY_H, 1)}


class _Model:
    """The profile (168 values, mean 1, index 0 = the current hour's phase) and the level (bytes per
    hour at profile 1), learnt from `y`, the complete hours before now, oldest first."""

    def __init__(self, actual: list[int], recent: list[int], n: int) -> None:
        """actual: the day sums, the most recent first (day k = 0: the last 24 hours, phases -24(k+1)
        .. -24k-1 mod 168); recent: the last whole days' hours (at most two weeks), oldest first, or
        all `n` hours of a history shorter than a day."""
        self.basis = "week" if n >= 2 * WEEK_H else "day" if n >= DAY_H else "flat" if n else "none"
        days = len(actual)
        self.actual = actual
        self.profile = _profile(recent, actual, self.basis)
        self.cum = [0.0, *accumulate(self.profile * 2)]  # cum[j]: mass of phases [0, j), j < 2 * 168
        week = [self._span(-DAY_H * (k + 1), DAY_H) for k in range(7)]  # the phases repeat weekly
        self.expected = (week * 5)[:days]
        if days == 0:
            total = sum(recent)
            self.level = self.average = total / max(1, n)
            self.sigma = 1.0 if n else 1.5
            self.growth = 0.0
            return
        self.level = _level(self.actual, self.expected, 0)
        self.average = sum(self.actual) / max(1e-9, sum(self.expected))
        self.sigma = self._sigma(days)
        self.growth = self._growth() if days >= 28 else 0.0

    def _growth(self) -> float:
        """Growth per day when the four weeks grew (or shrank) steadily, each by a similar factor;
        else 0 (a week away, a binge, noise: those are not trends)."""
        weeks = [sum(self.actual[7 * w:7 * w + 7]) for w in range(4)]
        if min(weeks) <= 0:
            return 0.0
        steps = [math.log(a / b) for a, b in zip(weeks, weeks[1:])]
        if not (all(0.03 < x < 0.5 for x in steps) or all(-0.5 < x < -0.03 for x in steps)):
            return 0.0
        if max(steps) - min(steps) > 0.2:
            return 0.0
        return TREND * sum(steps) / len(steps) / 7

    def _span(self, phase: int, hours: int) -> float:
        """Mass of `hours` whole hours from `phase` (mod 168), hours <= 168."""
        p = phase % WEEK_H
        return self.cum[p + hours] - self.cum[p]

    def _sigma(self, days: int) -> float:
        """The log-spread of a week's bytes around the level known a week before: the device's own
        errors at 7, 14 and 21 days back, pooled with the prior (wider for a short history)."""
        errors, signed = [], []
        for origin in (7, 14, 21):
            if days - origin < 5:
                break
            lvl = _level(self.actual, self.expected, origin)
            want = sum(self.actual[origin - 7:origin])
            got = lvl * sum(self.expected[origin - 7:origin])
            floor = 0.02 * (want + got) + 1e6
            signed.append(math.log((want + floor) / (got + floor)))
            errors.append(signed[-1] ** 2)
        prior = PRIOR_SIGMA * (1 + 3 / days)
        return math.sqrt((PRIOR_WEIGHT * prior ** 2 + sum(errors)) / (PRIOR_WEIGHT + len(errors)))

    def mass(self, a: float, b: float) -> float:
        """Profile mass from `a` to `b` seconds after the current hour's start."""
        return self._upto(b) - self._upto(a)

    def _upto(self, t: float) -> float:
        h = t / HOUR
        whole = int(h)
        weeks, j = divmod(whole, WEEK_H)
        return weeks * self.cum[WEEK_H] + self.cum[j] + (h - whole) * self.profile[j]

    def reach(self, need: float, level: float, now: float, end: float) -> float | None:
        """When `need` more bytes are used from `now` at `level`; None if not before `end`."""
        if need <= 0:
            return now
        if level <= 0:
            return None
        cur = now // HOUR * HOUR
        target = self._upto(now - cur) + need / level  # in profile mass from the current hour's start
        per_week = self.cum[WEEK_H]
        weeks = int(target // per_week)
        left = target - weeks * per_week
        j = min(WEEK_H - 1, bisect_right(self.cum, left, 0, WEEK_H + 1) - 1)
        frac = (left - self.cum[j]) / self.profile[j] if self.profile[j] > 0 else 0.0
        t = cur + (weeks * WEEK_H + j + min(1.0, frac)) * HOUR
        return t if t < end else None

def _level(actual: list[float], expected: list[float], origin: int) -> float:
    """Bytes per profile unit over days origin.. (0 = the most recent), each weighted by recency,
    a day far above the level (a binge, a backup) clipped to BURST times it."""
    a, e = actual[origin:origin + 28], expected[origin:origin + 28]
    we = sum(map(mul, _DECAY, e))
    if we <= 0:
        return 0.0
    level = sum(map(mul, _DECAY, a)) / we
    clipped = [min(x, BURST * level * ex) for x, ex in zip(a, e)]
    return sum(map(mul, _DECAY, clipped)) / we


_DECAY = [0.5 ** (k / HALF_LIFE) for k in range(LOOKBACK_H // DAY_H)]


def _profile(y: list[int], actual: list[int], basis: str) -> list[float]:
    """168 values of mean 1, index j = the phase of the hour j after now: weekday x hour of day, from
    `actual` (the day sums, most recent first) and strided sums of `y` (whole days of hours, the last
    one ending now) -- a few whole-list operations in C, as this runs for every device."""
    if basis in ("none", "flat"):
        return [1.0] * WEEK_H
    days = len(actual)
    hod = [sum(y[j::DAY_H]) for j in range(DAY_H)] * 7  # phase j: the hours y[j::24]
    if basis == "day":
        return _mix(hod, 0.85)
    # weekday: each week's days as shares of its total, recent weeks weighing more; phase day d
    # (hours 24d .. 24d+23 after now) is day 7 - d, 14 - d, ... back
    dow = [0.0] * 7
    for w, k in zip(range(days // 7), WEEK_WEIGHTS):
        week = actual[7 * w:7 * w + 7]
        total = sum(week)
        if total > 0:  # a week away says nothing about the shape
            dow = [d + k * x / total for d, x in zip(dow, reversed(week))]
    if not any(dow):
        return [1.0] * WEEK_H
    smooth = list(map(mul, chain.from_iterable(map(repeat, dow, repeat(DAY_H))), hod))
    return _mix(smooth, 0.95)

def _mix(values: list[float], share: float) -> list[float]:
    """`values` scaled to mean `share`, plus a flat 1 - share: no hour is ever sure to be empty."""
    total = sum(values)
    if total <= 0:
        return [1.0] * WEEK_H
    return list(map(add, map(mul, values, repeat(share * len(values) / total)), repeat(1.0 - share)))
