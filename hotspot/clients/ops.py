"""The socket's operations on clients (declared here, answered by hotspotd, called by the portal).

A client view (`me`, `clients`, `client`, `act`) is `hotspotctl clients --json` plus more; ISO times,
bytes and bits/s as integers, None where nothing applies:
    mac, id, ips, bytes_up, bytes_down, bytes_total, cap, rate_limit, first_seen, last_seen,
    period_start, period_end
    hostname: the name to show: for the owner its `alias` if set, else its DHCP hostname; for the
        device itself (`me`) its DHCP hostname only (never the owner's private name for it)
    remaining: the smallest of what is left of its own cap, of its voucher's data and of the plan
        before the plan's guard holds it back
    state: "ok" | "warned" | "capped" | "throttled" | "blocked"
    reason: why the state is not "ok": None | "blocked" (by the owner) | "paused" (by itself) |
        "cap_block" (cap reached: blocked until the period ends) | "cap_throttle" (cap reached:
        slowed to `rate_limit`) | "throttle" (slowed by the owner) | "warned" (close to the cap) |
        "not_admitted" (captive, not signed in) | "voucher_used" (its voucher's data is used up:
        blocked if "capped", slowed if "throttled", until it redeems another) | "plan_throttle" |
        "plan_block" | "plan_stop" (the plan's guard holds it back: slowed, blocked, all metered
        data stopped)
    until: when the reason ends (period_end for cap_*; the plan's cycle_end for plan_*, None for a
        pass; None for the owner's throttle or block)
    blocked: held by the owner's block or its own pause; owner_blocked: the owner's block;
        self_paused: it paused itself from its page (it may resume; the owner's block it cannot lift)
    speed_up, speed_down: bits/s over the last few seconds
    today: [{"hour", "bytes"}] the hours of today so far (local); days: [{"day": "YYYY-MM-DD",
        "bytes"}] every day of the period so far
    forecast: {"period_end_bytes": the likely total, "low", "high": its 80 % range, "cap_hit_at":
        when the cap is likely reached (None: not before period_end), "cap_hit_earliest",
        "cap_hit_latest": the same at the range's high and low} (hotspot.forecast.model)
    cap_alert: the highest alert point (alert_at, percent) of its own cap it passed, or None
and what the other capabilities add: captive/ops.py (admitted, auth, voucher...), plan/ops.py
(plan_guard, plan), ghost/ops.py (ghost), apps/ops.py (apps, update_guard...), selfserve/ops.py (ask,
trickle).
`client` adds history: [{"hour", "up", "down"}] for the last 7 days.
"""

from hotspot.core.contract import ADMIN, GUEST, op

OPERATIONS = (
    op("me", GUEST, "ip", "client view",
       "The device at `ip`; NotAClient if none. Never the owner's private name for it (`alias`)."),
    op("clients", ADMIN, "", "[client view]", "Every client's view."),
    op("client", ADMIN, "mac", "client view with history",
       "One client's view with its history; BackendError if unknown."),
    op("act", ADMIN, "mac, action, value=None", "client view",
       "cap SIZE|none, throttle RATE|none, block, unblock (the owner's block and the device's own "
       'pause), reset, topup SIZE, rename NAME|"", guard on|off|default: parsed and applied like the CLI.'),
    op("forget", ADMIN, "mac", '{"mac", "id", "forgotten": True, "bytes_total", "last_seen", "rows_erased"}',
       "Erase a device with everything recorded about it, as `hotspotctl forget` (its bytes stay in the "
       "plan's totals); BackendError if unknown."),
)
