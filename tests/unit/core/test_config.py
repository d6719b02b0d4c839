from __future__ import annotations

import dataclasses
import io
import logging
from pathlib import Path

import pytest

from hotspot.config import DEFAULT_PATH, Config, ConfigError, dump, load

SIZE_HINT = "use a number with B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"
RATE_HINT = "use a number with bit, kbit, mbit or gbit, e.g. 256kbit"
NOT_IFACE = "is not an interface name (letters, digits, '.', '_' or '-'; at most 15)"
NOT_MASK = "is not a 32-bit mask of at least 2 contiguous bits (e.g. 0xffff0000)"
SHIPPED = Path(__file__).resolve().parents[3] / "openwrt" / "files" / "hotspot.config"


@pytest.fixture
def write(tmp_path):
    """Write a config file and return its path."""

    def write(text: str | bytes, name: str = "hotspot") -> Path:
        path = tmp_path / name
        if isinstance(text, str):
            path.write_text(text)
        else:
            path.write_bytes(text)
        return path

    return write


def load_text(write, text: str) -> Config:
    return load(write(text))


def errors_of(write, text: str | bytes) -> list[str]:
    """Every error load() reports for `text`, without the 'FILE:' prefix; str() has them one a line."""
    path = write(text)
    with pytest.raises(ConfigError) as e:
        load(path)
    assert str(e.value) == "\n".join(e.value.errors)
    prefix = f"{path}:"
    assert all(err.startswith(prefix) for err in e.value.errors), e.value.errors
    return [err[len(prefix) :] for err in e.value.errors]


def error_of(write, text: str) -> str:
    """The one error load() reports for `text`."""
    path = write(text)
    with pytest.raises(ConfigError) as e:
        load(path)
    msg = str(e.value)
    assert "\n" not in msg and e.value.errors == [msg]
    prefix = f"{path}:"
    assert msg.startswith(prefix)
    return msg[len(prefix) :]


def test_defaults():
    c = Config()
    assert c.lan_device == "br-lan"
    assert c.wan_device == ("wwan0",)
    assert c.state_dir == "/etc/hotspot"
    assert c.run_dir == "/var/run/hotspot"
    assert c.poll_interval == 2
    assert c.commit_interval == 600
    assert c.portal_port == 8080
    assert c.auth == "none"
    assert c.period == "monthly"
    assert c.period_start == 1
    assert c.default_cap is None
    assert c.after_cap == "block"
    assert c.after_cap_rate == 256_000
    assert c.warn_at == 80
    assert c.leases_file == "/tmp/dhcp.leases"
    assert c.session_timeout == 86400
    assert c.idle_timeout == 3600
    assert c.path == DEFAULT_PATH


def test_shipped_file_is_the_defaults():
    c = load(SHIPPED)
    assert c == Config()
    assert c.path == str(SHIPPED)


def test_shipped_file_documents_every_option():
    text = SHIPPED.read_text()
    for f in dataclasses.fields(Config):
        if f.name != "path":
            assert f" {f.name} '" in text, f.name


def test_contract_example(write):
    """The example in DESIGN.md's contract, comments and all, is the defaults."""
    c = load_text(
        write,
        """\
config hotspot 'main'
\toption lan_device 'br-lan'        # the LAN bridge or interface
\tlist wan_device 'wwan0'           # metered uplink(s); traffic crossing them is counted
\toption state_dir '/etc/hotspot'   # persistent (flash)
\toption run_dir '/var/run/hotspot' # volatile (RAM)
\toption poll_interval '2'          # seconds
\toption commit_interval '600'      # seconds between writes to flash
\toption portal_port '8080'
\toption auth 'none'                # none | click | voucher
\toption period 'monthly'           # daily | weekly | monthly
\toption period_start '1'           # day of month (monthly) or of week, 1 = Monday (weekly)
\toption default_cap ''             # cap for new clients, e.g. '2GB'; empty = none
\toption after_cap 'block'          # block | throttle
\toption after_cap_rate '256kbit'   # the rate when after_cap is throttle
""",
    )
    assert c == Config()


def test_full_file(write):
    c = load_text(
        write,
        """\
# a comment
package hotspot

config hotspot 'main'
\toption lan_device 'br-guest'        # trailing comment
\tlist wan_device 'wwan0'
\tlist wan_device "usb0"
    option state_dir /srv/hotspot
\toption run_dir '/run/hotspot'
\toption poll_interval '0.5'
\toption commit_interval '60'
\toption portal_port '80'
\toption auth 'voucher'
\toption period 'weekly'
\toption period_start '7'
\toption default_cap '2GB'
\toption after_cap 'throttle'
\toption after_cap_rate '1.5mbit'
\toption warn_at '90'
\toption leases_file '/var/dhcp.leases'
""",
    )
    assert c == Config(
        lan_device="br-guest",
        wan_device=("wwan0", "usb0"),
        state_dir="/srv/hotspot",
        run_dir="/run/hotspot",
        poll_interval=0.5,
        commit_interval=60,
        portal_port=80,
        auth="voucher",
        period="weekly",
        period_start=7,
        default_cap=2 * 10**9,
        after_cap="throttle",
        after_cap_rate=1_500_000,
        warn_at=90,
        leases_file="/var/dhcp.leases",
    )
    assert isinstance(c.commit_interval, int)
    assert isinstance(c.poll_interval, float)


def test_no_section_means_defaults(write):
    assert load_text(write, "") == Config()
    assert load_text(write, "# nothing here\n\n") == Config()


def test_other_sections_are_ignored(write):
    c = load_text(
        write,
        """\
config portal 'extra'
\toption whatever 'x'
\tlist things 'a'

config hotspot 'main'
\toption auth 'click'

config somethingelse
\toption auth 'bogus'
""",
    )
    assert c == Config(auth="click")


def test_anonymous_section(write):
    assert load_text(write, "config hotspot\n\toption warn_at 50\n") == Config(warn_at=50)


@pytest.mark.parametrize(
    "line, value",
    [
        ("option auth 'click'", "click"),
        ('option auth "click"', "click"),
        ("option auth click", "click"),
        ("option auth cl'ic'k", "click"),  # adjacent quoted parts join, as in UCI
        ("option auth 'click' # comment", "click"),
        ("option auth click#comment", "click"),
        ("option\tauth\t\t'click'\t", "click"),
        ("option auth 'click' ; option warn_at '5'", "click"),
        ('option auth "cl\\ick"', "click"),
        ("option auth 'click'\r", "click"),  # CRLF line endings
    ],
)
def test_quoting(write, line, value):
    assert load_text(write, f"config hotspot 'main'\n\t{line}\n").auth == value


def test_hash_inside_quotes_is_not_a_comment(write):
    path = "/etc/hot#spot"
    assert load_text(write, f"config hotspot 'main'\n\toption state_dir '{path}'\n").state_dir == path
    assert load_text(write, f'config hotspot main\n\toption state_dir "{path}"\n').state_dir == path


def test_semicolon_separates_statements(write):
    text = "config hotspot 'main'; option auth click ; option warn_at '5';option period daily\n"
    c = load_text(write, text)
    assert (c.auth, c.warn_at, c.period) == ("click", 5, "daily")


def test_a_semicolon_right_after_an_unquoted_word_is_refused(write):
    """uci's parser ends that word by overwriting the ';', and with it the rest of the line: uci would
    read `auth` as unset here. hotspot refuses the line rather than read it otherwise."""
    assert error_of(write, "config hotspot main; option auth click\n") == (
        "1: uci ignores what follows a ';' right after an unquoted word: put a space before the ';' or "
        "quote the word")


def test_an_empty_value_sets_nothing_as_in_uci(write):
    """`option NAME ''` and `option NAME` are no option for uci: the value before, or the default."""
    c = load_text(write, "config hotspot\n\toption poll_interval ''\n\toption auth 'click'\n\toption auth\n"
                         "\toption lan_device ''\n\toption session_timeout ''\n")
    assert (c.poll_interval, c.auth, c.lan_device, c.session_timeout) == (
        Config().poll_interval, "click", Config().lan_device, Config().session_timeout)


@pytest.mark.parametrize("key, none", [("dnsmasq_restart", None), ("dnsmasq_nftset_file", None),
                                       ("dhcp_opts_file", None), ("alert_at", ()),
                                       ("update_guard_categories", ())])
def test_an_empty_value_that_would_mean_none_is_refused_and_none_says_it(write, key, none):
    """These options' default is something, and '' once meant none; for uci '' is no option, so the
    default would come back the moment uci or LuCI rewrites the file. 'none' says none to both."""
    err = error_of(write, f"config hotspot\n\toption {key} ''\n")
    assert err.startswith(f"2: option {key}: '' sets nothing in UCI, so its default ") and \
        err.endswith("would apply; write 'none' for none")
    assert getattr(load_text(write, f"config hotspot\n\toption {key} 'none'\n"), key) == none


def test_repeated_option_replaces(write):
    assert load_text(write, "config hotspot\n option warn_at 10\n option warn_at 20\n").warn_at == 20


def test_wan_device_forms(write):
    def wan(body: str) -> tuple[str, ...]:
        return load_text(write, "config hotspot 'main'\n" + body).wan_device

    assert wan("") == ("wwan0",)
    assert wan("\toption wan_device 'wwan0 usb0'\n") == ("wwan0", "usb0")
    assert wan("\tlist wan_device 'a'\n\tlist wan_device 'b'\n\tlist wan_device 'a'\n") == ("a", "b")
    assert wan("\tlist wan_device 'a'\n\toption wan_device 'b'\n") == ("b",)  # option replaces
    assert wan("\toption wan_device 'b'\n\tlist wan_device 'c'\n") == ("b", "c")


@pytest.mark.parametrize(
    "value, expected",
    [
        ("''", None),
        ("none", None),
        ("'None'", None),
        ("'0'", 0),
        ("'500MiB'", 500 * 2**20),
        ("1.5GB", 1_500_000_000),
    ],
)
def test_default_cap(write, value, expected):
    assert load_text(write, f"config hotspot\n\toption default_cap {value}\n").default_cap == expected


@pytest.mark.parametrize(
    "period, start",
    [("monthly", "1"), ("monthly", "31"), ("weekly", "1"), ("weekly", "7"), ("daily", "1"), ("daily", "31")],
)
def test_period_start_ok(write, period, start):
    c = load_text(write, f"config hotspot\n\toption period_start '{start}'\n\toption period '{period}'\n")
    assert (c.period, c.period_start) == (period, int(start))


@pytest.mark.parametrize(
    "option, value, reason",
    [
        ("poll_interval", "0", "'0' is not a number of seconds between 0.2 and 3600"),
        ("poll_interval", "0.1", "'0.1' is not a number of seconds between 0.2 and 3600"),
        ("poll_interval", "3601", "'3601' is not a number of seconds between 0.2 and 3600"),
        ("poll_interval", "nan", "'nan' is not a number of seconds between 0.2 and 3600"),
        ("poll_interval", "inf", "'inf' is not a number of seconds between 0.2 and 3600"),
        ("poll_interval", "1e1", "'1e1' is not a number of seconds between 0.2 and 3600"),
        ("poll_interval", "-1", "'-1' is not a number of seconds between 0.2 and 3600"),
        ("commit_interval", "9", "'9' is not a whole number of seconds between 10 and 86400"),
        ("commit_interval", "86401", "'86401' is not a whole number of seconds between 10 and 86400"),
        ("commit_interval", "60.5", "'60.5' is not a whole number of seconds between 10 and 86400"),
        ("portal_port", "-1", "'-1' is not a port number between 1 and 65535 (0: no portal)"),
        ("portal_port", "65536", "'65536' is not a port number between 1 and 65535 (0: no portal)"),
        ("portal_port", " 80", "' 80' is not a port number between 1 and 65535 (0: no portal)"),
        ("warn_at", "0", "'0' is not a percentage between 1 and 100"),
        ("warn_at", "101", "'101' is not a percentage between 1 and 100"),
        ("auth", "password", "'password' is not one of none, click, voucher, radius"),
        ("auth", "None", "'None' is not one of none, click, voucher, radius"),
        ("period", "yearly", "'yearly' is not one of daily, weekly, monthly"),
        ("after_cap", "drop", "'drop' is not one of block, throttle"),
        ("default_cap", "12XB", f"invalid size '12XB': {SIZE_HINT} (or '' for no cap)"),
        ("default_cap", "-1GB", "invalid size '-1GB': must not be negative (or '' for no cap)"),
        ("after_cap_rate", "1bit", "invalid rate '1bit': too slow to be usable (at least 8kbit)"),
        ("after_cap_rate", "256", f"invalid rate '256': {RATE_HINT}"),
        ("period_start", "32", "'32' is not a day of the month between 1 and 31"),
        ("period_start", "0", "'0' is not a day of the month between 1 and 31"),
        ("lan_device", "br lan", "'br lan' " + NOT_IFACE),
        ("lan_device", "a" * 16, f"'{'a' * 16}' " + NOT_IFACE),
        ("lan_device", "-br", "'-br' " + NOT_IFACE),
        ("lan_device", "br0}", "'br0}' " + NOT_IFACE),
        ("lan_device", "br/0", "'br/0' " + NOT_IFACE),
        ("wan_device", "wwan0 usb;0", "'usb;0' " + NOT_IFACE),
        ("wan_device", 'wwan0 eth0"', "'eth0\"' " + NOT_IFACE),
        ("wan_device", "br-lan", "'br-lan' is both the lan_device and a wan_device"),
        ("state_dir", "relative/dir", "'relative/dir' is not an absolute path"),
        ("run_dir", "/run/\thotspot", "'/run/\\thotspot' is not an absolute path"),
        ("leases_file", "dhcp.leases", "'dhcp.leases' is not an absolute path"),
        ("ct_mark_mask", "high", "'high' is not a number (e.g. 0xffff0000)"),
        ("ct_mark_mask", "0xff00ff00", "'0xff00ff00' " + NOT_MASK),
        ("ct_mark_mask", "0x100", "'0x100' " + NOT_MASK),
        ("ct_mark_mask", "0", "'0' " + NOT_MASK),
        ("ct_mark_mask", "0x1ffff0000", "'0x1ffff0000' " + NOT_MASK),
        ("ct_mark_mask", "-65536", "'-65536' " + NOT_MASK),
    ],
)
def test_bad_values(write, option, value, reason):
    msg = error_of(
        write, f"# comment\nconfig hotspot 'main'\n\toption auth 'none'\n\toption {option} '{value}'\n"
    )
    assert msg == f"4: option {option}: {reason}"


def test_period_start_depends_on_period(write):
    msg = error_of(write, "config hotspot\n\toption period_start '8'\n\toption period 'weekly'\n")
    assert msg == "2: option period_start: '8' is not a day of the week between 1 (Monday) and 7 (Sunday)"
    msg = error_of(write, "config hotspot\n\toption period 'daily'\n\toption period_start '0'\n")
    daily = "is not a number between 1 and 31 (daily periods start at 00:00 and ignore it)"
    assert msg == f"3: option period_start: '0' {daily}"


def test_lan_device_clash_reported_at_lan_device_without_wan_lines(write):
    msg = error_of(write, "config hotspot\n\n\toption lan_device 'wwan0'\n")
    assert msg == "3: option lan_device: 'wwan0' is both the lan_device and a wan_device"


@pytest.mark.parametrize(
    "text, reason",
    [
        ("config hotspot 'main'\n\toption bogus '1'\n", "2: unknown option 'bogus'"),
        (
            "config hotspot 'main'\n\toption poll_intervall '1'\n",
            "2: unknown option 'poll_intervall'; did you mean 'poll_interval'?",
        ),
        ("option auth 'none'\n", "1: 'option' before the first 'config' line"),
        ("list wan_device 'x'\n", "1: 'list' before the first 'config' line"),
        (
            "config hotspot 'main'\n\toption auth none click\n",
            "2: 'option' takes a name and one value (quote a value with spaces)",
        ),
        ("config hotspot 'main'\n\toption 'au th' none\n", "2: 'au th' is not a valid option name"),
        (
            "config hotspot 'main'\n\tlist auth 'none'\n",
            "2: option auth takes one value: use 'option', not 'list'",
        ),
        ("config hotspot 'main'\n\toption auth 'none\n", "2: unterminated ' quote"),
        ("config hotspot 'main'\n\toption auth \"none\n", '2: unterminated " quote'),
        ("config\n", "1: 'config' takes a type and an optional name"),
        ("config a b c\n", "1: 'config' takes a type and an optional name"),
        ("config hotspot 'ma in'\n", "1: 'ma in' is not a valid section type or name"),
        ("package\n", "1: 'package' takes one name"),
        (
            "config hotspot\n\toptoin auth 'none'\n",
            "2: unknown statement 'optoin'; expected config, option or list",
        ),
        (
            "config hotspot 'main'\nconfig hotspot 'other'\n",
            "2: a second 'hotspot' section (the first is on line 1)",
        ),
        (
            "config other\n\toption 'bad name' 'x'\n",
            "2: 'bad name' is not a valid option name",
        ),  # syntax checked everywhere
        ("config other\n\toption x 'unterminated\n", "2: unterminated ' quote"),
    ],
)
def test_syntax_errors(write, text, reason):
    assert error_of(write, text) == reason


def test_not_utf8(write):
    path = write(b"config hotspot\n\toption state_dir '/\xff'\n")
    with pytest.raises(ConfigError) as e:
        load(path)
    assert str(e.value) == f"{path}:2: not UTF-8 text"


def test_not_utf8_lines_are_reported_with_the_other_errors(write):
    text = b"config hotspot\n\toption state_dir '/\xff'\n\toption warn_at 0\n\toption run_dir '/\xfe'\n"
    assert errors_of(write, text) == [
        "2: not UTF-8 text",
        "3: option warn_at: '0' is not a percentage between 1 and 100",
        "4: not UTF-8 text",
    ]


def test_missing_file(tmp_path):
    path = tmp_path / "nope"
    with pytest.raises(ConfigError) as e:
        load(path)
    assert str(e.value) == f"{path}: no such file"
    assert e.value.errors == [f"{path}: no such file"]


# The file: a bad poll_interval on line 4 and an unknown option on line 6 (and more besides).
SEVERAL_MISTAKES = """\
config hotspot 'main'
\toption lan_device 'br-lan'
\tlist wan_device 'wwan0'
\toption poll_interval 'often'
\toption auth 'click'
\toption poll_intervall '5'
\toption portal_port 80
\toption auth 'none
\toption poll_interval '2'
"""
SEVERAL_ERRORS = [
    "4: option poll_interval: 'often' is not a number of seconds between 0.2 and 3600",
    "6: unknown option 'poll_intervall'; did you mean 'poll_interval'?",
    "8: unterminated ' quote",
]


def test_every_error_is_reported_in_file_order(write):
    # line 9's good poll_interval replaces line 4's, but must not hide it
    assert errors_of(write, SEVERAL_MISTAKES) == SEVERAL_ERRORS


def test_errors_across_options_are_in_file_order(write):
    text = """\
config hotspot 'main'
\toption period_start '9'
\toption warn_at '101'
\tlist wan_device 'wwan0'
\tlist wan_device 'usb;0 eth}1'
\toption period 'weekly'
\toption lan_device 'wwan0'
\tlist auth 'none'
config hotspot 'again'
\toption warn_at 'x'
"""
    assert errors_of(write, text) == [
        "2: option period_start: '9' is not a day of the week between 1 (Monday) and 7 (Sunday)",
        "3: option warn_at: '101' is not a percentage between 1 and 100",
        "5: option wan_device: 'usb;0 eth}1' " + NOT_IFACE,  # a list entry is one item, as for uci
        "8: option auth takes one value: use 'option', not 'list'",
        "9: a second 'hotspot' section (the first is on line 1)",
        "10: option warn_at: 'x' is not a percentage between 1 and 100",
    ]


def test_lan_wan_clash_is_reported_with_other_errors(write):
    text = "config hotspot\n\toption warn_at 0\n\tlist wan_device 'br-lan'\n\toption auth x\n"
    assert errors_of(write, text) == [
        "2: option warn_at: '0' is not a percentage between 1 and 100",
        "3: option wan_device: 'br-lan' is both the lan_device and a wan_device",
        "4: option auth: 'x' is not one of none, click, voucher, radius",
    ]


def test_a_bad_config_line_does_not_hide_its_options(write):
    text = "option auth 'none'\nconfig hotspot 'ma in'\n\toption bogus 1\n"
    text += "config\n\toption 'b c' 1\n\toption x 1\n"
    assert errors_of(write, text) == [
        "1: 'option' before the first 'config' line",
        "2: 'ma in' is not a valid section type or name",
        "3: unknown option 'bogus'",
        "4: 'config' takes a type and an optional name",
        "5: 'b c' is not a valid option name",  # still syntax-checked; 'x' on line 6 is not ours to judge
    ]


def test_cli_reports_every_config_error_and_exits_2(write, tmp_path):
    from hotspot import cli

    dirs = f"\toption state_dir '{tmp_path}/state'\n\toption run_dir '{tmp_path}/run'\n"
    path = write(SEVERAL_MISTAKES + dirs)
    env = cli.Environment(stdout=io.StringIO(), stderr=io.StringIO())
    status = cli.main(["-c", str(path), "status"], env)
    assert status == cli.ExitStatus.USAGE == 2
    assert env.stdout.getvalue() == ""
    assert env.stderr.getvalue().splitlines() == [f"hotspotctl: {path}:{err}" for err in SEVERAL_ERRORS]
    assert not (tmp_path / "state").exists() and not (tmp_path / "run").exists()


def test_daemon_logs_every_config_error_and_exits_2(write, monkeypatch, caplog):
    from hotspot.daemon import main as daemon

    monkeypatch.setattr(daemon, "setup_logging", lambda verbose=False: None)  # keep pytest's log capture
    path = write(SEVERAL_MISTAKES)
    assert daemon.main(["-c", str(path)]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [f"{path}:{err}" for err in SEVERAL_ERRORS]


def test_directory(tmp_path):
    with pytest.raises(ConfigError) as e:
        load(tmp_path)
    assert str(e.value) == f"{tmp_path}: Is a directory"


def test_config_is_frozen_and_replaceable():
    c = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.auth = "click"  # type: ignore[misc]
    d = c.replace(auth="click", wan_device=["a", "b"])
    assert d.auth == "click" and c.auth == "none"
    assert d.wan_device == ("a", "b")  # lists become tuples, so a Config stays hashable
    assert hash(d) != hash(c)


def test_path_does_not_affect_equality():
    assert Config(path="/a") == Config(path="/b")


@pytest.mark.parametrize(
    "config",
    [
        Config(),
        Config(
            lan_device="br.guest_1",
            wan_device=("wwan0", "usb0", "eth1.2"),
            state_dir="/srv/it's here",
            run_dir='/run/"quoted" #not a comment; really',
            poll_interval=0.25,
            commit_interval=86400,
            portal_port=1,
            auth="click",
            period="weekly",
            period_start=7,
            default_cap=1_234_567,
            after_cap="throttle",
            after_cap_rate=1_500_000,
            warn_at=100,
            leases_file="/tmp/leases \\ odd",
            ct_mark_mask=0x00FF0000,
        ),
        Config(default_cap=0, after_cap_rate=8000, poll_interval=3600, period="daily", period_start=31),
        Config(default_cap=2 * 10**9, after_cap_rate=10**9, poll_interval=1 / 3),
        Config(default_cap=2**62, after_cap_rate=8001, ct_mark_mask=0xC0000000),
        Config(auth="voucher", session_timeout=5400, idle_timeout=None),
        Config(session_timeout=1, idle_timeout=366 * 86400),
    ],
)
def test_dump_round_trip(write, config):
    text = dump(config)
    loaded = load(write(text))
    assert loaded == config
    for f in dataclasses.fields(Config):
        assert type(getattr(loaded, f.name)) is type(getattr(config, f.name)) or f.name == "poll_interval"


def test_dump_is_readable():
    text = dump(Config(default_cap=2 * 10**9))
    assert text.startswith("config hotspot 'main'\n")
    assert "\tlist wan_device 'wwan0'\n" in text
    assert "\toption default_cap '2GB'\n" in text
    assert "\toption after_cap_rate '256kbit'\n" in text
    assert "\toption poll_interval '2'\n" in text
    assert "\toption default_cap ''\n" in dump(Config())
    assert "path" not in text


@pytest.mark.parametrize("value, mask", [("0xffff0000", 0xFFFF0000), ("0x7FFF", 0x7FFF),
                                         ("4278190080", 0xFF000000), ("0x3", 3)])
def test_ct_mark_mask(write, value, mask):
    assert load(write(f"config hotspot\n\toption ct_mark_mask '{value}'\n")).ct_mark_mask == mask


def test_write_settings_changes_options_in_place_and_keeps_comments(tmp_path):
    from hotspot.config import settings_text, write_settings

    path = tmp_path / "hotspot"
    path.write_text("# my router\nconfig hotspot 'main'\n\t# the cap\n\toption default_cap '2GB'\n"
                    "\tlist wan_device 'wwan0'\n\nconfig other 'x'\n\toption default_cap 'mine'\n")
    cfg = write_settings(str(path), {"default_cap": "5GB", "after_cap": "throttle", "auth": "click"})
    text = path.read_text()
    assert "# my router" in text and "\t# the cap\n\toption default_cap '5GB'\n" in text
    assert "option default_cap 'mine'" in text  # another section's option is not ours
    assert cfg.default_cap == 5 * 10**9 and cfg.after_cap == "throttle" and cfg.auth == "click"
    assert settings_text(load(str(path)))["after_cap"] == "throttle"


@pytest.mark.parametrize("values, message", [
    ({"default_cap": "lots"}, "option default_cap"),
    ({"period": "hourly"}, "option period"),
    ({"lan_device": "eth9"}, "not a setting: lan_device"),
    ({"auth": "x\ny"}, "printable"),
])
def test_write_settings_refuses_bad_values_and_writes_nothing(tmp_path, values, message):
    from hotspot.config import write_settings

    path = tmp_path / "hotspot"
    path.write_text("config hotspot 'main'\n\toption default_cap '2GB'\n")
    with pytest.raises(ConfigError, match=message):
        write_settings(str(path), values)
    assert path.read_text() == "config hotspot 'main'\n\toption default_cap '2GB'\n"
    assert not (tmp_path / "hotspot.tmp").exists()


@pytest.mark.parametrize("value, seconds", [("24h", 86400), ("1d", 86400), ("90", 90), ("1h30m", 5400),
                                            ("2w", 14 * 86400)])
def test_session_and_idle_timeouts(write, value, seconds):
    c = load(write(f"config hotspot\n\toption session_timeout '{value}'\n\toption idle_timeout '{value}'\n"))
    assert (c.session_timeout, c.idle_timeout) == (seconds, seconds)


def test_idle_timeout_none(write):
    assert load(write("config hotspot\n\toption idle_timeout 'none'\n")).idle_timeout is None


@pytest.mark.parametrize("key", ["session_timeout", "idle_timeout"])
@pytest.mark.parametrize("value, reason", [
    ("forever", "use whole numbers with s, m, h, d or w, e.g. 30m, 24h, 1h30m"),
    ("0", "must be at least 1s"), ("1.5h", "use whole numbers"), ("400d", "too long (at most 366d)"),
])
def test_bad_timeouts(write, key, value, reason):
    err = error_of(write, f"config hotspot\n\toption {key} '{value}'\n")
    assert err.startswith(f"2: option {key}: invalid duration '{value}': ") and reason in err
    assert ("or 'none' for no idle timeout" in err) == (key == "idle_timeout")


def test_session_timeout_has_no_none(write):
    assert "option session_timeout: invalid duration 'none'" in error_of(
        write, "config hotspot\n\toption session_timeout 'none'\n")


def test_https_needs_both_certificate_and_key(write):
    err = error_of(write, "config hotspot\n\toption tls_cert '/etc/hotspot/portal.pem'\n")
    assert err == "2: option tls_cert: needs tls_key too (HTTPS takes a certificate and its key)"
    c = load(write("config hotspot\n\toption tls_cert '/a.pem'\n\toption tls_key '/a.key'\n"
                   "\toption portal_name 'Portal.Example.com'\n"))
    assert (c.tls_cert, c.tls_key, c.tls_port) == ("/a.pem", "/a.key", 8443)
    assert c.portal_name == "portal.example.com"
    assert "is not a DNS name" in error_of(write, "config hotspot\n\toption portal_name 'my_router'\n")
    # one port cannot serve plain HTTP and HTTPS both (without a certificate, tls_port is unused)
    err = error_of(write, "config hotspot\n\toption tls_cert '/a.pem'\n\toption tls_key '/a.key'\n"
                          "\toption portal_port '8443'\n")
    assert err == "4: option portal_port: is tls_port too (8443): plain HTTP and HTTPS need a port each"
    err = error_of(write, "config hotspot\n\toption tls_cert '/a.pem'\n\toption tls_key '/a.key'\n"
                          "\toption tls_port '8080'\n")
    assert err == "4: option tls_port: is portal_port too (8080): plain HTTP and HTTPS need a port each"
    assert load(write("config hotspot\n\toption portal_port '8443'\n")).tls_port == 8443


# -- the DNS snooper ------------------------------------------------------------------------------

def test_dns_snoop_options(write):
    assert (Config().dns_snoop, Config().categories_file) == (True, None)
    assert Config().dns_min_ttl == 60
    cfg = load_text(write, "config hotspot\n\toption dns_snoop '0'\n\toption dns_min_ttl '0'\n")
    assert cfg.dns_snoop is False and cfg.dns_min_ttl == 0
    assert "option dns_min_ttl: '-1' is not a whole number" in error_of(
        write, "config hotspot\n\toption dns_min_ttl '-1'\n")
    msg = error_of(write, "config hotspot\n\toption dns_snoop 'yes please'\n")
    assert msg.startswith("2: option dns_snoop:")


# -- rewrites keep the file's secrets, its other statements and its comments ------------------------


def test_write_settings_keeps_the_files_mode_and_owner(tmp_path):
    """The config holds smtp_password, alert_webhook_secret and metrics_token: a 0600 file stays 0600
    (and keeps its owner and group), whoever rewrites it and whatever the umask."""
    import os

    from hotspot.config import write_settings

    path = tmp_path / "hotspot"
    path.write_text("config hotspot 'main'\n\toption smtp_password 'hunter2-hunter2'\n")
    path.chmod(0o600)
    owner = (65534, 65534) if os.geteuid() == 0 else (os.geteuid(), os.getegid())
    os.chown(path, *owner)
    old = os.umask(0o022)
    try:
        write_settings(str(path), {"plan_quota": "20GB"})
    finally:
        os.umask(old)
    st = path.stat()
    assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o600, *owner)
    assert "option plan_quota '20GB'" in path.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hotspot"]  # no temporary file left


def test_write_settings_keeps_comments_and_other_statements_on_the_line_it_changes(tmp_path):
    from hotspot.config import write_settings

    path = tmp_path / "hotspot"
    path.write_text("config hotspot 'main'\n"
                    "\toption plan_quota '20GB' # our SIM\n"
                    "\toption auth 'none'; option default_cap '2GB'   # two on a line\n"
                    "    option period monthly#tight comment\n")
    cfg = write_settings(str(path), {"plan_quota": "30GB", "default_cap": "3GB", "period": "weekly"})
    assert path.read_text() == ("config hotspot 'main'\n"
                                "\toption plan_quota '30GB' # our SIM\n"
                                "\toption auth 'none'; option default_cap '3GB'   # two on a line\n"
                                "    option period 'weekly'#tight comment\n")
    assert (cfg.plan_quota, cfg.default_cap, cfg.period) == (30 * 10**9, 3 * 10**9, "weekly")
    assert cfg.auth == "none"


def test_write_settings_never_writes_through_a_link_planted_at_its_temporary_file(tmp_path):
    from hotspot.config import write_settings

    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    path = tmp_path / "hotspot"
    path.write_text("config hotspot 'main'\n")
    (tmp_path / "hotspot.tmp").symlink_to(victim)
    write_settings(str(path), {"auth": "click"})
    assert victim.read_text() == "untouched\n"
    assert load(path).auth == "click"


def test_smtp_without_tls_cannot_log_in_and_says_where(write):
    """hotspotd would refuse this email channel at start: load() says so, at the line to fix."""
    text = ("config hotspot 'main'\n\toption smtp_host 'mail.example.com'\n\toption smtp_security 'none'\n"
            "\tlist alert_email 'owner@example.com'\n\toption smtp_user 'owner'\n")
    assert errors_of(write, text) == [
        "5: option smtp_user: smtp_security 'none' sends no password (it would go in plain text): use "
        "'starttls' or 'tls', or set smtp_user ''"]
    assert load(write(text.replace("'none'", "'starttls'"))).smtp_user == "owner"
    assert load(write(text.replace("'owner'\n", "''\n"))).smtp_user is None


# -- the options are declared once, beside their capabilities; the shipped file is made from them ---------


def test_shipped_file_is_made_from_the_declarations():
    from hotspot.config import uci_sample

    assert SHIPPED.read_text() == uci_sample(), "an option changed: run `make uci-sample` and commit the file"


def test_the_owner_may_set_what_the_admin_ui_and_hotspotctl_plan_set_set():
    from hotspot.config import SETTABLE

    assert sorted(SETTABLE) == sorted([
        "default_cap", "period", "period_start", "after_cap", "after_cap_rate", "auth", "plan_quota",
        "plan_period", "plan_period_start", "plan_start_hour", "plan_timezone", "plan_pass_length",
        "plan_activated", "plan_throttle_at", "plan_throttle_rate", "plan_block_at", "plan_stop_at",
        "roaming_throttle_at", "roaming_block_at", "roaming_stop_at", "roaming_quota", "alert_at",
        "owner_language"])


def test_a_start_day_is_checked_against_the_period_given_with_it():
    from hotspot.config import check_setting

    assert check_setting("plan_period_start", "8", {"plan_period": "monthly"}) == 8
    with pytest.raises(ValueError, match="'8' is not a day of the week between 1 .Monday. and 7"):
        check_setting("plan_period_start", "8", {"plan_period": "weekly"})
    assert check_setting("plan_period_start", "31", {"plan_period": "pass"}) == 31  # as daily
    with pytest.raises(ValueError, match="not a setting: lan_device"):
        check_setting("lan_device", "br0")


def test_the_machinery_knows_no_option_of_its_own(tmp_path):
    """core/config.py makes a Config of whatever is declared: its defaults, list options as tuples,
    its checks across options, every mistake at its line."""
    from collections.abc import Iterator

    from hotspot.core import config as machinery

    def both_or_neither(c) -> Iterator[tuple[str, str]]:
        if not c.refused("a", "b") and bool(c["a"]) != bool(c["b"]):
            yield ("b" if c.in_file("b") else "a"), "takes a and b together"

    options = [machinery.Option("a", machinery.boolean, False, "A switch."),
               machinery.Option("b", machinery.interface, (), "Some devices.", list=True, example="eth0"),
               machinery.Option("n", machinery.ranged(1, 9, "a digit from 1 to 9"), 5, "A digit.")]
    Small = machinery.make_config(options, section="small", default_path="/etc/config/small",
                                  checks=[both_or_neither])
    assert Small() == Small(a=False, b=[], n=5) and Small().b == () and Small().path == "/etc/config/small"
    path = tmp_path / "small"
    path.write_text("config small\n\toption n 12\n\tlist b 'eth1'\n\toption c 1\n")
    with pytest.raises(ConfigError) as e:
        machinery.load(path, Small)
    assert e.value.errors == [f"{path}:2: option n: '12' is not a digit from 1 to 9",
                              f"{path}:3: option b: takes a and b together",
                              f"{path}:4: unknown option 'c'"]
    path.write_text("config small\n\toption a 1\n\tlist b 'eth1'\n\tlist b 'eth2'\n")
    assert machinery.load(path, Small) == Small(a=True, b=("eth1", "eth2"))
    text = machinery.dump(Small(a=True, b=("eth1",)))
    assert text == "config small 'main'\n\toption a '1'\n\tlist b 'eth1'\n\toption n '5'\n"


@pytest.mark.parametrize("declare, reason", [
    (lambda m: m.Option("x", m.boolean, False, ""), "needs a one-line doc"),
    (lambda m: m.Option("x", m.boolean, False, "two\nlines"), "needs a one-line doc"),
    (lambda m: m.Option("x-y", m.boolean, False, "A switch."), "not a UCI option name"),
    (lambda m: m.Option("x", m.interface, (), "Devices.", list=True), "needs an example"),
    (lambda m: m.make_config([m.Option("x", m.boolean, False, "A."), m.Option("x", m.boolean, False, "B.")],
                             section="s", default_path="/p"), "declared twice"),
    (lambda m: m.make_config([m.Option("x", m.period_start("period", "daily"), 1, "A day.")],
                             section="s", default_path="/p"), "depends on period, which is not declared"),
])
def test_a_declaration_without_what_the_file_needs_is_refused_at_import(declare, reason):
    from hotspot.core import config as machinery

    with pytest.raises(ValueError, match=reason):
        declare(machinery)
