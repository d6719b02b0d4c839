"""Flow offloading is found in fw4's ruleset as the kernel reports it in JSON."""

from __future__ import annotations

from hotspot.core.uci import uci_options
from hotspot.kernel.nft import Nft

FW4_RULESET = {"nftables": [
    {"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
    {"table": {"family": "inet", "name": "fw4", "handle": 1}},
    {"flowtable": {"family": "inet", "name": "ft", "table": "fw4", "handle": 2, "hook": "ingress",
                   "prio": 0, "dev": ["wan", "lan1"]}},
    {"chain": {"family": "inet", "table": "fw4", "name": "forward", "handle": 3}},
    {"rule": {"family": "inet", "table": "fw4", "chain": "forward", "handle": 9, "expr": [
        {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}},
        {"flow": {"op": "add", "flowtable": "@ft"}}]}},
]}


class FakeNftables:
    def __init__(self, out):
        self.out = out

    def json_cmd(self, cmd):
        return 0, self.out, ""


def _nft(out) -> Nft:
    n = Nft.__new__(Nft)
    n._nft = FakeNftables(out)
    return n


def test_flow_add_rule_is_reported_with_its_place():
    assert _nft(FW4_RULESET).flow_offload() == ["table inet fw4 chain forward: flow add @ft"]


def test_a_flowtable_without_a_flow_add_rule_offloads_nothing():
    ruleset = {"nftables": [o for o in FW4_RULESET["nftables"] if "rule" not in o]}
    assert _nft(ruleset).flow_offload() == []


def test_firewall_defaults_from_uci():
    text = "config defaults\n\toption flow_offloading '1'\n\toption flow_offloading_hw '0'\n" \
           "config zone\n\toption flow_offloading '0'\n"
    assert uci_options(text, "defaults") == {"flow_offloading": "1", "flow_offloading_hw": "0"}
