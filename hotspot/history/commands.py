"""hotspotctl's history: a client's or the plan's usage by hour, day or month."""

from __future__ import annotations

import time

from hotspot.core.command import Command, ExitStatus, fail, say
from hotspot.core.text import printable, size, table, write_json
from hotspot.core.units import InvalidValue
from hotspot.history.buckets import resolve


def _args(p) -> None:
    p.add_argument("mac", metavar="MAC|plan")
    p.add_argument("--by", choices=("hour", "day", "month"), default="hour")
    p.add_argument("--from", dest="since", metavar="DATE", help="YYYY-MM-DD or an ISO 8601 date and "
                   "time (default: 48 hours, 30 days or 12 months back, by --by)")
    p.add_argument("--to", dest="until", metavar="DATE", help="the range's end, not included (default: now)")


def _value(ns):  # checked here: a bad date fails before anything is opened
    return resolve(ns.by, ns.since, ns.until, time.time())


def _history(house, ns, _v, env):
    try:
        rows = house.history.rows(ns.mac, by=ns.by, since=ns.since, until=ns.until)
    except InvalidValue as e:  # a range finer than retention kept: a usage error, nothing read
        return fail(env, printable(e), ExitStatus.USAGE)
    if ns.json:
        return write_json(env.stdout, rows)
    width = {"hour": 16, "day": 10, "month": 7}[ns.by]
    body = [[r["start"][:width].replace("T", " "), size(r["bytes_up"]), size(r["bytes_down"]),
             size(r["bytes_total"])] for r in rows]
    if body:
        up, down = sum(r["bytes_up"] for r in rows), sum(r["bytes_down"] for r in rows)
        body.append(["total", size(up), size(down), size(up + down)])
    say(env, table(body, ["START", "UP", "DOWN", "TOTAL"], right={1, 2, 3}) if body else "no usage recorded")


COMMANDS = [Command("history", "usage history of a client (MAC) or of the plan ('plan')", _history, _args,
                    _value)]
