"""The forwarding rate with the app categories filled: dataplane_pps_ratio_categories.

Same lab, flood and pairing as tests/bench/dataplane.py (read its docstring): our 5,000-client table,
hooked, against no table, in alternating rounds. Here the table's category sets hold 10,000 addresses
spread over the seven categories (and the union sets), and the flood's destination is in the LAST
category's set: the flow's first packet passes the union lookup and all seven category lookups and
labels its connection; every packet then takes the label's bit tests (the "has a category" bit, then
the category's index, three bits at most) and the update of its client's element in the counting
set, the most the categories can cost a packet. "other" (the eighth category, most traffic) costs one
bit test and one lookup, the union set's: dataplane_pps_ratio measures that.
"""

from __future__ import annotations

import ipaddress
import json
import time

from hotspot.apps.categories import CATEGORIES
from lab import Lab
from tests.bench.common import emit, log, median, rnd, spread
from tests.bench.dataplane import SECONDS, Configs, Flood

ADDRESSES = 10_000
ROUNDS = 12
MIN_ROUNDS = 8
BUDGET = 100
GOAL = 0.92


def _fill(lab: Lab) -> None:
    """10,000 addresses over the categories, the flood's destination last, in the last category."""
    base = int(ipaddress.IPv4Address("198.18.0.0"))
    cmds = []
    per = ADDRESSES // len(CATEGORIES)
    for n, cat in enumerate(CATEGORIES):
        addrs = [str(ipaddress.IPv4Address(base + n * per + i)) for i in range(per)]
        if cat == CATEGORIES[-1]:
            addrs.append(lab.server4)
        for i in range(0, len(addrs), 1000):
            chunk = ", ".join(addrs[i:i + 1000])
            cmds.append(f"add element inet hotspot c4_{cat} {{ {chunk} }}")
            cmds.append(f"add element inet hotspot c4_any {{ {chunk} }}")
    lab.nft(lab.router, "\n".join(cmds) + "\n")


def _category_packets(lab: Lab) -> int:
    """Packets the last category's counting set holds (every client's element)."""
    out = lab.run(lab.router, "nft", "-j", "list", "set", "inet", "hotspot", f"cu_{CATEGORIES[-1]}").stdout
    sets = [o["set"] for o in json.loads(out)["nftables"] if "set" in o]
    return sum(e["elem"]["counter"]["packets"] for e in sets[0].get("elem", []) if isinstance(e, dict))


def run(rounds: int = ROUNDS, min_rounds: int = MIN_ROUNDS) -> None:
    samples: dict[str, list[float]] = {"none": [], "ours": []}
    paired: list[float] = []
    with Lab(clients=("c1",), offload=False, ipv6=False) as lab:
        sw = Configs(lab)
        sw.load()
        _fill(lab)
        flood = Flood(lab)
        flood.measure()  # warm-up
        t0 = time.monotonic()
        i = 0
        while i < rounds and (i < min_rounds or time.monotonic() - t0 < BUDGET):
            order = ["none", "ours"] if i % 2 == 0 else ["ours", "none"]
            got = {}
            for config in order:
                sw.apply(config)
                m = flood.measure()
                sw.check(config, m["received"])
                got[config] = m["pps"]
                samples[config].append(m["pps"])
            paired.append(got["ours"] / got["none"])
            log(f"categories round {i + 1}: ours/none {paired[-1]:.3f} "
                f"({got['ours']:.0f} / {got['none']:.0f} pps)")
            i += 1
        counted = _category_packets(lab)
        sw.apply("none")
        sw.clear()
    if counted < 0.5 * SECONDS * sum(samples["ours"]):  # the flood's packets met every category set
        raise RuntimeError(f"the last category counted {counted} packets: the flood missed the sets")
    sp = spread(paired)
    emit("dataplane_pps_ratio_categories", sp["median"], "ratio", goal=GOAL, iqr=sp["iqr"],
         range=sp["range"], pps_none=round(median(samples["none"])),
         pps_ours=round(median(samples["ours"])), rounds=i, addresses=ADDRESSES,
         categories=len(CATEGORIES) + 1, per_round=[rnd(x, 3) for x in paired],
         category_packets=counted,
         note=("as dataplane_pps_ratio (UDP 64-byte payload, pairwise rounds, median of per-round "
               "ours/none), with 10,000 addresses in the category sets and the destination in the last "
               "category: the flow's first packet finds it (union lookup + 7 category lookups) and "
               "labels the connection; every packet then takes 4 label bit tests and the counting "
               "set's update, after the 5,000-client table's own counting"))
