#!/usr/bin/python3
"""A stand-in for lpac (no eUICC exists here): its command line and its JSON as lpac's docs/USAGE.md
and its sources print them, an eUICC's profiles kept in a JSON state file that the test names in
LPAC_STANDIN_STATE. It runs on Debian's python3 (its python3-dbus for "modem"), by path, as hotspotd
runs lpac.

The state: {"eid": str, "profiles": [profile as `lpac profile list` prints it], and optionally
"fail": {"profile enable": [message, detail]} (answer that command with lpac's error), "garbage":
text to print instead of JSON, "exit": status, "sleep": seconds before answering, "modem": {"bus":
a D-Bus address, "sim": a SIM's object path} of tests/modem_mock.py's ModemManager, whose SIM then
takes the ICCID of the profile enabled, as a modem's SIM does after its refresh}; every call is
appended to "calls" as [argv..., LPAC_APDU]. tests/unit/uplink/test_lpac.py runs it too.
"""

import json
import os
import sys
import time

HOME, TRAVEL = "8988211000000123458", "89444765000012345673"  # valid ICCIDs (Luhn)
EID = "89049032000001000000012345678901"


def profile(iccid: str, state: str, name: str, provider: str, **more) -> dict:
    """A profile as `lpac profile list` prints it."""
    return {"iccid": iccid, "isdpAid": "A0000005591010FFFFFFFF89000010" + iccid[-2:], "profileState": state,
            "profileNickname": None, "serviceProviderName": provider, "profileName": name,
            "iconType": "none", "icon": None, "profileClass": "operational", **more}


def sample(path: str) -> str:
    """A state file at `path` for the tests: an eUICC with the home profile enabled and a travel pass."""
    with open(path, "w") as f:
        profiles = [profile(HOME, "enabled", "Home 20GB", "Example Home"),
                    profile(TRAVEL, "disabled", "Japan 7 days 5GB", "Tokyo Pass")]
        json.dump({"eid": EID, "profiles": profiles}, f)
    return path


def lpa(code: int, message: str, data) -> None:
    print(json.dumps({"type": "lpa", "payload": {"code": code, "message": message, "data": data}}))


def error(function: str, detail: str) -> int:
    lpa(-1, function, detail)
    return 255  # lpac's main returns -1


def main(argv: list[str]) -> int:
    path = os.environ["LPAC_STANDIN_STATE"]
    with open(path) as f:
        state = json.load(f)
    state.setdefault("calls", []).append([*argv, os.environ.get("LPAC_APDU")])
    try:
        return answer(state, argv)
    finally:
        with open(path + ".tmp", "w") as f:
            json.dump(state, f, indent=1)
        os.replace(path + ".tmp", path)


def answer(state: dict, argv: list[str]) -> int:
    time.sleep(state.get("sleep", 0))
    if "garbage" in state:
        sys.stdout.write(state["garbage"])
        return state.get("exit", 0)
    command = " ".join(argv[:2])
    if command in state.get("fail", {}):
        return error(*state["fail"][command])
    by_iccid = {p["iccid"]: p for p in state["profiles"]}
    if command == "chip info":
        lpa(0, "success", {"eidValue": state["eid"], "EuiccConfiguredAddresses": {
            "defaultDpAddress": None, "rootDsAddress": "testrootsmds.gsma.com"}, "EUICCInfo2": {}})
    elif command == "profile list":
        lpa(0, "success", state["profiles"])
    elif command in ("profile enable", "profile disable") and len(argv) >= 3:
        profile = by_iccid.get(argv[2])
        enable = argv[1] == "enable"
        if profile is None:
            return error(f"es10c_{argv[1]}_profile", "iccid or aid not found")
        if profile["profileState"] != ("disabled" if enable else "enabled"):
            wanted = "disabled" if enable else "enabled"
            return error(f"es10c_{argv[1]}_profile", f"profile not in {wanted} state")
        if enable:  # one profile is enabled at a time
            for p in state["profiles"]:
                p["profileState"] = "disabled"
        profile["profileState"] = "enabled" if enable else "disabled"
        if enable and state.get("modem"):
            refresh(state["modem"], profile)
        lpa(0, "success", None)
    elif command == "profile nickname" and len(argv) >= 3:
        profile = by_iccid.get(argv[2])
        if profile is None:
            return error("es10c_set_nickname", "iccid not found")
        profile["profileNickname"] = argv[3] if len(argv) > 3 else ""
        lpa(0, "success", None)
    else:
        print(f"Usage: lpac {' '.join(argv)} ...")
        return 255
    return 0


def refresh(modem: dict, profile: dict) -> None:
    """The modem's SIM now answers with the enabled profile (python3-dbus, as the mock's side uses)."""
    import dbus

    conn = dbus.bus.BusConnection(modem["bus"])
    sim = dbus.Interface(conn.get_object("org.freedesktop.ModemManager1", modem["sim"]),
                         "org.freedesktop.DBus.Mock")
    sim.UpdateProperties("org.freedesktop.ModemManager1.Sim", dbus.Dictionary({
        "SimIdentifier": dbus.String(profile["iccid"]),
        "OperatorName": dbus.String(profile["serviceProviderName"] or "")}, signature="sv"))
    conn.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
