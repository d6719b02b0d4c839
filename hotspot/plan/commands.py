"""hotspotctl's commands for the data plan: plan show|set|topup|query."""

from __future__ import annotations

from datetime import datetime

from hotspot.carrier import commands as carrier
from hotspot.core.command import Command, ExitStatus, Parser, UsageError, fail, say
from hotspot.core.text import forecast, printable, rate, size, write_json
from hotspot.core.units import parse_cap, parse_size


def plan_lines(p: dict) -> list[str]:
    """The plan as status and `plan` print it (`p`: status()["plan"], the plan's fields flattened)."""
    guard = p["guard"]
    points = ", ".join(f"{k} at {size(v)}" for k, v in guard["limits"].items() if v is not None)
    left = "no quota" if p["allowance"] is None else (
        f"{size(p['plan_left'])} left of {size(p['allowance'])} ({p['plan_percent']:g}% used)")
    lines = [
        f"plan:      {size(p['plan_used'])} used, {left}"
        + (f", incl. top-ups of {size(p['plan_topup'])}" if p["plan_topup"] else ""),
        f"cycle:     {p['cycle']}, {p['cycle_start'] or 'not started'} to {p['cycle_end'] or '-'}"
        + (" (expired)" if p["expired"] else ""),
        f"router:    {size(p['router_bytes'])} of its own this cycle",
    ]
    if p["forecast_end_bytes"] is not None:
        likely = forecast(p["forecast_end_bytes"], p.get("forecast_low"), p.get("forecast_high"))
        lines.append(f"forecast:  {likely} by the cycle's end"
                     + (f"; runs out {p['runs_out_at']}" if p["runs_out_at"] else "")
                     + (f" (perhaps from {p['runs_out_earliest']})" if p.get("runs_out_earliest")
                        and p["runs_out_earliest"] != p["runs_out_at"] else ""))
    if points:
        lines.append(f"guard:     {guard['state']} ({points}"
                     + (f"; throttle to {rate(guard['throttle_rate'])}" if guard["throttle_rate"] else "")
                     + (", roaming" if p["roaming"] else "") + ")")
    return lines


def modem_lines(m: dict | None, plan: dict) -> list[str]:
    if not m:
        return ["modem:     none (no ModemManager, or no modem)"]
    if "error" in m:
        return [f"modem:     {printable(m['error'])}"]
    radio = ", ".join(x for x in ("/".join(m["access_technologies"]).upper(),
                                  f"signal {m['signal_quality']}%" if m["signal_quality"] is not None else "",
                                  "ROAMING" if m["roaming"] else m["registration"] or "") if x)
    sim = ", ".join(f"{k} {printable(m[f])}" for k, f in (("type", "sim_type"), ("ICCID", "sim_iccid"),
                                                         ("EID", "sim_eid")) if m.get(f))
    lines = [f"modem:     {printable(m['manufacturer'])} {printable(m['model'])}, "
             f"{printable(m['operator_name'] or '-')} ({radio})",
             f"sim:       {sim or '-'}"]
    meter = plan.get("meters", {}).get("modem")
    if meter:
        sign = "+" if meter["difference"] >= 0 else "-"
        lines.append(f"counted:   modem {size(meter['bytes'])}, ours {size(meter['ours'])} over the same "
                     f"time (difference {sign}{size(abs(meter['difference']))})")
    return lines


def _args(p) -> None:
    sub = p.add_subparsers(dest="plan_command", metavar="show|set|topup|query", parser_class=Parser)
    sub.add_parser("show", help="used, left, forecast, the guard (the default)")
    pp = sub.add_parser("set", help="set the plan's quota (SIZE or none), its cycle, its guard")
    pp.add_argument("size", nargs="?")
    pp.add_argument("--period", choices=("daily", "weekly", "monthly", "pass"))
    pp.add_argument("--start", metavar="DAY", help="day of the month (or week, 1 = Monday) the cycle starts")
    pp.add_argument("--hour", metavar="H", help="hour (0-23) the cycle starts at")
    pp.add_argument("--timezone", metavar="TZ", help="the carrier's time zone, e.g. Asia/Tokyo or UTC+8")
    pp.add_argument("--length", metavar="DURATION", help="a pass's length, e.g. 7d")
    pp.add_argument("--activated", metavar="WHEN", help="when a pass started: 'now', a date and time "
                    "such as '2026-11-28 14:00', or '' for its first metered byte")
    for level, what in (("throttle", "all but the exempt devices share --throttle-rate"),
                        ("block", "all but the exempt devices are blocked"),
                        ("stop", "all metered data stops, the router's too")):
        pp.add_argument(f"--{level}-at", metavar="POINT", help=f"from here {what}: a percentage of the "
                        "plan (90%%) or a size (18GB); '' for never")
    pp.add_argument("--throttle-rate", metavar="RATE", help="what the throttled devices share, e.g. 2mbit")
    sub.add_parser("topup", help="add SIZE to this cycle (an add-on bought from the carrier)"
                   ).add_argument("size")
    carrier.add_query(sub)


def _when(text: str | None) -> str | None:
    """'now' as the config spells a time; anything else as given (the config checks it)."""
    if text is None or text.strip().lower() != "now":
        return text
    return datetime.now().isoformat(sep=" ", timespec="minutes")


def _value(ns):
    if ns.plan_command == "topup":
        return parse_size(ns.size)
    if ns.plan_command != "set":
        return None
    if ns.size is not None:
        parse_cap(ns.size)  # checked here: a bad size fails before the config is touched
    given = {"plan_quota": ns.size, "plan_period": ns.period, "plan_period_start": ns.start,
             "plan_start_hour": ns.hour, "plan_timezone": ns.timezone, "plan_pass_length": ns.length,
             "plan_throttle_at": ns.throttle_at, "plan_block_at": ns.block_at,
             "plan_stop_at": ns.stop_at, "plan_throttle_rate": ns.throttle_rate,
             "plan_activated": _when(ns.activated)}
    given = {k: v for k, v in given.items() if v is not None}
    if not given:
        raise UsageError("plan set: nothing to set (a SIZE, or an option such as --block-at 100%)")
    return given


def _plan(house, ns, value, env):
    from hotspot.config import ConfigError, write_settings

    if ns.plan_command == "query":
        return carrier.run_query(house, ns, env)
    if ns.plan_command == "topup":
        p = house.plan.topup_plan(value)
    elif ns.plan_command == "set":
        try:
            cfg = write_settings(house.cfg.path, value)
        except ConfigError as e:  # a bad value: nothing was written
            for line in e.errors:
                fail(env, printable(line))
            return ExitStatus.USAGE
        house.set_config(cfg)  # hotspotd sees the file change at its next poll and applies it too
        p = house.plan.view_now()
    else:
        p = house.plan.view_now()
    if ns.json:
        return write_json(env.stdout, {**p, "carrier": house.carrier.last()})
    say(env, *plan_lines({**p, **{f"plan_{k}": p[k] for k in ("quota", "topup", "used", "left", "percent")}}),
        *carrier.show_lines(house))


COMMANDS = [Command("plan", "the uplink's data plan: show, set, topup, query", _plan, _args, _value)]
