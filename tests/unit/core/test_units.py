from __future__ import annotations

import pytest

from hotspot.core.units import (
    MAX_SIZE,
    InvalidValue,
    check_iccid,
    format_bytes,
    format_duration,
    format_rate,
    luhn_valid,
    parse_cap,
    parse_duration,
    parse_mac,
    parse_rate,
    parse_rate_or_none,
    parse_size,
)

SIZE_HINT = "use a number with B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"
RATE_HINT = "use a number with bit, kbit, mbit or gbit, e.g. 256kbit"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0", 0),
        ("123", 123),
        ("123B", 123),
        ("1KB", 1000),
        ("1kb", 1000),
        ("1 MB", 10**6),
        ("2GB", 2 * 10**9),
        ("2gb", 2 * 10**9),
        ("1TB", 10**12),
        ("1KiB", 1024),
        ("1kib", 1024),
        ("1MiB", 2**20),
        ("3 GiB", 3 * 2**30),
        ("1TiB", 2**40),
        ("1.5GB", 1_500_000_000),
        ("1.5 GiB", 3 * 2**29),
        (".5KB", 500),
        ("1.", 1),
        ("1.9", 1),  # rounds down
        ("1.0001KB", 1000),
        ("0.1KB", 100),  # exact, no float error
        ("  2GB  ", 2 * 10**9),
        ("2GB\n", 2 * 10**9),  # surrounding whitespace is harmless: the result is a number
        ("007MB", 7 * 10**6),
        (str(MAX_SIZE), MAX_SIZE),
        (2048, 2048),  # an int is taken as bytes
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "12XB",
        "GB",
        "1 GB B",
        "1e9",
        "1,5GB",
        "1_000",
        "+1GB",
        "nan",
        "inf",
        "NaN GB",
        "1GB; flush ruleset",
        "1 } ",
        "1GB\nx",
        "1\nGB",
        "0x10",
        "１GB",  # non-ASCII digit
        "1 bytes",
        "1 kbit",
        "9" * 41,
    ],
)
def test_parse_size_rejects_garbage(text):
    with pytest.raises(InvalidValue) as e:
        parse_size(text)
    msg = str(e.value)
    assert msg.startswith("invalid size '")
    assert msg.endswith(SIZE_HINT)
    assert "\n" not in msg


def test_parse_size_message_names_the_value():
    with pytest.raises(InvalidValue) as e:
        parse_size("12XB")
    assert str(e.value) == f"invalid size '12XB': {SIZE_HINT}"


def test_parse_size_is_a_value_error():
    with pytest.raises(ValueError):
        parse_size("x")


@pytest.mark.parametrize(
    "text, message",
    [
        ("", f"invalid size '': empty; {SIZE_HINT}"),
        ("   ", f"invalid size '   ': empty; {SIZE_HINT}"),
        ("-1", "invalid size '-1': must not be negative"),
        ("-1.5 GB", "invalid size '-1.5 GB': must not be negative"),
        (str(MAX_SIZE + 1), f"invalid size '{MAX_SIZE + 1}': too large (at most {MAX_SIZE} bytes)"),
        ("5000000TB", f"invalid size '5000000TB': too large (at most {MAX_SIZE} bytes)"),
        (None, "invalid size 'None': expected text"),
        (True, "invalid size 'True': expected text"),
        (1.5, "invalid size '1.5': expected text"),
    ],
)
def test_parse_size_reasons(text, message):
    with pytest.raises(InvalidValue) as e:
        parse_size(text)
    assert str(e.value) == message


def test_bad_value_is_quoted_on_one_line():
    with pytest.raises(InvalidValue) as e:
        parse_size("1\n'x")
    assert str(e.value) == f"invalid size '1\\n\\'x': {SIZE_HINT}"
    with pytest.raises(InvalidValue) as e:
        parse_size("x" * 100)
    assert str(e.value) == f"invalid size '{'x' * 40}...': {SIZE_HINT}"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("8000bit", 8000),
        ("8kbit", 8000),
        ("256kbit", 256_000),
        ("256KBIT", 256_000),
        ("256 kbit", 256_000),
        ("1.5mbit", 1_500_000),
        ("10Mbit", 10_000_000),
        ("1gbit", 10**9),
        ("100gbit", 100 * 10**9),
        ("8.0005kbit", 8000),  # rounds down
        ("256 kbit/s", 256_000),  # what format_rate prints
        ("8.00 Mbit/s", 8_000_000),
    ],
)
def test_parse_rate(text, expected):
    assert parse_rate(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("256", f"invalid rate '256': {RATE_HINT}"),
        ("256kb", f"invalid rate '256kb': {RATE_HINT}"),
        ("256kbps", f"invalid rate '256kbps': {RATE_HINT}"),
        ("1tbit", f"invalid rate '1tbit': {RATE_HINT}"),
        ("fast", f"invalid rate 'fast': {RATE_HINT}"),
        ("1mbit drop", f"invalid rate '1mbit drop': {RATE_HINT}"),
        ("", f"invalid rate '': empty; {RATE_HINT}"),
        ("-1mbit", "invalid rate '-1mbit': must not be negative"),
        ("7999bit", "invalid rate '7999bit': too slow to be usable (at least 8kbit)"),
        ("7.9kbit", "invalid rate '7.9kbit': too slow to be usable (at least 8kbit)"),
        ("0kbit", "invalid rate '0kbit': too slow to be usable (at least 8kbit)"),
        ("100.001gbit", "invalid rate '100.001gbit': too fast (at most 100gbit)"),
    ],
)
def test_parse_rate_rejects(text, message):
    with pytest.raises(InvalidValue) as e:
        parse_rate(text)
    assert str(e.value) == message


@pytest.mark.parametrize(
    "text, expected",
    [
        ("aa:bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:ff"),
        ("AA:BB:CC:DD:EE:FF", "aa:bb:cc:dd:ee:ff"),
        ("AA-BB-CC-DD-EE-F0", "aa:bb:cc:dd:ee:f0"),
        ("02:00:00:00:00:01", "02:00:00:00:00:01"),  # locally administered (random MACs on phones)
        (" 00:11:22:33:44:55 ", "00:11:22:33:44:55"),
    ],
)
def test_parse_mac(text, expected):
    assert parse_mac(text) == expected


MAC_HINT = "use six hex pairs like aa:bb:cc:dd:ee:ff"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "aa:bb:cc:dd:ee",
        "aa:bb:cc:dd:ee:ff:00",
        "aa:bb:cc:dd:ee:fg",
        "aabbccddeeff",
        "aa.bb.cc.dd.ee.ff",
        "aabb.ccdd.eeff",
        "aa:bb-cc:dd:ee:ff",  # mixed separators
        "a:bb:cc:dd:ee:ff",
        "aaa:bb:cc:dd:ee:ff",
        "aa:bb:cc:dd:ee:ff; flush ruleset",
        "aa:bb:cc:dd:ee:ff }",
        "aa:bb:cc:dd:ee:ff\nx",
        "ａa:bb:cc:dd:ee:ff",
    ],
)
def test_parse_mac_rejects_malformed(text):
    with pytest.raises(InvalidValue) as e:
        parse_mac(text)
    assert str(e.value).startswith("invalid MAC address '")
    assert str(e.value).endswith(MAC_HINT)
    assert "\n" not in str(e.value)


def test_parse_mac_message():
    with pytest.raises(InvalidValue) as e:
        parse_mac("aa:bb")
    assert str(e.value) == f"invalid MAC address 'aa:bb': {MAC_HINT}"


@pytest.mark.parametrize(
    "text", ["01:00:5e:00:00:01", "33:33:00:00:00:01", "ff:ff:ff:ff:ff:ff", "AB-00-00-00-00-01"]
)
def test_parse_mac_rejects_multicast(text):
    with pytest.raises(InvalidValue) as e:
        parse_mac(text)
    assert str(e.value) == f"invalid MAC address '{text}': a multicast address is not a device"


def test_parse_mac_rejects_all_zeros():
    with pytest.raises(InvalidValue) as e:
        parse_mac("00-00-00-00-00-00")
    assert str(e.value) == "invalid MAC address '00-00-00-00-00-00': all zeros is not a device"


@pytest.mark.parametrize(
    "text, expected", [("none", None), ("None", None), ("NONE", None), ("0", 0), ("2GB", 2 * 10**9)]
)
def test_parse_cap(text, expected):
    assert parse_cap(text) == expected


def test_parse_cap_rejects():
    with pytest.raises(InvalidValue) as e:
        parse_cap("lots")
    assert str(e.value) == f"invalid size 'lots': {SIZE_HINT} (or 'none' for no cap)"
    with pytest.raises(InvalidValue):
        parse_cap("")
    with pytest.raises(InvalidValue):
        parse_cap("nonesuch")


@pytest.mark.parametrize("text, expected", [("none", None), ("NoNe", None), ("1mbit", 10**6)])
def test_parse_rate_or_none(text, expected):
    assert parse_rate_or_none(text) == expected


def test_parse_rate_or_none_rejects():
    with pytest.raises(InvalidValue) as e:
        parse_rate_or_none("1bit")
    assert (
        str(e.value) == "invalid rate '1bit': too slow to be usable (at least 8kbit) (or 'none' for no limit)"
    )


@pytest.mark.parametrize(
    "n, expected",
    [
        (0, "0 B"),
        (1, "1 B"),
        (999, "999 B"),
        (1000, "1.00 kB"),
        (1234, "1.23 kB"),
        (9996, "10.0 kB"),
        (12_345, "12.3 kB"),
        (123_456, "123 kB"),
        (999_499, "999 kB"),
        (999_500, "1.00 MB"),  # carried to the next unit, never "1000 kB"
        (999_999, "1.00 MB"),
        (12_300_000, "12.3 MB"),
        (1_500_000_000, "1.50 GB"),
        (2 * 10**12, "2.00 TB"),
        (10**15, "1.00 PB"),
        (MAX_SIZE, "4.61 EB"),
        (-1500, "-1.50 kB"),
    ],
)
def test_format_bytes(n, expected):
    assert format_bytes(n) == expected


@pytest.mark.parametrize(
    "bps, expected",
    [
        (500, "500 bit/s"),
        (8000, "8.00 kbit/s"),
        (256_000, "256 kbit/s"),
        (8_000_000, "8.00 Mbit/s"),
        (12_500_000, "12.5 Mbit/s"),
        (10**9, "1.00 Gbit/s"),
    ],
)
def test_format_rate(bps, expected):
    assert format_rate(bps) == expected


@pytest.mark.parametrize("bps", [8000, 256_000, 1_500_000, 8_000_000, 10**9])
def test_format_rate_parses_back(bps):
    assert parse_rate(format_rate(bps)) == bps


# -- durations --------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, seconds", [
    ("30", 30), ("30s", 30), ("10m", 600), ("1h", 3600), ("24h", 86400), ("1d", 86400), ("1w", 604800),
    ("1h30m", 5400), ("1H30M", 5400), (" 2d ", 172800), ("366d", 366 * 86400), ("1d2h3m4s", 93784),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text, reason", [
    ("", "empty"), ("0", "at least 1s"), ("0s", "at least 1s"), ("-5m", "negative"),
    ("1.5h", "whole numbers"),
    ("1y", "whole numbers"), ("h", "whole numbers"), ("1h 30m", "whole numbers"), ("367d", "too long"),
    ("1h; flush ruleset", "whole numbers"), ("１h", "whole numbers"), ("nan", "whole numbers"),
])
def test_parse_duration_rejects(text, reason):
    with pytest.raises(InvalidValue) as e:
        parse_duration(text)
    assert reason in str(e.value) and "\n" not in str(e.value)


def test_format_duration():
    assert [format_duration(n) for n in (86400, 3600, 5400, 59, 90061)] == [
        "1d", "1h", "1h30m", "59s", "1d1h1m1s"]


# -- ICCIDs -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("8988211000000123458", "8988211000000123458"),  # 19 digits
    ("89444765000012345673", "89444765000012345673"),  # 20 digits
    (" 8944 4765 0000 1234 5673 ", "89444765000012345673"),  # as printed on the card
    ("8944-4765-0000-1234-5673", "89444765000012345673"),
])
def test_check_iccid(text, expected):
    assert check_iccid(text) == expected


@pytest.mark.parametrize("text, reason", [
    ("8988211000000123456", "check digit is wrong"),  # one digit off
    ("89444765000012345674", "check digit is wrong"),
    ("89444765000012345637", "check digit is wrong"),  # two digits swapped
    ("898821100000012345", "19 or 20 digits"),  # 18
    ("894447650000123456735", "19 or 20 digits"),  # 21
    ("8988211000000123458\n", None),  # stripped: valid
    ("898821100000012345a", "19 or 20 digits"),
    ("８９８８２１１０００００００１２３４５８", "19 or 20 digits"),  # full-width digits are not ASCII
    ("", "19 or 20 digits"),
    ("8988211000000123458;reboot", "19 or 20 digits"),
    (None, "expected text"),
    (["8988211000000123458"], "expected text"),
])
def test_check_iccid_refuses(text, reason):
    if reason is None:
        assert check_iccid(text) == text.strip()
        return
    with pytest.raises(InvalidValue, match=reason) as e:
        check_iccid(text)
    assert "\n" not in str(e.value)


def test_luhn_matches_the_textbook_examples():
    assert luhn_valid("79927398713")
    assert not any(luhn_valid(f"7992739871{d}") for d in "012456789")
    assert luhn_valid("0") and not luhn_valid("1")
