"""The owner's alerts about the uplink's SIM: a SIM met for the first time, roaming begun and ended, in
the owner's language (hotspot.alerts.language).

Each is queued once, when hotspotd sees the change (the database records the SIM and the roaming
state in the same transaction as the queued message, so neither a restart nor a reboot sends it again).
"""

from __future__ import annotations

from hotspot.alerts.language import notice, words
from hotspot.alerts.message import Message
from hotspot.core.config import N_
from hotspot.core.units import format_bytes

ADOPTED = (N_("SIM %(sim)s: the plan counted so far is its plan"),
           N_("The router now reads its uplink's SIM: %(sim)s. The plan counted so far is this SIM's; check "
              "its quota and cycle on the Plan page."))
NEW = (N_("New SIM %(sim)s: set its plan"),
       N_("A SIM never seen before is in use: %(sim)s. It starts from zero with the default plan (the plan "
          "options of the config): set its plan on the Plan page, or with 'hotspotctl plan set --sim "
          "%(iccid)s'."))
ROAMING = (N_("Roaming on %(operator)s"),
           N_("The modem is roaming on %(operator)s. The guard's points now in force: %(points)s. Used so "
              "far: %(used)s of %(allowance)s."))
HOME = (N_("Roaming ended"),
        N_("The modem is back on its home network. The guard's points now in force: %(points)s."))
LEVELS = {"throttle": N_("slow down at %(size)s"), "block": N_("block at %(size)s"),
          "stop": N_("stop at %(size)s")}


def _sim(iccid: str, operator: str | None) -> str:
    return f"{iccid} ({operator})" if operator else iccid


def _points(lang: str | None, limits: dict[str, int | None]) -> str:
    w = words(lang)
    found = [w._(LEVELS[level], size=format_bytes(v)) for level, v in limits.items()
             if v is not None and level in LEVELS]
    return w.list(found) if found else w._(N_("none"))


def new_sim(lang: str | None, iccid: str, operator: str | None, sim_type: str | None,
            adopted: bool) -> Message:
    return notice(lang, *(ADOPTED if adopted else NEW), sim=_sim(iccid, operator), iccid=iccid,
                  data={"event": "sim_new", "iccid": iccid, "operator": operator, "sim_type": sim_type,
                        "adopted": adopted})


def roaming(lang: str | None, started: bool, operator: str | None, limits: dict[str, int | None], used: int,
            allowance: int | None) -> Message:
    w = words(lang)
    data = {"event": "roaming_start" if started else "roaming_end", "operator": operator, "limits": limits,
            "used": used, "allowance": allowance}
    points = _points(lang, limits)
    if not started:
        return notice(lang, *HOME, points=points, data=data)
    whole = format_bytes(allowance) if allowance else w._(N_("no quota"))
    return notice(lang, *ROAMING, operator=operator or w._(N_("another network")), points=points,
                  used=format_bytes(used), allowance=whole, data=data)
