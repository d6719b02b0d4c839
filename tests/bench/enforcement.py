"""Enforcement by the real hotspotd (lab.hotspotd): how far past a cap a download gets, and how
close a throttled TCP transfer comes to the rate it was promised."""

from __future__ import annotations

from lab import Lab
from tests.bench.common import emit, iperf, log, pull_until_stopped, rnd, start_hotspotd

CAP = 10_000_000  # "10MB"
CAP_RUNS = 3
THROTTLE_MBIT = (1, 8, 50)
THROTTLE_SECONDS = 5


def _wire(lab: Lab) -> dict:
    return lab.ip_bytes("c1")


def run_cap(runs: int = CAP_RUNS) -> None:
    """A 10 MB cap, then a TCP download at line rate (offload on: GSO super-packets up to 64 KB)."""
    overshoots, rx_overshoots, reached = [], [], []
    with Lab(clients=("c1",)) as lab:
        d, mac = start_hotspotd(lab)
        try:
            for i in range(runs):
                d.ctl("reset", mac)
                if i == 0:
                    d.ctl("cap", mac, "10MB")
                before = _wire(lab)
                used = d.client(mac)["bytes_total"]  # bytes already used this period when the transfer starts
                pull_until_stopped(lab, ["c1"], lambda: sum(_wire(lab).values()))
                after = _wire(lab)
                delivered = sum(after.values()) - sum(before.values())
                rx = sum(after[k] - before[k] for k in after if k.startswith("rx"))
                if used + delivered < CAP - 256 * 1024:
                    raise RuntimeError(f"run {i + 1}: the download stopped at {used + delivered} bytes, "
                                       f"before the {CAP} byte cap: nothing to measure")
                d.wait_polls(2)
                info = d.client(mac)
                reached.append(info["state"])
                overshoots.append(used + delivered - CAP)
                rx_overshoots.append(used + rx - CAP)
                log(f"cap run {i + 1}: used {used} before, {delivered} delivered (rx {rx}), "
                    f"overshoot {overshoots[-1]} bytes, state {info['state']}")
        finally:
            d.stop()
    emit("cap_overshoot_bytes", max(overshoots), "bytes", goal=65536, runs=overshoots,
         rx_only_runs=rx_overshoots, cap=CAP, states_after=reached,
         note=("10MB cap set with hotspotctl on the real hotspotd; TCP download (iperf3 -R) at line rate "
               "with GSO/GRO on; overshoot = bytes used this period before the transfer + IP bytes the "
               "client's interface exchanged with the server (both directions, as the cap counts both) "
               "- cap; max over runs (negative: stopped short of the cap)"))


def run_throttle() -> None:
    """Throttle with hotspotctl, then TCP at full speed: |goodput / rate - 1| down and up."""
    with Lab(clients=("c1",)) as lab:
        d, mac = start_hotspotd(lab)
        try:
            for mbit in THROTTLE_MBIT:
                info = d.json("throttle", mac, f"{mbit}mbit")
                if info["rate_limit"] != mbit * 1_000_000:
                    raise RuntimeError(f"throttle {mbit}mbit: rate_limit is {info['rate_limit']}")
                for direction in ("down", "up"):
                    r = iperf(lab, "c1", seconds=THROTTLE_SECONDS, reverse=direction == "down",
                              timeout=THROTTLE_SECONDS + 20)
                    recv = r["end"]["sum_received"]
                    goodput = recv["bits_per_second"]
                    err = abs(goodput / (mbit * 1e6) - 1)
                    log(f"throttle {mbit} Mbit/s {direction}: goodput {goodput / 1e6:.3f} Mbit/s, "
                        f"error {err:.3f}")
                    emit("throttle_error", rnd(err), "ratio", rate_mbit=mbit, direction=direction, goal=0.10,
                         goodput_mbit=rnd(goodput / 1e6), seconds=THROTTLE_SECONDS,
                         retransmits=r["end"].get("sum_sent", {}).get("retransmits"))
            d.ctl("throttle", mac, "none")
        finally:
            d.stop()
