"""hotspotctl's commands for which apps use the data: apps [MAC], guard MAC on|off|default."""

from __future__ import annotations

from datetime import datetime

from hotspot.core.command import Command, UsageError, say
from hotspot.core.text import printable, size, table, write_json
from hotspot.core.units import check_when


def _args(p) -> None:
    p.add_argument("mac", nargs="?")
    p.add_argument("--from", dest="date_from", metavar="DATE", help="first day, YYYY-MM-DD (default: "
                   "this period's start)")
    p.add_argument("--to", dest="date_to", metavar="DATE", help="last day, YYYY-MM-DD (default: today)")
    p.add_argument("--period", action="store_true", help="this period (the default)")


def _days(ns) -> tuple[float | None, float | None]:
    """--from and --to as [start of the first day, start of the day after the last)."""
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


def _apps(house, ns, days, env):
    found = house.apps.usage(ns.mac, *days)
    if ns.json:
        return write_json(env.stdout, found)
    rows = []
    for c in found["clients"]:
        name = c["mac"] or "router"
        if c["mac"] and c["name"]:
            name += f" ({printable(c['name'])[:20]})"
        for r in c["categories"]:
            if r["bytes_total"] or ns.mac:
                rows.append([name, r["category"], size(r["bytes_up"]), size(r["bytes_down"]),
                             size(r["bytes_total"]), f"{r['percent']:g}%"])
                name = ""
    say(env, f"{found['since'][:10]} to {found['until'][:10]}",
        table(rows, ["CLIENT", "CATEGORY", "UP", "DOWN", "TOTAL", "SHARE"], right={2, 3, 4, 5})
        if rows else "no usage recorded")


def _guard(house, ns, _v, env):
    c = house.apps.guard(ns.mac, {"on": True, "off": False, "default": None}[ns.choice])
    if ns.json:
        return write_json(env.stdout, c)
    say(env, f"{c['mac']}: update guard {'on' if c['update_guard'] else 'off'}"
             f"{' (the default)' if c['update_guard_choice'] is None else ''}")


COMMANDS = [
    Command("apps", "bytes per app category (video, social, ..., other), per client", _apps, _args, _days),
    Command("guard", "the update guard for a device: on, off or default", _guard,
            lambda p: (p.add_argument("mac"), p.add_argument("choice", choices=("on", "off", "default")))),
]
