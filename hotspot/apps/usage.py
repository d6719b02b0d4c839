"""Which apps use the data: per client, per category, per day, from the kernel's counting sets.

The kernel counts each metered packet whose remote address a DNS answer gave to a name of a category
(nft/hotspot.nft, chains cat_up and cat_down) into a per-client element of that category's set;
hotspotd reads them (Nft.read_apps) into `app_usage` here, keeping the last readings in `app_seen`
like the clients' own counters (both tables are in hotspot/core/store.py's schema). "other" is never
counted: it is the client's total (the `usage` table) minus its categories, so it also holds what
encrypted DNS hid from the router.
"""

from __future__ import annotations

import sqlite3

from hotspot.apps.categories import CATEGORIES, OTHER
from hotspot.core.store import counted_since
from hotspot.history import buckets as hist


def day_start(t: float) -> int:
    """The unix time the local day of `t` starts (the history's days, hotspot/history/buckets.py)."""
    return int(hist.midnight(hist.local_date(t)))


def record(db: sqlite3.Connection, readings: dict[tuple[int, str, str], int], now: float) -> int:
    """Add what each per-category counter counted since the last reading to today's row (caller holds
    a transaction); returns the bytes added. A counter below its last reading was made anew (the
    table was rebuilt): all it holds is new."""
    seen = {(cid, cat): (up, down) for cid, cat, up, down in db.execute("SELECT * FROM app_seen")}
    raw: dict[tuple[int, str], list[int]] = {}
    for (cid, cat, direction), n in readings.items():
        raw.setdefault((cid, cat), [0, 0])[direction == "down"] = n
    day, rows, total = day_start(now), [], 0
    for (cid, cat), (ku, kd) in raw.items():
        su, sd = seen.get((cid, cat), (0, 0))
        du, dd = counted_since(ku, su), counted_since(kd, sd)
        if du or dd:
            rows.append((cid, day, cat, du, dd))
            total += du + dd
    db.executemany(
        "INSERT INTO app_usage (client, day, category, up, down) VALUES (?, ?, ?, ?, ?) ON CONFLICT "
        "(client, day, category) DO UPDATE SET up = up + excluded.up, down = down + excluded.down", rows)
    db.executemany("INSERT OR REPLACE INTO app_seen (client, category, up, down) VALUES (?, ?, ?, ?)",
                   [(cid, cat, ku, kd) for (cid, cat), (ku, kd) in raw.items()])
    return total


def reset_seen(db: sqlite3.Connection) -> None:
    """The table was (re)built: its counting sets start empty."""
    db.execute("DELETE FROM app_seen")


def usage(db: sqlite3.Connection, since: float, until: float,
          client: int | None = None) -> dict[int, dict[str, list[int]]]:
    """{client id: {category: [up, down]}} for the days that start in [since, until)."""
    query = "SELECT client, category, SUM(up), SUM(down) FROM app_usage WHERE day >= ? AND day < ?"
    args: list = [day_start(since), until]
    if client is not None:
        query += " AND client = ?"
        args.append(client)
    out: dict[int, dict[str, list[int]]] = {}
    for cid, cat, up, down in db.execute(query + " GROUP BY client, category", args):
        out.setdefault(cid, {})[cat] = [up, down]
    return out


def totals(db: sqlite3.Connection, since: float, until: float,
           client: int | None = None) -> dict[int, list[int]]:
    """{client id: [up, down]}: every metered byte of the same days, from the hours still hourly
    (`usage`) and the days compaction moved out of them (`usage_days`, hotspot/history/buckets.py)."""
    days = (hist.day_key(hist.local_date(since)), hist.day_key(hist.local_date(until - 1)))
    out: dict[int, list[int]] = {}
    for table, column, lo, hi in (("usage", "hour", day_start(since), until - 1),
                                  ("usage_days", "day", *days)):
        query = (f"SELECT client, SUM(up), SUM(down) FROM {table} "
                 f"WHERE {column} BETWEEN ? AND ? AND client >= 0")
        args: list = [lo, hi]
        if client is not None:
            query += " AND client = ?"
            args.append(client)
        for cid, up, down in db.execute(query + " GROUP BY client", args):
            t = out.setdefault(cid, [0, 0])
            t[0] += up
            t[1] += down
    return out


def prune(db: sqlite3.Connection, before: float, limit: int = 2000) -> int:
    """Forget the days that start before `before` (the daily history's retention), at most `limit`
    rows in one go (caller holds a transaction); returns how many."""
    return db.execute("DELETE FROM app_usage WHERE (client, day, category) IN "
                      "(SELECT client, day, category FROM app_usage WHERE day < ? LIMIT ?)",
                      (int(before), limit)).rowcount


def breakdown(cats: dict[str, list[int]], total: list[int]) -> list[dict]:
    """One row per category and "other" (the total minus the categories), largest first, each with
    its share of the total in percent."""
    up_cats = sum(v[0] for v in cats.values())
    down_cats = sum(v[1] for v in cats.values())
    rows = [(c, *cats.get(c, (0, 0))) for c in CATEGORIES]
    rows.append((OTHER, max(0, total[0] - up_cats), max(0, total[1] - down_cats)))
    whole = sum(up + down for _, up, down in rows)
    out = [{"category": c, "bytes_up": up, "bytes_down": down, "bytes_total": up + down,
            "percent": round(100 * (up + down) / whole, 1) if whole else 0.0} for c, up, down in rows]
    return sorted(out, key=lambda r: (-r["bytes_total"], r["category"] == OTHER))


def by_category(rows_by_client: dict[str, list[dict]]) -> list[dict]:
    """All clients per category: [{category, bytes_total, clients: [{name, bytes_total}] largest first}]."""
    cats: dict[str, dict] = {}
    for name, rows in rows_by_client.items():
        for r in rows:
            if not r["bytes_total"]:
                continue
            e = cats.setdefault(r["category"], {"category": r["category"], "bytes_total": 0, "clients": []})
            e["bytes_total"] += r["bytes_total"]
            e["clients"].append({"client": name, "bytes_total": r["bytes_total"]})
    for e in cats.values():
        e["clients"].sort(key=lambda x: -x["bytes_total"])
    return sorted(cats.values(), key=lambda e: -e["bytes_total"])
