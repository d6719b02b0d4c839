"""The OpenWrt packages as a router would have them installed, run in the lab.

openwrt/stage.py stages each package as Py3Package would (bytecode only, /usr/share/hotspot, the
Makefile's own install recipes and filespecs); a test installs some of them into a root of its own and
runs hotspotd, hotspotctl, the portal's gunicorn and the DNS snooper from there, with Debian's Python 3.11
(OpenWrt 24.10's) and nothing of this repository on the path. Every process runs under the import guard
with its own package's DEPENDS line: a module that package does not pull in fails here as on a router,
and the project's own modules (hotspot, nftables, gunicorn) come only from the installed root.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lab import CommandError
from lab.hotspotd import Hotspotd
from tests.lab.conftest import register
from tests.openwrt.repo import OPENWRT, importguard, load

stage = load("openwrt_stage", OPENWRT / "stage.py")

ALONE = ["hotspot", "python3-nftables"]
EVERYTHING = [*ALONE, "hotspot-portal", "python3-gunicorn", "python3-blinker", "hotspot-snoop"]
# Each process under its own package's DEPENDS (the first word found in its command line picks it).
PROCESSES = [("gunicorn", "+hotspot-portal"), ("hotspot.apps.snoop.snooper", "+hotspot-snoop"),
             ("", "+hotspot")]
# What is tried inside try/except and no package here brings, so the router goes without it: shutil's
# lzma (python3-lzma).
SWALLOWED = {"lzma"}
CAP = 1_000_000
SLACK = 256 * 1024


@pytest.fixture(scope="module")
def staged() -> Path:
    return stage.stage()


def installed(lab, staged: Path, packages: list[str], branch: str, **options) -> tuple[Hotspotd, Path]:
    """hotspotd of a router with these packages installed, started, its guard's log beside it."""
    root = stage.rootfs(staged, packages, Path(lab.dir) / "rootfs")
    site = root / "usr" / "lib" / f"python{stage.python_version()}" / "site-packages"
    guard = Path(lab.dir) / "guard"
    log = guard / "refused.log"
    importguard.write_site(guard, branch, PROCESSES, log=str(log), site=str(site))
    for path in (Path(lab.dir), guard, root):
        path.chmod(0o755)  # the portal's user reaches the code, as on the router
    log.touch(mode=0o666)
    log.chmod(0o666)
    d = Hotspotd(lab, **options)
    d.python = d.ctl_python = stage.PYTHON
    d.daemon_argv, d.ctl_argv = [str(root / "usr/bin/hotspotd")], [str(root / "usr/bin/hotspotctl")]
    share = root / "usr/share/hotspot"
    d.extra_env = {"PYTHONPATH": f"{guard}:{site}", "PYTHONSAFEPATH": "1", "HOTSPOT_SHARE": str(share),
                   "HOTSPOT_WEB": str(share / "web")}
    return d.start(), log


def refused(log: Path) -> set[str]:
    return {line.split()[1] for line in log.read_text().splitlines()}


def count_and_cap(lab, d: Hotspotd) -> dict:
    """A client counted from its first bytes, then capped at the byte."""
    register(lab, d, "c1")
    mac = lab.clients["c1"].mac
    d.ctl("cap", mac, f"{CAP}B")
    try:
        lab.iperf("c1", bytes=3 * CAP, reverse=True, timeout=3)
    except (subprocess.TimeoutExpired, CommandError):
        pass  # the cap cut it off
    d.wait_polls()
    client = d.client(mac)
    assert client["state"] == "capped", client
    assert CAP - SLACK <= client["bytes_total"] <= CAP + SLACK, client
    return client


@pytest.mark.parametrize("branch", ["openwrt-24.10", "openwrt-25.12"])
def test_every_package_installed_counts_caps_and_serves_the_client_its_page(lab, staged, branch):
    d, log = installed(lab, staged, EVERYTHING, branch)
    client = count_and_cap(lab, d)
    d.wait_portal("c1")
    me = json.loads(lab.curl("c1", d.portal("/api/me")).stdout)
    assert (me["mac"], me["state"], me["remaining"]) == (client["mac"], "capped", 0)
    page = lab.curl("c1", d.portal("/")).stdout
    assert "<html" in page and client["mac"] in page.lower()
    lab.wait_for(d.snoop_pids, 10, "the DNS snooper")
    status = d.json("status")
    assert all(part["installed"] for part in status["parts"].values()), status["parts"]
    assert " off: " not in d.log()
    assert refused(log) <= SWALLOWED, log.read_text()


def test_hotspot_alone_counts_and_caps_and_says_which_parts_are_off(lab, staged):
    d, log = installed(lab, staged, ALONE, "openwrt-24.10")
    count_and_cap(lab, d)
    lines = d.log()
    # (this machine has Flask and gunicorn: only the packages' own modules are missing)
    assert ("portal off: hotspot-portal is not installed (the client pages and the admin UI; no module "
            "hotspot.portal.wsgi)") in lines
    assert ("dns snooper off: hotspot-snoop is not installed (app categories from the DNS snooper; no module "
            "hotspot.apps.snoop.snooper)") in lines
    parts = d.json("status")["parts"]
    assert parts == {
        "portal": {"installed": False, "package": "hotspot-portal", "missing": ["hotspot.portal.wsgi"]},
        "dns_snooper": {"installed": False, "package": "hotspot-snoop",
                        "missing": ["hotspot.apps.snoop.snooper"]},
    }
    assert not d.portal_pids() and not d.snoop_pids()
    assert lab.curl("c1", d.portal("/api/captive"), check=False, timeout=2).returncode != 0
    assert refused(log) <= SWALLOWED, log.read_text()


def test_removing_hotspot_takes_out_the_table_and_the_shaper(lab, staged):
    """The package's prerm, with this lab's paths: hotspotd stopped first (else it would rebuild the
    table), then the table and the HTB qdisc that stopping leaves on purpose are gone."""
    d, _ = installed(lab, staged, ALONE, "openwrt-24.10")
    register(lab, d, "c1")
    d.ctl("throttle", lab.clients["c1"].mac, "1mbit")

    def shaped() -> bool:
        return "qdisc htb" in lab.run(lab.router, "tc", "qdisc", "show").stdout

    lab.wait_for(shaped, 5, "the HTB qdisc")
    pid = d.proc.pid
    script = stage.maintainer_script("hotspot", "prerm")
    # procd's stop, here: SIGTERM, and wait until it has exited (a zombie of this test's, unreaped)
    stop = f"kill {pid}; while ! grep -qs '^State:.Z' /proc/{pid}/status; do sleep 0.1; done"
    script = script.replace("/etc/init.d/hotspot stop", stop)
    ctl = " ".join([d.ctl_python, *d.ctl_argv, "-c", str(d.config_path)])
    script = script.replace("/usr/bin/hotspotctl", ctl)
    prerm = Path(lab.dir) / "hotspot.prerm"
    prerm.write_text(script)
    done = subprocess.run(["ip", "netns", "exec", lab.router, "busybox", "sh", str(prerm), "remove"],
                          capture_output=True, text=True, timeout=60, env=d.env())
    assert "removed table inet hotspot" in done.stdout, done.stderr
    assert not d.table_live() and not shaped()
