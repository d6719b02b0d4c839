"""LuCI's backend, the rpcd exec plugin luci.hotspot, run as rpcd runs it (busybox ash, `list` and
`call METHOD` with the arguments on stdin) in the lab's router against the real hotspotd and
hotspotctl: its answers are hotspotctl's, its actions change the kernel's state, and a bad argument
changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.lab.conftest import register

PLUGIN = Path(__file__).resolve().parents[3] / "openwrt/luci-app-hotspot/root/usr/libexec/rpcd/luci.hotspot"


def plugin(lab, d, *args: str, stdin: dict | str | None = None):
    """Run the plugin as rpcd does; its stdout as JSON."""
    ctl = Path(d.dir) / "hotspotctl"  # the real hotspotctl, on the lab's config file
    ctl.write_text(f'#!/bin/sh\nexec {sys.executable} -m hotspot.cli -c {d.config_path} "$@"\n')
    ctl.chmod(0o755)
    text = stdin if isinstance(stdin, str) else json.dumps(stdin or {})
    clock = f"HOTSPOT_CLOCK_FILE={d.clock_file}"
    p = lab.run(lab.router, "env", clock, f"HOTSPOTCTL={ctl}", f"PYTHON={sys.executable}", "busybox", "sh",
                str(PLUGIN), *args, input=text)
    return json.loads(p.stdout)


def test_list_names_every_method_the_acl_grants():
    methods = json.loads(subprocess.run(["busybox", "sh", str(PLUGIN), "list"], capture_output=True,
                                        text=True, check=True).stdout)
    acl = json.loads((PLUGIN.parents[2] / "share/rpcd/acl.d/luci-app-hotspot.json").read_text())
    groups = acl["luci-app-hotspot"]
    granted = {m for access in ("read", "write") for m in groups[access]["ubus"]["luci.hotspot"]}
    assert set(methods) == granted == {"status", "clients", "act", "check"}


def test_status_clients_and_check_are_hotspotctls(lab, start_hotspotd):
    d = start_hotspotd(plan_quota=20 * 10**9)
    register(lab, d, "c1")
    status = plugin(lab, d, "call", "status")
    assert status["daemon"]["running"] and status["kernel"]["table"]
    assert status["plan"]["plan_quota"] == 20 * 10**9
    clients = plugin(lab, d, "call", "clients")["clients"]
    mine = {c["mac"]: c for c in clients}
    assert lab.clients["c1"].mac in mine and set(mine) == set(d.clients())
    assert mine[lab.clients["c1"].mac]["bytes_total"] > 0
    # `check`: the settings as hotspotd would read the file with them; nothing is written
    text = Path(d.config_path).read_text()
    ok = plugin(lab, d, "call", "check", stdin={"values": {"period": "weekly", "period_start": "7"}})
    assert ok["period"] == "weekly" and ok["period_start"] == "7"
    refused = plugin(lab, d, "call", "check", stdin={"values": {"period": "weekly", "period_start": "9"}})
    assert refused["error"].startswith("option period_start: '9' is not a day of the week")
    assert plugin(lab, d, "call", "check", stdin={"values": {"state_dir": "/tmp"}})["error"].endswith(
        "not a setting: state_dir")
    assert Path(d.config_path).read_text() == text
    for values in ({"--help": "1"}, {"-c/dev/null": "x"}):
        assert "not a setting" in plugin(lab, d, "call", "check", stdin={"values": values})["error"]


def test_actions_reach_the_kernel_and_bad_values_change_nothing(lab, start_hotspotd):
    d = start_hotspotd()
    register(lab, d, "c1", "c2")
    mac, other = lab.clients["c1"].mac, lab.clients["c2"].mac
    capped = plugin(lab, d, "call", "act", stdin={"action": "cap", "mac": mac, "value": "2GB"})
    assert capped["cap"] == 2 * 10**9
    plugin(lab, d, "call", "act", stdin={"action": "throttle", "mac": other, "value": "1mbit"})
    plugin(lab, d, "call", "act", stdin={"action": "block", "mac": mac})
    assert not lab.ping("c1", lab.server4)  # blocked in the kernel
    before = d.clients()
    assert before[mac]["state"] == "blocked" and before[other]["rate_limit"] == 1_000_000
    bad = [{"action": "cap", "mac": mac, "value": "lots"}, {"action": "cap", "mac": "zz:zz", "value": "1GB"},
           {"action": "throttle", "mac": other, "value": "1mbit; reboot"}, {"action": "reboot", "mac": mac},
           {"action": "block", "mac": ["x"]}, {"action": "cap", "mac": mac}, "not json",
           {"action": "cap", "mac": f"{mac}\n--help", "value": "1GB"},
           # values that look like options stay values: no help text, no other config file
           {"action": "block", "mac": "--help"}, {"action": "cap", "mac": mac, "value": "-h"},
           {"action": "cap", "mac": "--config=/dev/null", "value": mac}]
    for args in bad:
        answer = plugin(lab, d, "call", "act", stdin=args)
        assert list(answer) == ["error"] and "\n" not in answer["error"] and answer["error"], args
    assert d.clients() == before
    plugin(lab, d, "call", "act", stdin={"action": "unblock", "mac": mac})
    assert lab.ping("c1", lab.server4)
