"""A guest's own choices as pure rules: what it may set against the owner's cap, and where it is asked.

Every point is bytes of this period, the device's own (the same bytes its cap counts). The owner's cap
bounds them all: a guest can lower what it may use, never lift it. `check` says why a choice is
refused (a reason code the portal words in the reader's language, and the amount it names), so a bad
choice changes nothing.
"""

from __future__ import annotations

from typing import NamedTuple

OFF = 0  # the owner's ask point for a device: no point, even with an ask_default (None: the default)


class Refusal(NamedTuple):
    """Why a choice is refused: `reason` and the amount (bytes) it names."""

    reason: str  # above_cap | below_used | warn_above_limit | ask_above_limit | ask_below_used |
    # not_positive | not_asked | invalid
    amount: int | None = None

    def english(self) -> str:
        """The one-line message for the command line and the log."""
        from hotspot.core.units import format_bytes

        amount = "" if self.amount is None else format_bytes(self.amount)
        return {
            "above_cap": f"at most the owner's cap for this device, {amount}",
            "below_used": f"not below what this device already used this period, {amount}",
            "warn_above_limit": f"the warning must be below the device's own limit, {amount}",
            "ask_above_limit": f"the point to ask must be below the limit, {amount}",
            "ask_below_used": f"the point to ask must be above what this device already used, {amount}",
            "not_positive": "a point must be more than 0 bytes",
            "not_asked": "this device is not waiting at an ask point",
            "invalid": "a point is a size such as 500MB, or empty for none",
        }[self.reason]


def check(*, limit: int | None, warn: int | None, ask: int | None, owner_cap: int | None,
          used: int) -> Refusal | None:
    """Why a guest's own limit, warning point and ask point (None: none) cannot be set, or None.
    `owner_cap`: the owner's cap for it with any top-up (None: no cap); `used`: its bytes this period."""
    for point in (limit, warn, ask):
        if point is not None and point <= 0:
            return Refusal("not_positive")
    for point in (limit, warn, ask):
        if point is not None and owner_cap is not None and point > owner_cap:
            return Refusal("above_cap", owner_cap)
    if limit is not None and limit < used:
        return Refusal("below_used", used)
    if warn is not None and limit is not None and warn >= limit:
        return Refusal("warn_above_limit", limit)
    if ask is not None:
        top = limit if limit is not None else owner_cap
        if top is not None and ask >= top:
            return Refusal("ask_above_limit", top)
        if ask <= used:
            return Refusal("ask_below_used", used)
    return None


def lower(*limits: int | None) -> int | None:
    """The lowest of the limits that are set (None: none is)."""
    found = [n for n in limits if n is not None]
    return min(found) if found else None


def ask_point(*, own_ask: int | None, owner_ask: int | None, default: int | None, done: int | None,
              cap: int | None) -> int | None:
    """The point at which the device is held next, or None. Its own point and the owner's (the
    owner's for this device, else the default for every device; OFF: none) both count, the lowest
    first; a point it answered "continue" at this period (`done`) and those below it are passed,
    and one at or past its cap (`cap`: the lower of the owner's and its own) would never be met
    before the cap stops it."""
    owner = default if owner_ask is None else (None if owner_ask == OFF else owner_ask)
    points = [p for p in (own_ask, owner) if p is not None and (done is None or p > done)
              and (cap is None or p < cap)]
    return min(points) if points else None


def holding(point: int | None, used: int, quota_used: int | None = None) -> bool:
    """Is the device held at its ask point now? By the database's bytes or by its kernel quota, which
    also counts the packets it held back (the packet that crosses the point is held)."""
    return point is not None and max(used, quota_used or 0) >= point


def warned(warn: int | None, used: int) -> bool:
    """Has the device passed its own warning point?"""
    return warn is not None and used >= warn
