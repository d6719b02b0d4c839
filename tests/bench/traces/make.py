"""Write the synthetic hourly traces the forecaster is backtested on (deterministic: a fixed seed
per trace, so running it again rewrites the same files).

    python -m tests.bench.traces.make

Each trace is `hour,bytes` (the contract of `hotspotctl forecast --trace`), one line per hour from
2026-09-15 to 2026-12-01 (UTC unless the trace says otherwise), so the bench can forecast mid-October
and mid-November with two to eight weeks of history before. Every device draws its hours from a
daily shape, a weekday pattern, a level and noise of its own kind.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).parent
START = datetime(2026, 9, 15, tzinfo=timezone.utc)
END = datetime(2026, 12, 1, tzinfo=timezone.utc)
MB = 10**6


def _shape(peaks: list[tuple[float, float, float]]) -> list[float]:
    """An hour-of-day shape from (hour, width, weight) bumps over a small floor, mean 1."""
    raw = [0.05 + sum(w * math.exp(-0.5 * ((min(abs(h - c), 24 - abs(h - c))) / s) ** 2)
                      for c, s, w in peaks) for h in range(24)]
    mean = sum(raw) / 24
    return [v / mean for v in raw]


def _hours(t0: datetime = START):
    t = t0
    while t < END:
        yield t
        t += timedelta(hours=1)


def steady_phone(rng):
    shape = _shape([(8, 1.5, 0.6), (13, 2, 0.5), (21, 2.5, 1.0)])
    for t in _hours():
        yield t, 18 * MB * shape[t.hour] * rng.lognormvariate(0, 0.6)


def office_laptop(rng):
    shape = _shape([(10, 1.5, 1.0), (15, 2, 1.0)])
    for t in _hours():
        work = t.weekday() < 5 and 8 <= t.hour < 18
        yield t, (110 * MB * shape[t.hour] if work else 2 * MB) * rng.lognormvariate(0, 0.5)


def weekend_binge(rng):
    shape = _shape([(20, 2, 1.0)])
    for t in _hours():
        weekend = t.weekday() >= 5
        level = 160 * MB if weekend and t.hour >= 14 else 6 * MB
        yield t, level * shape[t.hour] * rng.lognormvariate(0, 0.4)


def growing(rng):
    shape = _shape([(12, 3, 0.6), (21, 2, 1.0)])
    for t in _hours():
        days = (t - START).total_seconds() / 86400
        yield t, 6 * MB * math.exp(days * 0.018) * shape[t.hour] * rng.lognormvariate(0, 0.5)


def growth_linear(rng):
    """Each week about 3.5 MB/h more than the last: +60 % a week at first, +10 % by November."""
    shape = _shape([(9, 2, 0.5), (20, 3, 1.0)])
    for t in _hours():
        days = (t - START).total_seconds() / 86400
        yield t, (5 + 0.5 * days) * MB * shape[t.hour] * rng.lognormvariate(0, 0.5)


def growth_compound(rng):
    """30 % more every week, with a weekend lift."""
    shape = _shape([(13, 3, 0.7), (21, 2, 1.0)])
    for t in _hours():
        days = (t - START).total_seconds() / 86400
        lift = 1.4 if t.weekday() >= 5 else 1.0
        yield t, 2 * MB * 1.3 ** (days / 7) * lift * shape[t.hour] * rng.lognormvariate(0, 0.5)


def growth_binge(rng):
    """15 % more every week, and a binge weekend of six times the usual in early October (in the
    history of the October forecasts: it must not become the new pace)."""
    shape = _shape([(19, 3, 1.0)])
    binge = (datetime(2026, 10, 3, tzinfo=timezone.utc), datetime(2026, 10, 5, tzinfo=timezone.utc))
    for t in _hours():
        days = (t - START).total_seconds() / 86400
        level = 8 * MB * 1.15 ** (days / 7) * (6 if binge[0] <= t < binge[1] else 1)
        yield t, level * shape[t.hour] * rng.lognormvariate(0, 0.5)


def growth_then_flat(rng):
    """25 % more every week until November, then the same every week."""
    shape = _shape([(8, 2, 0.6), (21, 2, 1.0)])
    stop = (datetime(2026, 11, 1, tzinfo=timezone.utc) - START).total_seconds() / 86400
    for t in _hours():
        days = min(stop, (t - START).total_seconds() / 86400)
        yield t, 5 * MB * 1.25 ** (days / 7) * shape[t.hour] * rng.lognormvariate(0, 0.5)


def holiday_gap(rng):
    shape = _shape([(9, 2, 0.7), (20, 2, 1.0)])
    away = (datetime(2026, 10, 20, tzinfo=timezone.utc), datetime(2026, 10, 30, tzinfo=timezone.utc))
    for t in _hours():
        if away[0] <= t < away[1]:
            yield t, rng.randrange(0, 300_000)  # the phone left at home: a few syncs
        else:
            yield t, 25 * MB * shape[t.hour] * rng.lognormvariate(0, 0.5)


def bursty_video(rng):
    session = 0
    for t in _hours():
        if session == 0 and 17 <= t.hour <= 23 and rng.random() < 0.12:
            session = rng.randint(1, 3)
        if session:
            session -= 1
            yield t, rng.uniform(0.8, 2.2) * 1000 * MB
        else:
            yield t, 3 * MB * rng.lognormvariate(0, 0.8)


def new_device(rng, first=datetime(2026, 10, 6, tzinfo=timezone.utc)):
    shape = _shape([(8, 1, 0.5), (19, 3, 1.0)])
    for t in _hours(first):
        yield t, 30 * MB * shape[t.hour] * (1.3 if t.weekday() >= 5 else 1.0) * rng.lognormvariate(0, 0.6)


def new_tablet(rng):
    shape = _shape([(16, 2, 1.0), (10, 2, 0.5)])
    for t in _hours(datetime(2026, 11, 6, tzinfo=timezone.utc)):
        level = 60 * MB if t.weekday() >= 5 else 25 * MB
        yield t, level * shape[t.hour] * rng.lognormvariate(0, 0.7)


def night_backup(rng):
    shape = _shape([(19, 3, 1.0)])
    for t in _hours():
        extra = rng.uniform(1500, 3000) * MB if t.hour == 2 and rng.random() < 0.8 else 0
        yield t, 8 * MB * shape[t.hour] * rng.lognormvariate(0, 0.5) + extra


def camera(rng):
    for t in _hours():
        yield t, 45 * MB * (1.6 if 7 <= t.hour < 19 else 1.0) * rng.lognormvariate(0, 0.15)


def shop_plan(rng):
    """A small shop's plan (every guest's bytes together), hours written in its own zone (+08:00):
    busy by day, more at weekends, quiet at night."""
    tz = timezone(timedelta(hours=8))
    shape = _shape([(12, 2, 0.8), (18, 3, 1.0)])
    for t in _hours():
        local = t.astimezone(tz)
        level = 900 * MB * (1.5 if local.weekday() >= 5 else 1.0) if 9 <= local.hour < 22 else 20 * MB
        yield local, level * shape[local.hour] * rng.lognormvariate(0, 0.35)


TRACES = {f.__name__: f for f in (steady_phone, office_laptop, weekend_binge, growing, holiday_gap,
                                   bursty_video, new_device, new_tablet, night_backup, camera, shop_plan,
                                   growth_linear, growth_compound, growth_binge, growth_then_flat)}


def _stamp(t: datetime) -> str:
    if t.utcoffset():
        return t.isoformat(timespec="minutes")
    return t.strftime("%Y-%m-%dT%H")  # ISO 8601 to the hour, UTC


def main() -> None:
    for i, (name, fn) in enumerate(TRACES.items()):
        rows = [f"{_stamp(t)},{int(b)}" for t, b in fn(random.Random(1000 + i))]
        (HERE / f"{name}.csv").write_text("hour,bytes\n" + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
