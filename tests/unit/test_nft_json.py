"""The JSON batches nft.py builds: pure data, checked without a kernel or an nftables context."""

from __future__ import annotations

import dataclasses
import json

import pytest

from hotspot.nft import ClientElements, Nft, NftError, counter_names, quota_name

T = {"family": "inet", "table": "hotspot"}
MAC = "aa:bb:cc:dd:ee:01"
HOSTILE = ['"; flush ruleset; "', "aa:bb:cc:dd:ee:ff } ; flush ruleset", "@cap", "$x", "a\nb", "\\*"]


@pytest.fixture
def nft() -> Nft:
    return Nft.__new__(Nft)  # no nftables context: _policy_cmds must not need one


def elem(name, items):
    return {"element": {**T, "name": name, "elem": items}}


def quota(cid, **kw):
    return {"quota": {**T, "name": f"q{cid}", **kw}}


def base(**kw) -> ClientElements:
    return ClientElements(**{"id": 5, "mac": MAC, **kw})


def test_names():
    assert counter_names(5) == ("u5", "d5")
    assert quota_name(5) == "q5"


def test_nothing_to_do(nft):
    assert nft._policy_cmds(base()) == []
    c = base(quota=1000, used=10, blocked=True, shape="1:a", shape_capped="1:b")
    assert nft._policy_cmds(c, was=c) == []
    assert nft._policy_cmds(dataclasses.replace(c, used=999), was=c) == []  # `used` only seeds a new quota


def test_new_quota_with_used(nft):
    assert nft._policy_cmds(base(quota=2_000_000_000, used=123_456)) == [
        {"add": quota(5, bytes=2_000_000_000, used=123_456, inv=True)},
        {"add": elem("cap", [[5, "q5"]])},
    ]


def test_cap_set_on_a_client_that_had_none(nft):
    assert nft._policy_cmds(base(quota=1000, used=400), was=base()) == [
        {"add": quota(5, bytes=1000, used=400, inv=True)},
        {"add": elem("cap", [[5, "q5"]])},
    ]


def test_cap_change_keeps_what_the_quota_consumed(nft):
    cmds = nft._policy_cmds(base(quota=5000, used=4000), was=base(quota=1000, used=900))
    assert cmds == [{"add": quota(5, bytes=5000, inv=True)}]
    assert "used" not in cmds[0]["add"]["quota"]  # re-adding without `used` keeps the kernel's consumed
    assert not any("element" in c.get("add", {}) or "delete" in c for c in cmds)


def test_cap_removed_deletes_the_element_before_the_object(nft):
    assert nft._policy_cmds(base(), was=base(quota=1000)) == [
        {"delete": elem("cap", [5])},
        {"delete": quota(5)},
    ]


def test_block_and_unblock(nft):
    assert nft._policy_cmds(base(blocked=True)) == [{"add": elem("blocked", [5])}]
    assert nft._policy_cmds(base(blocked=True), was=base()) == [{"add": elem("blocked", [5])}]
    assert nft._policy_cmds(base(), was=base(blocked=True)) == [{"delete": elem("blocked", [5])}]
    assert nft._policy_cmds(base(), was=base()) == []


def test_shape_added_changed_removed(nft):
    assert nft._policy_cmds(base(shape="1:a")) == [{"add": elem("shape", [[5, "1:a"]])}]
    assert nft._policy_cmds(base(shape="1:a"), was=base()) == [{"add": elem("shape", [[5, "1:a"]])}]
    assert nft._policy_cmds(base(), was=base(shape="1:a")) == [{"delete": elem("shape", [5])}]
    assert nft._policy_cmds(base(shape="1:c"), was=base(shape="1:a")) == [
        {"delete": elem("shape", [5])},
        {"add": elem("shape", [[5, "1:c"]])},
    ]


def test_shape_capped_is_independent_of_shape(nft):
    assert nft._policy_cmds(base(shape="1:a", shape_capped="1:b"), was=base(shape="1:a")) == [
        {"add": elem("shape_capped", [[5, "1:b"]])},
    ]
    assert nft._policy_cmds(base(shape="1:a"), was=base(shape="1:a", shape_capped="1:b")) == [
        {"delete": elem("shape_capped", [5])},
    ]


def test_everything_at_once_in_order(nft):
    was = base(quota=1000, blocked=True, shape="1:a")
    now = base(quota=None, blocked=False, shape=None, shape_capped="1:b")
    assert nft._policy_cmds(now, was=was) == [
        {"delete": elem("cap", [5])},
        {"delete": quota(5)},
        {"delete": elem("blocked", [5])},
        {"delete": elem("shape", [5])},
        {"add": elem("shape_capped", [[5, "1:b"]])},
    ]


def test_cap_of_zero_is_a_cap(nft):
    assert nft._policy_cmds(base(quota=0)) == [
        {"add": quota(5, bytes=0, used=0, inv=True)},
        {"add": elem("cap", [[5, "q5"]])},
    ]


# -- no value is ever nft syntax ------------------------------------------------------------------


class FakeNftables:
    """Stands in for nftables.Nftables: records what would reach libnftables."""

    def __init__(self, output=None, rc=0, error=""):
        self.json_batches: list = []
        self.text_commands: list[str] = []
        self.output, self.rc, self.error = output or {"nftables": []}, rc, error

    def json_cmd(self, obj):
        json.dumps(obj)  # must be plain JSON data
        self.json_batches.append(obj)
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
    cmds = nft._policy_cmds(c) + nft._policy_cmds(ClientElements(id=9, mac=HOSTILE[0]), was=c)
    assert cmds
    assert not any("flush" in s or MAC in s for s in strings(cmds))


@pytest.mark.parametrize("mac", HOSTILE)
def test_add_clients_passes_the_mac_as_one_json_value(nft, mac):
    fake = FakeNftables()
    nft._nft = fake
    nft.add_clients([ClientElements(id=3, mac=mac, quota=100, shape="1:6")])

    assert fake.text_commands == []  # nothing went through the nft-syntax parser
    batch = fake.json_batches[0]["nftables"]
    assert all(isinstance(cmd, dict) for cmd in batch)
    assert {"add": elem("client_id", [[mac, 3]])} in batch
    for s in strings(fake.json_batches):
        assert mac not in s or s == mac, f"{mac!r} pasted into {s!r}"  # the whole value or absent
    assert sum(s == mac for s in strings(fake.json_batches)) == 1


def test_add_clients_batch(nft):
    fake = FakeNftables()
    nft._nft = fake
    other = ClientElements(id=3, mac="aa:bb:cc:dd:ee:02", blocked=True)
    nft.add_clients([ClientElements(id=2, mac=MAC), other])
    assert fake.json_batches[0] == {"nftables": [
        {"add": {"counter": {**T, "name": "u2"}}},
        {"add": {"counter": {**T, "name": "d2"}}},
        {"add": {"counter": {**T, "name": "u3"}}},
        {"add": {"counter": {**T, "name": "d3"}}},
        {"add": elem("up", [[2, "u2"], [3, "u3"]])},
        {"add": elem("down", [[2, "d2"], [3, "d3"]])},
        {"add": elem("blocked", [3])},
        {"add": elem("client_id", [[MAC, 2], ["aa:bb:cc:dd:ee:02", 3]])},
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
    ids = [e[1] for b in adds for c in b["nftables"] if c.get("add", {}).get("element", {}).get("name")
           == "client_id" for e in c["add"]["element"]["elem"]]
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
    assert fake.json_batches == [{"nftables": [
        {"flush": {"set": {**T, "name": "lan_ifaces"}}},
        {"flush": {"set": {**T, "name": "wan_ifaces"}}},
        {"add": elem("lan_ifaces", ["br-lan"])},
        {"add": elem("wan_ifaces", ["wwan0", "eth1"])},
    ]}]
    assert fake.text_commands == []


def test_update_client_is_one_batch(nft):
    fake = FakeNftables()
    nft._nft = fake
    nft.update_client(base(blocked=True), was=base())
    assert fake.json_batches == [{"nftables": [{"add": elem("blocked", [5])}]}]
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
