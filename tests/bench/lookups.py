"""Set and map lookups per packet, seen in the real kernel with nftables tracing.

A separate table marks one test packet per direction (`meta nftrace set 1` at prerouting, before
conntrack): the client's ping and the server's reply. `nft monitor trace` in the router namespace then
reports each rule of table inet hotspot that the packet completed or that gave it a verdict. A rule
whose match fails (a quota not yet used up) is not reported, so every rule of a traversed chain up to
the one that gave the chain's final verdict (all of them when the chain ran to its end) counts as
evaluated; their text comes from `nft -a list table inet hotspot`, matched by handle. Lookups are the
rules' references to a named set or map (`@set`, `vmap @map`, `map @map`) and anonymous sets
(`{ ... }`); a set update (`add @set { ... }`) is counted apart.
"""

from __future__ import annotations

import re
import subprocess
import time

from lab import Lab
from tests.bench.common import emit, log, start_hotspotd

# the `paths` vmap, then client_up_mark or client_down (by conntrack mark), then the app categories'
# union set (cat_up/cat_down: the ping's remote address is in no category); a flow's first upload
# packet also meets client_up (by MAC), which writes the mark: the trace is of a later packet
EXPECTED = 3
KINDS = {  # kind -> hotspotctl commands that give c1 that policy
    "none": [],
    "capped": [("cap", "1GB")],
    "throttled": [("cap", "none"), ("throttle", "10mbit")],
}

_TERMINAL = re.compile(r"\(verdict (accept|drop|goto \S+|return|queue|stolen)\)")
_TRACE = re.compile(r"^trace id (\S+) inet hotspot (\S+) rule (.*) # handle (\d+) \(verdict ([^)]*)\)")
_UPDATE = re.compile(r"\b(add|update|delete) @\w+ \{[^}]*\}")
_COUNTS = re.compile(r"counter packets \d+ bytes \d+")
_NAMED = re.compile(r"@([A-Za-z_]\w*)(?![\w,])")


def chains(listing: str) -> dict[str, list[tuple[int, str]]]:
    """{chain: [(handle, rule text), ...]} from `nft -a list table`."""
    out: dict[str, list[tuple[int, str]]] = {}
    current = None
    for line in listing.splitlines():
        s = line.strip()
        m = re.match(r"chain (\S+) \{", s)
        if m:
            current = out.setdefault(m.group(1), [])
        elif s == "}":
            current = None
        elif current is not None:
            m = re.match(r"(.*) # handle (\d+)$", s)
            if m:
                current.append((int(m.group(2)), _COUNTS.sub("counter", m.group(1))))
    return out


def lookups(rule: str) -> tuple[int, int]:
    """(lookups, set updates) in one rule's text, for the IPv4 packets traced here: a rule on IPv6
    fields stops at its family check, before its lookup."""
    if rule.startswith("ip6 "):
        return 0, 0
    updates = len(_UPDATE.findall(rule))
    rest = _UPDATE.sub("", rule)
    return len(_NAMED.findall(rest)) + rest.count("{"), updates


_TO = re.compile(r"^(?:goto|jump) (\S+)$")


def evaluated(trace: list[tuple[str, int, str]], table: dict[str, list[tuple[int, str]]]) -> list[tuple]:
    """The rules one packet was evaluated against: (chain, handle, text), in order. A chain a traced
    rule went to, with no traced rule of its own, ran to its end with no rule matching (the trace
    reports no rule there)."""
    rules = []
    seen = []
    traced_chains = {chain for chain, _h, _v in trace}
    for chain, _handle, verdict in trace:
        if chain not in seen:
            seen.append(chain)
        to = _TO.match(verdict)
        if to and to.group(1) not in traced_chains and to.group(1) in table:
            seen.append(to.group(1))
    for chain in seen:
        traced = [(h, v) for c, h, v in trace if c == chain]
        last = len(table[chain])  # no final verdict traced: the chain ran to its end
        for h, v in traced:
            if _TERMINAL.search(f"(verdict {v})"):
                last = [x for x, _ in table[chain]].index(h) + 1
                break
        rules += [(chain, h, text) for h, text in table[chain][:last]]
    return rules


def _trace(lab: Lab, mac: str, tries: int = 3) -> dict[str, list[tuple[str, int, str]]]:
    """Trace one ping of c1 and its reply; {'upload': [(chain, handle, verdict)], 'download': ...}."""
    for attempt in range(tries):
        mon = lab.popen(lab.router, "nft", "-a", "monitor", "trace", stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(0.5)  # nft subscribes after it has read the ruleset
            lab.ping("c1", lab.server4, count=2)  # the second ping is a later packet of the same flow
            time.sleep(0.5)
        finally:
            mon.terminate()
            out, _err = mon.communicate(timeout=5)
        packets: dict[str, list] = {}
        for line in out.splitlines():
            m = _TRACE.match(line)
            if m:
                packets.setdefault(m.group(1), []).append((m.group(2), int(m.group(4)), m.group(5)))
        found = {}
        for steps in packets.values():  # in order: the later ping (and reply) wins
            first = steps[0]
            if first[0] == "forward" and "goto upload" in first[2]:
                found["upload"] = steps
            elif first[0] == "forward" and "goto download" in first[2]:
                found["download"] = steps
        if len(found) == 2:
            return found
        log(f"trace attempt {attempt + 1}: saw {sorted(found) or 'nothing'} of c1's ping ({mac})")
    raise RuntimeError("nft monitor trace did not show c1's ping in table inet hotspot both ways")


def run() -> None:
    with Lab(clients=("c1",)) as lab:
        d, mac = start_hotspotd(lab)
        try:
            cid = d.client(mac)["id"]
            lab.nft(lab.router, f"""table inet benchtrace {{
    chain pre {{
        type filter hook prerouting priority raw - 10; policy accept;
        iifname "{lab.lan_device}" ether saddr {mac} icmp type echo-request meta nftrace set 1
        iifname "{lab.wan_device}" icmp type echo-reply meta nftrace set 1
    }}
}}
""")
            for kind, commands in KINDS.items():
                for command, value in commands:
                    d.ctl(command, mac, value)
                table = chains(d.nft("-a", "list", "table", "inet", "hotspot"))
                traced = _trace(lab, mac)
                figures = {}
                for direction in ("upload", "download"):
                    rules = evaluated(traced[direction], table)
                    counts = [lookups(text) for _c, _h, text in rules]
                    chains_seen = list(dict.fromkeys(c for c, _h, _t in rules))
                    own = f"{direction[:-4] if direction == 'upload' else 'down'}{cid}"
                    if own not in chains_seen:
                        raise RuntimeError(f"{kind} {direction}: the packet never reached chain {own}: "
                                           f"{chains_seen}")
                    figures[direction] = {
                        "lookups": sum(n for n, _u in counts), "set_updates": sum(u for _n, u in counts),
                        "chains": chains_seen, "rules": [f"{c}: {t}" for c, _h, t in rules]}
                    log(f"{kind} {direction}: {figures[direction]['lookups']} lookups in "
                        f"{len(rules)} rules: {' | '.join(figures[direction]['rules'])}")
                up, down = figures["upload"], figures["download"]
                emit("lookups_per_packet", max(up["lookups"], down["lookups"]), "lookups", kind=kind,
                     goal=EXPECTED, upload=up["lookups"], download=down["lookups"],
                     set_updates=up["set_updates"] + down["set_updates"],
                     rules=max(len(up["rules"]), len(down["rules"])),
                     rules_upload=len(up["rules"]), rules_download=len(down["rules"]),
                     path_upload=up["rules"], path_download=down["rules"],
                     note=("rules of table inet hotspot a traced packet was evaluated against (nft monitor "
                           "trace; unmatched rules before a chain's final verdict included), c1 registered "
                           "by hotspotd with this policy; value = the larger of upload (ping) and download "
                           "(its reply); lookups = @set/@map references and anonymous sets in those "
                           "rules; rules = the rules evaluated, the larger direction"))
        finally:
            d.stop()
