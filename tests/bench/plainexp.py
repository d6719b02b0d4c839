"""Standalone experiment: clients with no policy in one shared chain pair, counted per id.

`python -m tests.bench.plainexp [CLIENTS]` makes a network namespace of its own (a veth pair),
builds hotspot's real frame (Nft.build with the plan guard's three levels, or none with
PLAIN_GUARD=0, and no client) and then adds CLIENTS clients with no policy in each shape, in
alternating rounds:

  today    each client its chains up<id>/down<id> (Nft.add_clients, nft text, 1,000 a transaction):
           since the plan guard's shared chains, what jumpguard builds
  guardconst  the same chains as text, the guard's rules as constants in each (as before)
  jumpguard   the same chains as text, one `jump guard_up` (guard_down) for the guard's rules
  onebatch the today shape in one transaction
  objref   named counters u<id>/d<id> reached from shared chains plain_up/plain_down by an objref map
           (`counter name ct mark and $ID_MASK map @cnt_up`); a one-rule chain new<id> per client
           writes the mark at a connection's first packet (see _shared_text)
  setelem  sets with a counter per element keyed by the id (`update @n_up { ct mark and $ID_MASK }`)

PLAIN_SHAPES picks the shapes (comma-separated), PLAIN_DUMPS=0 skips the dump and flush parts;
PLAIN_ADDRESSES=1 times only the addresses a build adds after its hook (see addresses()).
For each it reports the build's wall time and CPU (user = libnftables, sys = the kernel's commit),
the dump of every client counter (time and bytes), and what the kernel says when the table goes
(`nft flush ruleset`): which notices carry each client's bytes. One JSON object per line on stdout.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import time

from tests.bench.nsjob import named_counters, synthetic_macs

ID_MASK, KEEP = 0xFFFF0000, 0x0000FFFF
SHAPES = tuple(os.environ.get("PLAIN_SHAPES", "today,objref,setelem").split(","))
NFT_MSG_NEWOBJ, NFT_MSG_DELOBJ = 18, 20
NFT_MSG_DELSET, NFT_MSG_DELSETELEM, NFT_MSG_DELRULE = 11, 14, 8
NFT_OBJECT_COUNTER = 1


def _frame():
    from hotspot.kernel import rules as hr
    from hotspot.kernel.nft import Nft

    nft = Nft()
    nft.delete_table()
    levels = hr.GUARD_LEVELS if os.environ.get("PLAIN_GUARD", "1") == "1" else ()
    guard = hr.Guard(levels=levels, rate=10**9)
    nft.build(["lan0"], ["wan0"], [], guard=guard, guard_limits={lv: 10**15 for lv in guard.levels})
    return nft, guard


def _guard_text(guard, hold: str) -> list[str]:
    """The guard's rules of a plain chain as nft text (client_rules' statements)."""
    from hotspot.kernel import rules as hr

    drops, setters = guard.rules(exempt=False, hold=hr._GATE if hold == "gate" else hr._DROP)
    ordered = drops + [r for _, r in sorted(setters, key=lambda s: -s[0])]
    return [" ".join(hr.stmt_text(s) for s in r) for r in ordered]


def _shared_text(shape: str, guard, seed: int) -> str:
    """The shared chains and maps of a shape (objref or setelem). nft 1.0.6 cannot OR a looked-up value
    into the mark (`ct mark set ct mark and $KEEP_MASK or ether saddr map @mac_id`: "Right hand side
    of binary operation (|) must be constant"), so a connection's first packet still goes through a
    one-rule chain of its client's, new<id>, which writes the id as a constant. A packet without a
    conntrack entry has no mark to look up: it is counted by its MAC (up) or its address (down)."""
    t = "inet hotspot"
    if shape == "objref":
        out = [f"add map {t} {name} {{ type {key} : counter; size 65536; }}"
               for name, key in (("cnt_up", "mark"), ("cnt_down", "mark"), ("cnt_up_mac", "ether_addr"),
                                 ("cnt_down4", "ipv4_addr"))]
        out.append(f"add map {t} cnt_down6 {{ type ipv6_addr : counter; size 262144; }}")
        up = [f"counter name ct mark and {ID_MASK:#x} map @cnt_up goto cat_up",
              "counter name ether saddr map @cnt_up_mac goto cat_up"]
        down = [f"counter name ct mark and {ID_MASK:#x} map @cnt_down goto cat_down",
                "counter name ip daddr map @cnt_down4 goto cat_down",
                "counter name ip6 daddr map @cnt_down6 goto cat_down"]
    else:
        out = [f"add set {t} n_up {{ type mark; flags dynamic; counter; size 65536; }}",
               f"add set {t} n_down {{ type mark; flags dynamic; counter; size 65536; }}"]
        up = [f"update @n_up {{ ct mark and {ID_MASK:#x} }} goto cat_up"]
        down = [f"update @n_down {{ ct mark and {ID_MASK:#x} }} goto cat_down"]
    for chain, hold, count in (("plain_up", "gate", up), ("plain_down", "drop", down)):
        out.append(f"add chain {t} {chain}")
        out += [f"add rule {t} {chain} {r}" for r in _guard_text(guard, hold) + count]
    return "\n".join(out) + "\n"


def _clients_text(shape: str, ids: list[int], seed: int) -> str:
    t = "inet hotspot"
    mac = dict(zip(ids, synthetic_macs(max(ids) + 1)[min(ids):]))
    out = []
    for i in ids:  # a connection's first upload packet: the id into the mark, as a constant
        out += [f"add chain {t} new{i}",
                f"add rule {t} new{i} ct mark set ct mark and {KEEP:#x} or {i << 16:#x}",
                f"add rule {t} new{i} goto plain_up"]
    if shape == "objref":
        for i in ids:
            out += [f"add counter {t} u{i} {{ packets 1 bytes {seed + i} }}",
                    f"add counter {t} d{i} {{ packets 1 bytes {seed + 2 * i} }}"]
        elems = {"cnt_up": [f'{i << 16:#x} : "u{i}"' for i in ids],
                 "cnt_down": [f'{i << 16:#x} : "d{i}"' for i in ids],
                 "cnt_up_mac": [f'{mac[i]} : "u{i}"' for i in ids],
                 "cnt_down4": [f'10.{64 + (i >> 16)}.{i >> 8 & 0xFF}.{i & 0xFF} : "d{i}"' for i in ids]}
    else:
        elems = {"n_up": [f"{i << 16:#x} counter packets 1 bytes {seed + i}" for i in ids],
                 "n_down": [f"{i << 16:#x} counter packets 1 bytes {seed + 2 * i}" for i in ids]}
    elems.update({"client_up": [f"{mac[i]} : goto new{i}" for i in ids],
                  "client_up_mark": [f"{i << 16:#x} : goto plain_up" for i in ids],
                  "client_down": [f"{i << 16:#x} : goto plain_down" for i in ids],
                  "free": [f"{mac[i]} : accept" for i in ids]})
    out += [f"add element {t} {name} {{ {', '.join(items)} }}" for name, items in elems.items()]
    return "\n".join(out) + "\n"


def _jumpguard_text(ids: list[int], guard, inline: bool = False) -> str:
    """Chains up<id>/down<id> with the guard's rules as one jump to the shared chain, or (`inline`) as
    constants in each chain, as every client's chain held them before the shared chains."""
    t = "inet hotspot"
    mac = dict(zip(ids, synthetic_macs(max(ids) + 1)[min(ids):]))
    out = []
    constants = {"guard_up": _guard_text(guard, "gate"), "guard_down": _guard_text(guard, "drop")}
    for i in ids:
        mark = f"ct mark set ct mark and {KEEP:#x} or {i << 16:#x}"
        for chain, shared, count in ((f"up{i}", "guard_up", f"counter packets 0 bytes 0 {mark} goto cat_up"),
                                     (f"down{i}", "guard_down", "counter packets 0 bytes 0 goto cat_down")):
            out.append(f"add chain {t} {chain}")
            if inline:
                out += [f"add rule {t} {chain} {r}" for r in constants[shared]]
            elif guard.levels:
                out.append(f"add rule {t} {chain} jump {shared}")
            out.append(f"add rule {t} {chain} {count}")
    elems = {"client_up": [f"{mac[i]} : goto up{i}" for i in ids],
             "client_up_mark": [f"{i << 16:#x} : goto up{i}" for i in ids],
             "client_down": [f"{i << 16:#x} : goto down{i}" for i in ids],
             "free": [f"{mac[i]} : accept" for i in ids]}
    out += [f"add element {t} {name} {{ {', '.join(items)} }}" for name, items in elems.items()]
    return "\n".join(out) + "\n"


def _timed(fn) -> dict:
    r0, t = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    fn()
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return {"wall_ms": wall * 1000, "user_ms": (r1.ru_utime - r0.ru_utime) * 1000,
            "sys_ms": (r1.ru_stime - r0.ru_stime) * 1000}


def build(shape: str, n: int, seed: int = 1000, chunk: int = 1000) -> dict:
    """Build the frame, then time adding n clients of `shape`."""
    from hotspot.kernel import rules as hr

    nft, guard = _frame()
    ids = list(range(2, n + 2))
    if shape in ("today", "onebatch"):
        clients = [hr.ClientElements(id=i, mac=m) for i, m in zip(ids, synthetic_macs(n + 2)[2:])]

        def add():
            nft.add_clients(clients, chunk=n if shape == "onebatch" else chunk)
    elif shape in ("jumpguard", "guardconst"):
        def add():
            for k in range(0, n, chunk):
                nft._file(_jumpguard_text(ids[k:k + chunk], guard, inline=shape == "guardconst"))
    else:
        def add():
            nft._file(_shared_text(shape, guard, seed))
            for k in range(0, n, chunk):
                nft._file(_clients_text(shape, ids[k:k + chunk], seed))
        return _timed(add)
    got = _timed(add)
    if shape in ("today", "onebatch", "jumpguard", "guardconst"):  # every counter, read as the poll reads it
        from hotspot.kernel.dumps import dump_counters

        dumps = []
        for _ in range(3):
            found: dict = {}
            dumps.append(_timed(lambda found=found: found.update(dump_counters("hotspot"))))
            if sum(1 for k in found if k[1:].isdigit() and int(k[1:]) >= 2) != 2 * n:
                raise RuntimeError(f"{shape}: {len(found)} counters read")
        got.update({f"dump_{k}": statistics.median(d[k] for d in dumps) for k in dumps[0]})
    return got


# -- dumps ------------------------------------------------------------------------------------------


def dump_objref() -> tuple[dict, int]:
    return named_counters("hotspot")


def dump_setelem() -> tuple[dict, int]:
    from hotspot.kernel import dumps

    out = {}
    size = [0]
    for name in ("n_up", "n_down"):
        found: dict = {}
        attributes = dumps._name(dumps.NFTA_SET_ELEM_LIST_TABLE, "hotspot")
        attributes += dumps._name(dumps.NFTA_SET_ELEM_LIST_SET, name)

        def parse(buf, a, b, found=found):
            size[0] += b - a
            dumps._parse_elems(buf, a, b, found)
        dumps._dump(dumps.NFT_MSG_GETSETELEM, attributes, parse)
        out.update({f"{name[2]}{k >> 16}": v for k, v in found.items()})
    return out, size[0]


def dump_today() -> tuple[dict, int]:
    from hotspot.kernel import dumps

    got = dumps.dump_counters("hotspot")
    return got, 0


def all_three(n: int, seed: int = 1000) -> None:
    """One table holding today's chains and both shapes' objects: each dump read in alternating rounds."""
    from hotspot.kernel import rules as hr

    nft, guard = _frame()
    ids = list(range(2, n + 2))
    nft.add_clients([hr.ClientElements(id=i, mac=m) for i, m in zip(ids, synthetic_macs(n + 2)[2:])])
    # the shapes' objects beside them (their map elements would collide with today's: leave them out)
    for shape in ("objref", "setelem"):
        nft._file(_shared_text(shape, guard, seed).replace("plain_", shape + "_"))
        body = _clients_text(shape, ids, seed).splitlines()
        keep = [ln for ln in body if " cnt_" in ln or " n_" in ln or "add counter" in ln]
        nft._file("\n".join(keep) + "\n")
    times: dict[str, list] = {}
    sizes = {}
    for _ in range(10):
        for name, fn in (("today", dump_today), ("objref", dump_objref), ("setelem", dump_setelem)):
            res: dict = {}
            t = _timed(lambda res=res, fn=fn: res.update(r=fn()))
            found, size = res["r"]
            mine = {k: v for k, v in found.items() if k[0] in "ud" and k[1:].isdigit() and int(k[1:]) >= 2}
            if len(mine) != 2 * n:
                raise RuntimeError(f"{name}: {len(mine)} counters")
            sizes[name] = size
            for k, v in t.items():
                times.setdefault(f"{name}_{k}", []).append(v)
    print(json.dumps({"what": "dump", "clients": n, "bytes": sizes,
                      **{k: round(statistics.median(v), 1) for k, v in sorted(times.items())}}), flush=True)


# -- the kernel's notices when the table goes ------------------------------------------------------


def notices(shape: str, n: int, seed: int = 1000) -> None:
    """Build `shape`, then `nft flush ruleset` under a watch: which deletions are notified, with what."""
    from hotspot.kernel import dumps
    from hotspot.kernel.netlink import attrs, messages
    from hotspot.kernel.watch import TableWatch

    build(shape, n, seed)
    w = TableWatch()
    sock = w.sock
    counts: dict[str, int] = {}
    objs: dict[str, int] = {}
    rules: dict[str, int] = {}
    t = time.perf_counter()
    subprocess.run(["nft", "flush", "ruleset"], check=True)
    flush_ms = (time.perf_counter() - t) * 1000
    time.sleep(0.2)
    total = 0
    while True:
        try:
            data = sock.recv(1 << 20)
        except BlockingIOError:
            break
        total += len(data)
        for kind, body, end in messages(data):
            if kind >> 8 != dumps.NFNL_SUBSYS_NFTABLES:
                continue
            msg = kind & 0xFF
            counts[str(msg)] = counts.get(str(msg), 0) + 1
            start = body + 4
            if msg == NFT_MSG_DELRULE:
                got = dumps.rule_counter(data, start, end)
                if got:
                    rules[got[0]] = got[1]
            elif msg == NFT_MSG_DELOBJ:
                name = data_at = None
                otype = None
                for k, a, b in attrs(data, start, end):
                    if k == dumps.NFTA_OBJ_NAME:
                        name = bytes(data[a:b]).rstrip(b"\0").decode()
                    elif k == dumps.NFTA_OBJ_TYPE:
                        otype = struct.unpack_from(">I", data, a)[0]
                    elif k == dumps.NFTA_OBJ_DATA:
                        data_at = (a, b)
                if otype == NFT_OBJECT_COUNTER and data_at:
                    for k, a, _b in attrs(data, *data_at):
                        if k == dumps.NFTA_COUNTER_BYTES:
                            objs[name] = struct.unpack_from(">Q", data, a)[0]
    w.close()
    want = {f"u{i}": seed + i for i in range(2, n + 2)} | {f"d{i}": seed + 2 * i for i in range(2, n + 2)}
    got = rules if shape == "today" else objs
    names = {"8": "DELRULE", "20": "DELOBJ", "11": "DELSET", "14": "DELSETELEM", "5": "DELCHAIN",
             "2": "DELTABLE", "15": "NEWGEN"}
    print(json.dumps({"what": "flush_notices", "shape": shape, "clients": n, "flush_ms": round(flush_ms, 1),
                      "notice_bytes": total,
                      "messages": {names.get(k, k): v for k, v in sorted(counts.items())},
                      "client_counters_in_notices": sum(1 for k in want if k in got),
                      "client_counters_exact": sum(1 for k, v in want.items()
                                                   if got.get(k) == v and shape != "today"),
                      "client_counters_wanted": len(want)}), flush=True)


def addresses(n: int, rounds: int = 4) -> None:
    """The addresses a build adds once the hook is in (Nft.build): in transactions of 2,000 and in one,
    alternating, on the same table of n clients (each with one IPv4 address)."""
    import dataclasses

    from hotspot.kernel import rules as hr
    from hotspot.kernel.nft import Nft

    clients = [hr.ClientElements(id=i + 2, mac=m, ips=(f"10.{64 + (i >> 16)}.{i >> 8 & 0xFF}.{i & 0xFF}",))
               for i, m in enumerate(synthetic_macs(n))]
    owned = [(c.ips[0], c.id) for c in clients]
    nft = Nft()
    nft.delete_table()
    nft.build(["lan0"], ["wan0"], [dataclasses.replace(c, ips=()) for c in clients])
    got: dict[str, list] = {"per_2000": [], "per_10000": []}
    for r in range(rounds):
        for name in (list(got) if r % 2 == 0 else list(got)[::-1]):
            step = int(name.split("_")[1])

            def add(step=step):
                for i in range(0, len(owned), step):
                    nft.batch(hr.address_cmds("add", owned[i:i + step]))
            got[name].append({k: round(v, 1) for k, v in _timed(add).items()})
            nft.batch(hr.address_cmds("delete", owned))
    print(json.dumps({"what": "addresses", "clients": n, **got}), flush=True)


def inner(n: int) -> None:
    subprocess.run(["ip", "link", "add", "lan0", "type", "veth", "peer", "name", "wan0"], check=True)
    if os.environ.get("PLAIN_ADDRESSES") == "1":
        addresses(n)
        return
    rounds: dict[str, list[dict]] = {s: [] for s in SHAPES}
    for r in range(3):
        for shape in (SHAPES if r % 2 == 0 else SHAPES[::-1]):
            rounds[shape].append(build(shape, n))
    for shape, runs in rounds.items():
        print(json.dumps({"what": "build", "shape": shape, "clients": n, "runs": [
            {k: round(v, 1) for k, v in x.items()} for x in runs],
            **{k: round(statistics.median(x[k] for x in runs), 1) for k in runs[0]}}), flush=True)
    if os.environ.get("PLAIN_DUMPS", "1") == "1":
        all_three(n)
        for shape in SHAPES:
            notices(shape, n)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    if len(sys.argv) > 2 and sys.argv[2] == "inner":
        inner(n)
        return
    ns = f"hsplain{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        print(json.dumps({"what": "load", "loadavg": os.getloadavg()}), flush=True)
        subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-m", "tests.bench.plainexp", str(n),
                        "inner"], check=True)
        print(json.dumps({"what": "load", "loadavg": os.getloadavg()}), flush=True)
    finally:
        subprocess.run(["ip", "netns", "del", ns])


if __name__ == "__main__":
    main()
