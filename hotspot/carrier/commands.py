"""hotspotctl's part of the carrier's figure: `plan query` (ask the carrier by USSD now) and the line
`plan show` prints of the last reading. They belong to the `plan` command (hotspot/plan/commands.py)."""

from __future__ import annotations

from hotspot.carrier.keeper import carrier_line, why_text
from hotspot.core.command import ExitStatus, fail, say
from hotspot.core.text import printable, size, write_json

QUERY_HELP = "ask the carrier its figure now (USSD, carrier_ussd) and calibrate the plan with it"


def add_query(sub) -> None:
    sub.add_parser("query", help=QUERY_HELP)


def run_query(house, ns, env):
    """Ask, print the reply and what it did; exit 1 when the modem failed or no code is set for the SIM,
    0 otherwise (a reply that gave no figure is an answer too: its reason is printed)."""
    from hotspot.uplink.modem import ModemError

    try:
        q = house.carrier.query()
    except (ModemError, ValueError) as e:
        return fail(env, printable(str(e).splitlines()[0]), ExitStatus.ERROR)
    if ns.json:
        return write_json(env.stdout, q)
    r = q["reading"]
    if r["taken"]:
        did = f"the plan's used figure is now {size(r['used'])} ({size(r['amount'])} {r['kind']})"
    else:
        did = f"nothing changed: {why_text(r)}"
    say(env, f"asked:     {printable(q['code'])} (SIM {printable(q['iccid'])})",
        f"reply:     {printable(q['reply'])}", f"done:      {printable(did)}")


def show_lines(house) -> list[str]:
    return [carrier_line(house.carrier.last())]
