"""The carrier's own figure, read where the carrier offers it: its answer to a USSD code (on demand, and
every carrier_query_interval) and its usage SMS (from carrier_sms_from). A reading calibrates the active
plan: its used figure becomes the carrier's as of the reading's time, with what was counted since.

The modem is slow (a USSD answer takes seconds, some half a minute), so a thread of its own asks and
looks, and leaves what it found for hotspotd's poll, which reads it and calibrates: the poll never
waits for the modem. Every text is the network's, and an SMS anyone's: a reading is taken only where
a pattern of the SIM's matches, only from the carrier's senders, only when the SIM that answered is
the active plan's, and only when it moves the figure by at most carrier_max_jump. Whatever happens,
the last reading of each SIM is kept (its value, kind, source, time, text, taken or why not) and the
owner sees it: `hotspotctl plan query|show`, the admin Plan page.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass

from hotspot.carrier import model
from hotspot.core.config import N_
from hotspot.core.engine import Keeper
from hotspot.core.text import printable, size
from hotspot.core.units import iso

log = logging.getLogger("hotspot")

# Seconds between looks at the modem's messages (HOTSPOT_MODEM_INTERVAL: tests look more often).
LOOK_INTERVAL = float(os.environ.get("HOTSPOT_MODEM_INTERVAL", "15"))
RETRY = 600.0  # seconds before a USSD query that failed is tried again (at most the interval)
TEXT_KEPT = 1000  # characters of a text kept with its reading (and logged: 300)
SEEN_KEPT = 200  # carrier SMS remembered as handled, so a restart does not read them again
LAST = "carrier_last:"  # meta key prefix: the last reading of each SIM, by ICCID ("-": no ICCID)


@dataclass(frozen=True)
class Finding:
    """A text the carrier sent: `source` "ussd" (`by`: the code) or "sms" (`by`: the sender), to the SIM
    `iccid`, at `at` (epoch seconds: the reply's arrival, or the network's time of the SMS), and what
    the SIM's patterns found in it. The patterns are the owner's and the text anyone's: they run where
    the text is found (the carrier's thread, or hotspotctl), never in hotspotd's poll."""

    source: str
    by: str
    iccid: str | None
    text: str
    at: float
    key: str = ""  # an SMS's identity among those handled
    patterns: bool = False  # the SIM has patterns
    reading: model.Reading | None = None


def finding(cfg, source: str, by: str, iccid: str | None, text, at: float, key: str = "") -> Finding:
    """A text read with its SIM's patterns of `cfg`."""
    patterns = model.for_sim(cfg.carrier_pattern, iccid)
    reading = model.read(text, patterns) if patterns else None
    return Finding(source, by, iccid, text if isinstance(text, str) else "", at, key, bool(patterns), reading)


def sms_key(m) -> str:
    return hashlib.sha256(f"{m.number}\0{m.timestamp}\0{m.text}".encode("utf-8", "replace")).hexdigest()[:20]


def is_sender(number: str, senders) -> bool:
    return any(number.strip().lower() == s.lower() for s in senders)


class Carrier(Keeper):
    def __init__(self, core, plan) -> None:
        super().__init__(core)
        self.plan = plan
        self._found: list[Finding] = []  # the thread's findings, for the poll
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()  # look now: ModemManager signalled (a message arrived)
        self._next_query = 0.0  # epoch seconds of the next USSD query
        self._handed: set[str] = set()  # SMS keys handed to the poll (or handled before a restart)
        self._failing: dict[str, str] = {}  # what fails now ("sms", "ussd") and how

    # -- hotspotd: the thread ------------------------------------------------------------------------

    def start(self) -> None:
        if not self.cfg.modem:
            return
        self._handed = set(self._seen())
        queried = float(self.store.get("carrier_queried", "0"))
        self._next_query = queried + (self.cfg.carrier_query_interval or 0)
        threading.Thread(target=self._watch, name="carrier", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def look_now(self) -> None:
        """ModemManager signalled a change (Messaging.Added among them): look at the messages now."""
        self._wake.set()

    def _watch(self) -> None:
        """Look at the modem's messages when ModemManager signals and every LOOK_INTERVAL seconds, and
        ask by USSD when it is due."""
        while not self._stop.is_set():
            cfg = self.cfg
            if cfg.carrier_sms_from:
                self._contained("sms", self._look_at_sms, cfg)
            if cfg.carrier_query_interval and time.time() >= self._next_query:
                self._next_query = time.time() + min(RETRY, cfg.carrier_query_interval)  # if it fails
                self._contained("ussd", self._query, cfg)
            self._wake.wait(LOOK_INTERVAL)
            self._wake.clear()

    def _contained(self, what: str, fn, cfg) -> None:
        """One round of `what`: a failure is logged (once while it repeats) and the next round tries again."""
        try:
            fn(cfg)
            self._failing.pop(what, None)
        except Exception as e:
            if str(e) != self._failing.get(what):
                log.warning("carrier: %s", e)
            self._failing[what] = str(e)

    def _query(self, cfg) -> None:
        asked = self.ask(cfg)
        self._next_query = asked.at + cfg.carrier_query_interval
        self._hand(asked)

    def _hand(self, f: Finding) -> None:
        with self._lock:
            self._found.append(f)

    def _look_at_sms(self, cfg) -> None:
        from hotspot.uplink import modem

        new = [m for m in modem.received_sms() if is_sender(m.number, cfg.carrier_sms_from)
               and sms_key(m) not in self._handed]
        if not new:
            return
        m0 = modem.read()
        iccid = m0.sim_iccid if m0 else None
        now = time.time()
        for m in new:
            self._handed.add(sms_key(m))
            at = now if m.at is None or m.at > now else m.at
            self._hand(finding(cfg, "sms", m.number, iccid, m.text, at, sms_key(m)))

    def ask(self, cfg=None) -> Finding:
        """Ask the carrier by USSD now (the SIM in the modem, its code in carrier_ussd); its answer.
        ValueError when no code is set for the SIM; ModemError from the modem."""
        from hotspot.uplink import modem

        cfg = cfg or self.cfg
        if not cfg.modem:
            raise ValueError("the modem is not read (option modem '0'): no USSD")
        m = modem.read()
        if m is None:
            raise modem.ModemError("cannot ask the carrier: no modem (no ModemManager, or no modem in it)")
        code = model.ussd_code(cfg.carrier_ussd, m.sim_iccid)
        if code is None:
            raise ValueError(f"no carrier_ussd for the SIM {m.sim_iccid or '(no ICCID)'}: add a line such as "
                             f"list carrier_ussd '{(m.sim_iccid or '*')[:6]} *100#'")
        reply = modem.ussd(code)
        return finding(cfg, "ussd", code, m.sim_iccid, reply, time.time())

    # -- hotspotd: the poll ---------------------------------------------------------------------------

    def take(self) -> bool:
        """hotspotd's poll: what the thread found, read and applied; True when a reading was taken (to
        flash at once)."""
        with self._lock:
            found, self._found = self._found, []
        taken = False
        for f in found:
            taken |= self.apply(f)["taken"]
        return taken

    # -- what a reading does (the caller holds the core's lock where there is one) --------------------

    def apply(self, f: Finding) -> dict:
        """Where `f`'s reading gives a figure that may be taken, calibrate the active plan (in the plan's
        own transaction); keep it as its SIM's last reading and log it. The record (see last())."""
        record = {"iccid": f.iccid, "source": f.source, "from": f.by, "at": iso(f.at),
                  "text": kept_text(f.text), "kind": None,
                  "amount": None, "used": None, "taken": False, "why": None, "why_args": {}}

        def refuse(why: str, **args) -> dict:
            record["why"], record["why_args"] = why, {k: str(v) for k, v in args.items()}
            return record

        active = self.plan.active_iccid()
        reading = f.reading
        if reading:
            record.update(kind=reading.kind, amount=reading.amount, matched=reading.matched,
                          pattern=reading.pattern)
        if active is not None and f.iccid != active:
            refuse(N_("the SIM that answered (%(iccid)s) is not the active plan's"), iccid=f.iccid or "-")
        elif not f.patterns:
            refuse(N_("no carrier_pattern for this SIM"))
        elif reading is None:
            refuse(N_("the text matches no carrier_pattern of this SIM"))
        else:
            self._calibrate(f, reading, record, refuse)
        with self.core.transaction():
            self._keep(f, record)
        self._log(f, record)
        return record

    def _calibrate(self, f: Finding, reading: model.Reading, record: dict, refuse) -> None:
        used = reading.amount
        if reading.kind == "left":
            allowance = self.plan.allowance()
            if allowance is None:
                return refuse(N_("a figure of the data left needs the plan's quota"))
            if reading.amount > allowance:
                return refuse(N_("%(left)s left is more than the plan allows (%(allowance)s)"),
                              left=size(reading.amount), allowance=size(allowance))
            used = allowance - reading.amount
        record["used"] = used
        now = self.plan.used()
        if abs(used - now) > self.cfg.carrier_max_jump:
            return refuse(N_("it would move the plan's figure from %(now)s to %(used)s, more than "
                             "carrier_max_jump (%(max)s)"), now=size(now), used=size(used),
                          max=size(self.cfg.carrier_max_jump))
        try:
            self.plan.calibrate(used, f.at, f.source, record["text"])
        except ValueError as e:
            return refuse(N_("the plan refused it: %(reason)s"), reason=str(e).splitlines()[0])
        record["taken"] = True

    def _keep(self, f: Finding, record: dict) -> None:
        """The SIM's last reading (an older one, such as an SMS read late, is logged but does not replace
        a newer one), when the last query was, and the SMS handled."""
        key = LAST + (f.iccid or "-")
        before = self._record(key)
        if before is None or (before.get("at") or "") <= (record["at"] or ""):
            self.store.set(key, json.dumps(record, ensure_ascii=False))
        if f.source == "ussd":
            self.store.set("carrier_queried", f.at)
        if f.key:
            seen = [k for k in self._seen() if k != f.key] + [f.key]
            self.store.set("carrier_sms_seen", json.dumps(seen[-SEEN_KEPT:]))

    def _log(self, f: Finding, record: dict) -> None:
        text = printable(record["text"][:300])
        if record["taken"]:
            log.info("carrier: %s %s says %s %s: the plan's used figure is now %s (text: %s)", f.source,
                     printable(f.by),
                     size(record["amount"]), record["kind"], size(record["used"]), text)
        else:
            log.warning("carrier: %s %s: reading refused, %s (text: %s)", f.source, printable(f.by),
                        why_text(record), text)

    def _seen(self) -> list[str]:
        try:
            seen = json.loads(self.store.get("carrier_sms_seen") or "[]")
        except ValueError:
            return []
        return [k for k in seen if isinstance(k, str)] if isinstance(seen, list) else []

    def _record(self, key: str) -> dict | None:
        try:
            found = json.loads(self.store.get(key) or "null")
        except ValueError:
            return None
        return found if isinstance(found, dict) else None

    # -- hotspotctl and the Plan page ---------------------------------------------------------------

    def query(self) -> dict:
        """`hotspotctl plan query`: ask the carrier now and apply its answer. {"iccid", "code", "reply",
        "reading": the record}. ValueError (no code for the SIM) or ModemError (the modem) otherwise."""
        f = self.ask()
        with self.core.lock:
            record = self.apply(f)
        return {"iccid": f.iccid, "code": f.by, "reply": f.text, "reading": record}

    def last(self) -> dict | None:
        """The last reading of the active plan's SIM (without one: the newest of any SIM), or None:
        {"iccid", "source": "ussd" | "sms", "from": the code or sender, "at", "text", "kind": "used" |
        "left" | None, "amount", "used": the plan's figure it gives, "taken": bool, "why": why not
        (English, marked for translation, with "why_args"), "matched", "pattern"}."""
        active = self.plan.active_iccid()
        if active is not None:
            return self._record(LAST + active)
        rows = self.store.db.execute("SELECT key FROM meta WHERE key LIKE ?", (LAST + "%",)).fetchall()
        records = [r for r in (self._record(k) for (k,) in rows) if r]
        return max(records, key=lambda r: r.get("at") or "", default=None)


def kept_text(text) -> str:
    """A text as it is kept and shown: its first TEXT_KEPT characters, what UTF-8 cannot hold as '?'."""
    if not isinstance(text, str):
        return ""
    return text[:TEXT_KEPT].encode("utf-8", "replace").decode("utf-8")


def why_text(record: dict) -> str:
    """A record's reason in English, its values in place."""
    try:
        return record["why"] % record.get("why_args", {})
    except (KeyError, TypeError, ValueError):
        return str(record.get("why"))


def carrier_line(record: dict | None) -> str:
    """`hotspotctl plan show`'s line of the last reading."""
    if not record:
        return "carrier:   no reading yet"
    what = (f"{size(record['amount'])} {record['kind']}" if record.get("kind") else "no figure")
    state = "taken" if record["taken"] else f"refused: {why_text(record)}"
    return (f"carrier:   {what} by {record['source']} {printable(record['from'])} at {record['at']} "
            f"({printable(state)})")
