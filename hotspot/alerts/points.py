"""Alerts: the plan, or a client, reached one of the alert points (alert_at, % of the plan or cap).

Each point fires once per period: the row that says it fired (table `alerts`, unique per subject,
period and point) and the notifications it queues (hotspot.alerts.outbox) go into the database in the same
transaction, and hotspotd commits that to flash at once, so neither a restart nor a reboot fires it
again, and none is lost. Detection runs in the poll, on figures the poll already has; delivery runs
in the outbox's thread, so a receiver that is down never slows counting or enforcement.
"""

from __future__ import annotations

import logging
import sqlite3

from hotspot.alerts import outbox
from hotspot.alerts.language import PREFIX, Words, words
from hotspot.alerts.message import Message
from hotspot.core.config import N_, Config
from hotspot.core.units import format_bytes, iso
from hotspot.plan.model import crossed

log = logging.getLogger("hotspot")

TABLE = """
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,                       -- plan | client
    subject TEXT NOT NULL,                    -- 'plan', or the client's MAC
    period REAL NOT NULL,                     -- the start of the cycle or period it belongs to
    point INTEGER NOT NULL,                   -- percent of the plan or of the cap
    fired REAL NOT NULL,
    used INTEGER NOT NULL,
    allowance INTEGER NOT NULL,
    UNIQUE (kind, subject, period, point)
)"""
FIELDS = ("id", "kind", "subject", "period", "point", "fired", "used", "allowance")


def schema(db: sqlite3.Connection) -> None:
    db.execute(TABLE)


def forget(db: sqlite3.Connection, mac: str) -> int:
    """Erase the alerts about a client (a device forgotten); how many."""
    schema(db)
    return db.execute("DELETE FROM alerts WHERE kind = 'client' AND subject = ?", (mac,)).rowcount


def channels_of(cfg: Config, send_sms=None) -> dict:
    """The delivery channels the config sets up ({name: channel}); SMS only with a modem. A channel
    that refuses its settings is logged and left out: the others, and counting, go on without it."""
    from hotspot.alerts.channels import EmailChannel, SmsChannel, WebhookChannel

    made = {}
    if cfg.alert_webhook:
        made["webhook"] = lambda: WebhookChannel(cfg.alert_webhook, cfg.alert_webhook_secret)
    if cfg.alert_email and cfg.smtp_host:
        made["email"] = lambda: EmailChannel(
            cfg.smtp_host, port=cfg.smtp_port, security=cfg.smtp_security, user=cfg.smtp_user,
            password=cfg.smtp_password, sender=cfg.smtp_from or f"hotspot@{cfg.smtp_host}",
            recipients=list(cfg.alert_email))
    if cfg.alert_sms and send_sms is not None:
        made["sms"] = lambda: SmsChannel(send_sms, list(cfg.alert_sms))
    found: dict = {}
    for name, make in made.items():
        try:
            found[name] = make()
        except Exception as e:  # whatever a channel refuses, it is this channel's problem only
            log.error("alerts: the %s channel is off: %s", name, e)
    return found


def fired(db: sqlite3.Connection, kind: str, period: float) -> dict[str, set[int]]:
    """{subject: the points that fired} for one kind and period, in one query (a poll may look at
    thousands of clients near their caps)."""
    found: dict[str, set[int]] = {}
    for subject, point in db.execute("SELECT subject, point FROM alerts WHERE kind = ? AND period = ?",
                                     (kind, period)):
        found.setdefault(subject, set()).add(point)
    return found


def recent(db: sqlite3.Connection, limit: int = 100) -> list[dict]:
    """The alerts that fired, newest first."""
    schema(db)
    rows = db.execute(f"SELECT {', '.join(FIELDS)} FROM alerts ORDER BY id DESC LIMIT ?", (int(limit),))
    return [{**dict(zip(FIELDS, r)), "fired": iso(r[5]), "period": iso(r[3])} for r in rows]


def check(db: sqlite3.Connection, cfg: Config, *, plan: dict | None, clients: list[dict], now: float,
          channels: list[str]) -> list[Message]:
    """Record and queue every alert point reached and not yet fired (the caller holds a transaction).
    `plan`: {"used", "allowance", "cycle_start" (unix), "cycle_end"} or None; `clients`: dicts with
    "mac", "name", "used", "cap", "period_start" for clients with a cap. Returns the messages queued."""
    schema(db)
    queued, lang = [], cfg.owner_language
    if plan and plan.get("allowance") and plan.get("cycle_start") is not None:
        done = fired(db, "plan", plan["cycle_start"]).get("plan", set())
        for point in crossed(plan["used"], plan["allowance"], cfg.alert_at, done):
            queued.append(_fire(db, "plan", "plan", plan["cycle_start"], point, plan["used"],
                                plan["allowance"], plan_message(point, plan, lang), channels, now))
    if cfg.alert_clients and clients:
        done = fired(db, "client", clients[0]["period_start"])  # one period for every client
        for c in clients:
            for point in crossed(c["used"], c["cap"], cfg.alert_at, done.get(c["mac"], set())):
                queued.append(_fire(db, "client", c["mac"], c["period_start"], point, c["used"], c["cap"],
                                    client_message(point, c, lang), channels, now))
    return queued


def _fire(db, kind, subject, period, point, used, allowance, message, channels, now) -> Message:
    db.execute("INSERT INTO alerts (kind, subject, period, point, fired, used, allowance) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)", (kind, subject, period, point, now, used, allowance))
    if channels:
        outbox.enqueue(db, message, channels, kind="alert", now=now)
    log.warning("alert: %s", message.subject.removeprefix("hotspot: "))
    return message


def plan_message(point: int, plan: dict, lang: str = "en") -> Message:
    w = words(lang)
    left = max(0, plan["allowance"] - plan["used"])
    quota, used, rest = format_bytes(plan["allowance"]), format_bytes(plan["used"]), format_bytes(left)
    subject = (w._("the data plan is used up (%(quota)s)", quota=quota) if point >= 100 else
               w._("%(point)s%% of the data plan used, %(left)s left", point=point, left=rest))
    text = w._("%(used)s of the plan's %(quota)s used this cycle (%(point)s%% point reached); %(left)s left "
               "until %(end)s.", used=used, quota=quota, point=point, left=rest,
               end=w.when(plan.get("cycle_end")))
    data = {"event": "plan", "point": point, "used": plan["used"], "allowance": plan["allowance"],
            "left": left, "cycle_start": iso(plan["cycle_start"]), "cycle_end": iso(plan.get("cycle_end")),
            "lang": w.tag}
    if point < 100:
        text, data = _with_forecast(w, text, data, plan.get("forecast"), _PLAN_RUNS_OUT)
    return Message(subject=PREFIX + subject, text=text, data=data)


# When the allowance likely runs out, said of the plan and of a client: (around, as early as).
_PLAN_RUNS_OUT = (N_("At this pace the plan runs out around %(date)s."),
                  N_("At this pace the plan runs out around %(date)s (perhaps as early as %(earliest)s)."))
_CAP_RUNS_OUT = (N_("At this pace it reaches its cap around %(date)s."),
                 N_("At this pace it reaches its cap around %(date)s (perhaps as early as %(earliest)s)."))


def _with_forecast(w: Words, text: str, data: dict, forecast, runs_out: tuple[str, str]) -> tuple[str, dict]:
    """The forecast's sentence (hotspot.forecast.model) added to an alert: when the allowance likely runs
    out and how early it could, else the likely total and its range by the period's end.
    `forecast`: {"end_bytes", "low", "high", "runs_out_at", "runs_out_earliest"} (unix times), or a
    function that returns it (called only for an alert that fires), or None."""
    f = forecast() if callable(forecast) else forecast
    if not f or f.get("end_bytes") is None:
        return text, data
    if f.get("runs_out_at"):
        if f.get("runs_out_earliest") and f["runs_out_earliest"] < f["runs_out_at"] - 3600:
            said = w._(runs_out[1], date=w.when(f["runs_out_at"]), earliest=w.when(f["runs_out_earliest"]))
        else:
            said = w._(runs_out[0], date=w.when(f["runs_out_at"]))
    else:
        said = w._("At this pace about %(total)s by the period's end (%(low)s to %(high)s).",
                   total=format_bytes(f["end_bytes"]), low=format_bytes(f["low"]),
                   high=format_bytes(f["high"]))
    data = {**data, "forecast_end_bytes": f["end_bytes"], "forecast_low": f["low"],
            "forecast_high": f["high"],
            "runs_out_at": iso(f.get("runs_out_at")), "runs_out_earliest": iso(f.get("runs_out_earliest"))}
    return w.sentence(text, said), data


def client_message(point: int, c: dict, lang: str = "en") -> Message:
    w = words(lang)
    name = c.get("name") or c["mac"]
    left = max(0, c["cap"] - c["used"])
    cap = format_bytes(c["cap"])
    subject = (w._("%(name)s used up its %(cap)s cap", name=name, cap=cap) if point >= 100 else
               w._("%(name)s used %(point)s%% of its %(cap)s cap", name=name, point=point, cap=cap))
    text = w._("%(name)s (%(mac)s) used %(used)s of its %(cap)s cap this period; %(left)s left.",
               name=name, mac=c["mac"], used=format_bytes(c["used"]), cap=cap, left=format_bytes(left))
    data = {"event": "client", "point": point, "mac": c["mac"], "name": c.get("name"), "used": c["used"],
            "cap": c["cap"], "left": left, "lang": w.tag}
    if point < 100:
        text, data = _with_forecast(w, text, data, c.get("forecast"), _CAP_RUNS_OUT)
    return Message(subject=PREFIX + subject, text=text, data=data)
