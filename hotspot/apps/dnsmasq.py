"""dnsmasq's nftset lines for the app categories: the router's own resolver fills the kernel's sets.

For each category, dnsmasq adds every address it answers for a name under one of its domains to the
category's sets and to the union sets (nft/hotspot.nft), with no Python per answer. Its longest
matching domain wins, as in hotspot.apps.categories. dnsmasq reads nftset options only at start, so a
changed file needs a restart (a SIGHUP is not enough); nothing is written, and nothing restarted,
when the content is the same. dnsmasq must be built with nftset (OpenWrt: dnsmasq-full).

OpenWrt's dnsmasq reads every file in /tmp/dnsmasq.d (its default confdir), which its jail mounts.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess

from hotspot.apps.categories import Categories, by_category_sets
from hotspot.core.files import write_atomic

log = logging.getLogger("hotspot")

MAX_LINE = 1000  # dnsmasq reads its config files with fgets(…, MAXDNAME = 1025)
HEADER = "# Written by hotspotd from its categories list; edit that list, not this file.\n"


def lines(cats: Categories, family: str = "inet", table: str = "hotspot") -> str:
    """The whole file: one or more `nftset=/dom/…/4#inet#hotspot#c4_cat,…` lines per category.
    The domains passed the categories list's own check (letters, digits, '-', '_' and dots only),
    so none can carry dnsmasq syntax."""
    out = [HEADER]
    for cat, domains in cats.by_category().items():
        sets = ",".join(f"{fam}#{family}#{table}#{name}" for fam, name in by_category_sets(cat))
        tail = f"/{sets}\n"
        line = "nftset="
        for d in domains:
            if len(line) + len(d) + 1 + len(tail) > MAX_LINE and line != "nftset=":
                out.append(line + tail)
                line = "nftset="
            line += f"/{d}"
        if line != "nftset=":
            out.append(line + tail)
    return "".join(out)


def supported(dnsmasq: str = "dnsmasq") -> bool:
    """Was this dnsmasq built with nftset? (An unknown option would stop it from starting.)"""
    try:
        out = subprocess.run([dnsmasq, "--version"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return " nftset" in out and "no-nftset" not in out


def install(path: str, text: str, restart: str = "") -> bool:
    """Write `text` to `path` if it differs (atomically, 0644), then run `restart` (a command line,
    '' for none); True if the file changed. OSError (one line) if it cannot be written."""
    try:
        with open(path) as f:
            if f.read() == text:
                return False
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    write_atomic(path, text, 0o644, keep=False)  # dnsmasq reads it after dropping root
    if restart:
        proc = subprocess.run(shlex.split(restart), capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            log.warning("%s: exited %d: %s", restart, proc.returncode, (proc.stderr or "").strip()[:200])
    return True
