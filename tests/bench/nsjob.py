"""Jobs the benchmarks run inside a lab's router namespace, as a script: `python nsjob.py JOB JSON_ARGS`.

Each job prints one JSON object (its result) on stdout. Run by path, not as tests.bench.nsjob, so it
needs nothing but the installed hotspot package.
"""

from __future__ import annotations

import json
import sys
import time


def synthetic_macs(n: int) -> list[str]:
    """n distinct locally administered MACs 02:bb:00:.. (lab clients' are random 02:..)."""
    return [f"02:bb:00:{i >> 16 & 0xFF:02x}:{i >> 8 & 0xFF:02x}:{i & 0xFF:02x}" for i in range(n)]


def named_counters(table: str) -> tuple[dict[str, int], int]:
    """({name: bytes} of every named counter object of `table`, the dump's size in bytes): one dump of
    the table's counter objects, filtered by type in the kernel, parsed as leanly as the rule dump."""
    import struct

    from hotspot.kernel import dumps
    from hotspot.kernel.netlink import pack_attr

    nla = struct.Struct("=HH").unpack_from
    out: dict[str, int] = {}
    size = [0]

    def parse(buf, pos, end):
        size[0] += end - pos
        name = data = None
        while pos + 4 <= end:
            length, kind = nla(buf, pos)
            kind &= 0x3FFF
            if kind == dumps.NFTA_OBJ_NAME:
                name = buf[pos + 4:pos + length - 1]
            elif kind == dumps.NFTA_OBJ_DATA:
                data = pos + 4
            pos += (length + 3) & ~3
        if name is not None and data is not None and nla(buf, data)[1] & 0x3FFF == 1:  # NFTA_COUNTER_BYTES
            out[name.decode()] = struct.unpack_from(">Q", buf, data + 4)[0]

    attributes = dumps._name(dumps.NFTA_OBJ_TABLE, table)
    attributes += pack_attr(dumps.NFTA_OBJ_TYPE, struct.pack(">I", 1))  # NFT_OBJECT_COUNTER
    dumps._dump(dumps.NFT_MSG_GETOBJ, attributes, parse)
    return out, size[0]


def load_ours(args: dict) -> dict:
    """Build hotspot's real table (Nft.build) with `clients` clients: synthetic ones plus the real MACs
    (last ids), each with a quota (never reached) so every packet also passes a quota rule, and the
    plan guard's three quotas (unless "guard": false). With "hook": false the hook chains are left out
    (the table is loaded but sees no packet)."""
    from hotspot.kernel import rules as hr
    from hotspot.kernel.nft import Nft

    t0 = time.monotonic()
    nft = Nft()
    nft.delete_table()
    real = [m.lower() for m in args.get("real", [])]
    macs = synthetic_macs(args["clients"] - len(real)) + real
    elems = [hr.ClientElements(id=i + 2, mac=m, quota=10**15) for i, m in enumerate(macs)]
    # the plan guard with all three levels (points never reached), as an owner with a plan runs it
    guard = hr.Guard(levels=hr.GUARD_LEVELS, rate=10**9) if args.get("guard", True) else hr.Guard()
    nft.build([args["lan"]], [args["wan"]], elems, guard=guard,
              guard_limits={level: 10**15 for level in guard.levels})
    seconds = time.monotonic() - t0
    if not args.get("hook", True):
        nft.batch([{"delete": {"chain": {"family": hr.FAMILY, "table": hr.TABLE, "name": name}}}
                   for name in ("forward", "output", "input", "prerouting")])
    return {"seconds": seconds, "clients": len(elems)}


def _config(args: dict):
    from hotspot.config import Config, load

    if "config" in args:
        return load(args["config"])
    d = args["dir"]
    return Config(lan_device=args["lan"], wan_device=(args["wan"],), run_dir=f"{d}/run",
                  state_dir=f"{d}/state", leases_file=f"{d}/dhcp.leases", default_cap=args.get("cap"),
                  dnsmasq_nftset_file=None, dnsmasq_restart=None)


def _found(n: int) -> dict[str, dict]:
    """What discovery would report for n clients: a MAC, an address and a hostname each."""
    return {m: {"ips": [f"10.{64 + (i >> 16)}.{i >> 8 & 0xFF}.{i & 0xFF}"], "hostname": f"dev{i}"}
            for i, m in enumerate(synthetic_macs(n))}


# Policies given to the clients of a "mixed" database (see make_db): by position, and the last client
# gets a cap and a throttle both, so its chains are the longest.
CAP_EVERY, THROTTLE_EVERY, BLOCK_EVERY = 4, 10, 20
MIXED_CAP, MIXED_RATE = 10**10, 2_000_000


def make_db(args: dict) -> dict:
    """Register n clients through the house (core and keepers) (database only: no table loaded yet). With
    "mixed": every CAP_EVERY-th client capped, every THROTTLE_EVERY-th throttled, every BLOCK_EVERY-th
    blocked (offset so the three overlap only now and then), the last capped and throttled."""
    from hotspot.house import House

    hs = House(_config(args))
    hs.nft.delete_table()
    t0 = time.monotonic()
    new = hs.counting.register(_found(args["clients"]))
    seconds = time.monotonic() - t0
    kinds = {"capped": 0, "throttled": 0, "blocked": 0}
    if args.get("mixed"):
        with hs.store.transaction():
            for i, c in enumerate(new):
                last = i == len(new) - 1
                fields = {}
                if i % CAP_EVERY == 0 or last:
                    fields["cap"] = MIXED_CAP
                if i % THROTTLE_EVERY == 1 or last:
                    fields["rate"] = MIXED_RATE
                if i % BLOCK_EVERY == 2:
                    fields["blocked"] = True
                if fields:
                    hs.store.update(c.id, **fields)
                kinds["capped"] += "cap" in fields
                kinds["throttled"] += "rate" in fields
                kinds["blocked"] += "blocked" in fields
    hs.core.commit()
    hs.close()
    return {"registered": len(new), "register_seconds": seconds, **kinds}


def _seeded(rules: list[list], nbytes: int) -> list[list]:
    """A chain's rules with its counter rule (the last) already holding nbytes."""
    counter = {"counter": {"packets": nbytes // 1000, "bytes": nbytes}}
    return rules[:-1] + [[counter if "counter" in s else s for s in rules[-1]]]


def _kernel_with_bytes(hs, clients) -> int:
    """Build the table and add the clients' chains as Nft.add_clients does, but with their counter
    rules already holding bytes (so every client has something to account at each poll); returns the
    table handle."""
    from hotspot.clients import policy
    from hotspot.kernel import rules as hr

    def obj(kind, name, **extra):
        return {kind: {"family": hr.FAMILY, "table": hr.TABLE, "name": name, **extra}}

    handle = hs.nft.build([hs.cfg.lan_device], list(hs.cfg.wan_device), [])
    for i in range(0, len(clients), 500):
        chunk = [policy.elements(c, hs.cfg) for c in clients[i:i + 500]]
        cmds = []
        for c in chunk:
            if c.quota is not None:
                cmds.append({"add": obj("quota", hr.quota_name(c.id), bytes=c.quota,
                                        used=min(c.used, c.quota), inv=True)})
            up, down = hr.client_rules(c, hs.nft.marks)
            for chain, rules in zip(hr.chain_names(c.id), (_seeded(up, 10**8 + c.id * 1000),
                                                            _seeded(down, 10**9 + c.id * 10000))):
                cmds.append({"add": obj("chain", chain)})
                cmds += [{"add": {"rule": {"family": hr.FAMILY, "table": hr.TABLE, "chain": chain,
                                           "expr": expr}}} for expr in rules]
        cmds.append({"add": obj("element", "client_up", elem=[
            [c.mac, {"goto": {"target": hr.chain_names(c.id)[0]}}] for c in chunk])})
        cmds.append({"add": obj("element", "client_down", elem=[
            [hs.nft.marks.value(c.id), {"goto": {"target": hr.chain_names(c.id)[1]}}] for c in chunk])})
        cmds += hr.http_cmds([(c.mac, True) for c in chunk if c.portal])
        hs.nft.batch(cmds)
    return handle


def _new_bytes(hs, poll: int) -> None:
    """Between polls: every client's kernel counters are ahead of the database's baselines, as after
    a poll interval in which each client moved some bytes (the kernel's are fixed; we lower ours)."""
    with hs.store.transaction():
        hs.store.db.execute("UPDATE clients SET seen_up = seen_up - ? - id % 500, "
                            "seen_down = seen_down - ? - id % 5000", (1000 + poll, 30000 + poll))


def poll(args: dict) -> dict:
    """Time `account()` (one poll of the house (core and keepers)) with every client having new bytes."""
    import cProfile
    import io
    import pstats

    from hotspot.daemon.loop import Daemon
    from hotspot.house import House
    from hotspot.kernel.rules import ROUTER

    cfg = _config(args)
    hs = House(cfg)
    hs.nft.delete_table()
    t0 = time.monotonic()
    hs.counting.register(_found(args["clients"]))
    register_s = time.monotonic() - t0
    clients = hs.store.clients()
    t0 = time.monotonic()
    handle = _kernel_with_bytes(hs, clients)
    kernel_s = time.monotonic() - t0
    with hs.store.transaction():
        hs.store.reset_seen()
        hs.store.set("table", hs.core.identity(handle))

    parts: dict[str, float] = {}

    def timed(name, fn):
        def wrapper(*a, **kw):
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                parts[name] = parts.get(name, 0.0) + time.perf_counter() - t
        return wrapper

    hs.nft.read_counters = timed("read", hs.nft.read_counters)
    hs.store.record = timed("record", hs.store.record)
    polls = []
    for i in range(args["polls"] + 1):
        if i:
            _new_bytes(hs, i)
        parts.clear()
        t = time.perf_counter()
        with hs.store.transaction():
            moved = hs.counting.account()
            t_body = time.perf_counter()
        t_end = time.perf_counter()
        moved_clients = len(moved) - (ROUTER in moved)  # the router's own packets (ND, MLD) may move too
        if moved_clients != len(clients):
            raise RuntimeError(f"poll {i}: {moved_clients} of {len(clients)} clients had new bytes")
        polls.append({"total": t_end - t, "read": parts["read"], "record": parts["record"],
                      "commit": t_end - t_body,
                      "other": (t_body - t) - parts["read"] - parts["record"]})

    # Where the time goes, function by function, in one more poll.
    _new_bytes(hs, 0)
    prof = cProfile.Profile()
    prof.enable()
    with hs.store.transaction():
        hs.counting.account()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(8)
    print(out.getvalue(), file=sys.stderr)

    parsers = _parser_ratio()

    # A tenth of the clients with new bytes, the rest idle (a poll every 2 s rarely finds them all
    # moving): the same poll, only their rows and hours written.
    few = []
    for i in range(args["polls"]):
        with hs.store.transaction():
            hs.store.db.execute("UPDATE clients SET seen_up = seen_up - 1000 - ?, "
                                "seen_down = seen_down - 30000 WHERE id % 10 = 0", (i,))
        parts.clear()
        t = time.perf_counter()
        with hs.store.transaction():
            moved = hs.counting.account()
        few.append({"total": time.perf_counter() - t, "read": parts["read"], "record": parts["record"]})
        if len(moved) - (ROUTER in moved) != len(clients) // 10:
            raise RuntimeError(f"{len(moved)} clients moved, {len(clients) // 10} expected")

    # The daemon's whole poll (table check, accounting, discovery, period, shaping), same load.
    daemon = Daemon(hs)
    daemon.start()
    daemon.poll()  # first: sets up the shaper's devices
    daemon_polls = []
    for i in range(5):
        _new_bytes(hs, 100 + i)
        t = time.perf_counter()
        daemon.poll()
        daemon_polls.append(time.perf_counter() - t)
    rows = hs.store.db.execute("SELECT COUNT(*) FROM usage").fetchone()[0]
    hs.close()
    return {"first": polls[0], "polls": polls[1:], "daemon_polls": daemon_polls, "register_s": register_s,
            "kernel_s": kernel_s, "objects": len(hs.nft.read_objects()), "usage_rows": rows, "few": few,
            **parsers}


def _old_dump_counters(table: str) -> dict[str, int]:
    """The counter dump as it was: messages() and rule_counter() called for each rule (the baseline)."""
    from hotspot.kernel import dumps

    result: dict[str, int] = {}

    def parse(buf, start, end):
        found = dumps.rule_counter(buf, start, end)
        if found:
            result[found[0]] = found[1]

    dumps._dump(dumps.NFT_MSG_GETRULE, dumps._name(dumps.NFTA_RULE_TABLE, table), parse)
    return result


def _parser_ratio(rounds: int = 10) -> dict:
    """The new counter dump against the old in alternating rounds, same table: CPU time (user, and
    system: the kernel's dump runs in the reader's recv) and wall time, medians."""
    import resource
    import statistics

    from hotspot.kernel.dumps import dump_counters
    from hotspot.kernel.rules import TABLE

    out: dict[str, list] = {"new_user": [], "new_sys": [], "new_wall": [], "old_user": [], "old_sys": [],
                            "old_wall": []}
    for _ in range(rounds):
        for name, fn in (("old", _old_dump_counters), ("new", dump_counters)):
            r0, t = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            found = fn(TABLE)
            wall = time.perf_counter() - t
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            out[f"{name}_user"].append(r1.ru_utime - r0.ru_utime)
            out[f"{name}_sys"].append(r1.ru_stime - r0.ru_stime)
            out[f"{name}_wall"].append(wall)
        if found != _old_dump_counters(TABLE) and found.keys() != _old_dump_counters(TABLE).keys():
            raise RuntimeError("the two parsers disagree")
    return {f"parse_{k}_ms": round(statistics.median(v) * 1000, 2) for k, v in out.items()}


# -- the rebuild after `nft flush ruleset` ------------------------------------------------------------

_NFNL_NFTABLES = 10
_GETCHAIN, _NEWCHAIN, _GETRULE, _NEWRULE = 4, 3, 7, 6
_CHAIN_TABLE, _CHAIN_NAME = 1, 3
_RULE_TABLE, _RULE_CHAIN = 1, 2
_REQUEST, _DUMP = 0x1, 0x300
_ERROR, _DONE = 2, 3


def _nla(kind: int, payload: bytes) -> bytes:
    import struct

    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _nla_strings(buf: bytes, start: int, end: int) -> dict[int, str]:
    import struct

    out = {}
    while start + 4 <= end:
        length, kind = struct.unpack_from("=HH", buf, start)
        if length < 4:
            break
        out[kind & 0x3FFF] = buf[start + 4:start + length].rstrip(b"\0").decode(errors="replace")
        start += (length + 3) & ~3
    return out


class Netlink:
    """A netfilter netlink socket for the two cheap questions the rebuild benchmark asks: does chain X
    exist (one GETCHAIN by name: a hash lookup in the kernel, ~50 us, so it can be asked every
    millisecond without slowing hotspotd down), and how many rules has each chain of a table (a dump)."""

    def __init__(self) -> None:
        import socket

        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.seq = 0

    def _send(self, msg: int, flags: int, attrs: bytes) -> int:
        import struct

        self.seq += 1
        payload = struct.pack("=BBH", 1, 0, 0) + attrs  # NFPROTO_INET
        self.sock.send(struct.pack("=IHHII", 16 + len(payload), _NFNL_NFTABLES << 8 | msg, flags,
                                   self.seq, 0) + payload)
        return self.seq

    def _replies(self):
        """(type, buffer, attribute start, end) of each reply message, until the answer is complete."""
        import os
        import struct

        while True:
            data = self.sock.recv(1 << 20)
            pos = 0
            while pos + 16 <= len(data):
                length, kind, flags = struct.unpack_from("=IHH", data, pos)
                if kind == _DONE:
                    return
                if kind == _ERROR:
                    (errno,) = struct.unpack_from("=i", data, pos + 16)
                    if errno == 0:
                        return
                    if -errno == 2:
                        yield "ENOENT", data, 0, 0
                        return
                    raise OSError(-errno, os.strerror(-errno))
                yield kind & 0xFF, data, pos + 20, pos + length
                if not flags & 0x2:  # not NLM_F_MULTI: a single answer
                    return
                pos += (length + 3) & ~3

    def chain_exists(self, table: str, chain: str) -> bool:
        self._send(_GETCHAIN, _REQUEST, _nla(_CHAIN_TABLE, table.encode() + b"\0") +
                   _nla(_CHAIN_NAME, chain.encode() + b"\0"))
        return any(kind == _NEWCHAIN for kind, *_ in self._replies())

    def rules_per_chain(self, table: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        self._send(_GETRULE, _REQUEST | _DUMP, _nla(_RULE_TABLE, table.encode() + b"\0"))
        for kind, buf, a, b in self._replies():
            if kind == _NEWRULE:
                chain = _nla_strings(buf, a, b).get(_RULE_CHAIN)
                counts[chain] = counts.get(chain, 0) + 1
        return counts


def _expected(cfg) -> dict:
    """What the table must hold for the clients in the database: rules per client chain, quotas, map
    elements, tc classes."""
    from hotspot.clients import policy
    from hotspot.house import House
    from hotspot.kernel.rules import chain_names, client_rules

    hs = House(cfg)
    try:
        clients = hs.store.clients()
        marks = hs.nft.marks
        rules = {}
        for c in clients:
            e = policy.elements(c, cfg)
            for chain, chain_rules in zip(chain_names(c.id), client_rules(e, marks)):
                rules[chain] = len(chain_rules)
        return {"rules": rules, "clients": len(clients),
                "quotas": sum(policy.effective_cap(c) is not None for c in clients),
                "classes": sum(bool(r) for c in clients for r in policy.shaping(c, cfg).values()),
                "last": chain_names(clients[-1].id) if clients else None}
    finally:
        hs.close()


def _complete(cfg, nl: Netlink, want: dict) -> list[str]:
    """What is missing from the table, compared with `want` (see _expected); [] when complete."""
    import subprocess

    import nftables

    from hotspot.kernel.dumps import dump_quotas
    from hotspot.kernel.rules import TABLE

    problems = []
    have = nl.rules_per_chain(TABLE)
    wrong = [c for c, n in want["rules"].items() if have.get(c) != n]
    if wrong:
        problems.append(f"{len(wrong)} client chains with missing or extra rules, e.g. {wrong[0]}: "
                        f"{have.get(wrong[0])} rules, {want['rules'][wrong[0]]} expected")
    for chain in ("upload", "download", "forward"):
        if chain not in have:
            problems.append(f"chain {chain} missing")
    quotas = len(dump_quotas(TABLE))
    if quotas != want["quotas"]:
        problems.append(f"{quotas} quotas, {want['quotas']} expected")
    nft = nftables.Nftables()
    nft.set_json_output(True)
    for name, n in (("client_up", want["clients"]), ("client_down", want["clients"]), ("paths", 2)):
        rc, out, _err = nft.cmd(f"list map inet {TABLE} {name}")
        listed = json.loads(out)["nftables"] if rc == 0 else []
        elems = [o["map"].get("elem", []) for o in listed if "map" in o]
        if not elems or len(elems[0]) != n:
            problems.append(f"map {name}: {len(elems[0]) if elems else 'missing'}, {n} elements expected")
    if want["classes"]:
        out = subprocess.run(["tc", "class", "show", "dev", cfg.lan_device], capture_output=True,
                             text=True).stdout
        classes = out.count("class htb 1:")
        if classes < want["classes"]:
            problems.append(f"{classes} HTB classes on {cfg.lan_device}, {want['classes']} expected")
    return problems


def flush_rebuild(args: dict) -> dict:
    """`nft flush ruleset` (through libnftables, as `nft` would) while hotspotd runs, then ask the
    kernel every `interval` seconds whether hotspot's hook chain is back: hotspotd adds it last, once
    every client's chains, quota, block and throttle are in place. Repeated `repeats` times, a pause
    of 1-2 s (random, so the flush does not keep the same phase against hotspotd's polls) between."""
    import random

    import nftables

    from hotspot.config import load
    from hotspot.kernel.rules import TABLE

    cfg = load(args["config"])
    interval, timeout = args.get("interval", 0.001), args.get("timeout", 30)
    want = _expected(cfg)
    nl = Netlink()
    nft = nftables.Nftables()
    runs = []
    for i in range(args.get("repeats", 1)):
        t_wait = time.monotonic()
        while not nl.chain_exists(TABLE, "forward"):
            if time.monotonic() - t_wait > timeout:
                raise TimeoutError(f"no table {TABLE} to flush after {timeout} s")
            time.sleep(0.01)
        if i:
            time.sleep(random.uniform(1.0, 2.0))
        t0 = time.perf_counter()
        rc, _out, err = nft.cmd("flush ruleset")
        t_flushed = time.perf_counter()
        if rc:
            raise RuntimeError(f"nft flush ruleset: {err.strip()}")
        checks = 1
        while not nl.chain_exists(TABLE, "forward"):
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError(f"table {TABLE} not back {timeout} s after the flush")
            time.sleep(interval)
            checks += 1
        t_back = time.perf_counter()
        problems = _complete(cfg, nl, want)
        runs.append({"ms": (t_back - t0) * 1000, "flush_ms": (t_flushed - t0) * 1000, "checks": checks,
                     "problems": problems})
    return {"runs": runs, "clients": want["clients"], "quotas": want["quotas"], "classes": want["classes"],
            "chains": 2 * want["clients"] + 3}


def _timer(parts: dict[str, list[float]], cpu: dict[str, list[float]]):
    """wrap(obj, attr, label): time every call of obj.attr into parts[label] (inclusive wall times)
    and its CPU time, user and system (the kernel's work on a netlink batch runs in the sender's
    system time), into cpu[label]."""
    import resource

    def wrap(obj, attr: str, label: str | None = None) -> None:
        fn = getattr(obj, attr)
        key = label or attr

        def timed(*a, **kw):
            r0, t = resource.getrusage(resource.RUSAGE_THREAD), time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                parts.setdefault(key, []).append(time.perf_counter() - t)
                r1 = resource.getrusage(resource.RUSAGE_THREAD)
                c = cpu.setdefault(key, [0.0, 0.0])
                c[0] += r1.ru_utime - r0.ru_utime
                c[1] += r1.ru_stime - r0.ru_stime
        setattr(obj, attr, timed)
    return wrap


def rebuild_profile(args: dict) -> dict:
    """Where a rebuild's time goes, without hotspotd: build the table from the database, then
    `repeats` times: flush the ruleset, read the kernel's notices (TableWatch) and call
    Counting.ensure_table(gone) with each step timed by perf_counter (inclusive times, in ms, of every
    call; nested steps are also inside their callers)."""
    import nftables

    import hotspot.kernel.rules as kernel_rules
    from hotspot.clients import policy
    from hotspot.config import load
    from hotspot.house import House
    from hotspot.kernel.watch import TableWatch

    cfg = load(args["config"])
    hs = House(cfg)
    t0 = time.perf_counter()
    hs.counting.ensure_table()
    first_ms = (time.perf_counter() - t0) * 1000
    parts: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    wrap = _timer(parts, cpu)
    nft = hs.nft
    for attr in ("batch", "_file", "table_handle", "set_interfaces", "add_clients", "forget_unknown",
                 "unknown_macs", "delete_table", "build", "read_counters"):
        wrap(nft, attr, f"nft.{attr}")
    wrap(hs.counting, "account", "counting.account")
    wrap(hs.clients, "reshape", "clients.reshape")
    wrap(hs.core, "table_is_ours", "core.table_is_ours")
    for attr in ("clients", "reset_seen", "record", "set"):
        wrap(hs.store, attr, f"store.{attr}")
    for attr in ("setup", "set_classes", "present", "_run", "_ours"):
        wrap(hs.core.tc, attr, f"shaper.{attr}")
    wrap(policy, "elements", "policy.elements")
    wrap(kernel_rules, "client_rules", "nft.client_rules")  # called by rules.new_clients_cmds
    lib = nftables.Nftables()
    runs = []
    for _ in range(args.get("repeats", 3)):
        parts.clear()
        cpu.clear()
        watch = TableWatch()
        t0 = time.perf_counter()
        rc, _out, err = lib.cmd("flush ruleset")
        t_flush = time.perf_counter()
        gone: list = []
        while not gone:
            gone = watch.read()
            if not gone:
                time.sleep(0.0005)
        t_read = time.perf_counter()
        built = hs.counting.ensure_table(gone)
        t_end = time.perf_counter()
        watch.close()
        calls = {k: {"ms": round(sum(v) * 1000, 1), "calls": len(v),
                     "user_ms": round(cpu[k][0] * 1000), "sys_ms": round(cpu[k][1] * 1000),
                     "each_ms": [round(x * 1000, 1) for x in v] if len(v) <= 20 else None}
                 for k, v in parts.items()}
        runs.append({"flush_ms": (t_flush - t0) * 1000, "notices_ms": (t_read - t_flush) * 1000,
                     "ensure_table_ms": (t_end - t_read) * 1000, "rebuilt": built,
                     "counters_in_notices": sum(len(g.counters) for g in gone), "steps": calls})
        time.sleep(0.5)
    hs.close()
    return {"first_build_ms": first_ms, "runs": runs}


def churn(args: dict) -> dict:
    """A busy shop's year: args["macs"] distinct MACs (phones with random MACs), each seen on one day
    only, args["days"] days, through the real house (core and keepers) and store (and, with "kernel", the real
    table in the lab router's namespace). Each day's new devices register and use data for one to
    three hours; then the steps of hotspotd's poll that keep the database run as they would through
    the day: the period's rollover, the history's compaction, and retention in steps of "step"
    devices (hotspotd's are 25, one a minute: 36,000 a day). Returns the highest id ever given, the
    most clients at once, the database's size on flash at the end and each retention step's time."""
    import os

    from hotspot.house import House

    now = [args.get("start", 1_735_718_400.0)]  # 2025-01-01 08:00 UTC
    cfg = _config(args)
    hs = House(cfg, clock=lambda: now[0])
    if args.get("kernel"):
        hs.nft.delete_table()
        hs.counting.ensure_table()
    n, days = args["macs"], args["days"]
    found = _found(n)
    macs = list(found)
    ids_max = most = 0
    forgotten, step_s = 0, []
    t0 = time.monotonic()
    timings = {"register": 0.0, "usage": 0.0, "maintenance": 0.0}
    for day in range(days):
        day_start = args.get("start", 1_735_718_400.0) + day * 86400
        now[0] = day_start
        batch = macs[n * day // days:n * (day + 1) // days]
        t = time.monotonic()
        new = hs.counting.register({m: found[m] for m in batch})
        timings["register"] += time.monotonic() - t
        if len(new) != len(batch):
            raise RuntimeError(f"day {day}: {len(batch) - len(new)} devices not registered")
        ids_max = max([ids_max] + [c.id for c in new])
        t = time.monotonic()
        with hs.store.transaction():
            for i, c in enumerate(new):
                for h in range(1 + i % 3):
                    hour = int(day_start // 3600 * 3600) + 3600 * ((i + h * 5) % 12)
                    nbytes = 2_000_000 + (i * 7919 + day * 104_729) % 60_000_000
                    hs.store.record([(c.id, nbytes // 9, nbytes - nbytes // 9, 0, 0)], hour, hour + 60)
        timings["usage"] += time.monotonic() - t
        most = max(most, hs.store.db.execute("SELECT COUNT(*) FROM clients").fetchone()[0])
        t = time.monotonic()
        now[0] = day_start + 15 * 3600
        hs.counting.rollover_if_due()
        hs.history.compact(budget=10)
        while True:
            t_step = time.monotonic()
            done = hs.forgetting.retain(args.get("step", 25))
            if not done:
                break
            step_s.append((time.monotonic() - t_step, len(done)))
            forgotten += len(done)
        timings["maintenance"] += time.monotonic() - t
    hs.core.commit()
    size = os.path.getsize(os.path.join(cfg.state_dir, "hotspot.db"))
    left = hs.store.db.execute("SELECT COUNT(*) FROM clients").fetchone()[0]
    if args.get("kernel"):
        hs.teardown()
    hs.close()
    return {"ids_max": ids_max, "clients_max": most, "clients_end": left, "forgotten": forgotten,
            "retention_steps": len(step_s), "db_bytes": size, "seconds": time.monotonic() - t0,
            "step_ms": sorted(round(s * 1000, 1) for s, _n in step_s),
            "ms_per_device": round(1000 * sum(s for s, _n in step_s) / max(1, forgotten), 2),
            "timings": {k: round(v, 2) for k, v in timings.items()}}


def counter_shapes(args: dict) -> dict:
    """What reading every client's counter costs as today (a counter in each chain's last rule: one dump
    of every rule of the table) against named counter objects (`counter name "u5"` in that rule: one
    dump of the table's counter objects, filtered by type in the kernel). Two scratch tables of
    `clients` clients, each chain with a quota rule and its counter rule; both read in alternating
    rounds, the objects with a parser as lean as rule_dump_counters. Medians in ms."""
    import resource
    import statistics
    import subprocess

    from hotspot.kernel import dumps

    cmds = []
    for t in ("hs_anon", "hs_named"):
        cmds.append(f"add table inet {t}")
        for i in range(2, args["clients"] + 2):
            cmds.append(f"add quota inet {t} q{i} over 10000000000 bytes")
            for chain in (f"up{i}", f"down{i}"):
                counter = "counter" if t == "hs_anon" else f"counter name {chain[0]}{i}"
                if t == "hs_named":
                    cmds.append(f"add counter inet {t} {chain[0]}{i}")
                cmds += [f"add chain inet {t} {chain}", f"add rule inet {t} {chain} quota name q{i} drop",
                         f"add rule inet {t} {chain} {counter} accept"]
    subprocess.run(["nft", "-f", "-"], input="\n".join(cmds) + "\n", text=True, check=True)
    times: dict[str, list] = {}
    try:
        for _ in range(args.get("rounds", 10)):
            for name, fn in (("rules", lambda: dumps.dump_counters("hs_anon")),
                             ("named", lambda: named_counters("hs_named")[0])):
                r0, t = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
                found = fn()
                wall = time.perf_counter() - t
                r1 = resource.getrusage(resource.RUSAGE_SELF)
                if len(found) != 2 * args["clients"]:
                    raise RuntimeError(f"{name}: {len(found)} counters read")
                for k, v in (("wall", wall), ("user", r1.ru_utime - r0.ru_utime),
                             ("sys", r1.ru_stime - r0.ru_stime)):
                    times.setdefault(f"{name}_{k}_ms", []).append(v * 1000)
    finally:
        for t in ("hs_anon", "hs_named"):
            subprocess.run(["nft", "delete", "table", "inet", t], capture_output=True)
    return {k: round(statistics.median(v), 2) for k, v in times.items()}


JOBS = {"counter_shapes": counter_shapes, "load_ours": load_ours, "make_db": make_db, "poll": poll,
        "flush_rebuild": flush_rebuild,
        "rebuild_profile": rebuild_profile, "churn": churn}

if __name__ == "__main__":
    print(json.dumps(JOBS[sys.argv[1]](json.loads(sys.argv[2]))))
