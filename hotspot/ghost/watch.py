"""Ghost traffic in hotspotd: short bins from the polls, the detector (hotspot.ghost.detector) on them, the
destinations responsible from conntrack, the events table and the owner's alert.

The bins live in memory only (a restart loses at most the run in progress: the detector needs
`ghost_min_duration` of it again). A device's baseline comes from its hourly history and is taken
again each hour. While a device's latest bin is above its baseline, hotspotd keeps a snapshot of its
connections' byte counters (one conntrack dump for all such devices, at a bin's end; none while
nothing is odd), so that an event names the remote addresses that carried the bytes since the run
began, not over each connection's life. An event is stored and its alert queued once, in one
transaction; while the run goes on the same event grows (end, bytes, destinations).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import sqlite3
import time
from collections import deque

from hotspot.alerts import outbox
from hotspot.alerts.language import PREFIX, Words, words
from hotspot.alerts.message import Message
from hotspot.core.units import InvalidValue, format_bytes, iso
from hotspot.ghost import detector as ghost

log = logging.getLogger("hotspot")

TABLE = """
CREATE TABLE IF NOT EXISTS ghost_events (
    id INTEGER PRIMARY KEY,
    client INTEGER NOT NULL,
    mac TEXT NOT NULL,
    kind TEXT NOT NULL,                       -- upload | unusual_hour | idle (hotspot.ghost.detector.KINDS)
    start REAL NOT NULL,
    end REAL NOT NULL,
    up INTEGER NOT NULL,
    down INTEGER NOT NULL,
    destinations TEXT NOT NULL DEFAULT '[]',  -- JSON: [{"addr", "name", "up", "down"}], most bytes first
    fired REAL NOT NULL
)"""
FIELDS = ("id", "client", "mac", "kind", "start", "end", "up", "down", "destinations", "fired")
TOP = 5  # destinations kept per event
MAX_BLOCKED = 64  # blocked destinations per device
BANNER_SECONDS = 86400  # a device's page shows its events of the last day
_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")


def schema(db: sqlite3.Connection) -> None:
    db.execute(TABLE)


def settings_of(cfg) -> ghost.Settings:
    return ghost.Settings(bin_seconds=cfg.ghost_bin, min_seconds=cfg.ghost_min_duration,
                          min_bytes=cfg.ghost_min_bytes, sensitivity=cfg.ghost_sensitivity)


def utc_offset(t: float) -> int:
    return time.localtime(t).tm_gmtoff


# -- destinations -------------------------------------------------------------------------------


def destinations(flows, base: dict[int, tuple[int, int]], mark: int, mask: int, top: int = TOP) -> list[dict]:
    """The remote addresses that carried a client's bytes: its connections (conntrack `flows` whose
    mark holds `mark` in `mask`) summed by remote address, counting from the snapshot `base`
    ({connection id: (up, down)}; a connection not in it counts whole), most bytes first."""
    found: dict[str, list[int]] = {}
    for f in flows:
        if f.mark & mask != mark:
            continue
        up0, down0 = base.get(f.id, (0, 0))
        up = f.up - up0 if f.up >= up0 else f.up
        down = f.down - down0 if f.down >= down0 else f.down
        if up or down:
            total = found.setdefault(f.dst, [0, 0])
            total[0] += up
            total[1] += down
    ranked = sorted(found.items(), key=lambda kv: (-(kv[1][0] + kv[1][1]), kv[0]))[:top]
    return [{"addr": addr, "name": None, "up": up, "down": down} for addr, (up, down) in ranked]


def parse_destination(text: str) -> tuple[str | None, str | None]:
    """A destination to block: (address, None) or (None, DNS name); anything else is refused."""
    text = (text or "").strip()
    try:
        a = ipaddress.ip_address(text)
    except ValueError:
        name = text.lower()
        if not _NAME.match(name) or name.replace(".", "").isdigit():
            raise InvalidValue(f"not an IP address or a DNS name: {text[:80]!r}") from None
        return None, name.rstrip(".")
    if a.is_unspecified or a.is_loopback or a.is_multicast or a.is_link_local:
        raise InvalidValue(f"{a} is not a remote address a device could send to")
    if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped:
        a = a.ipv4_mapped
    return str(a), None


# -- events -------------------------------------------------------------------------------------


def _row(r) -> dict:
    d = dict(zip(FIELDS, r))
    d["destinations"] = json.loads(d["destinations"])
    d["bytes_up"], d["bytes_down"] = d.pop("up"), d.pop("down")
    d["bytes_total"] = d["bytes_up"] + d["bytes_down"]
    for k in ("start", "end", "fired"):
        d[k] = iso(d[k])
    return d


def events(db: sqlite3.Connection, client: int | None = None, since: float = 0,
           limit: int = 100) -> list[dict]:
    """Ghost events, newest first (of one client, and since a time, if given); any connection (a
    reader too: no table yet is no events)."""
    q = f"SELECT {', '.join(FIELDS)} FROM ghost_events WHERE end >= ?"
    args: list = [since]
    if client is not None:
        q += " AND client = ?"
        args.append(client)
    q += " ORDER BY id DESC LIMIT ?"
    try:
        return [_row(r) for r in db.execute(q, [*args, int(limit)])]
    except sqlite3.OperationalError:  # no such table: hotspotd never saw any
        return []


def forget(db: sqlite3.Connection, cid: int, mac: str) -> int:
    """Erase a client's ghost-traffic events (a device forgotten); how many."""
    schema(db)
    return db.execute("DELETE FROM ghost_events WHERE client = ? OR mac = ?", (cid, mac)).rowcount


def view(db: sqlite3.Connection, c, now: float) -> dict:
    """What a client's page shows: its events of the last day, its blocked destinations and who
    blocked each ("owner" or "device": it may unblock only its own), and whether it paused itself
    (Client `c`, any connection)."""
    blocked = [{"addr": a, "name": n, "by": "device" if d else "owner"} for a, n, d in db.execute(
        "SELECT addr, name, by_device FROM blocked_dests WHERE client = ? ORDER BY created, addr", (c.id,))]
    return {"events": events(db, c.id, since=now - BANNER_SECONDS, limit=3), "blocked": blocked,
            "self_paused": c.paused}


def kind_text(w: Words, kind: str) -> str:
    """What an event's kind was, in the owner's words."""
    return {"upload": w._("a sudden sustained upload"),
            "unusual_hour": w._("traffic at an hour unusual for it"),
            "idle": w._("steady background traffic while idle")}.get(kind, kind)


def message(e: dict, name: str | None, lang: str = "en") -> Message:
    """The owner's alert for an event (dict with mac, kind, start, end, bytes_up/down, destinations), in
    `lang` (owner_language)."""
    w = words(lang)
    who = name or e["mac"]
    total = e["bytes_up"] + e["bytes_down"]
    dests = w.list(f"{d['name'] or d['addr']} ({format_bytes(d['up'] + d['down'])})"
                   for d in e["destinations"]) or w._("unknown (no connection counters)")
    subject = w._("ghost traffic on %(name)s: %(size)s", name=who, size=format_bytes(total))
    text = w._("%(name)s (%(mac)s) used %(total)s (%(up)s up, %(down)s down) since %(start)s: %(what)s. "
               "Destinations: %(destinations)s. Block a destination or pause the device on its page or in "
               "the admin UI.", name=who, mac=e["mac"], total=format_bytes(total),
               up=format_bytes(e["bytes_up"]), down=format_bytes(e["bytes_down"]), start=w.when(e["start"]),
               what=kind_text(w, e["kind"]), destinations=dests)
    data = {"event": "ghost", "kind": e["kind"], "mac": e["mac"], "name": name, "start": e["start"],
            "end": e["end"], "bytes_up": e["bytes_up"], "bytes_down": e["bytes_down"], "bytes_total": total,
            "destinations": e["destinations"], "lang": w.tag}
    return Message(subject=PREFIX + subject, text=text, data=data)


class GhostWatch:
    """hotspotd's side: feed it each poll's bytes per client; at each bin's end it looks for events."""

    def __init__(self, settings: ghost.Settings, *, mark_of, mask: int, run_dir: str,
                 flows=None, offset=utc_offset) -> None:
        self.st = settings
        self.mark_of = mark_of  # client id -> its value in the conntrack mark
        self.mask = mask
        self.run_dir = run_dir
        self.flows = flows  # () -> conntrack flows; default hotspot.kernel.conntrack.flows
        self.offset = offset
        self.window = max(self.st.min_bins * 4, 12)
        self.bins: dict[int, deque] = {}
        self.current: float | None = None  # the start of the bin being filled
        self.filling: dict[int, list[int]] = {}
        self.baselines: dict[int, tuple[int, ghost.Baseline]] = {}
        # client -> its connections' counters when its run of odd bins began
        self.snapshots: dict[int, dict[int, tuple[int, int]]] = {}
        self.open: dict[int, int] = {}  # client -> the event its current run made (id)

    def add(self, moved: dict[int, tuple[int, int]], now: float) -> bool:
        """Bytes a poll moved ({client id: (up, down)}); True when this closed a bin."""
        start = now // self.st.bin_seconds * self.st.bin_seconds
        closed = False
        if self.current is not None and start > self.current:
            self._close()
            closed = True
        if self.current is None or closed:
            self.current = start
        for cid, (up, down) in moved.items():
            if cid <= 1 or not (up or down):
                continue  # the router (0) and unregistered MACs (1) are nobody's device
            b = self.filling.setdefault(cid, [0, 0])
            b[0] += up
            b[1] += down
        return closed

    def forget(self, ids) -> None:
        """Drop what is kept about client ids (forgotten devices; a new device given one of them
        starts with nothing)."""
        for cid in ids:
            for kept in (self.bins, self.filling, self.baselines, self.snapshots, self.open):
                kept.pop(cid, None)

    def _close(self) -> None:
        for cid in set(self.bins) | set(self.filling):
            up, down = self.filling.get(cid, (0, 0))
            q = self.bins.setdefault(cid, deque(maxlen=self.window))
            q.append((self.current, up, down))
            if not any(u or d for _t, u, d in q):
                del self.bins[cid]  # quiet for a whole window: nothing to remember
        self.filling = {}

    def baseline(self, store, cid: int, first_seen: float, now: float) -> ghost.Baseline:
        hour = int(now // ghost.HOUR * ghost.HOUR)
        cached = self.baselines.get(cid)
        if cached is None or cached[0] != hour:
            since = max(first_seen, hour - ghost.BASELINE_DAYS * ghost.DAY)
            history = store.history(cid, int(since), hour)
            cached = (hour, ghost.baseline(history, since, hour, self.offset(now)))
            self.baselines[cid] = cached
        return cached[1]

    def _flows(self):
        if self.flows is not None:
            return self.flows()
        from hotspot.kernel import conntrack

        return conntrack.flows(self.mask)

    def check(self, store, now: float, names: dict[int, str | None]) -> list[tuple[dict, bool]]:
        """After a bin closed: each client's run of odd bins; events made or grown, with True for a
        new one (the caller stores them through `save`). `names`: client id -> display name."""
        first_seen = dict(store.db.execute("SELECT id, first_seen FROM clients"))
        found, odd = [], []
        for cid, q in self.bins.items():
            if cid not in first_seen:
                continue
            b = self.baseline(store, cid, first_seen[cid], now)
            t, up, down = q[-1]
            if ghost.flags(b, t, up, down, self.st, self.offset(t)):
                odd.append(cid)
            else:
                if len(q) < 2 or not ghost.flags(b, *q[-2], self.st, self.offset(t)):
                    self.snapshots.pop(cid, None)  # the run is over (one quiet bin is forgiven)
                    self.open.pop(cid, None)
            runs = ghost.detect(b, list(q), self.st, self.offset(t))
            if runs and runs[-1].end >= q[-1][0]:  # a run that reaches the latest bin
                found.append((cid, runs[-1]))
        need = [cid for cid in odd if cid not in self.snapshots] + [cid for cid, _e in found]
        flows = []
        if need:
            try:
                flows = self._flows()
            except OSError as e:
                log.warning("ghost traffic: cannot read conntrack: %s", e)
        for cid in odd:
            if cid not in self.snapshots:
                mark = self.mark_of(cid)
                self.snapshots[cid] = {f.id: (f.up, f.down) for f in flows if f.mark & self.mask == mark}
        out = []
        for cid, e in found:
            dests = destinations(flows, self.snapshots.get(cid, {}), self.mark_of(cid), self.mask)
            mac = store.db.execute("SELECT mac FROM clients WHERE id = ?", (cid,)).fetchone()[0]
            out.append(({"client": cid, "mac": mac, "name": names.get(cid), "kind": e.kind,
                         "start": e.start, "end": e.end, "up": e.up, "down": e.down, "destinations": dests},
                         cid not in self.open))
        return out

    def save(self, db: sqlite3.Connection, found: list[tuple[dict, bool]], now: float, channels: list[str],
             run_dir: str, lang: str = "en") -> list[Message]:
        """Store new events and grow open ones (the caller holds a transaction); queue the owner's
        alert for each new one, in `lang`. Destinations get their DNS names here."""
        from hotspot.apps.snoop.names import names_for

        schema(db)
        queued = []
        for e, new in found:
            named = names_for(run_dir, [d["addr"] for d in e["destinations"]], now, device=e["mac"])
            for d in e["destinations"]:
                d["name"] = named.get(d["addr"])
            dests = json.dumps(e["destinations"])
            cid = e["client"]
            if not new and cid in self.open:
                db.execute("UPDATE ghost_events SET end = ?, up = MAX(up, ?), down = MAX(down, ?), "
                           "destinations = CASE WHEN ? = '[]' THEN destinations ELSE ? END WHERE id = ?",
                           (e["end"], e["up"], e["down"], dests, dests, self.open[cid]))
                continue
            eid = db.execute("INSERT INTO ghost_events (client, mac, kind, start, end, up, down, "
                             "destinations, fired) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (cid, e["mac"], e["kind"], e["start"], e["end"], e["up"], e["down"], dests,
                              now)).lastrowid
            self.open[cid] = eid
            view = {"mac": e["mac"], "kind": e["kind"], "start": iso(e["start"]), "end": iso(e["end"]),
                    "bytes_up": e["up"], "bytes_down": e["down"], "destinations": e["destinations"]}
            m = message(view, e["name"], lang)
            if channels:
                outbox.enqueue(db, m, channels, kind="ghost", now=now)
            log.warning("ghost traffic: %s", m.subject.removeprefix("hotspot: "))
            queued.append(m)
        return queued
