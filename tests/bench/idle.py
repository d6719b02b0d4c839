"""What hotspot costs a router on a battery: the CPU of hotspotd, the portal (gunicorn's master and
worker) and the DNS snooper together, with 50 registered clients, at the default poll_interval.

- `idle_cpu_pct`: no traffic at all, over WINDOW seconds (5 minutes; `--quick`: 30 s);
- `busy_cpu_pct`: the same 50 clients, BUSY_CLIENTS of them real lab clients each pulling
  TOTAL_MBIT / BUSY_CLIENTS through the router with iperf3 (TCP, paced), over BUSY_WINDOW seconds.

CPU is user + system time from /proc/PID/stat (a process's figure covers all its threads), with
that of the children it waited for (hotspotd's `ip` and `tc`), as a percentage of one core;
wake-ups are the context switches of every thread (/proc/PID/task/*/status) per second, which is
what keeps a CPU out of its sleep states.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from lab import Lab
from lab.hotspotd import Hotspotd
from tests.bench.common import emit, loadavg, log, nsjob, spread

CLIENTS = 50
GOAL = 1.0  # % of one core, idle
WINDOW, QUICK_WINDOW = 300.0, 30.0
SETTLE = 8.0  # s after the portal and the snooper are up: start-up work is not idling
BUSY_CLIENTS, TOTAL_MBIT, BUSY_WINDOW = 10, 100, 20
QUICK = False  # set by `tests.bench.run --quick`


def _cpu(pid: int) -> float:
    """utime + stime + cutime + cstime of a process, in seconds (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _switches(pid: int) -> int:
    """Context switches of every thread of a process so far (0 once it is gone)."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        total += sum(int(n) for n in re.findall(r"ctxt_switches:\s+(\d+)", text))
    return total


def _processes(d: Hotspotd) -> dict[str, list[int]]:
    return {"hotspotd": [d.proc.pid], "portal": d.portal_pids(), "snooper": d.snoop_pids()}


def _snapshot(procs: dict[str, list[int]]) -> tuple[float, dict, dict]:
    return (time.monotonic(), {k: sum(_cpu(p) for p in ps) for k, ps in procs.items()},
            {k: sum(_switches(p) for p in ps) for k, ps in procs.items()})


def _measure(d: Hotspotd, seconds: float, parts: int = 5) -> dict:
    """CPU % of one core and wake-ups per second of each part over `seconds`, and the spread of the
    total over `parts` equal stretches of it."""
    procs = _processes(d)
    snaps = [_snapshot(procs)]
    for _ in range(parts):
        time.sleep(seconds / parts)
        snaps.append(_snapshot(procs))
    if _processes(d) != procs:
        raise RuntimeError(f"a process was started again during the window: {procs} -> {_processes(d)}")
    (t0, c0, s0), (t1, c1, s1) = snaps[0], snaps[-1]
    wall = t1 - t0
    stretches = [100 * sum(b[1][k] - a[1][k] for k in procs) / (b[0] - a[0])
                 for a, b in zip(snaps, snaps[1:])]
    return {"cpu_pct": {k: round(100 * (c1[k] - c0[k]) / wall, 3) for k in procs},
            "wakeups_per_s": {k: round((s1[k] - s0[k]) / wall, 1) for k in procs},
            "total": 100 * sum(c1[k] - c0[k] for k in procs) / wall, "window_s": round(wall, 1),
            "spread": spread(stretches, 3), "stretch_s": round(wall / parts, 1), "pids": procs}


def _started(lab: Lab, clients: int = CLIENTS) -> Hotspotd:
    """hotspotd at its default poll_interval with `clients` registered, its portal and snooper up."""
    d = Hotspotd(lab, poll_interval=2.0)
    nsjob(lab, "make_db", config=str(d.config_path), clients=clients)
    d.start()
    lab.wait_for(lambda: "dns snooper: watching" in d.log() and len(d.portal_pids()) >= 2, 30,
                 "the portal and the dns snooper")
    return d


def _errors(d: Hotspotd) -> list[str]:
    return [ln for ln in d.log().splitlines() if "ERROR" in ln or "Traceback" in ln]


def run_idle() -> None:
    window = QUICK_WINDOW if QUICK else WINDOW
    with Lab(clients=()) as lab:
        d = _started(lab)
        try:
            time.sleep(SETTLE)
            n = len(d.clients())
            m = _measure(d, window)
            errors = _errors(d)
        finally:
            d.stop(timeout=30)
    log(f"idle, {n} clients, {m['window_s']} s: {m['total']:.3f} % of a core; {m['cpu_pct']}; "
        f"wake-ups/s {m['wakeups_per_s']}")
    if errors:
        log("errors:\n" + "\n".join(errors[-10:]))
    emit("idle_cpu_pct", round(m["total"], 3), "%", goal=GOAL, clients=n, window_s=m["window_s"],
         spread=m["spread"], stretch_s=m["stretch_s"],
         parts_pct=m["cpu_pct"], wakeups_per_s=m["wakeups_per_s"], poll_interval_s=d.config.poll_interval,
         errors=len(errors), load=loadavg(),
         note="hotspotd + gunicorn (master, worker) + dns snooper, user + system, % of one core; no traffic")


def run_busy() -> None:
    names = [f"b{i}" for i in range(BUSY_CLIENTS)]
    each = TOTAL_MBIT * 1_000_000 // BUSY_CLIENTS
    with Lab(clients=names) as lab:
        d = _started(lab, CLIENTS - BUSY_CLIENTS)
        try:
            for name in names:  # a ping registers each real client
                lab.ping(name, lab.server4)
            lab.wait_for(lambda: len(d.clients()) >= CLIENTS, 30, f"{CLIENTS} clients registered")
            time.sleep(SETTLE)
            runs = [lab.iperf_start(name, seconds=int(BUSY_WINDOW + 6), reverse=True, bitrate=each)
                    for name in names]
            time.sleep(3)  # the flows' slow start
            m = _measure(d, BUSY_WINDOW)
            results = [r.wait() for r in runs]
            errors = _errors(d)
            n = len(d.clients())
        finally:
            d.stop(timeout=30)
    mbit = sum(r["end"]["sum_received"]["bits_per_second"] for r in results) / 1e6
    log(f"busy, {n} clients, {mbit:.0f} Mbit/s: {m['total']:.2f} % of a core; {m['cpu_pct']}; "
        f"wake-ups/s {m['wakeups_per_s']}")
    emit("busy_cpu_pct", round(m["total"], 2), "%", clients=n, active_clients=BUSY_CLIENTS,
         mbit_per_s=round(mbit, 1), window_s=m["window_s"], spread=m["spread"], stretch_s=m["stretch_s"],
         parts_pct=m["cpu_pct"],
         wakeups_per_s=m["wakeups_per_s"], poll_interval_s=d.config.poll_interval, errors=len(errors),
         load=loadavg(),
         note=(f"{BUSY_CLIENTS} lab clients each downloading {each // 1_000_000} Mbit/s (iperf3 -R -b) and "
               f"{CLIENTS - BUSY_CLIENTS} registered idle ones; hotspotd + portal + snooper CPU"))

