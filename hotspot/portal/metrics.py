"""Prometheus text exposition for fleet monitoring: an admin session or the bearer token may read it."""

from __future__ import annotations

import secrets
from datetime import datetime

from flask import Blueprint, Response, request, session

from hotspot.portal.app import backend, settings
from hotspot.portal.views import STATES

bp = Blueprint("metrics", __name__)


def escape_label(value) -> str:
    """A label value per the exposition format: backslash, double quote and newline escaped."""
    return str("" if value is None else value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels) -> str:
    return "{" + ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items()) + "}"


def _number(v) -> str:
    if v is None:
        return "NaN"
    return repr(float(v)) if isinstance(v, float) else str(int(v))


def _timestamp(iso) -> float | None:
    try:
        return datetime.fromisoformat(str(iso).replace("Z", "+00:00")).timestamp()
    except (TypeError, ValueError):
        return None


def _authorized() -> bool:
    if session.get("admin"):
        return True
    token = settings().get("metrics_token")
    auth = request.headers.get("Authorization", "")
    if token and auth.startswith("Bearer "):
        return secrets.compare_digest(auth[7:].strip().encode(), token.encode())
    return False


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
    who = [(c, {"mac": c.get("mac"), "hostname": c.get("hostname") or ""}) for c in clients]
    both = ("up", "down")
    family("hotspot_client_bytes_total", "counter", "Bytes a client moved over the uplink this period.",
           [(_labels(**ids, direction=d), c.get(f"bytes_{d}") or 0) for c, ids in who for d in both])
    family("hotspot_client_cap_bytes", "gauge", "A client's cap this period in bytes (absent: no cap).",
           [(_labels(**ids), c["cap"]) for c, ids in who if c.get("cap") is not None])
    family("hotspot_client_state", "gauge", "1 for the client's current state, 0 for the others.",
           [(_labels(**ids, state=s), int(c.get("state") == s)) for c, ids in who for s in STATES])
    family("hotspot_client_speed_bits_per_second", "gauge", "A client's recent rate.",
           [(_labels(**ids, direction=d), c.get(f"speed_{d}") or 0) for c, ids in who for d in both])
    family("hotspot_plan_bytes_total", "counter", "Bytes all clients moved over the uplink this period.",
           [(_labels(direction=d), status.get(f"bytes_{d}") or 0) for d in ("up", "down")])
    family("hotspot_plan_unregistered_bytes_total", "counter", "Uplink bytes of devices not yet registered.",
           [("", status.get("bytes_unregistered") or 0)])
    family("hotspot_lan_speed_bits_per_second", "gauge", "The whole LAN's recent rate.",
           [(_labels(direction=d), status.get(f"speed_{d}") or 0) for d in ("up", "down")])
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
    return "\n".join(out) + "\n"


@bp.route("/metrics")
def metrics():
    if not _authorized():
        return Response("unauthorized\n", 401, {"WWW-Authenticate": 'Bearer realm="hotspot"'},
                        mimetype="text/plain")
    return Response(render(backend().metrics()), mimetype="text/plain; version=0.0.4")
