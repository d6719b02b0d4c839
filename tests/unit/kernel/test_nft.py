"""The executor (kernel/nft.py) against a stand-in for libnftables: what reaches it, batch by batch."""

from __future__ import annotations

import json

import pytest

from hotspot.kernel.dumps import NftError
from hotspot.kernel.nft import HOOK, RULESET, Nft
from hotspot.kernel.rules import TAIL, ClientElements, Guard, Marks, unregistered_cap_rules
from tests.unit.kernel.test_rules import (
    DROP,
    GATE,
    HOSTILE,
    MAC,
    TO_PORTAL,
    UP,
    T,
    base,
    elem,
    q,
    quota,
    strings,
)


@pytest.fixture
def nft() -> Nft:
    n = Nft.__new__(Nft)  # no nftables context: building commands must not need one
    n.marks = Marks()
    n.guard = Guard()
    return n


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


# -- no value is ever nft syntax ------------------------------------------------------------------


@pytest.mark.parametrize("mac", HOSTILE)
def test_add_clients_refuses_a_mac_it_did_not_format(nft, mac):
    """New clients go to nft as text, written only from values parsed and formatted again: a MAC
    that does not parse stops the batch before anything reaches libnftables."""
    fake = FakeNftables()
    nft._nft = fake
    with pytest.raises(ValueError, match="not a MAC address"):
        nft.add_clients([ClientElements(id=2, mac=MAC),
                         ClientElements(id=3, mac=mac, quota=100, shape="1:6")])
    assert fake.text_commands == [] and fake.json_batches == []


@pytest.mark.parametrize("field, value", [("ips", ("10.0.0.1; flush ruleset",)),
                                          ("blocked_dests", ("192.0.2.1 } ; flush ruleset",)),
                                          ("shape", "1:6 drop"), ("app_guard", ("video; flush",))])
def test_add_clients_refuses_any_value_it_did_not_format(nft, field, value):
    fake = FakeNftables()
    nft._nft = fake
    with pytest.raises(ValueError):
        nft.add_clients([ClientElements(id=3, mac=MAC, **{field: value})])
    assert fake.text_commands == [] and fake.json_batches == []


def test_add_clients_batch(nft):
    """One transaction of nft text: a client's quota before the rules that name it, its chains, then
    the maps' elements; only a client sent to the portal has an element in `http`."""
    fake = FakeNftables()
    nft._nft = fake
    nft.add_clients([ClientElements(id=2, mac=MAC.upper(), ips=("10.0.0.2", "fd00::2")),
                     ClientElements(id=3, mac="aa:bb:cc:dd:ee:02", quota=100, used=7, portal=True)])
    t = "inet hotspot"
    assert fake.text_commands == [
        f"add chain {t} up2\n"
        f"add rule {t} up2 counter packets 0 bytes 0 ct mark set ct mark and 0xffff or 0x20000 goto cat_up\n"
        f"add chain {t} down2\n"
        f"add rule {t} down2 counter packets 0 bytes 0 goto cat_down\n"
        f"add quota {t} q3 {{ over 100 bytes used 7 bytes }}\n"
        f"add chain {t} up3\n"
        f'add rule {t} up3 quota name "q3" drop\n'
        f"add rule {t} up3 counter packets 0 bytes 0 ct mark set ct mark and 0xffff or 0x30000 goto cat_up\n"
        f"add chain {t} down3\n"
        f'add rule {t} down3 quota name "q3" drop\n'
        f"add rule {t} down3 counter packets 0 bytes 0 goto cat_down\n"
        f"add element {t} client_up {{ {MAC} : goto up2, aa:bb:cc:dd:ee:02 : goto up3 }}\n"
        f"add element {t} client_up_mark {{ 0x20000 : goto up2, 0x30000 : goto up3 }}\n"
        f"add element {t} client_down {{ 0x20000 : goto down2, 0x30000 : goto down3 }}\n"
        f"add element {t} http {{ aa:bb:cc:dd:ee:02 : goto portal }}\n"
        f"add element {t} free {{ {MAC} : accept, aa:bb:cc:dd:ee:02 : accept }}\n"
        f"add element {t} addr4 {{ 10.0.0.2 : goto down2 }}\n"
        f"add element {t} addr6 {{ fd00::2 : goto down2 }}\n"]
    # then it reads the unknown set, to drop the MACs it just registered
    assert fake.json_batches == [{"nftables": [{"list": {"set": {**T, "name": "unknown"}}}]}]


def test_add_clients_in_transactions_of_a_thousand(nft):
    """A transaction per 1,000 clients: libnftables holds a whole one in memory. The held devices
    are let go in the last."""
    fake = FakeNftables()
    nft._nft = fake
    nft.add_clients([ClientElements(id=i, mac=f"aa:bb:cc:dd:{i // 256:02x}:{i % 256:02x}")
                     for i in range(2, 2602)], release=(["aa:bb:cc:dd:ee:09"], ["10.0.0.9"]))
    assert [t.count("add chain") for t in fake.text_commands] == [2000, 2000, 1200]
    assert "unreg_hold" not in "".join(fake.text_commands[:2])
    text = fake.text_commands[-1]
    assert text.endswith("delete element inet hotspot unreg_hold { aa:bb:cc:dd:ee:09 }\n"
                         "delete element inet hotspot unreg_hold4 { 10.0.0.9 }\n")


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


def test_set_http_deletes_then_adds_in_one_batch(nft):
    fake = FakeNftables()
    nft._nft = fake
    nft.set_http([(MAC, True), ("aa:bb:cc:dd:ee:02", False)])
    assert fake.json_batches == [{"nftables": [  # adding one there is no error; deleting one absent is
        {"add": elem("http", [[MAC, TO_PORTAL], ["aa:bb:cc:dd:ee:02", TO_PORTAL]])},
        {"delete": elem("http", ["aa:bb:cc:dd:ee:02"])},
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
    ruleset, hook = RULESET.read_text(), HOOK.read_text()
    assert "redirect to :$PORTAL_PORT" in ruleset
    assert "reject with tcp reset" in ruleset and "reject with icmpx admin-prohibited" in ruleset
    assert "type nat hook prerouting" in hook and "tcp dport 80 iifname @lan_ifaces jump captive_http" in hook
    assert "hook" not in "".join(line for line in ruleset.splitlines() if not line.strip().startswith("#"))


# -- devices not registered yet -----------------------------------------------------------------


def test_the_cap_and_the_guard_go_before_the_unregistered_tail(nft):
    """The default cap first (what it drops counts nowhere, not even in the guard's quotas), then the
    guard, then the rules that count (per device, then the chain's own counter)."""
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
