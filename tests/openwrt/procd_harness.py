"""hotspot's init and hotplug scripts run as OpenWrt runs them, against OpenWrt's own shell library, with a
`ubus` that records what procd would receive; and the checks of what procd must receive.

OpenWrt's scripts, libubox's jshn and uci are not in this repository (public code stays out of it), so
the recorder (tests/openwrt/record.py) gives them from outside: DIR laid out as on a router
(etc/rc.common, lib/functions.sh, lib/functions/service.sh, lib/functions/procd.sh, lib/config/uci.sh,
usr/share/libubox/jshn.sh), libubox's jshn and the uci command built for this machine. A chroot (root
only) holds Debian's busybox as the shell, those files, the package's scripts and configs; each action
(start, stop, reload, enable, `hotplug INTERFACE DEVICE`) runs there and the `ubus call service METHOD`
messages it sent are recorded (tests/openwrt/recorded/procd.json). checks() runs on that record in the
test suite (tests/openwrt/test_procd.py), where none of those tools exist.

    sudo .venv/bin/python -m tests.openwrt.procd_harness --openwrt DIR --jshn JSHN --uci UCI [ACTION ...]

prints each action's messages, one JSON object per line; without ACTION it runs the checks.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.openwrt.repo import FILES

NETWORK = """config interface 'loopback'
\toption device 'lo'
config interface 'lan'
\toption device 'br-lan'
config interface 'wwan'
\toption device 'wwan0'
config interface 'wan'
\toption device 'eth1'
config interface 'lte'
\toption device '/dev/cdc-wdm0'
\toption proto 'qmi'
"""
RECORDER = "#!/bin/sh\nprintf '%s\\t%s\\n' \"$1 $2 $3\" \"$4\" >> /tmp/ubus.log\n"


def _libraries(binary: str, extra: list[str]) -> list[str]:
    env = {**os.environ, "LD_LIBRARY_PATH": ":".join(extra)}
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, env=env, check=True).stdout
    return [w for line in out.splitlines() for w in line.split() if w.startswith("/")]


ACTIONS = ["start", "stop", "reload", "enable", "hotplug wwan wwan0", "hotplug lte wwan0", "hotplug lte usb9"]


def config() -> str:
    """The hotspot config the scripts read: the shipped one with a second WAN device."""
    wan = "\tlist wan_device 'wwan0'\n"
    return (FILES / "hotspot.config").read_text().replace(wan, wan + "\tlist wan_device 'eth1'\n")


def make_root(root: Path, openwrt: Path, jshn: Path, uci: Path) -> None:
    shutil.copytree(openwrt, root, dirs_exist_ok=True, symlinks=True)
    for d in ("bin", "sbin", "usr/bin", "etc/init.d", "etc/rc.d", "etc/config", "etc/hotplug.d/iface",
              "var/lock", "var/state", "var/run", "tmp", "dev"):
        (root / d).mkdir(parents=True, exist_ok=True)
    busybox = shutil.which("busybox")
    shutil.copy(busybox, root / "bin/busybox")
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        if not (root / "bin" / applet).exists():
            (root / "bin" / applet).symlink_to("busybox")
    binaries = {busybox: root / "bin/busybox", shutil.which("flock"): root / "bin/flock",
                str(uci): root / "sbin/uci", str(jshn): root / "usr/bin/jshn"}
    for source, target in binaries.items():
        if target.is_symlink():
            target.unlink()
        shutil.copy(source, target)
        for lib in _libraries(source, [str(jshn.parent)]):
            (root / lib[1:]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(lib, root / lib[1:])
    os.system(f"mknod -m 666 {root}/dev/null c 1 3 2>/dev/null")
    (root / "bin/ubus").write_text(RECORDER)
    (root / "bin/ubus").chmod(0o755)
    shutil.copy(FILES / "hotspot.init", root / "etc/init.d/hotspot")
    (root / "etc/init.d/hotspot").chmod(0o755)
    shutil.copy(FILES / "hotspot.hotplug", root / "etc/hotplug.d/iface/95-hotspot")
    (root / "etc/config/hotspot").write_text(config())
    (root / "etc/config/network").write_text(NETWORK)


def run(root: Path, *action: str) -> tuple[int, list[tuple[str, dict]]]:
    """Run one action in the root; its exit status and the ubus messages, as (method, message)."""
    log = root / "tmp/ubus.log"
    log.unlink(missing_ok=True)
    if action[0] == "hotplug":
        argv = ["/bin/sh", "-c", f"ACTION=ifup INTERFACE={action[1]} DEVICE={action[2]} "
                                 "sh /etc/hotplug.d/iface/95-hotspot"]
    else:
        argv = ["/etc/init.d/hotspot", *action]
    done = subprocess.run(["chroot", str(root), *argv], capture_output=True, text=True,
                          env={"PATH": "/bin:/sbin:/usr/bin"})
    sent = []
    for line in log.read_text().splitlines() if log.exists() else []:
        method, message = line.split("\t", 1)
        sent.append((method, json.loads(message)))
    return done.returncode, sent


def record(root: Path) -> dict[str, dict]:
    """Every action of ACTIONS run in the root, in that order: its exit status, the messages procd got
    as [method, message], and for enable the links it made in /etc/rc.d."""
    results = {}
    for action in ACTIONS:
        status, sent = run(root, *action.split())
        results[action] = {"status": status, "sent": [list(m) for m in sent]}
        if action == "enable":
            results[action]["links"] = sorted(p.name for p in (root / "etc/rc.d").iterdir())
    return results


def checks(results: dict[str, dict]) -> list[str]:
    """What procd must receive, as failures (empty: all hold), judged on record()'s results."""
    failed = []

    def expect(what: str, ok: bool) -> None:
        if not ok:
            failed.append(what)

    def sent(action: str) -> tuple[int, list[tuple[str, dict]]]:
        return results[action]["status"], [tuple(m) for m in results[action]["sent"]]

    status, messages = sent("start")
    expect("start sends one 'service set'", status == 0 and [m for m, _ in messages] == ["call service set"])
    message = messages[0][1] if messages else {}
    (instance,) = message.get("instances", {"": {}}).values()
    expect("hotspotd -c /etc/config/hotspot", instance.get("command") == ["/usr/bin/hotspotd", "-c",
                                                                         "/etc/config/hotspot"])
    expect("as root (no user)", "user" not in instance)
    expect("respawn 3600 5 5", instance.get("respawn") == ["3600", "5", "5"])
    expect("term_timeout 30", instance.get("term_timeout") == 30)
    expect("nofile 4096", instance.get("limits") == {"nofile": "4096 4096"})
    expect("file trigger on its config", instance.get("file") == ["/etc/config/hotspot"])
    expect("netdev: the LAN and WAN devices", instance.get("netdev") == ["br-lan", "wwan0", "eth1"])
    triggers = [(t[0], t[1][1][2], t[1][2]) for t in message.get("triggers", [])]
    reload = ["run_script", "/etc/init.d/hotspot", "reload"]
    expect("config trigger", ("config.change", "hotspot", reload) in triggers)
    expect("LAN trigger", ("interface.*", "lan", reload) in triggers)
    expect("WAN triggers", {("interface.*.up", i, tuple(reload)) for i in ("wwan", "wan")} ==
           {(e, i, tuple(r)) for e, i, r in triggers if e == "interface.*.up"})
    status, messages = sent("stop")
    expect("stop deletes the service, nothing else",
           status == 0 and messages == [("call service delete", {"name": "hotspot"})])
    status, messages = sent("reload")
    expect("reload sends the service again", status == 0 and [m for m, _ in messages] == ["call service set"])
    status, _ = sent("enable")
    expect("enable links S95 and K10", status == 0 and results["enable"]["links"] == ["K10hotspot",
                                                                                    "S95hotspot"])
    expect("hotplug: an interface procd watches is left to procd", sent("hotplug wwan wwan0")[1] == [])
    expect("hotplug: a modem's device reloads",
           [m for m, _ in sent("hotplug lte wwan0")[1]] == ["call service set"])
    expect("hotplug: another device does nothing", sent("hotplug lte usb9")[1] == [])
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--openwrt", type=Path, required=True)
    parser.add_argument("--jshn", type=Path, required=True)
    parser.add_argument("--uci", type=Path, required=True)
    parser.add_argument("action", nargs="*")
    ns = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hotspot-procd.") as tmp:
        root = Path(tmp)
        make_root(root, ns.openwrt, ns.jshn, ns.uci)
        if not ns.action:
            failed = checks(record(root))
            print("\n".join(f"FAILED: {f}" for f in failed) or "all checks hold")
            return 1 if failed else 0
        status, sent = run(root, *ns.action)
        for method, message in sent:
            print(json.dumps({"ubus": method, "message": message}))
        return status


if __name__ == "__main__":
    sys.exit(main())
