"""The files hotspot hands to uci, made the same way by the recorder (record.py, with the real uci) and
by the tests (against what was recorded): the shipped file, dump(), the rewrites of the admin UI's forms
and `hotspotctl plan set`, a corpus and generated files, and the scenarios of the write path."""

from __future__ import annotations

import os
import random
import stat
import sys
from pathlib import Path

from tests.openwrt.hotspot_api import Config, dump
from tests.openwrt.repo import FILES, ROOT

CORPUS = Path(__file__).parent / "uci_corpus"
UCITAPE = Path(__file__).parent / "ucitape.py"

# The config dump() writes: every option, empty lists and 'none' included; fixed paths, so the file is
# the same wherever it is made.
CONFIG = Config(lan_device="hs-nolan0", wan_device=("hs-nowan0",), state_dir="/tmp/hotspot-test/state",
                run_dir="/tmp/hotspot-test/run", leases_file="/tmp/hotspot-test/dhcp.leases")
ODD = CONFIG.replace(venue="it's \"ours\"; #1", alert_at=(), dnsmasq_restart=None,
                     update_guard_categories=(), wan_device=("wwan0", "eth1"), default_cap=2 * 10**9)

FORMS = [  # what the admin UI's forms and `hotspotctl plan set` send
    {"period": "weekly", "period_start": "3", "default_cap": "5GB", "after_cap": "throttle",
     "after_cap_rate": "512kbit", "auth": "click"},
    {"plan_quota": "20GB", "plan_period": "monthly", "plan_period_start": "5", "plan_start_hour": "6",
     "plan_timezone": "Asia/Tokyo", "plan_pass_length": "30d"},
    {"plan_throttle_at": "90%", "plan_throttle_rate": "1mbit", "plan_block_at": "100%", "alert_at": "50 75"},
    {"default_cap": "", "alert_at": "", "plan_quota": "", "plan_timezone": "", "plan_throttle_at": "",
     "plan_block_at": ""},  # fields emptied
]
STARTS = {
    "shipped": (FILES / "hotspot.config").read_text(),
    "generated": dump(CONFIG),
    "odd": (CORPUS / "hotspot-odd").read_text(),
    "none of ours": "config other 'x'\n\toption venue 'theirs'\n",
    "all on one line": "config hotspot 'main' ; option venue x ; config other 'y' ; option z 1",
}
WRITERS = ("in place", "through uci")
CLI = ["plan", "set", "20GB", "--block-at", "100%", "--period", "weekly"]
STAGED_BEFORE = "# the owner's\nconfig hotspot 'main'\n  option venue old\n\toption default_cap '1GB'\n"
STAGED_SET = "hotspot.main.venue=Staged by the owner"
STAGED_FORM = {"default_cap": "5GB"}

REFUSALS = {  # what hotspot refuses although uci reads it
    "two anonymous sections": "config hotspot\n\toption venue 'x'\nconfig hotspot\n\toption venue 'y'\n",
    "semicolon after an unquoted word": "config hotspot main; option venue x\n",
    "empty value meaning none": "config hotspot 'main'\n\toption dnsmasq_restart ''\n",
    "list item with a space": "config hotspot 'main'\n\tlist wan_device 'wwan0 eth9'\n",
}
DIFFERENT_TYPE = "config hotspot 'main'\nconfig other 'main'\n"
FIREWALL = ("config defaults\n\to flow_offloading '1'\n\tlist flow_offloading_hw 'a'\n\toption syn_flood\n"
            "config zone\nconfig defaults\n\toption flow_offloading_hw '1'\n")

GENERATED_SEED, GENERATED_COUNT = 20251207, 200
WORDS = ["foo", "main", "x_1", "a", "'a b'", '"q\\"r"', "''", '""', "a\\", "'x\ny'", '"m\\\nn"', "it'\\''s",
         "a#b", "w;", "'v';", "\\;", "-d", "ü", "a.b", "b\\c", "'#'", "1", "\\\n", "'t'\\\n"]
SEPARATORS = [" ", "\t", " ; ", ";", " ", "  ", "\\\n", " \t"]


def generated(rng: random.Random) -> str:
    """A small file of mostly valid statements, with odd words, separators and junk among them."""
    lines = ["config foo 'main'"] if rng.random() < 0.8 else []
    for _ in range(rng.randint(1, 6)):
        keyword = rng.choice(["option", "o", "list", "l", "option", "list", "config", "c", "package", "opt",
                              "#"])
        if keyword in ("config", "c"):
            words = [rng.choice(["foo", "bar", "a.b", "w-x"]), rng.choice(["main", "'m2'", "", "x y", "m3"])]
        elif keyword in ("package", "p"):
            words = [rng.choice(["foo", "a-b", "x y"])]
        else:
            words = [rng.choice(["a", "b", "c_1", "a"] if rng.random() < 0.9 else WORDS)]
            words += [rng.choice(WORDS) for _ in range(rng.choice([1, 1, 1, 1, 0, 2]))]
        line = keyword
        for w in words:
            line += (rng.choice(SEPARATORS) if rng.random() < 0.3 else " ") + w
        if rng.random() < 0.2:
            line += rng.choice([" # c", "#c", " ;", "\r"])
        lines.append(rng.choice(["", "\t", "  "]) + line)
    return "\n".join(lines) + rng.choice(["\n", "", "\r\n"])


def generated_files() -> list[str]:
    rng = random.Random(GENERATED_SEED)
    return [generated(rng) for _ in range(GENERATED_COUNT)]


def corpus() -> dict[str, str]:
    return {p.name: p.read_bytes().decode() for p in sorted(CORPUS.iterdir())}


def read(path: Path) -> str:
    return path.read_bytes().decode()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def tape_command(directory: Path) -> str:
    """An executable that runs ucitape.py (what HOTSPOT_UCI names for the write path)."""
    command = directory / "uci"
    command.write_text(f"#!/bin/sh\nexec {sys.executable} -I -S {UCITAPE} \"$@\"\n")
    command.chmod(0o755)
    return str(command)


def run_cli(path: Path, env: dict[str, str]) -> None:
    import subprocess

    done = subprocess.run([sys.executable, "-m", "hotspot.cli", "-c", str(path), *CLI], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    assert done.returncode == 0, done.stderr
