"""plan_next_sim: on a dual-SIM modem, when the plan's stop point is reached, the other slot's SIM is
made primary (ModemManager's Modem.SetPrimarySimSlot) and the owner is told. A cycle of a plan
makes one switch at most, so two SIMs that both reached their stop point never swap back and
forth, nor does a SIM that shares the plan switch back."""

from __future__ import annotations

from hotspot.alerts.message import Message
from hotspot.core.config import N_

KEEP = 8  # the plans' cycles that made a switch, remembered

SUBJECT = N_("hotspot: switched to SIM slot %(new)d")
SWITCHED = N_("The data plan reached its stop point on SIM slot %(old)d (%(iccid)s): the modem now uses "
              "SIM slot %(new)d.")
FAILED = N_("The data plan reached its stop point on SIM slot %(old)d (%(iccid)s); switching to SIM slot "
            "%(new)d failed: %(error)s")


def next_slot(*, enabled: bool, guard: str, primary: int | None, slots: tuple[int, ...],
              switched: bool) -> int | None:
    """The slot to make primary now, or None: only with the option on, the guard at "stop", a
    multi-SIM modem with another slot holding a SIM, and no switch in this cycle of the plan.
    With more than two slots, the next one after the primary, round."""
    if not enabled or guard != "stop" or switched or not primary:
        return None
    others = sorted((s for s in slots if s != primary), key=lambda s: (s < primary, s))
    return others[0] if others else None


def mark(cycle_start: float | None) -> str:
    """What is remembered of a switch: the cycle of the plan that made it."""
    return f"{cycle_start or 0:.0f}"


def message(old: int, new: int, iccid: str | None, error: str | None = None, gettext=lambda s: s) -> Message:
    """The owner's alert (`gettext`: the owner's language's, identity by default)."""
    facts = {"old": old, "new": new, "iccid": iccid or "?", "error": error}
    text = gettext(FAILED if error else SWITCHED) % facts
    return Message(subject=gettext(SUBJECT) % facts, text=text,
                   data={"event": "next_sim", "from_slot": old, "to_slot": new, "iccid": iccid,
                         "switched": error is None, "error": error})
