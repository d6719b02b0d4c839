"""plan_next_sim's decision and its message (hotspot.uplink.next_sim), and the SIM slots read and
switched through the ModemManager mock on a private bus."""

from __future__ import annotations

import pytest

from hotspot.core.units import InvalidValue
from hotspot.uplink import modem
from hotspot.uplink.next_sim import FAILED, SUBJECT, SWITCHED, mark, message, next_slot

ON = {"enabled": True, "guard": "stop", "primary": 1, "slots": (1, 2), "switched": False}


def test_the_stop_point_switches_to_the_other_slot():
    assert next_slot(**ON) == 2
    assert next_slot(**{**ON, "primary": 2}) == 1


@pytest.mark.parametrize("change", [
    {"enabled": False}, {"guard": "block"}, {"guard": "throttle"}, {"guard": "ok"}, {"switched": True},
    {"primary": None}, {"slots": (1,)}, {"slots": ()}, {"primary": 2, "slots": (2,)},
])
def test_nothing_moves_otherwise(change):
    assert next_slot(**{**ON, **change}) is None


def test_more_slots_go_round():
    assert next_slot(**{**ON, "primary": 2, "slots": (1, 2, 3)}) == 3
    assert next_slot(**{**ON, "primary": 3, "slots": (1, 2, 3)}) == 1
    assert next_slot(**{**ON, "primary": 1, "slots": (1, 3)}) == 3


def test_the_mark_is_the_plan_s_cycle():
    assert mark(1_764_547_200.0) == "1764547200" and mark(None) == "0"


def test_the_owner_s_message():
    m = message(1, 2, "8988211000000123458")
    assert m.subject == "hotspot: switched to SIM slot 2"
    assert m.text.startswith("The data plan reached its stop point on SIM slot 1 (8988211000000123458)")
    assert m.data == {"event": "next_sim", "from_slot": 1, "to_slot": 2, "iccid": "8988211000000123458",
                      "switched": True, "error": None}
    failed = message(1, 2, None, "cannot switch to SIM slot 2: busy")
    assert failed.text.endswith("switching to SIM slot 2 failed: cannot switch to SIM slot 2: busy")
    assert not failed.data["switched"]
    # the texts are what the catalogues translate: placeholders by name, so a translation may move them
    assert all("%(" in t for t in (SUBJECT, SWITCHED, FAILED))


def test_slots_are_read_and_switched(bus, mm):
    mm.add_modem(0, Iccid="8988211000000123458", SecondIccid="89012601234567890121")
    m = modem.read(bus=bus.address)
    assert (m.sim_iccid, m.primary_sim_slot, m.sim_slots) == ("8988211000000123458", 1, (1, 2))
    assert m.as_dict()["sim_slots"] == [1, 2]
    modem.set_primary_sim_slot(2, bus=bus.address)
    m = modem.read(bus=bus.address)
    assert (m.sim_iccid, m.primary_sim_slot, m.sim_type) == ("89012601234567890121", 2, "physical")
    with pytest.raises(modem.ModemError, match="cannot switch to SIM slot 3: SIM slot 3 out of range"):
        modem.set_primary_sim_slot(3, bus=bus.address)
    for bad in (0, -1, 9, True, "2", None):
        with pytest.raises(InvalidValue):
            modem.set_primary_sim_slot(bad, bus=bus.address)
    assert modem.read(bus=bus.address).primary_sim_slot == 2


def test_a_single_slot_modem_has_no_slots_and_refuses(bus, mm):
    mm.add_modem(0)
    m = modem.read(bus=bus.address)
    assert (m.primary_sim_slot, m.sim_slots) == (None, ())
    with pytest.raises(modem.ModemError, match="operation not supported"):
        modem.set_primary_sim_slot(2, bus=bus.address)


def test_no_modemmanager_is_one_line(tmp_path):
    with pytest.raises(modem.ModemError, match="no system bus"):
        modem.set_primary_sim_slot(2, bus=f"unix:path={tmp_path}/none")


def test_the_option_needs_the_modem(tmp_path):
    from hotspot.config import ConfigError, load

    path = tmp_path / "hotspot"
    path.write_text("config hotspot 'main'\n\toption plan_next_sim '1'\n")
    assert load(path).plan_next_sim is True and load(path).modem is True
    path.write_text("config hotspot 'main'\n\toption plan_next_sim '1'\n\toption modem '0'\n")
    with pytest.raises(ConfigError) as e:
        load(path)
    assert e.value.errors == [f"{path}:2: option plan_next_sim: needs modem '1': the SIM slots are "
                              "switched through ModemManager"]
    path.write_text("config hotspot 'main'\n\toption esim_apdu 'qmi; reboot'\n\toption esim_lpac 'lpac'\n")
    with pytest.raises(ConfigError) as e:
        load(path)
    assert len(e.value.errors) == 2 and "esim_apdu" in e.value.errors[0] and "esim_lpac" in e.value.errors[1]


def test_the_owner_reads_it_in_the_owners_language():
    from hotspot.alerts.language import words

    zh = message(1, 2, "8988211000000123458", gettext=words("zh-Hans")._)
    en = message(1, 2, "8988211000000123458")
    assert zh.subject != en.subject and zh.text != en.text
    assert "8988211000000123458" in zh.text and not any(w in zh.text for w in ("slot", "plan", "modem"))
