"""A durable outbox: notifications wait in the daemon's SQLite database until a channel took them.

The daemon enqueues with its own connection, inside the transaction that records why (an alert fired),
so a crash can neither lose the notification nor queue it twice. A worker thread delivers with its OWN
connection, one short autocommit statement at a time, never inside a transaction while it talks to the
network, so the poll never waits for a slow receiver.

Claiming a row is one UPDATE that only succeeds while the row is still due: it moves `next_try` a lease
ahead and stamps a claim token, so two workers (an old daemon still stopping, a new one starting) never
send the same row. A worker that dies mid-send leaves its claim behind: the row is due again when the
lease ends, or at once when the next worker finds the claiming process gone. In that rare case, and
after a reboot that restored an older database from flash, a row is sent again with the same delivery
id (webhook header X-Hotspot-Delivery, email Message-ID), by which the receiver can drop the copy.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import secrets
import socket
import sqlite3
import struct
import threading
import time
import zlib
from datetime import datetime, timezone

from hotspot.alerts.channels import DeliveryError
from hotspot.alerts.language import PREFIX, words
from hotspot.alerts.message import Message

log = logging.getLogger("hotspot")

TABLE = """
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,                 -- the delivery id a receiver sees (random, survives resends)
    created REAL NOT NULL,
    channel TEXT NOT NULL,                    -- a channel's name: webhook, email, sms
    kind TEXT NOT NULL,                       -- alert, report, ...
    subject TEXT NOT NULL,
    message_json TEXT NOT NULL,               -- the Message (images base64); a sent row keeps only its text
    status TEXT NOT NULL DEFAULT 'pending',   -- pending | sent | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL,                   -- due from then; while claimed, the end of the claim's lease
    last_try REAL,
    last_error TEXT,                          -- the last failure's reason, kept after a later success
    receipt TEXT,                             -- what the channel said when it took it: HTTP 200, 250 OK
    sent_at REAL,
    claim TEXT                                -- pid:token of the worker sending it now, NULL = none
)"""
INDEX = "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_try)"
LOG_FIELDS = ("id", "uid", "created", "channel", "kind", "subject", "status", "attempts", "last_error",
              "receipt", "sent_at", "next_try", "last_try")
DAY = 86400


def schema(db: sqlite3.Connection) -> None:
    """Declare the outbox's table (no executescript: that would commit the caller's transaction)."""
    db.execute(TABLE)
    db.execute(INDEX)


def forget(db: sqlite3.Connection, name: str) -> int:
    """Erase the deliveries of alerts and ghost-traffic events that name `name` (a device's MAC:
    the device was forgotten); a report, about everyone, stays. How many."""
    schema(db)
    return db.execute("DELETE FROM deliveries WHERE kind IN ('alert', 'ghost') "
                      "AND instr(message_json, ?) > 0", (name,)).rowcount


def dump_message(message: Message, *, text_only: bool = False) -> str:
    doc = {"subject": message.subject, "text": message.text, "data": message.data}
    if not text_only:
        doc["html"] = message.html
        doc["images"] = [[cid, base64.b64encode(png).decode("ascii")] for cid, png in message.images]
    return json.dumps(doc, ensure_ascii=False, default=str)


def load_message(text: str) -> Message:
    doc = json.loads(text)
    return Message(subject=doc["subject"], text=doc["text"], html=doc.get("html"),
                   images=tuple((cid, base64.b64decode(png)) for cid, png in doc.get("images", ())),
                   data=doc.get("data") or {})


def enqueue(db: sqlite3.Connection, message: Message, channels, kind: str = "alert",
            now: float | None = None) -> list[int]:
    """Queue `message` once per channel name, on the caller's connection and in its transaction (no
    commit here): it is queued if and only if the caller's transaction commits. Returns the row ids.
    Call the worker's wake() after the commit for a delivery within a fraction of a second."""
    if isinstance(channels, str):
        raise TypeError("channels is a list of channel names, not one string")
    now = time.time() if now is None else now
    schema(db)
    body = dump_message(message)
    ids = []
    for channel in channels:
        cur = db.execute(
            "INSERT INTO deliveries (uid, created, channel, kind, subject, message_json, next_try) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (secrets.token_hex(8), now, channel, kind, message.subject, body, now))
        ids.append(cur.lastrowid)
    return ids


def log_entries(db: sqlite3.Connection, limit: int = 100) -> list[dict]:
    """Recent deliveries, newest first (the admin UI, `hotspotctl alerts`); any connection will do."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deliveries'").fetchall():
        return []
    rows = db.execute(f"SELECT {', '.join(LOG_FIELDS)} FROM deliveries ORDER BY id DESC LIMIT ?",
                      (int(limit),)).fetchall()
    return [dict(zip(LOG_FIELDS, row)) for row in rows]


def make_test_message(now: float | None = None, lang: str = "en") -> Message:
    """What `hotspotctl alerts test CHANNEL` sends, in `lang` (owner_language): every part a real
    notification has, a tiny image too."""
    from html import escape

    w = words(lang)
    when = datetime.fromtimestamp(time.time() if now is None else now, timezone.utc).astimezone()
    host = socket.gethostname() or "hotspot"
    stamp = when.isoformat(timespec="seconds")
    said = w._("Test notification from hotspot on %(host)s at %(time)s.", host=host,
               time=w.when(when.timestamp()))
    reach, square = w._("Alerts and reports reach you here."), w._("a green square")
    html = (f"<p>{escape(said)}</p>"
            f'<p><img src="cid:test-image" alt="{escape(square)}" width="16" height="16"> '
            f"{escape(reach)}</p>")
    return Message(subject=PREFIX + w._("test notification from %(host)s", host=host),
                   text=w.sentence(said, reach), html=html,
                   images=(("test-image", _png(16, 16, (46, 160, 67))),),
                   data={"kind": "test", "host": host, "time": stamp, "lang": w.tag})


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A one-colour PNG, from zlib alone."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = (b"\x00" + bytes(rgb) * width) * height
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, someone else's
        return True
    return True


class Outbox:
    """Delivers due rows of `deliveries` through `channels` ({name: channel}); a thread once started.

    Back-off after a failure: base_delay doubling per attempt up to max_delay, each +-20 % at random so
    a fleet of routers does not retry in step. A row gives up ('failed') once its back-off delays add
    up to give_up_after: counted in the delays it was given, not on the wall clock, so the clock's jump
    at the first NTP sync (routers without a real-time clock) neither fails a fresh row nor stalls one.
    `channels` may be swapped for a new dict at any time (the owner changed the config).
    """

    # The module's functions, as Outbox.schema(db), Outbox.enqueue(db, ...), Outbox.log(db) (in the
    # methods below, `log` is still the module's logger).
    schema = staticmethod(schema)
    enqueue = staticmethod(enqueue)
    log = staticmethod(log_entries)

    def __init__(self, db_path, channels: dict, *, clock=time.time, base_delay: float = 30,
                 max_delay: float = 3600, give_up_after: float = 2 * DAY, lease: float = 600,
                 keep: int = 500, idle: float = 30, rng: random.Random | None = None,
                 lang: str = "en") -> None:
        self.db_path = str(db_path)
        self.channels = channels
        self.clock = clock
        self.base_delay, self.max_delay, self.give_up_after = base_delay, max_delay, give_up_after
        self.lease = lease  # longer than any send can take: all channels have timeouts
        self.keep = keep  # finished rows kept for the log
        self.idle = idle  # the longest sleep: rows queued by another process are seen within it
        self.rng = rng or random.Random()
        self.lang = lang  # owner_language: the test message's
        self.token = f"{os.getpid()}:{secrets.token_hex(4)}"
        # Its own connection, autocommit: each statement is its own short transaction.
        self.db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        schema(self.db)
        self._lock = threading.Lock()  # one pass at a time on this connection (thread, tests, CLI)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the thread ---------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Deliver now (call after the enqueueing transaction committed)."""
        self._wake.set()

    def stop(self, timeout: float = 5) -> None:
        """End the thread (for good: it closes the connection), waiting a little; a send in progress
        ends by its own timeout, and its row, if unmarked, is sent again by the next worker."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        self._guard("releasing stale claims", self.release_stale)
        while not self._stop.is_set():
            self._wake.clear()
            self._guard("delivery pass", self.deliver_due)
            self._guard("pruning", self.prune)
            wait = self._guard("reading the next due time", self._next_wait)
            self._wake.wait(self.idle if wait is None else wait)
        self._guard("closing", self.db.close)

    def _guard(self, what: str, fn):
        """Contain anything (a locked or damaged database, a bug): log it, the thread goes on."""
        try:
            return fn()
        except Exception as e:
            log.error("outbox: %s failed: %s: %s", what, type(e).__name__, e)
            log.debug("outbox: %s failed", what, exc_info=True)
            if not self._stop.is_set():
                self._stop.wait(1)  # no busy loop on a persistent fault
            return None

    def _next_wait(self) -> float:
        with self._lock:
            row = self.db.execute("SELECT MIN(next_try) FROM deliveries WHERE status = 'pending'").fetchall()
        due = row[0][0]
        if due is None:
            return self.idle
        return min(self.idle, max(0.0, due - self.clock()))

    # -- one pass -----------------------------------------------------------------------------

    def deliver_due(self, limit: int = 50) -> int:
        """Try each row due now, oldest first; returns how many this worker claimed."""
        with self._lock:
            now = self.clock()
            # A next_try beyond any delay we give means the clock went back: due now, not in a year.
            horizon = now + 2 * max(self.max_delay, self.lease)
            due = self.db.execute(
                "SELECT id, channel FROM deliveries WHERE status = 'pending' "
                "AND (next_try <= ? OR next_try > ?) ORDER BY next_try, id LIMIT ?",
                (now, horizon, limit)).fetchall()
            done, failing = 0, set()
            for rid, name in due:
                if self._stop.is_set():
                    break
                if name in failing:
                    continue  # its receiver just failed: its other rows must not hold up other channels
                try:
                    ok = self._deliver(rid, horizon)
                except Exception as e:  # the database (locked for 30 s?): this row waits for its lease
                    log.error("outbox: delivery %d via %s: %s: %s", rid, name, type(e).__name__, e)
                    ok = False
                done += ok is not None
                if ok is False:
                    failing.add(name)
            return done

    def _claim(self, rid: int, horizon: float) -> tuple | None:
        now = self.clock()
        cur = self.db.execute(
            "UPDATE deliveries SET claim = ?, next_try = ?, attempts = attempts + 1, last_try = ? "
            "WHERE id = ? AND status = 'pending' AND (next_try <= ? OR next_try > ?)",
            (self.token, now + self.lease, now, rid, now, horizon))
        if cur.rowcount != 1:
            return None  # another worker took it, or it is no longer due
        return self.db.execute("SELECT uid, channel, message_json, attempts FROM deliveries WHERE id = ?",
                               (rid,)).fetchall()[0]

    def _deliver(self, rid: int, horizon: float) -> bool | None:
        """None: not ours (taken or no longer due); True: sent or finished; False: failed, retried."""
        claimed = self._claim(rid, horizon)
        if claimed is None:
            return None
        uid, name, body, attempts = claimed
        channel = self.channels.get(name)
        if channel is None:
            self._fail(rid, name, f"no channel {name!r} is configured (removed from the config?)")
            return True
        try:
            message = load_message(body)
        except Exception as e:
            self._fail(rid, name, f"unreadable message: {type(e).__name__}: {e}")
            return True
        try:
            receipt = channel.send(message, delivery_id=uid)
        except DeliveryError as e:
            self._retry(rid, name, attempts, str(e))
            return False
        except Exception as e:  # a bug in a channel is one failed attempt, not a dead thread
            log.debug("outbox: delivery %d via %s raised", rid, name, exc_info=True)
            self._retry(rid, name, attempts, f"{type(e).__name__}: {e}")
            return False
        self._sent(rid, name, message, str(receipt))
        return True

    def _sent(self, rid: int, name: str, message: Message, receipt: str) -> None:
        # Right after the send: the window for a resend after a crash is this one statement.
        self.db.execute(
            "UPDATE deliveries SET status = 'sent', receipt = ?, sent_at = ?, claim = NULL, "
            "message_json = ? WHERE id = ? AND claim = ?",
            (receipt[:200], self.clock(), dump_message(message, text_only=True), rid, self.token))
        log.info("outbox: delivery %d via %s: %s", rid, name, receipt)

    def _retry(self, rid: int, name: str, attempts: int, error: str) -> None:
        error = " ".join(error.split())[:300]
        if self.waited(attempts) >= self.give_up_after:
            self._fail(rid, name, f"{error} (gave up after {attempts} attempts)")
            return
        delay = self.delay(attempts)
        self.db.execute("UPDATE deliveries SET next_try = ?, last_error = ?, claim = NULL "
                        "WHERE id = ? AND claim = ?", (self.clock() + delay, error, rid, self.token))
        log.warning("outbox: delivery %d via %s failed (attempt %d, next in %.0f s): %s",
                    rid, name, attempts, delay, error)

    def _fail(self, rid: int, name: str, error: str) -> None:
        self.db.execute("UPDATE deliveries SET status = 'failed', last_error = ?, claim = NULL "
                        "WHERE id = ? AND claim = ?", (error, rid, self.token))
        log.error("outbox: delivery %d via %s failed for good: %s", rid, name, error)

    def delay(self, attempts: int) -> float:
        """Seconds before the next try after `attempts` failed ones (exponential, +-20 % jitter)."""
        nominal = min(self.max_delay, self.base_delay * 2 ** min(attempts - 1, 40))
        return nominal * self.rng.uniform(0.8, 1.2)

    def waited(self, attempts: int) -> float:
        """The nominal back-off a row has been given over `attempts` failed attempts."""
        return sum(min(self.max_delay, self.base_delay * 2 ** min(k, 40)) for k in range(attempts))

    # -- upkeep -------------------------------------------------------------------------------

    def release_stale(self) -> int:
        """Make rows claimed by a process that no longer runs due now (a crashed daemon's sends)."""
        with self._lock:
            rows = self.db.execute("SELECT id, claim FROM deliveries WHERE status = 'pending' "
                                   "AND claim IS NOT NULL").fetchall()
            released = 0
            for rid, claim in rows:
                pid = claim.partition(":")[0]
                if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
                    released += self.db.execute(
                        "UPDATE deliveries SET claim = NULL, next_try = ? WHERE id = ? AND claim = ?",
                        (self.clock(), rid, claim)).rowcount
            if released:
                log.warning("outbox: %d deliveries were being sent when their process ended; "
                            "sending them again", released)
            return released

    def prune(self) -> int:
        """Keep the newest `keep` finished rows: the database lives in RAM and is copied to flash."""
        with self._lock:
            return self.db.execute(
                "DELETE FROM deliveries WHERE status != 'pending' AND id NOT IN "
                "(SELECT id FROM deliveries WHERE status != 'pending' ORDER BY id DESC LIMIT ?)",
                (self.keep,)).rowcount

    # -- synchronous --------------------------------------------------------------------------

    def test(self, channel_name: str) -> str:
        """Send a test message through one channel now, not queued; its receipt or DeliveryError."""
        channel = self.channels.get(channel_name)
        if channel is None:
            have = ", ".join(sorted(self.channels)) or "none"
            raise DeliveryError(f"no channel {channel_name!r} is configured (configured: {have})")
        return channel.send(make_test_message(self.clock(), self.lang),
                            delivery_id=f"test-{secrets.token_hex(8)}")

    def close(self) -> None:
        """Close the connection (after stop(), or when no thread was started)."""
        if not self.alive:
            with self._lock:
                self.db.close()
