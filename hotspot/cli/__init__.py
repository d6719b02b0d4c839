"""hotspotctl: the owner's command line, over SSH or in scripts (`--json`).

Each capability declares its own commands (hotspot/<capability>/commands.py); this gathers them into
one parser, checks every value before anything is opened, builds the house and runs the command.
`main(args, env)` runs in-process, so tests call it directly; errors are one line on stderr and the
exit status says what kind of failure it was:

    0  ok
    1  error: the database, the kernel or the command itself failed
    2  usage: bad arguments (one line), or a bad config file (every error in it, one line each,
       'FILE:LINE: reason' in file order)
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys

from hotspot.admin.commands import COMMANDS as ADMIN
from hotspot.alerts.commands import COMMANDS as ALERTS
from hotspot.apps.commands import COMMANDS as APPS
from hotspot.captive.commands import COMMANDS as CAPTIVE
from hotspot.clients.commands import COMMANDS as CLIENTS
from hotspot.config import DEFAULT_PATH, ConfigError, load
from hotspot.core.command import Command, Environment, ExitStatus, Parser, UsageError, fail, say
from hotspot.core.text import printable, rate, size, write_json
from hotspot.core.units import InvalidValue, parse_mac
from hotspot.forecast.commands import COMMANDS as FORECAST
from hotspot.ghost.commands import COMMANDS as GHOST
from hotspot.history.commands import COMMANDS as HISTORY
from hotspot.ownlimits.commands import COMMANDS as OWNLIMITS
from hotspot.plan.commands import COMMANDS as PLAN
from hotspot.plan.commands import modem_lines, plan_lines
from hotspot.uplink.commands import COMMANDS as UPLINK

__all__ = ["Environment", "ExitStatus", "main", "run"]


def _uplink(u: dict) -> str:
    notes = ["present" if u["present"] else "absent"] + ["not metered"] * (not u["metered"])
    return f"{u['device']} ({', '.join(notes + ['in use'] * u['active'])})"


def _status(house, ns, _v, env):
    s = house.status()
    if ns.json:
        return write_json(env.stdout, s)
    d = s["daemon"]
    plan = s["plan"]
    say(env,
        "daemon:    " + (f"running (pid {d['pid']})" if d["running"] else "not running"),
        f"kernel:    {'table inet hotspot loaded' if s['kernel']['table'] else 'no table loaded'}",
        "uplink:    " + ", ".join(_uplink(u) for u in s["uplink"]),
        f"period:    {plan['period']}, {plan['period_start']} to {plan['period_end']}",
        f"caps:      default {size(plan['default_cap'])}, after cap: {plan['after_cap']}"
        + (f" at {rate(plan['after_cap_rate'])}" if plan["after_cap_rate"] else ""),
        f"clients:   {s['clients']} (" + ", ".join(f"{n} {k}" for k, n in s["states"].items() if n) + ")",
        f"usage:     {size(s['bytes_total'])} this period (up {size(s['bytes_up'])}, "
        f"down {size(s['bytes_down'])})",
        f"committed: {s['last_commit'] or 'never'}",
        *plan_lines(plan),
        *modem_lines(s.get("modem"), plan))


def _settings_args(p) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    sub.add_parser("show", help="the settings the owner may change, as the config file spells them")
    check = sub.add_parser("check", help="check KEY=VALUE settings against the config file; nothing is "
                           "written")
    check.add_argument("values", nargs="+", metavar="KEY=VALUE")


def _settings_values(ns) -> dict[str, str]:
    values = {}
    for item in getattr(ns, "values", None) or []:
        key, eq, value = item.partition("=")
        if not eq:
            raise UsageError(f"{item!r} is not KEY=VALUE")
        values[key] = value
    return values


def _settings(_house, ns, values, env):
    """`settings check`: the file with these values set, checked as hotspotd would read it, in a copy
    (LuCI's Settings page asks before it saves, so a bad value never reaches /etc/config/hotspot)."""
    import shutil
    import tempfile

    from hotspot.config import settings_text, write_settings

    try:
        cfg = load(ns.config)
        if ns.action == "check":
            with tempfile.TemporaryDirectory(prefix="hotspot-check-") as tmp:
                copy = shutil.copyfile(ns.config, f"{tmp}/hotspot")
                try:
                    cfg = write_settings(copy, values)
                except ConfigError as e:
                    # the copy's lines are not the file's: name the option, not a line
                    raise ConfigError([re.sub(rf"^{re.escape(copy)}(:\d+)?: ", "", line)
                                       for line in e.errors]) from None
    except ConfigError as e:
        for line in e.errors:
            fail(env, printable(line))
        return ExitStatus.USAGE
    shown = settings_text(cfg)
    if ns.json:
        return write_json(env.stdout, shown)
    say(env, *(f"{k}={v}" for k, v in shown.items()))


def _teardown(house, ns, _v, env):
    removed = house.teardown()
    if ns.json:
        return write_json(env.stdout, {"removed": removed})
    say(env, "removed table inet hotspot" if removed else "no table inet hotspot to remove")


# Every command, in the order `hotspotctl --help` lists them.
COMMANDS: list[Command] = [
    Command("status", "daemon, uplink and plan summary", _status),
    *CLIENTS, *OWNLIMITS, *CAPTIVE, *HISTORY, *PLAN, *UPLINK, *ALERTS, *GHOST, *APPS, *FORECAST,
    Command("teardown", "remove the kernel table (counting stops)", _teardown),
    Command("settings", "the settings the owner may change: show, or check KEY=VALUE ... before a save",
            _settings, _settings_args, _settings_values, house=False),
    *ADMIN,
]
BY_NAME = {c.name: c for c in COMMANDS}


def parser() -> Parser:
    p = Parser(prog="hotspotctl", description="Inspect and control hotspot's per-client accounting.")
    p.add_argument("-c", "--config", default=DEFAULT_PATH, help=f"UCI config file (default {DEFAULT_PATH})")
    p.add_argument("--json", action="store_true", help="print JSON only")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for c in COMMANDS:
        sp = sub.add_parser(c.name, help=c.help, description=c.description)
        c.add(sp)
        if c.house:  # `hotspotctl clients --json` as well as `hotspotctl --json clients`
            sp.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON only")
    return p


def main(args: list[str] | None = None, env: Environment | None = None) -> ExitStatus:
    env = env or Environment()
    try:
        ns = parser().parse_args(sys.argv[1:] if args is None else args)
        command = BY_NAME[ns.command]
        if getattr(ns, "mac", None) is not None and not (ns.command == "history" and ns.mac == "plan"):
            ns.mac = parse_mac(ns.mac)
        value = command.parse(ns)
        if ns.command == "top" and ns.json:
            raise UsageError("top is interactive; use 'clients --json' for scripts")
    except (UsageError, InvalidValue) as e:
        return fail(env, printable(e))
    if not command.house:
        return command.run(None, ns, value, env) or ExitStatus.OK
    try:
        cfg = load(ns.config)
    except ConfigError as e:  # a bad config is a usage error: say everything that is wrong with it
        for line in e.errors:
            fail(env, printable(line))
        return ExitStatus.USAGE
    try:
        from hotspot.house import House  # after parsing: bad input fails fast and touches nothing

        house = House(cfg)
    except (OSError, sqlite3.Error) as e:
        return fail(env, str(e), ExitStatus.ERROR)
    try:
        return command.run(house, ns, value, env) or ExitStatus.OK
    except KeyboardInterrupt:
        return ExitStatus.OK
    except Exception as e:  # one line, whatever went wrong
        return fail(env, reason(e), ExitStatus.ERROR)
    finally:
        house.close()


def reason(e: Exception) -> str:
    text = str(e).strip().splitlines()
    if isinstance(e, LookupError) and text:
        return text[0].strip("'\"")
    return text[0] if text else type(e).__name__


def run() -> None:
    sys.exit(main())
