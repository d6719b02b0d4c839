"""hotspotctl's commands for the eSIM's profiles: esim list|enable|nickname (through lpac)."""

from __future__ import annotations

from hotspot.core.command import Command, ExitStatus, Parser, fail, say
from hotspot.core.text import printable, write_json
from hotspot.core.units import check_iccid
from hotspot.uplink.lpac import LpacError, check_nickname


def _args(p) -> None:
    sub = p.add_subparsers(dest="esim_command", metavar="list|enable|nickname", parser_class=Parser)
    sub.required = True
    sub.add_parser("list", help="the eUICC's EID and its profiles")
    sub.add_parser("enable", help="enable the profile ICCID: the modem switches to it").add_argument("iccid")
    pp = sub.add_parser("nickname", help="name the profile ICCID (1 to 64 bytes)")
    pp.add_argument("iccid")
    pp.add_argument("name")


def _value(ns):
    """The ICCID and the nickname checked before lpac is run: a bad one is a usage error."""
    if ns.esim_command in ("enable", "nickname"):
        ns.iccid = check_iccid(ns.iccid)
    if ns.esim_command == "nickname":
        ns.name = check_nickname(ns.name)


def profile_lines(listing: dict) -> list[str]:
    lines = [f"eid:       {printable(listing['eid'] or '-')}"]
    for p in listing["profiles"]:
        name = " / ".join(printable(x) for x in (p["nickname"], p["name"]) if x) or "-"
        lines.append(f"{'*' if p['state'] == 'enabled' else ' '} {p['iccid']}  {name}"
                     f" ({printable(p['provider'] or '-')}, {p['state']}, {p['profile_class'] or '-'})")
    return lines if listing["profiles"] else [*lines, "no profiles"]


def _esim(house, ns, _value, env):
    esim = house.esim
    try:
        if ns.esim_command == "enable":
            esim.enable(ns.iccid)
        elif ns.esim_command == "nickname":
            esim.nickname(ns.iccid, ns.name)
    except LpacError as e:
        return fail(env, printable(e), ExitStatus.ERROR)
    listing = esim.listing()
    if not listing["available"]:
        return fail(env, f"lpac is not installed at {house.cfg.esim_lpac} (opkg install lpac)",
                    ExitStatus.ERROR)
    if listing["error"]:
        return fail(env, printable(listing["error"]), ExitStatus.ERROR)
    if ns.json:
        return write_json(env.stdout, listing)
    say(env, *profile_lines(listing))


COMMANDS = [Command("esim", "the eSIM's profiles through lpac: list, enable, nickname", _esim, _args, _value)]
