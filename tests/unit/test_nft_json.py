"""The JSON batches nft.py builds: pure data, checked without a kernel or an nftables context."""

from __future__ import annotations

import dataclasses
import json

import pytest

from hotspot.kernel.nft import (
    ClientElements,
    Guard,
    Marks,
    Nft,
    NftError,
    client_rules,
    counter_names,
    quota_name,
)

T = {"family": "inet", "table": "hotspot"}
MAC = "aa:bb:cc:dd:ee:01"
HOSTILE = ['"; flush ruleset; "', "aa:bb:cc:dd:ee:ff } ; flush ruleset", "@cap", "$x", "a\nb", "\\*"]


@pytest.fixture
def nft() -> Nft:
    n = Nft.__new__(Nft)  # no nftables context: building commands must not need one
    n.marks = Marks()
    n.guard = Guard()
    return n


def elem(name, items):
    return {"element": {**T, "name": name, "elem": items}}


def quota(cid, **kw):
    return {"quota": {**T, "name": f"q{cid}", **kw}}


def base(**kw) -> ClientElements:
    return ClientElements(**{"id": 5, "mac": MAC, **kw})


def test_names():
    assert counter_names(5) == ("u5", "d5")
    assert quota_name(5) == "q5"


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


def test_nothing_to_do(nft):
    c = base(quota=1000, used=10, blocked=True, shape="1:a", shape_capped="1:b")
    assert nft._policy_cmds(c, was=c, handles=HANDLES) == []
    assert nft._policy_cmds(dataclasses.replace(c, used=999), was=c) == []  # `used` only seeds a new quota


def test_cap_set_on_a_client_that_had_none(nft):
    now = base(quota=1000, used=400)
    assert nft._policy_cmds(now, was=base(), handles=HANDLES) == [
        {"add": quota(5, bytes=1000, used=400, inv=True)}, *rewrite(now)]


def test_cap_set_below_what_was_used_starts_full(nft):
    """The kernel refuses a quota whose `used` is above its limit: the cap must still take hold."""
    assert nft._policy_cmds(base(quota=1000, used=5000), was=base(), handles=HANDLES)[0] == {
        "add": quota(5, bytes=1000, used=1000, inv=True)}


def test_cap_change_makes_the_quota_anew_from_the_bytes_delivered(nft):
    """A top-up after the cap: the old quota also counted the packets it dropped; the new one starts
    from what was delivered (`used`), so the client gets all of the top-up."""
    now = base(quota=5000, used=1000)
    cmds = nft._policy_cmds(now, was=base(quota=1000, used=900), handles=HANDLES)
    anew = [{"delete": quota(5)}, {"add": quota(5, bytes=5000, used=1000, inv=True)}]
    assert cmds == rewrite(now, between=anew)
    # without the rules' handles (nothing else changes), only the limit moves
    assert nft._policy_cmds(now, was=base(quota=1000)) == [{"add": quota(5, bytes=5000, inv=True)}]


def test_cap_removed_deletes_the_quota_after_the_rules_that_use_it(nft):
    cmds = nft._policy_cmds(base(), was=base(quota=1000), handles=HANDLES)
    assert cmds == [*rewrite(base()), {"delete": quota(5)}]


def test_block_throttle_replace_the_policy_rules(nft):
    for now, was in ((base(blocked=True), base()), (base(), base(blocked=True)),
                     (base(shape="1:c"), base(shape="1:a")), (base(shape_capped="1:b"), base(quota=3))):
        cmds = nft._policy_cmds(now, was=was, handles=HANDLES)
        assert [c for c in cmds if "rule" in c.get("insert", c.get("delete", {}))] == rewrite(now)
        assert not any("counter" in str(c) for c in cmds), "the counter rules are never touched"


# -- no value is ever nft syntax ------------------------------------------------------------------


class FakeNftables:
    """Stands in for nftables.Nftables: records what would reach libnftables."""

    def __init__(self, output=None, rc=0, error=""):
        self.json_batches: list = []
        self.text_commands: list[str] = []
        self.output, self.rc, self.error = output or {"nftables": []}, rc, error
        self.lists: dict[str, dict] = {}  # chain name -> what listing it answers
        self.fail_on = lambda cmds: False  # batches refused, as nft would (a missing element)

    def json_cmd(self, obj):
        json.dumps(obj)  # must be plain JSON data
        self.json_batches.append(obj)
        cmds = obj["nftables"]
        if self.fail_on(cmds):
            return 1, None, "Error: Could not process rule: No such file or directory"
        listed = cmds[0].get("list", {}).get("chain", {}).get("name") if len(cmds) == 1 else None
        if listed in self.lists:
            return 0, self.lists[listed], ""
        return self.rc, self.output, self.error

    def cmd(self, text):
        self.text_commands.append(text)
        return 0, "", ""


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


def test_policy_commands_never_carry_the_mac(nft):
    c = ClientElements(id=9, mac=HOSTILE[0], quota=10, used=1, blocked=True, shape="1:12",
                       shape_capped="1:13")
    handles = {"up9": [1, 2], "down9": [3, 4]}
    cmds = (nft._policy_cmds(c, was=base(id=9), handles=handles)
            + nft._policy_cmds(ClientElements(id=9, mac=HOSTILE[0]), was=c, handles=handles))
    assert cmds
    # only as a whole JSON value, as the key of its `free` element (blocked: held on free uplinks)
    assert not any(MAC in s or HOSTILE[0] in s for s in strings(cmds) if s != HOSTILE[0])
    assert [cmd for cmd in cmds if HOSTILE[0] in strings([cmd])] == [
        {"delete": elem("free", [HOSTILE[0]])}, {"add": elem("free", [[HOSTILE[0], GATE]])},
        {"delete": elem("free", [HOSTILE[0]])}, {"add": elem("free", [[HOSTILE[0], {"accept": None}]])}]


@pytest.mark.parametrize("mac", HOSTILE)
def test_add_clients_passes_the_mac_as_one_json_value(nft, mac):
    fake = FakeNftables()
    nft._nft = fake
    nft.add_clients([ClientElements(id=3, mac=mac, quota=100, shape="1:6")])

    assert fake.text_commands == []  # nothing went through the nft-syntax parser
    batch = fake.json_batches[0]["nftables"]
    assert all(isinstance(cmd, dict) for cmd in batch)
    assert {"add": elem("client_up", [[mac, {"goto": {"target": "up3"}}]])} in batch
    for s in strings(fake.json_batches):
        assert mac not in s or s == mac, f"{mac!r} pasted into {s!r}"  # the whole value or absent
    assert sum(s == mac for s in strings(fake.json_batches)) == 3  # client_up, http and free


def test_add_clients_batch(nft):
    fake = FakeNftables()
    nft._nft = fake
    other = ClientElements(id=3, mac="aa:bb:cc:dd:ee:02", quota=100, used=7)
    nft.add_clients([ClientElements(id=2, mac=MAC), other])

    def chains(c):
        up, down = client_rules(c, Marks())
        return ([{"add": {"chain": {**T, "name": f"up{c.id}"}}}]
                + [{"add": {"rule": {**T, "chain": f"up{c.id}", "expr": e}}} for e in up]
                + [{"add": {"chain": {**T, "name": f"down{c.id}"}}}]
                + [{"add": {"rule": {**T, "chain": f"down{c.id}", "expr": e}}} for e in down])

    assert fake.json_batches[0] == {"nftables": [
        *chains(ClientElements(id=2, mac=MAC)),
        {"add": quota(3, bytes=100, used=7, inv=True)},  # before the rules that name it
        *chains(other),
        {"add": elem("client_up", [[MAC, {"goto": {"target": "up2"}}],
                                   ["aa:bb:cc:dd:ee:02", {"goto": {"target": "up3"}}]])},
        {"add": elem("client_down", [[2 << 16, {"goto": {"target": "down2"}}],
                                     [3 << 16, {"goto": {"target": "down3"}}]])},
        {"add": elem("http", [[MAC, {"accept": None}], ["aa:bb:cc:dd:ee:02", {"accept": None}]])},
        {"add": elem("free", [[MAC, {"accept": None}], ["aa:bb:cc:dd:ee:02", {"accept": None}]])},
    ]}
    # then it reads the unknown set, to drop the MACs it just registered
    assert fake.json_batches[1] == {"nftables": [{"list": {"set": {**T, "name": "unknown"}}}]}


def test_add_clients_in_chunks(nft):
    """A batch per 250 clients: libnftables' memory grows with the batch."""
    fake = FakeNftables()
    nft._nft = fake
    nft.add_clients([ClientElements(id=i, mac=f"aa:bb:cc:dd:{i // 256:02x}:{i % 256:02x}")
                     for i in range(2, 602)])
    adds = [b for b in fake.json_batches if any("add" in c for c in b["nftables"])]
    assert len(adds) == 3
    ids = [e[0] >> 16 for b in adds for c in b["nftables"] if c.get("add", {}).get("element", {}).get("name")
           == "client_down" for e in c["add"]["element"]["elem"]]
    assert ids == list(range(2, 602))


def test_add_clients_forgets_registered_macs_that_were_unknown(nft):
    listed = {"nftables": [{"metainfo": {}}, {"set": {**T, "name": "unknown", "elem": [
        {"elem": {"val": MAC, "timeout": 600, "expires": 590}}, "aa:bb:cc:dd:ee:99"]}}]}
    fake = FakeNftables(output=listed)
    nft._nft = fake
    nft.add_clients([ClientElements(id=2, mac=MAC)])
    assert fake.json_batches[-1] == {"nftables": [{"delete": elem("unknown", [MAC])}]}


def test_set_interfaces_are_json_values(nft):
    fake = FakeNftables()
    nft._nft = fake
    nft.set_interfaces(["br-lan"], ["wwan0", "eth1"])
    up, down = {"goto": {"target": "upload"}}, {"goto": {"target": "download"}}
    assert fake.json_batches == [{"nftables": [
        {"flush": {"map": {**T, "name": "paths"}}},
        {"add": elem("paths", [[{"concat": ["br-lan", "wwan0"]}, up], [{"concat": ["wwan0", "br-lan"]}, down],
                               [{"concat": ["br-lan", "eth1"]}, up],
                               [{"concat": ["eth1", "br-lan"]}, down]])},
        {"flush": {"set": {**T, "name": "lan_ifaces"}}},
        {"add": elem("lan_ifaces", ["br-lan"])},
        {"flush": {"set": {**T, "name": "wan_ifaces"}}},
        {"add": elem("wan_ifaces", ["wwan0", "eth1"])},
    ]}]
    assert fake.text_commands == []


def test_update_client_is_one_batch(nft):
    listed = {"nftables": [{"metainfo": {}}, {"chain": {**T, "name": "up5"}},
                           {"rule": {**T, "chain": "up5", "handle": 9, "expr": UP}}]}
    fake = FakeNftables(output=listed)
    nft._nft = fake
    nft.update_client(base(blocked=True), was=base())
    lists, (change,) = fake.json_batches[:2], fake.json_batches[2:]
    assert [b["nftables"][0]["list"]["chain"]["name"] for b in lists] == ["up5", "down5"]
    assert change == {"nftables": [
        {"insert": {"rule": {**T, "chain": "up5", "handle": 9, "expr": [DROP]}}},
        {"insert": {"rule": {**T, "chain": "down5", "handle": 9, "expr": [DROP]}}},
        # a blocked client is held back on a free uplink too
        {"delete": elem("free", [MAC])}, {"add": elem("free", [[MAC, GATE]])}]}
    fake.json_batches.clear()
    nft.update_client(base(), was=base())
    assert fake.json_batches == []  # nothing to change: no transaction at all


def test_batch_error_is_one_line(nft):
    err = ("Error: Could not process rule: No such file or directory\n"
           'add element inet hotspot cap { 5 : "q5" }\n'
           "                             ^^^\n")
    nft._nft = FakeNftables(rc=1, error=err)
    with pytest.raises(NftError) as e:
        nft.batch([{"add": elem("blocked", [5])}])
    assert str(e.value) == "Error: Could not process rule: No such file or directory"


def test_reset_quota_returns_what_was_consumed(nft):
    nft._nft = FakeNftables(output={"nftables": [{"metainfo": {}}, quota(5, bytes=1000, used=777, inv=True)]})
    assert nft.reset_quota(5) == 777
    assert nft._nft.json_batches == [{"nftables": [{"reset": quota(5)}]}]
    nft._nft = FakeNftables(rc=1, error="Error: No such file or directory")
    assert nft.reset_quota(5) is None  # a client without a cap


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


def test_admitting_replaces_the_gate_and_the_http_verdict(nft):
    was = base(gated=True, portal=True)
    cmds = nft._policy_cmds(base(), was=was, handles=HANDLES)
    assert {"delete": {"rule": {**T, "chain": "up5", "handle": 7}}} in cmds
    assert {"delete": {"rule": {**T, "chain": "down5", "handle": 10}}} in cmds
    assert cmds[-4:-2] == [{"delete": elem("http", [MAC])}, {"add": elem("http", [[MAC, {"accept": None}]])}]
    assert cmds[-2:] == [{"delete": elem("free", [MAC])}, {"add": elem("free", [[MAC, {"accept": None}]])}]
    back = nft._policy_cmds(was, was=base(), handles=HANDLES)
    assert {"insert": {"rule": {**T, "chain": "up5", "handle": 9, "expr": [GATE]}}} in back
    assert {"insert": {"rule": {**T, "chain": "down5", "handle": 11, "expr": [DROP]}}} in back
    assert back[-3] == {"add": elem("http", [[MAC, TO_PORTAL]])}
    assert back[-1] == {"add": elem("free", [[MAC, GATE]])}


def test_http_verdict_is_only_rewritten_when_it_changes(nft):
    assert nft._policy_cmds(base(portal=True, quota=5), was=base(portal=True), handles=HANDLES)[-1] != \
        {"add": elem("http", [[MAC, TO_PORTAL]])}
    assert not [c for c in nft._policy_cmds(base(portal=True, quota=5), was=base(portal=True))
                if "http" in json.dumps(c)]


def test_set_http_deletes_then_adds_in_one_batch(nft):
    fake = FakeNftables()
    nft._nft = fake
    nft.set_http([(MAC, True), ("aa:bb:cc:dd:ee:02", False)])
    assert fake.json_batches == [{"nftables": [
        {"delete": elem("http", [MAC, "aa:bb:cc:dd:ee:02"])},
        {"add": elem("http", [[MAC, TO_PORTAL], ["aa:bb:cc:dd:ee:02", {"accept": None}]])},
    ]}]


@pytest.mark.parametrize("mac", HOSTILE)
def test_set_http_passes_the_mac_as_one_json_value(nft, mac):
    fake = FakeNftables()
    nft._nft = fake
    nft.set_http([(mac, True)])
    assert fake.text_commands == []
    for s in strings(fake.json_batches):
        assert mac not in s or s == mac


def test_the_ruleset_gates_in_our_table_only():
    from hotspot.kernel.nft import HOOK, RULESET

    ruleset, hook = RULESET.read_text(), HOOK.read_text()
    assert "redirect to :$PORTAL_PORT" in ruleset
    assert "reject with tcp reset" in ruleset and "reject with icmpx admin-prohibited" in ruleset
    assert "type nat hook prerouting" in hook and "tcp dport 80 iifname @lan_ifaces jump captive_http" in hook
    assert "hook" not in "".join(line for line in ruleset.splitlines() if not line.strip().startswith("#"))


# -- the plan guard -------------------------------------------------------------------------------------


GUARD = Guard(levels=("throttle", "block", "stop"), rate=2_000_000)


def q(name):
    return {"quota": name}


def test_guard_rules_count_every_packet_once_before_the_counter():
    up, down = client_rules(base(), Marks(), GUARD)
    assert up == [[q("g_block"), GATE], [q("g_stop"), DROP], [q("g_throttle"), prio("1:2")], UP]
    assert down == [[q("g_block"), DROP], [q("g_stop"), DROP], [q("g_throttle"), prio("1:2")], DOWN]
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
    assert capped[0] == [q("q5"), DROP]


def test_the_routers_chains_count_and_stop_only():
    from hotspot.kernel.nft import router_rules

    assert router_rules(GUARD, CAT_UP) == [[q("g_throttle")], [q("g_block")], [q("g_stop"), DROP],
                                           [COUNTER, CAT_UP]]
    assert router_rules(Guard(), CAT_DOWN) == [[COUNTER, CAT_DOWN]]


# -- devices not registered yet -----------------------------------------------------------------


def test_the_default_cap_before_registration_is_a_quota_per_address_in_both_directions():
    from hotspot.kernel.nft import unregistered_cap_rules

    quota = {"quota": {"val": 5_000_000, "val_unit": "bytes", "inv": True}}

    def rule(proto, field, family):
        key = {"payload": {"protocol": proto, "field": field}}
        return [{"set": {"op": "update", "elem": key, "set": f"@unreg_cap{family}", "stmt": [quota]}}, DROP]

    # the device's address is its source on the way up and the destination on the way down: both
    # directions meet the same element, so a download's acknowledgements count against it too
    assert unregistered_cap_rules(5_000_000, "upload") == [rule("ip", "saddr", 4), rule("ip6", "saddr", 6)]
    assert unregistered_cap_rules(5_000_000, "download") == [rule("ip", "daddr", 4), rule("ip6", "daddr", 6)]


def test_the_cap_and_the_guard_go_before_the_unregistered_tail(nft):
    """The default cap first (what it drops counts nowhere, not even in the guard's quotas), then the
    guard, then the rules that count (per device, then the chain's own counter)."""
    from hotspot.kernel.nft import TAIL, unregistered_cap_rules

    fake = FakeNftables()
    handles = {"upload": [10, 11, 12, 13, 14], "download": [20, 21, 22, 23, 24, 25, 26, 27]}
    fake.lists = {chain: {"nftables": [{"rule": {**T, "chain": chain, "handle": h}} for h in hs]}
                  for chain, hs in handles.items()}
    nft._nft = fake
    nft._build_guard(Guard(levels=("stop",)), {"stop": 100}, 0, cap=5_000_000)
    batch = fake.json_batches[-1]["nftables"]
    inserts = [c["insert"]["rule"] for c in batch if "insert" in c]
    for chain in ("upload", "download"):
        mine = [r for r in inserts if r["chain"] == chain]
        assert {r["handle"] for r in mine} == {handles[chain][-TAIL[chain]]}
        assert [r["expr"] for r in mine] == unregistered_cap_rules(5_000_000, chain) + [[q("g_stop"), DROP]]
    # without a default cap, only the guard
    fake.json_batches.clear()
    nft._build_guard(Guard(levels=("stop",)), {"stop": 100}, 0)
    inserts = [c["insert"]["rule"] for c in fake.json_batches[-1]["nftables"] if "insert" in c]
    assert [r["expr"] for r in inserts] == [[q("g_stop"), DROP]] * 2


def test_holds_and_forgetting_pass_macs_and_addresses_as_json_values():
    from hotspot.kernel.nft import forget_unregistered_cmds, hold_cmds

    assert hold_cmds("add", [MAC], ["10.0.0.2", "2001:db8::2"]) == [
        {"add": elem("unreg_hold", [MAC])}, {"add": elem("unreg_hold4", ["10.0.0.2"])},
        {"add": elem("unreg_hold6", ["2001:db8::2"])}]
    assert hold_cmds("delete", [], []) == []
    assert forget_unregistered_cmds([MAC, MAC], ["10.0.0.2", "2001:db8::2", "10.0.0.2"]) == [
        {"delete": elem("unreg_up", [MAC])},
        {"delete": elem("unreg_down4", ["10.0.0.2"])}, {"delete": elem("unreg_cap4", ["10.0.0.2"])},
        {"delete": elem("unreg_down6", ["2001:db8::2"])}, {"delete": elem("unreg_cap6", ["2001:db8::2"])}]


def test_a_deleted_element_that_is_gone_already_is_no_error(nft):
    """forget_unregistered tries the batch, then each element alone: one that timed out meanwhile
    must not keep the others."""
    fake = FakeNftables()
    fake.fail_on = lambda cmds: any("unreg_down4" in json.dumps(c) for c in cmds)
    nft._nft = fake
    nft.forget_unregistered([MAC], ["10.0.0.2"])
    singles = [b["nftables"] for b in fake.json_batches[1:]]
    assert [{"delete": elem("unreg_up", [MAC])}] in singles
    assert [{"delete": elem("unreg_cap4", ["10.0.0.2"])}] in singles


def test_unregistered_keys_read_as_hotspot_writes_them():
    from hotspot.kernel.nft import unregistered_key

    assert unregistered_key(bytes.fromhex("aabbccddee01")) == MAC
    assert unregistered_key(bytes([10, 0, 0, 2])) == "10.0.0.2"
    assert unregistered_key(bytes.fromhex("20010db8" + "0" * 22 + "02")) == "2001:db8::2"
