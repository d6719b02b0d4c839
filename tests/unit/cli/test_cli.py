from __future__ import annotations

import io
import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from hotspot import cli
from hotspot.cli import Environment, ExitStatus
from hotspot.core.store import DB_NAME, Store

MAC = "aa:bb:cc:dd:ee:ff"


def run(*args: str) -> tuple[ExitStatus, str, str]:
    env = Environment(stdout=io.StringIO(), stderr=io.StringIO())
    status = cli.main(list(args), env)
    return status, env.stdout.getvalue(), env.stderr.getvalue()


def one_line(err: str) -> str:
    assert err.startswith("hotspotctl: "), err
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    return err


@pytest.fixture
def untouched(monkeypatch, cfg, cfg_file):
    """Fail the test if the CLI gets as far as reading the config, the database or the kernel."""

    def forbidden(*_a, **_k):
        raise AssertionError("bad input reached the config, database or kernel")

    monkeypatch.setattr(cli, "load", forbidden)
    monkeypatch.setattr("hotspot.kernel.nft.Nft.__init__", forbidden)
    monkeypatch.setattr("hotspot.core.store.Store.__init__", forbidden)
    yield cfg_file
    assert not Path(cfg.run_dir).exists()
    assert not Path(cfg.state_dir).exists()


BAD_SIZES = ["1GB; flush ruleset", "lots", "-1GB", "1e9", "nan", "inf", "0x10", "1 GB 2", "1GBB", "",
             "1GB\nflush ruleset", "10" * 30, "1.5.5GB", "２GB"]
BAD_RATES = ["fast", "256", "1kbit", "1000gbit", "1mbit; flush ruleset", "-1mbit", "1mbyte", "1 mbit/h", ""]
BAD_DURATIONS = ["forever", "0", "1.5h", "400d", "1h; flush ruleset", "", "1y", "-1h"]
BAD_MACS = ["aa:bb:cc:dd:ee:ff } ", "aa:bb:cc:dd:ee", "gg:bb:cc:dd:ee:ff", "01:00:5e:00:00:01",
            "00:00:00:00:00:00", "aa:bb:cc:dd:ee:ff; flush ruleset", "", "aabb.ccdd.eeff",
            "aa:bb-cc:dd:ee:ff", "aa:bb:cc:dd:ee:ff:00", '"; flush ruleset; "', "aa:bb:cc:dd:ee:f\nf"]


@pytest.mark.parametrize(
    "args",
    [
        *[("cap", MAC, s) for s in BAD_SIZES],
        *[("topup", MAC, s) for s in [*BAD_SIZES, "none"]],
        *[("throttle", MAC, r) for r in BAD_RATES],
        *[(cmd, m) for m in BAD_MACS for cmd in ("client", "block", "unblock", "reset", "history", "forget")],
        *[("cap", m, "1GB") for m in BAD_MACS],
        *[("throttle", m, "1mbit") for m in BAD_MACS],
        *[("topup", m, "1GB") for m in BAD_MACS],
        *[(cmd, m) for m in BAD_MACS for cmd in ("admit", "unadmit")],
        *[("admit", MAC, "--for", d) for d in BAD_DURATIONS],
    ],
)
def test_bad_values_are_usage_errors_that_touch_nothing(untouched, args):
    status, out, err = run("-c", untouched, "--json", *args)
    assert status == ExitStatus.USAGE == 2
    assert out == ""
    one_line(err)
    if not any(a.startswith("-") for a in args):  # argparse takes "-1GB" for an option
        assert "invalid " in err


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("frobnicate",),
        ("flush ruleset",),
        ("Clients",),
        ("clients", "extra"),
        ("--bogus", "clients"),
        ("-c",),
        ("cap",),
        ("cap", MAC),
        ("throttle", MAC),
        ("topup", MAC),
        ("block",),
        ("unblock",),
        ("client",),
        ("reset",),
        ("history",),
        ("history", MAC, "--by", "week"),
        ("block", MAC, MAC),
        ("top", "-n", "soon"),
        ("admit",),
        ("unadmit",),
        ("admit", MAC, "--for"),
        ("admit", MAC, "1h"),
        ("unadmit", MAC, "--for", "1h"),
    ],
)
def test_bad_command_lines_are_usage_errors_that_touch_nothing(untouched, args):
    status, out, err = run("-c", untouched, *args) if args[:1] != ("-c",) else run(*args)
    assert status == ExitStatus.USAGE
    assert out == ""
    one_line(err)


def test_usage_error_names_the_problem(untouched):
    assert "invalid choice: 'frobnicate'" in run("-c", untouched, "frobnicate")[2]
    assert "required: size" in run("-c", untouched, "cap", MAC)[2]
    assert "'1GB; flush ruleset'" in run("-c", untouched, "cap", MAC, "1GB; flush ruleset")[2]
    assert "'aa:bb:cc:dd:ee:ff } '" in run("-c", untouched, "block", "aa:bb:cc:dd:ee:ff } ")[2]


def test_missing_config_file_is_an_error(tmp_path):
    missing = tmp_path / "nope" / "hotspot"
    status, out, err = run("-c", str(missing), "--json", "clients")
    assert status == ExitStatus.USAGE == 2  # a bad config, like bad arguments, is a usage error
    assert out == ""
    assert one_line(err) == f"hotspotctl: {missing}: no such file\n"


def test_bad_config_file_is_an_error_with_file_and_line(tmp_path, cfg):
    path = tmp_path / "bad"
    path.write_text("config hotspot 'main'\n\toption poll_interval 'often'\n")
    status, out, err = run("-c", str(path), "clients")
    assert status == ExitStatus.USAGE
    assert out == ""
    assert one_line(err).startswith(f"hotspotctl: {path}:2: option poll_interval: 'often' is not")
    assert not Path(cfg.run_dir).exists()


def test_clients_json_on_an_empty_database(cfg, cfg_file):
    # `clients` asks the kernel for the table's counters; with no table of ours it must answer [].
    status, out, err = run("-c", cfg_file, "--json", "clients")
    assert (status, err) == (ExitStatus.OK, "")
    assert json.loads(out) == []
    assert (Path(cfg.run_dir) / DB_NAME).is_file()


def test_clients_text_on_an_empty_database(cfg_file):
    status, out, err = run("-c", cfg_file, "clients")
    assert (status, out, err) == (ExitStatus.OK, "no clients yet\n", "")


def test_a_bad_value_changes_nothing_for_a_known_client(cfg, cfg_file):
    store = Store.open(cfg.run_dir, cfg.state_dir)
    store.add_client(MAC, 1.0, cap=1000)
    before = store.client(MAC)
    for args in (("cap", MAC, "1GB; flush ruleset"), ("throttle", MAC, "lots"), ("topup", MAC, "-5GB")):
        status, out, err = run("-c", cfg_file, *args)
        assert (status, out) == (ExitStatus.USAGE, "")
        one_line(err)
    assert store.client(MAC) == before
    store.close()


@pytest.mark.parametrize(
    "args",
    [("client", MAC), ("cap", MAC, "1GB"), ("cap", MAC, "none"), ("throttle", MAC, "1mbit"),
     ("block", MAC), ("unblock", MAC), ("topup", MAC, "1GB"), ("history", MAC), ("admit", MAC),
     ("admit", MAC, "--for", "1h"), ("unadmit", MAC), ("forget", MAC)],
)
def test_unknown_client_is_a_one_line_error(cfg, cfg_file, args):
    status, out, err = run("-c", cfg_file, "--json", *args)
    assert status == ExitStatus.ERROR
    assert out == ""
    assert one_line(err) == f"hotspotctl: unknown client {MAC}\n"
    store = Store.open(cfg.run_dir, cfg.state_dir)
    assert store.clients() == []  # nothing was added on the way
    store.close()


def test_passwd_stores_a_salted_hash_that_verifies(cfg_file, cfg):
    import io
    from pathlib import Path

    from hotspot.admin.auth import PASSWORD_FILE, verify_password
    from hotspot.cli import Environment, main

    out, err = io.StringIO(), io.StringIO()
    assert main(["-c", cfg_file, "passwd"], Environment(out, err, io.StringIO("s3cret-pass\n"))) == 0
    path = Path(cfg.state_dir) / PASSWORD_FILE
    stored = path.read_text()
    assert "s3cret-pass" not in stored and stored.startswith("scrypt$")
    assert path.stat().st_mode & 0o777 == 0o600
    assert verify_password("s3cret-pass", stored) and not verify_password("s3cret-pasS", stored)
    # a short password is refused and changes nothing
    assert main(["-c", cfg_file, "passwd"], Environment(out, err, io.StringIO("short\n"))) == 2
    assert "8 to 128 characters" in err.getvalue() and path.read_text() == stored


def _modes(*roots: str) -> dict[str, str]:
    found = {}
    for root in roots:
        found[root] = f"{os.stat(root).st_mode & 0o777:04o}"
        for name in os.listdir(root):
            found[os.path.join(root, name)] = f"{os.lstat(os.path.join(root, name)).st_mode & 0o777:04o}"
    return found


def _files_root_only(modes: dict[str, str], cfg) -> bool:
    return all(mode == "0600" for path, mode in modes.items() if path not in (cfg.run_dir, cfg.state_dir))


def test_the_real_cli_before_hotspotd_ever_ran_makes_every_private_file_root_only(cfg_file, cfg):
    """`hotspotctl passwd` right after install, from a shell with the usual umask 022: run_dir,
    state_dir and the database it makes (with its -wal and -shm) are not for other users."""
    import subprocess
    import sys

    def run_cli(*args: str, input: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "hotspot.cli", "-c", cfg_file, *args], input=input,
                              capture_output=True, text=True, timeout=60, preexec_fn=lambda: os.umask(0o022))

    p = run_cli("passwd", input="s3cret-pass\n")
    assert p.returncode == 0, p.stderr
    modes = _modes(cfg.run_dir, cfg.state_dir)
    assert modes[cfg.run_dir] == "0711" and modes[cfg.state_dir] == "0700", modes
    assert {os.path.basename(p) for p in modes} >= {"hotspot.db", "admin.passwd"}
    assert _files_root_only(modes, cfg), modes
    # a database another version left readable is made root's again by the next command
    db = os.path.join(cfg.run_dir, "hotspot.db")
    for path in (db, db + "-wal", db + "-shm"):
        with open(path, "ab"):
            os.chmod(path, 0o644)
    assert run_cli("clients").returncode == 0
    modes = _modes(cfg.run_dir, cfg.state_dir)
    assert _files_root_only(modes, cfg), modes


def _client_json(cfg_file, *args):
    status, out, err = run("-c", cfg_file, "--json", *args)
    assert (status, err) == (ExitStatus.OK, "")
    return json.loads(out)


@pytest.fixture
def click_file(cfg, tmp_path):
    """A config with auth click (and the database of `cfg`)."""
    from hotspot.config import dump

    path = tmp_path / "click"
    path.write_text(dump(cfg.replace(auth="click", session_timeout=7200)))
    return str(path)


def test_admit_and_unadmit(cfg, click_file):
    import time

    store = Store.open(cfg.run_dir, cfg.state_dir)
    store.add_client(MAC, 1.0)
    store.close()
    c = _client_json(click_file, "client", MAC)
    assert (c["admitted"], c["admitted_until"]) == (False, None)
    assert [x["admitted"] for x in _client_json(click_file, "clients")] == [False]

    before = time.time()
    c = _client_json(click_file, "admit", MAC)  # the config's session_timeout, 2h
    until = datetime.fromisoformat(c["admitted_until"]).timestamp()
    assert c["admitted"] and before + 7200 - 1 <= until <= time.time() + 7200
    c = _client_json(click_file, "admit", MAC.upper(), "--for", "1h30m")
    until = datetime.fromisoformat(c["admitted_until"]).timestamp()
    assert before + 5400 - 1 <= until <= time.time() + 5400
    assert _client_json(click_file, "clients")[0]["admitted"] is True

    status, out, err = run("-c", click_file, "admit", MAC, "--for", "10m")
    assert status == ExitStatus.OK and err == ""
    assert out.startswith(f"{MAC}: admitted until ") and "state ok" in out
    status, out, err = run("-c", click_file, "client", MAC)
    assert "admitted:   until " in out

    c = _client_json(click_file, "unadmit", MAC)
    assert (c["admitted"], c["admitted_until"]) == (False, None)
    status, out, err = run("-c", click_file, "unadmit", MAC)
    assert (status, out) == (ExitStatus.OK, f"{MAC}: not admitted; 0 B used, state ok\n")


def test_auth_none_admits_everyone(cfg, cfg_file):
    store = Store.open(cfg.run_dir, cfg.state_dir)
    store.add_client(MAC, 1.0)
    store.close()
    c = _client_json(cfg_file, "client", MAC)
    assert (c["admitted"], c["admitted_until"]) == (True, None)
    c = _client_json(cfg_file, "unadmit", MAC)
    assert c["admitted"] is True


# -- the data plan -------------------------------------------------------------------------------------


def test_plan_set_writes_the_config_and_shows_the_plan(cfg, cfg_file):
    status, out, err = run("-c", cfg_file, "--json", "plan", "set", "20GB", "--period", "weekly",
                           "--start", "3", "--block-at", "100%", "--stop-at", "21GB")
    assert (status, err) == (ExitStatus.OK, "")
    plan = json.loads(out)
    assert plan["allowance"] == 20 * 10**9 and plan["cycle"] == "weekly"
    assert plan["guard"]["limits"] == {"throttle": None, "block": 20 * 10**9, "stop": 21 * 10**9}
    text = Path(cfg_file).read_text()
    assert "option plan_quota '20GB'" in text and "option plan_period_start '3'" in text
    status, out, _ = run("-c", cfg_file, "plan")
    assert status == ExitStatus.OK and "20.0 GB left of 20.0 GB" in out and "block at 20.0 GB" in out


@pytest.mark.parametrize("args", [("lots",), ("20GB", "--start", "40"), ("20GB", "--block-at", "90 percent"),
                                  ("--timezone", "Mars/Base"), ("--stop-at", "95%; flush ruleset"), ()])
def test_bad_plan_settings_are_usage_errors_that_change_nothing(cfg, cfg_file, args):
    before = Path(cfg_file).read_text()
    status, out, err = run("-c", cfg_file, "plan", "set", *args)
    assert status == ExitStatus.USAGE and out == ""
    one_line(err)
    assert Path(cfg_file).read_text() == before


def test_plan_topup_needs_a_quota(cfg, cfg_file):
    status, out, err = run("-c", cfg_file, "plan", "topup", "1GB")
    assert status == ExitStatus.ERROR and "no quota to top up" in one_line(err)
    run("-c", cfg_file, "plan", "set", "10GB")
    status, out, err = run("-c", cfg_file, "--json", "plan", "topup", "1GB")
    assert status == ExitStatus.OK and json.loads(out)["allowance"] == 11 * 10**9


def test_alerts_list_and_a_test_without_the_channel(cfg, cfg_file):
    status, out, err = run("-c", cfg_file, "alerts")
    assert status == ExitStatus.OK and "no alerts yet" in out and "no deliveries yet" in out
    status, out, err = run("-c", cfg_file, "alerts", "test", "webhook")
    assert status == ExitStatus.ERROR and "no channel 'webhook' is configured" in one_line(err)
