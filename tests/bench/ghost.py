"""Ghost traffic: false alarms on normal synthetic days, detections of injected leaks.

    ghost_false_alarms_per_client_month   events on months of normal days, per device and month (goal <= 1)
    ghost_detection_rate                  share of injected leaks an event overlaps (goal >= 0.9)

Each device follows a pattern of its own kind (a phone, a laptop, a TV, an IoT camera uploading all
day, a PC backing up every night, a smart plug), with weekend spikes and day-to-day randomness, in
5-minute bins; four weeks of its hours make the baseline, as hotspotd's history would. The leaks are
background uploads and downloads at hours unusual for the device, sudden sustained uploads in its busy
hours, and steady flows while its user is idle. Pure Python, no root; seeded, so a run repeats.
"""

from __future__ import annotations

import random

from hotspot.ghost import detector as ghost
from tests.bench.common import emit, log

BIN = 300
PER_DAY = ghost.DAY // BIN
T0 = 1_700_438_400  # Monday 2023-11-20 00:00 UTC: the synthetic months use UTC (offset 0)
KB = 1000


def _add(day: list[list[int]], start_h: float, minutes: float, up_rate: float, down_rate: float,
         rng: random.Random, jitter: float = 0.5) -> None:
    """Traffic from hour `start_h` for `minutes` at about (up, down) bytes/s, bursty by `jitter`."""
    first = int(start_h * 12)
    for i in range(first, min(PER_DAY, first + max(1, int(minutes / 5)))):
        f = rng.lognormvariate(0, jitter) if jitter else 1.0
        day[i][0] += int(up_rate * BIN * f)
        day[i][1] += int(down_rate * BIN * f)


def _sessions(day, rng, hours: tuple[int, int], count: float, down: tuple[float, float],
              up_share: float = 0.08, length: tuple[float, float] = (5, 40)) -> None:
    for _ in range(_poisson(rng, count)):
        rate = rng.uniform(*down)
        _add(day, rng.uniform(*hours), rng.uniform(*length), rate * up_share, rate, rng, 0.9)


def _poisson(rng: random.Random, mean: float) -> int:
    n, t = 0, rng.expovariate(1)
    while t < mean:
        n += 1
        t += rng.expovariate(1)
    return n


def _background(day, rng, per_hour: float, up_share: float = 0.3) -> None:
    """Chatter all day long: a few kB to a couple of MB an hour, in a few bins."""
    for h in range(24):
        for _ in range(_poisson(rng, 1.5)):
            i = h * 12 + rng.randrange(12)
            n = rng.uniform(0.2, 1.0) * per_hour
            day[i][0] += int(n * up_share)
            day[i][1] += int(n * (1 - up_share))


def normal_day(kind: str, weekday: int, rng: random.Random) -> list[list[int]]:
    """One day's 288 bins of [up, down] for a device of `kind`; weekday 0 = Monday."""
    day = [[0, 0] for _ in range(PER_DAY)]
    weekend = weekday >= 5
    if kind == "phone":
        _background(day, rng, 2_000_000)
        _sessions(day, rng, (7, 23), 12 if weekend else 8, (30 * KB, 400 * KB))
        if weekend and rng.random() < 0.5:  # a weekend afternoon of video
            _add(day, rng.uniform(12, 18), rng.uniform(60, 150), 20 * KB, rng.uniform(400, 900) * KB, rng,
                 0.3)
        if rng.random() < 0.15:  # a late night in bed
            _sessions(day, rng, (23, 23.8), 2, (50 * KB, 300 * KB))
    elif kind == "laptop":
        _background(day, rng, 5_000_000)
        if not weekend:
            _sessions(day, rng, (9, 18), 10, (50 * KB, 800 * KB), up_share=0.15)
            for _ in range(_poisson(rng, 2)):  # video calls: as much up as down
                _add(day, rng.uniform(9, 17), rng.uniform(20, 60), 250 * KB, 300 * KB, rng, 0.2)
            _sessions(day, rng, (19, 23), 2, (50 * KB, 500 * KB))
        else:
            _sessions(day, rng, (10, 23), 4, (50 * KB, 800 * KB))
    elif kind == "tv":
        _background(day, rng, 1_000_000)
        start = rng.uniform(18.5, 20.5)
        _add(day, start, rng.uniform(90, 240), 10 * KB, rng.uniform(500, 900) * KB, rng, 0.15)
        if weekend and rng.random() < 0.6:  # a weekend matinée
            _add(day, rng.uniform(13, 16), rng.uniform(90, 180), 10 * KB, rng.uniform(500, 900) * KB, rng,
                 0.15)
    elif kind == "camera":
        _add(day, 0, 24 * 60, 100 * KB, 5 * KB, rng, 0.1)
        if rng.random() < 0.3:  # motion: a few busier clips
            _sessions(day, rng, (0, 24), 3, (100 * KB, 200 * KB), up_share=10, length=(5, 15))
    elif kind == "backup":
        _background(day, rng, 3_000_000)
        _add(day, rng.uniform(2, 2.4), rng.uniform(20, 60), rng.uniform(1500, 2500) * KB, 20 * KB, rng, 0.2)
        if not weekend:
            _sessions(day, rng, (9, 18), 6, (50 * KB, 500 * KB))
    elif kind == "plug":
        _background(day, rng, 50_000)
    else:
        raise ValueError(kind)
    return day


KINDS = ("phone", "laptop", "tv", "camera", "backup", "plug")


def leak(kind: str, rng: random.Random) -> tuple[str, float, float, float, float]:
    """A leak for a device of `kind`: (name, start hour, minutes, up bytes/s, down bytes/s)."""
    quiet = {"phone": (1, 5.5), "laptop": (1, 6), "tv": (1, 12), "camera": (0, 22), "backup": (4, 8),
             "plug": (0, 22)}[kind]
    busy = {"phone": (9, 20), "laptop": (9, 17), "tv": (19, 21), "camera": (0, 22), "backup": (10, 17),
            "plug": (0, 22)}[kind]
    if kind == "camera":  # never idle nor quiet: what it can leak is more upload, or any download
        choice = rng.choice(("night_download", "sudden_upload"))
    else:
        choice = rng.choice(("night_upload", "night_download", "sudden_upload", "idle_flow"))
    if choice == "night_upload":
        return choice, rng.uniform(*quiet), rng.uniform(30, 90), rng.uniform(150, 600) * KB, 10 * KB
    if choice == "night_download":
        return choice, rng.uniform(*quiet), rng.uniform(30, 60), 10 * KB, rng.uniform(200, 800) * KB
    if choice == "sudden_upload":
        return choice, rng.uniform(*busy), rng.uniform(30, 90), rng.uniform(1500, 4000) * KB, 30 * KB
    return (choice, rng.uniform(*quiet), rng.uniform(40, 90), rng.uniform(40, 120) * KB,
            rng.uniform(5, 20) * KB)


def _hourly(bins_by_day: list[list[list[int]]], first_day: int) -> list[tuple[int, int, int]]:
    rows = []
    for d, day in enumerate(bins_by_day):
        for h in range(24):
            up = sum(b[0] for b in day[h * 12:(h + 1) * 12])
            down = sum(b[1] for b in day[h * 12:(h + 1) * 12])
            if up or down:
                rows.append((T0 + (first_day + d) * ghost.DAY + h * ghost.HOUR, up, down))
    return rows


def evaluate(devices: int = 4, months: int = 1, leaks: int = 4, st: ghost.Settings | None = None,
             seed: int = 1, verbose: bool = True) -> dict:
    """False alarms over `months` of normal days for `devices` of each kind, and how many of `leaks`
    injected leaks per device an event overlaps. Baselines are taken at each day's start from the
    28 days before it."""
    st = st or ghost.Settings()
    history_days = ghost.BASELINE_DAYS
    eval_days = 30 * months
    alarms, injected, caught = 0, 0, 0
    by_kind: dict[str, list[int]] = {}
    for kind in KINDS:
        for n in range(devices):
            rng = random.Random(f"{seed}/{kind}/{n}")
            days = [normal_day(kind, d % 7, rng) for d in range(history_days + eval_days)]
            hourly = _hourly(days, 0)
            for d in range(history_days, history_days + eval_days, 7):  # a baseline each week
                b = _base(hourly, d)
                for dd in range(d, min(d + 7, history_days + eval_days)):
                    events = ghost.detect(b, _bins(days[dd], dd), st)
                    for e in events if verbose else ():
                        log(f"false alarm: {kind} #{n} day {dd % 7} {e.kind} "
                            f"{(e.start - T0) % 86400 / 3600:.1f} h {(e.end - e.start) / 60:.0f} min "
                            f"{e.up / 1e6:.0f} MB up {e.down / 1e6:.0f} MB down")
                    alarms += len(events)
                    by_kind.setdefault(kind, [0, 0, 0])[0] += len(events)
            for _ in range(leaks):
                dd = rng.randrange(history_days, history_days + eval_days)
                name, start_h, minutes, up, down = leak(kind, rng)
                day = [b[:] for b in days[dd]]
                _add(day, start_h, minutes, up, down, rng, 0.15)
                b = _base(hourly, dd)
                t0 = T0 + dd * ghost.DAY + start_h * 3600
                t1 = t0 + minutes * 60
                hit = any(e.start < t1 and e.end > t0 for e in ghost.detect(b, _bins(day, dd), st))
                injected += 1
                caught += hit
                by_kind[kind][1] += 1
                by_kind[kind][2] += hit
                if not hit and verbose:
                    log(f"missed: {kind} #{n} {name} at {start_h:.1f} h for {minutes:.0f} min, "
                        f"{up / KB:.0f} kB/s up, {down / KB:.0f} kB/s down")
    count = len(KINDS) * devices
    return {"false_alarms_per_client_month": alarms / count / months, "detection_rate": caught / injected,
            "devices": count, "months": months, "leaks": injected, "by_kind": by_kind}


def _base(hourly, day: int) -> ghost.Baseline:
    since = T0 + (day - ghost.BASELINE_DAYS) * ghost.DAY
    until = T0 + day * ghost.DAY
    return ghost.baseline([r for r in hourly if since <= r[0] < until], since, until)


def _bins(day: list[list[int]], d: int) -> list[tuple[float, int, int]]:
    start = T0 + d * ghost.DAY
    return [(start + i * BIN, up, down) for i, (up, down) in enumerate(day)]


def run_ghost() -> None:
    r = evaluate(devices=8, months=3, leaks=10)
    log(f"ghost: {r['devices']} devices x {r['months']} months, {r['leaks']} leaks; by kind "
        f"(alarms, leaks, caught): {r['by_kind']}")
    emit("ghost_false_alarms_per_client_month", round(r["false_alarms_per_client_month"], 3), "alarms",
         goal=1, devices=r["devices"], months=r["months"])
    emit("ghost_detection_rate", round(r["detection_rate"], 3), "ratio", goal=0.9, leaks=r["leaks"])


if __name__ == "__main__":
    run_ghost()
