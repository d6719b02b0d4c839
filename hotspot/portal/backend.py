"""What the portal asks of hotspotd: every operation of hotspotd's socket, declared once.

The portal's workers run unprivileged; everything that needs the kernel, the database or a secret is
asked of hotspotd over its Unix socket (`hotspot.ipc`). OPERATIONS below is the one list of what can be
asked: each operation's name, its arguments, its answer's shape and who may call it. hotspotd's server
takes its allow-list, its dispatch and its authorisation from it; the portal's client (`IpcBackend`) is
generated from it; any other backend (the tests' fake, the house's operations) is checked against it
(`check_backend`), so none of them can drift from the others.

Who may call an operation (`who`):
- guest: the portal, for the device its connection came from, named by `ip` (the request's source
  address: hotspotd maps it to a MAC through the kernel's neighbour table, so nothing the client sends,
  headers or parameters, can make it another client). It carries nothing else.
- portal: the portal itself (what it needs to run).
- admin: the portal with the admin's session token (`session`), which hotspotd issued at login and
  checks on every call; the portal holds nothing that makes one.
- metrics: as admin, or with the metrics bearer token (`token`), which hotspotd checks.
- root: root only (hotspotctl). Root may call every operation, and any user but root and the portal's
  own none at all (SO_PEERCRED).

Dict shapes (ISO 8601 strings for times, bytes and bits/s as integers, None where nothing applies):

client view (`me`, `clients`, `client`, `act`), as `hotspotctl clients --json` plus (except that
`hostname` is the name to show: for the owner the owner's `alias` if set, else `dhcp_hostname`; for the
device itself (`me`) its DHCP hostname only, and no `alias`):
    mac, id, hostname, ips, bytes_up, bytes_down, bytes_total, cap, remaining, rate_limit,
    state ("ok" | "warned" | "capped" | "throttled" | "blocked"), first_seen, last_seen,
    blocked: held by the owner's block or its own pause; owner_blocked: the owner blocked it;
    self_paused: it paused itself from its page (it may resume; the owner's block it cannot lift)
    reason: why the state is not "ok", one of None | "blocked" (by the owner) | "paused" (by itself)
        | "cap_block" (cap reached, blocked
        until the period ends) | "cap_throttle" (cap reached, slowed to `rate_limit`) | "throttle"
        (slowed by the owner) | "warned" (close to the cap) | "not_admitted" (captive, not signed in)
        | "voucher_used" (its voucher's data is used up: blocked if state is "capped", slowed if
        "throttled", until it redeems another voucher) | "plan_throttle" | "plan_block" | "plan_stop"
        (the uplink's data plan guard holds it back: slowed, blocked, or all metered data stopped)
    until: when the reason ends (period_end for cap_*; the plan's cycle_end for plan_*, None for a
        pass; None for manual throttle/block)
    period_start, period_end
    speed_up, speed_down: bits/s over the last few seconds
    today: [{"hour": ISO, "bytes": int}] the hours of today so far (local time)
    days: [{"day": "YYYY-MM-DD", "bytes": int}] every day of the period so far
    forecast: {"period_end_bytes": int the likely total, "low", "high": int its 80 % range, "cap_hit_at":
        ISO | None when the cap is likely reached (before period_end), "cap_hit_earliest",
        "cap_hit_latest": ISO | None the same at the range's high and low} (hotspot.forecast.model: the
        recent level and the device's weekday and hour pattern)
    admitted: bool; auth: "none" | "click" | "voucher"; voucher: code or None
    voucher_bytes: the voucher's data (None: no limit), voucher_used: what all its devices used,
    voucher_remaining (None: no limit), voucher_expires: ISO | None; `remaining` is the smallest of
    what is left of the device's own cap, of its voucher's data and of the plan before its guard
    holds this device back
    plan_guard: the guard level holding this device back ("throttle" | "block" | "stop") or None
    cap_alert: the highest alert point (alert_at, percent) of its own cap it passed, or None
    plan: None without a plan quota, else only the plan-level facts that affect this device (never
        another client's): {"percent": float used, "guard": the plan's level "ok" | "throttle" |
        "block" | "stop", "held": plan_guard, "left_for_you": bytes until the guard holds it back
        (None: no such point), "alert_point": the highest alert point of the plan passed or None,
        "next_level": the next level that would hold it back or None, "next_at_percent": its point,
        "cycle_end": ISO | None, "renews": False for a pass}
    ghost: ghost traffic (hotspot.ghost.watch): {"events": [{"id", "kind": "upload" | "unusual_hour" |
        "idle", "start", "end", "fired": ISO, "bytes_up", "bytes_down", "bytes_total", "destinations":
        [{"addr", "name": DNS name or None, "up", "down"}], ...}] of the last day, newest first, at
        most 3; "blocked": [{"addr", "name", "by": "owner" | "device"}] the destinations its chains
        drop and who blocked each (the device may unblock only its own); "self_paused": bool,
        it paused itself from its page (so it may resume from there)}
`client` adds: history: [{"hour": ISO, "up": int, "down": int}] for the last 7 days.
The client view (`me`, `client`) also has (which apps use the data, hotspot/apps/usage.py):
    apps: [{"category": one of hotspot.apps.categories.CATEGORIES or "other", "bytes_up", "bytes_down",
        "bytes_total", "percent": float share of the total}] this period, largest first
    update_guard: bool (the guard holds back its chosen categories while metered),
    update_guard_choice: True | False (the device's own choice) | None (the default),
    update_guard_categories: [category] the guard holds back

apps (`apps`, the owner's): hotspotctl apps --json: {"since", "until": ISO, "clients": [{"mac" (None:
    the router), "name", "update_guard", "categories": as `apps` above}], "by_category": [{"category",
    "bytes_total", "clients": [{"client": MAC or "router", "bytes_total"}]}] largest first}

plan (`plan`): {"plan": status()["plan"] (the plan's fields flattened: plan_quota, plan_topup,
    allowance, plan_used, plan_left, plan_percent, cycle, cycle_start, cycle_end, expired,
    forecast_end_bytes, forecast_low, forecast_high (its 80 % range), runs_out_at, runs_out_earliest
    (ISO | None: when the allowance is likely used up, and at the range's high), router_bytes,
    router_up, router_down, roaming, guard: {"state",
    "limits": {level: bytes | None}, "throttle_rate", "exempt": [mac]}), "uplink": status()["uplink"],
    "exempt": [{"mac", "name"}], "modem": dict (only when hotspotd reads a modem: status()["modem"],
    hotspot.uplink.modem.Modem.as_dict() or {"error": one line}; views.modem_facts reads it)}

alerts (`alerts`): {"alerts": [{"id", "kind": "plan" | "client", "subject": "plan" or a MAC, "name":
    the client's name or None, "period": ISO, "point": percent, "fired": ISO, "used", "allowance"}],
    "deliveries": [{"id", "uid", "created": ISO, "channel", "kind", "subject", "status": "pending" |
    "sent" | "failed", "attempts", "last_error", "receipt", "sent_at", "next_try", "last_try"}],
    "channels": [{"name": "webhook" | "email" | "sms", "target": where it goes, "ready": bool}]},
    newest first

history (`me_history`, `history`), as UsageHistory.query (hotspot/history/usage.py): {"by": "hour" | "day" |
    "month", "now": ISO (the router's), "from": ISO, "to": ISO (the buckets' range, [from, to)),
    "hourly_from": ISO (hours are kept from here on: finer questions before it are refused),
    "daily_from": ISO (days likewise), "rows": [{"start": ISO, "end": ISO, "bytes_up", "bytes_down",
    "bytes_total"}] (only buckets with usage, oldest first)}; local days and months of the router

voucher (`vouchers`, `create_vouchers`, `revoke_voucher`), as `hotspotctl voucher list --json`:
    code ("XXXX-XXXX"), batch (int: the vouchers made together), created, bytes (data; None: no
    limit), used, remaining (None: no limit), valid_seconds (from its first use), devices (most
    allowed), devices_used, first_used, expires, revoked (ISO | None),
    state: "unused" | "active" | "used_up" | "expired" | "revoked"
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass
from typing import Any

GUEST, PORTAL, ADMIN, METRICS, ROOT = "guest", "portal", "admin", "metrics", "root"
CREDENTIALS = {ADMIN: ("session",), METRICS: ("session", "token")}  # what the portal adds to a call
TIMEOUT = 10.0  # seconds the portal waits for an answer


class BackendError(Exception):
    """A refused request; the message is one line, fit to show the user."""


class NotAClient(BackendError):
    """The request's source address belongs to no known LAN client."""


class VoucherRefused(BackendError):
    """A voucher code that cannot admit the device. `reason` says why, for the portal to say it in the
    reader's language: "invalid" | "revoked" | "expired" | "used_up" | "devices" (in use on as many
    devices as it allows)."""

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


class NotAdmin(Exception):
    """An owner's operation without a session hotspotd accepts (none, ended, expired, or the password
    changed). Not a BackendError: no page shows it as a form's error; the portal sends to the login."""


@dataclass(frozen=True)
class Operation:
    name: str
    who: str
    params: tuple[tuple[str, Any], ...]  # (name, default), inspect.Parameter.empty for none
    result: str  # the answer's shape (the shapes above name the larger ones)
    doc: str
    wait: float = TIMEOUT  # how long the portal waits for the answer

    def signature(self, *, credentials: bool) -> inspect.Signature:
        """The method's parameters: the arguments, then (for the portal's side, `credentials`) the
        session or token hotspotd checks, keyword-only; `session` is required for admin operations."""
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        params = [inspect.Parameter("self", kind)]
        params += [inspect.Parameter(n, kind, default=d) for n, d in self.params]
        if credentials:
            optional = self.who == METRICS
            params += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY,
                                         default=None if optional else inspect.Parameter.empty)
                       for n in CREDENTIALS.get(self.who, ())]
        return inspect.Signature(params)

    @property
    def arg_names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.params)

    @property
    def required(self) -> set[str]:
        return {n for n, d in self.params if d is inspect.Parameter.empty}


def op(name: str, who: str, params: str, result: str, doc: str, wait: float = TIMEOUT) -> Operation:
    """An Operation from its parameters written as in Python ("ip, voucher=None")."""
    parsed = []
    for part in filter(None, (p.strip() for p in params.split(","))):
        pname, eq, default = part.partition("=")
        parsed.append((pname.strip(), ast.literal_eval(default.strip()) if eq else inspect.Parameter.empty))
    return Operation(name, who, tuple(parsed), result, doc, wait)


OPERATIONS = (
    # -- a device's own, named by the address its connection came from --------------------------------
    op("me", GUEST, "ip", "client view",
       "The device at `ip`; NotAClient if none. Never the owner's private name for it (`alias`)."),
    op("captive", GUEST, "ip", '{"captive": bool, "seconds_remaining", "bytes_remaining": int|None, '
       '"can_extend": bool}', "RFC 8908 state of the device at `ip`."),
    op("admit", GUEST, "ip, voucher=None", "client view",
       "Admit the device at `ip` (click: accepted terms; voucher: a code, any case, dash optional); "
       "VoucherRefused when the code cannot admit it."),
    op("ghost_act", GUEST, "ip, action, destination=None", "client view",
       'The device acts on its ghost traffic: "block"/"unblock" a destination (an IPv4 or IPv6 address, '
       'or a DNS name: the addresses it has now), "pause" itself, "resume". It lifts only what it set '
       "itself: never the owner's block of it or of a destination; BackendError with a one-line reason."),
    op("set_update_guard", GUEST, "ip, on", "client view",
       "The device switches the update guard on or off for itself."),
    op("me_history", GUEST, 'ip, by="day", since=None, until=None', "history",
       "The device's own usage by hour, day or month over [since, until) (YYYY-MM-DD or ISO 8601; None: "
       "the last 48 hours, 30 days or 12 months); BackendError for a bad range or one finer than "
       "retention kept."),
    op("login", GUEST, "ip, password", "str | None: a new admin session token, None for a wrong password",
       "Check the admin password (one hash at a time); BackendError while the device (its address, "
       "its MAC, its IPv6 /64) or the hotspot as a whole made too many failed attempts."),
    # -- the portal itself -------------------------------------------------------------------------------
    op("portal_settings", PORTAL, "", '{"cookie_key": hex str (signs the portal\'s cookies: CSRF tokens, '
       'language; hotspotd makes it at start and keeps it in memory), "auth", "portal_port", "tls": bool, '
       '"tls_port", "venue": str|None, "portal_url", "portal_hosts": [str], "retention": {"client_days": '
       'days without traffic before a device is forgotten (None: never), "hourly_days", "daily_months": '
       'the history\'s retention}}',
       "What the portal needs to run. Nothing in it lets the portal act as admin."),
    # -- the owner's, with the session hotspotd issued at login -------------------------------------------
    op("logout", ADMIN, "", '{"ended": int}', "End every admin session at once."),
    op("status", ADMIN, "", "status", "As `hotspotctl status --json`, plus speed_up/speed_down for the LAN."),
    op("clients", ADMIN, "", "[client view]", "Every client's view."),
    op("client", ADMIN, "mac", "client view with history",
       "One client's view with its history; BackendError if unknown."),
    op("act", ADMIN, "mac, action, value=None", "client view",
       "cap SIZE|none, throttle RATE|none, block, unblock (the owner's block and the device's own "
       'pause), reset, topup SIZE, rename NAME|"", guard on|off|default: parsed and applied like the CLI.'),
    op("forget", ADMIN, "mac", '{"mac", "id", "forgotten": True, "bytes_total", "last_seen", "rows_erased"}',
       "Erase a device with everything recorded about it, as `hotspotctl forget` (its bytes stay in the "
       "plan's totals); BackendError if unknown."),
    op("ghost_admin", ADMIN, "mac, action, destination=None", "client view with history",
       "The owner's ghost actions on a client (pause/resume = block/unblock); any block it may lift."),
    op("settings", ADMIN, "", "{field: config string}",
       "default_cap, period, period_start, after_cap, after_cap_rate, auth, and the data plan's "
       "(config.SETTABLE)."),
    op("set_settings", ADMIN, "values", "{field: config string}",
       "Validate and write to the config file; BackendError names the bad field."),
    op("vouchers", ADMIN, "", "[voucher]", "Every voucher, oldest first."),
    op("create_vouchers", ADMIN, "count, data, valid, devices", "[voucher]",
       "A batch of `count` (1-500) vouchers of `data` SIZE|none shared by up to `devices` (1-50), valid "
       "for `valid` DURATION from the first use; BackendError names the bad field."),
    op("revoke_voucher", ADMIN, "code", "voucher",
       "Revoke a voucher; its devices lose their session at once. BackendError if unknown."),
    op("plan", ADMIN, "", "plan", "The uplink's data plan for the Plan page."),
    op("plan_topup", ADMIN, "size", "as `hotspotctl plan --json`",
       "Add SIZE to this cycle's plan; BackendError when the size is bad or the plan has no quota."),
    op("alerts", ADMIN, "", "alerts", "The alerts fired, the delivery log and the configured channels."),
    op("test_channel", ADMIN, "channel", '{"channel", "receipt"}',
       'Send a test message now through "webhook", "email" or "sms"; BackendError with the channel\'s '
       "one-line reason.", wait=75.0),  # an SMTP server may take its timeouts for a few commands
    op("apps", ADMIN, "", "apps", "Every client's bytes per app category this period."),
    op("history", ADMIN, 'subject, by="day", since=None, until=None', "history",
       'As me_history for a client (`subject` a MAC) or the plan ("plan"); BackendError if unknown.'),
    op("metrics", METRICS, "", '{"status", "clients", "health": {"last_poll", "poll_seconds", "rebuilds", '
       '"uptime_seconds"}, "alerts": {"fired": {"plan", "client"}, "deliveries": {"pending", "sent", '
       '"failed"}}, "apps": apps()["clients"]}', "Everything /metrics exposes."),
    # -- root's (hotspotctl) -------------------------------------------------------------------------------
    op("end_sessions", ROOT, "", '{"ended": int}',
       "End every admin session now (`hotspotctl passwd`; a new password ends them in any case)."),
)
OPS = {o.name: o for o in OPERATIONS}

# A Backend: an object with a method per operation (the portal's side: IpcBackend, the tests' fake).
Backend = Any


def check_backend(target, *, credentials: bool = True):
    """Raise TypeError unless `target` (a class, or an object of bound methods) has a method for every
    operation, with exactly its declared parameters (`credentials`: the portal's side, which adds the
    session or token; else hotspotd's side, which gets the arguments only). Root's operations are not
    the portal's to call."""
    def shape(sig: inspect.Signature) -> list:  # names, kinds and defaults; annotations are free
        return [(p.name, p.kind, p.default) for p in sig.parameters.values()]

    bound = not isinstance(target, type)
    name = type(target).__name__ if bound else target.__name__
    wrong = []
    for o in OPERATIONS:
        if credentials and o.who == ROOT:
            continue
        method = getattr(target, o.name, None)
        want = o.signature(credentials=credentials)
        if bound:  # a bound method has no `self`
            want = want.replace(parameters=list(want.parameters.values())[1:])
        if not callable(method):
            wrong.append(f"{o.name}: missing")
        elif shape(inspect.signature(method)) != shape(want):
            wrong.append(f"{o.name}{inspect.signature(method)}: declared {o.name}{want}")
    if wrong:
        raise TypeError(f"{name} does not match the socket's operations: " + "; ".join(wrong))
    return target
