"""What procd gets from hotspot's init and hotplug scripts, as OpenWrt's own rc.common and procd.sh with
libubox's jshn sent it when tests/openwrt/record.py ran them (tests/openwrt/recorded/procd.json): the
scripts must still be the recorded ones, and the record must pass the harness's checks (the instance's
command, root, respawn, limits, the file and devices procd watches, the interface triggers, a stop
that only deletes the service, enable's links, the hotplug cases)."""

from __future__ import annotations

import copy

import pytest

from tests.openwrt import procd_harness, recording
from tests.openwrt.repo import FILES

RECORD = recording.load("procd")


@pytest.mark.parametrize("name, data", [
    ("hotspot.init", lambda: (FILES / "hotspot.init").read_bytes()),
    ("hotspot.hotplug", lambda: (FILES / "hotspot.hotplug").read_bytes()),
    ("config", procd_harness.config),
    ("network", lambda: procd_harness.NETWORK),
])
def test_the_scripts_and_configs_are_the_recorded_ones(name, data):
    assert recording.sha256(data()) == RECORD["header"]["inputs"][name], (
        f"{name} changed since procd's messages were recorded: {recording.RERECORD}")


def test_the_record_names_the_tools_and_their_commits():
    header = RECORD["header"]
    assert header["commits"]["openwrt/libubox"] and header["commits"]["shell library"]
    assert {"jshn", "uci", "busybox", "openwrt:lib/functions/procd.sh", "openwrt:etc/rc.common"} <= set(
        header["inputs"])
    assert list(RECORD["actions"]) == procd_harness.ACTIONS


def test_procd_gets_what_hotspot_needs():
    assert procd_harness.checks(RECORD["actions"]) == []


def instance(actions: dict) -> dict:
    (only,) = actions["start"]["sent"][0][1]["instances"].values()
    return only


@pytest.mark.parametrize("change, failure", [
    (lambda a: instance(a).pop("limits"), "nofile 4096"),
    (lambda a: instance(a).update(user="hotspot"), "as root (no user)"),
    (lambda a: instance(a)["netdev"].pop(), "netdev: the LAN and WAN devices"),
    (lambda a: a["stop"]["sent"].append(a["start"]["sent"][0]), "stop deletes the service, nothing else"),
    (lambda a: a["hotplug lte usb9"]["sent"].append(a["start"]["sent"][0]),
     "hotplug: another device does nothing"),
])
def test_the_checks_see_a_wrong_message(change, failure):
    actions = copy.deepcopy(RECORD["actions"])
    change(actions)
    assert failure in procd_harness.checks(actions)
