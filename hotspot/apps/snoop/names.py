"""Which name an address was last given in a DNS answer a client received.

The DNS snooper (its own process) writes what it saw to a small SQLite file in run_dir (RAM), in
batches; hotspotd and the portal only read it, to name the destinations of a client's traffic.
An address keeps its name until its answer's TTL runs out; a name the router's own dnsmasq gave
is seen there too, since the snooper watches the LAN side, where every answer passes.

An answer from the router's own resolver names the address for every device (device ''); one
from any other server was asked by one device and names it for that device only (its MAC), so
no device can name, and so block by name, another's destinations.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from hotspot.core.files import RUN_DIR_MODE, mend_private, own_dir, private_file

DB_NAME = "dns.db"
SCHEMA = """
CREATE TABLE IF NOT EXISTS names (
    addr TEXT NOT NULL,             -- as ipaddress prints it (IPv6 compressed, lower case)
    device TEXT NOT NULL,           -- '' (the router's resolver: every device) or the device's MAC
    name TEXT NOT NULL,             -- the name asked for (the first of a CNAME chain), lower case
    category TEXT,                  -- its category slug from the categories list, NULL = other
    expires REAL NOT NULL,          -- unix time the answer's TTL ran out
    PRIMARY KEY (addr, device)
) WITHOUT ROWID;
"""
SHARED = ""  # the device of the router's own resolver's answers


def connect(run_dir: str, *, readonly: bool = False) -> sqlite3.Connection | None:
    """The names file; None for a reader when the snooper never wrote one."""
    path = Path(run_dir) / DB_NAME
    if readonly:
        if not path.exists():
            return None
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5, isolation_level=None)
    own_dir(run_dir, RUN_DIR_MODE, "run_dir")
    private_file(path)  # which sites each client visits: root's alone, -wal and -shm too
    for extra in ("-wal", "-shm"):
        mend_private(f"{path}{extra}")
    db = sqlite3.connect(str(path), timeout=5, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")  # RAM, and a lost name only shows as an address
    columns = {row[1] for row in db.execute("PRAGMA table_info(names)")}
    if columns and "device" not in columns:  # an older snooper's file: names are a cache, start anew
        db.execute("DROP TABLE names")
    db.executescript(SCHEMA)
    return db


def record(db: sqlite3.Connection, seen: Iterable[tuple[str, str, str | None, float, str]]) -> None:
    """Keep (addr, name, category, expires, device) rows, one transaction for the batch."""
    db.execute("BEGIN IMMEDIATE")
    db.executemany("INSERT OR REPLACE INTO names (addr, name, category, expires, device) "
                   "VALUES (?, ?, ?, ?, ?)", list(seen))
    db.execute("COMMIT")


def prune(db: sqlite3.Connection, now: float) -> int:
    """Forget answers whose TTL ran out; returns how many."""
    return db.execute("DELETE FROM names WHERE expires <= ?", (now,)).rowcount


def _read(run_dir: str, query, empty):
    """`query(db)` on the names file, or `empty` when the snooper has not made it (or its table)."""
    db = connect(run_dir, readonly=True)
    if db is None:
        return empty
    try:
        return query(db)
    except sqlite3.OperationalError:
        return empty
    finally:
        db.close()


def addresses_for(run_dir: str, name: str, now: float, device: str | None = None) -> list[str]:
    """The addresses a live answer gave `name`: the router's resolver's, and those `device` (a MAC)
    was given by a server of its own; sorted."""
    return _read(run_dir, lambda db: sorted({r[0] for r in db.execute(
        "SELECT addr FROM names WHERE name = ? AND expires > ? AND device IN (?, ?)",
        (name, now, SHARED, device or SHARED))}), [])


def names_for(run_dir: str, addrs: Iterable[str], now: float, device: str | None = None) -> dict[str, str]:
    """{address: name} for those of `addrs` a live answer named: the name `device` (a MAC) was given
    by a server of its own, else the router's resolver's."""
    addrs = list(dict.fromkeys(addrs))

    def query(db) -> dict[str, str]:
        found = {}
        for i in range(0, len(addrs), 500):
            chunk = addrs[i:i + 500]
            marks = ", ".join("?" * len(chunk))
            rows = db.execute(f"SELECT addr, name FROM names WHERE addr IN ({marks}) AND expires > ? "
                              "AND device IN (?, ?) ORDER BY device <> ?",
                              [*chunk, now, SHARED, device or SHARED, SHARED])
            found.update(rows)  # the router's rows first: the device's own, if any, win
        return found

    return _read(run_dir, query, {}) if addrs else {}
