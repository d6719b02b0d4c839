"""A long SMS split into labelled parts: GSM 7-bit (160 septets, an extension character two) or UCS-2
(70 units, a character outside the BMP two), never cut inside a character, and Chinese never GSM."""

from __future__ import annotations

import pytest

from hotspot.uplink import modem, sms
from hotspot.uplink.sms import split


def body(part: str) -> str:
    """A part without its "(i/n) " label."""
    return part[6:] if part[:1] == "(" and part[5:6] == " " else part


def assert_sendable(parts: list[str], limit: int) -> None:
    for p in parts:
        length, lim = sms.length(p)
        assert lim == limit and length <= limit, (p, length)
        p.encode("utf-16-le")  # strict: a lone surrogate (half an emoji) would raise
        assert modem.check_sms_text(p) == p  # what send_sms takes: one SMS each


def test_a_text_that_fits_goes_as_it_is():
    assert split("x" * 160) == ["x" * 160]
    assert split("{" * 80) == ["{" * 80]  # 160 septets: each extension character is two
    assert split("流" * 70) == ["流" * 70]
    assert split("😀" * 35) == ["😀" * 35]  # 70 UTF-16 units
    assert split("  short \n") == ["short"]
    assert split("") == [] and split(" \n ") == [] and split("\0") == []
    assert split("a\0b") == ["ab"]


def test_one_over_the_limit_makes_two_labelled_parts():
    parts = split("x" * 161)
    assert [p[:6] for p in parts] == ["(1/2) ", "(2/2) "]
    assert "".join(body(p) for p in parts) == "x" * 161
    assert_sendable(parts, 160)
    assert len(parts[0]) == 160  # the label counts in the part's length

    parts = split("流" * 71)
    assert [p[:6] for p in parts] == ["(1/2) ", "(2/2) "]
    assert [len(body(p)) for p in parts] == [64, 7]
    assert_sendable(parts, 70)


def test_an_extension_character_is_never_split_from_its_escape():
    parts = split("a" * 153 + "{" + "b" * 20)  # 153 + 2 septets > 154 left after the label
    assert body(parts[0]) == "a" * 153 and body(parts[1]).startswith("{")
    assert_sendable(parts, 160)
    parts = split("€" * 81)
    assert [len(body(p)) for p in parts] == [77, 4]  # 154 septets, then the rest
    assert_sendable(parts, 160)


def test_a_character_outside_the_bmp_is_never_cut_in_half():
    parts = split("流" * 63 + "😀" + "量" * 10)  # 63 + 2 units > 64 left after the label
    assert body(parts[0]) == "流" * 63 and body(parts[1]).startswith("😀")
    assert_sendable(parts, 70)
    parts = split("😀" * 40)
    assert [len(body(p)) for p in parts] == [32, 8]  # 64 units = 32 emoji, never 32.5
    assert_sendable(parts, 70)


def test_chinese_is_ucs2_never_forced_into_gsm():
    text = "流量警报：手机已用 90%，剩余 200 MB。" * 5
    assert not sms.is_gsm7(text)
    parts = split(text)
    assert_sendable(parts, 70)
    assert "?" not in "".join(parts)
    assert "".join(body(p) for p in parts).replace(" ", "") == text.replace(" ", "")


def test_mixed_text_is_ucs2_in_every_part():
    text = "Phone used 1.8 GB of its 2 GB cap this period; 200 MB left. 手机" + " More follows." * 5
    parts = split(text)
    assert len(parts) == 3 and body(parts[0]).endswith("left.")
    for p in parts:  # a part with no Chinese may go as GSM 7-bit alone: it still fits UCS-2's 70
        assert sms.length(p)[0] <= 70 and modem.check_sms_text(p)
    assert " ".join(body(p) for p in parts) == text


def test_parts_end_where_a_reader_expects():
    words = "Data plan 80% used, 1.2 GB left until 30 Nov. " * 5
    parts = split(words)
    assert all(not body(p).endswith(("Dat", "pla", "use")) for p in parts)
    assert " ".join(body(p) for p in parts) == words.strip()
    chinese = "本周期已用 4 GB，套餐共 5 GB（已达 80% 提醒点）；到 12月1日 00:00 前剩余 1 GB。" * 3
    parts = split(chinese)
    assert [body(p)[-1] for p in parts[:-1]] == ["。", "。"], parts  # after a sentence
    parts = split("Used 1.8 GB at 00:00, then 2.5 GB at 12:30; " * 6)
    assert all(body(p)[-1] in ",;" for p in parts[:-1]), parts  # after a clause, never in "1.8" or "00:00"


def test_at_most_four_parts_the_last_ending_in_an_ellipsis():
    parts = split("word " * 400)
    assert len(parts) == 4 and [p[:6] for p in parts] == ["(1/4) ", "(2/4) ", "(3/4) ", "(4/4) "]
    assert parts[-1].endswith("...") and not parts[-1].endswith(" ...")
    assert_sendable(parts, 160)
    parts = split("流" * 1000)
    assert len(parts) == 4 and parts[-1].endswith("...")
    assert_sendable(parts, 70)
    parts = split("😀" * 1000, max_parts=2)
    assert len(parts) == 2 and parts[-1].endswith("...")
    assert_sendable(parts, 70)


def test_one_part_only_is_cut_without_a_label():
    (part,) = split("流" * 100, max_parts=1)
    assert part == "流" * 67 + "..."
    assert_sendable([part], 70)


@pytest.mark.parametrize("n", range(150, 700, 7))
def test_every_length_gives_sendable_parts_that_keep_the_text(n):
    for unit in ("ab ", "流量，", "x😀 ", "{a ", "é€ "):
        text = (unit * n)[:n].strip()
        parts = split(text)
        gsm = sms.is_gsm7(text)
        assert_sendable(parts, 160 if gsm else 70)
        if not parts[-1].endswith("...") or len(parts) < 4:
            assert "".join(body(p) for p in parts).replace(" ", "") == text.replace(" ", "")


def test_closing_marks_stay_together_and_no_part_is_only_punctuation():
    from hotspot.uplink.sms import split

    text = ("本周期已用 6.05 MB，套餐共 100 MB（已达 5% 提醒点）；到 1月1日 00:00 还剩 94.0 MB。"
            "按目前速度，到周期结束约用 6.05 MB（6.05 MB 至 6.05 MB）。")
    for n in range(len(text) - 30, len(text) + 1):
        for part in split(text[:n]):
            body = part.split(") ", 1)[1] if part.startswith("(") else part
            assert body.strip("。，；：、）」』.,;:!?") != "", (n, part)
