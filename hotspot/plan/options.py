"""The data plan's options: its quota and billing cycle (in the carrier's time zone), a pass's length and
activation, the guard's points at home and roaming, and the owner's devices it never holds back."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

from hotspot.core.config import (
    N_,
    Bad,
    Field,
    Given,
    Option,
    choice,
    duration,
    duration_text,
    mac,
    period_start,
    ranged,
    rate,
    rate_text,
    size_or_none,
    size_text,
)
from hotspot.core.units import InvalidValue, out_of_range, parse_size, quote
from hotspot.plan.model import Threshold, timezone_of

HEADING = "The uplink's data plan (the SIM's or eSIM's)"
POINTS = ("plan_throttle_at", "plan_block_at", "plan_stop_at", "roaming_throttle_at", "roaming_block_at",
          "roaming_stop_at")


def threshold(v: str) -> Threshold | None:
    """A point of the plan: a percentage of it ('90%') or a size ('18GB'); '' (or 'none') for none."""
    text = v.strip()
    if text.lower() in ("", "none"):
        return None
    if text.endswith("%"):
        try:
            pct = float(text[:-1])
        except ValueError:
            pct = -1.0
        if not 0 < pct <= 1000 or not re.fullmatch(r"\d+(\.\d+)?", text[:-1].strip(), re.ASCII):
            raise Bad(f"{quote(v)} is not a percentage of the plan (e.g. '90%') or a size (e.g. '18GB')")
        return Threshold(percent=pct)
    try:
        return Threshold(bytes=parse_size(text))
    except InvalidValue as e:
        raise Bad(f"{e}, a percentage of the plan such as '90%', or '' for none") from None


def timezone(v: str) -> str | None:
    """A zone timezone_of() knows ('Asia/Tokyo', 'UTC+8'), or '' for the router's local time."""
    if v == "":
        return None
    try:
        timezone_of(v)
    except ValueError as e:
        raise Bad(str(e)) from None
    return v


def local_time(v: str) -> float | None:
    """A date and time in the router's local time ('2026-11-28 14:00'), as a unix time; '' for unset."""
    if v == "":
        return None
    try:
        when = datetime.fromisoformat(v.strip())
    except ValueError:
        raise Bad(f"{quote(v)} is not a date and time like '2026-11-28 14:00' (or '' for unset)") from None
    why = out_of_range(when)
    if why:
        raise Bad(f"{quote(v)}: {why}")
    return when.timestamp()


def local_time_text(when: float | None) -> str:
    return "" if when is None else datetime.fromtimestamp(when).isoformat(sep=" ", timespec="seconds")


_GUARD_HINT = N_("A percentage of the plan (90%) or a size (18GB); empty for none.")
_ROAMING_HINT = N_("Replace the points above while the modem roams; empty keeps them.")

OPTIONS = (
    Option("plan_quota", size_or_none, None, "Bytes the plan allows per cycle; none: no plan quota.",
           "The plan's data per cycle, e.g. '20GB'; '' for none. Everything crossing a wan_device counts "
           "against it, the router's own traffic too (shown as "
           "\"router\").", heading=HEADING, spell=size_text,
           admin=Field(N_("Quota"), "plan-cycle", placeholder="20GB",
                       hint=N_("The data the carrier sells per cycle, e.g. 20GB; empty for none."))),
    Option("plan_period", choice("daily", "weekly", "monthly", "pass"), "monthly",
           "The plan's billing cycle: daily, weekly, monthly or pass.",
           "The plan's billing cycle: 'daily', 'weekly', 'monthly', or 'pass' (once, for plan_pass_length "
           "from its activation).", heading=HEADING,
           admin=Field(N_("Cycle"), "plan-cycle", choices=(
               ("daily", N_("Daily")), ("weekly", N_("Weekly")), ("monthly", N_("Monthly")),
               ("pass", N_("Pass"))))),
    Option("plan_period_start", period_start("plan_period", otherwise="daily"), 1,
           "The day of the month (monthly) or of the week (weekly) the cycle starts on.",
           "The day the cycle starts: of the month (1..31; 31 means the month's last day) or of the week (1 "
           "= Monday .. 7).", heading=HEADING,
           admin=Field(N_("Starts on day"), "plan-cycle", maxlength=2, numeric=True,
                       hint=N_("Day of the month (monthly) or of the week, 1 = Monday (weekly)."))),
    Option("plan_start_hour", ranged(0, 23, "an hour between 0 and 23"), 0,
           "The hour (0-23) the cycle starts at, in plan_timezone.",
           "The hour (0..23) the cycle starts at, in plan_timezone.", heading=HEADING,
           admin=Field(N_("At hour"), "plan-cycle", hint=N_("Hour 0-23."), maxlength=2, numeric=True)),
    Option("plan_timezone", timezone, None, "The carrier's time zone ('Asia/Tokyo', 'UTC+8'); none: local.",
           "The carrier's time zone, which bills by its own clock: a zone name such as 'Asia/Tokyo' (needs "
           "OpenWrt's zoneinfo package) or an offset such as 'UTC+8'; '' for the router's local time.",
           heading=HEADING,
           admin=Field(N_("Carrier's time zone"), "plan-cycle", hint=N_("e.g. Asia/Tokyo or UTC+8."),
                       placeholder=N_("router time"))),
    Option("plan_pass_length", duration, 7 * 86400, "A pass's length (plan_period pass).",
           "A pass's length (plan_period 'pass'), e.g. '7d' or '30d'.", heading=HEADING, spell=duration_text,
           admin=Field(N_("Pass length"), "plan-cycle", hint=N_("A pass runs once, from its first byte."),
                       placeholder="7d", maxlength=20)),
    Option("plan_activated", local_time, None, "When the pass started; none: at its first metered byte.",
           "When the pass was activated, e.g. '2026-11-28 14:00' (local time); '' to start it at the first "
           "metered byte hotspot counts.", heading=HEADING, spell=local_time_text,
           admin=Field(N_("Pass activated"))),
    Option("plan_throttle_at", threshold, None, "Throttle all but the exempt devices from here.",
           "The plan guard: at each point, a percentage of the plan (with its top-ups, e.g. '90%') or a size "
           "(e.g. '18GB'), the kernel holds traffic back from the next byte on, without waiting for a poll. "
           "plan_throttle_at: the devices not exempt share plan_throttle_rate; plan_block_at: they are "
           "blocked (the exempt devices and the router go on); plan_stop_at: all metered data stops, the "
           "router's and the exempt devices' too, the hard ceiling for never paying overage. '' turns a "
           "point off.", heading=HEADING,
           admin=Field(N_("Slow down at"), "plan-guard", hint=_GUARD_HINT, placeholder="90%", maxlength=20)),
    Option("plan_throttle_rate", rate, 1_000_000, "Bits/s the throttled devices share.", heading=HEADING,
           joined=True, spell=rate_text,
           admin=Field(N_("Rate when slowed"), "plan-guard", placeholder="1mbit", maxlength=20)),
    Option("plan_block_at", threshold, None, "Block all but the exempt devices from here.", heading=HEADING,
           joined=True,
           admin=Field(N_("Block at"), "plan-guard", hint=_GUARD_HINT, placeholder="100%", maxlength=20)),
    Option("plan_stop_at", threshold, None, "Stop all metered data, the router's too, from here.",
           heading=HEADING, joined=True,
           admin=Field(N_("Stop at"), "plan-guard", hint=_GUARD_HINT, placeholder="105%", maxlength=20)),
    Option("roaming_throttle_at", threshold, None, "plan_throttle_at while the modem roams.",
           "Stricter points while the modem is roaming (ModemManager says so); '' keeps the home point.",
           heading=HEADING,
           admin=Field(N_("Slow down at"), "plan-guard", hint=_ROAMING_HINT, maxlength=20,
                       alone=N_("Roaming: slow down at"))),
    Option("roaming_block_at", threshold, None, "plan_block_at while the modem roams.", heading=HEADING,
           joined=True,
           admin=Field(N_("Block at"), "plan-guard", hint=_ROAMING_HINT, maxlength=20,
                       alone=N_("Roaming: block at"))),
    Option("roaming_stop_at", threshold, None, "plan_stop_at while the modem roams.", heading=HEADING,
           joined=True,
           admin=Field(N_("Stop at"), "plan-guard", hint=_ROAMING_HINT, maxlength=20,
                       alone=N_("Roaming: stop at"))),
    Option("roaming_quota", size_or_none, None, "A separate allowance for the bytes used while roaming.",
           "A roaming allowance of its own, e.g. '1GB', counted only while the modem roams (ModemManager "
           "says so); while roaming, the roaming points above are measured against it instead of the plan. "
           "'' for none: roaming bytes count against the plan.", heading=HEADING, spell=size_text,
           admin=Field(N_("Roaming allowance"), "plan-guard", placeholder="1GB", maxlength=20,
                       hint=N_("Counted only while roaming; empty: roaming counts against the plan."))),
    Option("plan_exempt", mac, (), "MACs of the owner's devices: never throttled or blocked by the plan.",
           "The owner's devices, by MAC: the plan guard counts their bytes but never throttles or blocks "
           "them (only plan_stop_at stops them). One line per device.", list=True, heading=HEADING,
           example="00:11:22:33:44:55"),
)


def percent_needs_a_quota(c: Given) -> Iterator[tuple[str, str]]:
    if c["plan_quota"] is None and not c.refused("plan_quota"):
        for key in POINTS[:3] if c["roaming_quota"] is not None else POINTS:
            t = c[key]
            if t is not None and t.percent is not None:
                yield key, f"{t} of what? set plan_quota, or give a size such as '18GB'"


CHECKS = (percent_needs_a_quota,)
