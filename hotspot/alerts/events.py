"""The owner's alerts about the uplink's SIM: a SIM met for the first time, roaming begun and ended.

Each is queued once, when hotspotd sees the change (the database records the SIM and the roaming
state in the same transaction as the queued message, so neither a restart nor a reboot sends it again).
"""

from __future__ import annotations

from hotspot.alerts.message import Message
from hotspot.core.units import format_bytes


def _points(limits: dict[str, int | None]) -> str:
    found = [f"{level} at {format_bytes(v)}" for level, v in limits.items() if v is not None]
    return ", ".join(found) or "none"


def new_sim(iccid: str, operator: str | None, sim_type: str | None, adopted: bool) -> Message:
    who = f"SIM {iccid}" + (f" ({operator})" if operator else "")
    if adopted:
        text = (f"The router now reads its uplink's SIM: {who}. The plan counted so far is this SIM's; "
                "check its quota and cycle on the Plan page.")
        subject = f"{who}: the plan counted so far is its plan"
    else:
        text = (f"A SIM never seen before is in use: {who}, {sim_type or 'unknown'} SIM. It starts with "
                "the default plan (the config's plan options) from zero: set its plan on the Plan page or "
                f"with 'hotspotctl plan set --sim {iccid}'.")
        subject = f"New {who}: set its plan"
    return Message(subject=subject, text=text,
                   data={"event": "sim_new", "iccid": iccid, "operator": operator, "sim_type": sim_type,
                         "adopted": adopted})


def roaming(started: bool, operator: str | None, limits: dict[str, int | None], used: int,
            allowance: int | None) -> Message:
    where = f" on {operator}" if operator else ""
    if started:
        subject = f"Roaming{where}"
        text = (f"The modem is roaming{where}. The plan guard's points now in force: {_points(limits)}. "
                f"Used so far: {format_bytes(used)}"
                + (f" of {format_bytes(allowance)}." if allowance else "."))
    else:
        subject = "Roaming ended"
        text = (f"The modem is back on its home network{where}. The guard's points now in force: "
                f"{_points(limits)}.")
    return Message(subject=subject, text=text,
                   data={"event": "roaming_start" if started else "roaming_end", "operator": operator,
                         "limits": limits, "used": used, "allowance": allowance})
