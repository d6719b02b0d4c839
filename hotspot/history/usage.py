"""Usage history over the hourly, daily and monthly tables: queries by hour, day or month over any
range, and hotspotd's compaction of expired rows (the rules are in hotspot/history/buckets.py).

Compaction runs as a step of hotspotd's poll, on the working copy in RAM: each transaction moves at
most a couple of thousand rows through the tables' primary keys, a step stops after a few
milliseconds' worth of them and the next poll goes on where it stopped, so the poll and the portal
never wait long for the database, and flash sees only the regular commits. Once a pass found
nothing left older than the cutoffs, nothing runs until the cutoffs move (at local midnight).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hotspot.apps import usage as apps
from hotspot.core.clock import trusted_now
from hotspot.core.store import Store
from hotspot.core.units import InvalidValue, check_timestamp, iso
from hotspot.history import buckets as hist
from hotspot.plan import roaming


@dataclass
class Compaction:
    """Where a compaction pass is: the cutoffs it works to, the table and client id it is at."""

    cutoffs: tuple[int, int]
    source: str = "usage"  # then "usage_days", then "app_usage" (days past retention are dropped)
    cursor: int = hist.PLAN
    done: bool = False


@dataclass
class Stats:
    transactions: int = 0
    longest_ms: float = 0.0
    total_ms: float = 0.0


class UsageHistory:
    def __init__(self, store: Store, cfg, now: float, keep_from: float | None = None) -> None:
        self.store = store
        self.cutoffs = hist.cutoffs(now, cfg.history_hourly_days, cfg.history_daily_months, keep_from)
        self.now = now

    def query(self, cid: int | None, by: str, since: str | float | None = None,
              until: str | float | None = None) -> dict:
        """Buckets of client `cid` (None: the plan) over [since, until) (texts as the CLI takes them,
        unix times, or None for the default range); only buckets with usage are listed.
        InvalidValue for a bad range or one finer than retention kept."""
        texts = [v if isinstance(v, str) or v is None else None for v in (since, until)]
        s, u = hist.resolve(by, *texts, self.now)
        s = check_timestamp(since, "--from") if isinstance(since, (int, float)) else s
        u = check_timestamp(until, "--to") if isinstance(until, (int, float)) else u
        if u <= s:
            raise InvalidValue("--to must be after --from")
        first, end = hist.bucket_range(by, s, u)
        hour_cut, day_cut = self.cutoffs
        if since is None:  # a default range starts no earlier than what is kept
            first = max(first, {"hour": hour_cut, "day": day_cut}.get(by, first))
            end = max(end, first)
        why = hist.too_old(by, first, hour_cut, day_cut)
        if why:
            raise InvalidValue(why)
        found = self.store.usage_buckets(by, cid, first, end)
        rows = [{"start": iso(hist.start_of(by, k)), "end": iso(hist.start_of(by, hist.next_key(by, k))),
                 "bytes_up": up, "bytes_down": down, "bytes_total": up + down}
                for k, (up, down) in sorted(found.items()) if up or down]
        found = {"by": by, "now": iso(self.now), "from": iso(hist.start_of(by, first)),
                 "to": iso(hist.start_of(by, end)),
                 "hourly_from": iso(hour_cut), "daily_from": iso(hist.start_of("day", day_cut)),
                 "rows": rows}
        if cid is None:  # the plan's: when the modem roamed, for the calendar to mark
            found["roaming"] = roaming.spans(self.store.db, hist.start_of(by, first), hist.start_of(by, end))
        return found

    def compact(self, state: Compaction | None, budget: float = 0.05, limit: int = 2000,
                stats: Stats | None = None) -> Compaction:
        """Go on with the pass in `state` (a new one when the cutoffs moved) for up to `budget`
        seconds, one bounded transaction after another; returns where it stopped."""
        if state is None or state.cutoffs != self.cutoffs:
            state = Compaction(self.cutoffs)
        started = time.monotonic()
        while not state.done and time.monotonic() - started < budget:
            t0 = time.monotonic()
            cutoff = self.cutoffs[0] if state.source == "usage" else self.cutoffs[1]
            if state.source == "app_usage":  # the apps' days have no coarser table: they go
                with self.store.transaction() as db:
                    cursor = 0 if apps.prune(db, hist.midnight(hist.key_date(cutoff)), limit) else None
            else:
                cursor = self.store.compact(state.source, cutoff, state.cursor, limit)
            if stats is not None:
                took = (time.monotonic() - t0) * 1000
                stats.transactions += 1
                stats.total_ms += took
                stats.longest_ms = max(stats.longest_ms, took)
            if cursor is not None:
                state.cursor = cursor
            elif state.source == "usage":
                state.source, state.cursor = "usage_days", hist.PLAN
            elif state.source == "usage_days":
                state.source = "app_usage"
            else:
                state.done = True
        return state


def history_over(store: Store, cfg, now: float, period_start: float, cycle: tuple | None) -> UsageHistory:
    """The history as of `now` (not before the last trusted time: a clock that jumped back neither
    hides nor compacts anything), keeping the hours of the current period and plan cycle."""
    now, _ok = trusted_now(now, float(store.get("last_good", "0")))
    keep = min(period_start, cycle[0] if cycle else float("inf"))
    return UsageHistory(store, cfg, now, keep)
