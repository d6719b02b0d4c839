"""The uplink's data plan: its billing cycle, what is left, the guard's levels and the alert points.

Pure functions of the config and a few figures from the database, so each rule is testable without
a router. The carrier bills in its own time zone, from an hour of its choosing (often not midnight),
so a cycle is computed in that zone: "monthly from the 15th at 06:00 Asia/Tokyo" ends at the same
instant whatever the router's own clock zone is.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from typing import NamedTuple

from hotspot.core.clock import bounds
from hotspot.core.config import Config, size_text

LEVELS = ("throttle", "block", "stop")  # the guard's levels, mildest first
_OFFSET = re.compile(r"(?:UTC|GMT)(?:([+-])(\d{1,2})(?::?(\d{2}))?)?", re.ASCII | re.IGNORECASE)


class Threshold(NamedTuple):
    """A point in the plan: a percentage of the plan's quota (with its top-ups), or bytes."""

    percent: float | None = None
    bytes: int | None = None

    def of(self, limit: int | None) -> int | None:
        """In bytes, for a plan of `limit` bytes (None: a percentage of no quota is no point)."""
        if self.bytes is not None:
            return self.bytes
        return None if limit is None else int(limit * self.percent / 100)

    def __str__(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else size_text(self.bytes)


def guard(cfg: Config, roaming: bool = False) -> dict[str, Threshold | None]:
    """The plan guard's thresholds in force: {"throttle", "block", "stop"}; roaming ones replace the home
    ones they set. (Config.guard: hotspot/config.py gives the house's Config this as a method.)"""
    home = {"throttle": cfg.plan_throttle_at, "block": cfg.plan_block_at, "stop": cfg.plan_stop_at}
    if not roaming:
        return home
    away = {"throttle": cfg.roaming_throttle_at, "block": cfg.roaming_block_at, "stop": cfg.roaming_stop_at}
    return {k: away[k] or home[k] for k in home}


def timezone_of(name: str | None) -> tzinfo | None:
    """A zone from its IANA name ('Asia/Tokyo') or a fixed offset ('UTC+8', 'UTC-05:30'); None is the
    router's local time. Raises ValueError (one line) for anything else."""
    if not name:
        return None
    m = _OFFSET.fullmatch(name.strip())
    if m:
        sign, hours, minutes = m.groups()
        delta = timedelta(hours=int(hours or 0), minutes=int(minutes or 0))
        if delta > timedelta(hours=14):
            raise ValueError(f"'{name}' is more than 14 hours from UTC")
        return timezone(-delta if sign == "-" else delta)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}", name, re.ASCII):
        raise ValueError(f"'{name}' is not a time zone (e.g. 'Europe/Berlin' or 'UTC+8')")
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception:  # unknown name, or no zone database (OpenWrt: install zoneinfo-*)
        raise ValueError(f"unknown time zone '{name}' (a name from the zone database, or 'UTC+8')") from None


def cycle(now: float, cfg: Config, activated: float | None = None) -> tuple[float, float] | None:
    """[start, end) of the plan's cycle containing `now`, as unix times. A pass runs once, from its
    activation (the config's plan_activated, else `activated`: its first metered byte) for
    plan_pass_length; None before it is activated."""
    if cfg.plan_period == "pass":
        start = cfg.plan_activated or activated
        return None if start is None else (start, start + cfg.plan_pass_length)
    tz = timezone_of(cfg.plan_timezone)
    local = datetime.fromtimestamp(now, tz) - timedelta(hours=cfg.plan_start_hour)
    naive = local.replace(tzinfo=None)
    s, e = bounds(naive, cfg.plan_period, cfg.plan_period_start)
    hour = timedelta(hours=cfg.plan_start_hour)
    return _stamp(s + hour, tz), _stamp(e + hour, tz)


def _stamp(naive: datetime, tz: tzinfo | None) -> float:
    return naive.timestamp() if tz is None else naive.replace(tzinfo=tz).timestamp()


def allowance(cfg: Config, topup: int) -> int | None:
    """The bytes this cycle allows: the plan's quota plus what the owner topped up."""
    return None if cfg.plan_quota is None else cfg.plan_quota + topup


def guard_limits(cfg: Config, limit: int | None, roaming: bool = False) -> dict[str, int | None]:
    """Each guard level's point in bytes of this cycle (None: the level is off)."""
    return {level: (t.of(limit) if t is not None else None) for level, t in guard(cfg, roaming).items()}


def guard_state(used: int, limits: dict[str, int | None]) -> str:
    """The strictest level reached: "stop", "block", "throttle", or "ok"."""
    for level in reversed(LEVELS):
        point = limits.get(level)
        if point is not None and used >= point:
            return level
    return "ok"


def crossed(used: int, limit: int | None, percents: tuple[int, ...], fired: set[int]) -> list[int]:
    """The alert points (percent of `limit`) reached and not yet fired, lowest first. After a long
    gap (hotspotd was down), every point passed meanwhile fires, once each."""
    if not limit:
        return []
    return [p for p in sorted(percents) if p not in fired and used * 100 >= limit * p]


def remaining(used: int, limit: int | None) -> int | None:
    return None if limit is None else max(0, limit - used)


def passed(used: int, whole: int | None, points) -> int | None:
    """The highest alert point (percent of `whole`) that `used` reached, or None."""
    if not whole:
        return None
    return max((p for p in points if used * 100 >= whole * p), default=None)
