"""What each kind of rule on the metered path costs a packet: rule_cost_ns.

Same lab and flood as tests/bench/dataplane.py (read its docstring). A table of its own, `budget`,
hooks one forward base chain holding COPIES copies of one kind of rule, each written so the packet
goes on to the next (a lookup that misses, a quota never reached, a test that fails, a statement
with no verdict); the baseline is the same base chain with no rule, measured in the same rounds. On
veths the whole forwarding path runs on the sending CPU, so the time a packet costs is 1/pps there,
and one rule costs (1/pps_kind - 1/pps_empty) / COPIES, each kind measured right beside an empty
chain of its own: a hundred copies lift a few nanoseconds above the noise of a shared machine. The
per-packet budget in docs/performance.md adds these costs up along the path a metered packet takes.
"""

from __future__ import annotations

import ipaddress
import time

from lab import Lab
from tests.bench.common import emit, loadavg, log, median, rnd, spread
from tests.bench.dataplane import Flood
from tests.bench.nsjob import synthetic_macs

COPIES = 100
ROUNDS = 4
ELEMENTS = 5000  # in each set and map the lookups miss: as many as clients in dataplane_pps_ratio
_ID_MASK, _KEEP = 0xFFFF0000, 0x0000FFFF

# kind -> the rule, repeated COPIES times (the flood is IPv4 UDP from a LAN client to the internet)
KINDS = {
    "quota": 'quota name "qb" drop',
    "counter": "counter",
    "ct_mark_set": f"ct mark set ct mark and {_KEEP:#x} or 0x20000",
    "ct_label_test": "ct label 120 drop",
    "ip_set_lookup": "ip daddr @s4 drop",
    "ip6_rule_on_ipv4": "ip6 daddr @s6 drop",
    "mac_vmap_lookup": "ether saddr vmap @macs",
    "mark_vmap_lookup": f"ct mark and {_ID_MASK:#x} vmap @marks",
    "ifname_pair_vmap_lookup": "iifname . oifname vmap @pairs",
    "priority_set": "meta priority set 1:2",
    "set_update": f"update @cu {{ ct mark and {_ID_MASK:#x} }}",
    "jump_to_empty_chain": "jump hop",
}


def _table(kind: str | None) -> str:
    """The budget table with its forward chain holding the rules of `kind` (None: no rule)."""
    base = int(ipaddress.IPv4Address("198.18.0.0"))
    addrs = ", ".join(str(ipaddress.IPv4Address(base + i)) for i in range(ELEMENTS))
    macs = ", ".join(f"{m} : goto hop" for m in synthetic_macs(ELEMENTS))
    marks = ", ".join(f"{(i + 2) << 16:#x} : goto hop" for i in range(ELEMENTS))
    rules = "" if kind is None else "\n".join(f"\t\t{KINDS[kind]}" for _ in range(COPIES))
    return f"""table inet budget {{
\tquota qb {{ over 1000000 mbytes }}
\tset s4 {{ type ipv4_addr; elements = {{ {addrs} }} }}
\tset s6 {{ type ipv6_addr; elements = {{ 2001:db8::1 }} }}
\tmap macs {{ type ether_addr : verdict; elements = {{ {macs} }} }}
\tmap marks {{ type mark : verdict; elements = {{ {marks} }} }}
\tmap pairs {{ type ifname . ifname : verdict; elements = {{ "nolan" . "nowan" : goto hop }} }}
\tset cu {{ type mark; flags dynamic; counter; size 65536; }}
\tchain hop {{
\t}}
\tchain labels {{
\t\tct label set 100
\t}}
\tchain forward {{
\t\ttype filter hook forward priority filter - 5; policy accept;
{rules}
\t}}
}}
"""


def run(rounds: int = ROUNDS) -> None:
    configs = ["empty", *KINDS]
    samples: dict[str, list[float]] = {c: [] for c in configs}
    cost_ns: dict[str, list[float]] = {k: [] for k in KINDS}
    load_before = loadavg()
    with Lab(clients=("c1",), offload=False, ipv6=False) as lab:
        flood = Flood(lab)
        lab.nft(lab.router, _table(None))
        flood.measure()  # warm-up
        t0 = time.monotonic()
        for i in range(rounds):
            kinds = list(KINDS) if i % 2 == 0 else list(KINDS)[::-1]
            for kind in kinds:
                # each kind beside an empty chain of its own, which goes first or second in turn
                pair = ["empty", kind] if (i + kinds.index(kind)) % 2 == 0 else [kind, "empty"]
                got = {}
                for config in pair:
                    rules = None if config == "empty" else kind
                    lab.nft(lab.router, "delete table inet budget\n" + _table(rules))
                    got[config] = flood.measure()["pps"]
                    samples[config].append(got[config])
                cost_ns[kind].append((1 / got[kind] - 1 / got["empty"]) / COPIES * 1e9)
            log(f"budget round {i + 1}: " + ", ".join(f"{k} {cost_ns[k][-1]:.1f}" for k in KINDS) + " ns")
        lab.nft(lab.router, "delete table inet budget\n")
        took = time.monotonic() - t0
    packet_ns = 1e9 / median(samples["empty"])
    for kind, rule in KINDS.items():
        sp = spread(cost_ns[kind])
        emit("rule_cost_ns", rnd(sp["median"], 1), "ns", kind=kind, rule=rule,
             iqr=[rnd(x, 1) for x in sp["iqr"]],
             percent_of_packet=rnd(100 * sp["median"] / packet_ns, 2),
             per_round=[rnd(x, 1) for x in cost_ns[kind]], copies=COPIES, rounds=rounds,
             pps_empty=round(median(samples["empty"])), pps_kind=round(median(samples[kind])),
             seconds=round(took), loadavg_before=load_before, loadavg_after=loadavg(),
             note=("the forwarding time one rule of this kind adds to a 64-byte UDP packet: (1/pps with "
                   f"{COPIES} copies of it in a forward base chain - 1/pps with the chain empty) / "
                   f"{COPIES}, median of per-round figures; sets and maps of {ELEMENTS} elements, each "
                   "lookup a miss; percent_of_packet = that time against a packet's whole time through "
                   "the empty hook"))
