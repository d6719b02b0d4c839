"""The executor (kernel/nft.py) against a stand-in for libnftables: what reaches it, batch by batch."""

from __future__ import annotations

import json

import pytest

from hotspot.kernel.dumps import NftError
from hotspot.kernel.nft import HOOK, RULESET, Nft
from hotspot.kernel.rules import TAIL, ClientElements, Guard, Marks, client_rules, unregistered_cap_rules
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
