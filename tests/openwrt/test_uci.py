"""hotspot's UCI reader against OpenWrt's own: the uci command built from openwrt/vendor/uci.

Every file hotspot ships, generates or rewrites, a corpus of odd but valid files (uci_corpus/) and a few
hundred generated ones must read the same through both: the same sections, options and lists, and
for hotspot's own section the same Config once uci has rewritten the file. Where hotspot refuses a file
uci takes, a test says what uci would read, so the refusal is the only difference."""

from __future__ import annotations

import dataclasses
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tests.openwrt import hosttools
from tests.openwrt.hotspot_api import (
    Config,
    ConfigError,
    check_setting,
    dump,
    load,
    parse,
    sections,
    uci_options,
)
from tests.openwrt.repo import FILES, ROOT

CORPUS = Path(__file__).parent / "uci_corpus"


def uci_view(uci, directory: Path, package: str) -> list[tuple[str, str, dict]]:
    """(type, name, options and lists) of each section as uci reads the file; anonymous ones named
    cfgXXXXXX by uci."""
    return [(s.type, s.name, {**s.options, **s.lists}) for s in hosttools.export(uci, directory, package)]


def hotspot_view(text: str) -> tuple[list[tuple[str, str | None, dict]], list]:
    """The same as hotspot's reader gives it, and the errors it reports."""
    errors: list = []
    found = [(s.type, s.name, s.values()) for s in sections(parse(text, errors), errors)]
    return found, errors


def assert_alike(uci, path: Path) -> None:
    ours, errors = hotspot_view(path.read_text())
    assert errors == []
    theirs = uci_view(uci, path.parent, path.name)
    assert [(t, v) for t, _, v in ours] == [(t, v) for t, _, v in theirs]
    names = [n if o is not None else None for (_, o, _), (_, n, _) in zip(ours, theirs)]
    assert [n for _, n, _ in ours] == names  # uci names the anonymous ones


def rewritten(uci, path: Path) -> Path:
    """The file as `uci commit` would write it back (`uci export`), beside it."""
    out = path.with_name(path.name + "_by_uci")
    out.write_text(subprocess.run([str(uci), "-c", str(path.parent), "export", path.name],
                                  capture_output=True, text=True, check=True).stdout)
    return out


def assert_same_config(uci, path: Path) -> None:
    """hotspot reads the file and uci's rewrite of it as the same settings."""
    assert dataclasses.replace(load(rewritten(uci, path)), path=str(path)) == load(path)


def test_the_uci_command_is_built_from_the_pinned_source(uci):
    usage = subprocess.run([str(uci)], capture_output=True, text=True)
    assert "set the search path for config override files" in usage.stderr  # the 2025 -C option


def test_the_shipped_config_reads_alike(uci, tmp_path):
    path = tmp_path / "hotspot"
    path.write_text((FILES / "hotspot.config").read_text())
    assert_alike(uci, path)
    assert_same_config(uci, path)
    assert load(path) == Config(path=str(path))  # it documents the defaults


def test_a_generated_config_reads_alike(uci, tmp_path, cfg):
    """dump() writes the lab's and the tests' files: every option, empty lists and 'none' included."""
    odd = cfg.replace(venue="it's \"ours\"; #1", alert_at=(), dnsmasq_restart=None,
                      update_guard_categories=(), wan_device=("wwan0", "eth1"), default_cap=2 * 10**9)
    path = tmp_path / "hotspot"
    path.write_text(dump(odd))
    assert_alike(uci, path)
    assert_same_config(uci, path)
    assert dataclasses.replace(load(path), path=odd.path) == odd


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.iterdir()))
def test_odd_but_valid_files_read_alike(uci, tmp_path, name):
    path = tmp_path / name
    path.write_bytes((CORPUS / name).read_bytes())
    assert_alike(uci, path)


def test_the_odd_hotspot_file_means_the_same_config_once_uci_rewrote_it(uci, tmp_path):
    path = tmp_path / "hotspot"
    path.write_bytes((CORPUS / "hotspot-odd").read_bytes())
    config = load(path)
    assert (config.wan_device, config.venue, config.alert_at, config.after_cap) == (
        ("wwan0", "eth1"), 'Caf"e', (80, 95), "throttle")
    assert (config.auth, config.poll_interval) == (Config().auth, Config().poll_interval)  # '' sets nothing
    assert_same_config(uci, path)


# -- generated files: valid or not, hotspot refuses what uci refuses and reads the rest as uci does ------

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


def test_generated_files_read_alike(uci, tmp_path):
    rng = random.Random(20251207)
    accepted = refused = 0
    for _ in range(400):
        text = generated(rng)
        (tmp_path / "g").write_text(text)
        done = subprocess.run([str(uci), "-c", str(tmp_path), "export", "g"], capture_output=True, text=True)
        ours, errors = hotspot_view(text)
        if done.returncode:
            assert errors, f"uci refuses ({done.stderr.strip()}), hotspot reads it:\n{text!r}"
            refused += 1
            continue
        cut = [e for e in errors if "';' right after an unquoted word" in e[1]]
        assert errors == cut, f"uci reads it, hotspot refuses it:\n{text!r}\n{errors}"
        theirs = uci_view(uci, tmp_path, "g")
        assert [(t, v) for t, _, v in ours] == [(t, v) for t, _, v in theirs], repr(text)
        accepted += 1
    assert accepted > 60 and refused > 60  # both kinds are really tried


# -- what hotspot refuses although uci reads it: uci's reading is shown, hotspot says why -------------


@pytest.mark.parametrize("text, uci_reads, error", [
    ("config hotspot\n\toption venue 'x'\nconfig hotspot\n\toption venue 'y'\n",
     [{"venue": "x"}, {"venue": "y"}],
     "3: a second 'hotspot' section (the first is on line 1)"),
    ("config hotspot main; option venue x\n", [{}],
     "1: uci ignores what follows a ';' right after an unquoted word: put a space before the ';' or quote "
     "the word"),
    ("config hotspot 'main'\n\toption dnsmasq_restart ''\n", [{}],
     "2: option dnsmasq_restart: '' sets nothing in UCI, so its default '/etc/init.d/dnsmasq restart' would "
     "apply; write 'none' for none"),
    ("config hotspot 'main'\n\tlist wan_device 'wwan0 eth9'\n", [{"wan_device": ["wwan0 eth9"]}],
     "2: option wan_device: 'wwan0 eth9' is not an interface name (letters, digits, '.', '_' or '-'; at "
     "most 15)"),
], ids=["two anonymous sections", "semicolon after an unquoted word", "empty value meaning none",
        "list item with a space"])
def test_hotspot_refuses_where_it_cannot_take_what_uci_reads(uci, tmp_path, text, uci_reads, error):
    path = tmp_path / "hotspot"
    path.write_text(text)
    assert [v for _, _, v in uci_view(uci, tmp_path, "hotspot")] == uci_reads
    with pytest.raises(ConfigError) as e:
        load(path)
    assert [line.split(":", 1)[1] for line in e.value.errors] == [error]


def test_uci_refuses_a_named_section_given_again_with_another_type_and_so_does_hotspot(uci, tmp_path):
    (tmp_path / "hotspot").write_text("config hotspot 'main'\nconfig other 'main'\n")
    refused = subprocess.run([str(uci), "-c", str(tmp_path), "export", "hotspot"], capture_output=True)
    assert b"section of different type overwrites prior section with same name" in refused.stderr
    with pytest.raises(ConfigError, match=":2: section 'main' is a 'hotspot' \\(line 1\\), not a 'other'"):
        load(tmp_path / "hotspot")


def test_other_packages_options_read_as_uci_gets_them(uci, tmp_path):
    """hotspotd reads the firewall's defaults (flow offloading) as `uci get firewall.@defaults[0].X`."""
    text = ("config defaults\n\to flow_offloading '1'\n\tlist flow_offloading_hw 'a'\n\toption syn_flood\n"
            "config zone\nconfig defaults\n\toption flow_offloading_hw '1'\n")
    (tmp_path / "firewall").write_text(text)
    first = next(v for t, _, v in uci_view(uci, tmp_path, "firewall") if t == "defaults")
    assert uci_options(text, "defaults") == {k: v for k, v in first.items() if isinstance(v, str)} == {
        "flow_offloading": "1"}


# -- every rewrite hotspot makes reads alike, edited in place or written by uci --------------------------

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
    "shipped": lambda cfg: (FILES / "hotspot.config").read_text(),
    "generated": dump,
    "odd": lambda cfg: (CORPUS / "hotspot-odd").read_text(),
    "none of ours": lambda cfg: "config other 'x'\n\toption venue 'theirs'\n",
    "all on one line": lambda cfg: "config hotspot 'main' ; option venue x ; config other 'y' ; option z 1",
}


@pytest.fixture(params=["in place", "through uci"])
def writer(request, monkeypatch, uci):
    monkeypatch.setenv("HOTSPOT_UCI", str(uci) if request.param == "through uci" else "")
    return request.param


@pytest.mark.parametrize("start", STARTS)
def test_every_rewrite_reads_alike(uci, tmp_path, cfg, writer, start):
    from tests.openwrt.hotspot_api import write_settings

    path = tmp_path / "hotspot"
    path.write_text(STARTS[start](cfg))
    path.chmod(0o600)
    expected = load(path)
    for form in FORMS:
        new = write_settings(str(path), form)
        assert_alike(uci, path)
        assert_same_config(uci, path)
        expected = expected.replace(**{k: check_setting(k, v, form) for k, v in form.items()})
        assert new == load(path) == expected.replace(path=str(path))
    assert path.stat().st_mode & 0o777 == 0o600
    if start == "none of ours":
        assert uci_view(uci, tmp_path, "hotspot")[0] == ("other", "x", {"venue": "theirs"})
    if writer == "in place" and start in ("shipped", "odd"):
        assert "# a comment" in path.read_text() or start == "shipped"


def test_hotspotctl_plan_set_rewrites_alike(uci, tmp_path, cfg_file, writer):
    done = subprocess.run([sys.executable, "-m", "hotspot.cli", "-c", cfg_file, "plan", "set", "20GB",
                           "--block-at", "100%", "--period", "weekly"], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert_alike(uci, Path(cfg_file))
    assert_same_config(uci, Path(cfg_file))
    config = load(cfg_file)
    assert (config.plan_quota, config.plan_block_at, config.plan_period) == (
        20 * 10**9, check_setting("plan_block_at", "100%"), "weekly")


# -- on a router: an owner's staged LuCI changes are neither committed nor lost -------------------------


def test_a_rewrite_through_uci_leaves_the_owners_staged_changes_staged(uci, tmp_path, monkeypatch):
    from tests.openwrt.hotspot_api import write_settings

    package = f"hotspot{os.getpid()}"  # its staged changes go to uci's default /tmp/.uci, as LuCI's do
    path = tmp_path / package
    path.write_text("# the owner's\nconfig hotspot 'main'\n  option venue old\n\toption default_cap '1GB'\n")

    def run(*args: str) -> str:
        return subprocess.run([str(uci), "-c", str(tmp_path), *args], capture_output=True, text=True,
                              check=True).stdout

    monkeypatch.setenv("HOTSPOT_UCI", str(uci))
    try:
        run("set", f"{package}.main.venue=Staged by the owner")  # LuCI: set, no commit
        write_settings(str(path), {"default_cap": "5GB"})
        written = load(path)  # the file itself: uci would show the staged change over it
        assert (written.default_cap, written.venue) == (5 * 10**9, "old")
        canonical = tmp_path / "canonical"  # uci wrote it: the file is as uci writes it
        canonical.mkdir()
        (canonical / "copy").write_text(path.read_text())
        assert path.read_text() == subprocess.run(
            [str(uci), "-c", str(canonical), "export", "copy"], capture_output=True, text=True,
            check=True).stdout.removeprefix("package copy\n")
        assert run("changes", package).strip() == f"{package}.main.venue='Staged by the owner'"
        run("commit", package)  # the owner's Save & Apply
        assert load(path).venue == "Staged by the owner" and load(path).default_cap == 5 * 10**9
    finally:
        Path("/tmp/.uci", package).unlink(missing_ok=True)


def test_uci_with_a_save_directory_of_its_own_would_commit_the_owners_staged_changes(uci, tmp_path):
    """Why UciWriter hides the file under another package name: `-t DIR` moves uci's save directory,
    but /tmp/.uci stays on its search path for changes, so `uci commit` takes the owner's too."""
    package = f"hotspot{os.getpid()}"
    (tmp_path / package).write_text("config hotspot 'main'\n\toption venue 'old'\n")
    base = [str(uci), "-c", str(tmp_path)]
    try:
        subprocess.run([*base, "set", f"{package}.main.venue=staged"], check=True)
        private = [*base, "-t", str(tmp_path / "private")]
        subprocess.run([*private, "set", f"{package}.main.auth=click"], check=True)
        subprocess.run([*private, "commit", package], check=True)
        assert "option venue 'staged'" in (tmp_path / package).read_text()
    finally:
        Path("/tmp/.uci", package).unlink(missing_ok=True)
