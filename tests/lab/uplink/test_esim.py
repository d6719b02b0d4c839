"""hotspotctl esim with the real hotspotd running, lpac being the stand-in (tests/lpac_standin.py, no
eUICC here): list, enable, nickname, lpac's errors, bad input refused before lpac runs; hotspotd's
socket answers the listing (the admin Plan page's) and sees the enabled profile at once; with the
ModemManager mock, hotspotd reads the enabled profile's ICCID from the modem."""

from __future__ import annotations

import json
from pathlib import Path

from tests.lpac_standin import EID, HOME, TRAVEL, sample
from tests.modem_mock import Bus, MockModemManager

STANDIN = str(Path(__file__).resolve().parents[2] / "lpac_standin.py")


def test_esim_through_hotspotctl_and_hotspotd(lab):
    from hotspot.portal.hotspotd import IpcBackend
    from lab.hotspotd import Hotspotd

    state = sample(str(Path(lab.dir) / "euicc.json"))
    d = Hotspotd(lab, esim_lpac=STANDIN, esim_apdu="mbim")
    d.extra_env = {"LPAC_STANDIN_STATE": state}
    d.start()
    try:
        def card() -> dict:
            return json.loads(Path(state).read_text())

        listing = d.json("esim", "list")
        assert listing["eid"] == EID and listing["error"] is None
        assert [(p["iccid"], p["state"], p["name"]) for p in listing["profiles"]] == [
            (HOME, "enabled", "Home 20GB"), (TRAVEL, "disabled", "Japan 7 days 5GB")]
        text = d.ctl("esim", "list").stdout
        assert f"* {HOME}  Home 20GB (Example Home, enabled, operational)" in text

        # hotspotd's socket: the listing the Plan page shows (root may call an owner's operation)
        socket = IpcBackend(Path(d.config.run_dir) / "hotspotd.sock")
        assert socket.esim(session=None)["profiles"][0]["state"] == "enabled"

        out = d.ctl("esim", "enable", "8944 4765 0000 1234 5673")
        assert f"* {TRAVEL}  Japan 7 days 5GB" in out.stdout
        assert [p["profileState"] for p in card()["profiles"]] == ["disabled", "enabled"]
        # lpac had its APDU backend from esim_apdu, and its arguments one by one
        assert card()["calls"][-3] == ["profile", "enable", TRAVEL, "mbim"]
        # hotspotd's listing is fresh again after its own enable
        assert socket.esim_enable(HOME, session=None)["profiles"][0]["state"] == "enabled"

        hostile = "<b>Pass</b> $(reboot); `id` 'x\" 東京"
        d.ctl("esim", "nickname", TRAVEL, hostile)
        assert d.json("esim", "list")["profiles"][1]["nickname"] == hostile.strip()
        assert ["profile", "nickname", TRAVEL, hostile, "mbim"] in card()["calls"]

        # lpac's refusal: exit 1, its message on one line, nothing changed
        before = card()["profiles"]
        bad = d.ctl("esim", "enable", HOME, check=False)
        assert bad.returncode == 1 and bad.stderr == (
            "hotspotctl: lpac: es10c_enable_profile: profile not in disabled state (code -1)\n")
        # bad input: exit 2, lpac never runs
        calls = len(card()["calls"])
        for args in (("enable", "89444765000012345674"), ("enable", "8944476500001234567"),
                     ("enable", "89444765000012345673;reboot"), ("nickname", TRAVEL, "x" * 65),
                     ("nickname", TRAVEL, "a\tb"), ("nickname", TRAVEL, ""), ("delete", TRAVEL)):
            r = d.ctl("esim", *args, check=False)
            assert r.returncode == 2 and r.stderr.count("\n") == 1, (args, r.stderr)
        assert len(card()["calls"]) == calls and card()["profiles"] == before

        # no eUICC answering: lpac's own error, exit 1
        Path(state).write_text(json.dumps({**card(), "fail": {"chip info": ["euicc_init", ""]}}))
        r = d.ctl("esim", "list", check=False)
        assert r.returncode == 1 and r.stderr == "hotspotctl: lpac: euicc_init (code -1)\n"
    finally:
        d.stop()


def test_an_enabled_profile_is_the_sim_hotspotd_reads(lab):
    from lab.hotspotd import Hotspotd

    bus = Bus()
    mm = MockModemManager(bus)
    try:
        path = mm.add_modem(0, Iccid=HOME)
        state = sample(str(Path(lab.dir) / "euicc-mm.json"))
        card = json.loads(Path(state).read_text())
        card["modem"] = {"bus": bus.address, "sim": path.replace("/Modem/", "/SIM/")}
        Path(state).write_text(json.dumps(card))
        d = Hotspotd(lab, esim_lpac=STANDIN)
        d.extra_env = {"LPAC_STANDIN_STATE": state, "DBUS_SYSTEM_BUS_ADDRESS": bus.address,
                       "HOTSPOT_MODEM_INTERVAL": "0.3"}
        d.start()
        try:
            lab.wait_for(lambda: (d.json("status")["modem"] or {}).get("sim_iccid") == HOME, 5,
                         "the home SIM")
            d.ctl("esim", "enable", TRAVEL)
            modem = lab.wait_for(lambda: (m := d.json("status")["modem"])["sim_iccid"] == TRAVEL and m, 5,
                                 "hotspotd to read the travel profile's ICCID")
            assert modem["sim_operator_name"] == "Tokyo Pass" and modem["sim_type"] == "esim"
        finally:
            d.stop()
    finally:
        mm.stop()
        bus.stop()
