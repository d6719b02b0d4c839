"""hotspot.uplink.lpac: lpac's JSON as its docs/USAGE.md and its sources print it (success, errors,
progress lines, garbage), nicknames, and lpac run for real: the stand-in executable
(tests/lpac_standin.py) with its state file, an argument list, LPAC_APDU, a timeout."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from hotspot.core.units import InvalidValue
from hotspot.uplink.lpac import Lpac, LpacError, Profile, answer, check_nickname, eid, profiles

STANDIN = str(Path(__file__).resolve().parents[2] / "lpac_standin.py")
HOME, TRAVEL = "8988211000000123458", "89444765000012345673"
EID = "89049032000001000000012345678901"


def lpa(code, message, data) -> str:
    return json.dumps({"type": "lpa", "payload": {"code": code, "message": message, "data": data}})


def profile(iccid, state="disabled", **kw) -> dict:
    return {"iccid": iccid, "isdpAid": "A0000005591010FFFFFFFF8900001000", "profileState": state,
            "profileNickname": None, "serviceProviderName": "Vodafone IE", "profileName": "Vodafone IE eSIM",
            "iconType": "png", "icon": "iVBO...", "profileClass": "operational", **kw}


# -- what lpac prints --------------------------------------------------------------------------------

def test_a_success_gives_its_data():
    assert answer(lpa(0, "success", {"eidValue": EID}) + "\n") == {"eidValue": EID}
    assert answer(lpa(0, "success", None) + "\r\n") is None  # enable, nickname: no data


def test_progress_lines_come_before_the_answer():
    lines = [json.dumps({"type": "progress", "payload": {"code": 0, "message": "es10b_get_euicc_challenge",
                                                         "data": None}}),
             "some driver's chatter", lpa(0, "success", [profile(HOME)])]
    assert answer("\n".join(lines))[0]["iccid"] == HOME


@pytest.mark.parametrize("printed, message", [
    (lpa(-1, "es10c_enable_profile", "iccid or aid not found"),
     "lpac: es10c_enable_profile: iccid or aid not found (code -1)"),
    (lpa(-1, "es10c_set_nickname", "iccid not found"), "lpac: es10c_set_nickname: iccid not found (code -1)"),
    (lpa(-1, "euicc_init", ""), "lpac: euicc_init (code -1)"),  # no eUICC (the APDU backend found none)
    (lpa(-1, "es10c_enable_profile", "profile not in disabled state\nsecond line\x1b[31m"),
     "lpac: es10c_enable_profile: profile not in disabled state second line [31m (code -1)"),
    (lpa(3, None, None), "lpac: failed (code 3)"),
])
def test_an_error_is_lpac_s_message_and_reason_on_one_line(printed, message):
    with pytest.raises(LpacError) as e:
        answer(printed)
    assert str(e.value) == message


@pytest.mark.parametrize("printed", [
    "", "\n\n", "Usage: lpac profile enable <iccid/aid> [refreshflag]", "{not json",
    json.dumps({"type": "progress", "payload": {"code": 0, "message": "x", "data": None}}),
    json.dumps({"type": "lpa"}), json.dumps({"type": "lpa", "payload": []}),
    json.dumps({"type": "lpa", "payload": {"code": "0", "message": "success", "data": []}}),
    json.dumps({"type": "lpa", "payload": {"code": True, "message": "success", "data": []}}),
    json.dumps({"type": "apdu", "payload": {"code": 0, "message": "success", "data": []}}),
    "[" + lpa(0, "success", None) + "]", "\x00\xff" * 100, "x" * 100_000,
])
def test_garbage_is_one_line_and_believed_in_nothing(printed):
    with pytest.raises(LpacError, match="no answer we can read") as e:
        answer(printed)
    assert "\n" not in str(e.value) and len(str(e.value)) < 200


def test_profile_list_as_documented():
    data = [profile("89353000000000000000", profileName="Vodafone IE eSIM"),
            profile(TRAVEL, "enabled", profileNickname="Japan", serviceProviderName="BetterRoaming",
                    iconType="none", icon=None),
            profile("89852000000000000000", profileClass="test", profileName=None, serviceProviderName="")]
    found = profiles(data)
    assert found[1] == Profile(iccid=TRAVEL, name="Vodafone IE eSIM", nickname="Japan",
                               provider="BetterRoaming", state="enabled", profile_class="operational")
    assert (found[2].name, found[2].provider, found[2].profile_class) == (None, None, "test")
    assert profiles([]) == []
    # USAGE.md says "Enabled"/"Disabled" in its prose, lower case in its example: either reads
    assert profiles([profile(HOME, "Enabled")])[0].state == "enabled"


@pytest.mark.parametrize("data, reason", [
    ({"iccid": HOME}, "expected a list"), (None, "expected a list"), ([HOME], "without an ICCID"),
    ([profile(HOME) | {"iccid": 8988}], "without an ICCID"), ([profile(HOME, "deleted")], "in state"),
    ([profile(HOME, None)], "in state"),
])
def test_a_profile_list_we_cannot_read(data, reason):
    with pytest.raises(LpacError, match=reason):
        profiles(data)


def test_a_carrier_s_names_become_one_printable_line():
    (p,) = profiles([profile(HOME, profileName="Tele\n<b>Ex</b>\x07", serviceProviderName="x" * 500)])
    assert p.name == "Tele <b>Ex</b>" and len(p.provider) == 200  # escaped where shown, like any text


def test_chip_info_gives_the_eid():
    assert eid({"eidValue": EID, "EuiccConfiguredAddresses": {}, "EUICCInfo2": {}}) == EID
    for bad in ({}, {"eidValue": None}, {"eidValue": "89 04"}, [], "x"):
        with pytest.raises(LpacError, match="no EID"):
            eid(bad)


# -- nicknames --------------------------------------------------------------------------------------

def test_nicknames():
    assert check_nickname(" Japan 7 days ") == "Japan 7 days"
    assert check_nickname("家里的卡") == "家里的卡"
    assert check_nickname("x" * 64) == "x" * 64
    assert check_nickname("中" * 21) == "中" * 21  # 63 bytes


@pytest.mark.parametrize("name, reason", [
    ("", "empty"), ("   ", "empty"), ("x" * 65, "at most 64 bytes"), ("中" * 22, "at most 64 bytes"),
    ("a\nb", "printable"), ("a\x00b", "printable"), ("\u202eevil", "printable"), ("-x", "must not start"),
    ("--help", "must not start"), (None, "expected text"), (42, "expected text"),
])
def test_bad_nicknames(name, reason):
    with pytest.raises(InvalidValue, match=reason) as e:
        check_nickname(name)
    assert "\n" not in str(e.value)


# -- lpac, run -----------------------------------------------------------------------------------------

@pytest.fixture
def card(tmp_path, monkeypatch):
    state = tmp_path / "euicc.json"
    state.write_text(json.dumps({"eid": EID, "profiles": [profile(HOME, "enabled"), profile(TRAVEL)]}))
    monkeypatch.setenv("LPAC_STANDIN_STATE", str(state))

    def read() -> dict:
        return json.loads(state.read_text())

    def change(**kw) -> None:
        state.write_text(json.dumps({**read(), **kw}))

    return read, change


def test_list_enable_nickname_through_lpac(card):
    read, _ = card
    lpac = Lpac(STANDIN, apdu="qmi")
    assert lpac.chip_eid() == EID
    assert [(p.iccid, p.state) for p in lpac.profiles()] == [(HOME, "enabled"), (TRAVEL, "disabled")]
    lpac.enable(TRAVEL)
    lpac.nickname(HOME, "Home; rm -rf / $(reboot) 'x\"")
    assert [(p.iccid, p.state, p.nickname) for p in lpac.profiles()] == [
        (HOME, "disabled", "Home; rm -rf / $(reboot) 'x\""), (TRAVEL, "enabled", None)]
    # each call one argument list, never a shell's line; the backend in LPAC_APDU
    assert read()["calls"][2:4] == [["profile", "enable", TRAVEL, "qmi"],
                                    ["profile", "nickname", HOME, "Home; rm -rf / $(reboot) 'x\"", "qmi"]]


def test_without_apdu_lpac_keeps_its_own(card, monkeypatch):
    read, _ = card
    monkeypatch.delenv("LPAC_APDU", raising=False)
    Lpac(STANDIN).profiles()
    assert read()["calls"][-1] == ["profile", "list", None]


def test_lpac_s_errors_and_bad_input_change_nothing(card):
    read, change = card
    lpac = Lpac(STANDIN)
    with pytest.raises(LpacError, match="^lpac: es10c_enable_profile: profile not in disabled state"):
        lpac.enable(HOME)
    with pytest.raises(LpacError, match="iccid or aid not found"):
        lpac.enable("89012601234567890121")
    calls = len(read()["calls"])
    for bad in ("8988211000000123456", "--help", "89444765000012345673 x"):
        with pytest.raises(InvalidValue):
            lpac.enable(bad)
    with pytest.raises(InvalidValue):
        lpac.nickname(TRAVEL, "a" * 65)
    assert len(read()["calls"]) == calls  # lpac was not even run
    change(fail={"profile list": ["euicc_init", ""]})
    with pytest.raises(LpacError, match="^lpac: euicc_init"):
        lpac.profiles()
    assert [p["profileState"] for p in read()["profiles"]] == ["enabled", "disabled"]


def test_garbage_a_timeout_and_no_lpac(card, tmp_path):
    _, change = card
    change(garbage="Segmentation fault\n", exit=139)
    with pytest.raises(LpacError, match="no answer we can read: 'Segmentation fault'"):
        Lpac(STANDIN).profiles()
    change(garbage="", sleep=5)
    with pytest.raises(LpacError, match="did not answer within 0.5 s"):
        Lpac(STANDIN, timeout=0.5).profiles()
    with pytest.raises(LpacError, match="not installed at /nonexistent/lpac"):
        Lpac("/nonexistent/lpac").profiles()
    assert not Lpac("/nonexistent/lpac").available()
    script = tmp_path / "lpac"
    script.write_text("#!/bin/sh\necho 'libpcsclite.so.1: cannot open shared object file' >&2\nexit 127\n")
    with pytest.raises(LpacError, match="cannot be run"):
        Lpac(str(script)).profiles()
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(LpacError, match=r"lpac failed \(exit 127\): 'libpcsclite.so.1: cannot open"):
        Lpac(str(script)).profiles()
    with pytest.raises(ValueError):
        Lpac("lpac")  # a path, never looked up in PATH
    assert os.access(STANDIN, os.X_OK)
