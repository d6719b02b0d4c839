"""What the kernel should do with a client: pure functions of its record, the config and the plan.

`decide` is the one place a client's whole kernel state comes from: its elements and chains (its quota,
block, gate, throttle marks, the verdict for its plain HTTP) and its tc classes. A change to a client is
a change to its row; applying it is applying the difference between two decisions.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotspot.core.config import Config
from hotspot.core.store import Client, Voucher
from hotspot.kernel.rules import APP_GUARD_CLASS, ClientElements
from hotspot.kernel.tc import class_id
from hotspot.ownlimits import model as own

STATES = ("ok", "warned", "capped", "throttled", "blocked")


def owner_cap(c: Client) -> int | None:
    """The owner's allowance for this period: the cap plus any top-up."""
    return None if c.cap is None else c.cap + c.topup


def effective_cap(c: Client) -> int | None:
    """This period's allowance: the owner's, or the device's own limit where that is lower."""
    return own.lower(owner_cap(c), c.own_limit)


def own_binds(c: Client) -> bool:
    """Is the device's own limit what stops it (not the owner's cap)? Then reaching it stops the
    device, whatever after_cap says: a guest that set a limit wants its data to stop there."""
    cap = owner_cap(c)
    return c.own_limit is not None and (cap is None or c.own_limit <= cap)


def own_stopped(c: Client, quota_used: int | None = None) -> bool:
    """The device reached its own limit (and that limit is what stops it)."""
    return own_binds(c) and over_cap(c, quota_used)


def ask_point(c: Client, cfg: Config) -> int | None:
    """The point at which the device is held next until its user answers (hotspot.ownlimits)."""
    return own.ask_point(own_ask=c.own_ask, owner_ask=c.ask_at, default=cfg.ask_default, done=c.ask_done,
                         cap=effective_cap(c))


def asking(c: Client, cfg: Config, ask_used: int | None = None) -> bool:
    """Is the device held at its ask point now (`ask_used`: what its kernel ask quota counted)?"""
    return own.holding(ask_point(c, cfg), c.period_total, ask_used)


def over_cap(c: Client, quota_used: int | None = None) -> bool:
    """Over the cap by the database, or by the kernel quota, which also counts the packets it dropped:
    the packet that would cross the cap is dropped, so the bytes delivered stop just short of it."""
    cap = effective_cap(c)
    return cap is not None and max(c.period_total, quota_used or 0) >= cap


def capped(c: Client, quota_used: int | None = None) -> bool:
    """Its own cap or its voucher's data is used up."""
    return over_cap(c, quota_used) or over_voucher(c)


def rate(c: Client) -> int | None:
    """The device's rate before its cap (bits/s): the owner's throttle, or its RADIUS session's rate where
    that is lower."""
    rates = [r for r in (c.rate, c.voucher_rate) if r]
    return min(rates) if rates else None


def after_cap_rate(c: Client, cfg: Config) -> int | None:
    """The rate a client gets once its cap (or its voucher's data) is used up, or None when it is then
    blocked."""
    if cfg.after_cap != "throttle" or (c.cap is None and c.voucher_bytes is None) or own_binds(c):
        return None
    return min(cfg.after_cap_rate, rate(c)) if rate(c) else cfg.after_cap_rate


def rate_limit(c: Client, cfg: Config, quota_used: int | None = None) -> int | None:
    """The rate limit in force now (bits/s), if any."""
    return after_cap_rate(c, cfg) if capped(c, quota_used) and cfg.after_cap == "throttle" else rate(c)


def state(c: Client, cfg: Config, quota_used: int | None = None) -> str:
    if c.held:
        return "blocked"
    if own_stopped(c, quota_used):
        return "capped"
    if capped(c, quota_used):
        return "throttled" if cfg.after_cap == "throttle" else "capped"
    if rate(c):
        return "throttled"
    cap = effective_cap(c)
    used = c.period_total
    if own.warned(c.own_warn, used) or cap is not None and used * 100 >= cap * cfg.warn_at:
        return "warned"
    return "ok"


def plan_hold(guard_state: str, exempt: bool) -> str | None:
    """What the plan guard's level does to a client, as its state: "capped" (blocked or stopped),
    "throttled", or None. The owner's exempt devices meet only the hard ceiling."""
    if guard_state == "stop" or guard_state == "block" and not exempt:
        return "capped"
    if guard_state == "throttle" and not exempt:
        return "throttled"
    return None


def admitted(c: Client, cfg: Config) -> bool:
    """May the client use the uplink? With auth none everyone may; with click or voucher, a client
    admitted through the portal (or `hotspotctl admit`) until its session ends."""
    return cfg.auth == "none" or c.admitted_until is not None


def to_portal(c: Client, cfg: Config, quota_used: int | None = None, ask_used: int | None = None) -> bool:
    """Does the client's plain HTTP go to the portal? When it is blocked, not admitted, capped
    (its cap or its voucher's data used up and after_cap is block, or its own limit reached), or
    held at its ask point (`ask_used`: what its kernel ask quota counted), so it sees a page saying
    why, or asking, instead of a timeout."""
    if c.held or not admitted(c, cfg) or own_stopped(c, quota_used) or asking(c, cfg, ask_used):
        return True
    return cfg.after_cap == "block" and capped(c, quota_used)


def shaping(c: Client, cfg: Config) -> dict[str, int | None]:
    """The client's two HTB classes and their rates (None: no class)."""
    return {class_id(c.id): rate(c), class_id(c.id, capped=True): after_cap_rate(c, cfg)}


def elements(c: Client, cfg: Config, *, used: int | None = None, quota_used: int | None = None,
             held: bool = False, ask_used: int | None = None) -> ClientElements:
    """The client's kernel elements; `used` (default: this period's bytes) seeds a new quota;
    `quota_used`: what its kernel quota consumed, if known (a capped client's HTTP goes to the portal);
    `held`: the plan guard blocks or stops it (its HTTP goes to the portal, to say why).
    A client on a voucher with data meets the voucher's quota too, shared with the voucher's other
    devices and seeded with the voucher's `voucher_used`. A device with an ask point meets a quota
    of its own up to that point, which holds it (like the gate) from the byte it crosses; `ask_used`:
    what that quota counted, if known."""
    return ClientElements(
        id=c.id,
        mac=c.mac,
        quota=effective_cap(c),
        used=c.period_total if used is None else used,
        blocked=c.held,
        shape=class_id(c.id) if rate(c) else None,
        shape_capped=class_id(c.id, capped=True) if after_cap_rate(c, cfg) else None,
        ips=tuple(c.ips),
        gated=not admitted(c, cfg),
        portal=to_portal(c, cfg, quota_used, ask_used) or held,
        voucher=c.voucher if c.voucher_bytes is not None else None,
        voucher_quota=c.voucher_bytes,
        voucher_used=c.voucher_used,
        shape_rate=rate(c),
        capped_rate=after_cap_rate(c, cfg),
        exempt=c.mac in cfg.plan_exempt,
        blocked_dests=tuple(c.blocked_dests),
        app_guard=cfg.update_guard_categories if update_guarded(c, cfg) else (),
        app_guard_rate=cfg.update_guard_rate if cfg.update_guard_action == "throttle" else None,
        ask=ask_point(c, cfg),
    )


@dataclass(frozen=True)
class ClientState:
    """Everything the kernel holds of one client: its elements and chains, and its tc classes (class
    id -> rate, None: no class)."""

    elements: ClientElements
    classes: dict[str, int | None]


def decide(c: Client, cfg: Config, *, held: bool = False, used: int | None = None,
           quota_used: int | None = None, ask_used: int | None = None) -> ClientState:
    """The client's whole kernel state from its row, the config and the plan guard (`held`: the guard
    blocks or stops it); `used`, `quota_used` and `ask_used` as for `elements`."""
    return ClientState(elements(c, cfg, used=used, quota_used=quota_used, held=held, ask_used=ask_used),
                       shaping(c, cfg))


def update_guarded(c: Client, cfg: Config) -> bool:
    """Does the update guard hold back this client's chosen categories (while metered)? Its own
    choice, else the config's default."""
    return cfg.update_guard if c.update_guard is None else c.update_guard


def app_guard_shaping(cfg: Config) -> dict[str, int | None]:
    """The update guard's shared throttle class and its rate (None: no class)."""
    return {APP_GUARD_CLASS: cfg.update_guard_rate if cfg.update_guard_action == "throttle" else None}


# -- vouchers ------------------------------------------------------------------------------------

VOUCHER_STATES = ("unused", "active", "used_up", "expired", "revoked")


def over_voucher(c: Client) -> bool:
    """The data of the client's voucher is used up (`voucher_used`: the database's count, or the
    kernel quota's, which the caller folds in when it has read it)."""
    return c.voucher_bytes is not None and c.voucher_used >= c.voucher_bytes


def voucher_state(v: Voucher, now: float, used: int | None = None) -> str:
    """One of VOUCHER_STATES; `used`: its bytes up to now, if known better than the database's."""
    used = v.used if used is None else used
    if v.revoked is not None:
        return "revoked"
    if v.expires is not None and now >= v.expires:
        return "expired"
    if v.bytes is not None and used >= v.bytes:
        return "used_up"
    return "unused" if v.first_used is None else "active"


def voucher_refusal(v: Voucher | None, now: float, *, used: int | None = None, others: int = 0) -> str | None:
    """Why a device may not redeem `v` (None: it may). `others`: how many other devices use it now.
    The reasons: "invalid" | "revoked" | "expired" | "used_up" | "devices"."""
    if v is None:
        return "invalid"
    state = voucher_state(v, now, used)
    if state in ("revoked", "expired", "used_up"):
        return state
    if others >= v.devices:
        return "devices"
    return None
