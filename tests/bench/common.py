"""Shared helpers: results on stdout (one JSON object per line), progress on stderr, robust iperf3."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from lab import CommandError, Lab
from lab.hotspotd import Hotspotd

NSJOB = str(Path(__file__).resolve().parent / "nsjob.py")


def emit(name: str, value, unit: str, **extra) -> None:
    print(json.dumps({"name": name, "value": value, "unit": unit, **extra}), flush=True)


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages: other work on the box is the main source of noise."""
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def proc_vm(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM ... of a process, in kB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key.startswith("Vm") and value.strip().endswith("kB"):
            out[key] = int(value.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (0 once it is gone)."""
    return sum(cpu_split(pid))


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process so far (zeros once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def median(xs):
    return statistics.median(xs) if xs else None


def rnd(x, digits: int = 4):
    return None if x is None else round(x, digits)


def spread(xs: list[float], digits: int = 4) -> dict:
    """Median, quartiles and range of repeated measurements: every figure is shown with its spread."""
    if len(xs) >= 2:
        q1, _, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    else:
        q1 = q3 = xs[0]
    return {"median": rnd(median(xs), digits), "iqr": [rnd(q1, digits), rnd(q3, digits)],
            "range": [rnd(min(xs), digits), rnd(max(xs), digits)], "n": len(xs)}


def nsjob(lab: Lab, job: str, timeout: float = 300, **args) -> dict:
    """Run a job of nsjob.py in the lab's router namespace; returns its JSON result."""
    p = lab.run(lab.router, sys.executable, NSJOB, job, json.dumps(args), timeout=timeout)
    if p.stderr.strip():
        for line in p.stderr.strip().splitlines()[-20:]:
            log(f"[{job}] {line}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def iperf(lab: Lab, client: str, tries: int = 3, **kw) -> dict:
    """lab.iperf with retries: iperf3 now and then fails to connect or start on a busy 2-core box."""
    last: Exception | None = None
    for attempt in range(tries):
        try:
            return lab.iperf(client, **kw)
        except (CommandError, subprocess.TimeoutExpired, RuntimeError, TimeoutError) as e:
            last = e
            log(f"iperf3 attempt {attempt + 1} failed: {str(e).splitlines()[0]}")
            time.sleep(0.5)
    assert last is not None
    raise last


def start_hotspotd(lab: Lab) -> tuple[Hotspotd, str]:
    """The real hotspotd in the lab, with c1 registered (a ping makes it known); returns it and c1's MAC."""
    d = Hotspotd(lab).start()
    mac = lab.clients["c1"].mac
    for _ in range(3):
        lab.ping("c1", lab.server4)
        try:
            d.wait_client(mac, timeout=5)
            break
        except TimeoutError:
            continue
    else:
        raise TimeoutError(f"hotspotd never registered c1 ({mac}):\n{d.log()[-2000:]}")
    return d, mac


def pull_until_stopped(lab: Lab, clients, meter, *, seconds: int = 3, stall: float = 1.0,
                       timeout: float = 10) -> None:
    """Line-rate TCP downloads (iperf3 -R) from every client at once, which a cap or the plan cuts off:
    iperf3 then stalls, so stop them once `meter()` (bytes on the clients' wire) has not moved for
    `stall` seconds (or they end, or `timeout`)."""
    runs = [lab.iperf_start(c, seconds=seconds, reverse=True, timeout=timeout) for c in clients]
    deadline = time.monotonic() + timeout
    last, still_since = None, None
    try:
        while any(r.client.poll() is None for r in runs) and time.monotonic() < deadline:
            total, now = meter(), time.monotonic()
            if total != last:
                last, still_since = total, now
            elif now - still_since >= stall:
                break
            time.sleep(0.1)
    finally:
        for r in runs:
            for p in (r.client, r.server):
                if p.poll() is None:
                    p.kill()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
