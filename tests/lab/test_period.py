"""Period rollover at the boundary and a clock that jumps, with the daemon's clock injected."""

from __future__ import annotations

import contextlib
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path

from hotspot.lab import CommandError
from tests.lab.conftest import register


def _next_midnight() -> float:
    tomorrow = (datetime.now() + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return tomorrow.timestamp()


def _received(lab, name) -> int:
    """Bytes the client received (what it sent may have been dropped at the router, by the cap)."""
    b = lab.ip_bytes(name)
    return b["rx4"] + b["rx6"]


def test_rollover_at_the_boundary_resets_caps_and_keeps_history(lab, start_hotspotd):
    from hotspot.lab.hotspotd import Hotspotd

    d = Hotspotd(lab, period="daily", poll_interval=0.5, commit_interval=3600)
    midnight = _next_midnight()
    offset = midnight - 10 - time.time()  # the daemon's clock: 10 s before local midnight
    d.clock_file.write_text(str(offset))
    d.start()
    register(lab, d, "c1")
    mac = lab.clients["c1"].mac
    received0 = _received(lab, "c1")
    d.ctl("cap", mac, "5MB")
    with contextlib.suppress(subprocess.TimeoutExpired, CommandError):
        lab.iperf("c1", seconds=2, reverse=True, timeout=4)  # uses up the cap
    d.wait_polls()
    before = d.client(mac)
    assert before["state"] == "capped"
    assert not lab.ping("c1", lab.server4)

    # a throttled flow runs across midnight: every byte lands in one period or the other
    d.ctl("throttle", mac, "8mbit")
    lab.wait_for(lambda: time.time() + offset > midnight + 1.5, 15, "the daemon's midnight")
    d.wait_polls()
    after = d.client(mac)
    assert after["state"] == "throttled"  # the manual throttle stays; the cap is fresh
    assert after["bytes_total"] < 1000
    assert lab.ping("c1", lab.server4), "a new period lifts the cap"
    assert (Path(d.config.state_dir) / "hotspot.db").exists(), "the rollover commits to flash"
    run = lab.iperf("c1", seconds=2, reverse=True)
    assert run["end"]["sum_received"]["bytes"] > 1_000_000
    status = d.json("status")
    assert datetime.fromisoformat(status["plan"]["period_start"]).timestamp() == midnight
    d.wait_polls()
    # nothing lost at the rollover: the history's downloads match what the client received
    received = _received(lab, "c1") - received0
    history_down = sum(h["bytes_down"] for h in d.json("history", mac))
    assert abs(history_down - received) <= 0.005 * received, (history_down, received)
    days = d.json("history", mac, "--by", "day")
    assert len(days) == 2 and days[0]["bytes_total"] >= before["bytes_total"]
    assert days[1]["bytes_total"] == d.client(mac)["bytes_total"]


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
