"""Devices that leave, at a busy shop's scale: a simulated year of 100,000 distinct MACs (phones with
random MACs), each seen on one day only, through the real house (core and keepers) and store and the real
kernel table in a lab router's namespace (tests/bench/nsjob.py `churn`).

Without retention the ids (at most 32,766: two tc classes per id in 16 bits, and the id's bits in
the conntrack mark) would run out after 32,765 devices, within four months; with the default
client_retention (90 days without traffic) about 90 days' worth of devices are known at once, and
the database holds their history only.
"""

from __future__ import annotations

from hotspot.config import Config
from lab import Lab
from tests.bench.common import emit, log, nsjob

MACS = 100_000
DAYS = 365
STEP = 500  # devices one retention step forgets here (hotspotd's steps are 25, one a minute)
HISTORY_DB_MB = 81.8  # history_db_mb_5000x13mo (tests/bench/history.py), the size it must stay within
LIMIT = 32766


def run(macs: int = MACS, days: int = DAYS) -> None:
    with Lab(clients=()) as lab:
        r = nsjob(lab, "churn", timeout=7200, macs=macs, days=days, kernel=True, step=STEP,
                  lan=lab.lan_device, wan=lab.wan_device, dir=f"{lab.dir}/churn")
    mb = round(r["db_bytes"] / 1e6, 1)
    steps = r["step_ms"] or [None]
    median, most = steps[len(steps) // 2], steps[-1]
    log(f"churn: {macs} MACs over {days} days: highest id {r['ids_max']}, at most {r['clients_max']} clients "
        f"at once, {r['forgotten']} forgotten in {r['retention_steps']} steps (median {median} ms, max "
        f"{most} ms, {r['ms_per_device']} ms a device), database {mb} MB, {r['seconds']:.0f} s "
        f"({r['timings']})")
    emit("churn_ids_max", r["ids_max"], "ids", goal=f"<= {LIMIT}", macs=macs, days=days,
         clients_max=r["clients_max"], clients_end=r["clients_end"], forgotten=r["forgotten"],
         retention_days=Config().client_retention // 86400, retention_step=STEP,
         retention_step_ms_median=median, retention_step_ms_max=most,
         ms_per_device_forgotten=r["ms_per_device"], seconds=round(r["seconds"], 1),
         note=("the highest client id given over the year (ids of forgotten devices are given again, "
               "lowest first); each day's new devices register through Counting.register into the real "
               "table and use data for 1-3 hours, then the period's rollover, compaction and retention "
               f"run as hotspotd's poll would (retention here in steps of up to {STEP} devices, to "
               "keep the run short: each step costs three nft batches, ~100 ms each at 25,000 "
               "clients in libnftables, plus a few ms a device)"))
    emit("churn_db_mb", mb, "MB", goal=f"<= {HISTORY_DB_MB} (history_db_mb_5000x13mo)",
         note="hotspot.db on flash (a commit's copy) after the year, default history retention")
