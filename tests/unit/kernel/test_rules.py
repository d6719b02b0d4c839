"""The JSON rules and commands rules.py builds: pure data, checked without a kernel or an nftables context."""

from __future__ import annotations

import dataclasses
import json

import pytest

from hotspot.kernel.rules import (
    ClientElements,
    Guard,
    Marks,
    client_rules,
    counter_key,
    counter_names,
    forget_unregistered_cmds,
    guard_chain_rules,
    guard_cmds,
    hold_cmds,
    new_clients_text,
    policy_cmds,
    quota_name,
    router_rules,
    stmt_text,
    unregistered_cap_rules,
    unregistered_key,
)

T = {"family": "inet", "table": "hotspot"}
MAC = "aa:bb:cc:dd:ee:01"
HOSTILE = ['"; flush ruleset; "', "aa:bb:cc:dd:ee:ff } ; flush ruleset", "@cap", "$x", "a\nb", "\\*"]


def elem(name, items):
    return {"element": {**T, "name": name, "elem": items}}


def quota(cid, **kw):
    return {"quota": {**T, "name": f"q{cid}", **kw}}


def base(**kw) -> ClientElements:
    return ClientElements(**{"id": 5, "mac": MAC, **kw})


def policy(c, *, was, handles=None):
    """policy_cmds with the default marks and no plan guard."""
    return policy_cmds(c, was=was, marks=Marks(), guard=Guard(), handles=handles)


def test_names():
    assert counter_names(5) == ("u5", "d5")
    assert quota_name(5) == "q5"


def test_counter_names_of_chains():
    assert [counter_key(c) for c in ("up5", "down12", "upload", "download", "forward", "upx", "down")] == [
        "u5", "d12", "u1", "d1", None, None, None]


def test_marks_keep_the_bits_of_others():
    m = Marks(0xFFFF0000)
    assert (m.shift, m.keep, m.max_id, m.value(5)) == (16, 0x0000FFFF, 0xFFFF, 0x50000)
    m = Marks(0x00FF0000)
    assert (m.shift, m.keep, m.max_id, m.value(2)) == (16, 0xFF00FFFF, 0xFF, 0x20000)
    assert "redefine ID_MASK = 0xff0000" in m.defines() and "redefine UNREGISTERED = 0x10000" in m.defines()


SET_ID = {"mangle": {"key": {"ct": {"key": "mark"}},
                     "value": {"|": [{"&": [{"ct": {"key": "mark"}}, 0xFFFF]}, 5 << 16]}}}
DROP = {"drop": None}
COUNTER = {"counter": {"packets": 0, "bytes": 0}}
CAT_UP, CAT_DOWN = {"goto": {"target": "cat_up"}}, {"goto": {"target": "cat_down"}}
# the counter rules, always last; counting before the mark, then on to the app categories
UP, DOWN = [COUNTER, SET_ID, CAT_UP], [COUNTER, CAT_DOWN]


def prio(classid):
    return {"mangle": {"key": {"meta": {"key": "priority"}}, "value": classid}}


def test_a_client_without_policy_pays_one_counter():
    assert client_rules(base(), Marks()) == ([UP], [DOWN])


def test_blocked_drops_before_counting():
    assert client_rules(base(blocked=True, quota=10, shape="1:a"), Marks()) == ([[DROP], UP], [[DROP], DOWN])


def test_cap_and_throttles_are_constants_in_the_chain():
    up, down = client_rules(base(quota=10, shape="1:a", shape_capped="1:b"), Marks())
    assert up == [[prio("1:a")], [{"quota": "q5"}, prio("1:b")], UP]
    assert down == [[prio("1:a")], [{"quota": "q5"}, prio("1:b")], DOWN]
    _, down = client_rules(base(quota=0), Marks())
    assert down == [[{"quota": "q5"}, DROP], DOWN]  # a cap of zero is a cap


HANDLES = {"up5": [7, 8, 9], "down5": [10, 11]}  # the last of each: the counter rule


def rewrite(c, between=()):
    """Commands that replace the policy rules of up5/down5 (HANDLES) with c's, keeping the counters:
    the old rules go, then `between` (a quota made anew), then the new rules."""
    up, down = client_rules(c, Marks())
    rule = {**T, "chain": "up5"}
    return ([{"delete": {"rule": {**rule, "handle": 7}}}, {"delete": {"rule": {**rule, "handle": 8}}},
             {"delete": {"rule": {**T, "chain": "down5", "handle": 10}}}, *between]
            + [{"insert": {"rule": {**rule, "handle": 9, "expr": e}}} for e in up[:-1]]
            + [{"insert": {"rule": {**T, "chain": "down5", "handle": 11, "expr": e}}} for e in down[:-1]])


def test_nothing_to_do():
    c = base(quota=1000, used=10, blocked=True, shape="1:a", shape_capped="1:b")
    assert policy(c, was=c, handles=HANDLES) == []
    assert policy(dataclasses.replace(c, used=999), was=c) == []  # `used` only seeds a new quota


def test_cap_set_on_a_client_that_had_none():
    now = base(quota=1000, used=400)
    assert policy(now, was=base(), handles=HANDLES) == [
        {"add": quota(5, bytes=1000, used=400, inv=True)}, *rewrite(now)]


def test_cap_set_below_what_was_used_starts_full():
    """The kernel refuses a quota whose `used` is above its limit: the cap must still take hold."""
    assert policy(base(quota=1000, used=5000), was=base(), handles=HANDLES)[0] == {
        "add": quota(5, bytes=1000, used=1000, inv=True)}


def test_cap_change_makes_the_quota_anew_from_the_bytes_delivered():
    """A top-up after the cap: the old quota also counted the packets it dropped; the new one starts
    from what was delivered (`used`), so the client gets all of the top-up."""
    now = base(quota=5000, used=1000)
    cmds = policy(now, was=base(quota=1000, used=900), handles=HANDLES)
    anew = [{"delete": quota(5)}, {"add": quota(5, bytes=5000, used=1000, inv=True)}]
    assert cmds == rewrite(now, between=anew)
    # without the rules' handles (nothing else changes), only the limit moves
    assert policy(now, was=base(quota=1000)) == [{"add": quota(5, bytes=5000, inv=True)}]


def test_cap_removed_deletes_the_quota_after_the_rules_that_use_it():
    cmds = policy(base(), was=base(quota=1000), handles=HANDLES)
    assert cmds == [*rewrite(base()), {"delete": quota(5)}]


def test_block_throttle_replace_the_policy_rules():
    for now, was in ((base(blocked=True), base()), (base(), base(blocked=True)),
                     (base(shape="1:c"), base(shape="1:a")), (base(shape_capped="1:b"), base(quota=3))):
        cmds = policy(now, was=was, handles=HANDLES)
        assert [c for c in cmds if "rule" in c.get("insert", c.get("delete", {}))] == rewrite(now)
        assert not any("counter" in str(c) for c in cmds), "the counter rules are never touched"


# -- no value is ever nft syntax ------------------------------------------------------------------


def strings(obj):
    """Every string in a JSON document, keys included."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from strings(v)


def test_policy_commands_never_carry_the_mac():
    c = ClientElements(id=9, mac=HOSTILE[0], quota=10, used=1, blocked=True, shape="1:12",
                       shape_capped="1:13")
    handles = {"up9": [1, 2], "down9": [3, 4]}
    cmds = (policy(c, was=base(id=9), handles=handles)
            + policy(ClientElements(id=9, mac=HOSTILE[0]), was=c, handles=handles))
    assert cmds
    # only as a whole JSON value, as the key of its `free` element (blocked: held on free uplinks)
    assert not any(MAC in s or HOSTILE[0] in s for s in strings(cmds) if s != HOSTILE[0])
    assert [cmd for cmd in cmds if HOSTILE[0] in strings([cmd])] == [
        {"delete": elem("free", [HOSTILE[0]])}, {"add": elem("free", [[HOSTILE[0], GATE]])},
        {"delete": elem("free", [HOSTILE[0]])}, {"add": elem("free", [[HOSTILE[0], {"accept": None}]])}]


# -- captive gate ---------------------------------------------------------------------------------


GATE = {"goto": {"target": "gate"}}
TO_PORTAL = {"goto": {"target": "portal"}}


def test_a_gated_client_goes_to_the_gate_up_and_is_dropped_down():
    """The gate is a constant in the client's own chains, like a block: one rule before the counter."""
    assert client_rules(base(gated=True), Marks()) == ([[GATE], UP], [[DROP], DOWN])
    # its cap and throttle wait until it is admitted; a block still wins (dropped, no reject)
    assert client_rules(base(gated=True, quota=10, shape="1:a"), Marks()) == ([[GATE], UP], [[DROP], DOWN])
    assert client_rules(base(gated=True, blocked=True), Marks()) == ([[DROP], UP], [[DROP], DOWN])


def test_an_admitted_client_pays_nothing_for_the_gate():
    assert client_rules(base(gated=False, portal=False), Marks()) == ([UP], [DOWN])
    assert client_rules(base(portal=True), Marks()) == ([UP], [DOWN])  # HTTP is the nat chain's job


def test_admitting_replaces_the_gate_and_the_http_verdict():
    was = base(gated=True, portal=True)
    cmds = policy(base(), was=was, handles=HANDLES)
    assert {"delete": {"rule": {**T, "chain": "up5", "handle": 7}}} in cmds
    assert {"delete": {"rule": {**T, "chain": "down5", "handle": 10}}} in cmds
    assert cmds[-4:-2] == [{"add": elem("http", [[MAC, TO_PORTAL]])}, {"delete": elem("http", [MAC])}]
    assert cmds[-2:] == [{"delete": elem("free", [MAC])}, {"add": elem("free", [[MAC, {"accept": None}]])}]
    back = policy(was, was=base(), handles=HANDLES)
    assert {"insert": {"rule": {**T, "chain": "up5", "handle": 9, "expr": [GATE]}}} in back
    assert {"insert": {"rule": {**T, "chain": "down5", "handle": 11, "expr": [DROP]}}} in back
    assert back[-3] == {"add": elem("http", [[MAC, TO_PORTAL]])}  # no delete: it goes to the portal
    assert back[-1] == {"add": elem("free", [[MAC, GATE]])}


def test_http_verdict_is_only_rewritten_when_it_changes():
    assert policy(base(portal=True, quota=5), was=base(portal=True), handles=HANDLES)[-1] != \
        {"add": elem("http", [[MAC, TO_PORTAL]])}
    assert not [c for c in policy(base(portal=True, quota=5), was=base(portal=True))
                if "http" in json.dumps(c)]


# -- the plan guard -------------------------------------------------------------------------------------


GUARD = Guard(levels=("throttle", "block", "stop"), rate=2_000_000)


def q(name):
    return {"quota": name}


def test_guard_rules_count_every_packet_once_before_the_counter():
    # a client that sets no throttle class of its own meets the guard in its shared chains, whose
    # rules are the ones its own chains would hold, in the same order
    up, down = client_rules(base(), Marks(), GUARD)
    assert up == [[{"jump": {"target": "guard_up"}}], UP]
    assert down == [[{"jump": {"target": "guard_down"}}], DOWN]
    assert guard_chain_rules(GUARD) == (
        [[q("g_block"), GATE], [q("g_stop"), DROP], [q("g_throttle"), prio("1:2")]],
        [[q("g_block"), DROP], [q("g_stop"), DROP], [q("g_throttle"), prio("1:2")]])
    # one that does holds them as constants, its own class among them
    up, down = client_rules(base(shape="1:a", shape_rate=256_000), Marks(), GUARD)
    assert up == [[q("g_block"), GATE], [q("g_stop"), DROP], [q("g_throttle"), prio("1:2")],
                  [prio("1:a")], UP]
    # no guard, no jump
    assert client_rules(base(), Marks(), Guard()) == ([UP], [DOWN])
    # the owner's device only counts, but stops at the hard ceiling
    up, _ = client_rules(base(exempt=True), Marks(), GUARD)
    assert up == [[q("g_throttle")], [q("g_block")], [q("g_stop"), DROP], UP]
    # blocked or gated: held back before anything counts
    assert client_rules(base(blocked=True), Marks(), GUARD) == ([[DROP], UP], [[DROP], DOWN])


def test_the_strictest_throttle_class_is_set_last():
    # the client's own 256 kbit/s beats the guard's shared 2 Mbit/s; its 50 Mbit/s does not
    slow, _ = client_rules(base(shape="1:a", shape_rate=256_000), Marks(), GUARD)
    assert slow[-3:] == [[q("g_throttle"), prio("1:2")], [prio("1:a")], UP]
    fast, _ = client_rules(base(shape="1:a", shape_rate=50_000_000), Marks(), GUARD)
    assert fast[-3:] == [[prio("1:a")], [q("g_throttle"), prio("1:2")], UP]
    # a cap's drop comes before the guard's quotas: a packet it drops counts nowhere
    capped, _ = client_rules(base(quota=10), Marks(), GUARD)
    assert capped == [[q("q5"), DROP], [{"jump": {"target": "guard_up"}}], UP]
    after_cap, _ = client_rules(base(quota=10, shape_capped="1:b", capped_rate=64_000), Marks(), GUARD)
    assert after_cap[:3] == [[q("g_block"), GATE], [q("g_stop"), DROP], [q("g_throttle"), prio("1:2")]]


def test_the_routers_chains_count_and_stop_only():
    assert router_rules(GUARD, CAT_UP) == [[q("g_throttle")], [q("g_block")], [q("g_stop"), DROP],
                                           [COUNTER, CAT_UP]]
    assert router_rules(Guard(), CAT_DOWN) == [[COUNTER, CAT_DOWN]]


# -- devices not registered yet -----------------------------------------------------------------


def test_the_default_cap_before_registration_is_a_quota_per_address_in_both_directions():
    quota = {"quota": {"val": 5_000_000, "val_unit": "bytes", "inv": True}}

    def rule(proto, field, family):
        key = {"payload": {"protocol": proto, "field": field}}
        return [{"set": {"op": "update", "elem": key, "set": f"@unreg_cap{family}", "stmt": [quota]}}, DROP]

    # the device's address is its source on the way up and the destination on the way down: both
    # directions meet the same element, so a download's acknowledgements count against it too
    assert unregistered_cap_rules(5_000_000, "upload") == [rule("ip", "saddr", 4), rule("ip6", "saddr", 6)]
    assert unregistered_cap_rules(5_000_000, "download") == [rule("ip", "daddr", 4), rule("ip6", "daddr", 6)]


def test_holds_and_forgetting_pass_macs_and_addresses_as_json_values():
    assert hold_cmds("add", [MAC], ["10.0.0.2", "2001:db8::2"]) == [
        {"add": elem("unreg_hold", [MAC])}, {"add": elem("unreg_hold4", ["10.0.0.2"])},
        {"add": elem("unreg_hold6", ["2001:db8::2"])}]
    assert hold_cmds("delete", [], []) == []
    assert forget_unregistered_cmds([MAC, MAC], ["10.0.0.2", "2001:db8::2", "10.0.0.2"]) == [
        {"delete": elem("unreg_up", [MAC])},
        {"delete": elem("unreg_down4", ["10.0.0.2"])}, {"delete": elem("unreg_cap4", ["10.0.0.2"])},
        {"delete": elem("unreg_down6", ["2001:db8::2"])}, {"delete": elem("unreg_cap6", ["2001:db8::2"])}]


def test_unregistered_keys_read_as_hotspot_writes_them():
    assert unregistered_key(bytes.fromhex("aabbccddee01")) == MAC
    assert unregistered_key(bytes([10, 0, 0, 2])) == "10.0.0.2"
    assert unregistered_key(bytes.fromhex("20010db8" + "0" * 22 + "02")) == "2001:db8::2"


def test_the_text_of_new_clients_jumps_only_to_the_guards_chains():
    text = new_clients_text([base()], Marks(), GUARD)
    assert "add rule inet hotspot up5 jump guard_up\n" in text
    assert "add rule inet hotspot down5 jump guard_down\n" in text
    for chain in ("up6", "gate", "guard_up; flush ruleset"):
        with pytest.raises(ValueError):
            stmt_text({"jump": {"target": chain}})


def test_the_guards_shared_chains_are_filled_with_the_table_and_stay_empty_without_a_guard():
    tails = {"upload": 7, "download": 9}
    cmds = guard_cmds(GUARD, {"throttle": 10, "block": 20, "stop": 30}, 0, tails)
    shared = {chain: [c["add"]["rule"]["expr"] for c in cmds
                      if "rule" in c.get("add", {}) and c["add"]["rule"]["chain"] == chain]
              for chain in ("guard_up", "guard_down")}
    assert (shared["guard_up"], shared["guard_down"]) == guard_chain_rules(GUARD)
    assert not [c for c in guard_cmds(Guard(), {}, 0, tails) if "guard_" in json.dumps(c)]
