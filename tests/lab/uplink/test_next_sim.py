"""plan_next_sim with a dual-SIM modem (the ModemManager mock on a private bus): real traffic takes
the plan to its stop point, hotspotd makes the other slot primary, the modem then reads the other
SIM, and the owner's alert reaches a real webhook receiver, once."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import dbus
import pytest

from hotspot.plan.model import Threshold
from lab.processes import CommandError
from tests.lab.alerts.test_alerts import RECEIVER, WEBHOOK_PORT, _lines, _serve
from tests.lab.conftest import register
from tests.modem_mock import BUS_NAME, MODEM, MockModemManager, running_modem

HOME, TRAVEL = "8988211000000123458", "89012601234567890121"


@pytest.fixture
def dual_sim():
    with running_modem(Iccid=HOME, SecondIccid=TRAVEL) as found:
        yield found


def _told(hooks: Path) -> list[dict]:
    """What the owner was told besides the SIMs met (each SIM's first sight is an alert of its own)."""
    return [h for h in _lines(hooks) if h["body"].get("event") != "sim_new"]


def _primary(mm: MockModemManager, path: str) -> int:
    props = dbus.Interface(mm.conn.get_object(BUS_NAME, path), dbus.PROPERTIES_IFACE)
    return int(props.Get(MODEM, "PrimarySimSlot"))


@pytest.mark.parametrize("enabled", [True, False])
def test_the_stop_point_switches_to_the_other_sim_and_tells_the_owner(lab, dual_sim, enabled):
    from lab.hotspotd import Hotspotd

    bus, mm, path = dual_sim
    hooks = Path(lab.dir) / "hooks.jsonl"
    web = _serve(lab, RECEIVER, WEBHOOK_PORT, hooks)
    d = Hotspotd(lab, plan_quota=100_000_000, plan_stop_at=Threshold(bytes=5_000_000), plan_next_sim=enabled,
                 alert_clients=False, alert_webhook=f"http://127.0.0.1:{WEBHOOK_PORT}/hook")
    d.extra_env = {"DBUS_SYSTEM_BUS_ADDRESS": bus.address, "HOTSPOT_MODEM_INTERVAL": "0.3"}
    d.start()
    try:
        register(lab, d, "c1")
        lab.wait_for(lambda: d.json("status")["modem"], 5, "hotspotd's reading of the modem")
        modem = d.json("status")["modem"]
        assert (modem["sim_iccid"], modem["primary_sim_slot"], modem["sim_slots"]) == (HOME, 1, [1, 2])
        # below the stop point nothing moves
        lab.iperf("c1", bytes=2_000_000, reverse=True)
        d.wait_polls(3)
        assert _primary(mm, path) == 1 and not _told(hooks)

        try:
            lab.iperf_start("c1", seconds=3, reverse=True, timeout=8).wait()
        except (CommandError, subprocess.TimeoutExpired):
            pass  # the stop point cut it off, as it should
        lab.wait_for(lambda: d.json("plan")["guard"]["state"] == "stop", 10, "the guard to stop")
        if not enabled:  # off by default: the stop point stops, and the SIM stays
            d.wait_polls(5)
            time.sleep(1)
            assert _primary(mm, path) == 1 and not _told(hooks)
            return
        lab.wait_for(lambda: _primary(mm, path) == 2, 10, "slot 2 to be made primary")
        lab.wait_for(lambda: d.json("status")["modem"]["sim_iccid"] == TRAVEL, 10, "hotspotd to read SIM 2")
        (hook,) = lab.wait_for(lambda: _told(hooks), 20, "the owner's alert")
        body = hook["body"]
        assert (body["event"], body["from_slot"], body["to_slot"], body["iccid"], body["switched"]) == (
            "next_sim", 1, 2, HOME, True)
        assert "SIM slot 2" in body["text"] and "stop point" in body["text"]
        # one switch a cycle: the plan is still at its stop point, the SIM stays, nothing more is said
        d.wait_polls(5)
        time.sleep(1.5)
        assert _primary(mm, path) == 2 and len(_told(hooks)) == 1
        # after a restart too (the switch was written to flash when it happened)
        d.stop()
        d.start()
        d.wait_polls(5)
        time.sleep(1)
        assert _primary(mm, path) == 2 and len(_told(hooks)) == 1
    finally:
        d.stop()
        web.kill()
