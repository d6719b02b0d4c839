"""Reading the carrier's words: the owner's patterns and USSD codes per SIM (bad ones are FILE:LINE config
errors), the amounts in every spelling carriers use, and texts of any content, length and encoding that
never give a figure unless a pattern matches, and never an exception."""

from __future__ import annotations

import random

import pytest

from hotspot.carrier import model
from hotspot.carrier.model import PatternError, parse_amount, parse_pattern, parse_ussd
from hotspot.config import ConfigError, load

GB, MB = 10**9, 10**6
CMCC = r"898600 used:1024 已使用(?P<amount>[\d.]+ ?[GMK]B)"
UNICOM = r"898601 used:1024 已用(?P<amount>[\d.]+ ?[GMK]B)"
TMOBILE = r"8901260 used have used (?P<amount>[\d.,]+ ?[GMK]B) of"
LEFT = r"* left (?P<amount>[\d.,]+ ?[GMK]B) (left|remaining)"


@pytest.mark.parametrize("text, binary, expected", [
    ("3.2GB", False, 3_200_000_000), ("3,2 GB", False, 3_200_000_000), ("512MB", False, 512 * MB),
    ("1.8G", False, 1_800_000_000), ("1.8 gb", False, 1_800_000_000), ("１．８ＧＢ", False, 1_800_000_000),
    ("1,024 MB", False, 1024 * MB), ("1,024.5 MB", False, 1_024_500_000), ("1.024.000 KB", False, 1024 * MB),
    ("700 bytes", False, 700), ("2 兆", False, 2 * MB), ("5 GiB", False, 5 * 2**30),
    ("3.2GB", True, int(3.2 * 2**30)), ("512MB", True, 512 * 2**20), ("0MB", False, 0),
])
def test_amounts_in_the_spellings_carriers_use(text, binary, expected):
    assert parse_amount(text, binary) == expected


@pytest.mark.parametrize("text", ["", "GB", "3.2", "3.2 XB", "3..2GB", "1,2,3 MB", "12,34,5 MB", "-1GB",
                                  "1e9GB", "9" * 16 + "GB", "999999TB", "3.2GB and more", "三GB"])
def test_what_is_not_an_amount_is_refused(text):
    with pytest.raises(ValueError):
        parse_amount(text)


def test_real_carriers_texts_give_their_figures():
    patterns = [parse_pattern(p) for p in (CMCC, UNICOM, TMOBILE, LEFT)]
    cmcc = model.for_sim(patterns, "89860012345678901234")
    r = model.read("尊敬的客户，截至12月08日10时，您当月套餐内通用流量已使用3.2GB，剩余1.8GB。【中国移动】",
                   cmcc)
    assert (r.kind, r.amount, r.matched) == ("used", int(3.2 * 2**30), "3.2GB")
    # full-width digits and punctuation read as ASCII ones
    assert model.read("已使用３．２ＧＢ，剩余１．８ＧＢ", cmcc).amount == int(3.2 * 2**30)
    unicom = model.for_sim(patterns, "8986011234567890123")
    assert model.read("您本月国内流量已用512MB，剩余4.5GB", unicom).amount == 512 * 2**20
    us = model.for_sim(patterns, "8901260123456789012")
    assert model.read("You have used 3.2 GB of 5 GB of high-speed data.", us).amount == 3_200_000_000
    anyone = model.for_sim(patterns, "8944110000000000000")
    r = model.read("Data: 1,8 GB remaining until 01/01", anyone)
    assert (r.kind, r.amount) == ("left", 1_800_000_000)


def test_the_longest_iccid_prefix_wins_and_star_is_any_sim():
    a, b, c = (parse_pattern(p) for p in (r"* used u(?P<amount>\d+GB)", r"8986 used v(?P<amount>\d+GB)",
                                          r"898600 used w(?P<amount>\d+GB)"))
    assert model.for_sim([a, b, c], "89860012") == [c]
    assert model.for_sim([a, b, c], "89861112") == [b]
    assert model.for_sim([a, b, c], "89440000") == [a]
    assert model.for_sim([a, b, c], None) == [a]
    assert model.for_sim([b, c], "89440000") == []
    codes = [parse_ussd("* *100#"), parse_ussd("8944 *#1345#")]
    assert model.ussd_code(codes, "894411") == "*#1345#" and model.ussd_code(codes, "8986") == "*100#"
    assert model.ussd_code(codes[1:], "8986") is None


@pytest.mark.parametrize("line, why", [
    ("8986 used", "expected 'ICCID_PREFIX used|left REGEX'"),
    ("89x6 used (?P<amount>.+)", "not an ICCID prefix"),
    ("8986 spent (?P<amount>.+)", "is not 'used' or 'left'"),
    ("8986 used:1000000 (?P<amount>.+)", "is not 'used' or 'left'"),
    ("8986 used (?P<amount>[\\d.]+GB", "does not compile"),
    ("8986 used ([\\d.]+GB)", "no group named amount"),
    ("8986 used (?P<amt>[\\d.]+GB)", "no group named amount"),
])
def test_bad_patterns_are_refused_with_their_reason(line, why):
    with pytest.raises(PatternError, match=why.replace("(", r"\(").replace("|", r"\|")):
        parse_pattern(line)


def test_bad_patterns_codes_and_senders_are_file_line_config_errors(tmp_path):
    path = tmp_path / "hotspot"
    path.write_text("config hotspot 'main'\n"
                    f"\tlist carrier_pattern '{CMCC}'\n"
                    "\tlist carrier_pattern '* used (unclosed'\n"
                    "\tlist carrier_pattern '* left no amount group'\n"
                    "\tlist carrier_ussd '8944 *100#'\n"
                    "\tlist carrier_ussd '8944 100; reboot'\n"
                    "\tlist carrier_sms_from 'China Mobile'\n"
                    "\toption carrier_max_jump 'lots'\n")
    with pytest.raises(ConfigError) as e:
        load(path)
    assert [line.split(": option ")[0] for line in e.value.errors] == [f"{path}:{n}" for n in (3, 4, 6, 7, 8)]
    assert "does not compile" in e.value.errors[0] and "no group named amount" in e.value.errors[1]


def test_good_lines_load_and_dump_back(tmp_path):
    from hotspot.config import dump

    path = tmp_path / "hotspot"
    path.write_text("config hotspot 'main'\n"
                    f"\tlist carrier_pattern '{CMCC}'\n\tlist carrier_pattern '{LEFT}'\n"
                    "\tlist carrier_ussd '* *100#'\n\tlist carrier_sms_from '10086'\n"
                    "\toption carrier_query_interval '6h'\n\toption carrier_max_jump '1GB'\n")
    cfg = load(path)
    assert [str(p) for p in cfg.carrier_pattern] == [CMCC, LEFT]
    assert cfg.carrier_query_interval == 6 * 3600 and cfg.carrier_max_jump == GB
    assert cfg.carrier_sms_from == ("10086",) and str(cfg.carrier_ussd[0]) == "* *100#"
    again = tmp_path / "again"
    again.write_text(dump(cfg))
    assert load(again) == cfg


def test_text_that_matches_nothing_gives_nothing():
    patterns = [parse_pattern(p) for p in (CMCC, UNICOM, TMOBILE, LEFT)]
    for text in ("", "已使用", "已使用GB", "已使用 3.2 GB", "You have used of 5 GB", "Your balance is $3.20",
                 "已使用9999999999999999GB", "已使用3.2.1GB", None, 42, b"\xff\xfe"):
        assert model.read(text, patterns) is None, text


def test_any_content_length_and_encoding_never_crashes_nor_invents_a_figure():
    """Fuzz: random texts of every kind of character (controls, surrogates, RTL marks, full-width forms,
    NUL, very long) read with patterns that need a marker word: a figure only where the marker and an
    amount are really there."""
    rng = random.Random(20261208)
    patterns = [parse_pattern(p) for p in (r"* used USED(?P<amount>[\d.,]+ ?[GMK]B)",
                                           r"* left (?P<amount>\S+)LEFT", CMCC)]
    alphabet = ("0123456789.,GMKB gmkb已使用剩余，．ＧＢ\0\n\r\t\u202e\u200b\ufeff\ud800\U0001f600%s\\()[]*+?"
                + "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(200)))
    for _ in range(3000):
        n = rng.choice((0, 1, 5, 40, 160, 500, 5000))
        text = "".join(rng.choice(alphabet) for _ in range(n))
        r = model.read(text, patterns)
        if r is not None:
            norm = model.normal(text[:model.TEXT_LIMIT])
            assert ("USED" in norm or "LEFT" in norm or "已使用" in norm) and r.matched in norm
            assert 0 <= r.amount <= model.MAX_AMOUNT
    # a figure is found in random surroundings only where it is
    for _ in range(500):
        noise = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 300))).replace("USED", "")
        r = model.read(noise.replace("已使用", "") + "USED3.5GB" + noise, patterns[:1])
        assert r is not None and r.amount == 3_500_000_000
    huge = "已使用" + "9" * 100_000 + "GB"
    assert model.read(huge, patterns) is None
