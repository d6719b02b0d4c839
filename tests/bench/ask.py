"""Ask before going on, by the real hotspotd (lab.hotspotd): how far past its ask point a device
flooding at line rate gets before its ask quota holds it (in the kernel, with no poll in between)."""

from __future__ import annotations

from lab import Lab
from tests.bench.common import emit, log, pull_until_stopped, start_hotspotd

STEP = 10_000_000  # each run's ask point: this far above what the device used
RUNS = 3


def run_overshoot(runs: int = RUNS) -> None:
    """The owner's ask point for c1 (hotspotctl ask), then a TCP download at line rate (GSO on) until
    the hold stalls it; the answer "continue" (hotspotctl ask MAC continue) releases it for the next
    run, whose point is further on."""
    overshoots, states = [], []
    with Lab(clients=("c1",)) as lab:
        d, mac = start_hotspotd(lab)
        wire = lambda: sum(lab.ip_bytes("c1").values())  # noqa: E731
        try:
            for i in range(runs):
                d.wait_polls(2)
                used = d.client(mac)["bytes_total"]
                point = used + STEP
                d.ctl("ask", mac, f"{point}B")
                before = wire()
                pull_until_stopped(lab, ["c1"], wire)
                total = used + wire() - before
                if total < point - 256 * 1024:
                    raise RuntimeError(f"run {i + 1}: the download stopped at {total} bytes, before the "
                                       f"ask point at {point}: nothing to measure")
                d.wait_polls(2)
                info = d.client(mac)
                states.append(info["reason"])
                overshoots.append(total - point)
                log(f"ask run {i + 1}: point {point}, reached {total}, overshoot {overshoots[-1]} bytes, "
                    f"reason {info['reason']}")
                d.ctl("ask", mac, "continue")
        finally:
            d.stop()
    emit("ask_hold_overshoot_bytes", max(overshoots), "bytes", goal=65536, runs=overshoots, step=STEP,
         reasons_after=states,
         note=("the owner's ask point (hotspotctl ask) 10 MB above the device's use, then a TCP download "
               "(iperf3 -R) at line rate with GSO/GRO on; overshoot = bytes used before + IP bytes on the "
               "client's interface (both directions, as the point counts both) - the point; max over runs"))
