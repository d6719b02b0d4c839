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


def load_ours(args: dict) -> dict:
    """Load hotspot's real table with `clients` clients: synthetic ones plus the real MACs (last ids),
    each with a quota (never reached) so every packet also takes the cap lookup."""
    from hotspot.nft import ClientElements, Nft

    t0 = time.monotonic()
    nft = Nft()
    nft.delete_table()
    nft.load([args["lan"]], [args["wan"]])
    real = [m.lower() for m in args.get("real", [])]
    macs = synthetic_macs(args["clients"] - len(real)) + real
    batch = args.get("batch", 1000)
    elems = [ClientElements(id=i + 2, mac=m, quota=10**15) for i, m in enumerate(macs)]
    for i in range(0, len(elems), batch):
        nft.add_clients(elems[i:i + batch])
    return {"seconds": time.monotonic() - t0, "clients": len(elems)}


def _config(args: dict):
    from hotspot.config import Config, load

    if "config" in args:
        return load(args["config"])
    d = args["dir"]
    return Config(lan_device=args["lan"], wan_device=(args["wan"],), run_dir=f"{d}/run",
                  state_dir=f"{d}/state", leases_file=f"{d}/dhcp.leases", default_cap=args.get("cap"))


def _found(n: int) -> dict[str, dict]:
    """What discovery would report for n clients: a MAC, an address and a hostname each."""
    return {m: {"ips": [f"10.{64 + (i >> 16)}.{i >> 8 & 0xFF}.{i & 0xFF}"], "hostname": f"dev{i}"}
            for i, m in enumerate(synthetic_macs(n))}


def make_db(args: dict) -> dict:
    """Register n clients through the service layer (database only: no table loaded yet)."""
    from hotspot.service import Hotspot

    hs = Hotspot(_config(args))
    hs.nft.delete_table()
    t0 = time.monotonic()
    new = hs.register(_found(args["clients"]))
    seconds = time.monotonic() - t0
    hs.commit()
    hs.close()
    return {"registered": len(new), "register_seconds": seconds}


def _kernel_with_bytes(hs, clients) -> int:
    """Load the table and add the clients' kernel objects, their counters already holding bytes (so
    every client has something to account at each poll); returns the table handle."""
    from hotspot import policy
    from hotspot.nft import FAMILY, TABLE, counter_names

    handle = hs.nft.load([hs.cfg.lan_device], list(hs.cfg.wan_device))
    for i in range(0, len(clients), 1000):
        chunk = clients[i:i + 1000]
        cmds = []
        for c in chunk:
            up, down = counter_names(c.id)
            for name, nbytes in ((up, 10**8 + c.id * 1000), (down, 10**9 + c.id * 10000)):
                cmds.append({"add": {"counter": {"family": FAMILY, "table": TABLE, "name": name,
                                                 "packets": nbytes // 1000, "bytes": nbytes}}})
        hs.nft.batch(cmds)
        hs.nft.add_clients([policy.elements(c, hs.cfg) for c in chunk])  # keeps existing counters
    return handle


def _new_bytes(hs, poll: int) -> None:
    """Between polls: every client's kernel counters are ahead of the database's baselines, as after
    a poll interval in which each client moved some bytes (the kernel's are fixed; we lower ours)."""
    with hs.store.transaction():
        hs.store.db.execute("UPDATE clients SET seen_up = seen_up - ? - id % 500, "
                            "seen_down = seen_down - ? - id % 5000", (1000 + poll, 30000 + poll))


def poll(args: dict) -> dict:
    """Time `account()` (one poll of the service layer) with every client having new bytes."""
    import cProfile
    import io
    import pstats

    from hotspot.daemon import Daemon
    from hotspot.service import Hotspot, boot_id

    cfg = _config(args)
    hs = Hotspot(cfg)
    hs.nft.delete_table()
    t0 = time.monotonic()
    hs.register(_found(args["clients"]))
    register_s = time.monotonic() - t0
    clients = hs.store.clients()
    t0 = time.monotonic()
    handle = _kernel_with_bytes(hs, clients)
    kernel_s = time.monotonic() - t0
    with hs.store.transaction():
        hs.store.reset_seen()
        hs.store.set("table", f"{boot_id()}/{handle}")

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
            moved = hs.account()
            t_body = time.perf_counter()
        t_end = time.perf_counter()
        if len(moved) != len(clients):
            raise RuntimeError(f"poll {i}: {len(moved)} of {len(clients)} clients had new bytes")
        polls.append({"total": t_end - t, "read": parts["read"], "record": parts["record"],
                      "commit": t_end - t_body,
                      "other": (t_body - t) - parts["read"] - parts["record"]})

    # Where the time goes, function by function, in one more poll.
    _new_bytes(hs, 0)
    prof = cProfile.Profile()
    prof.enable()
    with hs.store.transaction():
        hs.account()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(8)
    print(out.getvalue(), file=sys.stderr)

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
            "kernel_s": kernel_s, "objects": len(hs.nft.read_objects()), "usage_rows": rows}


JOBS = {"load_ours": load_ours, "make_db": make_db, "poll": poll}

if __name__ == "__main__":
    print(json.dumps(JOBS[sys.argv[1]](json.loads(sys.argv[2]))))
