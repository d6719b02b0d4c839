"""`make bench`: hotspot's benchmarks, one JSON object per line on stdout; progress on stderr.

    .venv/bin/python -m tests.bench.run [GROUP ...]
        groups: dataplane lookups budget cap ask_overshoot throttle poll rss rebuild flush_gap portal
                portal_slow page_weight admit plan_overshoot alert_latency sim_switch ghost categories
                forecast history dns_snoop register churn idle busy weight  (--quick: shorter windows)

Every ratio is measured against a baseline taken in the same run and lab, alternating the
configurations, never against a number from another machine. A figure that misses its goal is
still printed with its goal beside it. A benchmark that cannot run prints its name with value null
and the error, and the run exits 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback

from lab import cleanup_stale
from tests.bench import (
    admit,
    ask,
    budget,
    categories,
    churn,
    dataplane,
    enforcement,
    ghost,
    history,
    idle,
    lookups,
    plan,
    portal,
    rebuild,
    register,
    service,
    snoop,
    weight,
)
from tests.bench import forecast as forecast_bench
from tests.bench.common import emit, log

# group -> (what it runs, the names it emits: reported as null if the group fails)
GROUPS = {
    "dataplane": (dataplane.run, [("dataplane_pps_ratio_empty_hook", "ratio"),
                                  ("dataplane_pps_ratio", "ratio"), ("dataplane_scaling", "ratio")]),
    "lookups": (lookups.run, [("lookups_per_packet", "lookups")]),
    "budget": (budget.run, [("rule_cost_ns", "ns")]),
    "cap": (enforcement.run_cap, [("cap_overshoot_bytes", "bytes")]),
    "ask_overshoot": (ask.run_overshoot, [("ask_hold_overshoot_bytes", "bytes")]),
    "throttle": (enforcement.run_throttle, [("throttle_error", "ratio")]),
    "poll": (service.run_poll, [("poll_ms_5000", "ms")]),
    "rss": (service.run_rss, [("daemon_rss_mb_5000", "MB")]),
    "rebuild": (rebuild.run_rebuild, [("rebuild_ms_10", "ms"), ("rebuild_ms_5000", "ms")]),
    "flush_gap": (rebuild.run_flush_gap, [("flush_gap_bytes", "bytes")]),
    "portal": (portal.run_portal, [("portal_p99_ms", "ms"), ("portal_rss_mb", "MB")]),
    "portal_slow": (portal.run_portal_slow, [("portal_p99_ms_slow", "ms")]),
    "page_weight": (portal.run_page_weight, [("page_weight_kb", "kB")]),
    "admit": (admit.run_admit, [("admit_ms", "ms")]),
    "register": (register.run_register, [("register_ms", "ms")]),
    "plan_overshoot": (plan.run_overshoot, [("plan_overshoot_bytes", "bytes")]),
    "alert_latency": (plan.run_alert_latency, [("alert_latency_ms", "ms")]),
    "sim_switch": (plan.run_sim_switch, [("sim_switch_ms", "ms")]),
    "ghost": (ghost.run_ghost, [("ghost_false_alarms_per_client_month", "alarms"),
                                ("ghost_detection_rate", "ratio")]),
    "categories": (categories.run, [("dataplane_pps_ratio_categories", "ratio")]),
    "forecast": (forecast_bench.run_forecast, [("forecast_mape", "%"), ("forecast_coverage", "ratio"),
                                               ("forecast_ms_5000", "ms")]),
    "history": (history.run, [("history_db_mb_5000x13mo", "MB"), ("compaction_ms", "ms")]),
    "dns_snoop": (snoop.run_snoop, [("dns_snoop_cpu_pct", "%")]),
    "churn": (churn.run, [("churn_ids_max", "ids"), ("churn_db_mb", "MB")]),
    "idle": (idle.run_idle, [("idle_cpu_pct", "%")]),
    "busy": (idle.run_busy, [("busy_cpu_pct", "%")]),
    "weight": (weight.run, [("router_pss_mb", "MB")]),
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="tests.bench.run", description=__doc__.splitlines()[0])
    p.add_argument("groups", nargs="*", metavar="GROUP",
                   help=f"run only these ({', '.join(GROUPS)}); default all")
    p.add_argument("--quick", action="store_true",
                   help=f"shorter windows for trying (idle: {idle.QUICK_WINDOW:g} s, not {idle.WINDOW:g})")
    args = p.parse_args(argv)
    idle.QUICK = args.quick
    unknown = [g for g in args.groups if g not in GROUPS]
    if unknown:
        p.error(f"unknown group {', '.join(unknown)} (choose from {', '.join(GROUPS)})")
    if os.geteuid() != 0:
        log("the benchmarks build network namespaces and need root (sudo make bench)")
        return 1
    removed = cleanup_stale()
    if removed:
        log(f"removed stale lab namespaces: {', '.join(removed)}")
    failed = []
    t_all = time.monotonic()
    for group in args.groups or list(GROUPS):
        fn, names = GROUPS[group]
        t0 = time.monotonic()
        log(f"--- {group}")
        try:
            fn()
        except Exception as e:
            failed.append(group)
            log(f"{group} failed:\n{traceback.format_exc()}")
            for name, unit in names:
                first_line = str(e).splitlines()[0] if str(e) else ""
                emit(name, None, unit, error=f"{type(e).__name__}: {first_line}")
        log(f"{group} took {time.monotonic() - t0:.1f} s")
    failures = f"; failed: {', '.join(failed)}" if failed else ""
    log(f"all done in {time.monotonic() - t_all:.1f} s{failures}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
