"""The socket's operations on the uplink's data plan.

What a client view (clients/ops.py) holds of the plan, only what affects that device (never another
client's): plan_guard: the guard's level holding it back ("throttle" | "block" | "stop") or None;
plan: None without a plan quota, else {"percent": float used, "guard": the plan's level "ok" |
"throttle" | "block" | "stop", "held": plan_guard, "left_for_you": bytes until the guard holds it
back (None: no such point), "alert_point": the highest alert point of the plan passed or None,
"next_level": the next level that would hold it back or None, "next_at_percent": its point,
"cycle_end", "renews": False for a pass}.

The plan (`plan`): {"plan": status()["plan"], "uplink": status()["uplink"], "exempt": [{"mac", "name"}],
"plans": every SIM's plan as `hotspotctl plan list --json` (iccid, name, active, used, quota, topup,
allowance, percent, cycle, cycle_start, cycle_end, operator, sim_type, first_seen, last_seen, settings:
{option: text}, calibrations: [{at, made, theirs, ours, gap, source, text}]),
"modem": status()["modem"] (only when hotspotd reads a modem: hotspot.uplink.modem.Modem.as_dict() or
{"error": one line}), "carrier": the carrier's last reading of the active plan's SIM or None
(hotspot.carrier.keeper.Carrier.last(): "amount", "kind", "source", "from", "at", "text", "taken",
"why", "why_args", ...)}. status()["plan"] holds the plan's fields flattened: plan_quota, plan_topup,
allowance, plan_used, plan_left, plan_percent, cycle, cycle_start, cycle_end, expired,
forecast_end_bytes, forecast_low, forecast_high (its 80 % range), runs_out_at, runs_out_earliest (when
the allowance is likely used up, and at the range's high; None: it lasts), router_bytes, router_up,
router_down, roaming, guard: {"state", "limits": {level: bytes | None}, "throttle_rate", "exempt": [mac]}.
"""

from hotspot.core.contract import ADMIN, op

OPERATIONS = (
    op("plan", ADMIN, "", "plan", "The uplink's data plan for the Plan page."),
    op("plan_topup", ADMIN, "size", "as `hotspotctl plan --json`",
       "Add SIZE to this cycle's plan; BackendError when the size is bad or the plan has no quota."),
    op("plan_set", ADMIN, "sim, values", "[plan] as `hotspotctl plan list --json`",
       "Set plan options of the SIM `sim` ('' : the plan used without a modem, in the config file); "
       "BackendError (one line, nothing changed) for a bad value or an unknown SIM."),
    op("plan_name", ADMIN, "sim, name", "[plan]", "Name a SIM's plan ('' clears); BackendError if bad."),
    op("plan_calibrate", ADMIN, "used, at=None", "as `hotspotctl plan --json`",
       "This cycle's used amount is the carrier's SIZE `used` as of `at` (a local 'YYYY-MM-DD HH:MM', "
       "None: now); BackendError for a bad size or moment."),
)
