"""The house (core and keepers) and the daemon at 5,000 clients: how long one poll takes, how much
memory hotspotd holds."""

from __future__ import annotations

import time
from pathlib import Path

from lab import Lab
from lab.hotspotd import Hotspotd
from tests.bench.common import cpu_seconds, emit, loadavg, log, median, nsjob, proc_vm, rnd, spread

CLIENTS = 5000
POLLS = 10


def _ms(x: float) -> float:
    return round(x * 1000, 2)


def run_poll(clients: int = CLIENTS, polls: int = POLLS) -> None:
    """`with hs.store.transaction(): hs.account()` in the lab router, every client with new bytes."""
    with Lab(clients=()) as lab:
        r = nsjob(lab, "poll", clients=clients, polls=polls, lan=lab.lan_device, wan=lab.wan_device,
                  dir=f"{lab.dir}/poll", cap=10**10)
        shapes = nsjob(lab, "counter_shapes", clients=clients, timeout=600)
    totals = [p["total"] for p in r["polls"]]
    parts = {k: _ms(median([p[k] for p in r["polls"]])) for k in ("read", "record", "commit", "other")}
    log(f"poll of {clients} clients: median {_ms(median(totals))} ms, max {_ms(max(totals))} ms; {parts}")
    emit("poll_ms_5000", _ms(median(totals)), "ms", max=_ms(max(totals)), goal=60, clients=clients,
         spread=spread([_ms(t) for t in totals], 2),
         polls=len(totals), first_ms=_ms(r["first"]["total"]),
         netlink_read_ms=parts["read"], db_record_ms=parts["record"], db_commit_ms=parts["commit"],
         python_loop_ms=parts["other"], kernel_objects=r["objects"],
         daemon_poll_ms=_ms(median(r["daemon_polls"])), daemon_poll_max_ms=_ms(max(r["daemon_polls"])),
         register_5000_s=rnd(r["register_s"], 2), loadavg=loadavg(),
         dump={k[len("parse_"):]: v for k, v in r.items() if k.startswith("parse_")},
         dump_user_ratio=rnd(r["parse_new_user_ms"] / max(r["parse_old_user_ms"], 0.01), 3),
         dump_wall_ratio=rnd(r["parse_new_wall_ms"] / r["parse_old_wall_ms"], 3),
         tenth_moved_ms=_ms(median([p["total"] for p in r["few"]])),
         tenth_moved_record_ms=_ms(median([p["record"] for p in r["few"]])),
         tenth_moved_read_ms=_ms(median([p["read"] for p in r["few"]])),
         named_counters=shapes,
         named_counters_wall_ratio=rnd(shapes["named_wall_ms"] / shapes["rules_wall_ms"], 3),
         note=("dump: Nft.read_counters' dump of every counter rule, the current parser (new_) against the "
               "previous one (old_: messages() and rule_counter() per rule) in 10 alternating rounds on the "
               "same table, medians of user and system CPU (getrusage) and wall time. tenth_moved: the same "
               "poll with only every tenth client's counters ahead of the database. named_counters: two "
               "scratch tables of as many clients (a quota rule and a counter rule per chain), the counters "
               "read from the rule dump as today (rules_) and as named counter objects (named_), "
               "alternating. "
               "Counting.account() in one store transaction, in the lab router's namespace, 5,000 clients "
               "each with a cap (so 15,002 kernel objects: the counter rules of its up and down chains + "
               "1 quota each), every client with new bytes in both directions (counter rules created "
               "with bytes, database baselines below them), so every client row and hourly bucket is "
               "written. netlink_read = Nft.read_counters (one rule dump of the table + parse), "
               "db_record = Store.record, db_commit = COMMIT, python_loop = the rest of account(). "
               "daemon_poll = Daemon.poll() (table check, accounting, discovery, period, shaping) under "
               "the same load. register_5000_s = Counting.register() "
               "of 5,000 new MACs into the database."))


def run_rss(clients: int = CLIENTS) -> None:
    """The real hotspotd, started with 5,000 clients in its database, after several polls."""
    with Lab(clients=()) as lab:
        d = Hotspotd(lab, default_cap=10**10)  # every client capped: 3 kernel objects each
        made = nsjob(lab, "make_db", config=str(d.config_path), clients=clients)
        t0 = time.monotonic()
        d.start(wait=False)
        try:
            lab.wait_for(d._running, 120, "hotspotd to load its table with 5,000 clients", interval=0.1)
            startup = time.monotonic() - t0
            pid = int((Path(d.config.run_dir) / "hotspotd.pid").read_text())
            if Path(f"/proc/{pid}/comm").read_text().strip() not in ("python", "python3") and \
                    "hotspot.daemon" not in Path(f"/proc/{pid}/cmdline").read_text():
                raise RuntimeError(f"pid {pid} is not hotspotd")
            time.sleep(d.config.poll_interval * 2)
            cpu0, w0 = cpu_seconds(pid), time.monotonic()
            time.sleep(d.config.poll_interval * 8)
            cpu1, w1 = cpu_seconds(pid), time.monotonic()
            st = proc_vm(pid)
            n = len(d.clients())
            errors = [ln for ln in d.log().splitlines() if "ERROR" in ln or "failed" in ln]
        finally:
            rc = d.stop(timeout=30)
        if errors:
            log("hotspotd errors:\n" + "\n".join(errors[-10:]))
    polls = (w1 - w0) / d.config.poll_interval
    emit("daemon_rss_mb_5000", round(st["VmRSS"] / 1024, 1), "MB", goal=40, clients=n,
         peak_rss_mb=round(st.get("VmHWM", 0) / 1024, 1), startup_s=round(startup, 2),
         cpu_percent=round(100 * (cpu1 - cpu0) / (w1 - w0), 1),
         cpu_ms_per_poll=round(1000 * (cpu1 - cpu0) / polls, 1), poll_interval_s=d.config.poll_interval,
         register_5000_s=rnd(made["register_seconds"], 2), exit_code=rc, errors=len(errors),
         note=("VmRSS of `python -m hotspot.daemon` in the lab router after it started with 5,000 clients "
               "in its database (loaded the table, added every client) and polled for ~5 s; "
               "peak = VmHWM; cpu over 8 poll intervals"))
