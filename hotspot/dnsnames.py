"""Which name an address was last given in a DNS answer a client received.

The DNS snooper (its own process) writes what it saw to a small SQLite file in run_dir (RAM), in
batches; hotspotd and the portal only read it, to name the destinations of a client's traffic.
An address keeps its name until its answer's TTL runs out; a name the router's own dnsmasq gave
is seen there too, since the snooper watches the LAN side, where every answer passes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from hotspot.safefile import RUN_DIR_MODE, mend_private, own_dir, private_file

DB_NAME = "dns.db"
SCHEMA = """
CREATE TABLE IF NOT EXISTS names (
    addr TEXT PRIMARY KEY,          -- as ipaddress prints it (IPv6 compressed, lower case)
    name TEXT NOT NULL,             -- the name asked for (the first of a CNAME chain), lower case
    category TEXT,                  -- its category slug from the categories list, NULL = other
    expires REAL NOT NULL           -- unix time the answer's TTL ran out
) WITHOUT ROWID;
"""


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
    db.executescript(SCHEMA)
    return db


def record(db: sqlite3.Connection, seen: Iterable[tuple[str, str, str | None, float]]) -> None:
    """Keep (addr, name, category, expires) rows, one transaction for the batch."""
    db.execute("BEGIN IMMEDIATE")
    db.executemany("INSERT OR REPLACE INTO names (addr, name, category, expires) VALUES (?, ?, ?, ?)",
                   list(seen))
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


def addresses_for(run_dir: str, name: str, now: float) -> list[str]:
    """The addresses a live answer gave `name`, sorted."""
    return _read(run_dir, lambda db: sorted(r[0] for r in db.execute(
        "SELECT addr FROM names WHERE name = ? AND expires > ?", (name, now))), [])


def names_for(run_dir: str, addrs: Iterable[str], now: float) -> dict[str, str]:
    """{address: name} for those of `addrs` a live answer named."""
    addrs = list(dict.fromkeys(addrs))

    def query(db) -> dict[str, str]:
        found = {}
        for i in range(0, len(addrs), 500):
            chunk = addrs[i:i + 500]
            marks = ", ".join("?" * len(chunk))
            found.update(db.execute(
                f"SELECT addr, name FROM names WHERE addr IN ({marks}) AND expires > ?", [*chunk, now]))
        return found

    return _read(run_dir, query, {}) if addrs else {}
