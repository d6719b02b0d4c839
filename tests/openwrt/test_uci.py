"""hotspot's UCI reader against OpenWrt's own: the uci command built from openwrt/vendor/uci.

Where the two agree the tests say so; where they part, a test pins down what each does today, so a
change on either side shows (openwrt/host/README.md lists the differences)."""

from __future__ import annotations

import dataclasses
import re
import subprocess

import pytest

from tests.openwrt import hosttools
from tests.openwrt.hotspot_api import ConfigError, load, uci_options
from tests.openwrt.repo import FILES


def write(tmp_path, text: str):
    path = tmp_path / "hotspot"
    path.write_text(text)
    return path


def hotspot_sections(uci, tmp_path, text: str) -> list[hosttools.Section]:
    write(tmp_path, text)
    return [s for s in hosttools.export(uci, tmp_path, "hotspot") if s.type == "hotspot"]


def test_the_uci_command_is_built_from_the_pinned_source(uci):
    usage = subprocess.run([str(uci)], capture_output=True, text=True)
    assert "set the search path for config override files" in usage.stderr  # the 2025 -C option


def test_uci_and_hotspot_read_the_shipped_config_alike(uci, tmp_path):
    text = (FILES / "hotspot.config").read_text()
    (section,) = hotspot_sections(uci, tmp_path, text)
    ours = uci_options(text, "hotspot")
    # uci drops `option NAME ''` (an empty value unsets); every other option reads the same
    assert section.options == {k: v for k, v in ours.items() if v != ""}
    assert sorted(k for k, v in ours.items() if v == "") == sorted(set(ours) - set(section.options))
    config = load(tmp_path / "hotspot")
    assert section.lists == {"wan_device": list(config.wan_device),
                             "update_guard_categories": list(config.update_guard_categories)}


def test_the_shipped_config_means_the_same_once_uci_has_rewritten_it(uci, tmp_path):
    """`uci commit` writes back what `uci export` prints: hotspot must read that as the same config."""
    original = write(tmp_path, (FILES / "hotspot.config").read_text())
    rewritten = tmp_path / "rewritten"
    rewritten.write_text(subprocess.run([str(uci), "-c", str(tmp_path), "export", "hotspot"],
                                        capture_output=True, text=True, check=True).stdout)
    assert dataclasses.replace(load(rewritten), path=str(original)) == load(original)


# Odd but valid UCI that both read alike: the value of `venue` (free text) as each parser sees it.
AGREE = {
    "double quotes, backslash escapes": ("option venue \"Caf\\\"e \\\\ x\"", 'Caf"e \\ x'),
    "single quotes joined by an escaped quote": ("option venue 'it'\\''s'", "it's"),
    "comment after a value": ("option venue 'x' # tail 'q'", "x"),
    "# ends an unquoted word": ("option venue a#b", "a"),
    "quotes inside a word": ("option venue ab'c d'e", "abc de"),
    "backslash inside single quotes": ("option venue 'a\\b'", "a\\b"),
    "tabs and runs of spaces": ("  \t option \t venue\t\t'x y'", "x y"),
    "UTF-8": ("option venue '咖啡 café'", "咖啡 café"),
    "bare words": ("option venue x", "x"),
    "repeated option: the last one": ("option venue 'x'\n\toption venue 'y'", "y"),
}


@pytest.mark.parametrize("body", AGREE.values(), ids=AGREE.keys())
def test_odd_but_valid_uci_reads_alike(uci, tmp_path, body):
    line, value = body
    text = f"config hotspot 'main'\n\t{line}\n"
    (section,) = hotspot_sections(uci, tmp_path, text)
    assert section.options == {"venue": value} == uci_options(text, "hotspot")
    assert load(tmp_path / "hotspot").venue == value


@pytest.mark.parametrize("text", [
    "package hotspot\n\nconfig hotspot 'main'\n\toption venue 'x'\n",
    "config hotspot\n\toption venue 'x'\n",
    "config hotspot 'main'; option venue 'x'; option period 'daily'\n",
    "config hotspot 'main'\r\n\toption venue 'x'\r\n",
    "config hotspot 'main'\n\toption venue 'x'",
    "\n\n# only a comment\n\nconfig hotspot 'main' # a comment\n\n\toption venue 'x'\n\n",
    "config hotspot 'main'\n\tlist wan_device 'wwan0'\n\toption wan_device 'eth9'\n\toption venue 'x'\n",
], ids=["package line", "anonymous section", "semicolons", "CRLF", "no final newline", "blank lines",
        "option after list replaces it"])
def test_valid_layouts_read_alike(uci, tmp_path, text):
    (section,) = hotspot_sections(uci, tmp_path, text)
    assert section.options == uci_options(text, "hotspot")
    assert load(tmp_path / "hotspot").venue == "x"


def test_option_then_list_makes_one_list_in_both(uci, tmp_path):
    (section,) = hotspot_sections(uci, tmp_path, "config hotspot 'main'\n\toption wan_device 'wwan0'\n"
                                                 "\tlist wan_device 'eth9'\n")
    assert section.lists == {"wan_device": ["wwan0", "eth9"]}
    assert load(tmp_path / "hotspot").wan_device == ("wwan0", "eth9")


# -- where they part ---------------------------------------------------------------------------------


def test_differs_an_empty_value_is_unset_for_uci_but_off_for_hotspot(uci, tmp_path):
    """`option dnsmasq_restart ''` turns hotspot's dnsmasq restart off; for uci (and so LuCI and
    `uci set ...=''`) the option is not there, and the default command applies once uci rewrites it."""
    text = "config hotspot 'main'\n\toption dnsmasq_restart ''\n"
    (section,) = hotspot_sections(uci, tmp_path, text)
    assert section.options == {}
    assert load(tmp_path / "hotspot").dnsmasq_restart is None
    rewritten = tmp_path / "rewritten"
    rewritten.write_text(subprocess.run([str(uci), "-c", str(tmp_path), "export", "hotspot"],
                                        capture_output=True, text=True, check=True).stdout)
    assert load(rewritten).dnsmasq_restart == "/etc/init.d/dnsmasq restart"


# Valid for uci, refused by hotspot's load(): (file, what uci reads, the first error hotspot gives).
REFUSED = {
    "backslash-newline continues a line": (
        "config hotspot 'main'\n\toption venue ab\\\ncd\n", {"venue": "abcd"},
        "backslash at the end of a line (continued lines are not supported)"),
    "a quoted value over two lines": (
        "config hotspot 'main'\n\toption venue 'ab\ncd'\n", {"venue": "ab\ncd"}, "unterminated ' quote"),
    "backslash-newline inside double quotes": (
        "config hotspot 'main'\n\toption venue \"ab\\\ncd\"\n", {"venue": "abcd"}, "unterminated \" quote"),
    "one-letter keywords": ("c hotspot 'main'\n\to venue 'x'\n", {"venue": "x"}, "unknown statement 'c'"),
    "option without a value": ("config hotspot 'main'\n\toption venue\n", {},
                               "'option' takes a name and one value"),
    "a section type with a dash": ("config foo-bar 'other'\n\toption a 'b'\nconfig hotspot 'main'\n"
                                   "\toption venue 'x'\n", {"venue": "x"},
                                   "'foo-bar' is not a valid section type or name"),
    "a named section given twice (uci merges them)": (
        "config hotspot 'main'\n\toption venue 'x'\nconfig hotspot 'main'\n\toption period 'daily'\n",
        {"venue": "x", "period": "daily"}, "a second 'hotspot' section"),
}


@pytest.mark.parametrize("case", REFUSED.values(), ids=REFUSED.keys())
def test_differs_valid_uci_that_hotspot_refuses(uci, tmp_path, case):
    text, uci_reads, hotspot_error = case
    sections = hotspot_sections(uci, tmp_path, text)
    merged = {k: v for s in sections for k, v in s.options.items()}
    assert merged == uci_reads
    with pytest.raises(ConfigError, match=f":[0-9]+: {re.escape(hotspot_error)}"):
        load(tmp_path / "hotspot")


def test_differs_two_anonymous_sections_are_two_for_uci(uci, tmp_path):
    text = "config hotspot\n\toption venue 'x'\nconfig hotspot\n\toption venue 'y'\n"
    assert [s.options for s in hotspot_sections(uci, tmp_path, text)] == [{"venue": "x"}, {"venue": "y"}]
    assert uci_options(text, "hotspot") == {"venue": "y"}  # merged, the last wins
    with pytest.raises(ConfigError, match="a second 'hotspot' section"):
        load(tmp_path / "hotspot")


def test_differs_a_list_item_with_a_space_is_one_item_for_uci(uci, tmp_path):
    (section,) = hotspot_sections(uci, tmp_path, "config hotspot 'main'\n\tlist wan_device 'wwan0 eth9'\n")
    assert section.lists == {"wan_device": ["wwan0 eth9"]}
    assert load(tmp_path / "hotspot").wan_device == ("wwan0", "eth9")


def test_differs_uci_options_skips_list_entries_and_one_letter_keywords(uci, tmp_path):
    text = "config defaults\n\toption flow_offloading '1'\n\tlist extra 'a'\n\to flow_offloading_hw '1'\n"
    (section,) = [s for s in hosttools.export(uci, write(tmp_path, text).parent, "hotspot")]
    assert section.options == {"flow_offloading": "1", "flow_offloading_hw": "1"}
    assert section.lists == {"extra": ["a"]}
    assert uci_options(text, "defaults") == {"flow_offloading": "1"}
