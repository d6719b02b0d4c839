"""hotspotctl's commands for the data plan: plan show|set|topup|list|name|set-used|query, each SIM's
plan."""

from __future__ import annotations

from datetime import datetime

from hotspot.carrier import commands as carrier
from hotspot.core.command import Command, ExitStatus, Parser, UsageError, fail, say
from hotspot.core.config import Bad
from hotspot.core.text import forecast, printable, rate, size, write_json
from hotspot.core.units import InvalidValue, parse_cap, parse_size
from hotspot.plan.options import local_time


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


def list_lines(plans: list[dict]) -> list[str]:
    """`plan list`: a line per plan, the one in force marked."""
    lines = []
    for p in plans:
        left = f"{size(p['used'])} of {size(p['allowance'])} ({p['percent']:g}%)" if p["allowance"] else \
            f"{size(p['used'])}, no quota"
        who = " ".join(x for x in (printable(p["name"] or ""), f"({printable(p['operator'])})"
                                   if p["operator"] else "") if x)
        lines.append(f"{'*' if p['active'] else ' '} {p['iccid'] or 'no modem':<20}  {who or '-':<24}  "
                     f"{left}, {p['cycle']}" + (f", last seen {p['last_seen']}" if not p["active"] else ""))
    return lines


def _args(p) -> None:
    sub = p.add_subparsers(dest="plan_command", metavar="show|set|topup|list|name|set-used|query",
                           parser_class=Parser)
    sim_help = "the SIM's ICCID (default: the plan in force)"
    sub.add_parser("show", help="used, left, forecast, the guard (the default)"
                   ).add_argument("--sim", metavar="ICCID", help=sim_help)
    sub.add_parser("list", help="every SIM's plan, the one in force marked")
    pn = sub.add_parser("name", help="name a SIM's plan ('' to clear)")
    pn.add_argument("iccid")
    pn.add_argument("name")
    pu = sub.add_parser("set-used", help="this cycle's used amount is the carrier's figure SIZE")
    pu.add_argument("size")
    pu.add_argument("--at", metavar="WHEN", help="when the carrier's figure was for: 'now' (the default) or "
                    "a local date and time such as '2026-12-08 09:30'")
    pp = sub.add_parser("set", help="set the plan's quota (SIZE or none), its cycle, its guard")
    pp.add_argument("--sim", metavar="ICCID", help=sim_help)
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
    pp.add_argument("--roaming-quota", metavar="SIZE", help="an allowance counted only while roaming "
                    "(the roaming points are measured against it); '' for none")
    pt = sub.add_parser("topup", help="add SIZE to this cycle (an add-on bought from the carrier)")
    pt.add_argument("size")
    pt.add_argument("--sim", metavar="ICCID", help=sim_help)
    carrier.add_query(sub)


def _when(text: str | None) -> str | None:
    """'now' as the config spells a time; anything else as given (the config checks it)."""
    if text is None or text.strip().lower() != "now":
        return text
    return datetime.now().isoformat(sep=" ", timespec="minutes")


def _value(ns):
    if ns.plan_command == "topup":
        return parse_size(ns.size)
    if ns.plan_command == "set-used":
        return parse_size(ns.size), _at(ns.at)
    if ns.plan_command != "set":
        return None
    if ns.size is not None:
        parse_cap(ns.size)  # checked here: a bad size fails before the config is touched
    given = {"plan_quota": ns.size, "plan_period": ns.period, "plan_period_start": ns.start,
             "plan_start_hour": ns.hour, "plan_timezone": ns.timezone, "plan_pass_length": ns.length,
             "plan_throttle_at": ns.throttle_at, "plan_block_at": ns.block_at,
             "plan_stop_at": ns.stop_at, "plan_throttle_rate": ns.throttle_rate,
             "plan_activated": _when(ns.activated), "roaming_quota": ns.roaming_quota}
    given = {k: v for k, v in given.items() if v is not None}
    if not given:
        raise UsageError("plan set: nothing to set (a SIZE, or an option such as --block-at 100%)")
    return given


def _at(text: str | None) -> float | None:
    if text is None or text.strip().lower() == "now":
        return None
    try:
        return local_time(text)
    except Bad as e:
        raise UsageError(f"--at {e}") from None


def _plan(house, ns, value, env):
    from hotspot.config import ConfigError

    if ns.plan_command == "query":
        return carrier.run_query(house, ns, env)
    try:
        sim = house.sims.resolve(getattr(ns, "sim", None))
    except InvalidValue as e:
        return fail(env, str(e))
    active = sim == house.sims.active()
    if ns.plan_command == "list":
        plans = house.plans()
        return write_json(env.stdout, plans) if ns.json else say(env, *list_lines(plans))
    if ns.plan_command == "name":
        try:
            iccid = house.sims.resolve(ns.iccid)
            house.sims.name(iccid, ns.name or None)
        except InvalidValue as e:
            return fail(env, str(e))
        plans = [p for p in house.plans() if (p["iccid"] or "") == iccid]
        return write_json(env.stdout, plans[0]) if ns.json else say(env, *list_lines(plans))
    try:
        if ns.plan_command == "set-used":
            p = house.plan.calibrate(value[0], value[1], "owner")
        elif ns.plan_command == "topup" and not active:
            house.sims.topup(sim, value)
            p = None
        elif ns.plan_command == "topup":
            p = house.plan.topup_plan(value)
        elif ns.plan_command == "set":
            house.set_plan(sim, value)  # hotspotd sees the change at its next poll and applies it too
            p = house.plan.view_now() if active else None
        else:
            p = house.plan.view_now() if active else None
    except ConfigError as e:  # a bad value: nothing was written
        for line in e.errors:
            fail(env, printable(line))
        return ExitStatus.USAGE
    except ValueError as e:
        return fail(env, str(e).splitlines()[0], ExitStatus.ERROR)
    if p is None:  # a plan not in force: its figures as the list has them
        (entry,) = [e for e in house.plans() if (e["iccid"] or "") == sim]
        return write_json(env.stdout, entry) if ns.json else say(env, *list_lines([entry]))
    if ns.json:
        return write_json(env.stdout, {**p, "carrier": house.carrier.last()})
    say(env, *plan_lines({**p, **{f"plan_{k}": p[k] for k in ("quota", "topup", "used", "left", "percent")}}),
        *carrier.show_lines(house))


COMMANDS = [Command("plan", "the uplink's data plan, one per SIM: show, set, topup, list, name, set-used, "
                   "query",
                   _plan, _args, _value)]
