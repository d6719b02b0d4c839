"""Prometheus text exposition of hotspotd's figures (the metrics operation's answer): served by the
portal at /metrics and written by hotspotd to the metrics textfile. Pure: no Flask, no I/O. The names
follow Prometheus' rules (base units, `_total` counters, names of devices only in hotspot_client_info)
and pass `promtool check metrics`."""

from __future__ import annotations

from datetime import datetime

from hotspot.clients.policy import STATES
from hotspot.uplink.facts import modem_facts


def escape_label(value) -> str:
    """A label value per the exposition format: backslash, double quote and newline escaped."""
    return str("" if value is None else value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels) -> str:
    return "{" + ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items()) + "}"


def _number(v) -> str:
    if v is None:
        return "NaN"
    return repr(float(v)) if isinstance(v, float) else str(int(v))


def _bytes(bits_per_second) -> float:
    """Prometheus' base unit is the byte: hotspotd's rates are bits/s."""
    return (bits_per_second or 0) / 8


def mac_label(mac) -> str:
    """The one spelling of a MAC in a label, as `hotspotctl clients --json` has it: lower-case, colons."""
    return str(mac or "").lower().replace("-", ":")


def _timestamp(iso) -> float | None:
    try:
        return datetime.fromisoformat(str(iso).replace("Z", "+00:00")).timestamp()
    except (TypeError, ValueError):
        return None


def render(m: dict) -> str:
    """The exposition text of a backend.metrics() answer."""
    out: list[str] = []

    def family(name: str, kind: str, help_: str, samples: list[tuple[str, object]]) -> None:
        out.append(f"# HELP {name} {help_}")
        out.append(f"# TYPE {name} {kind}")
        out.extend(f"{name}{labels} {_number(v)}" for labels, v in samples)

    clients = m.get("clients") or []
    status = m.get("status") or {}
    health = m.get("health") or {}
    # Series carry only the MAC: a name the device or the owner changes would start new series.
    who = [(c, {"mac": mac_label(c.get("mac"))}) for c in clients]
    both = ("up", "down")
    family("hotspot_client_info", "gauge", "1 per client, naming it: its DHCP hostname and the owner's "
           "alias (join on mac).", [(_labels(**ids, hostname=c.get("hostname") or "",
                                            alias=c.get("alias") or ""), 1) for c, ids in who])
    family("hotspot_client_bytes_total", "counter", "Bytes a client moved over the uplink this period.",
           [(_labels(**ids, direction=d), c.get(f"bytes_{d}") or 0) for c, ids in who for d in both])
    family("hotspot_client_cap_bytes", "gauge", "A client's cap this period in bytes (absent: no cap).",
           [(_labels(**ids), c["cap"]) for c, ids in who if c.get("cap") is not None])
    family("hotspot_client_state", "gauge", "1 for the client's current state, 0 for the others.",
           [(_labels(**ids, state=s), int(c.get("state") == s)) for c, ids in who for s in STATES])
    family("hotspot_client_speed_bytes_per_second", "gauge", "A client's recent rate.",
           [(_labels(**ids, direction=d), _bytes(c.get(f"speed_{d}"))) for c, ids in who for d in both])
    family("hotspot_plan_bytes_total", "counter", "Bytes all clients moved over the uplink this period.",
           [(_labels(direction=d), status.get(f"bytes_{d}") or 0) for d in ("up", "down")])
    family("hotspot_plan_unregistered_bytes_total", "counter", "Uplink bytes of devices not yet registered.",
           [("", status.get("bytes_unregistered") or 0)])
    family("hotspot_lan_speed_bytes_per_second", "gauge", "The whole LAN's recent rate.",
           [(_labels(direction=d), _bytes(status.get(f"speed_{d}"))) for d in ("up", "down")])
    plan = status.get("plan") or {}
    if plan.get("default_cap") is not None:
        family("hotspot_plan_default_cap_bytes", "gauge", "The cap new clients get.",
               [("", plan["default_cap"])])
    end = _timestamp(plan.get("period_end"))
    if end is not None:
        family("hotspot_period_end_timestamp_seconds", "gauge", "When this period ends.", [("", end)])
    family("hotspot_clients", "gauge", "Known clients.", [("", len(clients))])
    last = _timestamp(health.get("last_poll"))
    if last is not None:
        family("hotspot_last_poll_timestamp_seconds", "gauge", "When hotspotd last read the kernel counters.",
               [("", last)])
    family("hotspot_poll_duration_seconds", "gauge", "How long the last poll took.",
           [("", float(health.get("poll_seconds") or 0.0))])
    family("hotspot_rebuilds_total", "counter", "Times hotspotd rebuilt the kernel table.",
           [("", health.get("rebuilds") or 0)])
    if health.get("uptime_seconds") is not None:
        family("hotspot_uptime_seconds", "gauge", "Seconds since hotspotd started.",
               [("", float(health["uptime_seconds"]))])
    out += plan_families(plan) + sim_plan_families(m.get("plans") or [])
    out += alert_families(m.get("alerts") or {}) + modem_families(status.get("modem"))
    out += app_families(m.get("apps") or [])
    return "\n".join(out) + "\n"


def app_families(rows: list[dict]) -> list[str]:
    """Which apps use the data: each client's (and the router's, mac "") bytes per category this
    period, "other" included; only categories with bytes, so the series stay few."""
    samples = [(_labels(mac=mac_label(r.get("mac")), category=cat["category"], direction=d),
                cat[f"bytes_{d}"])
               for r in rows for cat in r.get("categories") or [] if cat.get("bytes_total")
               for d in ("up", "down")]
    return _family("hotspot_category_bytes_total", "counter", "Bytes a client moved per app category "
                   "this period (names from DNS answers; other = the rest).", samples)


def _family(name: str, kind: str, help_: str, samples: list[tuple[str, object]]) -> list[str]:
    return [f"# HELP {name} {help_}", f"# TYPE {name} {kind}",
            *(f"{name}{labels} {_number(v)}" for labels, v in samples)]


GUARD_LEVELS = ("ok", "throttle", "block", "stop")


def plan_families(plan: dict) -> list[str]:
    """The uplink's data plan (status()["plan"]): used, allowed, the guard and its points, the
    router's own bytes, roaming. Absent figures give no sample rather than a made-up zero."""
    guard = plan.get("guard") or {}
    limits = guard.get("limits") or {}
    out = _family("hotspot_plan_bytes_used", "gauge", "Bytes of the data plan used this cycle (all "
                  "clients, the router, unregistered devices).", [("", plan.get("plan_used") or 0)])
    if plan.get("allowance") is not None:
        out += _family("hotspot_plan_bytes_allowed", "gauge", "Bytes the data plan allows this cycle, "
                       "top-ups included.", [("", plan["allowance"])])
    if plan.get("forecast_end_bytes") is not None:
        out += _family("hotspot_plan_forecast_bytes", "gauge", "Bytes likely used by the cycle's end "
                       "(hotspot.forecast.model).", [("", plan["forecast_end_bytes"])])
    if plan.get("forecast_low") is not None and plan.get("forecast_high") is not None:
        out += _family("hotspot_plan_forecast_range_bytes", "gauge", "The forecast's 80 % range for the "
                       "cycle's end.", [('{bound="low"}', plan["forecast_low"]),
                                       ('{bound="high"}', plan["forecast_high"])])
    end = _timestamp(plan.get("cycle_end"))
    if end is not None:
        out += _family("hotspot_plan_cycle_end_timestamp_seconds", "gauge", "When the plan's cycle ends.",
                       [("", end)])
    state = guard.get("state") or "ok"
    out += _family("hotspot_plan_guard_level", "gauge", "1 for the level the plan guard reached, 0 for "
                   "the others.", [(_labels(level=lv), int(state == lv)) for lv in GUARD_LEVELS])
    points = [(_labels(level=lv), v) for lv, v in limits.items() if v is not None]
    if points:
        out += _family("hotspot_plan_guard_point_bytes", "gauge", "The plan's bytes at which each "
                       "guard level cuts in.", points)
    out += _family("hotspot_router_bytes_total", "counter", "The router's own bytes over a metered "
                   "uplink this cycle.", [(_labels(direction=d), plan.get(f"router_{d}") or 0) for d in
                                          ("up", "down")])
    out += _family("hotspot_plan_roaming", "gauge", "1 while the modem roams (the roaming points apply).",
                   [("", int(bool(plan.get("roaming"))))])
    return out


def sim_plan_families(plans: list[dict]) -> list[str]:
    """Each SIM's plan by its ICCID ("" for the plan used without a modem): the one in force, each one's
    bytes this cycle and its allowance."""
    if not plans:
        return []

    def label(p: dict) -> str:
        return _labels(iccid=p.get("iccid") or "", name=p.get("name") or "")
    allowed = [(label(p), p["allowance"]) for p in plans if p.get("allowance") is not None]
    return (_family("hotspot_sim_plan_active", "gauge", "1 for the SIM whose plan is in force, 0 for the "
                    "others.", [(label(p), int(bool(p.get("active")))) for p in plans])
            + _family("hotspot_sim_plan_bytes_used", "gauge", "Bytes each SIM's plan used in its cycle.",
                      [(label(p), p.get("used") or 0) for p in plans])
            + (_family("hotspot_sim_plan_bytes_allowed", "gauge", "Bytes each SIM's plan allows in its "
                       "cycle, top-ups included.", allowed) if allowed else []))


def alert_families(alerts: dict) -> list[str]:
    """Alerts fired (all time) by kind, and the delivery log's rows by status."""
    fired = alerts.get("fired") or {}
    sent = alerts.get("deliveries") or {}
    return (_family("hotspot_alerts_fired_total", "counter", "Alert points reached, by what reached them.",
                    [(_labels(kind=k), fired.get(k) or 0) for k in ("plan", "client")])
            + _family("hotspot_deliveries", "gauge", "Notifications in the delivery log, by status "
                      "(finished ones are pruned to the newest 500).",
                      [(_labels(status=k), sent.get(k) or 0) for k in ("pending", "sent", "failed")]))


def modem_families(modem) -> list[str]:
    """The modem's figures, when hotspotd reads one; nothing at all when it does not."""
    m = modem_facts(modem)
    if m is None:
        return []
    out = []
    if m["signal"] is not None:
        out += _family("hotspot_modem_signal_quality_ratio", "gauge", "The modem's signal quality "
                       "(0 to 1).", [("", m["signal"] / 100)])
    if m["rsrp"] is not None:
        out += _family("hotspot_modem_rsrp_dbm", "gauge", "The modem's reference signal received power.",
                       [("", m["rsrp"])])
    bearer = [(_labels(direction=d), m[f"{d}_bytes"]) for d in ("rx", "tx") if m[f"{d}_bytes"] is not None]
    if bearer:
        out += _family("hotspot_modem_bearer_bytes_total", "counter", "Bytes over the modem's data "
                       "connection since it was set up.", bearer)
    if m["roaming"] is not None:
        out += _family("hotspot_modem_roaming", "gauge", "1 while the modem roams.",
                       [("", int(bool(m["roaming"])))])
    return out
