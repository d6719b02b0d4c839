"""Period rollover at the boundary and a clock that jumps, with the daemon's clock injected."""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from lab import CommandError
from tests.lab.conftest import register


def _next_midnight() -> float:
    tomorrow = (datetime.now() + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return tomorrow.timestamp()


def _received(lab, name) -> int:
    """Bytes the client received (what it sent may have been dropped at the router, by the cap)."""
    b = lab.ip_bytes(name)
    return b["rx4"] + b["rx6"]


def test_rollover_at_the_boundary_resets_caps_and_keeps_history(lab, start_hotspotd):
    from lab.hotspotd import Hotspotd

    d = Hotspotd(lab, period="daily", poll_interval=0.5, commit_interval=3600)
    midnight = _next_midnight()
    offset = midnight - 10 - time.time()  # the daemon's clock: 10 s before local midnight
    d.clock_file.write_text(str(offset))
    d.start()
    register(lab, d, "c1", "c2")
    c1, c2 = lab.clients["c1"].mac, lab.clients["c2"].mac

    # c1 uses up its cap before midnight
    d.ctl("cap", c1, "5MB")
    with contextlib.suppress(subprocess.TimeoutExpired, CommandError):
        lab.iperf("c1", seconds=2, reverse=True, timeout=4)
    d.wait_polls()
    before = d.client(c1)
    assert before["state"] == "capped"
    assert not lab.ping("c1", lab.server4)

    # c2 downloads at a steady 8 Mbit/s across midnight: every byte lands in one day or the other
    d.ctl("throttle", c2, "8mbit")
    received0 = _received(lab, "c2")
    lab.wait_for(lambda: time.time() + offset > midnight - 2, 15, "two seconds before the daemon's midnight")
    flow = threading.Thread(target=lab.iperf, args=("c2",), kwargs={"seconds": 4, "reverse": True})
    flow.start()
    lab.wait_for(lambda: time.time() + offset >= midnight, 5, "the daemon's midnight")
    at_midnight = _received(lab, "c2") - received0  # the wire's split (a loaded machine starts iperf late)
    flow.join()
    d.wait_polls()

    assert datetime.fromisoformat(d.json("status")["plan"]["period_start"]).timestamp() == midnight
    assert (Path(d.config.state_dir) / "hotspot.db").exists(), "the rollover commits to flash"
    after = d.client(c1)
    assert after["state"] == "ok" and after["bytes_total"] < before["bytes_total"]
    assert lab.ping("c1", lab.server4), "a new period lifts the cap"

    received = _received(lab, "c2") - received0
    days = d.json("history", c2, "--by", "day")
    assert len(days) == 2
    history_down = days[0]["bytes_down"] + days[1]["bytes_down"]
    assert abs(history_down - received) <= 0.005 * received, (history_down, received)
    assert days[1]["bytes_total"] == d.client(c2)["bytes_total"]  # the new period is exactly the new day
    # what came after midnight, give or take the poll that straddles it (filed in the old day: up to a
    # poll's worth at 1 MB/s, more when a loaded machine polls late) and the time to read the wire's count
    after_midnight = received - at_midnight
    assert after_midnight - 1_200_000 <= days[1]["bytes_down"] <= after_midnight + 150_000, (
        days, after_midnight)


def test_clock_jump_back_neither_wipes_nor_misfiles(lab, start_hotspotd):
    d = start_hotspotd(period="monthly")
    register(lab, d, "c1")
    mac = lab.clients["c1"].mac
    lab.iperf("c1", bytes=5_000_000, reverse=True)
    d.wait_polls()
    used = d.client(mac)["bytes_total"]
    period = d.json("status")["plan"]["period_start"]

    d.clock_file.write_text(str(-5 * 365 * 86400))  # as if the router booted in 2021, before NTP
    d.stop()
    d.start()
    lab.iperf("c1", bytes=5_000_000, reverse=True)
    d.wait_polls()
    info = d.client(mac)
    assert info["bytes_total"] >= used + 5_000_000, "usage was wiped"
    assert d.json("status")["plan"]["period_start"] == period
    hours = d.json("history", mac)
    assert all(h["start"] >= period for h in hours), hours  # nothing filed in 2021

    d.clock_file.write_text("0")  # NTP syncs: the real time again
    d.wait_polls()
    assert d.client(mac)["bytes_total"] == info["bytes_total"]
    assert d.json("status")["plan"]["period_start"] == period
