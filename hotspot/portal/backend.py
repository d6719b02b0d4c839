"""What the portal asks of hotspotd.

The portal's workers run unprivileged; everything that needs the kernel, the database or a secret is
asked of hotspotd through this interface. `hotspot.ipc.IpcBackend` implements it over hotspotd's Unix
socket; tests use a fake with the same methods. A client is always named by the source address of
its request (`ip`): hotspotd maps it to a MAC through the kernel's neighbour table, so nothing the
client sends (headers, parameters) can make it another client.

Dict shapes (ISO 8601 strings for times, bytes and bits/s as integers, None where nothing applies):

client view (`me`, `clients`, `client`, `act`), as `hotspotctl clients --json` plus (except that
`hostname` is the name to show: the owner's `alias` if set, else `dhcp_hostname`):
    mac, id, hostname, ips, bytes_up, bytes_down, bytes_total, cap, remaining, rate_limit,
    state ("ok" | "warned" | "capped" | "throttled" | "blocked"), first_seen, last_seen,
    reason: why the state is not "ok", one of None | "blocked" | "cap_block" (cap reached, blocked
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
        "cap_hit_latest": ISO | None the same at the range's high and low} (hotspot.forecast: the
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
    ghost: ghost traffic (hotspot.ghost_watch): {"events": [{"id", "kind": "upload" | "unusual_hour" |
        "idle", "start", "end", "fired": ISO, "bytes_up", "bytes_down", "bytes_total", "destinations":
        [{"addr", "name": DNS name or None, "up", "down"}], ...}] of the last day, newest first, at
        most 3; "blocked": [{"addr", "name"}] the destinations its chains drop; "self_paused": bool,
        it paused itself from its page (so it may resume from there)}
`client` adds: history: [{"hour": ISO, "up": int, "down": int}] for the last 7 days.
The client view (`me`, `client`) also has (which apps use the data, hotspot/apps.py):
    apps: [{"category": one of hotspot.categories.CATEGORIES or "other", "bytes_up", "bytes_down",
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
    hotspot.modem.Modem.as_dict() or {"error": one line}; views.modem_facts reads it)}

alerts (`alerts`): {"alerts": [{"id", "kind": "plan" | "client", "subject": "plan" or a MAC, "name":
    the client's name or None, "period": ISO, "point": percent, "fired": ISO, "used", "allowance"}],
    "deliveries": [{"id", "uid", "created": ISO, "channel", "kind", "subject", "status": "pending" |
    "sent" | "failed", "attempts", "last_error", "receipt", "sent_at", "next_try", "last_try"}],
    "channels": [{"name": "webhook" | "email" | "sms", "target": where it goes, "ready": bool}]},
    newest first

history (`me_history`, `history`), as UsageHistory.query (hotspot/usage.py): {"by": "hour" | "day" |
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

from typing import Protocol


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


class Backend(Protocol):
    # -- the client's own, named by its address ------------------------------------------------
    def me(self, ip: str) -> dict:
        """The client view of the device at `ip`; NotAClient if none."""

    def captive(self, ip: str) -> dict:
        """RFC 8908 state: {"captive": bool, "seconds_remaining": int|None,
        "bytes_remaining": int|None, "can_extend": bool}."""

    def admit(self, ip: str, voucher: str | None = None) -> dict:
        """Admit the device at `ip` (click: accepted terms; voucher: a code, any case, dash optional);
        returns its view. VoucherRefused when the code cannot admit it."""

    def ghost_act(self, ip: str, action: str, destination: str | None = None) -> dict:
        """The device at `ip` acts on its ghost traffic: "block"/"unblock" a destination (an IPv4 or
        IPv6 address, or a DNS name: the addresses it has now), "pause" itself, "resume" (only if it
        paused itself). Returns its view; BackendError with a one-line reason."""
    def me_history(self, ip: str, by: str = "day", since: str | None = None,
                   until: str | None = None) -> dict:
        """The device at `ip`'s own usage by hour, day or month over [since, until) (YYYY-MM-DD or
        ISO 8601; None: the last 48 hours, 30 days or 12 months); see `history` above. NotAClient,
        or BackendError (one line) for a bad range or one finer than retention kept."""

    # -- the owner's ---------------------------------------------------------------------------
    def ghost_admin(self, mac: str, action: str, destination: str | None = None) -> dict:
        """The owner's same actions on a client (pause/resume = block/unblock); its `client` view."""

    def portal_settings(self) -> dict:
        """What the portal needs to run: {"secret": hex str, "auth", "portal_port", "tls": bool,
        "metrics_token": str|None, "venue": str|None, "retention": {"client_days": days without
        traffic before a device is forgotten (None: never), "hourly_days", "daily_months": the
        history's retention}}."""

    def login(self, ip: str, password: str) -> bool:
        """Check the admin password; BackendError when `ip` made too many failed attempts."""

    def status(self) -> dict:
        """As `hotspotctl status --json`, plus speed_up/speed_down for the whole LAN."""

    def clients(self) -> list[dict]:
        """Every client's view."""

    def client(self, mac: str) -> dict:
        """One client's view with its history; BackendError if unknown."""

    def act(self, mac: str, action: str, value: str | None = None) -> dict:
        """cap SIZE|none, throttle RATE|none, block, unblock, reset, topup SIZE, rename NAME|"":
        parsed and applied by hotspotd like the CLI; returns the client's new view."""

    def forget(self, mac: str) -> dict:
        """Erase a device with everything recorded about it, as `hotspotctl forget` (its bytes stay
        in the plan's totals): {"mac", "id", "forgotten": True, "bytes_total", "last_seen",
        "rows_erased"}; BackendError if unknown."""

    def settings(self) -> dict:
        """The settings as their config strings: default_cap, period, period_start, after_cap,
        after_cap_rate, auth, and the data plan's (config.SETTABLE: plan_quota, plan_period, ...)."""

    def set_settings(self, values: dict[str, str]) -> dict:
        """Validate and write to the config file; BackendError names the bad field."""

    def vouchers(self) -> list[dict]:
        """Every voucher, oldest first."""

    def create_vouchers(self, count: str, data: str, valid: str, devices: str) -> list[dict]:
        """Make a batch: `count` vouchers (1-500) of `data` SIZE|none shared by up to `devices` (1-50)
        devices, valid for `valid` DURATION from the first use; parsed like the CLI, BackendError
        names the bad field. Returns the new vouchers."""

    def revoke_voucher(self, code: str) -> dict:
        """Revoke a voucher; its devices lose their session at once. BackendError if unknown."""

    def plan(self) -> dict:
        """The uplink's data plan for the admin's Plan page (see `plan` above)."""

    def plan_topup(self, size: str) -> dict:
        """Add SIZE to this cycle's plan, like `hotspotctl plan topup`; BackendError when the size is
        bad or the plan has no quota. Returns the plan as `hotspotctl plan --json`."""

    def alerts(self) -> dict:
        """The alerts fired, the delivery log and the configured channels (see `alerts` above)."""

    def test_channel(self, channel: str) -> dict:
        """Send a test message now through "webhook", "email" or "sms": {"channel", "receipt"}, or
        BackendError with the channel's one-line reason."""

    def set_update_guard(self, ip: str, on: bool) -> dict:
        """The client at `ip` switches the update guard on or off for itself; its `me` view after."""

    def apps(self) -> dict:
        """Every client's bytes per app category this period (shape above)."""
    def history(self, subject: str, by: str = "day", since: str | None = None,
                until: str | None = None) -> dict:
        """As me_history for a client (`subject` a MAC) or the plan ("plan": every client and the
        router summed); BackendError for an unknown client."""

    def metrics(self) -> dict:
        """{"status": status(), "clients": clients(), "health": {"last_poll": ISO,
        "poll_seconds": float, "rebuilds": int, "uptime_seconds": float}, "alerts": {"fired":
        {"plan": int, "client": int} (all time), "deliveries": {"pending", "sent", "failed": int}
        (in the delivery log)}, "apps": apps()["clients"]}."""
