"""`nft flush ruleset` under the real hotspotd: how soon the table is back whole, and how many bytes
cross uncounted meanwhile.

hotspotd listens to nftables' notifications and rebuilds the table the moment it is deleted; the hook
chain (`forward`) is added last, so the instant it exists again every client's chains, quota, block and
throttle are in place. The flush and the watch run inside the router namespace (nsjob flush_rebuild):
libnftables flushes, then a netlink GETCHAIN asks every ~1 ms whether the hook chain is back.
"""

from __future__ import annotations

import re
import time

from lab import Lab
from lab.hotspotd import Hotspotd
from tests.bench.common import emit, loadavg, log, median, nsjob, rnd

REPEATS = 5
GOALS_MS = {10: 50, 5000: 500}
GAP_RUNS = 3
GAP_CLIENTS = 10  # registered: c1, c2 and synthetic ones
PROFILE_FROM = 1000  # clients: break the rebuild down where it takes long enough to matter
POLL_INTERVAL = 2.0  # the shipped default: a flush meets hotspotd mid-poll as often as on a router

_REBUILT = re.compile(r"is rebuilt in (\d+) ms")
_MISSED = "was gone (flushed?)"  # hotspotd found the table missing before it read the kernel's notice


def _rebuilt_ms(text: str) -> list[int]:
    """The rebuild times hotspotd logged ("table inet hotspot was deleted ... rebuilt in N ms")."""
    return [int(m) for m in _REBUILT.findall(text)]


def _log_since(d: Hotspotd, mark: str) -> str:
    text = d.log()
    return text[text.rfind(mark):] if mark in text else text


def _start_with(lab: Lab, clients: int, synthetic: int | None = None) -> tuple[Hotspotd, dict]:
    """hotspotd with `clients` clients in its database (a mix of capped, throttled and blocked ones)."""
    d = Hotspotd(lab, poll_interval=POLL_INTERVAL)
    made = nsjob(lab, "make_db", config=str(d.config_path), mixed=True,
                 clients=clients if synthetic is None else synthetic)
    d.start(wait=False)
    lab.wait_for(d._running, 120, f"hotspotd to load its table with {clients} clients", interval=0.1)
    return d, made


def run_rebuild(repeats: int = REPEATS) -> None:
    for clients, goal in GOALS_MS.items():
        with Lab(clients=()) as lab:
            d, made = _start_with(lab, clients)
            try:
                time.sleep(1)  # past the first polls
                mark = f"--- bench: {repeats} flushes ---"
                d.log_mark(mark)
                r = nsjob(lab, "flush_rebuild", config=str(d.config_path), repeats=repeats,
                          timeout=60 + clients / 50, interval=0.001)
                time.sleep(0.2)  # the daemon logs its time after the hook is in
                logged = _rebuilt_ms(_log_since(d, mark))
                errors = [ln for ln in _log_since(d, mark).splitlines() if "ERROR" in ln]
            finally:
                rc = d.stop(timeout=30)
            profile = _profile(lab, d) if clients >= PROFILE_FROM else None
        ms = [x["ms"] for x in r["runs"]]
        problems = [p for x in r["runs"] for p in x["problems"]]
        log(f"rebuild of {clients} clients: {', '.join(f'{x:.1f}' for x in ms)} ms; hotspotd logged "
            f"{logged} ms; problems: {problems or 'none'}")
        if problems:
            raise RuntimeError(f"{clients} clients: the rebuilt table is incomplete: {problems[0]}")
        if errors:
            raise RuntimeError(f"hotspotd logged errors: {errors[-1]}")
        emit(f"rebuild_ms_{clients}", round(median(ms), 1), "ms", goal=goal, min=round(min(ms), 1),
             max=round(max(ms), 1), runs=[round(x, 1) for x in ms],
             flush_ms=round(median([x["flush_ms"] for x in r["runs"]]), 1),
             daemon_logged_ms=logged, clients=clients, capped=made["capped"], throttled=made["throttled"],
             blocked=made["blocked"], chains=r["chains"], quotas=r["quotas"], htb_classes=r["classes"],
             poll_interval_s=POLL_INTERVAL, exit_code=rc, loadavg=loadavg(),
             **({"profile_ms": profile} if profile else {}),
             note=("from just before `nft flush ruleset` (libnftables, in the router namespace) until "
                   "hotspot's hook chain `forward` exists again (a netlink GETCHAIN every ~1 ms); hotspotd "
                   "adds it last, after every client's chains, quota, block and throttle, and each run is "
                   "checked complete afterwards (rules of every client chain, quotas, client_up/"
                   "client_down/paths elements, HTB classes). Median of runs 1-2 s apart; flush_ms = the "
                   "flush command itself; daemon_logged_ms = what hotspotd logged for each rebuild "
                   "(notice read to table back, without the flush and the wake-up). profile_ms: one more "
                   "flush with hotspotd stopped, Counting.ensure_table called directly, each step timed "
                   "(inclusive wall ms; nft.batch = libnftables JSON batches, nft._file = nft text (the "
                   "ruleset, the clients, the hook), each split into user-space and kernel CPU time)."))


def _profile(lab: Lab, d: Hotspotd) -> dict:
    """Where one rebuild's time goes (nsjob rebuild_profile, hotspotd stopped, same database)."""
    r = nsjob(lab, "rebuild_profile", config=str(d.config_path), repeats=1)["runs"][0]
    steps = r["steps"]
    out = {"flush": round(r["flush_ms"], 1), "read_notices": round(r["notices_ms"], 1),
           "ensure_table": round(r["ensure_table_ms"], 1)}
    for name in ("nft.build", "nft.batch", "clients.reshape", "store.clients", "counting.account",
                 "nft._file", "nft.client_rules", "policy.elements"):
        if name in steps:
            out[name] = steps[name]["ms"]
    for name in ("nft.batch", "nft._file"):  # libnftables: JSON batches, and nft text
        if name in steps:
            step = steps[name]
            out[f"{name}_user_cpu"], out[f"{name}_kernel_cpu"] = step["user_ms"], step["sys_ms"]
            out[f"{name}_calls"] = step["calls"]
    if "nft.add_clients" in steps and "nft._file" in steps:
        out["nft.add_clients_cpu"] = steps["nft.add_clients"]["user_ms"] + steps["nft.add_clients"]["sys_ms"]
    log(f"rebuild profile: {out}")
    return out


def _counted(d: Hotspotd, mac: str) -> int:
    return d.client(mac)["bytes_total"]


def _wire(lab: Lab, client: str) -> int:
    return sum(lab.ip_bytes(client).values())


def run_flush_gap(runs: int = GAP_RUNS) -> None:
    """10 registered clients, an IPv6 download at line rate, a flush in the middle of it."""
    gaps, rebuild_ms, logged, rates, missed = [], [], [], [], []
    with Lab(clients=("c1", "c2")) as lab:
        d, _made = _start_with(lab, GAP_CLIENTS, synthetic=GAP_CLIENTS - 2)
        try:
            for name in ("c1", "c2"):
                for _ in range(3):
                    lab.ping(name, lab.server6)
                    try:
                        d.wait_client(lab.clients[name].mac, timeout=5)
                        break
                    except TimeoutError:
                        continue
            n = len(d.clients())
            if n != GAP_CLIENTS:
                raise RuntimeError(f"{n} registered clients, {GAP_CLIENTS} wanted")
            mac = lab.clients["c1"].mac
            for i in range(runs):
                counted0, wire0 = _counted(d, mac), _wire(lab, "c1")
                mark = f"--- bench: flush gap run {i + 1} ---"
                d.log_mark(mark)
                # IPv6: the flush also takes the lab's NAT table (reloaded below, as fw4 would)
                flow = lab.iperf_start("c1", seconds=4, reverse=True, ipv6=True)
                time.sleep(1.5)
                r = nsjob(lab, "flush_rebuild", config=str(d.config_path), repeats=1, timeout=10)
                lab.install_nat()
                result = flow.wait()
                d.wait_polls(2)
                counted, wire = _counted(d, mac) - counted0, _wire(lab, "c1") - wire0
                gaps.append(wire - counted)
                rebuild_ms.append(r["runs"][0]["ms"])
                text = _log_since(d, mark)
                logged += _rebuilt_ms(text)
                if _MISSED in text:
                    missed.append(i + 1)
                rates.append(result["end"]["sum_received"]["bits_per_second"])
                problems = r["runs"][0]["problems"]
                log(f"flush gap run {i + 1}: wire {wire} bytes, counted {counted}, gap {gaps[-1]} bytes; "
                    f"back in {rebuild_ms[-1]:.1f} ms; {rates[-1] / 1e9:.2f} Gbit/s; "
                    f"problems: {problems or 'none'}" + ("; hotspotd rebuilt before it read the notice "
                                                         "(bytes since its last poll lost)" if _MISSED in text
                                                         else ""))
                if problems:
                    raise RuntimeError(f"the rebuilt table is incomplete: {problems[0]}")
        finally:
            d.stop(timeout=30)
    gbit = median(rates) / 1e9
    emit("flush_gap_bytes", int(median(gaps)), "bytes", runs=gaps,
         rebuild_ms=[round(x, 1) for x in rebuild_ms],
         daemon_logged_ms=logged, notice_missed_runs=missed, line_rate_gbit=rnd(gbit, 2),
         gap_ms_at_line_rate=rnd(median(gaps) * 8 / (gbit * 1e9) * 1000, 1) if gbit else None,
         clients=GAP_CLIENTS, poll_interval_s=POLL_INTERVAL,
         note=("IPv6 TCP download (iperf3 -R, GSO on) at line rate for c1 among 10 registered clients; "
               "`nft flush ruleset` 1.5 s in; gap = IP bytes c1's interface exchanged with the server "
               "(labmeter) - the increase of its bytes_total in `hotspotctl --json client`; median of "
               "runs. hotspotd keeps what the deleted rules had counted (the kernel's DELRULE notices), "
               "so the gap is what crossed while the table was missing; notice_missed_runs = runs in which "
               "hotspotd's poll found the table gone before it read the notice, so it rebuilt without "
               "those counters (logged 'was gone'). No goal: reported."))
