"""hotspot's UCI reader and writer against OpenWrt's own uci, as it answered when tests/openwrt/record.py
ran it (tests/openwrt/recorded/uci_read.json and uci_writes.json; no OpenWrt tool is needed here).

Every file hotspot ships, generates or rewrites must still be the file that was recorded, byte for byte
(else: re-record with the real uci), and hotspot must read it as uci read it: the same sections, options
and lists, and for hotspot's own section the same Config once uci rewrote the file. So must a corpus of
odd but valid files (uci_corpus/) and a few hundred generated ones. Where hotspot refuses a file uci
takes, a test shows what uci read, so the refusal is the only difference. The write path through uci
is replayed against a uci that answers only the recorded calls, in order."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.openwrt import recording
from tests.openwrt.hotspot_api import (
    Config,
    ConfigError,
    check_setting,
    dump,
    load,
    parse,
    sections,
    uci_options,
    write_settings,
)
from tests.openwrt.recording import RERECORD, Replay, reading, same_input, scenario, uci_rewrite, uci_view
from tests.openwrt.repo import FILES
from tests.openwrt.uci_inputs import (
    CLI,
    CONFIG,
    DIFFERENT_TYPE,
    FIREWALL,
    FORMS,
    ODD,
    REFUSALS,
    STAGED_BEFORE,
    STAGED_FORM,
    STARTS,
    corpus,
    generated_files,
    mode,
    read,
    run_cli,
    tape_command,
)


def hotspot_view(text: str) -> tuple[list[tuple[str, str | None, dict]], list]:
    """The sections as hotspot's reader gives them, and the errors it reports."""
    errors: list = []
    found = [(s.type, s.name, s.values()) for s in sections(parse(text, errors), errors)]
    return found, errors


def assert_alike(entry: dict) -> None:
    ours, errors = hotspot_view(entry["input"])
    assert errors == []
    theirs = uci_view(entry)
    assert [(t, v) for t, _, v in ours] == [(t, v) for t, _, v in theirs]
    names = [n if o is not None else None for (_, o, _), (_, n, _) in zip(ours, theirs)]
    assert [n for _, n, _ in ours] == names  # uci names the anonymous ones


def assert_same_config(entry: dict, tmp_path: Path) -> None:
    """hotspot reads the file and uci's rewrite of it as the same settings."""
    path, rewritten = tmp_path / "as_read", tmp_path / "as_uci_writes"
    path.write_text(entry["input"])
    rewritten.write_text(uci_rewrite(entry))
    assert dataclasses.replace(load(rewritten), path=str(path)) == load(path)


@pytest.fixture
def replay(tmp_path) -> Replay:
    tape = tmp_path / "tape"
    tape.mkdir()
    return Replay(tape, tape_command(tmp_path))


def test_each_record_names_the_tools_commits_and_every_input():
    readings = recording.load("uci_read")["readings"]
    for kind, inputs in (("uci_read", {name: entry["input"] for name, entry in readings.items()}),
                         ("uci_writes", recording.load("uci_writes")["texts"])):
        header = recording.load(kind)["header"]
        assert header["tool"] and header["recorded"]
        assert all(len(sha) == 40 for sha in header["commits"].values())
        assert header["inputs"] == {name: recording.sha256(text) for name, text in inputs.items()}


def test_the_record_holds_the_files_these_tests_make_and_no_other():
    """A file left out of the record would go unchecked; one the tests no longer make is stale."""
    made = {"shipped", "dump", "different type", "firewall", "staged/after", "cli/in place",
            "cli/through uci", *(f"corpus/{name}" for name in corpus()),
            *(f"generated/{i:03d}" for i in range(len(generated_files()))),
            *(f"refusal/{name}" for name in REFUSALS),
            *(f"rewrite/{writer}/{start}/{i}" for writer in ("in place", "through uci") for start in STARTS
              for i in range(1, len(FORMS) + 1))}
    assert set(recording.load("uci_read")["readings"]) == made, RERECORD
    assert set(recording.load("uci_writes")["scenarios"]) == {
        "cli", "staged", "own save directory", *(f"rewrite/{start}" for start in STARTS)}, RERECORD


def test_the_shipped_config_reads_alike(tmp_path):
    entry = same_input("shipped", (FILES / "hotspot.config").read_text(), "the shipped config")
    assert_alike(entry)
    assert_same_config(entry, tmp_path)
    assert load(FILES / "hotspot.config") == Config(path=str(FILES / "hotspot.config"))  # the defaults


def test_a_generated_config_reads_alike(tmp_path):
    """dump() writes the lab's and the tests' files: every option, empty lists and 'none' included."""
    entry = same_input("dump", dump(ODD), "dump()'s file")
    assert_alike(entry)
    assert_same_config(entry, tmp_path)
    path = tmp_path / "hotspot"
    path.write_text(entry["input"])
    assert dataclasses.replace(load(path), path=ODD.path) == ODD


@pytest.mark.parametrize("name", sorted(corpus()))
def test_odd_but_valid_files_read_alike(name):
    assert_alike(same_input(f"corpus/{name}", corpus()[name], f"the corpus file {name}"))


def test_the_odd_hotspot_file_means_the_same_config_once_uci_rewrote_it(tmp_path):
    entry = reading("corpus/hotspot-odd")
    path = tmp_path / "hotspot"
    path.write_text(entry["input"])
    config = load(path)
    assert (config.wan_device, config.venue, config.alert_at, config.after_cap) == (
        ("wwan0", "eth1"), 'Caf"e', (80, 95), "throttle")
    assert (config.auth, config.poll_interval) == (Config().auth, Config().poll_interval)  # '' sets nothing
    assert_same_config(entry, tmp_path)


def test_generated_files_read_alike():
    """Valid or not: hotspot refuses what uci refuses and reads the rest as uci does."""
    texts = generated_files()
    recorded = recording.load("uci_read")["readings"]
    assert texts == [recorded[f"generated/{i:03d}"]["input"] for i in range(len(texts))], (
        f"the generated files are now made differently: {RERECORD}")
    accepted = refused = 0
    for i, text in enumerate(texts):
        entry = recorded[f"generated/{i:03d}"]
        ours, errors = hotspot_view(text)
        if entry["status"]:
            assert errors, f"uci refuses ({entry['stderr'].strip()}), hotspot reads it:\n{text!r}"
            refused += 1
            continue
        cut = [e for e in errors if "';' right after an unquoted word" in e[1]]
        assert errors == cut, f"uci reads it, hotspot refuses it:\n{text!r}\n{errors}"
        assert [(t, v) for t, _, v in ours] == [(t, v) for t, _, v in uci_view(entry)], repr(text)
        accepted += 1
    assert accepted > 30 and refused > 30  # both kinds are really tried


# -- what hotspot refuses although uci reads it: uci's reading is shown, hotspot says why -------------


@pytest.mark.parametrize("name, uci_reads, error", [
    ("two anonymous sections", [{"venue": "x"}, {"venue": "y"}],
     "3: a second 'hotspot' section (the first is on line 1)"),
    ("semicolon after an unquoted word", [{}],
     "1: uci ignores what follows a ';' right after an unquoted word: put a space before the ';' or quote "
     "the word"),
    ("empty value meaning none", [{}],
     "2: option dnsmasq_restart: '' sets nothing in UCI, so its default '/etc/init.d/dnsmasq restart' would "
     "apply; write 'none' for none"),
    ("list item with a space", [{"wan_device": ["wwan0 eth9"]}],
     "2: option wan_device: 'wwan0 eth9' is not an interface name (letters, digits, '.', '_' or '-'; at "
     "most 15)"),
])
def test_hotspot_refuses_where_it_cannot_take_what_uci_reads(tmp_path, name, uci_reads, error):
    entry = same_input(f"refusal/{name}", REFUSALS[name], f"the refusal case {name!r}")
    assert [v for _, _, v in uci_view(entry)] == uci_reads
    path = tmp_path / "hotspot"
    path.write_text(entry["input"])
    with pytest.raises(ConfigError) as e:
        load(path)
    assert [line.split(":", 1)[1] for line in e.value.errors] == [error]


def test_uci_refuses_a_named_section_given_again_with_another_type_and_so_does_hotspot(tmp_path):
    entry = same_input("different type", DIFFERENT_TYPE, "the two-types case")
    assert entry["status"] and "section of different type overwrites prior section with same name" in (
        entry["stderr"])
    (tmp_path / "hotspot").write_text(entry["input"])
    with pytest.raises(ConfigError, match=":2: section 'main' is a 'hotspot' \\(line 1\\), not a 'other'"):
        load(tmp_path / "hotspot")


def test_other_packages_options_read_as_uci_gets_them():
    """hotspotd reads the firewall's defaults (flow offloading) as `uci get firewall.@defaults[0].X`."""
    entry = same_input("firewall", FIREWALL, "the firewall case")
    first = next(v for t, _, v in uci_view(entry) if t == "defaults")
    assert uci_options(FIREWALL, "defaults") == {k: v for k, v in first.items() if isinstance(v, str)} == {
        "flow_offloading": "1"}


# -- every rewrite hotspot makes reads alike, edited in place or written by uci --------------------------


@pytest.mark.parametrize("writer", ["in place", "through uci"])
@pytest.mark.parametrize("start", STARTS)
def test_every_rewrite_reads_alike(tmp_path, monkeypatch, replay, writer, start):
    monkeypatch.setenv("HOTSPOT_UCI", "")
    recorded = scenario(f"rewrite/{start}")
    path = tmp_path / "hotspot"
    path.write_text(STARTS[start])
    path.chmod(0o600)
    expected = load(path)
    for i, form in enumerate(FORMS, 1):
        what = f"the {start} file after form {i} ({writer})"
        if writer == "through uci":
            step = recorded["steps"][i - 1]
            assert step["form"] == form
            with replay.step(step["calls"], what):
                new = write_settings(str(path), form)
        else:
            new = write_settings(str(path), form)
        entry = same_input(f"rewrite/{writer}/{start}/{i}", read(path), what)
        assert_alike(entry)
        assert_same_config(entry, tmp_path)
        expected = expected.replace(**{k: check_setting(k, v, form) for k, v in form.items()})
        assert new == load(path) == expected.replace(path=str(path))
    assert mode(path) == 0o600
    if start == "none of ours":
        assert uci_view(entry)[0] == ("other", "x", {"venue": "theirs"})
    if writer == "in place" and start == "odd":
        assert "# a comment" in path.read_text()


@pytest.mark.parametrize("writer", ["in place", "through uci"])
def test_hotspotctl_plan_set_rewrites_alike(tmp_path, replay, writer):
    path = tmp_path / "hotspot"
    path.write_text(dump(CONFIG))
    if writer == "through uci":
        step = scenario("cli")["steps"][0]
        with replay.step(step["calls"], f"hotspotctl {' '.join(CLI)}") as env:
            run_cli(path, env)
    else:
        run_cli(path, {"HOTSPOT_UCI": ""})
    entry = same_input(f"cli/{writer}", read(path), f"the file of hotspotctl {' '.join(CLI)} ({writer})")
    assert_alike(entry)
    assert_same_config(entry, tmp_path)
    config = load(path)
    assert (config.plan_quota, config.plan_block_at, config.plan_period) == (
        20 * 10**9, check_setting("plan_block_at", "100%"), "weekly")


# -- on a router: an owner's staged LuCI changes are neither committed nor lost -------------------------


def test_a_rewrite_through_uci_leaves_the_owners_staged_changes_staged(tmp_path, replay):
    recorded = scenario("staged")
    path = tmp_path / "hotspot"
    path.write_text(STAGED_BEFORE)
    path.chmod(0o600)
    assert recording.text(recorded["before"]) == STAGED_BEFORE
    (step,) = recorded["steps"]
    assert step["form"] == STAGED_FORM
    with replay.step(step["calls"], "a write beside an owner's staged change"):
        write_settings(str(path), STAGED_FORM)
    written = load(path)  # the file itself: uci would show the staged change over it
    assert (written.default_cap, written.venue) == (5 * 10**9, "old")
    assert mode(path) == step["mode"] == 0o600
    entry = same_input("staged/after", read(path), "the file beside an owner's staged change")
    assert read(path) == uci_rewrite(entry).removeprefix("package hotspot\n")  # as uci writes it
    # uci, asked after hotspot's write: the owner's change is still staged, and commits over ours
    owners = "hotspot.main.venue='Staged by the owner'\n"
    assert recorded["staged_before"] == recorded["staged_after"] == owners
    assert recorded["changes"].strip() == "hotspot.main.venue='Staged by the owner'"
    committed = tmp_path / "committed"
    committed.write_text(recording.text(recorded["committed"]))
    assert (load(committed).venue, load(committed).default_cap) == ("Staged by the owner", 5 * 10**9)


def test_a_call_uci_was_not_recorded_answering_fails(tmp_path, replay):
    """The replay is strict: a value, an option or a call that differs from the record fails."""
    path = tmp_path / "hotspot"
    path.write_text(STAGED_BEFORE)
    (step,) = scenario("staged")["steps"]
    with (pytest.raises(AssertionError, match="hotspot now asks uci differently .*default_cap=6GB"),
          replay.step(step["calls"], "a changed write")):
            write_settings(str(path), {"default_cap": "6GB"})
    assert read(path) == STAGED_BEFORE
    path.write_text(STAGED_BEFORE + "\toption venue 'other'\n")  # uci would see another file
    with (pytest.raises(AssertionError, match="its files differ from the recorded ones"),
          replay.step(step["calls"], "a write of another file")):
            write_settings(str(path), STAGED_FORM)


def test_uci_with_a_save_directory_of_its_own_would_commit_the_owners_staged_changes():
    """Why UciWriter hides the file under another package name: `-t DIR` moves uci's save directory,
    but /tmp/.uci stays on its search path for changes, so `uci commit` takes the owner's too."""
    recorded = scenario("own save directory")
    assert [c["args"][-2:] for c in recorded["calls"]] == [
        ["set", "hotspot.main.venue=staged"], ["set", "hotspot.main.auth=click"], ["commit", "hotspot"]]
    assert all(c["status"] == 0 for c in recorded["calls"])
    assert "option venue 'staged'" in recording.text(recorded["committed"])
