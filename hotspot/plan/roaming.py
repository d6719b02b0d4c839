"""When the modem roamed: each span from the moment hotspotd saw roaming begin to when it ended, so the
plan's history and calendar can mark the hours and days spent roaming (where roaming prices apply)."""

from __future__ import annotations

import sqlite3

from hotspot.core.units import iso

TABLE = """
CREATE TABLE IF NOT EXISTS roaming_spans (
    start REAL PRIMARY KEY,
    end REAL                  -- NULL while roaming goes on
)"""
KEEP = 400  # spans kept: years of trips


def schema(db: sqlite3.Connection) -> None:
    db.execute(TABLE)


def began(db: sqlite3.Connection, now: float) -> None:
    schema(db)
    if db.execute("SELECT 1 FROM roaming_spans WHERE end IS NULL").fetchone() is None:
        db.execute("INSERT OR IGNORE INTO roaming_spans (start, end) VALUES (?, NULL)", (now,))
        db.execute("DELETE FROM roaming_spans WHERE start NOT IN (SELECT start FROM roaming_spans "
                   "ORDER BY start DESC LIMIT ?)", (KEEP,))


def ended(db: sqlite3.Connection, now: float) -> None:
    schema(db)
    db.execute("UPDATE roaming_spans SET end = max(start, ?) WHERE end IS NULL", (now,))


def spans(db: sqlite3.Connection, since: float, until: float) -> list[dict]:
    """The spans overlapping [since, until): {"from", "to" (None: still roaming)}, oldest first. A
    database from before roaming was recorded (or one only read) has none."""
    try:
        rows = db.execute("SELECT start, end FROM roaming_spans WHERE start < ? AND (end IS NULL OR end > ?) "
                          "ORDER BY start", (until, since)).fetchall()
    except sqlite3.OperationalError:  # no such table yet
        return []
    return [{"from": iso(s), "to": iso(e)} for s, e in rows]
