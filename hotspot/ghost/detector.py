"""Ghost traffic (流量偷跑): a device using data when, or the way, it usually does not.

Pure: no kernel, no database. A device's baseline comes from its own hourly history (weeks of
hours, Store.history): for each hour of the week, the level it usually stays under, pooled from the
same kind of day (weekday or weekend) and the neighbouring hours so that a few weeks are enough,
and blended with a generic prior while the device is new. Detection runs on short bins (5 minutes
by default) that hotspotd keeps in memory from its polls: a run of bins well above the baseline,
lasting at least `min_seconds` and carrying at least `min_bytes`, is an event of one of three kinds:

- ``upload``: sustained upload far above what the device uploads at that hour (a photo library or
  a camera roll syncing in the background, malware exfiltrating);
- ``unusual_hour``: far more traffic than the device ever has at that hour (an OS update at 4 a.m.);
- ``idle``: a steady, low-variance flow at an hour the device is normally quiet: people are bursty,
  background jobs are not, so steadiness earns a lower threshold.

What a device always does is its normal: a camera uploading all day or a backup every night at 2
raises nothing, since its own hours hold the same traffic.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

HOUR = 3600
DAY = 86400
WEEK = 7 * DAY
SLOTS = 168
KINDS = ("upload", "unusual_hour", "idle")
SENSITIVITY = {"low": 6.0, "medium": 4.0, "high": 2.5}  # how far above its usual level a bin must be
BASELINE_DAYS = 28
MB = 1_000_000


@dataclass(frozen=True)
class Settings:
    bin_seconds: int = 300
    min_seconds: int = 1800  # a run shorter than this is not an event
    min_bytes: int = 20 * MB  # nor one that moved less
    sensitivity: str = "medium"

    @property
    def factor(self) -> float:
        return SENSITIVITY[self.sensitivity]

    @property
    def min_bins(self) -> int:
        return max(1, -(-self.min_seconds // self.bin_seconds))

    @property
    def floor(self) -> float:
        """Bytes a bin must carry to count at all: half its share of min_bytes."""
        return self.min_bytes / self.min_bins / 2


@dataclass(frozen=True)
class Baseline:
    """Per hour of the week (0 = Monday 00:00 local), the hourly bytes the device usually stays under."""

    total: tuple[float, ...]
    up: tuple[float, ...]
    down: tuple[float, ...]
    busy: float  # its busy hours' level (the 95th percentile of its hours)
    days: float  # the days of history it rests on


@dataclass
class Event:
    kind: str
    start: float
    end: float
    up: int = 0
    down: int = 0
    bins: list = field(default_factory=list, repr=False)

    @property
    def bytes(self) -> int:
        return self.up + self.down


def slot(t: float, offset: int = 0) -> int:
    """The hour of the week of unix time `t` at UTC offset `offset` (seconds); 0 = Monday 00:00."""
    local = int(t) + offset
    return ((local // DAY + 3) % 7) * 24 + (local % DAY) // HOUR  # 1970-01-01 was a Thursday


# A device seen for the first time: busy evenings, some use by day, a quiet night.
_PRIOR_DAY = [5, 3, 3, 3, 3, 5, 20, 60, 100, 100, 100, 100, 120, 100, 100, 100, 120, 150, 200, 250, 250,
              200, 120, 40]
PRIOR = Baseline(total=tuple(_PRIOR_DAY[s % 24] * MB for s in range(SLOTS)),
                 up=tuple(_PRIOR_DAY[s % 24] * MB / 8 for s in range(SLOTS)),
                 down=tuple(_PRIOR_DAY[s % 24] * MB for s in range(SLOTS)), busy=250 * MB, days=0)
ACTIVE = 0.2  # an hour busy on this share of its days is one the device is used at
PRIOR_DAYS = 7  # the prior weighs as much as this many days of the device's own history


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    i = q * (len(values) - 1)
    lo = int(i)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (i - lo)


def baseline(history: list[tuple[int, int, int]], since: float, until: float, offset: int = 0) -> Baseline:
    """A device's baseline from its hourly (hour, up, down) rows in [since, until): `since` is when
    its history starts (its first sighting, or the window's start), hours without a row had no
    bytes. Each hour of the week looks at the same kind of day's hours (weekday or weekend): its
    level is the 95th percentile of the same hour's, or the 75th of the same and the neighbouring
    hours' if higher (a job that drifts by an hour). The prior fills in while the device is new."""
    first = int(since // HOUR * HOUR)
    last = int(until // HOUR * HOUR)
    rows = {h: (u, d) for h, u, d in history if first <= h < last}
    # per (weekend, hour of day): the hours' (total, up, down)
    pools: list[list[tuple[int, int, int]]] = [[] for _ in range(48)]
    everything = []
    for h in range(first, last, HOUR):
        u, d = rows.get(h, (0, 0))
        s = slot(h, offset)
        pools[(s >= 120) * 24 + s % 24].append((u + d, u, d))
        everything.append(u + d)
    days = (last - first) / DAY
    w = days / (days + PRIOR_DAYS)
    busy = _quantile(everything, 0.95)
    # the device's peaks over all its hours (total, up, down): an hour at which it is often busy
    # may see any of them, so there its level is at least its peak
    active = [bool(pool) and sum(p[0] > busy / 50 for p in pool) >= ACTIVE * len(pool) for pool in pools]
    peaks = [_quantile([p[i] for k in range(48) for p in pools[k]], 0.99) for i in range(3)]
    # but uploads: a nightly backup must not make an upload by day look usual
    peaks[1] = _quantile([p[1] for k in range(48) if active[k] for p in pools[k]], 0.75)
    levels: list[list[float]] = [[], [], []]
    for s in range(SLOTS):
        k = (s >= 120) * 24 + s % 24
        near = pools[k] + pools[k - k % 24 + (k + 1) % 24] + pools[k - k % 24 + (k - 1) % 24]
        for i, prior in enumerate((PRIOR.total, PRIOR.up, PRIOR.down)):
            own = max(_quantile([p[i] for p in pools[k]], 0.95), _quantile([p[i] for p in near], 0.75))
            if active[k]:
                own = max(own, peaks[i])
            elif active[k - k % 24 + (k + 1) % 24] or active[k - k % 24 + (k - 1) % 24]:
                own = max(own, peaks[i] / 2)  # the edge of its busy hours: a session runs over
            levels[i].append(w * own + (1 - w) * prior[s])
    busy = w * busy + (1 - w) * PRIOR.busy
    return Baseline(total=tuple(levels[0]), up=tuple(levels[1]), down=tuple(levels[2]), busy=busy, days=days)


def flags(b: Baseline, t: float, up: int, down: int, st: Settings, offset: int) -> set[str]:
    """Which kinds one bin qualifies for."""
    if up + down < st.floor:
        return set()
    scale = HOUR / st.bin_seconds
    s = slot(t, offset)
    k = st.factor
    found = set()
    if up * scale > k * b.up[s] and up > down:
        found.add("upload")
    if (up + down) * scale > k * b.total[s] or down * scale > k * b.down[s] and down > up:
        found.add("unusual_hour")
    if b.total[s] < b.busy / 4 and (up + down) * scale > k / 2 * b.total[s]:
        found.add("idle")
    return found


def _steady(amounts: list[int]) -> bool:
    mean = statistics.fmean(amounts)
    return mean > 0 and statistics.pstdev(amounts) / mean <= 0.35


def detect(b: Baseline, bins: list[tuple[float, int, int]], st: Settings = Settings(),
           offset: int = 0) -> list[Event]:
    """The events in consecutive bins (start, up, down) of st.bin_seconds each: runs of flagged
    bins (one unflagged bin inside a run is forgiven) at least min_bins long with min_bytes. The
    kind is the strongest the run's bins mostly show; an "idle" run must also be steady."""
    events: list[Event] = []
    run: list[tuple[float, int, int, set[str]]] = []
    gap = 0

    def close() -> None:
        while run and not run[-1][3]:
            run.pop()
        if len(run) >= st.min_bins:
            e = _event(run, st)
            if e is not None:
                events.append(e)
        run.clear()

    for t, up, down in bins:
        f = flags(b, t, up, down, st, offset)
        if f:
            run.append((t, up, down, f))
            gap = 0
        elif run and gap == 0:
            run.append((t, up, down, f))
            gap = 1
        else:
            close()
            gap = 0
    close()
    return events


def _event(run: list, st: Settings) -> Event | None:
    up = sum(r[1] for r in run)
    down = sum(r[2] for r in run)
    if up + down < st.min_bytes:
        return None
    n = len(run)
    for kind in KINDS:
        if sum(kind in r[3] for r in run) * 2 > n:
            if kind == "idle" and not _steady([r[1] + r[2] for r in run]):
                continue
            return Event(kind, run[0][0], run[-1][0] + st.bin_seconds, up, down, [r[:3] for r in run])
    return None
