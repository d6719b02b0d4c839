"""The uplink's data plan in words and figures, as the dashboard, the Plan page and /metrics show it:
the plan's summary (plan_summary), the guard's levels, the modem's figures (modem_facts)."""

from __future__ import annotations

from hotspot.plan.model import LEVELS
from hotspot.portal import forecast_text
from hotspot.portal.i18n import _, format_datetime, format_percent, format_rate, format_size
from hotspot.uplink.facts import MODEM, modem_facts  # noqa: F401  (the pages import them from here)


def guard_label(state: str) -> str:
    """What the plan guard is doing, in a few words."""
    return {
        "ok": _("Not holding anyone back"),
        "throttle": _("Slowing devices down"),
        "block": _("Blocking devices"),
        "stop": _("All metered data stopped"),
    }.get(state, state)


def level_label(level: str) -> str:
    """What a guard level does once the plan reaches its point."""
    return {
        "throttle": _("Slow all but the exempt devices"),
        "block": _("Block all but the exempt devices"),
        "stop": _("Stop all metered data, the router's too"),
    }.get(level, level)


def cycle_label(cycle: str | None) -> str:
    return {"daily": _("Daily"), "weekly": _("Weekly"), "monthly": _("Monthly"), "pass": _("Pass")}.get(
        cycle, cycle or "–")


def plan_tone(state: str, percent: int) -> str:
    """good, warn or bad: the guard's level first, then how full the plan is."""
    if state in ("block", "stop") or percent >= 100:
        return "bad"
    return "warn" if state == "throttle" or percent >= 80 else "good"


def _point_percent(point: int, allowance: int | None) -> str:
    return "" if not allowance else f"{point * 100 / allowance:.3g}%"


def plan_summary(p: dict) -> dict:
    """The plan (status()["plan"]: its fields flattened) as the dashboard and the Plan page show it:
    the raw figures kept, the words and sizes added."""
    allowance, used = p.get("allowance"), p.get("plan_used") or 0
    guard = p.get("guard") or {}
    state, limits = guard.get("state") or "ok", guard.get("limits") or {}
    percent = format_percent(used, allowance)
    # a level the guard reached counts as reached though the bytes polled stop just short of its point
    # (the kernel dropped the packet that would cross it)
    held = LEVELS[:LEVELS.index(state) + 1] if state in LEVELS else ()
    points = [{"level": lv, "label": level_label(lv), "size": format_size(limits[lv]),
               "at": format_percent(limits[lv], allowance) if allowance else None,
               "at_text": _point_percent(limits[lv], allowance), "reached": used >= limits[lv] or lv in held}
              for lv in LEVELS if limits.get(lv) is not None]
    return {
        **p,
        "has_quota": allowance is not None,
        "used_text": format_size(used),
        "allowance_text": format_size(allowance) if allowance is not None else _("No quota"),
        "left_text": format_size(p.get("plan_left")) if p.get("plan_left") is not None else "∞",
        "percent": percent,
        "percent_text": f"{p.get('plan_percent') or 0:g}%",
        "tone": plan_tone(state, percent),
        "guard_state": state,
        "guard_text": guard_label(state),
        "guard_tone": {"ok": "good", "throttle": "warn"}.get(state, "bad"),
        "points": points,
        "cycle_text": cycle_label(p.get("cycle")),
        "dates_text": f"{format_datetime(p.get('cycle_start'))} – {format_datetime(p.get('cycle_end'))}",
        "forecast_text": plan_forecast(p),
        "forecast_band": forecast_text.band(
            p.get("plan_used"), {"period_end_bytes": p.get("forecast_end_bytes"),
                                 "low": p.get("forecast_low"), "high": p.get("forecast_high")},
            p.get("allowance")),
        "router_text": format_size(p.get("router_bytes") or 0),
        "meters": [{"name": meter_label(name), "text": format_size(m["bytes"]),
                    "difference": ("+" if m["difference"] >= 0 else "−") + format_size(abs(m["difference"]))}
                   for name, m in sorted((p.get("meters") or {}).items())],
        "topup_text": format_size(p["plan_topup"]) if p.get("plan_topup") else None,
        "throttle_rate_text": format_rate(guard["throttle_rate"]) if guard.get("throttle_rate") else None,
    }


def meter_label(name: str) -> str:
    """Another count of the plan's bytes, by where it comes from."""
    labels = {"modem": _("The modem's count"), "interfaces": _("The uplinks' interface counters")}
    return labels.get(name, name)


def plan_forecast(p: dict) -> str:
    """Where the cycle ends (with the forecast's range), and whether the plan runs out before."""
    if p.get("expired"):
        return _("The pass has ended: top up or set a new plan.")
    if p.get("cycle_start") is None:
        return _("The cycle starts with the first metered byte.")
    return forecast_text.plan_sentence(p)


