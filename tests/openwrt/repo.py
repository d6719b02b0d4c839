"""Paths of the repository the OpenWrt tests use, and the repository's own modules they load by path
(openwrt/ is no Python package)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OPENWRT = ROOT / "openwrt"
FILES = OPENWRT / "files"
BRANCHES = ("openwrt-24.10", "openwrt-25.12")  # the targets; the feed's master is indexed too


def load(name: str, path: Path):
    """Import one file of openwrt/ as a module."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


depends = load("openwrt_feed_depends", OPENWRT / "feed" / "depends.py")
minimake = load("openwrt_feed_minimake", OPENWRT / "feed" / "minimake.py")
importguard = load("openwrt_importguard", OPENWRT / "importguard.py")
