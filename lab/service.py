"""hotspot's house (hotspot.house.House: the core and the keepers) in a lab's router namespace, one
call at a time.

For the tests that must order what hotspotd's poll would do on its own: which device registers when
(discovery would find a device again the moment it is forgotten), when the kernel's counters are
read. The calls run in a child process in the router's namespace (the kernel table, tc and conntrack
are that namespace's), one JSON line each way.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hotspot.config import Config, dump
from lab import Lab

_DRIVER = r"""
import dataclasses, json, sys
from hotspot.kernel import conntrack
from hotspot.config import load
from hotspot.house import House
from hotspot.kernel.dumps import client_counters, dump_app_counters
from hotspot.kernel.rules import TABLE

hs = House(load(sys.argv[1]))
marks = hs.nft.marks


def account():
    with hs.store.transaction():
        return {str(k): v for k, v in hs.counting.account().items()}


OPS = {
    "ensure_table": lambda: hs.counting.ensure_table(),
    "register": lambda found: [dataclasses.asdict(c) for c in hs.counting.register(found)],
    "account": account,
    "forget": lambda mac: hs.forgetting.forget_device(mac),
    "set_cap": lambda mac, size: hs.clients.set_cap(mac, size),
    "throttle": lambda mac, rate: hs.clients.throttle(mac, rate),
    "client": lambda mac: hs.clients.detail(mac),
    "counters": lambda cid: client_counters(TABLE, cid),
    "flows": lambda: [[f.mark >> marks.shift, f.src, f.dst] for f in conntrack.flows(marks.mask)],
    "app_counters": lambda: [[cat, d, m >> marks.shift, n] for (cat, d), c in dump_app_counters(TABLE).items()
                             for m, n in c.items()],
    "categorise": lambda cat, addr: hs.nft.add_category_addresses([(cat, addr, 3600, 3600)]),
    "plan_used": lambda: hs.plan.used(),
    "unregistered": lambda: int(hs.store.get("unregistered", "0")),
    "teardown": lambda: hs.teardown(),
}
for line in sys.stdin:
    req = json.loads(line)
    try:
        answer = {"ok": OPS[req["op"]](*req.get("args", []))}
    except Exception as e:
        answer = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(answer, default=str), flush=True)
"""


class LabService:
    """House(config) in the lab's router; `call(op, *args)` runs one of the driver's OPS."""

    def __init__(self, lab: Lab, config: Config) -> None:
        self.dir = Path(lab.dir) / "service"
        self.dir.mkdir(exist_ok=True)
        self.config = config.replace(state_dir=str(self.dir / "state"), run_dir=str(self.dir / "run"),
                                     leases_file=lab.leases_file)
        path = self.dir / "hotspot.conf"
        path.write_text(dump(self.config))
        self.proc = lab.popen(lab.router, sys.executable, "-c", _DRIVER, str(path), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)

    def call(self, op: str, *args):
        self.proc.stdin.write(json.dumps({"op": op, "args": list(args)}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the service driver exited ({self.proc.poll()})")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"{op}: {answer['error']}")
        return answer["ok"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(10)
