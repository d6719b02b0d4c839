"""Where a device's (or the plan's) usage is heading by the period's end, with an honest range.

One forecaster for a client, the plan and `hotspotctl forecast`. From the hourly buckets of the last
four weeks it learns:

- the shape: weekday x hour-of-day (each week's days as shares of that week, recent weeks weighing
  more; the hour of day from the last two weeks); with under two weeks, the hour of day alone; with
  under a day, flat;
- the level: bytes per profile unit over the recent days, each day weighted by its recency (half-life
  HALF_LIFE days) and clipped at BURST times the median day, so one binge does not become the new
  pace; a week or more away (every day near nothing) is left out once the device is back;
- the growth: when the days grew (or shrank) steadily -- the recency-weighted trend of their log
  usage at least T_MIN standard errors from none, and each complete week above the one before (or
  each below) -- the level is carried at that rate (TREND of it) from its own weighted age to now,
  and on through the rest of the period.

The rest of the period is the level times the profile's mass over the hours left. The range comes
from the device's own past errors: the same level (grown the same way), estimated at one, two and
three weeks back, is checked against the week that followed, and those errors (pooled with a prior,
wider when history is short) give a log-normal spread around the rest of the period; the range also
takes in the device's four-week average where its recent days left it (a holiday, a spike). The
nominal coverage is 80 %. Buckets are the store's: unix hours (multiples of 3600), sorted; hours
before the first bucket are unknown, missing hours after it are zero.

Pure and fast: one pass over the buckets into a dense list of hours, then sums over whole lists (C
loops) and a few dozen values of arithmetic per device; learn() is what changes once an hour, and
Learnt.project() the forecast at any moment of that hour. tests/bench/forecast.py measures it.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from functools import lru_cache
from itertools import accumulate, islice, repeat
from operator import add, itemgetter, mul, truediv

HOUR = 3600
DAY_H, WEEK_H = 24, 168
LOOKBACK_H = 4 * WEEK_H  # the history the forecaster learns from
HALF_LIFE = 7.0  # days: how fast an old day's weight in the level fades
BURST = 3.0  # a day above this many times the usual counts as this many times
GROWTH_BURST = 2.0  # the same, where a growth is looked for: a binge must not make one
Z = 1.2816  # the 80 % range of a normal spread
PRIOR_SIGMA, PRIOR_WEIGHT = 0.25, 2.0  # the spread assumed before the device's own errors are known
TREND = 1.0  # how much of a steady growth (or decline) the level follows
T_MIN, STEP_MIN = 2.5, 0.03  # a trend: this many standard errors, and at least this log step a week
AWAY = 0.1  # a day under this share of the usual is a day away; AWAY_DAYS of them in a row, a trip
AWAY_DAYS = 7
WEEK_WEIGHTS = (1.0, 0.85, 0.7, 0.6)  # the most recent week first

_hour = itemgetter(0)


def forecast(hours, now: float, start: float, end: float, cap: int | None = None, *,
             used: int | None = None, since: float | None = None) -> dict:
    """The forecast for the period [start, end) at `now`.

    hours: sorted (hour, bytes) or (hour, up, down) rows, the store's buckets (the current, partial
    hour included); used: the period's bytes so far (default: the buckets in [start, now)); since:
    when the history begins (default: the first bucket). Returns {"period_end_bytes", "low", "high",
    "cap_hit_at", "cap_hit_earliest", "cap_hit_latest" (unix times or None), "rate" (bytes/s now),
    "basis" ("week", "day", "flat" or "none": the profile used), "history_days"}."""
    y, cur, hi = _window(hours, now, since)
    if used is None:
        base = cur - len(y) * HOUR
        used = sum(y[int(len(y) - (cur - start) // HOUR):]) if base <= start < cur else 0
        i = hi if base <= start else bisect_left(hours, start, key=_hour)  # hi: the first row from cur
        used += _bytes(hours, i, bisect_left(hours, now, i, key=_hour))  # the current hour's so far
    return Learnt(*sums(y), cur).project(now, start, end, cap, used)


def learn(hours, now: float, since: float | None = None) -> Learnt:
    """What the complete hours before `now` say (it changes only when an hour ends): project() it
    for a forecast at any moment of the current hour."""
    y, cur, _ = _window(hours, now, since)
    return Learnt(*sums(y), cur)


def sums(y: list[int]) -> tuple[int, list[int], list[int], int | None]:
    """All the model reads of the hours `y` (oldest first, ending at the current hour): their
    count, the whole days' sums (the most recent first: day k is hours -24(k+1) .. -24k-1), the
    hour-of-day sums over the last whole days, two weeks at most (phase j: the hours at j mod 24
    from the current one), and, under a day, their total (else None)."""
    n = len(y)
    days_back, hours_of_day = _slices(n)
    return (n, list(map(sum, map(y.__getitem__, days_back))),
            list(map(sum, map(y.__getitem__, hours_of_day))), sum(y) if n < DAY_H else None)


def _window(hours, now: float, since: float | None) -> tuple[list[int], int, int]:
    """The bytes of each complete hour learnt from (up to four weeks, oldest first), the current
    hour, and the index of the first row from it on."""
    cur = int(now // HOUR) * HOUR  # the current hour: not complete, so not learnt from
    first = since if since is not None else (hours[0][0] if hours else cur)
    first = int(-(-first // HOUR)) * HOUR
    n = max(0, min(LOOKBACK_H, (cur - first) // HOUR))
    base = cur - n * HOUR
    # searched only when not at the ends (the history's first hour, the current hour's last row)
    lo = 0 if not hours or hours[0][0] >= base else bisect_left(hours, base, key=_hour)
    hi = len(hours)
    if hi > lo and hours[-1][0] >= cur:
        hi = hi - 1 if hi - 1 == lo or hours[-2][0] < cur else bisect_left(hours, cur, lo, key=_hour)
    return _dense(hours, lo, hi, base, n), cur, hi


def _bytes(rows, i: int, j: int) -> int:
    """The bytes of rows[i:j], (hour, bytes) or (hour, up, down)."""
    part = rows[i:j]
    return sum(map(sum, part)) - sum(map(_hour, part))


def _dense(rows, lo: int, hi: int, base: int, n: int) -> list[int]:
    """The bytes of the `n` hours from `base`, from rows[lo:hi] (all in them), missing hours 0."""
    if lo >= hi:
        return [0] * n
    width = len(rows[lo])
    if hi - lo == n:  # every hour has its bucket
        part = rows[lo:hi]
        return list(map(itemgetter(1), part)) if width == 2 else [u + d for _, u, d in part]
    y = [0] * n
    at = _index(base, n)
    try:  # each row read once, where it lies (no copy of the rows first)
        if width == 2:
            for h, b in islice(rows, lo, hi):
                y[at[h]] = b
        else:
            for h, u, d in islice(rows, lo, hi):
                y[at[h]] = u + d
    except KeyError:  # an hour off the hour: placed by arithmetic
        for r in islice(rows, lo, hi):
            y[(r[0] - base) // HOUR] = r[1] if width == 2 else r[1] + r[2]
    return y


@lru_cache(maxsize=8)
def _slices(n: int) -> tuple[list[slice], list[slice]]:
    """For `n` hours ending now: each whole day's, the most recent first (day k: phases -24(k+1) ..
    -24k-1 mod 168), and each hour of day's (phase j) over the last whole days, two weeks at most."""
    days = n // DAY_H
    first = n - min(days, 14) * DAY_H
    return ([slice(i - DAY_H, i) for i in range(n, n - days * DAY_H, -DAY_H)],
            [slice(first + j, None, DAY_H) for j in range(DAY_H)])


_indices: dict = {}


def _index(base: int, n: int) -> dict[int, int]:
    """{hour: its place in the dense list}, kept for the current hour (shared by every device)."""
    at = _indices.get((base, n))
    if at is None:
        if len(_indices) > 4:
            _indices.clear()
        at = _indices[(base, n)] = {base + k * HOUR: k for k in range(n)}
    return at


class Learnt:
    """The profile (168 phases, mean 1, phase 0 = the current hour's), the level (bytes per hour
    at profile 1, as of the learnt days' weighted age), the growth per day and the log-spread, from
    the sums() of the `n` complete hours before the current hour `cur`."""

    __slots__ = ("cur", "basis", "history_days", "level", "average", "age", "growth", "sigma", "flat", "days",
                 "hod", "hod_cum", "day_cum")  # kept for the hour (from_history), small

    def __init__(self, n: int, actual: list[int], hod: list[int], total: int | None, cur: int) -> None:
        self.cur = cur
        self.basis = "week" if n >= 2 * WEEK_H else "day" if n >= DAY_H else "flat" if n else "none"
        self.history_days = round(n / DAY_H, 1)
        days = n // DAY_H  # actual: the day sums (day k: phases -24(k+1) .. -24k-1 mod 168)
        if days == 0:
            self._shape([0] * DAY_H, None)  # flat
            self.level = self.average = total / max(1, n)
            self.sigma = 1.0 if n else 1.5
            self.growth = self.age = 0.0
            return
        keep = _without_trips(actual)
        weeks = list(map(sum, map(actual.__getitem__, _WEEKS[:days // 7])))  # the most recent first
        dow = _weekdays(actual, weeks, keep) if self.basis == "week" else None
        expected = self._shape(hod, dow)
        expected = (expected * 5)[:days]
        # a day far above the usual (a binge, a backup) counts as BURST times the median day
        ratios = list(map(truediv, actual, expected))
        top = BURST * sorted(ratios)[days // 2]
        clipped = list(map(min, actual, map(mul, expected, repeat(top)))) if max(ratios) > top else actual
        # the level from day `origin` back, each day weighted by recency (a geometric decay, so the
        # sums from each origin on, taken once, give every origin's level)
        w = _DECAY[:days] if keep is None else list(map(mul, _DECAY, keep))
        we = list(map(mul, w, expected))
        from_c = list(accumulate(map(mul, reversed(w), reversed(clipped))))[::-1]
        from_e = list(accumulate(reversed(we)))[::-1]
        levels = [c / e if e > 0 else 0.0 for c, e in zip(from_c[::7], from_e[::7])]  # origins 0, 7, ..
        self.level = levels[0]
        self.average = sum(actual) / max(1e-9, sum(expected))
        self.age = sum(map(mul, we, _AGES)) / from_e[0] if from_e[0] > 0 else 0.0  # the level's, in days
        self.growth = _growth(actual, clipped, expected, keep, self.level,
                              weeks if clipped is actual else None) if days >= 21 and self.level else 0.0
        self.sigma = self._sigma(days, weeks, levels)

    def _shape(self, hod: list[int], dow: list[float] | None) -> list[float]:
        """Sets the profile: the value of phase j = 24d + h is days[d] * hod[h] + flat (weekday x
        hour of day, mixed with a flat share: no hour is ever sure to be empty), kept as its
        factors and their running sums rather than 168 values; returns the masses of the seven
        days before now."""
        total_h = sum(hod)
        if dow is None or not any(dow):
            dow = [1.0] * 7
        share = 0.95 if self.basis == "week" else 0.85
        if total_h <= 0:
            dow, hod, total_h, share = [1.0] * 7, [1] * DAY_H, DAY_H, 0.0
        scale = share * WEEK_H / (total_h * sum(dow))
        self.flat = flat = 1.0 - share
        self.days = days = [scale * d for d in dow]
        self.hod = hod
        self.hod_cum = list(accumulate(hod, initial=0))
        masses = [d * total_h + DAY_H * flat for d in days]
        self.day_cum = list(accumulate(masses, initial=0.0))  # day_cum[d]: mass of phases [0, 24d)
        return masses[::-1]  # day k back is phase day 6 - k

    def _sigma(self, days: int, weeks: list[int], levels: list[float]) -> float:
        """The log-spread of a week's bytes around the level known a week before (grown as now): the
        device's own errors at 7, 14 and 21 days back, pooled with the prior (wider for a short
        history). weeks: the whole weeks' sums, the most recent first."""
        errors = 0.0
        count = 0
        grown = WEEK_H * math.exp(self.growth * (self.age + 3.5))  # a week's mass, grown
        for origin, level, want in zip((7, 14, 21), levels[1:], weeks):
            if days - origin < 5:
                break
            got = level * grown
            floor = 0.02 * (want + got) + 1e6
            errors += math.log((want + floor) / (got + floor)) ** 2
            count += 1
        prior = PRIOR_SIGMA * (1 + 3 / days)
        return math.sqrt((PRIOR_WEIGHT * prior ** 2 + errors) / (PRIOR_WEIGHT + count))

    def project(self, now: float, start: float, end: float, cap: int | None, used: int) -> dict:
        """The forecast for [start, end) at `now` (within the hour learnt), `used` bytes so far."""
        cur = self.cur
        left = max(0.0, end - max(now, start))
        mass = self.mass(now - cur, now - cur + left) if left else 0.0
        g, days_left = self.growth, left / 86400
        ahead = (math.expm1(g * days_left) / (g * days_left)) if g and days_left else 1.0
        level = self.level * math.exp(g * self.age)  # grown from the learnt days' age to now
        rest = level * mass * ahead
        sigma = self.sigma * max(0.6, min(2.0, (max(left, 3600) / (7 * 86400)) ** -0.25))
        spread = math.exp(Z * sigma)
        # the range: the recent level's spread, and the four-week average's (grown alike) if elsewhere
        base = self.average * mass * ahead * math.exp(g * self.history_days / 2)
        lo_rest = min(rest, base) / spread
        hi_rest = max(rest, base) * spread
        hit = earliest = latest = None
        if cap is not None:
            need = cap - used
            # from inside the period, at a pace that brings `extra` by its end: reached before the
            # end only if need < extra
            hit, earliest, latest = (
                now if need <= 0 else None if mass <= 0 or (now >= start and extra <= need) else
                self.reach(need, extra / mass, now, end) for extra in (rest, hi_rest, lo_rest))
        return {"period_end_bytes": int(used + rest), "low": int(used + lo_rest), "high": int(used + hi_rest),
                "cap_hit_at": hit, "cap_hit_earliest": earliest, "cap_hit_latest": latest,
                "rate": level * self._at(0) / HOUR, "basis": self.basis,
                "history_days": self.history_days}

    def mass(self, a: float, b: float) -> float:
        """Profile mass from `a` to `b` seconds after the current hour's start."""
        return self._upto(b) - self._upto(a)

    def _at(self, j: int) -> float:
        """The profile at phase j (0 <= j < 168)."""
        d, h = divmod(j, DAY_H)
        return self.days[d] * self.hod[h] + self.flat

    def _cum(self, j: int) -> float:
        """The profile's mass over phases [0, j), 0 <= j < 168."""
        d, h = divmod(j, DAY_H)
        return self.day_cum[d] + self.days[d] * self.hod_cum[h] + self.flat * h

    def _upto(self, t: float) -> float:
        h = t / HOUR
        whole = int(h)
        weeks, j = divmod(whole, WEEK_H)
        return weeks * self.day_cum[7] + self._cum(j) + (h - whole) * self._at(j)

    def reach(self, need: float, level: float, now: float, end: float) -> float | None:
        """When `need` more bytes are used from `now` at `level`; None if not before `end`."""
        if need <= 0:
            return now
        if level <= 0:
            return None
        cur = now // HOUR * HOUR
        target = self._upto(now - cur) + need / level  # in profile mass from the current hour's start
        per_week = self.day_cum[7]
        weeks = int(target // per_week)
        left = target - weeks * per_week
        d = min(6, bisect_right(self.day_cum, left) - 1)
        k, f = self.days[d], self.flat
        hours = [k * c + f * i for i, c in enumerate(self.hod_cum)]  # the mass before each hour of day d
        h = min(DAY_H - 1, bisect_right(hours, left - self.day_cum[d]) - 1)
        j = DAY_H * d + h
        p = self._at(j)
        frac = (left - self._cum(j)) / p if p > 0 else 0.0
        t = cur + (weeks * WEEK_H + j + min(1.0, frac)) * HOUR
        return t if t < end else None


def _weekdays(actual: list[int], weeks: list[int], keep: list[float] | None) -> list[float]:
    """Phase day d's share of a week (hours 24d .. 24d+23 after now: day 7 - d, 14 - d, ... back),
    each week's days as shares of its total (`weeks`), recent weeks weighing more; a week away, or
    with days of a trip, says nothing."""
    dow = [0] * 7
    for w, total, k in zip(range(4), weeks, WEEK_WEIGHTS):
        if total > 0 and (keep is None or all(keep[7 * w:7 * w + 7])):
            week = actual[7 * w + 6:7 * w - 1 if w else None:-1]  # day 7w + 6 first: phase day 0
            dow = list(map(add, dow, map(mul, repeat(k / total), week)))
    return dow


def _without_trips(actual: list[int]) -> list[float] | None:
    """Which days the level learns from (1.0 or 0.0), None for all: a trip (AWAY_DAYS or more days
    in a row, each under AWAY of the median day) is left out once the device is back, as its pace
    is the one before and after; while it is still away, every day counts."""
    if len(actual) < AWAY_DAYS + 1:
        return None
    usual = sorted(actual)[len(actual) // 2]
    if actual[0] < AWAY * usual or min(actual) >= AWAY * usual:
        return None
    low = [a < AWAY * usual for a in actual]
    if ("1" * AWAY_DAYS) not in "".join("1" if x else "0" for x in low):
        return None
    keep = [1.0] * len(low)
    run = 0
    for k, x in enumerate([*low, False]):
        if x:
            run += 1
            continue
        if run >= AWAY_DAYS:
            keep[k - run:k] = [0.0] * run
        run = 0
    return keep


def _growth(actual: list[int], clipped: list[float], expected: list[float], keep: list[float] | None,
            level: float, weeks: list[int] | None) -> float:
    """Growth per day when the days grew (or shrank) steadily: the recency-weighted trend of the
    days' log usage, far beyond noise (T_MIN standard errors), and each complete week above the one
    before (or each below), binges clipped; else 0 (a week away, a binge, noise, a pace that
    stopped growing are not trends). A day above GROWTH_BURST times the level says nothing here.
    weeks: the whole weeks' sums of `clipped` if it is `actual` (None: summed here)."""
    n = len(actual)
    weeks = weeks or list(map(sum, map(clipped.__getitem__, _WEEKS[:n // 7])))
    w0, w1, w2, w3 = [*weeks, None][:4]  # the most recent first
    if not (w0 > w1 > w2 and (w3 is None or w2 > w3) or w0 < w1 < w2 and (w3 is None or w2 < w3)):
        return 0.0
    top = GROWTH_BURST * level
    clipped = list(map(min, actual, map(mul, expected, repeat(top))))
    floor = 0.05 * sum(clipped) / n + 1.0
    ys = [math.log((a + floor) / (e * level + floor)) for a, e in zip(clipped, expected)]
    w = _DECAY[:n] if keep is None else list(map(mul, _DECAY, keep))
    w = [0.0 if c < a else x for x, a, c in zip(w, actual, clipped)]  # a binge day says nothing here
    sw = sum(w)
    if sw <= 0:
        return 0.0
    xm = sum(map(mul, w, _AGES)) / sw
    ym = sum(map(mul, w, ys)) / sw
    dx = [xm - x for x in _AGES[:n]]  # time runs towards now: day k is k + 0.5 days back
    wdx = list(map(mul, w, dx))
    sxx = sum(map(mul, wdx, dx))
    if sxx <= 0:
        return 0.0
    slope = sum(map(mul, wdx, ys)) / sxx
    res = [y - ym - slope * d for y, d in zip(ys, dx)]
    var = sum(map(mul, w, map(mul, res, res))) / sw * n / max(1, n - 2)
    se = math.sqrt(var * sum(map(mul, wdx, wdx))) / sxx
    if abs(slope) < T_MIN * se or abs(slope) * 7 < STEP_MIN:
        return 0.0
    return TREND * slope


_DECAY = [0.5 ** (k / HALF_LIFE) for k in range(LOOKBACK_H // DAY_H)]
_AGES = [k + 0.5 for k in range(LOOKBACK_H // DAY_H)]
_WEEKS = [slice(7 * w, 7 * w + 7) for w in range(LOOKBACK_H // WEEK_H)]
