"""SQLite: the truth for policy and history.

The working database lives in run_dir (RAM); a consistent copy goes to state_dir (flash) only when
the daemon commits, so flash sees one write per commit_interval. The kernel counters are never
reset: each poll stores the value it read (`seen_up`, `seen_down`) in the same transaction as the
bytes it added, so a crash at any point neither loses nor double-counts bytes.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hotspot.core.files import (
    RUN_DIR_MODE,
    STATE_DIR_MODE,
    mend_private,
    own_dir,
    private_file,
    sync_dir,
    temp_path,
)
from hotspot.history import buckets as hist

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clients (
    id INTEGER PRIMARY KEY,
    mac TEXT NOT NULL UNIQUE,
    hostname TEXT,
    alias TEXT,                               -- the owner's name for it, shown before the hostname
    ips TEXT NOT NULL DEFAULT '[]',
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    cap INTEGER,                              -- bytes per period, NULL = none
    topup INTEGER NOT NULL DEFAULT 0,         -- bytes added to this period's cap
    rate INTEGER,                             -- manual throttle, bits/s
    blocked INTEGER NOT NULL DEFAULT 0,       -- the owner blocked it
    paused INTEGER NOT NULL DEFAULT 0,        -- it paused itself from its page (it may also resume)
    period_up INTEGER NOT NULL DEFAULT 0,     -- bytes this period
    period_down INTEGER NOT NULL DEFAULT 0,
    seen_up INTEGER NOT NULL DEFAULT 0,       -- kernel counter values at the last poll
    seen_down INTEGER NOT NULL DEFAULT 0,
    admitted_until REAL,                      -- captive portal: admitted until then; NULL = not admitted
    admitted_at REAL,                         -- when it was admitted (the idle timeout counts from here too)
    voucher INTEGER,                          -- the voucher it redeemed (vouchers.id), NULL = none
    update_guard INTEGER,                     -- its own choice for the update guard, NULL = the default
    own_limit INTEGER,                        -- its own limit (bytes this period), at most the owner's cap
    own_warn INTEGER,                         -- where its own page warns it (bytes this period)
    own_ask INTEGER,                          -- its own point to be asked before going on (bytes)
    ask_at INTEGER,                           -- the owner's point to ask it before going on (bytes)
    ask_done INTEGER                          -- the point it answered "continue" at this period
);
CREATE TABLE IF NOT EXISTS vouchers (
    id INTEGER PRIMARY KEY,                   -- names its kernel quota, v<id>
    code TEXT NOT NULL UNIQUE,                -- XXXX-XXXX, upper case
    created REAL NOT NULL,
    batch INTEGER NOT NULL,                   -- the vouchers made together (one printable page)
    bytes INTEGER,                            -- data it allows, shared by its devices; NULL = no limit
    valid_seconds INTEGER NOT NULL,           -- how long it lasts from its first use
    devices INTEGER NOT NULL DEFAULT 1,       -- how many devices may use it
    first_used REAL,
    expires REAL,                             -- first_used + valid_seconds
    revoked REAL,                             -- when the owner revoked it
    used INTEGER NOT NULL DEFAULT 0,          -- bytes its devices used (counted while linked to it)
    idle_seconds INTEGER,                     -- its own idle timeout (a RADIUS session's); NULL: the config
    rate INTEGER                              -- its own rate, bits/s (a RADIUS session's); NULL: none
);
CREATE TABLE IF NOT EXISTS voucher_choices (  -- a voucher's holder's own choices, for its next device
    voucher INTEGER PRIMARY KEY,
    own_limit INTEGER,
    own_warn INTEGER,
    own_ask INTEGER
);
CREATE TABLE IF NOT EXISTS usage (
    client INTEGER NOT NULL,
    hour INTEGER NOT NULL,                    -- unix time of the hour's start
    up INTEGER NOT NULL DEFAULT 0,
    down INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (client, hour)
) WITHOUT ROWID;
-- ghost traffic: remote addresses a client's own chains drop (hotspot.ghost.watch)
CREATE TABLE IF NOT EXISTS blocked_dests (
    client INTEGER NOT NULL,
    addr TEXT NOT NULL,                       -- as ipaddress prints it
    name TEXT,                                -- the DNS name it was blocked by, if any
    created REAL NOT NULL,
    by_device INTEGER NOT NULL DEFAULT 0,     -- 1: the device blocked it itself (it may unblock it)
    PRIMARY KEY (client, addr)
) WITHOUT ROWID;
-- The plan's hours (every client's and the router's summed, as recorded): read without a scan of `usage`.
CREATE TABLE IF NOT EXISTS usage_plan (
    hour INTEGER PRIMARY KEY,
    up INTEGER NOT NULL DEFAULT 0,
    down INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
-- Older usage, compacted out of `usage` (hotspot/history/buckets.py): local days (YYYYMMDD) and months
-- (YYYYMM); client -1 holds the plan's, compacted out of `usage_plan`.
CREATE TABLE IF NOT EXISTS usage_days (
    client INTEGER NOT NULL,
    day INTEGER NOT NULL,
    up INTEGER NOT NULL DEFAULT 0,
    down INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (client, day)
) WITHOUT ROWID;
-- Bytes per client per app category per day, and the kernel readings they came from (hotspot/apps/usage.py).
CREATE TABLE IF NOT EXISTS app_usage (
    client INTEGER NOT NULL,                  -- clients.id; 0 = the router, 1 = not registered yet
    day INTEGER NOT NULL,                     -- unix time of the local day's start
    category TEXT NOT NULL,                   -- one of hotspot.apps.categories.CATEGORIES
    up INTEGER NOT NULL DEFAULT 0,
    down INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (client, day, category)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS app_seen (         -- the kernel's per-category counters at the last reading
    client INTEGER NOT NULL,
    category TEXT NOT NULL,
    up INTEGER NOT NULL DEFAULT 0,
    down INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (client, category)
) WITHOUT ROWID;
-- Bytes of devices not registered yet, by the kernel element that counted them (nft/hotspot.nft: unreg_up
-- by MAC, unreg_down4/6 by address): what is not credited to a client yet, and the element's counter
-- at the last reading. Credited bytes leave `bytes` in the transaction that adds them to the client,
-- so a crash neither loses nor doubles them; the row goes once the kernel element is deleted.
CREATE TABLE IF NOT EXISTS unregistered (
    key TEXT NOT NULL,                        -- the MAC (dir 'up') or the address (dir 'down')
    dir TEXT NOT NULL,
    bytes INTEGER NOT NULL DEFAULT 0,
    seen INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key, dir)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS usage_months (
    client INTEGER NOT NULL,
    month INTEGER NOT NULL,
    up INTEGER NOT NULL DEFAULT 0,
    down INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (client, month)
) WITHOUT ROWID;
"""

DB_NAME = "hotspot.db"


@dataclass
class Client:
    id: int
    mac: str
    hostname: str | None = None
    alias: str | None = None
    ips: list[str] = field(default_factory=list)
    first_seen: float = 0.0
    last_seen: float = 0.0
    cap: int | None = None
    topup: int = 0
    rate: int | None = None
    blocked: bool = False  # by the owner
    paused: bool = False  # by the device itself; either holds it
    period_up: int = 0
    period_down: int = 0
    seen_up: int = 0
    seen_down: int = 0
    admitted_until: float | None = None
    admitted_at: float | None = None
    voucher: int | None = None  # vouchers.id
    update_guard: bool | None = None  # opted in or out of the update guard; None = the config's default
    # Read from the voucher's row with the client (not columns of clients): what policy needs of it.
    voucher_code: str | None = None
    voucher_bytes: int | None = None
    voucher_used: int = 0
    voucher_expires: float | None = None
    voucher_rate: int | None = None  # a RADIUS session's rate (bits/s)
    blocked_dests: tuple[str, ...] = ()  # remote addresses its chains drop (table blocked_dests)
    own_limit: int | None = None  # its own limit, warning point and ask point (hotspot.ownlimits)
    own_warn: int | None = None
    own_ask: int | None = None
    ask_at: int | None = None  # the owner's ask point for it (None: the config's ask_default)
    ask_done: int | None = None  # the point it answered "continue" at, this period

    @property
    def period_total(self) -> int:
        return self.period_up + self.period_down

    @property
    def held(self) -> bool:
        """Blocked by the owner or paused by itself: no metered traffic either way."""
        return self.blocked or self.paused


_JOINED = ("voucher_code", "voucher_bytes", "voucher_used", "voucher_expires", "voucher_rate",
           "blocked_dests")
_COLUMNS = [f for f in Client.__dataclass_fields__ if f not in _JOINED]
POLICY_FIELDS = {"cap", "topup", "rate", "blocked", "paused", "hostname", "alias", "ips", "last_seen",
                 "admitted_until", "admitted_at", "voucher", "update_guard", "own_limit", "own_warn",
                 "own_ask", "ask_at", "ask_done"}
# Columns added after the first release, with their declarations: an older database gets them at open.
_ADDED = {"alias": "TEXT", "admitted_until": "REAL", "admitted_at": "REAL", "voucher": "INTEGER",
          "update_guard": "INTEGER", "paused": "INTEGER NOT NULL DEFAULT 0", "own_limit": "INTEGER",
          "own_warn": "INTEGER", "own_ask": "INTEGER", "ask_at": "INTEGER", "ask_done": "INTEGER"}
_ADDED_DESTS = {"by_device": "INTEGER NOT NULL DEFAULT 0"}  # a destination blocked before: the owner's
# A client with what policy needs of its voucher, in one query (a primary-key join).
CLIENTS = ("SELECT clients.*, v.code AS voucher_code, v.bytes AS voucher_bytes, "
           "COALESCE(v.used, 0) AS voucher_used, v.expires AS voucher_expires, v.rate AS voucher_rate, "
           "(SELECT group_concat(addr, ' ') FROM blocked_dests AS b WHERE b.client = clients.id) "
           "AS blocked_dests FROM clients LEFT JOIN vouchers AS v ON v.id = clients.voucher")


def counted_since(kernel: int | None, seen: int) -> int:
    """Bytes since the last reading; a counter below what we saw was recreated, so all it holds is new."""
    if kernel is None:
        return 0
    return kernel - seen if kernel >= seen else kernel


@dataclass
class Voucher:
    id: int
    code: str
    created: float
    batch: int
    bytes: int | None
    valid_seconds: int
    devices: int = 1
    first_used: float | None = None
    expires: float | None = None
    revoked: float | None = None
    used: int = 0
    idle_seconds: int | None = None
    rate: int | None = None


def _sums(rows, key) -> dict[int, list[int]]:
    """{key(t): [up, down]} of rows (t, up, down)."""
    out: dict[int, list[int]] = {}
    for t, up, down in rows:
        b = out.setdefault(key(t), [0, 0])
        b[0] += up
        b[1] += down
    return out


def _row(r: sqlite3.Row) -> Client:
    d = dict(r)
    d["ips"] = json.loads(d["ips"])
    d["blocked"], d["paused"] = bool(d["blocked"]), bool(d["paused"])
    d["blocked_dests"] = tuple(sorted((d.get("blocked_dests") or "").split()))
    if d.get("update_guard") is not None:
        d["update_guard"] = bool(d["update_guard"])
    return Client(**d)


def _voucher(r: sqlite3.Row) -> Voucher:
    return Voucher(**dict(r))


class Store:
    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        """`readonly`: a reader for another thread (WAL: it never blocks the poll, nor waits for it)."""
        self.path = Path(path)
        if readonly:
            self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10,
                                      isolation_level=None, check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            return
        if str(self.path) != ":memory:":
            private_file(self.path)  # every client's usage: root's alone, -wal and -shm too (SQLite
            for extra in ("-wal", "-shm"):  # copies the database's mode), whichever command made it
                mend_private(f"{self.path}{extra}")
        # hotspotd's IPC threads use the daemon's Store too (a voucher redeemed, an admin's action), one
        # at a time under the daemon's lock: the connection may be used from another thread.
        self.db = sqlite3.connect(str(self.path), timeout=10, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # RAM-backed; durability comes from commit_to()
        self.db.executescript(SCHEMA)
        if self.get("usage_plan") is None:  # a database from before usage_plan: its hours, once
            with self.transaction():
                self.db.execute("INSERT OR REPLACE INTO usage_plan "
                                "SELECT hour, SUM(up), SUM(down) FROM usage GROUP BY hour")
                self.set("usage_plan", 1)
        have = {r[1] for r in self.db.execute("PRAGMA table_info(clients)")}
        for column, decl in _ADDED.items():
            if column not in have:
                self.db.execute(f"ALTER TABLE clients ADD COLUMN {column} {decl}")
        if "paused" not in have:  # a device's own pause was a meta key beside the owner's column
            with self.transaction():
                self.db.execute("UPDATE clients SET paused = blocked, blocked = 0 WHERE "
                                "'ghost_self_paused:' || mac IN (SELECT key FROM meta)")
                self.db.execute("DELETE FROM meta WHERE key LIKE 'ghost_self_paused:%'")
        have = {r[1] for r in self.db.execute("PRAGMA table_info(blocked_dests)")}
        for column, decl in _ADDED_DESTS.items():
            if column not in have:
                self.db.execute(f"ALTER TABLE blocked_dests ADD COLUMN {column} {decl}")
        have = {r[1] for r in self.db.execute("PRAGMA table_info(vouchers)")}
        for column in ("idle_seconds", "rate"):  # a RADIUS session's own
            if column not in have:
                self.db.execute(f"ALTER TABLE vouchers ADD COLUMN {column} INTEGER")

    @classmethod
    def open(cls, run_dir: str, state_dir: str) -> Store:
        """Open the working copy, first restoring it from flash if RAM lost it (a reboot). run_dir and
        state_dir are root's (made so if missing): UnsafePath if another user could change them."""
        own_dir(run_dir, RUN_DIR_MODE, "run_dir")
        own_dir(state_dir, STATE_DIR_MODE, "state_dir")
        run, saved = Path(run_dir) / DB_NAME, Path(state_dir) / DB_NAME
        if not run.exists() and saved.exists():
            private_file(run)
            src = sqlite3.connect(str(saved))
            dst = sqlite3.connect(str(run))
            src.backup(dst)
            src.close()
            dst.close()
        return cls(run)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self):
        """A write transaction, taken up front so the daemon and the CLI serialise."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error:
            # SQLite may keep the transaction open after a failed COMMIT (SQLITE_FULL, SQLITE_IOERR):
            # left open, it would take every later write with it
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def commit_to(self, state_dir: str, meta: dict | None = None) -> Path:
        """Write a consistent copy to flash atomically (a new temporary file of root's alone, fsync,
        rename), with `meta` set in the copy."""
        own_dir(state_dir, STATE_DIR_MODE, "state_dir")
        target = Path(state_dir) / DB_NAME
        for stale in [target.with_suffix(".tmp"), *target.parent.glob(f".{DB_NAME}.*.tmp")]:
            stale.unlink(missing_ok=True)  # a commit a power cut ended
        tmp = temp_path(target)
        try:
            dst = sqlite3.connect(tmp)
            try:
                self.db.backup(dst)
                with dst:
                    dst.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                    [(k, str(v)) for k, v in (meta or {}).items()])
                dst.execute("PRAGMA journal_mode=DELETE")
            finally:
                dst.close()
            fd = os.open(tmp, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, target)
        except BaseException:
            # a full flash: the partial copy would keep its space from everything else on it
            for leftover in (tmp, f"{tmp}-journal"):
                Path(leftover).unlink(missing_ok=True)
            raise
        sync_dir(target.parent)
        return target

    # -- meta ---------------------------------------------------------------------------------

    def get(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set(self, key: str, value) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, str(value)))

    def add_reading(self, name: str, raw: int, *, first_counts: bool = True) -> int:
        """A counter that has no client row, read again (the router's, the unregistered MACs', a
        modem's): add to meta `name` what it counted since the reading kept in `name`_seen, keep this
        one, and return what was added. `first_counts`: a counter read for the first time counted
        from zero for us (a kernel counter of our table), or from some unknown time (a device's)."""
        seen = self.get(f"{name}_seen")
        delta = 0 if seen is None and not first_counts else counted_since(raw, int(seen or 0))
        if delta:
            self.set(name, int(self.get(name, "0")) + delta)
        if seen is None or int(seen) != raw:
            self.set(f"{name}_seen", raw)
        return delta

    # -- clients ------------------------------------------------------------------------------

    def clients(self) -> list[Client]:
        return [_row(r) for r in self.db.execute(f"{CLIENTS} ORDER BY clients.id")]

    def client(self, mac: str) -> Client | None:
        r = self.db.execute(f"{CLIENTS} WHERE clients.mac = ?", (mac,)).fetchone()
        return _row(r) if r else None

    def add_client(self, mac: str, now: float, *, first_id: int = 2, **fields) -> Client:
        """Register a MAC under the lowest free id (ids name kernel objects and tc classes, and a
        forgotten device's id is given again). Every id below meta `free_from` is taken, so the
        search starts there: a registration costs a few index lookups however many clients there
        are and however many were forgotten."""
        hint = int(self.get("free_from") or 2)
        start = max(first_id, hint)
        cid = start
        if self.db.execute("SELECT 1 FROM clients WHERE id = ?", (start,)).fetchone():
            cid = self.db.execute(
                "SELECT c.id + 1 FROM clients AS c WHERE c.id >= ? AND NOT EXISTS "
                "(SELECT 1 FROM clients AS d WHERE d.id = c.id + 1) ORDER BY c.id LIMIT 1",
                (start,)).fetchone()[0]
        c = Client(id=cid, mac=mac, first_seen=now, last_seen=now, **fields)
        values = {k: getattr(c, k) for k in _COLUMNS}
        values["ips"] = json.dumps(c.ips)
        cols = ", ".join(values)
        self.db.execute(f"INSERT INTO clients ({cols}) VALUES ({', '.join('?' * len(values))})",
                        list(values.values()))
        if first_id <= hint:  # (an id asked from further up leaves the free ones below it free)
            self.set("free_from", cid + 1)
        if cid > self.id_high():
            self.set("id_high", cid)
        return c

    def id_high(self) -> int:
        """The highest id ever given: an id at or below it may have named a forgotten device."""
        high = self.get("id_high")
        if high is not None:
            return int(high)
        return self.db.execute("SELECT COALESCE(MAX(id), 1) FROM clients").fetchone()[0]

    def idle_since(self, cutoff: float) -> list[tuple[int, str, float, int, bool]]:
        """(id, mac, last_seen, bytes this period, blocked) of the clients with no traffic since
        `cutoff` (client_retention's candidates, hotspot/clients/retention.py)."""
        return [(cid, mac, seen, used, bool(blocked)) for cid, mac, seen, used, blocked in self.db.execute(
            "SELECT id, mac, last_seen, period_up + period_down, blocked FROM clients WHERE last_seen < ? "
            "ORDER BY last_seen, id", (cutoff,))]

    def forget_client(self, c: Client) -> int:
        """Erase a device's row and the rows of this schema that name it (the caller holds a
        transaction; each capability erases the rest: hotspot.clients.forgetting): its
        history by hour, day and month, its app usage and readings, its blocked destinations. The
        plan's own rows (usage_plan, and client -1 in the daily and monthly tables) keep its bytes,
        and a voucher it used keeps its `used`. Its id is free again. Returns the rows erased
        besides its own."""
        self.set("id_high", self.id_high())  # before the top id may go
        erased = 0
        for table in ("usage", "usage_days", "usage_months", "app_usage", "app_seen", "blocked_dests"):
            erased += self.db.execute(f"DELETE FROM {table} WHERE client = ?", (c.id,)).rowcount
        self.db.execute("DELETE FROM clients WHERE id = ?", (c.id,))
        self.set("free_from", min(c.id, int(self.get("free_from") or c.id)))
        self.set("forgotten", int(self.get("forgotten", "0")) + 1)
        return erased

    def update(self, cid: int, **fields) -> None:
        bad = set(fields) - POLICY_FIELDS - {"period_up", "period_down", "seen_up", "seen_down"}
        if bad:
            raise ValueError(f"not a client field: {sorted(bad)}")
        if "ips" in fields:
            fields["ips"] = json.dumps(fields["ips"])
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE clients SET {sets} WHERE id = ?", [*fields.values(), cid])

    # -- accounting ---------------------------------------------------------------------------

    def record(self, rows: list[tuple[int, int, int, int, int]], hour: int, now: float) -> None:
        """Add polled bytes: rows of (id, delta_up, delta_down, seen_up, seen_down)."""
        self.db.executemany(
            "UPDATE clients SET period_up = period_up + ?, period_down = period_down + ?, "
            "seen_up = ?, seen_down = ?, last_seen = CASE WHEN ? + ? > 0 THEN ? ELSE last_seen END "
            "WHERE id = ?",
            [(du, dd, su, sd, du, dd, now, cid) for cid, du, dd, su, sd in rows],
        )
        self.db.executemany(
            "INSERT INTO usage (client, hour, up, down) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (client, hour) DO UPDATE SET up = up + excluded.up, down = down + excluded.down",
            [(cid, hour, du, dd) for cid, du, dd, _su, _sd in rows if du or dd],
        )
        up, down = sum(r[1] for r in rows), sum(r[2] for r in rows)
        if up or down:
            self.db.execute("INSERT INTO usage_plan (hour, up, down) VALUES (?, ?, ?) ON CONFLICT (hour) DO "
                            "UPDATE SET up = up + excluded.up, down = down + excluded.down", (hour, up, down))

    # -- devices not registered yet (table unregistered) ---------------------------------------

    def add_unregistered(self, readings: dict[tuple[str, str], int]) -> int:
        """Take in a reading of the kernel's elements of unregistered devices, {(key, dir): counter}:
        each adds what it counted since the last reading. A row whose element is gone (it timed out,
        or was deleted once credited) keeps its bytes, if any, with nothing seen: an element made
        again counts from zero. Returns the bytes added."""
        rows = {(k, d): (b, seen) for k, d, b, seen in self.db.execute(
            "SELECT key, dir, bytes, seen FROM unregistered")}
        added = 0
        for key, raw in readings.items():
            pending, seen = rows.get(key, (0, 0))
            delta = counted_since(raw, seen)
            added += delta
            self.db.execute("INSERT OR REPLACE INTO unregistered (key, dir, bytes, seen) VALUES (?, ?, ?, ?)",
                            (*key, pending + delta, raw))
        gone = [key for key in rows if key not in readings]
        self.db.executemany("DELETE FROM unregistered WHERE key = ? AND dir = ? AND bytes = 0", gone)
        self.db.executemany("UPDATE unregistered SET seen = 0 WHERE key = ? AND dir = ?", gone)
        return added

    def unregistered(self) -> dict[tuple[str, str], tuple[int, int]]:
        """{(key, dir): (bytes not credited yet, counter seen)}."""
        return {(k, d): (b, seen) for k, d, b, seen in self.db.execute(
            "SELECT key, dir, bytes, seen FROM unregistered")}

    def credit(self, cid: int, keys: list[tuple[str, str]], hour: int, now: float) -> tuple[int, int]:
        """Move the bytes of unregistered elements `keys` into a client: its period, its hour and the
        plan's hour (the plan itself counted them when they crossed); returns (up, down) moved."""
        up = down = 0
        for key, d in keys:
            row = self.db.execute("SELECT bytes FROM unregistered WHERE key = ? AND dir = ?",
                                  (key, d)).fetchone()
            if row and row[0]:
                up, down = (up + row[0], down) if d == "up" else (up, down + row[0])
                self.db.execute("UPDATE unregistered SET bytes = 0 WHERE key = ? AND dir = ?", (key, d))
        if up or down:
            self.db.execute("UPDATE clients SET period_up = period_up + ?, period_down = period_down + ?, "
                            "last_seen = ? WHERE id = ?", (up, down, now, cid))
            add = "DO UPDATE SET up = up + excluded.up, down = down + excluded.down"
            self.db.execute(f"INSERT INTO usage (client, hour, up, down) VALUES (?, ?, ?, ?) "
                            f"ON CONFLICT (client, hour) {add}", (cid, hour, up, down))
            self.db.execute(f"INSERT INTO usage_plan (hour, up, down) VALUES (?, ?, ?) "
                            f"ON CONFLICT (hour) {add}", (hour, up, down))
        return up, down

    def owner(self, key: str, direction: str) -> Client | None:
        """The client an element of an unregistered device belongs to now: by its MAC (upload) or,
        for a download element, the client that has its address. Through the MAC's index, or one
        text match over the address lists, not the whole client list parsed."""
        if direction == "up":
            return self.client(key)
        for r in self.db.execute(f"{CLIENTS} WHERE clients.ips LIKE ?", (f'%"{key}"%',)):
            c = _row(r)
            if key in c.ips:
                return c
        return None

    def forget_unregistered(self, keys: list[tuple[str, str]]) -> None:
        """Rows whose kernel elements were deleted after their bytes were credited."""
        self.db.executemany("DELETE FROM unregistered WHERE key = ? AND dir = ? AND bytes = 0", keys)

    def expired(self, now: float, idle: float | None) -> list[str]:
        """MACs whose admission ended by `now`: past admitted_until, or no bytes counted for `idle`
        seconds (or their voucher's own idle_seconds) since the later of their last counted byte and
        their admission."""
        return [r[0] for r in self.db.execute(
            "SELECT c.mac FROM clients AS c LEFT JOIN vouchers AS v ON v.id = c.voucher "
            "WHERE c.admitted_until IS NOT NULL AND (c.admitted_until <= ? OR "
            "(COALESCE(v.idle_seconds, ?) IS NOT NULL AND "
            "MAX(c.last_seen, COALESCE(c.admitted_at, 0)) + COALESCE(v.idle_seconds, ?) <= ?)) "
            "ORDER BY c.id",
            (now, idle, idle, now))]

    def near_cap(self, margin: int, percent: int = 100) -> list[Client]:
        """Clients whose usage this period is within `margin` bytes of `percent` of their cap, or
        past it."""
        return [_row(r) for r in self.db.execute(
            f"{CLIENTS} WHERE clients.cap IS NOT NULL AND "
            "(clients.period_up + clients.period_down + ?) * 100 >= (clients.cap + clients.topup) * ? "
            "ORDER BY clients.id", (margin, percent))]

    def near_ask(self, margin: int, default: int | None) -> list[Client]:
        """Clients whose usage this period is within `margin` bytes of an ask point (their own, the
        owner's for them, or `default`; 0: none), or past it, with a point not answered yet."""
        far = 2**62
        owners = ("CASE WHEN clients.ask_at IS NULL THEN COALESCE(?, {none}) "
                  "WHEN clients.ask_at = 0 THEN {none} ELSE clients.ask_at END")
        return [_row(r) for r in self.db.execute(
            f"{CLIENTS} WHERE clients.period_up + clients.period_down + ? >= "
            f"MIN(COALESCE(clients.own_ask, ?), {owners.format(none='?')}) "  # near or past its lowest point
            f"AND (clients.ask_done IS NULL OR clients.ask_done < "  # and one point not answered yet
            f"MAX(COALESCE(clients.own_ask, 0), {owners.format(none='0')})) ORDER BY clients.id",
            (margin, far, default, far, far, default))]

    def near_voucher(self, margin: int) -> list[Client]:
        """Clients whose voucher's data is within `margin` bytes of its end, or used up."""
        return [_row(r) for r in self.db.execute(
            f"{CLIENTS} WHERE v.bytes IS NOT NULL AND v.used + ? >= v.bytes ORDER BY clients.id", (margin,))]

    def clients_by_id(self, ids) -> list[Client]:
        ids = list(ids)
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        query = f"{CLIENTS} WHERE clients.id IN ({marks}) ORDER BY clients.id"
        return [_row(r) for r in self.db.execute(query, ids)]

    def add_voucher_used(self, used: dict[int, int]) -> None:
        """Add polled bytes to vouchers: {voucher id: bytes its devices used since the last poll}."""
        self.db.executemany("UPDATE vouchers SET used = used + ? WHERE id = ?",
                            [(n, vid) for vid, n in used.items() if n])

    def reset_seen(self) -> None:
        """The kernel table was (re)created: its counters start again from zero (the clients', the
        router's and that of MACs not registered yet)."""
        self.db.execute("UPDATE clients SET seen_up = 0, seen_down = 0")
        self.db.execute("UPDATE meta SET value = '0' WHERE key IN "
                        "('router_up_seen', 'router_down_seen', 'unregistered_seen')")
        self.db.execute("DELETE FROM unregistered WHERE bytes = 0")
        self.db.execute("UPDATE unregistered SET seen = 0")

    def new_period(self) -> None:
        self.db.execute("UPDATE clients SET period_up = 0, period_down = 0, topup = 0, ask_done = NULL")
        # the bytes of devices never registered whose elements are gone: the plan keeps them
        self.db.execute("DELETE FROM unregistered WHERE seen = 0")

    def history(self, cid: int, since: int = 0, until: int | None = None) -> list[tuple[int, int, int]]:
        """Hourly buckets (hour, up, down) in [since, until)."""
        until = until if until is not None else 2**62
        return [
            tuple(r)
            for r in self.db.execute(
                "SELECT hour, up, down FROM usage WHERE client = ? AND hour >= ? AND hour < ? ORDER BY hour",
                (cid, since, until),
            )
        ]

    def plan_history(self, since: int = 0, until: int | None = None) -> list[tuple[int, int, int]]:
        """The plan's hourly buckets (hour, up, down) in [since, until): every client's metered
        bytes and the router's (id 0); the few bytes of MACs not registered yet have no rows."""
        until = until if until is not None else 2**62
        return [tuple(r) for r in self.db.execute(
            "SELECT hour, up, down FROM usage_plan WHERE hour >= ? AND hour < ? ORDER BY hour",
            (since, until))]

    def hour_totals(self, cid: int | None, since: int, until: int) -> list[tuple[int, int]]:
        """(hour, bytes) of client `cid` (None: the plan) in [since, until), up and down added in
        SQL, as plain tuples: what the forecaster and the client page read (cheaper to fetch than
        history()'s three columns, and nothing left to add per row in Python)."""
        table, where, args = ("usage", "client = ? AND ", (cid, since, until)) if cid is not None else \
            ("usage_plan", "", (since, until))
        cursor = self.db.cursor()
        cursor.row_factory = None
        return cursor.execute(f"SELECT hour, up + down FROM {table} WHERE {where}hour >= ? AND hour < ? "
                              "ORDER BY hour", args).fetchall()

    # -- history beyond the hourly rows (hotspot/history/buckets.py) -------------------------------------

    def usage_buckets(self, by: str, cid: int | None, first: int, end: int) -> dict[int, list[int]]:
        """{bucket key: [up, down]} for buckets [first, end) of `by` (hour starts, day or month keys)
        of client `cid`, or of the plan (None: every client summed), from whichever tables hold
        them: a byte is in exactly one, so adding them up never counts it twice."""
        out: dict[int, list[int]] = {}

        def add(key, up, down):
            b = out.setdefault(key, [0, 0])
            b[0] += up
            b[1] += down

        if by == "hour":
            since, until = first, end
        else:
            since, until = int(hist.start_of(by, first)), int(hist.start_of(by, end))
        rows = self.history(cid, since, until) if cid is not None else self.plan_history(since, until)
        bucket = {"hour": int, "day": hist.hour_day, "month": hist.hour_month}[by]
        for hour, up, down in rows:
            add(bucket(hour), up, down)
        who = hist.PLAN if cid is None else cid
        if by == "day":
            for day, up, down in self.db.execute(
                    "SELECT day, up, down FROM usage_days WHERE client = ? AND day >= ? AND day < ?",
                    (who, first, end)):
                add(day, up, down)
        if by == "month":
            for day, up, down in self.db.execute(
                    "SELECT day, up, down FROM usage_days WHERE client = ? AND day >= ? AND day < ?",
                    (who, first * 100, end * 100)):
                add(day // 100, up, down)
            for month, up, down in self.db.execute(
                    "SELECT month, up, down FROM usage_months WHERE client = ? AND month >= ? AND month < ?",
                    (who, first, end)):
                add(month, up, down)
        return out

    def compact(self, source: str, cutoff: int, cursor: int, limit: int = 2000,
                visits: int = 500) -> int | None:
        """Move one batch of rows older than `cutoff` one table coarser, in one transaction: `usage`
        hours into `usage_days` (cursor -1: first `usage_plan`'s into the plan's days, client -1), or
        `usage_days` into `usage_months`. At most `limit` rows and `visits` clients from client id
        `cursor` on, each through its primary key (no scan of the table). Returns the client id to go
        on from, or None when no row older than `cutoff` is left."""
        if source == "usage":
            col, target, tcol, key = "hour", "usage_days", "day", hist.hour_day
        else:
            col, target, tcol, key = "day", "usage_months", "month", lambda day: day // 100
        moved = 0
        with self.transaction() as db:
            if source == "usage" and cursor <= hist.PLAN:
                rows = db.execute("SELECT hour, up, down FROM usage_plan WHERE hour < ? "
                                  "ORDER BY hour LIMIT ?", (cutoff, limit)).fetchall()
                self._add_to(target, tcol, hist.PLAN, _sums(rows, key))
                if rows:
                    db.execute("DELETE FROM usage_plan WHERE hour >= ? AND hour <= ?",
                               (rows[0][0], rows[-1][0]))
                if len(rows) >= limit:
                    return cursor
                moved, cursor = len(rows), hist.PLAN + 1
            for _ in range(visits):
                row = db.execute(f"SELECT client FROM {source} WHERE client >= ? ORDER BY client LIMIT 1",
                                 (cursor,)).fetchone()
                if row is None:
                    cursor = None
                    break
                cid = row[0]
                rows = db.execute(f"SELECT {col}, up, down FROM {source} WHERE client = ? AND {col} < ? "
                                  f"ORDER BY {col} LIMIT ?", (cid, cutoff, limit - moved)).fetchall()
                self._add_to(target, tcol, cid, _sums(rows, key))
                if rows:
                    db.execute(f"DELETE FROM {source} WHERE client = ? AND {col} >= ? AND {col} <= ?",
                               (cid, rows[0][0], rows[-1][0]))
                moved += len(rows)
                if moved >= limit:
                    break  # this client may have more: the next batch starts with it again
                cursor = cid + 1
        return cursor

    def _add_to(self, table: str, col: str, cid: int, sums: dict[int, list[int]]) -> None:
        self.db.executemany(
            f"INSERT INTO {table} (client, {col}, up, down) VALUES (?, ?, ?, ?) ON CONFLICT (client, {col}) "
            "DO UPDATE SET up = up + excluded.up, down = down + excluded.down",
            [(cid, k, up, down) for k, (up, down) in sums.items()])

    # -- vouchers -----------------------------------------------------------------------------

    def add_vouchers(self, codes: list[str], now: float, *, bytes: int | None, valid_seconds: int,
                     devices: int) -> list[Voucher]:
        """A batch of new vouchers (one batch number for all of them)."""
        batch = (self.db.execute("SELECT MAX(batch) FROM vouchers").fetchone()[0] or 0) + 1
        self.db.executemany(
            "INSERT INTO vouchers (code, created, batch, bytes, valid_seconds, devices) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(code, now, batch, bytes, valid_seconds, devices) for code in codes])
        return self.vouchers(batch=batch)

    def vouchers(self, batch: int | None = None) -> list[Voucher]:
        if batch is None:
            rows = self.db.execute("SELECT * FROM vouchers ORDER BY id")
        else:
            rows = self.db.execute("SELECT * FROM vouchers WHERE batch = ? ORDER BY id", (batch,))
        return [_voucher(r) for r in rows]

    def voucher(self, code: str) -> Voucher | None:
        r = self.db.execute("SELECT * FROM vouchers WHERE code = ?", (code,)).fetchone()
        return _voucher(r) if r else None

    def codes_taken(self, codes: list[str]) -> set[str]:
        marks = ", ".join("?" * len(codes))
        return {r[0] for r in self.db.execute(f"SELECT code FROM vouchers WHERE code IN ({marks})", codes)}

    def update_voucher(self, vid: int, **fields) -> None:
        bad = set(fields) - {"first_used", "expires", "revoked", "used", "idle_seconds", "rate"}
        if bad:
            raise ValueError(f"not a voucher field: {sorted(bad)}")
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE vouchers SET {sets} WHERE id = ?", [*fields.values(), vid])

    def voucher_choices(self, vid: int) -> dict:
        """The own choices a voucher's holder made last ({} if none): its next device gets them."""
        r = self.db.execute("SELECT own_limit, own_warn, own_ask FROM voucher_choices WHERE voucher = ?",
                            (vid,)).fetchone()
        return dict(r) if r else {}

    def set_voucher_choices(self, vid: int, *, own_limit: int | None, own_warn: int | None,
                            own_ask: int | None) -> None:
        self.db.execute("INSERT OR REPLACE INTO voucher_choices (voucher, own_limit, own_warn, own_ask) "
                        "VALUES (?, ?, ?, ?)", (vid, own_limit, own_warn, own_ask))

    def voucher_clients(self, vid: int) -> list[Client]:
        """The devices linked to a voucher."""
        return [_row(r) for r in self.db.execute(f"{CLIENTS} WHERE clients.voucher = ? ORDER BY clients.id",
                                                 (vid,))]

    def voucher_devices(self) -> dict[int, int]:
        """{voucher id: how many devices are linked to it}."""
        return dict(self.db.execute(
            "SELECT voucher, COUNT(*) FROM clients WHERE voucher IS NOT NULL GROUP BY voucher").fetchall())
