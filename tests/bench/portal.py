"""The portal as clients see it: latency under an open-loop load with 5,000 registered clients (against 5),
and beside 200 slow connections; gunicorn's memory after it; the weight of the client page with
everything it loads."""

from __future__ import annotations

import json
import math
import os
import resource
import select
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from hotspot.config import Config
from lab import Lab
from lab.hotspotd import Hotspotd
from tests.bench.common import cpu_seconds, emit, loadavg, log, median, nsjob, proc_vm, rnd

ROOT = Path(__file__).resolve().parents[2]  # the repository: `python -m tests.bench.httpload` from here

LAB_CLIENTS = ("c1", "c2", "c3", "c4", "c5")  # each a load process; registered: these 5 (+ synthetic)
SYNTHETIC = 5000
RATE = 200.0  # requests/s, all load processes together
DURATION = 10.0  # measured seconds
WARMUP = 3.0
THREADS = 8  # per load process
PATHS = ("/api/me", "/")
ROUNDS = 2  # of (5,000 clients, 5 clients), alternating
IDLE = 2 * Config.poll_interval  # s: hotspotd's own CPU (polls), before the load
CAP = 10**10  # every client capped (never reached): a quota and two chains each in the kernel
SLOW_CLIENT = "slow"  # a lab client that holds SLOW connections open, dribbling half a request
SLOW = 200
SLOW_ADDRESSES = 10  # SLOW / 10 = 20 connections an address: under the portal's per-address cap
SLOW_INTERVAL = 3.0  # s between two bytes of a slow connection


CPU_KEYS = ("portal_cpu_percent", "hotspotd_cpu_percent", "hotspotd_idle_cpu_percent", "load_cpu_percent",
            "box_busy_percent")


def _pct(xs: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100)."""
    if not xs:
        return None
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def _pss(pid: int) -> int:
    """Proportional set size in kB: each page shared by n processes counts 1/n in each, so the sum
    over the portal's processes is the memory they take together (VmRSS counts a shared page in
    every process that maps it: the worker is forked from the master and shares its pages)."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def _box_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of all the box's CPUs, from /proc/stat."""
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = v[3] + v[4]  # idle + iowait
    return sum(v) - idle, sum(v)


def _portal_ready(lab: Lab, d: Hotspotd, client: str, timeout: float = 30) -> None:
    """Until /api/me answers this client with 200: the portal is up and hotspotd has registered it
    (a ping now and then makes it metered traffic hotspotd discovers)."""
    url = d.portal("/api/me")
    last = [0.0]

    def ok() -> bool:
        if time.monotonic() - last[0] > 1:
            last[0] = time.monotonic()
            lab.ping(client, lab.server4)
        p = lab.curl(client, url, "-o", "/dev/null", "-w", "%{http_code}", check=False, timeout=3)
        return p.stdout.strip() == "200"

    lab.wait_for(ok, timeout, f"the portal to answer {client}'s /api/me with 200", interval=0.2)


def _start_hotspotd(lab: Lab, synthetic: int) -> tuple[Hotspotd, dict]:
    # the shipped poll interval (the lab's default is 0.5 s): hotspotd's polls of every client and
    # the portal's questions take turns on one lock
    d = Hotspotd(lab, default_cap=CAP, poll_interval=Config.poll_interval)
    info: dict = {}
    if synthetic:
        made = nsjob(lab, "make_db", config=str(d.config_path), clients=synthetic)
        info["register_s"] = rnd(made["register_seconds"], 2)
    t0 = time.monotonic()
    d.start(wait=False)
    lab.wait_for(d._running, 120, f"hotspotd to load its table with {synthetic} clients", interval=0.1)
    info["startup_s"] = round(time.monotonic() - t0, 2)
    return d, info


def _quotas(d: Hotspotd) -> int:
    out = d.nft("-j", "list", "quotas", "table", "inet", "hotspot")
    return sum("quota" in o for o in json.loads(out)["nftables"])


def _load(lab: Lab, d: Hotspotd) -> list[dict]:
    """One httpload process per lab client, their schedules interleaved: RATE requests/s together."""
    n = len(LAB_CLIENTS)
    per = RATE / n
    start_at = time.time() + 2.0  # the processes start (Python imports) before their schedule does
    procs = []
    for k, c in enumerate(LAB_CLIENTS):
        argv = [sys.executable, "-m", "tests.bench.httpload", "--rate", str(per), "--duration", str(DURATION),
                "--warmup", str(WARMUP), "--threads", str(THREADS), "--start-at", str(start_at),
                "--phase", str(k / RATE)]
        for p in PATHS:
            argv += ["--url", d.portal(p)]
        procs.append(lab.popen(c, *argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT))
    results = []
    for c, p in zip(LAB_CLIENTS, procs):
        out, err = p.communicate(timeout=WARMUP + DURATION + 60)
        if p.returncode:
            raise RuntimeError(f"httpload in {c} exited {p.returncode}: {err.strip()[-1000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def _summary(results: list[dict]) -> dict:
    lat = [x for r in results for v in r["latencies_ms"].values() for x in v]
    by_path: dict[str, list[float]] = {}
    for r in results:
        for url, v in r["latencies_ms"].items():
            by_path.setdefault(urlsplit(url).path, []).extend(v)
    ok = sum(r["ok"] for r in results)
    start = min(r["window_start"] for r in results)
    end = max([r["window_end"] for r in results] + [r["last_done"] or 0 for r in results])
    return {
        "p50": _pct(lat, 50), "p90": _pct(lat, 90), "p99": _pct(lat, 99), "max": max(lat) if lat else None,
        "p99_by_path": {p: rnd(_pct(v, 99), 2) for p, v in by_path.items()},
        "p50_by_path": {p: rnd(_pct(v, 50), 2) for p, v in by_path.items()},
        "ok": ok, "errors": sum(r["errors"] for r in results),
        "error_samples": sorted({e for r in results for e in r["error_samples"]})[:5],
        "warmup_errors": sum(r["warmup_errors"] for r in results),
        "scheduled": sum(r["scheduled"] for r in results),
        "rate": ok / (end - start) if end > start else None,
        "send_lag_ms_max": max((r["send_lag_ms_max"] or 0) for r in results),
        "send_lag_ms_p99": max((r["send_lag_ms_p99"] or 0) for r in results),
        "max_in_flight": max(r["max_in_flight"] for r in results),
        "body_bytes": {urlsplit(u).path: b for r in results for u, b in r["body_bytes"].items()},
        "worst_ms_by_second": [max(w) for w in zip(*(r["worst_ms_by_second"] for r in results))],
        "samples": lat,
    }


def _slow_start(lab: Lab, d: Hotspotd) -> subprocess.Popen:
    """SLOW connections from SLOW_CLIENT's SLOW_ADDRESSES addresses that send half a request and a byte
    every SLOW_INTERVAL s, each opened again when the portal cuts it (at its deadline): a slowloris."""
    c = lab.clients[SLOW_CLIENT]
    argv = [sys.executable, "-m", "tests.bench.slowload", "--host", lab.router4, "--port",
            str(d.config.portal_port), "--connections", str(SLOW), "--interval", str(SLOW_INTERVAL),
            "--duration", "600", "--reconnect"]
    for k in range(SLOW_ADDRESSES):
        address = f"10.77.0.{210 + k}"  # outside the DHCP pool
        lab.run(c.ns, "ip", "addr", "add", f"{address}/24", "dev", c.dev)
        argv += ["--source", address]
    p = lab.popen(c, *argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    ready = json.loads(p.stdout.readline() if select.select([p.stdout], [], [], 60)[0] else "{}")
    if ready.get("opened") != SLOW:
        p.kill()
        raise RuntimeError(f"the slow connections did not open: {ready} {p.stderr.read()[-500:]}")
    return p


def _slow_stop(p: subprocess.Popen) -> dict:
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    if p.returncode:
        raise RuntimeError(f"slowload exited {p.returncode}: {err.strip()[-500:]}")
    return json.loads(out.strip().splitlines()[-1])


def _one(synthetic: int, slow: bool = False, extra_clients: tuple[str, ...] = ()) -> dict:
    """A lab with the load clients, hotspotd with `synthetic` more clients in its database, the load
    (with `slow`: beside SLOW slow connections)."""
    with Lab(clients=LAB_CLIENTS + extra_clients) as lab:
        d, info = _start_hotspotd(lab, synthetic)
        slowload = None
        try:
            d.wait_portal("c1", timeout=30)
            for c in LAB_CLIENTS:
                _portal_ready(lab, d, c)
            registered = len(d.clients())
            quotas = _quotas(d)
            log(f"{registered} clients registered, {quotas} quotas in the kernel; "
                f"{RATE:g} requests/s for {WARMUP:g}+{DURATION:g} s")
            if slow:
                slowload = _slow_start(lab, d)
            hpid = int((Path(d.config.run_dir) / "hotspotd.pid").read_text())
            watched = {"hotspotd": [hpid], "portal": d.portal_pids()}
            idle0, t0 = cpu_seconds(hpid), time.monotonic()
            time.sleep(IDLE)
            idle = round(100 * (cpu_seconds(hpid) - idle0) / (time.monotonic() - t0), 1)
            cpu0 = {k: sum(cpu_seconds(p) for p in v) for k, v in watched.items()}
            box0, kids0, t0 = _box_cpu(), resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
            s = _summary(_load(lab, d))
            wall = time.monotonic() - t0
            box1, kids1 = _box_cpu(), resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = {f"{k}_cpu_percent": round(100 * (sum(cpu_seconds(p) for p in v) - cpu0[k]) / wall, 1)
                   for k, v in watched.items()}
            cpu["load_cpu_percent"] = round(100 * (kids1.ru_utime + kids1.ru_stime - kids0.ru_utime
                                                   - kids0.ru_stime) / wall, 1)
            cpu["box_busy_percent"] = round(100 * (box1[0] - box0[0]) / (box1[1] - box0[1]), 1)
            cpu["hotspotd_idle_cpu_percent"] = idle
            cpu["cpus"] = os.cpu_count()
            pids = d.portal_pids()
            if sorted(pids) != sorted(watched["portal"]):
                log(f"the portal's processes changed during the load: {watched['portal']} -> {pids}")
            vm = {pid: proc_vm(pid) for pid in pids}
            pss = {pid: _pss(pid) for pid in pids}
            slow_stats = _slow_stop(slowload) if slowload else None
            errors = [ln for ln in d.log().splitlines() if "ERROR" in ln or "Traceback" in ln]
        finally:
            if slowload and slowload.poll() is None:
                slowload.kill()
            rc = d.stop(timeout=30)
    if errors:
        log("hotspotd errors:\n" + "\n".join(errors[-10:]))
    log(f"{registered} clients: p50 {s['p50']:.1f} ms, p99 {s['p99']:.1f} ms, max {s['max']:.1f} ms, "
        f"{s['ok']} ok, {s['errors']} errors, {s['rate']:.1f}/s, send lag p99 {s['send_lag_ms_p99']} ms")
    log(f"CPU during the load: {cpu}")
    return {**s, **info, **cpu, "registered": registered, "quotas": quotas, "portal_pids": len(pids),
            "portal_restarted": sorted(pids) != sorted(watched["portal"]),
            "rss_kb": sum(v.get("VmRSS", 0) for v in vm.values()),
            "pss_kb": sum(pss.values()),
            "rss_kb_each": [v.get("VmRSS", 0) for v in vm.values()],
            "hwm_kb": sum(v.get("VmHWM", 0) for v in vm.values()),
            "daemon_errors": len(errors), "exit_code": rc, "slow": slow_stats}


def run_portal(rounds: int = ROUNDS) -> None:
    """portal_p99_ms (200 requests/s open loop from 5 clients, 5,000 registered against 5) and
    portal_rss_mb (gunicorn's master + workers after the load with 5,000)."""
    runs: dict[int, list[dict]] = {SYNTHETIC: [], 0: []}
    for _ in range(rounds):
        for n in (SYNTHETIC, 0):
            runs[n].append(_one(n))
    big, small = runs[SYNTHETIC], runs[0]

    def pooled(rs: list[dict], p: float) -> float | None:
        return _pct([x for r in rs for x in r["samples"]], p)

    def ms(x):
        return rnd(x, 2)

    p99, p99_5 = pooled(big, 99), pooled(small, 99)
    p50, p50_5 = pooled(big, 50), pooled(small, 50)
    last = big[-1]
    emit("portal_p99_ms", ms(p99), "ms", goal=50, p50=ms(p50), p90=ms(pooled(big, 90)),
         max=ms(max(x for r in big for x in r["samples"])),
         p99_by_path=last["p99_by_path"], p50_by_path=last["p50_by_path"],
         rate=rnd(median([r["rate"] for r in big]), 1), target_rate=RATE,
         requests=sum(r["ok"] + r["errors"] for r in big), errors=sum(r["errors"] for r in big),
         error_samples=last["error_samples"], warmup_errors=sum(r["warmup_errors"] for r in big),
         registered=last["registered"], kernel_quotas=last["quotas"],
         p99_ms_5=ms(p99_5), p50_ms_5=ms(p50_5),
         max_ms_5=ms(max(x for r in small for x in r["samples"])),
         rate_5=rnd(median([r["rate"] for r in small]), 1), errors_5=sum(r["errors"] for r in small),
         registered_5=small[-1]["registered"],
         ratio_5000_vs_5=rnd(p99 / p99_5, 3) if p99 and p99_5 else None,
         p50_ratio_5000_vs_5=rnd(p50 / p50_5, 3) if p50 and p50_5 else None,
         rounds_p99_ms=[ms(r["p99"]) for r in big], rounds_p99_ms_5=[ms(r["p99"]) for r in small],
         send_lag_ms_p99=max(r["send_lag_ms_p99"] for r in big + small),
         send_lag_ms_max=max(r["send_lag_ms_max"] for r in big + small),
         max_in_flight=max(r["max_in_flight"] for r in big),
         portal_restarted=any(r["portal_restarted"] for r in big + small), body_bytes=last["body_bytes"],
         cpu_percent={k: last[k] for k in CPU_KEYS},
         cpu_percent_5={k: small[-1][k] for k in CPU_KEYS},
         cpus=last["cpus"], worst_ms_by_second=last["worst_ms_by_second"],
         hotspotd_startup_s=last["startup_s"], daemon_errors=sum(r["daemon_errors"] for r in big + small),
         loadavg=loadavg(),
         note=(f"{len(LAB_CLIENTS)} lab clients, each an httpload process ({THREADS} threads, keep-alive) "
               f"in its own namespace, request {' and '.join(PATHS)} in turn on a fixed, interleaved "
               f"schedule, {RATE:g} requests/s together (open loop: latency from each request's due "
               f"time, so queueing counts), {WARMUP:g} s warm-up then {DURATION:g} s measured. "
               f"With {SYNTHETIC} synthetic clients (make_db, all capped: kernel quotas and chains) "
               f"plus the lab clients registered, against only the {len(LAB_CLIENTS)} lab clients "
               "(p99_ms_5), each in a fresh lab, alternating. gunicorn as hotspotd runs it (one "
               f"hotspot.portal.worker, 4 app threads); hotspotd polls every {Config.poll_interval:g} s "
               "(the shipped default). The "
               "load generators share the box's CPUs with the portal and hotspotd; send_lag is how late "
               "a generator sent (every thread busy, or no CPU: included in the latency); cpu_percent "
               "(of one CPU) over the load: gunicorn, hotspotd (answering the portal's socket and "
               "polling; idle: polling alone, before the load), the load generators, and the whole box "
               "busy (% of all CPUs, other work included); worst_ms_by_second: the slowest request due "
               "in each measured second."))
    emit("portal_rss_mb", round(last["pss_kb"] / 1024, 1), "MB", goal=60, processes=last["portal_pids"],
         rss_sum_mb=round(last["rss_kb"] / 1024, 1),
         rss_mb_each=[round(k / 1024, 1) for k in last["rss_kb_each"]],
         peak_rss_mb=round(last["hwm_kb"] / 1024, 1), rss_mb_5=round(small[-1]["rss_kb"] / 1024, 1),
         registered=last["registered"],
         note=("memory of gunicorn's master and worker(s) together: the sum of their PSS (a page they "
               "share counts once in all), hotspot.portal.wsgi in the lab router; rss_sum_mb: the sum "
               "of their VmRSS, which counts each shared page in both; measured "
               f"right after the portal_p99_ms load with {last['registered']} registered clients; "
               "peak = sum of VmHWM; rss_mb_5: the same after the load with the lab clients only. "
               "The worker is forked from the master, which never imports Flask."))


def run_portal_slow(rounds: int = ROUNDS) -> None:
    """portal_p99_ms_slow: the portal_p99_ms load (5,000 registered) while SLOW connections dribble half
    a request, against the same load without them, alternating, each in a fresh lab."""
    runs: dict[bool, list[dict]] = {True: [], False: []}
    for _ in range(rounds):
        for slow in (True, False):
            runs[slow].append(_one(SYNTHETIC, slow=slow, extra_clients=(SLOW_CLIENT,)))
    slow, quiet = runs[True], runs[False]

    def pooled(rs: list[dict], p: float) -> float | None:
        return _pct([x for r in rs for x in r["samples"]], p)

    def ms(x):
        return rnd(x, 2)

    p99, p99_quiet = pooled(slow, 99), pooled(quiet, 99)
    last = slow[-1]
    stats = [r["slow"] for r in slow]
    log(f"slow connections: {stats}")
    emit("portal_p99_ms_slow", ms(p99), "ms", goal=50, p50=ms(pooled(slow, 50)), p90=ms(pooled(slow, 90)),
         max=ms(max(x for r in slow for x in r["samples"])), p99_by_path=last["p99_by_path"],
         rate=rnd(median([r["rate"] for r in slow]), 1), target_rate=RATE,
         requests=sum(r["ok"] + r["errors"] for r in slow), errors=sum(r["errors"] for r in slow),
         error_samples=last["error_samples"], registered=last["registered"],
         p99_ms_quiet=ms(p99_quiet), p50_ms_quiet=ms(pooled(quiet, 50)),
         errors_quiet=sum(r["errors"] for r in quiet),
         ratio_slow_vs_quiet=rnd(p99 / p99_quiet, 3) if p99 and p99_quiet else None,
         rounds_p99_ms=[ms(r["p99"]) for r in slow], rounds_p99_ms_quiet=[ms(r["p99"]) for r in quiet],
         slow_connections=SLOW, slow_addresses=SLOW_ADDRESSES, slow_interval_s=SLOW_INTERVAL,
         slow_opened=[s["opened"] for s in stats], slow_cut=[s["closed_by_server"] for s in stats],
         slow_open_at_end=[s["still_open"] for s in stats], slow_replies=stats[-1]["replies"],
         slow_lifetime_s_median=[s["lifetime_s_median"] for s in stats],
         pss_mb=round(last["pss_kb"] / 1024, 1), pss_mb_quiet=round(quiet[-1]["pss_kb"] / 1024, 1),
         portal_restarted=any(r["portal_restarted"] for r in slow + quiet),
         cpu_percent={k: last[k] for k in CPU_KEYS}, cpu_percent_quiet={k: quiet[-1][k] for k in CPU_KEYS},
         send_lag_ms_p99=max(r["send_lag_ms_p99"] for r in slow + quiet),
         worst_ms_by_second=last["worst_ms_by_second"],
         daemon_errors=sum(r["daemon_errors"] for r in slow + quiet), loadavg=loadavg(),
         note=(f"the portal_p99_ms load ({RATE:g} requests/s open loop from {len(LAB_CLIENTS)} lab clients, "
               f"/api/me and / in turn, {SYNTHETIC} synthetic clients registered) while a further lab "
               f"client holds {SLOW} connections to the portal from {SLOW_ADDRESSES} addresses (under the "
               "per-address cap), each sending a request line and a Host header and then one byte of a "
               f"header every {SLOW_INTERVAL:g} s, never ending it, and opening again whenever the portal "
               "cuts it at its deadline (slow_cut: how many it cut, with a 408); against the same load "
               "and lab without them (p99_ms_quiet), alternating. pss_mb: the portal's processes after "
               "the load, slow connections still open."))

# -- page weight ------------------------------------------------------------------------------------------

ASSET_ATTRS = {
    "script": ("src",), "img": ("src", "srcset"), "source": ("src", "srcset"), "video": ("src", "poster"),
    "audio": ("src",), "embed": ("src",), "object": ("data",), "iframe": ("src",), "input": ("src",),
    "use": ("href", "xlink:href"), "image": ("href", "xlink:href"),
}
LINK_RELS = {"stylesheet", "icon", "shortcut", "apple-touch-icon", "preload", "modulepreload", "manifest",
             "prefetch", "mask-icon"}


class _Refs(HTMLParser):
    """The URLs an HTML page makes a browser load: link rel=stylesheet/icon/preload..., script src,
    img src/srcset, ..., and url() in <style> blocks and style attributes (given to css_refs)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[tuple[str, str]] = []  # (kind, url)
        self.css: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v for k, v in attrs if v is not None}
        if tag == "link" and a.get("href"):
            rels = set(a.get("rel", "").lower().split())
            if rels & LINK_RELS:
                self.refs.append(("link " + " ".join(sorted(rels)), a["href"]))
        for attr in ASSET_ATTRS.get(tag, ()):
            value = a.get(attr)
            if not value:
                continue
            if tag == "input" and a.get("type", "").lower() != "image":
                continue
            if tag == "script" and a.get("type", "") not in ("", "module", "text/javascript"):
                continue
            if attr == "srcset":
                for cand in value.split(","):
                    if cand.strip():
                        self.refs.append((f"{tag} srcset", cand.split()[0]))
            elif not value.startswith("#"):
                self.refs.append((f"{tag} {attr}", value))
        if a.get("style"):
            self.css.append(a["style"])
        if tag == "style":
            self._in_style = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.css.append(data)


def css_refs(css: str) -> list[tuple[str, str]]:
    """url(...) and @import "..." in a stylesheet (comments removed)."""
    import re

    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    out = [("css @import", m) for m in re.findall(r"""@import\s+["']([^"']+)["']""", css)]
    for m in re.findall(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)"']*))\s*\)""", css):
        url = next((x for x in m if x), "").strip()
        if url and not url.startswith("#"):
            out.append(("css url", url))
    return out


def _fetch(lab: Lab, client: str, url: str, path: Path) -> tuple[int, str, bytes]:
    """GET url from the client's namespace, uncompressed (curl sends no Accept-Encoding): status,
    content type, body."""
    p = lab.run(client, "curl", "-sS", "--max-time", "10", "-H", "Accept-Encoding: identity", "-o", str(path),
                "-w", "%{http_code} %{content_type}", url, check=False, timeout=15)
    if p.returncode:
        raise RuntimeError(f"curl {url} from {client}: {p.stderr.strip()}")
    status, _, ctype = p.stdout.strip().partition(" ")
    return int(status), ctype, path.read_bytes()


def run_page_weight() -> None:
    """page_weight_kb: the client page / and every asset it references, as a registered client gets them."""
    with Lab(clients=("c1",)) as lab:
        d = Hotspotd(lab).start()
        try:
            _portal_ready(lab, d, "c1")
            tmp = Path(lab.dir) / "page"
            tmp.mkdir()
            page = d.portal("/")
            origin = urlsplit(page).netloc
            assets: list[dict] = []
            seen: set[str] = set()
            queue: list[tuple[str, str, str]] = [("page", page, "")]  # kind, url, referenced from
            inline = 0
            while queue:
                kind, url, ref = queue.pop(0)
                if url.startswith("data:"):
                    inline += 1  # its bytes are in the document that holds it
                    continue
                url = url.split("#")[0]
                if url in seen:
                    continue
                seen.add(url)
                entry = {"url": url, "kind": kind, "from": ref}
                if urlsplit(url).netloc != origin:
                    entry.update(bytes=None, error="not served by the portal (external)")
                    assets.append(entry)
                    continue
                status, ctype, body = _fetch(lab, "c1", url, tmp / f"{len(assets)}")
                entry.update(status=status, type=ctype.split(";")[0], bytes=len(body))
                assets.append(entry)
                if status != 200:
                    continue
                text = body.decode("utf-8", errors="replace")
                path = urlsplit(url).path
                if "html" in ctype:
                    parser = _Refs()
                    parser.feed(text)
                    refs = parser.refs + [r for css in parser.css for r in css_refs(css)]
                elif "css" in ctype:
                    refs = css_refs(text)
                else:
                    refs = []
                queue += [(k, urljoin(url, u), path) for k, u in refs]
            page_status = assets[0]["status"]
            title = ""
            if page_status == 200:
                import re

                m = re.search(r"<title>(.*?)</title>", (tmp / "0").read_text(errors="replace"), re.S)
                title = m.group(1).strip() if m else ""
            api = _fetch(lab, "c1", d.portal("/api/me"), tmp / "api_me")
        finally:
            d.stop()
    if page_status != 200:
        raise RuntimeError(f"GET {page} answered {page_status}")
    total = sum(a["bytes"] or 0 for a in assets)
    missing = [a["url"] for a in assets if a.get("status") != 200]
    for a in assets:
        log(f"{a['bytes']!s:>8} B  {a.get('status', '-')}  {a['kind']:<22} {urlsplit(a['url']).path}")
    emit("page_weight_kb", round(total / 1024, 1), "kB", goal=100, bytes=total, requests=len(assets),
         assets=[{"path": urlsplit(a["url"]).path or a["url"], "kind": a["kind"], "bytes": a["bytes"],
                  "type": a.get("type"), "status": a.get("status"), **({"error": a["error"]} if "error" in a
                                                                       else {})} for a in assets],
         missing=missing, inline_data_urls=inline, title=title, api_me_bytes=len(api[2]),
         note=("GET / as a registered client (c1 of a lab, hotspotd's gunicorn), then every stylesheet, "
               "script, image, icon and font its HTML (link, script, img/srcset, source, style) and CSS "
               "(url(), @import) reference, recursively, same origin; uncompressed bodies (no "
               "Accept-Encoding), kB = 1024 bytes; data: URLs are counted within their document. "
               "api_me_bytes: the /api/me JSON the page's script polls for live updates (data, not "
               "counted)."))
