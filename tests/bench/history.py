"""Usage history at scale: the database after 13 months of 5,000 clients, and what compaction costs.

Activity model (reported with the figures): every one of CLIENTS clients is active ACTIVE_HOURS hours
of every day (which hours varies by client and day), plus the router; so each day adds
CLIENTS x ACTIVE_HOURS hourly rows. A busy shop's guests come and go and use far fewer; a family's
five devices are the other end. After 13 months with the default retention (hours 30 days, days 13
months) the database holds 30 days of hours and the rest by day, which is what compaction leaves, so
the tables are written in that state directly (as fast as SQLite inserts), then one more day's and
one more month's rows expire and hotspotd's compaction (hotspot/history/usage.py, 2,000 rows a transaction)
moves them, timed per transaction and per poll step (its 50 ms budget).
"""

from __future__ import annotations

import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from hotspot.config import Config
from hotspot.core.store import Store
from hotspot.history import buckets as hist
from hotspot.history.usage import Stats, UsageHistory
from tests.bench.common import emit, log

CLIENTS = 5000
ACTIVE_HOURS = 8
MONTHS = 13


def _hours(cid: int, day: int) -> list[int]:
    """The ACTIVE_HOURS hours a client uses on a day (deterministic, spread over the day)."""
    start = (cid * 7 + day * 3) % 24
    return sorted({(start + i * 3) % 24 for i in range(ACTIVE_HOURS)})


def _bytes(cid: int, day: int, hour: int) -> tuple[int, int]:
    n = 1_000_000 + (cid * 7919 + day * 104_729 + hour * 1_299_709) % 90_000_000
    return n // 9, n - n // 9


def build(store: Store, today: date) -> tuple[int, int]:
    """13 months ending `today`, as compaction leaves them, plus the day and the month that expire next."""
    cfg = Config()
    now = datetime(today.year, today.month, today.day, 12).timestamp()
    hour_cut, day_cut = hist.cutoffs(now, cfg.history_hourly_days, cfg.history_daily_months)
    first_hour_day = hist.local_date(hour_cut) - timedelta(days=1)  # one extra day to move into days
    first_day = hist.add_months(hist.key_date(day_cut), -1)  # one extra month to move into months
    db = store.db
    db.execute("BEGIN")
    db.executemany("INSERT INTO clients (id, mac, first_seen, last_seen) VALUES (?, ?, 0, 0)",
                   [(cid, f"02:00:{cid >> 24 & 255:02x}:{cid >> 16 & 255:02x}:{cid >> 8 & 255:02x}:"
                     f"{cid & 255:02x}") for cid in range(2, CLIENTS + 2)])
    ids = [0] + list(range(2, CLIENTS + 2))
    d, hourly, daily = first_day, 0, 0
    while d <= today:
        n = d.toordinal()
        if d >= first_hour_day:
            rows = [(cid, int(datetime(d.year, d.month, d.day, h).timestamp()), *_bytes(cid, n, h))
                    for cid in ids for h in _hours(cid, n)]
            db.executemany("INSERT OR IGNORE INTO usage VALUES (?, ?, ?, ?)", rows)
            hourly += len(rows)
        else:
            rows = []
            for cid in ids:
                up = down = 0
                for h in _hours(cid, n):
                    u, dn = _bytes(cid, n, h)
                    up, down = up + u, down + dn
                rows.append((cid, hist.day_key(d), up, down))
            rows.append((hist.PLAN, hist.day_key(d), sum(r[2] for r in rows), sum(r[3] for r in rows)))
            db.executemany("INSERT INTO usage_days VALUES (?, ?, ?, ?)", rows)
            daily += len(rows)
        d += timedelta(days=1)
    db.execute("INSERT INTO usage_plan SELECT hour, SUM(up), SUM(down) FROM usage GROUP BY hour")
    db.execute("COMMIT")
    return hourly, daily


def _compact(store: Store, now: float) -> tuple[Stats, list[float]]:
    """Compaction as hotspotd's poll runs it: 50 ms steps until done; (per transaction, step times)."""
    uh, stats, state, steps = UsageHistory(store, Config(), now), Stats(), None, []
    while state is None or not state.done:
        t0 = time.monotonic()
        state = uh.compact(state, budget=0.05, stats=stats)
        steps.append((time.monotonic() - t0) * 1000)
    return stats, steps


def _timed(fn, n: int = 5) -> float:
    best = float("inf")
    for _ in range(n):
        t0 = time.monotonic()
        fn()
        best = min(best, time.monotonic() - t0)
    return round(best * 1000, 1)


def run() -> None:
    today = date.today()
    with tempfile.TemporaryDirectory(dir="/dev/shm") as tmp:
        store = Store(Path(tmp) / "hotspot.db")
        t0 = time.monotonic()
        hourly, daily = build(store, today)
        log(f"history: wrote {hourly:,} hourly and {daily:,} daily rows in {time.monotonic() - t0:.0f} s")
        before = store.db.execute("SELECT SUM(up + down) FROM usage").fetchone()[0] + store.db.execute(
            "SELECT SUM(up + down) FROM usage_days WHERE client >= 0").fetchone()[0]
        now = datetime(today.year, today.month, today.day, 12).timestamp()
        stats, steps = _compact(store, now)
        after = sum(store.db.execute(f"SELECT SUM(up + down) FROM {t} WHERE client >= 0").fetchone()[0] or 0
                    for t in ("usage", "usage_days", "usage_months"))
        assert after == before, (before, after)
        again, _ = _compact(store, now)
        rows = {t: store.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("usage", "usage_days", "usage_months")}
        state = Path(tmp) / "state"
        flash = store.commit_to(str(state))
        size = flash.stat().st_size
        store.db.execute("VACUUM")
        vacuumed = store.commit_to(str(Path(tmp) / "vacuumed")).stat().st_size
        client = UsageHistory(store, Config(), now)
        q_client = _timed(lambda: client.query(2, "day", (today - timedelta(days=83)).isoformat()))
        q_plan = _timed(lambda: client.query(None, "month"), n=2)
        store.close()
    model = (f"{CLIENTS} clients and the router, each active {ACTIVE_HOURS} hours of every day for "
             f"{MONTHS} months; default retention (hours 30 days, days 13 months)")
    emit("history_db_mb_5000x13mo", round(size / 1e6, 1), "MB", model=model, rows=rows,
         vacuumed_mb=round(vacuumed / 1e6, 1), bytes_per_row=round(size / sum(rows.values()), 1),
         note="the committed (flash) copy after one compaction pass; MB = 10^6 bytes")
    emit("compaction_ms", round(stats.longest_ms, 1), "ms", model=model,
         what="the longest transaction of one pass that moved a day of hours into days and a month of "
              "days into months (2,000 rows a transaction)",
         transactions=stats.transactions, pass_total_ms=round(stats.total_ms, 1),
         steps=len(steps), longest_step_ms=round(max(steps), 1),
         idle_pass_ms=round(again.total_ms, 2), query_ms_client_12_weeks_by_day=q_client,
         query_ms_plan_12_months=q_plan)


if __name__ == "__main__":
    run()
