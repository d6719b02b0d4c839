"""A guest's own choices as pure rules: its points against the owner's cap and what it used (bad input
refused with its reason, nothing else), where it is asked next, and what the kernel holds of them."""

from __future__ import annotations

import pytest

from hotspot.clients import policy
from hotspot.core.store import Client
from hotspot.core.units import InvalidValue
from hotspot.kernel.rules import ClientElements, Guard, Marks, client_rules, new_clients_text, policy_cmds
from hotspot.ownlimits import model as own
from hotspot.ownlimits.keeper import parse_point

MB, GB = 10**6, 10**9


def client(**kw) -> Client:
    return Client(**{"id": 7, "mac": "aa:bb:cc:dd:ee:01", **kw})


@pytest.mark.parametrize("choice, reason, amount", [
    ({"limit": 3 * GB}, "above_cap", 2 * GB),  # above the owner's cap
    ({"warn": 3 * GB}, "above_cap", 2 * GB),
    ({"ask": 2 * GB + 1}, "above_cap", 2 * GB),
    ({"limit": 400 * MB}, "below_used", 500 * MB),  # below what it used
    ({"limit": GB, "warn": GB}, "warn_above_limit", GB),  # the warning must come first
    ({"limit": GB, "ask": GB}, "ask_above_limit", GB),
    ({"ask": 2 * GB}, "ask_above_limit", 2 * GB),  # at the owner's cap: never asked before it stops
    ({"ask": 500 * MB}, "ask_below_used", 500 * MB),  # it would be held at once
    ({"limit": 0}, "not_positive", None),
])
def test_a_refused_choice_says_why(choice, reason, amount):
    why = own.check(**{"limit": None, "warn": None, "ask": None, **choice}, owner_cap=2 * GB, used=500 * MB)
    assert why == own.Refusal(reason, amount)
    assert why.english()  # one line for hotspotctl and the log
    assert "\n" not in why.english()


@pytest.mark.parametrize("choice", [
    {"limit": 500 * MB, "warn": None, "ask": None},  # exactly what it used: stopped from the next byte
    {"limit": 2 * GB, "warn": GB, "ask": 1500 * MB},  # up to the owner's cap
    {"limit": None, "warn": 100 * MB, "ask": None},  # a warning it already passed: it is warned at once
    {"limit": None, "warn": None, "ask": None},
])
def test_a_choice_within_the_owners_cap_is_taken(choice):
    assert own.check(**choice, owner_cap=2 * GB, used=500 * MB) is None


def test_without_an_owners_cap_any_limit_above_its_use_will_do():
    assert own.check(limit=10**12, warn=None, ask=5 * 10**11, owner_cap=None, used=GB) is None


@pytest.mark.parametrize("text", ["lots", "-1GB", "1e9", "1GB; flush ruleset", "∞", "0x10"])
def test_a_point_that_is_not_a_size_is_refused(text):
    with pytest.raises(InvalidValue):
        parse_point(text)


def test_empty_or_none_is_no_point():
    assert parse_point("") is None and parse_point("none") is None and parse_point(" 2GB ") == 2 * GB


def test_the_effective_cap_is_the_lower_of_the_owners_and_its_own():
    assert policy.effective_cap(client(cap=2 * GB, topup=GB, own_limit=GB)) == GB
    assert policy.effective_cap(client(cap=GB, own_limit=2 * GB)) == GB  # never lifts the owner's
    assert policy.effective_cap(client(own_limit=GB)) == GB
    assert policy.owner_cap(client(cap=2 * GB, topup=GB, own_limit=GB)) == 3 * GB


def test_its_own_limit_stops_it_even_when_the_owner_throttles_at_the_cap(cfg):
    cfg = cfg.replace(after_cap="throttle", after_cap_rate=256_000)
    c = client(cap=2 * GB, own_limit=GB, period_down=GB)
    assert policy.state(c, cfg) == "capped" and policy.own_stopped(c)
    e = policy.elements(c, cfg)
    assert (e.quota, e.shape_capped, e.portal) == (GB, None, True)
    # the owner's cap below its own limit: the owner's rule (throttle) applies
    c = client(cap=GB, own_limit=2 * GB, period_down=GB)
    assert policy.state(c, cfg) == "throttled" and not policy.own_stopped(c)


def test_its_own_warning_warns(cfg):
    assert policy.state(client(own_warn=100 * MB, period_up=100 * MB), cfg) == "warned"
    assert policy.state(client(own_warn=100 * MB, period_up=99 * MB), cfg) == "ok"


@pytest.mark.parametrize("fields, default, point", [
    ({}, None, None),
    ({}, 500 * MB, 500 * MB),  # the owner's default for every device
    ({"ask_at": 300 * MB}, 500 * MB, 300 * MB),  # the owner's for this device comes first
    ({"ask_at": own.OFF}, 500 * MB, None),  # the owner said never for this device
    ({"own_ask": 200 * MB, "ask_at": 300 * MB}, None, 200 * MB),  # the lowest first
    ({"own_ask": 200 * MB, "ask_at": 300 * MB, "ask_done": 200 * MB}, None, 300 * MB),  # then the next
    ({"own_ask": 200 * MB, "ask_done": 200 * MB}, None, None),  # answered: not asked again this period
    ({"own_ask": GB, "cap": GB}, None, None),  # at its cap: the cap stops it first
    ({"own_ask": GB, "own_limit": 900 * MB}, None, None),
])
def test_where_it_is_asked_next(cfg, fields, default, point):
    assert policy.ask_point(client(**fields), cfg.replace(ask_default=default)) == point


def test_held_from_the_point_by_the_database_or_by_its_kernel_quota(cfg):
    c = client(own_ask=100 * MB, period_down=99 * MB)
    assert not policy.asking(c, cfg)
    assert policy.asking(c, cfg, ask_used=100 * MB)  # the kernel held it before the poll knew
    held = policy.elements(c, cfg, ask_used=100 * MB)
    assert held.ask == 100 * MB and held.portal  # its HTTP goes to the page that asks
    assert not policy.elements(c, cfg).portal


# -- what the kernel holds -------------------------------------------------------------------------


def _el(**kw) -> ClientElements:
    return ClientElements(**{"id": 5, "mac": "aa:bb:cc:dd:ee:01", **kw})


def test_an_ask_point_is_a_quota_that_gates_up_and_drops_down_before_anything_else():
    up, down = client_rules(_el(ask=100, quota=200), Marks())
    assert up[0] == [{"quota": "a5"}, {"goto": {"target": "gate"}}]
    assert down[0] == [{"quota": "a5"}, {"drop": None}]
    text = new_clients_text([_el(ask=100, used=30)], Marks(), Guard())
    assert "add quota inet hotspot a5 { over 100 bytes used 30 bytes }" in text
    assert 'quota name "a5" goto gate' in text


def test_a_device_without_an_ask_point_pays_nothing_for_it():
    assert client_rules(_el(), Marks()) == client_rules(_el(ask=None), Marks())
    assert "a5" not in new_clients_text([_el()], Marks(), Guard())


HANDLES = {"up5": [10, 11], "down5": [20, 21]}


def test_an_answer_takes_the_rule_out_then_deletes_the_quota():
    cmds = policy_cmds(_el(used=100), was=_el(ask=100, used=100), marks=Marks(), guard=Guard(),
                       handles=HANDLES)
    rule_out = {"delete": {"rule": {"family": "inet", "table": "hotspot", "chain": "up5", "handle": 10}}}
    assert cmds[0] == rule_out
    assert cmds[-1] == {"delete": {"quota": {"family": "inet", "table": "hotspot", "name": "a5"}}}


def test_a_moved_point_makes_the_quota_anew_from_the_bytes_delivered():
    """The old quota counted what it held back; the next point counts from what was delivered."""
    cmds = policy_cmds(_el(ask=300, used=120), was=_el(ask=100, used=100), marks=Marks(), guard=Guard(),
                       handles=HANDLES)
    ref = {"family": "inet", "table": "hotspot", "name": "a5"}
    assert {"delete": {"quota": ref}} in cmds
    assert {"add": {"quota": {**ref, "bytes": 300, "used": 120, "inv": True}}} in cmds
