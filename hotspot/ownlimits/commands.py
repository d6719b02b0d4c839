"""hotspotctl's command for the ask point: ask MAC SIZE|none|default|continue."""

from __future__ import annotations

from hotspot.core.command import Command, say
from hotspot.core.text import size, write_json
from hotspot.core.units import parse_cap

WORDS = ("default", "continue")


def _value(ns) -> str:
    """Checked before anything is opened: a SIZE, none, default or continue."""
    word = ns.point.strip().lower()
    if word not in WORDS:
        parse_cap(word)
    return word


def _ask(house, ns, value, env):
    c = house.ownlimits.owner_ask(ns.mac, value)
    if ns.json:
        return write_json(env.stdout, c)
    if value == "continue":
        done = "released: it goes on to its limit"
    elif c["ask_off"]:
        done = "never asked"
    else:
        at = c["ask_at"] if c["ask_at"] is not None else c["ask_default"]
        done = f"asked at {size(at)}" + (" (the default)" if c["ask_at"] is None and at is not None else "")
    say(env, f"{c['mac']}: {done}; {size(c['bytes_total'])} used, state {c['state']}")


COMMANDS = [
    Command("ask", "hold a device at SIZE until its user answers on its page (continue or stop); none: "
            "never, default: ask_default, continue: release it now", _ask,
            lambda p: (p.add_argument("mac"), p.add_argument("point")), _value),
]
