"""Calibration: the carrier's figure for this cycle, taken as the plan's.

Installed mid-cycle, or after a reset, the router counts from zero while the carrier has counted
gigabytes. The owner (hotspotctl plan set-used, the admin Plan page) or the carrier itself (a USSD
reply, a usage SMS: hotspot.carrier) gives the carrier's figure at a moment; the plan's bytes become
that figure plus what the router counted since. What we had counted by then is kept beside it: the gap
between the two at each calibration tells how far the router's count and the carrier's drift apart.

What was counted since a past moment comes from the plan's hourly history: whole hours after it, and
the hour it falls in pro rata (the history has no finer grain), plus the bytes of the polls since.
"""

from __future__ import annotations

import sqlite3

from hotspot.core.units import iso

TABLE = """
CREATE TABLE IF NOT EXISTS plan_calibrations (
    id INTEGER PRIMARY KEY,
    iccid TEXT NOT NULL,              -- '' for the plan used without a modem
    at REAL NOT NULL,                 -- the moment the carrier's figure is for
    made REAL NOT NULL,               -- when it was taken
    theirs INTEGER NOT NULL,          -- the carrier's bytes of the cycle at `at`
    ours INTEGER NOT NULL,            -- ours at `at`, before the calibration
    source TEXT NOT NULL,             -- owner | ussd | sms
    text TEXT                         -- the carrier's words it came from
)"""
KEEP = 50  # calibrations kept per plan
SOURCES = ("owner", "ussd", "sms")


def schema(db: sqlite3.Connection) -> None:
    db.execute(TABLE)


def counted_since(hours: list[tuple[int, int]], at: float, now: float) -> int:
    """The bytes of the hourly rows `hours` ((hour start, bytes), the hours from the one holding `at`
    on) that fell after `at`: whole hours after it, and its own hour's share by time."""
    total = 0
    for hour, nbytes in hours:
        end = hour + 3600
        if end <= at:
            continue
        if hour >= at:
            total += nbytes
        else:  # the hour holding `at`: its bytes spread over the part of it that has passed
            passed = min(end, now) - hour
            total += nbytes if passed <= 0 else int(nbytes * max(0.0, min(end, now) - at) / passed)
    return total


def check(theirs: int, at: float, now: float, cycle: tuple[float, float] | None) -> str | None:
    """Why a figure cannot calibrate the plan, or None."""
    if theirs < 0:
        return "the carrier's figure cannot be negative"
    if at > now + 60:
        return f"{iso(at)} is in the future"
    if cycle is None:
        return "the plan's cycle has not started (a pass starts at its first byte)"
    if at < cycle[0]:
        return f"{iso(at)} is before this cycle began ({iso(cycle[0])})"
    return None


def record(db: sqlite3.Connection, iccid: str, at: float, made: float, theirs: int, ours: int, source: str,
           text: str | None) -> None:
    schema(db)
    db.execute("INSERT INTO plan_calibrations (iccid, at, made, theirs, ours, source, text) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)", (iccid, at, made, theirs, ours, source, text))
    db.execute("DELETE FROM plan_calibrations WHERE iccid = ? AND id NOT IN (SELECT id FROM "
               "plan_calibrations WHERE iccid = ? ORDER BY id DESC LIMIT ?)", (iccid, iccid, KEEP))


def recent(db: sqlite3.Connection, iccid: str, limit: int = 10) -> list[dict]:
    """A plan's calibrations, newest first: when, the carrier's figure, ours, the gap (theirs - ours)."""
    schema(db)
    rows = db.execute("SELECT at, made, theirs, ours, source, text FROM plan_calibrations WHERE iccid = ? "
                      "ORDER BY id DESC LIMIT ?", (iccid, limit)).fetchall()
    return [{"at": iso(at), "made": iso(made), "theirs": theirs, "ours": ours, "gap": theirs - ours,
             "source": source, "text": text} for at, made, theirs, ours, source, text in rows]
