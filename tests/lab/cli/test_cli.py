"""hotspotctl against the real daemon: bad input changes nothing, in the database or the kernel."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from tests.lab.conftest import register

BAD = [
    ("cap", "{mac}", "12XB"),
    ("cap", "{mac}", "-1GB"),
    ("cap", "{mac}", "1GB; flush ruleset"),
    ("cap", "{mac}", '1 } ; delete table inet hotspot ; {'),
    ("topup", "{mac}", "lots"),
    ("throttle", "{mac}", "fast"),
    ("throttle", "{mac}", "10"),
    ("throttle", "{mac}", "1mbit @blocked"),
    ("cap", "aa:bb:cc:dd:ee", "1GB"),
    ("block", "zz:zz:zz:zz:zz:zz"),
    ("block", '"; flush ruleset; "'),
    ("block", "02:00:00:00:00:99"),  # well formed, unknown
    ("reset", "02:00:00:00:00:99"),
    ("forget", "02:00:00:00:00:99"),
    ("forget", "{mac}; flush ruleset"),
    ("forget", "aa:bb:cc:dd:ee"),
    ("history", "{mac}", "--by", "week"),
    ("ask", "{mac}", "lots"),
    ("ask", "{mac}", "1GB; flush ruleset"),
    ("ask", "{mac}", "continue"),  # not waiting at an ask point
    ("ask", "02:00:00:00:00:99", "1GB"),
    ("frobnicate",),
]


def _kernel(d) -> str:
    """The table without counter/quota values (traffic, e.g. neighbour chatter, moves them)."""
    text = d.nft("list", "table", "inet", "hotspot")
    return re.sub(r"(packets \d+ bytes \d+|used \d+ bytes|expires \S+)", "", text)


def _database(d) -> list:
    db = sqlite3.connect(Path(d.config.run_dir) / "hotspot.db")
    rows = [r for r in db.execute("SELECT id, mac, cap, topup, rate, blocked, ask_at, ask_done FROM clients "
                                  "ORDER BY id")]
    return rows


@pytest.fixture
def daemon(lab, start_hotspotd):
    d = start_hotspotd()
    register(lab, d, "c1")
    d.ctl("cap", lab.clients["c1"].mac, "1GB")
    # the ping that registered c1 was counted as unregistered first; hotspotd credits it and deletes
    # those elements at a poll after the registration: let that happen before a test takes the
    # kernel's state as "what nothing may change"
    mac = lab.clients["c1"].mac
    lab.wait_for(lambda: mac not in d.nft("list", "set", "inet", "hotspot", "unreg_up"), 15,
                 "c1's unregistered bytes credited")
    return d


def test_bad_input_is_one_line_and_changes_nothing(lab, daemon):
    mac = lab.clients["c1"].mac
    kernel, database = _kernel(daemon), _database(daemon)
    for args in BAD:
        args = [a.replace("{mac}", mac) for a in args]
        for json_flag in ([], ["--json"]):
            p = daemon.ctl(*json_flag, *args, check=False)
            assert p.returncode in (1, 2), (args, p.returncode)
            assert p.stdout == "", (args, p.stdout)
            lines = p.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith("hotspotctl: "), (args, p.stderr)
            assert "Traceback" not in p.stderr
    assert _kernel(daemon) == kernel
    assert _database(daemon) == database
    assert lab.ping("c1", lab.server4), "the client is still online"


def test_commands_change_database_and_kernel_together(lab, daemon):
    mac = lab.clients["c1"].mac
    c = daemon.json("cap", mac, "2GiB")
    assert c["cap"] == 2 * 1024**3
    quota = json.loads(daemon.nft("-j", "list", "quota", "inet", "hotspot", f"q{c['id']}"))
    assert quota["nftables"][1]["quota"]["bytes"] == 2 * 1024**3
    assert daemon.json("topup", mac, "500MB")["cap"] == 2 * 1024**3 + 500_000_000
    down = ("list", "chain", "inet", "hotspot", f"down{c['id']}")
    assert daemon.json("throttle", mac, "2.5mbit")["rate_limit"] == 2_500_000
    assert "meta priority set 1:" in daemon.nft(*down)
    assert daemon.json("throttle", mac, "none")["rate_limit"] is None
    assert "priority" not in daemon.nft(*down)
    assert daemon.json("cap", mac, "none")["cap"] is None
    assert "quota" not in daemon.nft(*down) and "quota" not in daemon.nft("list", "quotas")
    text = daemon.ctl("clients").stdout
    assert mac in text and "HOSTNAME" in text
    assert daemon.ctl("status").stdout.startswith("daemon:    running")
    top = daemon.ctl("top", "--count", "2", "--interval", "0.2").stdout
    assert top.count("hotspot top") == 2 and mac in top


def test_teardown_removes_the_table(lab, daemon):
    daemon.stop()
    assert daemon.json("teardown") == {"removed": True}
    assert "hotspot" not in daemon.nft("list", "tables")
    assert daemon.json("teardown") == {"removed": False}
