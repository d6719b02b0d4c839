"""The words and figures people read about one client, in their language: its own page's strings
(client_text, for the page and /api/me) and its row in the admin's tables (admin_row).

Both the server-rendered pages and the JSON their scripts refresh from use these, so the wording lives in
one place and the scripts only place finished text (with textContent) and draw charts.
"""

from __future__ import annotations

from hotspot.portal import forecast_text
from hotspot.portal.i18n import (
    _,
    format_date,
    format_datetime,
    format_percent,
    format_rate,
    format_size,
    format_time,
    get_locale,
)

STATES = ("ok", "warned", "capped", "throttled", "blocked")


def state_label(state: str) -> str:
    """A one- or two-word name of a state for tables and badges."""
    return {
        "ok": _("OK"),
        "warned": _("Near cap"),
        "capped": _("Capped"),
        "throttled": _("Slowed"),
        "blocked": _("Blocked"),
        "not_admitted": _("Not signed in"),
    }.get(state, state)


def headline(c: dict) -> str:
    reason = c.get("reason")
    return {
        None: _("You're online at full speed"),
        "warned": _("You're close to your cap"),
        "cap_throttle": _("You're slowed down"),
        "throttle": _("You're slowed down"),
        "cap_block": _("Your internet is paused"),
        "blocked": _("Your internet is paused"),
        "paused": _("Your internet is paused"),
        "not_admitted": _("You're not signed in yet"),
        "voucher_used": _("You're slowed down") if c.get("state") == "throttled"
        else _("Your internet is paused"),
        "plan_throttle": _("You're slowed down"),
        "plan_block": _("Your internet is paused"),
        "plan_stop": _("Your internet is paused"),
        "ask": _("Waiting for your answer"),
        "own_limit": _("Your internet is paused"),
    }.get(reason, state_label(c.get("state", "")))


def _when(value) -> dict:
    return {"date": format_date(value), "time": format_time(value)}


def explanation(c: dict) -> str:
    """Why the client is in its state and when that ends, in one sentence."""
    reason, cap, until = c.get("reason"), c.get("cap"), c.get("until")
    rate = format_rate(c.get("rate_limit"))
    if reason == "cap_throttle":
        if until:
            return _(
                "Slowed to %(rate)s because you used your %(cap)s — "
                "full speed again on %(date)s at %(time)s.",
                rate=rate, cap=format_size(cap), **_when(until),
            )
        return _("Slowed to %(rate)s because you used your %(cap)s.", rate=rate, cap=format_size(cap))
    if reason == "cap_block":
        if until:
            return _(
                "Paused because you used your %(cap)s — back online on %(date)s at %(time)s.",
                cap=format_size(cap), **_when(until),
            )
        return _("Paused because you used your %(cap)s.", cap=format_size(cap))
    if reason == "voucher_used":
        data = format_size(c.get("voucher_bytes"))
        if c.get("state") == "throttled":
            return _("Slowed to %(rate)s because the %(data)s of your voucher are used up. "
                     "Enter a new voucher code for full speed.", rate=rate, data=data)
        return _("Paused because the %(data)s of your voucher are used up. "
                 "Enter a new voucher code to continue.", data=data)
    if reason in ("plan_throttle", "plan_block", "plan_stop"):
        used_up = reason == "plan_stop" or ((c.get("plan") or {}).get("percent") or 0) >= 100
        return plan_explanation(reason, until, used_up)
    if reason == "throttle":
        return _("Slowed to %(rate)s by the hotspot's owner.", rate=rate)
    if reason == "blocked":
        return _("The hotspot's owner has paused this device. Ask them to unblock it.")
    if reason == "paused":
        return _("You paused this device. Resume it here when you are ready.")
    if reason == "warned":
        return _(
            "You have used %(pct)s%% of your %(cap)s: %(left)s left until %(date)s at %(time)s.",
            pct=format_percent(c.get("bytes_total"), cap), cap=format_size(cap),
            left=format_size(c.get("remaining")), **_when(c.get("period_end")),
        )
    if reason == "not_admitted":
        return _("Sign in to use the internet through this hotspot.")
    if reason == "ask":
        return _("This device reached %(point)s and is paused until you answer.",
                 point=format_size(c.get("ask_point")))
    if reason == "own_limit":
        return _("Stopped at your own limit, %(size)s. Raise or clear it below to go on.",
                 size=format_size(c.get("own_limit")))
    on_voucher = c.get("voucher_bytes") is not None
    if on_voucher and (cap is None or c.get("remaining") == c.get("voucher_remaining")):
        return _("%(left)s of your voucher's %(data)s left.", left=format_size(c.get("voucher_remaining")),
                 data=format_size(c.get("voucher_bytes")))
    if cap is not None:
        return _(
            "%(left)s of your %(cap)s left until %(date)s at %(time)s.",
            left=format_size(c.get("remaining")), cap=format_size(cap), **_when(c.get("period_end")),
        )
    return _("No data cap on this device.")


def plan_explanation(reason: str, until, used_up: bool) -> str:
    """Why the plan guard holds the client back, and until when (a pass does not renew). A block
    before the plan's end saves the rest for the owner's devices; at its end, the plan is used up."""
    if reason == "plan_throttle":
        if until:
            return _("Slowed to save what is left of the hotspot's data plan — full speed again when "
                     "the plan renews on %(date)s at %(time)s.", **_when(until))
        return _("Slowed to save what is left of the hotspot's data plan, until its owner adds data.")
    if reason == "plan_block" and not used_up:
        if until:
            return _("Paused to save what is left of the hotspot's data plan — back online when the "
                     "plan renews on %(date)s at %(time)s.", **_when(until))
        return _("Paused to save what is left of the hotspot's data plan, until its owner adds data.")
    if until:
        return _("Paused because the hotspot's data plan is used up — back online when the plan renews "
                 "on %(date)s at %(time)s.", **_when(until))
    return _("Paused because the hotspot's data plan is used up, until its owner adds data.")


def forecast(c: dict) -> str:
    return forecast_text.client_sentence(c)


def tone(c: dict) -> str:
    """A CSS class for the state: good, warn or bad."""
    return {"ok": "good", "warned": "warn", "throttled": "warn"}.get(c.get("state"), "bad")


def cap_banner(c: dict) -> tuple[str, str]:
    """The alert banner for the client's own cap once it passed an alert point: (text, tone). It says
    what the status below does not: the point passed and what happens at the cap, or, at the cap,
    who can add more."""
    point, cap = c.get("cap_alert"), c.get("cap")
    if point is None or cap is None or c.get("reason") == "own_limit":  # its own: the status says so
        return "", "warn"
    if point >= 100:
        stopped = c.get("state") in ("capped", "blocked")  # the same colour as the status below
        return _("Your %(cap)s for this period are used up. The hotspot's owner can add more.",
                 cap=format_size(cap)), "bad" if stopped else "warn"
    passed = _("You passed %(point)s%% of your %(cap)s.", point=point, cap=format_size(cap))
    end = _when(c.get("period_end"))
    if c.get("after_cap") == "throttle":
        then = _("At 100%% you will be slowed to %(rate)s until %(date)s at %(time)s.",
                 rate=format_rate(c.get("after_cap_rate")), **end)
    else:
        then = _("At 100%% your internet will pause until %(date)s at %(time)s.", **end)
    return _sentences([passed, then]), "warn"


def _sentences(parts: list[str]) -> str:
    return ("" if get_locale() == "zh" else " ").join(p for p in parts if p)


def plan_banner(c: dict) -> tuple[str, str]:
    """The banner about the hotspot's data plan, when its guard holds the client back or the plan
    passed an alert point: how much of the plan is used, what that does to this device, and what
    comes next. Only plan-level facts: nothing about other clients."""
    p = c.get("plan")
    if not p or not p.get("held") and p.get("alert_point") is None:
        return "", "warn"
    pct = min(100, int(p.get("percent") or 0))
    held, nxt, at = p.get("held"), p.get("next_level"), p.get("next_at_percent")
    if held in ("block", "stop"):
        first = _("The hotspot's data plan is %(pct)s%% used, so the internet is paused for this device.",
                  pct=pct)
    elif held == "throttle":
        first = _("The hotspot's data plan is %(pct)s%% used, so this device is slowed down.", pct=pct)
    else:
        first = _("The hotspot's data plan is %(pct)s%% used.", pct=pct)
    then, at = "", "" if at is None else f"{at:g}"  # (no f-string inside _(): babel cannot read it)
    if nxt == "throttle":
        then = _("At %(at)s%% this device will be slowed down.", at=at)
    elif nxt:
        then = _("At %(at)s%% the internet will pause for this device.", at=at)
    renews = ""  # when held, the status card above already says until when
    if not held and p.get("renews") and p.get("cycle_end"):
        renews = _("The plan renews on %(date)s at %(time)s.", **_when(p["cycle_end"]))
    tone = "bad" if held in ("block", "stop") or pct >= 100 else "warn"
    return _sentences([first, then, renews]), tone


def client_text(c: dict) -> dict:
    """Every finished string the client page shows, for the page and for /api/me."""
    cap = c.get("cap")
    (cap_alert, cap_tone), (plan_alert, plan_tone) = cap_banner(c), plan_banner(c)
    return {
        "cap_banner": cap_alert,
        "cap_banner_tone": cap_tone,
        "plan_banner": plan_alert,
        "plan_banner_tone": plan_tone,
        "headline": headline(c),
        "explanation": explanation(c),
        "forecast": forecast(c),
        "forecast_band": forecast_text.band(c.get("bytes_total"), c.get("forecast"), c.get("cap")),
        "tone": tone(c),
        "state": state_label(c.get("reason") if c.get("reason") == "not_admitted" else c.get("state")),
        "up": format_size(c.get("bytes_up")),
        "down": format_size(c.get("bytes_down")),
        "total": format_size(c.get("bytes_total")),
        "cap": format_size(cap) if cap is not None else _("No cap"),
        "remaining": format_size(c.get("remaining")) if c.get("remaining") is not None else "∞",
        "percent": format_percent(c.get("bytes_total"), cap),
        "speed_up": format_rate(c.get("speed_up") or 0),
        "speed_down": format_rate(c.get("speed_down") or 0),
        "period_end": format_datetime(c.get("period_end")),
        "today": [{"label": format_time(h["hour"]), "value": h["bytes"], "text": format_size(h["bytes"])}
                  for h in c.get("today") or []],
        "days": [{"label": format_date(d["day"]), "value": d["bytes"], "text": format_size(d["bytes"])}
                 for d in c.get("days") or []],
        **voucher_text(c),
    }


def voucher_text(c: dict) -> dict:
    """The client page's voucher card: the voucher's data, shared by its devices, and its end."""
    if not c.get("voucher"):
        return {}
    data = c.get("voucher_bytes")
    return {
        "voucher_used": format_size(c.get("voucher_used") or 0),
        "voucher_data": format_size(data) if data is not None else _("No limit"),
        "voucher_left": format_size(c.get("voucher_remaining")) if data is not None else "∞",
        "voucher_percent": format_percent(c.get("voucher_used") or 0, data),
        "voucher_expires": format_datetime(c.get("voucher_expires")) if c.get("voucher_expires") else "–",
    }


def admin_row(c: dict) -> dict:
    """One client as the admin table shows it (raw fields kept, text added)."""
    fc = {"forecast_text": forecast(c) if c.get("forecast") else "",
          "forecast_band": forecast_text.band(c.get("bytes_total"), c.get("forecast"), c.get("cap"))}
    return {**fc,
        "mac": c["mac"],
        "hostname": c.get("hostname") or "",
        "ips": list(c.get("ips") or []),
        "state": c.get("state"),
        "state_text": state_label(c.get("state")),
        "tone": tone(c),
        "bytes_total": c.get("bytes_total"),
        "total": format_size(c.get("bytes_total")),
        "cap": format_size(c["cap"]) if c.get("cap") is not None else _("No cap"),
        "percent": format_percent(c.get("bytes_total"), c.get("cap")),
        "speed": f"↓ {format_rate(c.get('speed_down') or 0)}  ↑ {format_rate(c.get('speed_up') or 0)}",
        "last_seen": format_datetime(c.get("last_seen")),
    }
