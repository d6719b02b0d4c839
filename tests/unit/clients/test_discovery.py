from __future__ import annotations

import os

import pytest

from hotspot.clients.discovery import Leases, clean_hostname, parse_leases

# /tmp/dhcp.leases as dnsmasq writes it on OpenWrt: DHCPv4 leases ("expiry mac ip hostname client-id"),
# then the server's DUID line and DHCPv6 leases ("expiry iaid ip hostname client-duid").
LEASES = """\
1718000000 3c:22:fb:12:34:56 192.168.1.154 Pixel-7 01:3c:22:fb:12:34:56
1718000100 a4:83:e7:00:11:22 192.168.1.201 * 01:a4:83:e7:00:11:22
1718000200 F0:18:98:AA:BB:CC 192.168.1.177 Janes-MacBook-Air *
0 00:1a:2b:3c:4d:5e 192.168.1.2 printer *
duid 00:01:00:01:2c:5e:3f:10:a4:83:e7:00:11:22
1718000300 234567890 fd12:3456:789a::1a3 android-7f3e 00:03:00:01:3c:22:fb:12:34:56
1718000400 16 fd12:3456:789a::99 * 00:04:bd:1a:7e:cc:01:02:03:04:05:06:07:08:09:0a:0b:0c
"""

# `ip neigh show dev br-lan` (iproute2 6.x) on a router with IPv4 and IPv6 clients.
# -- leases --------------------------------------------------------------------------------------


def test_parse_leases_real_dnsmasq_file():
    assert parse_leases(LEASES) == {
        "3c:22:fb:12:34:56": ("192.168.1.154", "Pixel-7"),
        "a4:83:e7:00:11:22": ("192.168.1.201", None),  # '*': the client sent no hostname
        "f0:18:98:aa:bb:cc": ("192.168.1.177", "Janes-MacBook-Air"),  # MACs normalised to lower case
        "00:1a:2b:3c:4d:5e": ("192.168.1.2", "printer"),  # expiry 0: an infinite lease
    }


def test_parse_leases_skips_duid_and_dhcpv6_lines():
    v6 = ("duid", "17180003", "17180004")
    v6_only = "\n".join(line for line in LEASES.splitlines() if line.startswith(v6))
    assert len(v6_only.splitlines()) == 3
    assert parse_leases(v6_only) == {}


@pytest.mark.parametrize(
    "line",
    [
        "",
        "   ",
        "garbage",
        "1718000000 3c:22:fb:12:34:56",  # truncated
        "1718000000 3c:22:fb:12:34:56 192.168.1.9",  # no hostname field
        "1718000000 zz:22:fb:12:34:56 192.168.1.9 host *",  # not a MAC
        "1718000000 3c:22:fb:12:34 192.168.1.9 host *",  # five octets
        "1718000000 3c:22:fb:12:34:56 192.168.1.300 host *",  # not an IP
        "1718000000 3c:22:fb:12:34:56 not-an-ip host *",
        "1718000000 00:00:00:00:00:00 192.168.1.9 host *",  # not a device
        "\x00\xff\x1b[2J",
    ],
)
def test_parse_leases_ignores_garbage(line):
    text = line + "\n1 aa:bb:cc:dd:ee:ff 10.0.0.1 ok *\n"
    assert parse_leases(text) == {"aa:bb:cc:dd:ee:ff": ("10.0.0.1", "ok")}


def test_parse_leases_cleans_hostnames():
    text = "1 aa:bb:cc:dd:ee:ff 10.0.0.1 <b>evil</b>;drop *\n"
    assert parse_leases(text) == {"aa:bb:cc:dd:ee:ff": ("10.0.0.1", "bevilbdrop")}


def test_leases_file_is_read_and_reread_only_when_it_changes(tmp_path):
    path = tmp_path / "dhcp.leases"
    leases = Leases(str(path))
    assert leases.read() == {}  # no file yet (dnsmasq not started): nothing, no error
    path.write_text("1 aa:bb:cc:dd:ee:ff 10.0.0.1 one *\n")
    assert leases.read() == {"aa:bb:cc:dd:ee:ff": ("10.0.0.1", "one")}
    path.write_text("1 aa:bb:cc:dd:ee:ff 10.0.0.1 two-two *\n")
    os.utime(path, (1, 1))  # a different mtime and size: re-read
    assert leases.read() == {"aa:bb:cc:dd:ee:ff": ("10.0.0.1", "two-two")}
    path.unlink()
    assert leases.read() == {"aa:bb:cc:dd:ee:ff": ("10.0.0.1", "two-two")}  # keeps the last good read


def test_leases_file_with_invalid_utf8(tmp_path):
    path = tmp_path / "dhcp.leases"
    path.write_bytes(b"1 aa:bb:cc:dd:ee:ff 10.0.0.1 caf\xe9-pc *\n")
    assert Leases(str(path)).read() == {"aa:bb:cc:dd:ee:ff": ("10.0.0.1", "caf-pc")}


# -- hostnames -----------------------------------------------------------------------------------

ALLOWED = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_ ")


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Pixel-7", "Pixel-7"),
        ("janes_laptop.lan", "janes_laptop.lan"),
        ("<script>alert(1)</script>", "scriptalert1script"),
        ('<img src=x onerror="alert(1)">', "img srcx onerroralert1"),
        ('"; flush ruleset', "flush ruleset"),
        ("x } ; delete table inet fw4 ; {", "x   delete table inet fw4"),
        ("'); DROP TABLE clients;--", "DROP TABLE clients--"),
        ("ph\x00one\x1b[31m\r\n\t", "phone31m"),
        ("evil\u202egnp.exe", "evilgnp.exe"),  # right-to-left override
        ("zero\u200bwidth", "zerowidth"),
        ("Müller-iPhone", "Müller-iPhone"),  # letters of any script are kept
        ("東京のPC", "東京のPC"),
        ("Ольга", "Ольга"),
        ("  padded  ", "padded"),
        ("*", None),
        ("", None),
        ("<>", None),
        ("\x00\x01\x7f", None),
    ],
)
def test_clean_hostname(name, expected):
    assert clean_hostname(name) == expected


def test_clean_hostname_cuts_long_names():
    assert clean_hostname("x" * 10_000) == "x" * 63
    assert clean_hostname("é" * 100) == "é" * 63  # characters, not bytes


@pytest.mark.parametrize(
    "name",
    ["<script>alert('x')</script>", '"; flush ruleset', "a\nb", "{}[]()<>'\"`$\\|&;#%!?*@=+~^,:/"],
)
def test_clean_hostname_leaves_no_markup_or_nft_syntax(name):
    cleaned = clean_hostname(name) or ""
    assert set(cleaned) <= ALLOWED, cleaned
    assert cleaned.isprintable()
