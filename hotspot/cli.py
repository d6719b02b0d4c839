"""hotspotctl: the owner's command line, over SSH or in scripts (`--json`).

`main(args, env)` runs in-process, so tests call it directly; errors are one line on stderr and the
exit status says what kind of failure it was:

    0  ok
    1  error: the database, the kernel or the command itself failed
    2  usage: bad arguments (one line), or a bad config file (every error in it, one line each,
       'FILE:LINE: reason' in file order)
"""

from __future__ import annotations

import argparse
import enum
import json
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO

from hotspot.captive.vouchers import MAX_BATCH, MAX_DEVICES, parse_code, parse_count
from hotspot.config import DEFAULT_PATH, ConfigError, load
from hotspot.core.units import (
    InvalidValue,
    check_when,
    format_bytes,
    format_duration,
    format_rate,
    iso,
    parse_cap,
    parse_duration,
    parse_mac,
    parse_rate_or_none,
    parse_size,
)
from hotspot.history.buckets import resolve


class ExitStatus(enum.IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2


@dataclass
class Environment:
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, instead of argparse's usage dump
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="hotspotctl", description="Inspect and control hotspot's per-client accounting.")
    p.add_argument("-c", "--config", default=DEFAULT_PATH, help=f"UCI config file (default {DEFAULT_PATH})")
    p.add_argument("--json", action="store_true", help="print JSON only")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    sub.add_parser("status", help="daemon, uplink and plan summary")
    sub.add_parser("clients", help="one row per client")
    for name, helptext in (("client", "one client in detail"), ("block", "cut a client off"),
                           ("unblock", "let a blocked client back on (the owner's block and its own pause)"),
                           ("reset", "zero this period's usage")):
        sub.add_parser(name, help=helptext).add_argument("mac")
    sp = sub.add_parser("cap", help="per-period cap: SIZE (e.g. 2GB, 500MiB) or none")
    sp.add_argument("mac")
    sp.add_argument("size")
    sp = sub.add_parser("throttle", help="rate limit: RATE (e.g. 1mbit, 256kbit) or none")
    sp.add_argument("mac")
    sp.add_argument("rate")
    sp = sub.add_parser("topup", help="add SIZE to this period's cap")
    sp.add_argument("mac")
    sp.add_argument("size")
    sp = sub.add_parser("admit", help="let a client through the captive portal (auth click or voucher)")
    sp.add_argument("mac")
    sp.add_argument("--for", dest="duration", metavar="DURATION",
                    help="how long, e.g. 30m, 12h, 1d (default: the config's session_timeout)")
    sub.add_parser("unadmit", help="end a client's admission: it sees the portal again").add_argument("mac")
    sub.add_parser("forget", help="erase a device now: its row, its kernel state and everything "
                   "recorded about it (its bytes stay in the plan's totals); back, it is a new device"
                   ).add_argument("mac")
    sp = sub.add_parser("history", help="usage history of a client (MAC) or of the plan ('plan')")
    sp.add_argument("mac", metavar="MAC|plan")
    sp.add_argument("--by", choices=("hour", "day", "month"), default="hour")
    sp.add_argument("--from", dest="since", metavar="DATE", help="YYYY-MM-DD or an ISO 8601 date and "
                    "time (default: 48 hours, 30 days or 12 months back, by --by)")
    sp.add_argument("--to", dest="until", metavar="DATE", help="the range's end, not included (default: now)")
    sp = sub.add_parser("voucher", help="captive-portal vouchers (auth voucher): create, list, revoke")
    vsub = sp.add_subparsers(dest="voucher_command", metavar="create|list|revoke", parser_class=_Parser)
    vsub.required = True
    vp = vsub.add_parser("create", help="make a batch of vouchers")
    vp.add_argument("--count", default="1", help="how many (default 1, at most 500)")
    vp.add_argument("--data", default="none", help="data each voucher allows, shared by its devices, "
                    "e.g. 1GB (default none: no limit)")
    vp.add_argument("--valid", default="1d", help="how long it lasts from its first use (default 1d)")
    vp.add_argument("--devices", default="1", help="how many devices may use it (default 1)")
    vsub.add_parser("list", help="every voucher with its state and usage")
    vsub.add_parser("revoke", help="revoke a voucher: its devices see the portal again").add_argument("code")
    sp = sub.add_parser("plan", help="the uplink's data plan: show, set, topup")
    psub = sp.add_subparsers(dest="plan_command", metavar="show|set|topup", parser_class=_Parser)
    psub.add_parser("show", help="used, left, forecast, the guard (the default)")
    pp = psub.add_parser("set", help="set the plan's quota (SIZE or none), its cycle, its guard")
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
    psub.add_parser("topup", help="add SIZE to this cycle (an add-on bought from the carrier)"
                    ).add_argument("size")
    sp = sub.add_parser("alerts", help="alerts fired and their deliveries; test a channel")
    asub = sp.add_subparsers(dest="alerts_command", metavar="list|test", parser_class=_Parser)
    asub.add_parser("list", help="the alerts that fired and the delivery log (the default)")
    asub.add_parser("test", help="send a test message through a channel now: webhook, email or sms"
                    ).add_argument("channel", choices=("webhook", "email", "sms"))
    # ghost traffic
    sp = sub.add_parser("ghost", help="ghost-traffic events (a device using data when or how it usually "
                        "does not) and the destinations blocked")
    sp.add_argument("mac", nargs="?")
    sp = sub.add_parser("destination", help="block or unblock a remote address (or a DNS name's addresses) "
                        "for one device")
    dsub = sp.add_subparsers(dest="destination_command", metavar="block|unblock", parser_class=_Parser)
    dsub.required = True
    for name in ("block", "unblock"):
        dp = dsub.add_parser(name, help=f"{name} ADDR (IPv4, IPv6 or a DNS name) for the device MAC")
        dp.add_argument("mac")
        dp.add_argument("destination")
    # -- forecast (issue 8): the forecaster on a trace, no daemon, no config ------------------------
    sp = sub.add_parser("forecast", help="forecast a period from an hourly trace (a backtest; no daemon)",
                        description=FORECAST_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp.add_argument("--trace", required=True, metavar="FILE", help="CSV: hour,bytes (hour in ISO 8601)")
    sp.add_argument("--at", required=True, metavar="TIME", help="the forecast's moment (ISO 8601)")
    sp.add_argument("--period-end", metavar="TIME", help="default: the next calendar month's start")
    sp.add_argument("--period-start", metavar="TIME", help="default: one calendar month before the end")
    sp.add_argument("--cap", metavar="SIZE", help="when is it reached, e.g. 20GB or 15GiB")
    sp.add_argument("--json", dest="json_here", action="store_true", help="print JSON only")
    sub.add_parser("teardown", help="remove the kernel table (counting stops)")
    sub.add_parser("passwd", help="set the admin web UI's password (asked twice on a terminal, "
                   "else the first line of stdin)")
    sp = sub.add_parser("apps", help="bytes per app category (video, social, ..., other), per client")
    sp.add_argument("mac", nargs="?")
    sp.add_argument("--from", dest="date_from", metavar="DATE", help="first day, YYYY-MM-DD (default: "
                    "this period's start)")
    sp.add_argument("--to", dest="date_to", metavar="DATE", help="last day, YYYY-MM-DD (default: today)")
    sp.add_argument("--period", action="store_true", help="this period (the default)")
    sp = sub.add_parser("guard", help="the update guard for a device: on, off or default")
    sp.add_argument("mac")
    sp.add_argument("choice", choices=("on", "off", "default"))
    sp = sub.add_parser("top", help="live view of clients and their current rates (Ctrl-C to quit)")
    sp.add_argument("-n", "--interval", type=float, default=1.0, help="seconds between refreshes")
    sp.add_argument("--count", type=int, default=0, help="stop after this many refreshes (0 = never)")
    return p


def main(args: list[str] | None = None, env: Environment | None = None) -> ExitStatus:
    env = env or Environment()
    try:
        ns = _parser().parse_args(sys.argv[1:] if args is None else args)
        for attr, parse in (("mac", parse_mac),):
            if ns.command == "history" and ns.mac == "plan":
                continue
            if getattr(ns, attr, None) is not None:
                setattr(ns, attr, parse(getattr(ns, attr)))
        value = _value(ns)
        if ns.command == "top" and ns.json:
            raise UsageError("top is interactive; use 'clients --json' for scripts")
    except (UsageError, InvalidValue) as e:
        print(f"hotspotctl: {_printable(e)}", file=env.stderr)
        return ExitStatus.USAGE
    if ns.command == "forecast":
        return _forecast_trace(ns, env)
    try:
        cfg = load(ns.config)
    except ConfigError as e:  # a bad config is a usage error: say everything that is wrong with it
        for line in e.errors:
            print(f"hotspotctl: {_printable(line)}", file=env.stderr)
        return ExitStatus.USAGE
    try:
        from hotspot.service import Hotspot  # after parsing: bad input fails fast and touches nothing

        hs = Hotspot(cfg)
    except (OSError, sqlite3.Error) as e:
        print(f"hotspotctl: {e}", file=env.stderr)
        return ExitStatus.ERROR
    try:
        return COMMANDS[ns.command](hs, ns, value, env) or ExitStatus.OK
    except KeyboardInterrupt:
        return ExitStatus.OK
    except Exception as e:  # one line, whatever went wrong
        print(f"hotspotctl: {_reason(e)}", file=env.stderr)
        return ExitStatus.ERROR
    finally:
        hs.close()


def run() -> None:
    sys.exit(main())


FORECAST_HELP = """\
Forecast a period's bytes, and when a cap is reached, from an hourly trace, with the same forecaster
hotspotd uses for each client and the plan, from ONLY the hours before --at. Prints period_end_bytes
(the likely total for the whole period), low and high (an 80 % range), cap_hit_at (ISO 8601, or null).

The trace: CSV lines 'hour,bytes', the hour in ISO 8601 (no UTC offset: UTC), the bytes used in that
hour; a header line is optional, blank lines and '#' comments are skipped, a repeated hour adds up.
The period: --at is the forecast's moment (inside an hour: that hour's start; only hours that ended
by then are read). --period-end defaults to the start of the calendar month after --at, in --at's UTC
offset (UTC if it has none); --period-start to one calendar month before the end (the same day, or
the shorter month's last day). Used so far: the trace's hours in [start, at); hours missing after the
trace's first line count as 0, hours before it as unknown (a new device).
Exit status: 0 ok, 1 the trace cannot be read, 2 a bad argument or trace line (FILE:LINE: reason)."""


def _forecast_trace(ns, env: Environment) -> ExitStatus:
    """hotspotctl forecast: hotspot.forecast.trace does the work; here only the arguments and the printing."""
    from hotspot.forecast import trace

    try:
        at = trace.parse_time(ns.at, what="--at")
        tz = at.tzinfo
        end = trace.parse_time(ns.period_end, tz, "--period-end") if ns.period_end else None
        start = trace.parse_time(ns.period_start, tz, "--period-start") if ns.period_start else None
        cap = parse_size(ns.cap) if ns.cap is not None else None
        start, end = trace.period(at, end, start)
        rows = trace.read(ns.trace)
    except trace.TraceUnreadable as e:
        print(f"hotspotctl: {_printable(e)}", file=env.stderr)
        return ExitStatus.ERROR
    except (trace.TraceError, InvalidValue) as e:
        print(f"hotspotctl: {_printable(e)}", file=env.stderr)
        return ExitStatus.USAGE
    out = trace.as_output(trace.run(rows, at, start, end, cap), tz, start, end, at)
    if ns.json or ns.json_here:
        print(json.dumps(out), file=env.stdout)
        return ExitStatus.OK
    lines = [f"period:            {out['period_start']} – {out['period_end']} (at {out['at']})",
             f"period_end_bytes:  {out['period_end_bytes']} ({format_bytes(out['period_end_bytes'])})",
             f"low:               {out['low']} ({format_bytes(out['low'])})",
             f"high:              {out['high']} ({format_bytes(out['high'])})",
             f"cap_hit_at:        {out['cap_hit_at'] or 'null'}"]
    if cap is not None:
        lines.append(f"cap_hit_range:     {out['cap_hit_earliest'] or 'null'} – "
                     f"{out['cap_hit_latest'] or 'null'}")
    lines.append(f"history:           {out['history_days']:g} days ({out['basis']} profile)")
    print("\n".join(lines), file=env.stdout)
    return ExitStatus.OK


def _value(ns):
    if ns.command == "cap":
        return parse_cap(ns.size)
    if ns.command == "topup":
        return parse_size(ns.size)
    if ns.command == "throttle":
        return parse_rate_or_none(ns.rate)
    if ns.command == "admit" and ns.duration is not None:
        return parse_duration(ns.duration)
    if ns.command == "voucher" and ns.voucher_command == "create":
        return {"count": parse_count(ns.count, "--count", MAX_BATCH), "data": parse_cap(ns.data),
                "valid": parse_duration(ns.valid),
                "devices": parse_count(ns.devices, "--devices", MAX_DEVICES)}
    if ns.command == "voucher" and ns.voucher_command == "revoke":
        return parse_code(ns.code)
    if ns.command == "destination":
        from hotspot.ghost.watch import parse_destination

        parse_destination(ns.destination)  # checked here: a bad one fails before anything is opened
    if ns.command == "apps":
        return _days(ns)
    if ns.command == "plan" and ns.plan_command == "topup":
        return parse_size(ns.size)
    if ns.command == "history":  # checked here: a bad date fails before anything is opened
        return resolve(ns.by, ns.since, ns.until, time.time())
    if ns.command == "plan" and ns.plan_command == "set":
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
    return None


def _days(ns) -> tuple[float | None, float | None]:
    """apps: --from and --to as [start of the first day, start of the day after the last)."""
    if ns.period and (ns.date_from or ns.date_to):
        raise UsageError("apps: --period or --from/--to, not both")
    out = []
    for flag, text, after in (("--from", ns.date_from, 0), ("--to", ns.date_to, 1)):
        if text is None:
            out.append(None)
            continue
        try:
            day = datetime.strptime(text, "%Y-%m-%d")
        except ValueError:
            raise UsageError(f"apps: {flag} {text!r} is not a date (YYYY-MM-DD)") from None
        check_when(day, f"apps: {flag}", text)
        out.append(day.timestamp() + after * 86400)
    if out[0] is not None and out[1] is not None and out[1] <= out[0]:
        raise UsageError("apps: --to is before --from")
    return out[0], out[1]


def _when(text: str | None) -> str | None:
    """'now' as the config spells a time; anything else as given (the config checks it)."""
    if text is None or text.strip().lower() != "now":
        return text
    return datetime.now().isoformat(sep=" ", timespec="minutes")


def _reason(e: Exception) -> str:
    text = str(e).strip().splitlines()
    if isinstance(e, LookupError) and text:
        return text[0].strip("'\"")
    return text[0] if text else type(e).__name__


# -- output ------------------------------------------------------------------------------------


def _json(env, obj) -> None:
    json.dump(obj, env.stdout, indent=2)
    env.stdout.write("\n")


def _printable(s) -> str:
    """Hostnames come from DHCP clients: never let one write control characters to a terminal."""
    if s is None:
        return "-"
    return "".join(ch if ch.isprintable() else "?" for ch in str(s))


def _size(n) -> str:
    return "-" if n is None else format_bytes(n)


def _rate(n) -> str:
    return "-" if n is None else format_rate(n)


def table(rows: list[list[str]], header: list[str], right: set[int] = frozenset()) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _client_rows(clients: list[dict]) -> str:
    header = ["MAC", "HOSTNAME", "IP", "STATE", "UP", "DOWN", "TOTAL", "CAP", "RATE", "LAST SEEN"]
    rows = [[c["mac"], _printable(c["hostname"])[:24], c["ips"][0] if c["ips"] else "-", c["state"],
             _size(c["bytes_up"]), _size(c["bytes_down"]), _size(c["bytes_total"]), _size(c["cap"]),
             _rate(c["rate_limit"]), (c["last_seen"] or "-")[:19].replace("T", " ")] for c in clients]
    return table(rows, header, right={4, 5, 6, 7, 8})


def _admitted(c: dict) -> str:
    if not c["admitted"]:
        return "no"
    return f"until {c['admitted_until']}" if c["admitted_until"] else "yes"


def _forecast_text(likely: int, low: int | None, high: int | None) -> str:
    """'14.9 GB (13.6 GB – 16.6 GB)': the likely total and its range."""
    if low is None or high is None:
        return _size(likely)
    return f"{_size(likely)} ({_size(low)} – {_size(high)})"


def _held(c: dict) -> str:
    """Who holds a client: the owner's block, its own pause (from its page), or both."""
    who = [w for w, on in (("by the owner", c["owner_blocked"]), ("paused itself", c["self_paused"])) if on]
    return f"yes ({', '.join(who)})" if who else "no"


def _detail(c: dict) -> str:
    rows = [
        ("mac", c["mac"]), ("hostname", _printable(c["hostname"])), ("ips", ", ".join(c["ips"]) or "-"),
        ("state", c["state"]), ("up", _size(c["bytes_up"])), ("down", _size(c["bytes_down"])),
        ("total", _size(c["bytes_total"])), ("cap", _size(c["cap"])),
        ("remaining", _size(c["remaining"])), ("top-up", _size(c["topup"])),
        ("rate limit", _rate(c["rate_limit"])), ("blocked", _held(c)),
        ("admitted", _admitted(c)),
        ("first seen", c["first_seen"] or "-"), ("last seen", c["last_seen"] or "-"),
    ]
    f = c.get("forecast")
    if f:  # the period's likely total, its 80 % range, when the cap is likely reached (forecast.model)
        rows.append(("forecast", f"{_forecast_text(f['period_end_bytes'], f['low'], f['high'])} by the "
                     f"period's end" + (f"; cap reached {f['cap_hit_at']}" if f["cap_hit_at"] else "")))
    return "\n".join(f"{k + ':':<11} {v}" for k, v in rows)


# -- commands ----------------------------------------------------------------------------------


def _uplink(u: dict) -> str:
    notes = ["present" if u["present"] else "absent"] + ["not metered"] * (not u["metered"])
    return f"{u['device']} ({', '.join(notes + ['in use'] * u['active'])})"


def cmd_status(hs, ns, _v, env):
    s = hs.status()
    if ns.json:
        return _json(env, s)
    d = s["daemon"]
    plan = s["plan"]
    lines = [
        "daemon:    " + (f"running (pid {d['pid']})" if d["running"] else "not running"),
        f"kernel:    {'table inet hotspot loaded' if s['kernel']['table'] else 'no table loaded'}",
        "uplink:    " + ", ".join(_uplink(u) for u in s["uplink"]),
        f"period:    {plan['period']}, {plan['period_start']} to {plan['period_end']}",
        f"caps:      default {_size(plan['default_cap'])}, after cap: {plan['after_cap']}"
        + (f" at {_rate(plan['after_cap_rate'])}" if plan["after_cap_rate"] else ""),
        f"clients:   {s['clients']} (" + ", ".join(f"{n} {k}" for k, n in s["states"].items() if n) + ")",
        f"usage:     {_size(s['bytes_total'])} this period (up {_size(s['bytes_up'])}, "
        f"down {_size(s['bytes_down'])})",
        f"committed: {s['last_commit'] or 'never'}",
        *_plan_lines(plan),
        *_modem_lines(s.get("modem"), plan),
    ]
    env.stdout.write("\n".join(lines) + "\n")


def cmd_clients(hs, ns, _v, env):
    clients = hs.clients()
    if ns.json:
        return _json(env, clients)
    env.stdout.write((_client_rows(clients) if clients else "no clients yet") + "\n")


def cmd_client(hs, ns, _v, env):
    c = hs.client(ns.mac)
    if ns.json:
        return _json(env, c)
    env.stdout.write(_detail(c) + "\n")
    cats = hs.apps(ns.mac)["clients"][0]["categories"]
    guard = "on" if c["update_guard"] else "off"
    guard += " (default)" if c["update_guard_choice"] is None else ""
    env.stdout.write(f"{'apps:':<11} {_app_shares(cats)}\n{'update guard:'} {guard}\n")


def _app_shares(cats: list[dict]) -> str:
    shown = [f"{r['category']} {r['percent']:g}%" for r in cats if r["bytes_total"]]
    return ", ".join(shown) or "-"


def cmd_apps(hs, ns, days, env):
    found = hs.apps(ns.mac, *days)
    if ns.json:
        return _json(env, found)
    header = ["CLIENT", "CATEGORY", "UP", "DOWN", "TOTAL", "SHARE"]
    rows = []
    for c in found["clients"]:
        name = c["mac"] or "router"
        if c["mac"] and c["name"]:
            name += f" ({_printable(c['name'])[:20]})"
        for r in c["categories"]:
            if r["bytes_total"] or ns.mac:
                rows.append([name, r["category"], _size(r["bytes_up"]), _size(r["bytes_down"]),
                             _size(r["bytes_total"]), f"{r['percent']:g}%"])
                name = ""
    env.stdout.write(f"{found['since'][:10]} to {found['until'][:10]}\n")
    env.stdout.write((table(rows, header, right={2, 3, 4, 5}) if rows else "no usage recorded") + "\n")


def cmd_guard(hs, ns, _v, env):
    c = hs.set_update_guard(ns.mac, {"on": True, "off": False, "default": None}[ns.choice])
    if ns.json:
        return _json(env, c)
    env.stdout.write(f"{c['mac']}: update guard {'on' if c['update_guard'] else 'off'}"
                     f"{' (the default)' if c['update_guard_choice'] is None else ''}\n")


def _changed(fn, message):
    def cmd(hs, ns, value, env):
        c = fn(hs, ns.mac, value)
        if ns.json:
            return _json(env, c)
        env.stdout.write(f"{c['mac']}: {message(c, value)}; {_size(c['bytes_total'])} used, "
                         f"state {c['state']}\n")
    return cmd


def cmd_history(hs, ns, _v, env):
    try:
        rows = hs.history(ns.mac, by=ns.by, since=ns.since, until=ns.until)
    except InvalidValue as e:  # a range finer than retention kept: a usage error, nothing read
        print(f"hotspotctl: {_printable(e)}", file=env.stderr)
        return ExitStatus.USAGE
    if ns.json:
        return _json(env, rows)
    width = {"hour": 16, "day": 10, "month": 7}[ns.by]
    header = ["START", "UP", "DOWN", "TOTAL"]
    body = [[r["start"][:width].replace("T", " "), _size(r["bytes_up"]), _size(r["bytes_down"]),
             _size(r["bytes_total"])] for r in rows]
    if body:
        up, down = sum(r["bytes_up"] for r in rows), sum(r["bytes_down"] for r in rows)
        body.append(["total", _size(up), _size(down), _size(up + down)])
    env.stdout.write((table(body, header, right={1, 2, 3}) if body else "no usage recorded") + "\n")


def _voucher_rows(vouchers: list[dict]) -> str:
    header = ["CODE", "BATCH", "STATE", "DATA", "USED", "VALID", "DEVICES", "EXPIRES"]
    rows = [[v["code"], str(v["batch"]), v["state"], _size(v["bytes"]), _size(v["used"]),
             format_duration(v["valid_seconds"]), f"{v['devices_used']}/{v['devices']}",
             (v["expires"] or "-")[:16].replace("T", " ")] for v in vouchers]
    return table(rows, header, right={1, 3, 4, 5, 6})


def cmd_voucher(hs, ns, value, env):
    if ns.voucher_command == "create":
        made = hs.create_vouchers(**value)
        if ns.json:
            return _json(env, made)
        env.stdout.write(_voucher_rows(made) + "\n")
    elif ns.voucher_command == "list":
        vouchers = hs.vouchers()
        if ns.json:
            return _json(env, vouchers)
        env.stdout.write((_voucher_rows(vouchers) if vouchers else "no vouchers yet") + "\n")
    else:
        v = hs.revoke_voucher(value)
        if ns.json:
            return _json(env, v)
        env.stdout.write(f"{v['code']}: revoked; {_size(v['used'])} used\n")


def _plan_lines(p: dict) -> list[str]:
    guard = p["guard"]
    points = ", ".join(f"{k} at {_size(v)}" for k, v in guard["limits"].items() if v is not None)
    left = "no quota" if p["allowance"] is None else (
        f"{_size(p['plan_left'])} left of {_size(p['allowance'])} ({p['plan_percent']:g}% used)")
    lines = [
        f"plan:      {_size(p['plan_used'])} used, {left}"
        + (f", incl. top-ups of {_size(p['plan_topup'])}" if p["plan_topup"] else ""),
        f"cycle:     {p['cycle']}, {p['cycle_start'] or 'not started'} to {p['cycle_end'] or '-'}"
        + (" (expired)" if p["expired"] else ""),
        f"router:    {_size(p['router_bytes'])} of its own this cycle",
    ]
    if p["forecast_end_bytes"] is not None:
        likely = _forecast_text(p["forecast_end_bytes"], p.get("forecast_low"), p.get("forecast_high"))
        lines.append(f"forecast:  {likely} by the cycle's end"
                     + (f"; runs out {p['runs_out_at']}" if p["runs_out_at"] else "")
                     + (f" (perhaps from {p['runs_out_earliest']})" if p.get("runs_out_earliest")
                        and p["runs_out_earliest"] != p["runs_out_at"] else ""))
    if points:
        lines.append(f"guard:     {guard['state']} ({points}"
                     + (f"; throttle to {_rate(guard['throttle_rate'])}" if guard["throttle_rate"] else "")
                     + (", roaming" if p["roaming"] else "") + ")")
    return lines


def _modem_lines(m: dict | None, plan: dict) -> list[str]:
    if not m:
        return ["modem:     none (no ModemManager, or no modem)"]
    if "error" in m:
        return [f"modem:     {_printable(m['error'])}"]
    radio = ", ".join(x for x in ("/".join(m["access_technologies"]).upper(),
                                  f"signal {m['signal_quality']}%" if m["signal_quality"] is not None else "",
                                  "ROAMING" if m["roaming"] else m["registration"] or "") if x)
    sim = ", ".join(f"{k} {_printable(m[f])}" for k, f in (("type", "sim_type"), ("ICCID", "sim_iccid"),
                                                          ("EID", "sim_eid")) if m.get(f))
    lines = [f"modem:     {_printable(m['manufacturer'])} {_printable(m['model'])}, "
             f"{_printable(m['operator_name'] or '-')} ({radio})",
             f"sim:       {sim or '-'}"]
    meter = plan.get("meters", {}).get("modem")
    if meter:
        sign = "+" if meter["difference"] >= 0 else "-"
        lines.append(f"counted:   modem {_size(meter['bytes'])}, ours {_size(meter['ours'])} over the same "
                     f"time (difference {sign}{_size(abs(meter['difference']))})")
    return lines


def cmd_plan(hs, ns, value, env):
    from hotspot.config import write_settings

    if ns.plan_command == "topup":
        p = hs.plan_topup(value)
    elif ns.plan_command == "set":
        try:
            cfg = write_settings(hs.cfg.path, value)
        except ConfigError as e:  # a bad value: nothing was written
            for line in e.errors:
                print(f"hotspotctl: {_printable(line)}", file=env.stderr)
            return ExitStatus.USAGE
        hs.set_config(cfg)  # hotspotd sees the file change at its next poll and applies it too
        p = hs.plan_view()
    else:
        p = hs.plan_view()
    if ns.json:
        return _json(env, p)
    env.stdout.write("\n".join(_plan_lines({**p, **{f"plan_{k}": p[k] for k in
                                                   ("quota", "topup", "used", "left", "percent")}})) + "\n")


def cmd_alerts(hs, ns, _v, env):
    from hotspot.alerts import outbox
    from hotspot.alerts import points as alerts

    if ns.alerts_command == "test":
        from hotspot.uplink.modem import send_sms

        box = outbox.Outbox(hs.store.path, alerts.channels_of(hs.cfg, send_sms))
        try:
            receipt = box.test(ns.channel)
        finally:
            box.close()
        if ns.json:
            return _json(env, {"channel": ns.channel, "receipt": receipt})
        env.stdout.write(f"{ns.channel}: sent ({receipt})\n")
        return None
    fired, log = alerts.recent(hs.store.db), outbox.log_entries(hs.store.db)
    if ns.json:
        return _json(env, {"alerts": fired, "deliveries": log})
    rows = [[(a["fired"] or "-")[:19].replace("T", " "), a["kind"], a["subject"], f"{a['point']}%",
             _size(a["used"]), _size(a["allowance"])] for a in fired]
    env.stdout.write((table(rows, ["FIRED", "KIND", "SUBJECT", "POINT", "USED", "OF"], right={3, 4, 5})
                      if rows else "no alerts yet") + "\n\n")
    rows = [[iso(d["created"])[:19].replace("T", " "), d["channel"], d["status"], str(d["attempts"]),
             _printable(d["receipt"] or d["last_error"] or "")[:50], _printable(d["subject"])[:50]]
            for d in log]
    env.stdout.write((table(rows, ["QUEUED", "CHANNEL", "STATUS", "TRIES", "RESULT", "SUBJECT"], right={3})
                      if rows else "no deliveries yet") + "\n")
    return None


def cmd_ghost(hs, ns, _v, env):
    macs = [ns.mac] if ns.mac else [c.mac for c in hs.store.clients()]
    events = hs.ghost_events(ns.mac)
    blocked = {mac: hs.blocked_destinations(mac) for mac in macs}
    if ns.json:
        return _json(env, {"events": events, "blocked": {m: b for m, b in blocked.items() if b or ns.mac}})
    def where(e):
        return ", ".join(f"{_printable(d['name'] or d['addr'])} {_size(d['up'] + d['down'])}"
                         for d in e["destinations"][:3])

    rows = [[e["start"][:16].replace("T", " "), e["end"][11:16], e["mac"], e["kind"], _size(e["bytes_up"]),
             _size(e["bytes_down"]), where(e)] for e in events]
    env.stdout.write((table(rows, ["START", "END", "MAC", "KIND", "UP", "DOWN", "DESTINATIONS"], right={4, 5})
                      if rows else "no ghost traffic seen") + "\n")
    rows = [[mac, b["addr"], _printable(b["name"] or ""), b["created"][:16].replace("T", " ")]
            for mac, bs in blocked.items() for b in bs]
    if rows:
        env.stdout.write("\n" + table(rows, ["MAC", "BLOCKED", "NAME", "SINCE"]) + "\n")
    return None


def cmd_destination(hs, ns, _v, env):
    block = ns.destination_command == "block"
    r = (hs.block_destination if block else hs.unblock_destination)(ns.mac, ns.destination)
    if ns.json:
        return _json(env, r)
    via = f" ({r['name']}'s addresses now)" if r["name"] else ""
    env.stdout.write(f"{r['mac']}: {'blocked' if block else 'unblocked'} {' '.join(r['addresses'])}{via}\n")
    return None


def cmd_forget(hs, ns, _v, env):
    r = hs.forget(ns.mac)
    if ns.json:
        return _json(env, r)
    env.stdout.write(f"{r['mac']}: forgotten with everything recorded about it (id {r['id']} is free again; "
                     f"its {_size(r['bytes_total'])} this period stay in the plan's totals)\n")
    return None


def cmd_teardown(hs, ns, _v, env):
    removed = hs.teardown()
    if ns.json:
        return _json(env, {"removed": removed})
    env.stdout.write("removed table inet hotspot\n" if removed else "no table inet hotspot to remove\n")


def cmd_passwd(hs, ns, _v, env):
    from hotspot.admin.auth import check_new_password, set_password

    if env.stdin.isatty():
        import getpass

        password = getpass.getpass("New admin password: ")
        if getpass.getpass("Again: ") != password:
            print("hotspotctl: the two passwords differ; nothing changed", file=env.stderr)
            return ExitStatus.USAGE
    else:
        password = env.stdin.readline().rstrip("\r\n")
    problem = check_new_password(password)
    if problem:
        print(f"hotspotctl: {problem}; nothing changed", file=env.stderr)
        return ExitStatus.USAGE
    set_password(hs.cfg.state_dir, password)  # a running hotspotd sees it at the next check: sessions end
    ended = _end_sessions(hs.cfg)
    if ns.json:
        return _json(env, {"password_set": True, "sessions_ended": ended})
    env.stdout.write("admin password set; every admin session ended\n")


def _end_sessions(cfg) -> int:
    """Tell a running hotspotd to forget its admin sessions now (the new password ends them anyway);
    how many it had open, 0 without a hotspotd."""
    from hotspot.ipc import IpcBackend, socket_path
    from hotspot.portal.backend import BackendError

    try:
        return int(IpcBackend(socket_path(cfg.run_dir)).end_sessions()["ended"])
    except (BackendError, OSError, KeyError, TypeError, ValueError):
        return 0


def cmd_top(hs, ns, _v, env):
    """Redraw in place; rates are the byte deltas between two refreshes."""
    tty = env.stdout.isatty()
    prev, prev_t, n = {}, time.monotonic(), 0
    while True:
        clients, now = hs.clients(), time.monotonic()
        dt = max(now - prev_t, 1e-3)
        rows = []
        for c in sorted(clients, key=lambda c: -c["bytes_total"]):
            before = prev.get(c["mac"], (c["bytes_up"], c["bytes_down"]))
            up, down = (c["bytes_up"] - before[0]) * 8 / dt, (c["bytes_down"] - before[1]) * 8 / dt
            rows.append([c["mac"], _printable(c["hostname"])[:20], c["state"], format_rate(max(0, down)),
                         format_rate(max(0, up)), _size(c["bytes_total"]), _size(c["cap"]),
                         _rate(c["rate_limit"])])
        prev, prev_t = {c["mac"]: (c["bytes_up"], c["bytes_down"]) for c in clients}, now
        head = f"hotspot top - {time.strftime('%H:%M:%S')} - {len(clients)} clients - Ctrl-C to quit"
        body = table(rows, ["MAC", "HOSTNAME", "STATE", "DOWN/s", "UP/s", "USED", "CAP", "LIMIT"],
                     right={3, 4, 5, 6, 7})
        env.stdout.write(("\x1b[H\x1b[J" if tty else "") + head + "\n\n" + body + "\n")
        env.stdout.flush()
        n += 1
        if ns.count and n >= ns.count:
            return
        time.sleep(ns.interval)


COMMANDS = {
    "status": cmd_status,
    "clients": cmd_clients,
    "client": cmd_client,
    "cap": _changed(lambda hs, mac, v: hs.set_cap(mac, v), lambda c, v: f"cap {_size(c['cap'])}"),
    "throttle": _changed(lambda hs, mac, v: hs.throttle(mac, v), lambda c, v: f"throttle {_rate(v)}"),
    "block": _changed(lambda hs, mac, v: hs.block(mac, True), lambda c, v: "blocked"),
    "unblock": _changed(lambda hs, mac, v: hs.block(mac, False), lambda c, v: "unblocked"),
    "reset": _changed(lambda hs, mac, v: hs.reset(mac), lambda c, v: "usage reset"),
    "topup": _changed(lambda hs, mac, v: hs.topup(mac, v), lambda c, v: f"cap now {_size(c['cap'])}"),
    "admit": _changed(lambda hs, mac, v: hs.admit(mac, v), lambda c, v: "admitted " + (
        f"until {c['admitted_until']}" if c["admitted_until"] else "(auth none: every client is)")),
    "unadmit": _changed(lambda hs, mac, v: hs.unadmit(mac), lambda c, v: "not admitted" + (
        "" if not c["admitted"] else " (auth none: every client still is)")),
    "history": cmd_history,
    "forget": cmd_forget,
    "voucher": cmd_voucher,
    "plan": cmd_plan,
    "alerts": cmd_alerts,
    "ghost": cmd_ghost,
    "destination": cmd_destination,
    "teardown": cmd_teardown,
    "passwd": cmd_passwd,
    "top": cmd_top,
    "apps": cmd_apps,
    "guard": cmd_guard,
}


if __name__ == "__main__":
    run()
