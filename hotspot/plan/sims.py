"""The plans of the SIMs and eSIM profiles the router has met, one per ICCID.

Each SIM's plan has its settings (the plan options' texts, as the config file spells them, copied from
the config's plan options, the template, when the SIM is first met) and its running state (the meta keys
of the plan: bytes used, top-ups, the cycle's bounds, the other meters). The active plan's state lives in
meta, where every part of hotspot reads it; the others' lie in their row, swapped in whole when the
modem's ICCID changes. So a switch is one transaction, and nothing counted for one plan lands in another.

The plan used without a modem has the ICCID '' (None outside this module). The first SIM ever met takes
it over, figures and all: a router that counted before it read a modem was counting that SIM's bytes.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from hotspot.core.config import ConfigError, from_text
from hotspot.core.uci import quote_value

TABLE = """
CREATE TABLE IF NOT EXISTS sim_plans (
    iccid TEXT PRIMARY KEY,       -- '': the plan used without a modem
    name TEXT,                    -- the owner's name for it, else NULL
    operator TEXT,                -- the SIM's home operator as the modem said, else NULL
    sim_type TEXT,                -- physical | esim | unknown
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    settings TEXT NOT NULL,       -- JSON {option: text}: the plan options of this SIM
    state TEXT                    -- JSON {meta key: value} while another plan is active, else NULL
)"""

# The options each SIM has its own of (the rest of the config is the router's, whatever the SIM).
SETTINGS = ("plan_quota", "plan_period", "plan_period_start", "plan_start_hour", "plan_timezone",
            "plan_pass_length", "plan_activated", "plan_throttle_at", "plan_throttle_rate", "plan_block_at",
            "plan_stop_at", "roaming_throttle_at", "roaming_block_at", "roaming_stop_at", "roaming_quota",
            "alert_at")
# The meta keys that are a plan's running state, besides its meters ('meter_*').
STATE = ("plan_used", "plan_topup", "plan_start", "plan_end", "plan_activated", "plan_expired",
         "router_up", "router_down", "plan_roaming_used")
ACTIVE = "plan_sim"  # meta: the active plan's ICCID ('' or absent: the plan used without a modem)


def schema(db: sqlite3.Connection) -> None:
    db.execute(TABLE)


def active(db: sqlite3.Connection) -> str:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (ACTIVE,)).fetchone()
    return row[0] if row else ""


def template(cfg) -> dict[str, str]:
    """The plan options' texts in `cfg`: what a SIM met for the first time starts with."""
    options = type(cfg).schema.options
    return {key: _text(options[key], getattr(cfg, key)) for key in SETTINGS}


def _text(option, value) -> str:
    if option.list:
        return " ".join((option.spell or str)(v) for v in value) or "none"
    return option.text(value)


def checked(cfg, settings: dict[str, str], label: str) -> Any:
    """`cfg` with a plan's settings in force, each checked as the config file's are (the checks across
    options too); ConfigError naming `label` and the option for anything wrong."""
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"{label}: not a plan setting: {', '.join(unknown)}")
    schema = type(cfg).schema
    # as in the config file: '' is the default, 'none' is none where the two differ
    given = {k: "none" if v == "" and schema.options[k].none_differs else v for k, v in settings.items()}
    lines = [f"config {schema.section} 'main'"] + [f"\toption {k} {quote_value(v)}" for k, v in given.items()
                                                   if v != ""]
    mine = from_text("\n".join(lines) + "\n", type(cfg), label)
    return cfg.replace(**{key: getattr(mine, key) for key in SETTINGS})


def row(db: sqlite3.Connection, iccid: str) -> dict | None:
    r = db.execute("SELECT iccid, name, operator, sim_type, first_seen, last_seen, settings FROM sim_plans "
                   "WHERE iccid = ?", (iccid,)).fetchone()
    if r is None:
        return None
    return {"iccid": r[0], "name": r[1], "operator": r[2], "sim_type": r[3], "first_seen": r[4],
            "last_seen": r[5], "settings": json.loads(r[6])}


def rows(db: sqlite3.Connection) -> list[dict]:
    """Every plan, the one used without a modem first, then by when their SIM was first met."""
    iccids = [r[0] for r in db.execute("SELECT iccid FROM sim_plans ORDER BY iccid != '', first_seen")]
    return [row(db, i) for i in iccids]


def state_of(db: sqlite3.Connection, iccid: str) -> dict[str, str]:
    """A plan's running state: meta's for the active plan, else its row's."""
    if iccid == active(db):
        return _meta_state(db)
    r = db.execute("SELECT state FROM sim_plans WHERE iccid = ?", (iccid,)).fetchone()
    return json.loads(r[0]) if r and r[0] else {}


def _meta_state(db: sqlite3.Connection) -> dict[str, str]:
    marks = ",".join("?" * len(STATE))
    return dict(db.execute(f"SELECT key, value FROM meta WHERE key IN ({marks}) "
                           "OR key LIKE 'meter\\_%' ESCAPE '\\'", STATE).fetchall())


def ensure_unmodemed(db: sqlite3.Connection, cfg, now: float) -> None:
    """The row of the plan used without a modem, while no SIM has been met."""
    if active(db) == "" and db.execute("SELECT 1 FROM sim_plans").fetchone() is None:
        db.execute("INSERT INTO sim_plans (iccid, first_seen, last_seen, settings) VALUES ('', ?, ?, ?)",
                   (now, now, json.dumps(template(cfg))))


def meet(db: sqlite3.Connection, cfg, iccid: str, now: float, operator: str | None,
         sim_type: str | None) -> bool:
    """Record the SIM `iccid` as seen now; True when it was never met before (it gets the template, or,
    for the first SIM ever, the plan used without a modem)."""
    found = db.execute("UPDATE sim_plans SET last_seen = ?, operator = coalesce(?, operator), "
                       "sim_type = coalesce(?, sim_type) WHERE iccid = ?",
                       (now, operator, sim_type, iccid)).rowcount
    if found:
        return False
    adopted = db.execute("SELECT count(*) FROM sim_plans WHERE iccid != ''").fetchone()[0] == 0 and \
        active(db) == ""
    if adopted:  # the first SIM: the plan counted so far is its plan
        db.execute("UPDATE sim_plans SET iccid = ?, last_seen = ?, operator = ?, sim_type = ? "
                   "WHERE iccid = ''", (iccid, now, operator, sim_type))
        if db.execute("SELECT 1 FROM sim_plans WHERE iccid = ?", (iccid,)).fetchone() is None:
            db.execute("INSERT INTO sim_plans (iccid, operator, sim_type, first_seen, last_seen, settings) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (iccid, operator, sim_type, now, now,
                                                     json.dumps(template(cfg))))
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (ACTIVE, iccid))
    else:
        db.execute("INSERT INTO sim_plans (iccid, operator, sim_type, first_seen, last_seen, settings, "
                   "state) VALUES (?, ?, ?, ?, ?, ?, '{}')", (iccid, operator, sim_type, now, now,
                                                      json.dumps(template(cfg))))
    return True


def swap(db: sqlite3.Connection, iccid: str) -> str:
    """Make `iccid`'s plan the active one: the active plan's state into its row, `iccid`'s into meta
    (the caller holds a transaction, and filed the kernel's bytes to the old plan first). Returns the
    ICCID that was active."""
    old = active(db)
    if old == iccid:
        return old
    db.execute("UPDATE sim_plans SET state = ? WHERE iccid = ?", (json.dumps(_meta_state(db)), old))
    r = db.execute("SELECT state FROM sim_plans WHERE iccid = ?", (iccid,)).fetchone()
    marks = ",".join("?" * len(STATE))
    db.execute(f"DELETE FROM meta WHERE key IN ({marks}) OR key LIKE 'meter\\_%' ESCAPE '\\'", STATE)
    state = json.loads(r[0] or "{}") if r else {}
    db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", state.items())
    db.execute("UPDATE sim_plans SET state = NULL WHERE iccid = ?", (iccid,))
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (ACTIVE, iccid))
    return old


def set_settings(db: sqlite3.Connection, iccid: str, settings: dict[str, str]) -> None:
    db.execute("UPDATE sim_plans SET settings = ? WHERE iccid = ?", (json.dumps(settings), iccid))


def set_name(db: sqlite3.Connection, iccid: str, name: str | None) -> bool:
    return db.execute("UPDATE sim_plans SET name = ? WHERE iccid = ?", (name, iccid)).rowcount > 0


def set_state_value(db: sqlite3.Connection, iccid: str, key: str, value) -> None:
    """One state value of a plan that is not active (a top-up bought for a SIM not in the modem)."""
    state = state_of(db, iccid)
    state[key] = str(value)
    db.execute("UPDATE sim_plans SET state = ? WHERE iccid = ?", (json.dumps(state), iccid))
