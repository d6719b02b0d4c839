"""Devices that leave: which ones hotspotd forgets, and when (pure: no database, no clock of its own).

Client ids end at 32,766 (two tc classes per id in 16 bits, and the id's bits in the conntrack
mark), and a shop sees hundreds of new phones a week, each with a random MAC: without forgetting,
the ids run out within a year and every guest's usage is kept for ever. So a device with no
metered traffic for `client_retention` is forgotten (hotspot.clients.forgetting) and
its id may be given to the next new device. Two kinds of device stay whatever their idle time:

- one with bytes counted this period: forgetting it would give it a fresh cap when it comes back,
  so waiting out the retention is never a way round a cap (the period's rollover zeroes the
  bytes, and it goes at the next look);
- one the owner blocked or lists in plan_exempt: a decision about that MAC, not data about a guest.

hotspotd looks once a minute and forgets at most STEP devices at a time, the longest idle first,
so a poll stays short however many expire at once (a year's first day of retention).
"""

from __future__ import annotations

from typing import NamedTuple

STEP = 25  # devices forgotten in one poll step
INTERVAL = 60.0  # seconds between looks, unless the last look found a full step


class Candidate(NamedTuple):
    """A client as the retention rule sees it (hotspot.core.store.Store.idle_since)."""

    id: int
    mac: str
    last_seen: float
    period_bytes: int
    blocked: bool


def kept(c: Candidate, exempt: frozenset[str] | set[str] | tuple[str, ...] = ()) -> str | None:
    """Why an idle device is not forgotten, or None."""
    if c.period_bytes:
        return "it has bytes this period"
    if c.blocked:
        return "the owner blocked it"
    if c.mac in exempt:
        return "it is in plan_exempt"
    return None


def due(candidates, now: float, retention: float | None, *, exempt=(), limit: int = STEP) -> list[Candidate]:
    """The devices to forget now, the longest idle first, at most `limit`: no traffic since
    `now - retention` and nothing that keeps them. `retention` None keeps every device."""
    if retention is None or limit <= 0:
        return []
    cutoff = now - retention
    found = sorted((Candidate(*c) for c in candidates), key=lambda c: (c.last_seen, c.id))
    return [c for c in found if c.last_seen < cutoff and kept(c, exempt) is None][:limit]
