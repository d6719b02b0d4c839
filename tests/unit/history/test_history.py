"""Usage history: retention and compaction across injected months, with the real Store and a fake
clock, in a time zone with DST (Europe/Berlin), and the CLI's `history`."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import time
from datetime import date, datetime, timedelta

import pytest

from hotspot import cli
from hotspot.cli import Environment, ExitStatus
from hotspot.core.store import Store
from hotspot.core.units import InvalidValue
from hotspot.history import buckets as hist
from hotspot.history.usage import Stats, UsageHistory
from hotspot.house import House

MAC = "02:00:00:00:00:02"


@pytest.fixture
def berlin():
    """Local time is Europe/Berlin (DST from the last Sunday of March to the last of October)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Berlin"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.fixture
def store(cfg):
    os.makedirs(cfg.run_dir)
    s = Store(os.path.join(cfg.run_dir, "hotspot.db"))
    yield s
    s.close()


def ts(y, m, d, h=0) -> int:
    return int(datetime(y, m, d, h).timestamp())


def dump(store) -> list:
    return [store.db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
            for t in ("usage", "usage_days", "usage_months")]


def totals(store) -> dict[int, tuple[int, int]]:
    """Every client's bytes over all three tables (the plan's own rows, -1, apart)."""
    out: dict[int, list[int]] = {}
    for t in ("usage", "usage_days", "usage_months"):
        for cid, up, down in store.db.execute(f"SELECT client, SUM(up), SUM(down) FROM {t} GROUP BY client"):
            b = out.setdefault(cid, [0, 0])
            b[0] += up
            b[1] += down
    return {k: tuple(v) for k, v in out.items()}


def compact_all(store, cfg, now, keep_from=None, limit=2000) -> Stats:
    stats, state = Stats(), None
    uh = UsageHistory(store, cfg, now, keep_from)
    while state is None or not state.done:
        state = uh.compact(state, budget=10, limit=limit, stats=stats)
    return stats


def test_injected_months_compact_without_losing_or_doubling_a_byte(cfg, store, berlin):
    """14 months of polls (each day: 5 hours of use by the router, a client, and a client that is
    later deleted), compacted every simulated day: hours go to days after 30 days, days to months
    after 13 months; every byte stays, once, and the plan's rows are every client's sum."""
    cfg = dataclasses.replace(cfg, history_hourly_days=30, history_daily_months=13)
    for cid, mac in ((2, MAC), (3, "02:00:00:00:00:03")):
        store.add_client(mac, 0, first_id=cid)
    day = date(2024, 1, 1)
    state = None
    expected_day: dict[int, int] = {}
    while day < date(2025, 4, 1):
        for hour in (0, 2, 9, 18, 23):  # 02:00 does not exist on the last Sunday of March
            t = ts(day.year, day.month, day.day, hour) // 3600 * 3600
            n = day.toordinal() % 7 + hour
            store.record([(0, n, 2 * n, 0, 0), (2, 10 * n, 100 * n, 0, 0), (3, 1, 1, 0, 0)], t, t)
            key = hist.day_key(hist.local_date(t))
            expected_day[key] = expected_day.get(key, 0) + 3 * n + 110 * n + 2
        if day == date(2024, 6, 1):
            store.db.execute("DELETE FROM clients WHERE id = 3")  # forgotten: its bytes stay the plan's
        now = ts(day.year, day.month, day.day, 23) + 1800
        state = UsageHistory(store, cfg, now).compact(state, budget=10, limit=37)
        day += timedelta(days=1)
    state = UsageHistory(store, cfg, now).compact(state, budget=10, limit=37)
    assert state.done

    hour_cut, day_cut = hist.cutoffs(now, 30, 13)
    assert store.db.execute("SELECT MIN(hour) FROM usage").fetchone()[0] >= hour_cut
    assert store.db.execute("SELECT MIN(day) FROM usage_days WHERE client >= 0").fetchone()[0] >= day_cut
    assert day_cut == 20240201 and hist.local_date(hour_cut) == date(2025, 3, 1)
    assert store.db.execute("SELECT COUNT(*) FROM usage_months").fetchone()[0] == 4  # Jan 2024: 3 ids, plan

    every = totals(store)
    plan = every.pop(hist.PLAN)
    hourly_now = store.db.execute("SELECT SUM(up), SUM(down) FROM usage_plan").fetchone()
    assert sum(u for u, _ in every.values()) == plan[0] + hourly_now[0]
    assert sum(d for _, d in every.values()) == plan[1] + hourly_now[1]
    ndays = (date(2025, 4, 1) - date(2024, 1, 1)).days
    assert every[3] == (5 * ndays, 5 * ndays)  # the deleted client's rows were compacted too

    # The plan, by day over both tables (Nov 2024 from days, Mar 2025 from hours), is what went in,
    # DST days included: 31 Mar 2024 lost its 02:00 (filed at 03:00, same day), 27 Oct has 25 hours.
    uh = UsageHistory(store, cfg, now)
    got = {r["start"][:10]: r["bytes_total"] for r in
           uh.query(None, "day", "2024-03-30", "2025-04-01")["rows"]}
    want = {hist.key_date(k).isoformat(): v for k, v in expected_day.items() if k >= 20240330}
    assert got == want
    months = uh.query(None, "month", "2024-01-01", "2025-04-01")["rows"]
    assert sum(r["bytes_total"] for r in months) == sum(expected_day.values())
    assert len(months) == 15 and months[0]["start"].startswith("2024-01-01T00:00:00+01:00")
    client = uh.query(2, "month", "2024-01-01", "2025-04-01")["rows"]
    assert sum(r["bytes_total"] for r in client) == sum(every[2])

    before = dump(store)
    assert compact_all(store, cfg, now).transactions == 3  # again: one look at each table, nothing moves
    assert dump(store) == before


def test_a_long_backlog_moves_in_bounded_transactions_and_resumes(cfg, store, berlin):
    """A year of hours never compacted (an old database): each transaction moves at most `limit`
    rows, a client's backlog may span transactions, and a pass cut short resumes where it was."""
    start = ts(2024, 1, 1)
    rows = [(cid, start + h * 3600, h % 97, cid) for cid in (0, 2, 5) for h in range(0, 366 * 24, 3)]
    store.db.executemany("INSERT INTO usage VALUES (?, ?, ?, ?)", rows)
    store.db.execute("INSERT INTO usage_plan SELECT hour, SUM(up), SUM(down) FROM usage GROUP BY hour")
    before = totals(store)
    now = ts(2025, 1, 1, 12)
    uh = UsageHistory(store, cfg, now)
    state = uh.compact(None, budget=0, limit=500)  # no time at all: nothing done, nothing broken
    assert not state.done and totals(store) == before
    stats = compact_all(store, cfg, now, limit=500)
    assert stats.transactions >= len(rows) // 500
    after = totals(store)
    plan = after.pop(hist.PLAN)
    assert after == before
    left = store.db.execute("SELECT SUM(up), SUM(down) FROM usage_plan").fetchone()
    assert (plan[0] + (left[0] or 0), plan[1] + (left[1] or 0)) == tuple(map(sum, zip(*before.values())))


def test_hours_of_the_current_period_are_kept_past_retention(cfg, store, berlin):
    cfg = dataclasses.replace(cfg, history_hourly_days=3)
    store.record([(2, 1, 1, 0, 0)], ts(2025, 3, 1, 10), 0)
    now = ts(2025, 3, 20, 12)
    compact_all(store, cfg, now, keep_from=ts(2025, 3, 1))
    assert store.history(2) == [(ts(2025, 3, 1, 10), 1, 1)]
    compact_all(store, cfg, now)
    assert store.history(2) == [] and store.usage_buckets("day", 2, 20250301, 20250302) == {20250301: [1, 1]}


def test_queries_say_what_retention_dropped_and_reject_bad_ranges(cfg, store, berlin):
    now = ts(2025, 6, 15, 12)
    uh = UsageHistory(store, cfg, now)
    with pytest.raises(InvalidValue, match=r"^hourly history starts 2025-05-16 .*--by day"):
        uh.query(2, "hour", "2025-05-01")
    with pytest.raises(InvalidValue, match=r"^daily history starts 2024-05-01 .*--by month"):
        uh.query(2, "day", "2024-04-30", "2024-06-01")
    assert uh.query(2, "month", "2020-01-01")["rows"] == []
    for bad in ("yesterday", "2025-13-01", "2025-06-15T25:00", "2025-06-15; drop table usage", "1" * 60):
        with pytest.raises(InvalidValue):
            uh.query(2, "day", bad)
    with pytest.raises(InvalidValue, match="--to must be after --from"):
        uh.query(2, "day", "2025-06-10", "2025-06-10")
    # defaults: 48 hours, 30 days (today included), 12 months
    assert uh.query(2, "hour")["from"] == "2025-06-13T13:00:00+02:00"
    days = uh.query(2, "day")
    assert days["from"].startswith("2025-05-17") and days["to"].startswith("2025-06-16")
    assert uh.query(2, "month")["from"].startswith("2024-07-01")
    # a date-time with an offset is that instant; a day range covers the day it falls in
    one = uh.query(2, "day", "2025-06-01T22:30:00Z", "2025-06-02T12:00")
    assert (one["from"][:10], one["to"][:10]) == ("2025-06-02", "2025-06-03")


def run(*args: str) -> tuple[ExitStatus, str, str]:
    env = Environment(stdout=io.StringIO(), stderr=io.StringIO())
    status = cli.main(list(args), env)
    return status, env.stdout.getvalue(), env.stderr.getvalue()


def test_cli_history_by_day_and_month_for_a_client_and_the_plan(cfg, cfg_file, berlin):
    hs = House(cfg)
    now = time.time()
    with hs.store.transaction():
        c = hs.store.add_client(MAC, now)
        hour = int(now // 3600 * 3600)
        hs.store.record([(c.id, 1000, 2000, 0, 0), (0, 5, 5, 0, 0)], hour, now)
        hs.store.db.execute("INSERT INTO usage_days VALUES (?, 20240105, 7, 8), (-1, 20240105, 70, 80)",
                            (c.id,))
    hs.close()
    status, out, _ = run("-c", cfg_file, "--json", "history", MAC, "--by", "day")
    rows = json.loads(out)
    assert status == 0 and len(rows) == 1 and rows[0]["bytes_total"] == 3000
    assert set(rows[0]) == {"start", "end", "bytes_up", "bytes_down", "bytes_total"}
    status, out, _ = run("-c", cfg_file, "--json", "history", "plan", "--by", "month", "--from", "2024-01-01")
    assert status == 0
    assert [r["bytes_total"] for r in json.loads(out)] == [150, 3010]
    status, out, _ = run("-c", cfg_file, "history", "plan", "--by", "month", "--from", "2024-01-01")
    assert status == 0 and out.splitlines()[1].startswith("2024-01 ") and "total" in out.splitlines()[-1]
    for args, code in ((("history", MAC, "--by", "hour", "--from", "2020-01-01"), 2),
                       (("history", MAC, "--from", "2024-02-30"), 2),
                       (("history", MAC, "--from", "2024-02-02", "--to", "2024-02-01"), 2),
                       (("history", "02:00:00:00:00:09"), 1),
                       (("history", "plan!", "--by", "day"), 2)):
        status, out, err = run("-c", cfg_file, *args)
        assert (status, out) == (code, ""), args
        assert err.startswith("hotspotctl: ") and err.count("\n") == 1, err


def test_the_plans_hours_are_kept_as_recorded_and_made_once_for_an_older_database(cfg, store):
    store.record([(0, 1, 2, 0, 0), (2, 10, 20, 0, 0), (3, 0, 0, 0, 0)], 3600, 1)
    store.record([(2, 5, 5, 0, 0)], 3600, 2)
    assert store.plan_history() == [(3600, 16, 27)]
    store.db.execute("DELETE FROM usage_plan")
    store.db.execute("DELETE FROM meta WHERE key = 'usage_plan'")  # as before usage_plan existed
    reopened = Store(store.path)
    assert reopened.plan_history() == [(3600, 16, 27)]
    reopened.close()


def test_app_categories_keep_their_other_after_compaction_and_go_with_the_daily_retention(cfg, store, berlin):
    from hotspot.apps import usage as apps

    old, recent = ts(2025, 1, 10, 9), ts(2026, 10, 1, 9)  # past daily retention; past hourly only
    for hour in (old, recent):
        store.record([(2, 1_000, 9_000, 0, 0)], hour, hour)
        store.db.execute("INSERT INTO app_usage (client, day, category, up, down) "
                         "VALUES (2, ?, 'video', 0, 6000)", (apps.day_start(hour),))
    now = ts(2026, 11, 20, 12)
    before = apps.totals(store.db, recent - 9 * 3600, recent + 86400)
    compact_all(store, cfg, now)
    assert store.db.execute("SELECT COUNT(*) FROM usage WHERE client = 2").fetchone()[0] == 0  # now days
    # "other" is the day's total less its categories, whichever table the total now sits in
    assert apps.totals(store.db, recent - 9 * 3600, recent + 86400) == before == {2: [1_000, 9_000]}
    other = apps.breakdown(apps.usage(store.db, recent - 9 * 3600, recent + 86400, 2)[2], before[2])
    assert {r["category"]: r["bytes_total"] for r in other}["other"] == 4_000
    # the apps' days past the daily history's retention are gone; the kept one stays
    assert [d for (d,) in store.db.execute("SELECT day FROM app_usage")] == [apps.day_start(recent)]
