"""hotspotctl's commands for ghost traffic: ghost [MAC], destination block|unblock MAC ADDR|NAME."""

from __future__ import annotations

from hotspot.core.command import Command, Parser, say
from hotspot.core.text import printable, size, table, write_json


def _ghost(house, ns, _v, env):
    ghost = house.ghost
    macs = [ns.mac] if ns.mac else [c.mac for c in house.store.clients()]
    events = ghost.events(ns.mac)
    blocked = {mac: ghost.blocked_destinations(mac) for mac in macs}
    if ns.json:
        return write_json(env.stdout, {"events": events,
                                       "blocked": {m: b for m, b in blocked.items() if b or ns.mac}})

    def where(e):
        return ", ".join(f"{printable(d['name'] or d['addr'])} {size(d['up'] + d['down'])}"
                         for d in e["destinations"][:3])

    rows = [[e["start"][:16].replace("T", " "), e["end"][11:16], e["mac"], e["kind"], size(e["bytes_up"]),
             size(e["bytes_down"]), where(e)] for e in events]
    say(env, table(rows, ["START", "END", "MAC", "KIND", "UP", "DOWN", "DESTINATIONS"], right={4, 5})
        if rows else "no ghost traffic seen")
    rows = [[mac, b["addr"], printable(b["name"] or ""), b["created"][:16].replace("T", " ")]
            for mac, bs in blocked.items() for b in bs]
    if rows:
        say(env, "", table(rows, ["MAC", "BLOCKED", "NAME", "SINCE"]))


def _destination_args(p) -> None:
    sub = p.add_subparsers(dest="destination_command", metavar="block|unblock", parser_class=Parser)
    sub.required = True
    for name in ("block", "unblock"):
        dp = sub.add_parser(name, help=f"{name} ADDR (IPv4, IPv6 or a DNS name) for the device MAC")
        dp.add_argument("mac")
        dp.add_argument("destination")


def _destination_value(ns):
    from hotspot.ghost.watch import parse_destination

    parse_destination(ns.destination)  # checked here: a bad one fails before anything is opened


def _destination(house, ns, _v, env):
    block = ns.destination_command == "block"
    ghost = house.ghost
    r = (ghost.block_destination if block else ghost.unblock_destination)(ns.mac, ns.destination)
    if ns.json:
        return write_json(env.stdout, r)
    via = f" ({r['name']}'s addresses now)" if r["name"] else ""
    say(env, f"{r['mac']}: {'blocked' if block else 'unblocked'} {' '.join(r['addresses'])}{via}")


COMMANDS = [
    Command("ghost", "ghost-traffic events (a device using data when or how it usually does not) and the "
            "destinations blocked", _ghost, lambda p: p.add_argument("mac", nargs="?")),
    Command("destination", "block or unblock a remote address (or a DNS name's addresses) for one device",
            _destination, _destination_args, _destination_value),
]
