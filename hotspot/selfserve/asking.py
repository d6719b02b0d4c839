"""A guest asks the owner for more data: when it may ask again, the top-up proposed, and the owner's
alert (its texts marked for translation: the owner's language machinery translates them by msgid).

Pure: no database, no clock of its own."""

from __future__ import annotations

import math
from urllib.parse import quote

from hotspot.alerts.message import Message
from hotspot.core.config import N_
from hotspot.core.units import format_bytes

INTERVAL = 3600  # a device asks at most once an hour
MAX_PER_INTERVAL = 10  # and all devices together at most this many times an hour
STEP = 100_000_000  # a proposed top-up is a whole number of 100 MB
MIN_TOPUP = 100_000_000

SUBJECT = N_("hotspot: %(name)s asks for more data")
TEXT = N_("%(name)s (%(mac)s) has used %(used)s of its %(cap)s this period and asks for more. "
          "Approve a top-up of %(size)s: %(link)s")
TEXT_NO_LINK = N_("%(name)s (%(mac)s) has used %(used)s of its %(cap)s this period and asks for more. "
                  "Top up its cap in the admin UI (Clients).")


def next_ask(last: float | None, now: float, interval: int = INTERVAL) -> float | None:
    """When the device may ask again: None if now (never asked, or `interval` has passed). A last ask
    in the future (the clock went back) does not lock it out for longer than `interval`."""
    if last is None or not now - interval < last <= now + interval:
        return None
    return min(last, now) + interval


def proposed_topup(cap: int | None) -> int | None:
    """The top-up the owner is offered: a quarter of the device's own cap, rounded up to 100 MB, at
    least 100 MB; None for a device without a cap (there is nothing to top up)."""
    if cap is None:
        return None
    if not isinstance(cap, int) or cap < 0:
        raise ValueError("a cap is a number of bytes")
    return max(MIN_TOPUP, math.ceil(cap / 4 / STEP) * STEP)


def approve_url(portal_url: str | None, mac: str, size: int) -> str | None:
    """The admin UI's confirm page for this top-up (it acts only on the owner's click, after login)."""
    if not portal_url:
        return None
    return f"{portal_url.rstrip('/')}/admin/clients/{quote(mac)}/approve?size={int(size)}"


def message(*, mac: str, name: str | None, used: int, cap: int, size: int, link: str | None,
            gettext=lambda s: s) -> Message:
    """The owner's alert (`gettext`: the owner's language's, identity by default)."""
    args = {"name": name or mac, "mac": mac, "used": format_bytes(used), "cap": format_bytes(cap),
            "size": format_bytes(size), "link": link}
    text = gettext(TEXT if link else TEXT_NO_LINK) % args
    data = {"event": "ask", "mac": mac, "name": name, "bytes_total": used, "cap": cap, "topup": size,
            "approve_url": link}
    return Message(subject=gettext(SUBJECT) % args, text=text, data=data)
