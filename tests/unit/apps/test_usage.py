"""Which apps use the data and the update guard: the pure parts (dnsmasq's lines, the database's
per-category bytes, the breakdown, the guard's rules and policy, the options and the CLI's checks)."""

from __future__ import annotations

import io
import sqlite3

import pytest

from hotspot import cli
from hotspot.apps import categories
from hotspot.apps import dnsmasq as nftset
from hotspot.apps import usage as apps
from hotspot.cli import Environment, ExitStatus
from hotspot.clients import policy
from hotspot.config import ConfigError, load
from hotspot.core.store import SCHEMA, Client
from hotspot.kernel.rules import APP_GUARD_CLASS, ClientElements, Marks, client_rules


def test_nftset_lines_cover_every_domain_in_lines_dnsmasq_can_read():
    cats = categories.load()
    text = nftset.lines(cats)
    lines = [ln for ln in text.splitlines() if ln.startswith("nftset=")]
    assert all(len(ln) < nftset.MAX_LINE for ln in lines)
    for cat, domains in cats.by_category().items():
        mine = [ln for ln in lines if ln.endswith(f"#c6_{cat},6#inet#hotspot#c6_any")]
        got = [d for ln in mine for d in ln[len("nftset=/"):].rsplit("/", 1)[0].split("/")]
        assert got == domains
        assert all(f"/4#inet#hotspot#c4_{cat},4#inet#hotspot#c4_any,6#inet#hotspot#c6_{cat}," in ln
                   for ln in mine)


def test_a_long_category_is_split_over_lines():
    cats = categories.parse("[video]\n" + "".join(f"host{i:04d}.example.com\n" for i in range(200)))
    lines = nftset.lines(cats).splitlines()[1:]
    assert len(lines) > 4 and all(len(ln) < nftset.MAX_LINE for ln in lines)
    assert sum(ln.count("example.com") for ln in lines) == 200


def test_install_writes_and_restarts_only_on_a_change(tmp_path):
    path, ran = tmp_path / "d" / "hotspot.conf", tmp_path / "ran"
    restart = f"/bin/sh -c 'echo x >> {ran}'"
    assert nftset.install(str(path), "nftset=/a.test/4#inet#hotspot#c4_video\n", restart) is True
    assert nftset.install(str(path), "nftset=/a.test/4#inet#hotspot#c4_video\n", restart) is False
    assert ran.read_text() == "x\n"
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert nftset.install(str(path), "", "") is True and path.read_text() == ""
    assert ran.read_text() == "x\n"


@pytest.fixture
def db():
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(SCHEMA)
    return db


def test_record_adds_what_each_counter_counted_since_the_last_reading(db):
    now = 1_700_000_000.0
    assert apps.record(db, {(2, "video", "up"): 100, (2, "video", "down"): 1000}, now) == 1100
    assert apps.record(db, {(2, "video", "up"): 150, (2, "video", "down"): 1000,
                            (3, "games", "down"): 7}, now + 10) == 57
    apps.reset_seen(db)  # the table was rebuilt: its counters start from zero
    assert apps.record(db, {(2, "video", "up"): 5, (2, "video", "down"): 0}, now + 20) == 5
    assert apps.record(db, {(2, "video", "up"): 2, (2, "video", "down"): 0}, now + 30) == 2  # recreated
    got = apps.usage(db, now - 86400, now + 86400)
    assert got == {2: {"video": [157, 1000]}, 3: {"games": [0, 7]}}
    assert apps.usage(db, now, now + 86400, client=3) == {3: {"games": [0, 7]}}
    assert apps.usage(db, now + 86400, now + 2 * 86400) == {}


def test_breakdown_gives_other_as_the_rest_and_shares():
    rows = apps.breakdown({"video": [100, 500], "updates": [0, 200]}, [200, 1800])
    by = {r["category"]: r for r in rows}
    assert [r["category"] for r in rows[:3]] == ["other", "video", "updates"]
    assert (by["other"]["bytes_up"], by["other"]["bytes_down"]) == (100, 1100)
    assert by["video"]["percent"] == 30.0 and by["other"]["percent"] == 60.0
    assert set(by) == {*categories.CATEGORIES, categories.OTHER}
    zero = apps.breakdown({}, [0, 0])
    assert all(r["percent"] == 0 for r in zero) and zero[-1]["category"] == "other"  # ties: other last


def test_by_category_sums_clients():
    out = apps.by_category({"a": apps.breakdown({"video": [0, 10]}, [0, 10]),
                            "b": apps.breakdown({"video": [0, 30]}, [0, 50])})
    assert out[0] == {"category": "video", "bytes_total": 40,
                      "clients": [{"client": "b", "bytes_total": 30}, {"client": "a", "bytes_total": 10}]}
    assert out[1]["category"] == "other" and out[1]["bytes_total"] == 20


def _addr(field: str, cat: str, fam: int) -> dict:
    proto = "ip" if fam == 4 else "ip6"
    return {"match": {"op": "==", "left": {"payload": {"protocol": proto, "field": field}},
                      "right": f"@c{fam}_{cat}"}}


def test_the_update_guard_holds_its_categories_before_the_counter():
    up, down = client_rules(ClientElements(id=2, mac="aa:bb:cc:dd:ee:01", app_guard=("updates",)), Marks())
    gate, drop = {"goto": {"target": "gate"}}, {"drop": None}
    assert up[:2] == [[_addr("daddr", "updates", 4), gate], [_addr("daddr", "updates", 6), gate]]
    assert down[:2] == [[_addr("saddr", "updates", 4), drop], [_addr("saddr", "updates", 6), drop]]
    assert len(up) == 3 and len(down) == 3  # then the counter rule, as ever


def test_the_throttling_guard_sets_the_shared_class_and_a_stricter_one_wins():
    c = ClientElements(id=2, mac="aa:bb:cc:dd:ee:01", app_guard=("backup",), app_guard_rate=256_000,
                       shape="1:4", shape_rate=10_000_000)
    up, _down = client_rules(c, Marks())
    prio = {"mangle": {"key": {"meta": {"key": "priority"}}, "value": APP_GUARD_CLASS}}
    assert up[0] == [{"mangle": {"key": {"meta": {"key": "priority"}}, "value": "1:4"}}]
    assert up[1:3] == [[_addr("daddr", "backup", 4), prio], [_addr("daddr", "backup", 6), prio]]


def test_blocked_and_unguarded_clients_pay_nothing_for_the_guard():
    blocked = client_rules(ClientElements(id=2, mac="aa:bb:cc:dd:ee:01", blocked=True,
                                          app_guard=("updates",)), Marks())
    assert [len(r) for r in blocked] == [2, 2]
    plain = client_rules(ClientElements(id=2, mac="aa:bb:cc:dd:ee:01"), Marks())
    assert [len(r) for r in plain] == [1, 1]


def test_update_guard_policy_follows_the_default_unless_the_device_chose(cfg):
    on = cfg.replace(update_guard=True, update_guard_action="throttle")
    assert not policy.update_guarded(Client(id=2, mac="m"), cfg)
    assert policy.update_guarded(Client(id=2, mac="m"), on)
    assert not policy.update_guarded(Client(id=2, mac="m", update_guard=False), on)
    assert policy.update_guarded(Client(id=2, mac="m", update_guard=True), cfg)
    e = policy.elements(Client(id=2, mac="m"), on)
    assert e.app_guard == ("updates", "backup") and e.app_guard_rate == 256_000
    assert policy.elements(Client(id=2, mac="m"), cfg).app_guard == ()
    assert policy.app_guard_shaping(on) == {APP_GUARD_CLASS: 256_000}
    assert policy.app_guard_shaping(cfg) == {APP_GUARD_CLASS: None}


def test_options_are_checked(tmp_path):
    bad_list = tmp_path / "cats.conf"
    bad_list.write_text("[video]\nnot a domain\n[films]\n")
    conf = tmp_path / "hotspot"
    conf.write_text("config hotspot 'main'\n"
                    f"\toption categories_file '{bad_list}'\n"
                    "\tlist update_guard_categories 'updates'\n"
                    "\tlist update_guard_categories 'films'\n"
                    "\toption update_guard_action 'slow'\n"
                    "\toption dnsmasq_restart 'dnsmasq restart'\n")
    with pytest.raises(ConfigError) as e:
        load(conf)
    assert [ln.split(": ", 1)[1] for ln in e.value.errors] == [
        f"option categories_file: {bad_list}:2: 'not a domain' is not a domain name (and 1 more)",
        "option update_guard_categories: 'films' is not a category (one of video, social, messaging, maps, "
        "backup, updates, games)",
        "option update_guard_action: 'slow' is not one of block, throttle",
        "option dnsmasq_restart: 'dnsmasq restart' must start with an absolute path (or be 'none' for none)",
    ]


@pytest.mark.parametrize("args, message", [
    (["apps", "--from", "2024-13-01"], "apps: --from '2024-13-01' is not a date (YYYY-MM-DD)"),
    (["apps", "--from", "2024-05-02", "--to", "2024-05-01"], "apps: --to is before --from"),
    (["apps", "--period", "--to", "2024-05-01"], "apps: --period or --from/--to, not both"),
    (["guard", "aa:bb:cc:dd:ee:ff", "maybe"], None),
])
def test_cli_refuses_bad_input_in_one_line(args, message):
    env = Environment(stdout=io.StringIO(), stderr=io.StringIO())
    assert cli.main(args, env) == ExitStatus.USAGE
    err = env.stderr.getvalue()
    assert err.count("\n") == 1
    if message:
        assert err == f"hotspotctl: {message}\n"
