"""Small-packet forwarding rate through the lab router: no table, ours (10 and 5,000 clients), the peer
design.

The peer design is what openNDS and nodogsplash do: one rule per client, matched in order. Our table
does a fixed number of map lookups per packet, whatever the number of clients.

Method: UDP, 64-byte payload, iperf3 at full speed (-b 0) from a client to the internet namespace; the
rate is the packets the server received per second. On veths the whole forwarding path runs on the
sending CPU, so the sender is the bottleneck and the rate follows the per-packet cost of the router's
hooks. iperf3 runs directly rather than through Lab.iperf, to pin its client and server to different
CPUs (-A), which takes some of the run-to-run noise away.

Noise on a shared 2-core box is the enemy, so the comparison is made pairwise and many times: both of
our tables (5,000 clients as `hotspot`, 10 clients as `hotspot10`) stay loaded for the whole run and a
configuration is switched by adding or deleting only the hook chain (`forward`), which takes
milliseconds; a table without a base chain costs a packet nothing, so "none" is the baseline. Each round
measures none, ours and ours10 back to back, ours in the middle and the other two swapping places each
round (none-ours-ours10, ours10-ours-none, ...), and the figure is the median of the per-round ratios,
with their spread: drift and other load on the box hit both sides of a pair alike, and a round hit by
a burst of other work is an outlier the median ignores.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time

from hotspot.kernel.nft import HOOK
from lab import Lab
from tests.bench.common import emit, loadavg, log, median, nsjob, rnd, spread
from tests.bench.nsjob import synthetic_macs

CLIENTS = 5000
FEW = 10
ROUNDS = 20  # rounds of (none, empty, ours, ours10), each ~9 s
MIN_ROUNDS = 10  # ... but stop after BUDGET seconds once this many are done
BUDGET = 180
PEER_ROUNDS = 3  # the peer design is ~30x slower: a few rounds pin it down
SECONDS = 2
PAYLOAD = 64
GOAL = 0.93
SCALING_GOAL = 0.95

# table -> the client id of the real MAC (the last id) in it
_TABLES = {"ours": ("hotspot", CLIENTS + 1), "ours10": ("hotspot10", FEW + 1)}
_HOOK_CHAINS = ("forward", "output", "input", "prerouting")  # hook.nft's base chains
_CLEAR = "".join(f"table inet {t}\ndelete table inet {t}\n"
                 for t in ("hotspot", "hotspot10", "peer", "empty"))
# The floor under any table: a forward base chain with no rule, at our hook's priority. What the hook
# itself costs a packet (the netfilter hook call and the chain's walk) no table of ours can avoid.
EMPTY_HOOK = ("table inet empty {\n\tchain forward {\n"
              "\t\ttype filter hook forward priority filter - 5; policy accept;\n\t}\n}\n")


def peer_ruleset(real_mac: str, clients: int) -> str:
    """One `ether saddr MAC counter` rule per client in a forward-hook chain, the real client's last."""
    macs = synthetic_macs(clients - 1) + [real_mac]
    rules = "\n".join(f"\t\tether saddr {m} counter" for m in macs)
    return ("table inet peer {\n\tchain forward {\n"
            "\t\ttype filter hook forward priority filter - 5; policy accept;\n"
            f"{rules}\n\t}}\n}}\n")


def _hook(table: str) -> str:
    """The product's hook.nft, for a table of that name (the 10-client copy gets its own)."""
    return HOOK.read_text().replace("table inet hotspot {", f"table inet {table} {{")


class Configs:
    """Switches the router between the configurations under test."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.mac = lab.clients["c1"].mac
        self.peer_file = os.path.join(lab.dir, "peer.nft")
        with open(self.peer_file, "w") as f:
            f.write(peer_ruleset(self.mac, CLIENTS))
        self.load_seconds: dict[str, list[float]] = {}
        self.switch_seconds: list[float] = []
        self.hooked: str | None = None
        self.seen: dict[str, tuple[int, int]] = {}  # config -> (client packets, unregistered packets)

    def clear(self) -> None:
        self.lab.nft(self.lab.router, _CLEAR)
        self.hooked = None

    def load(self) -> None:
        """Both of our tables, unhooked: the 10-client one is built by Nft.build as `hotspot`, listed
        and renamed `hotspot10`, then the 5,000-client one is built as `hotspot`."""
        self.clear()
        args = {"lan": self.lab.lan_device, "wan": self.lab.wan_device, "real": [self.mac], "hook": False}
        r = nsjob(self.lab, "load_ours", clients=FEW, **args)
        self.load_seconds["ours10"] = [r["seconds"]]
        text = self.lab.run(self.lab.router, "nft", "list", "table", "inet", "hotspot").stdout
        self.lab.nft(self.lab.router, "delete table inet hotspot\n" +
                     text.replace("table inet hotspot {", "table inet hotspot10 {", 1))
        r = nsjob(self.lab, "load_ours", clients=CLIENTS, **args)
        self.load_seconds["ours"] = [r["seconds"]]
        for config in _TABLES:
            self.seen[config] = self._counts(config)

    def apply(self, config: str) -> None:
        """Hook exactly one table (or none) into the forward path; the peer table is loaded whole."""
        t0 = time.monotonic()
        if config == "peer":
            self.apply("none")
            self.lab.run(self.lab.router, "nft", "-f", self.peer_file, timeout=120)
            self.load_seconds.setdefault("peer", []).append(time.monotonic() - t0)
            self.hooked = "peer"
            return
        want = _TABLES[config][0] if config in _TABLES else config if config == "empty" else None
        if want == self.hooked:
            return
        cmds = ""
        if self.hooked in ("peer", "empty"):
            cmds += f"delete table inet {self.hooked}\n"
        elif self.hooked:
            cmds += "".join(f"delete chain inet {self.hooked} {c}\n" for c in _HOOK_CHAINS)
        if want == "empty":
            cmds += EMPTY_HOOK
        elif want:
            cmds += _hook(want)
        self.lab.nft(self.lab.router, cmds)
        self.hooked = want
        if config != "none":
            self.switch_seconds.append(time.monotonic() - t0)

    def check(self, config: str, packets: int) -> None:
        """Make sure the real client's packets took the path we mean to measure."""
        if config in _TABLES:
            client, unregistered = self._counts(config)
            was_client, was_unregistered = self.seen[config]
            self.seen[config] = (client, unregistered)
            counted, unknown = client - was_client, unregistered - was_unregistered
            cid = _TABLES[config][1]
            if counted < packets // 2 or unknown > counted // 100:
                raise RuntimeError(f"{config}: the counter rule of up{cid} saw {counted} packets and the "
                                   f"unregistered one {unknown}, for {packets} delivered")
        elif config == "peer":
            out = self.lab.run(self.lab.router, "nft", "-j", "list", "chain", "inet", "peer",
                               "forward").stdout
            rules = [o["rule"] for o in json.loads(out)["nftables"] if "rule" in o]
            last = [s["counter"]["packets"] for s in rules[-1]["expr"] if "counter" in s]
            if len(rules) != CLIENTS or not last or last[0] < packets // 2:
                raise RuntimeError(f"peer: {len(rules)} rules, last rule counted {last}")

    def _counts(self, config: str) -> tuple[int, int]:
        table, cid = _TABLES[config]
        return self._chain_counter(table, f"up{cid}"), self._chain_counter(table, "upload")

    def _chain_counter(self, table: str, chain: str) -> int:
        """Packets of the counter in a chain's last rule (where hotspot keeps each client's counter)."""
        out = self.lab.run(self.lab.router, "nft", "-j", "list", "chain", "inet", table, chain).stdout
        rules = [o["rule"] for o in json.loads(out)["nftables"] if "rule" in o]
        return next(s["counter"]["packets"] for s in rules[-1]["expr"] if "counter" in s)


def _listening(pid: int, port: int) -> bool:
    """True once process pid (iperf3, in its namespace) listens on TCP port (its control connection)."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            if f.read().strip() != "iperf3":
                return False  # still `ip netns exec`
        rows = []
        for table in ("tcp", "tcp6"):
            with open(f"/proc/{pid}/net/{table}") as f:
                rows += [line.split() for line in f.readlines()[1:]]
    except OSError:
        return False
    return any(r[1].endswith(f":{port:04X}") and r[3] == "0A" for r in rows)


class Flood:
    """iperf3 UDP at full speed with the client and server pinned to different CPUs (iperf3 -A), so the
    sending CPU, which also runs the whole forwarding path, is the same in every run."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.port = 5900
        cpus = sorted(os.sched_getaffinity(0))
        self.cpus = cpus[:2] if len(cpus) >= 2 else []

    def once(self) -> dict:
        self.port += 1
        pin = ["-A", str(self.cpus[1])] if self.cpus else []
        quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        server = self.lab.popen(self.lab.internet, "iperf3", "-s", "-1", "-p", self.port, *pin, **quiet)
        try:
            self.lab.wait_for(lambda: server.poll() is not None or _listening(server.pid, self.port), 10,
                              "iperf3 server", interval=0.01)
            pin = ["-A", str(self.cpus[0])] if self.cpus else []
            p = self.lab.run("c1", "iperf3", "-J", "-c", self.lab.server4, "-p", self.port, "-u", "-b", "0",
                             "-l", PAYLOAD, "-t", SECONDS, *pin, timeout=SECONDS + 20, check=False)
            r = json.loads(p.stdout)
            if p.returncode or "error" in r:
                raise RuntimeError(f"iperf3: {r.get('error') or p.stderr.strip()}")
        finally:
            if server.poll() is None:
                try:
                    server.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    server.kill()
        recv, sent = r["end"]["sum_received"], r["end"]["sum_sent"]
        received = recv["packets"] - recv["lost_packets"]
        return {"pps": received / recv["seconds"], "pps_sent": sent["packets"] / sent["seconds"],
                "received": received}

    def measure(self, tries: int = 3) -> dict:
        for attempt in range(tries):
            try:
                return self.once()
            except (RuntimeError, TimeoutError, ValueError, subprocess.TimeoutExpired) as e:
                log(f"iperf3 UDP attempt {attempt + 1} failed: {str(e).splitlines()[0] if str(e) else e}")
                if attempt == tries - 1:
                    raise
        raise AssertionError("unreachable")


def run(rounds: int = ROUNDS, peer_rounds: int = PEER_ROUNDS, min_rounds: int = MIN_ROUNDS) -> None:
    configs = ["none", "empty", "ours", "ours10", "peer"]
    samples: dict[str, list[float]] = {c: [] for c in configs}
    sent: dict[str, list[float]] = {c: [] for c in configs}
    paired: dict[str, list[float]] = {"ours": [], "ours10": [], "peer": [], "scaling": [], "empty": [],
                                      "ours_vs_empty": []}
    paired_sent: list[float] = []  # ours/none of the packets the client sent per second
    load_before = loadavg()
    with Lab(clients=("c1",), offload=False, ipv6=False) as lab:
        sw = Configs(lab)
        sw.load()
        flood = Flood(lab)
        flood.measure()  # warm-up: ARP, caches, CPU frequency
        t0 = time.monotonic()
        i = 0
        while i < rounds and (i < min_rounds or time.monotonic() - t0 < BUDGET):
            # the order reverses each round, so a linear drift within a round biases each ratio one
            # way, then the other
            order = ["none", "empty", "ours", "ours10"]
            if i % 2:
                order.reverse()
            if i < peer_rounds:
                order.append("peer")
            got, got_sent = {}, {}
            for config in order:
                sw.apply(config)
                m = flood.measure()
                sw.check(config, m["received"])
                got[config], got_sent[config] = m["pps"], m["pps_sent"]
                samples[config].append(m["pps"])
                sent[config].append(m["pps_sent"])
                log(f"dataplane round {i + 1} {config:6}: {m['pps']:9.0f} pps received, "
                    f"{m['pps_sent']:9.0f} sent")
            if "peer" in got:
                sw.apply("none")  # the peer table goes at once: it must not linger under other runs
            for config in ("ours", "ours10", "peer", "empty"):
                if config in got:
                    paired[config].append(got[config] / got["none"])
            paired["scaling"].append(got["ours"] / got["ours10"])
            paired["ours_vs_empty"].append(got["ours"] / got["empty"])
            paired_sent.append(got_sent["ours"] / got_sent["none"])
            log(f"dataplane round {i + 1}: ours/none {paired['ours'][-1]:.3f}, "
                f"empty/none {paired['empty'][-1]:.3f}, ours/ours10 {paired['scaling'][-1]:.3f}")
            i += 1
        took = time.monotonic() - t0
        sw.apply("none")
        sw.clear()
        load_s = {c: rnd(median(v), 3) for c, v in sw.load_seconds.items()}
        switch_ms = round(1000 * median(sw.switch_seconds), 1)

    pps = {c: median(v) for c, v in samples.items()}
    cv_none = statistics.stdev(samples["none"]) / statistics.mean(samples["none"])
    ours, scaling = spread(paired["ours"]), spread(paired["scaling"])
    empty, vs_empty = spread(paired["empty"]), spread(paired["ours_vs_empty"])
    load_after = loadavg()
    emit("dataplane_pps_ratio_empty_hook", empty["median"], "ratio", iqr=empty["iqr"], range=empty["range"],
         pps_none=round(pps["none"]), pps_empty=round(pps["empty"]), rounds=i,
         per_round=[rnd(x, 3) for x in paired["empty"]], loadavg_before=load_before,
         loadavg_after=load_after,
         note=("the floor: an empty forward base chain (table inet empty, our hook's priority, no rule) "
               "against no table, in the same interleaved rounds as dataplane_pps_ratio; median of "
               "per-round ratios. No table can forward faster than this."))
    emit("dataplane_pps_ratio", ours["median"], "ratio", goal=GOAL, iqr=ours["iqr"], range=ours["range"],
         vs_empty_hook=vs_empty,
         ratio_of_medians=rnd(pps["ours"] / pps["none"]),
         peer_rule_per_client_ratio=rnd(median(paired["peer"])),
         pps_none=round(pps["none"]), pps_ours=round(pps["ours"]), pps_peer=round(pps["peer"]),
         clients=CLIENTS, payload_bytes=PAYLOAD, rounds=i, peer_rounds=len(paired["peer"]),
         seconds_per_run=SECONDS, seconds=round(took), pinned_cpus=flood.cpus, cv_none=rnd(cv_none, 3),
         per_round=[rnd(x, 3) for x in paired["ours"]], sent_ratio=spread(paired_sent),
         loadavg_before=load_before, loadavg_after=load_after,
         samples={c: [round(x) for x in samples[c]] for c in ("none", "empty", "ours", "peer")},
         pps_sent_median={c: round(median(sent[c])) for c in ("none", "empty", "ours", "peer")},
         load_seconds=load_s, hook_switch_ms=switch_ms,
         note=("UDP 64-byte payload, client -> router -> internet, packets received by the server per "
               "second (iperf3 client and server pinned to different CPUs). Each round measures none, "
               "empty (an empty forward base chain), ours and ours10 back to back, the order reversed "
               "every other round; value = median over rounds of ours/none from the same round, "
               "iqr/range = quartiles/extremes of those per-round ratios, vs_empty_hook = the same for "
               "ours/empty, ratio_of_medians = median(ours) / median(none), sent_ratio "
               "= the same per-round figure for the packets the client sent. ours: table inet hotspot "
               "built by Nft.build with 5,000 registered clients (c1 the last, with a quota, so every "
               "packet passes its quota rule and counter rule) and the plan guard's three levels, the "
               "router's own counting hooked too; configurations switch by adding or deleting only the "
               "hook chains. peer: a "
               "forward-hook chain with one `ether saddr MAC counter` rule per client "
               "(openNDS/nodogsplash style), the real client's rule LAST so every packet walks all "
               "5,000 rules."))
    emit("dataplane_scaling", scaling["median"], "ratio", goal=SCALING_GOAL, iqr=scaling["iqr"],
         range=scaling["range"], ratio_of_medians=rnd(pps["ours"] / pps["ours10"]),
         pps_ours_10=round(pps["ours10"]), pps_ours_5000=round(pps["ours"]),
         ours10_vs_none=spread(paired["ours10"]), rounds=i,
         per_round=[rnd(x, 3) for x in paired["scaling"]],
         samples_10=[round(x) for x in samples["ours10"]],
         note=("ours at 5,000 clients / ours at 10 clients (a second table, `hotspot10`, the same build "
               "with 10 clients), median of per-round ratios; same lab, runs and method as "
               "dataplane_pps_ratio"))
