"""What hotspot weighs on a router: `router_pss_mb`, the proportional set size of hotspotd, the portal
(gunicorn's master and its worker, serving plain HTTP and HTTPS) and the DNS snooper together, run
as installed by the OpenWrt packages (openwrt/stage.py: bytecode only, the staged tree, Debian's
Python 3.11 as OpenWrt 24.10's), with 50 registered clients, after the portal has served its pages
over each port.

PSS (/proc/PID/smaps_rollup) counts a page shared by n processes 1/n in each, so the sum is what
the processes take together; RSS, which counts a shared page in every process, is reported beside
it. The import guard of tests/lab/openwrt is left out: its index of the feed would weigh here.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from lab import Lab
from lab.hotspotd import Hotspotd
from tests.bench.common import emit, loadavg, log, nsjob
from tests.openwrt.repo import OPENWRT, load

CLIENTS = 50  # registered: CLIENTS - 1 in the database, and the lab client that asks for the pages
GOAL = 100.0  # MB
SETTLE = 10.0  # s after the pages were served: start-up garbage collected, a few polls done
PORTAL_NAME = "portal.lab"
PACKAGES = ["hotspot", "python3-nftables", "hotspot-portal", "python3-gunicorn", "python3-blinker",
            "hotspot-snoop"]
FIELDS = ("Rss", "Pss", "Private_Clean", "Private_Dirty")


def smaps(pid: int) -> dict[str, int]:
    """Rss, Pss and private kB of a process (its smaps_rollup)."""
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in FIELDS:
            out[key] = int(value.split()[0])
    return out


def _certificate(d: Path) -> tuple[str, str]:
    key, cert = str(d / "portal.key"), str(d / "portal.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={PORTAL_NAME}"],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


def _installed(lab: Lab, staged: Path, stage) -> Hotspotd:
    """hotspotd from the staged packages' tree, TLS on, CLIENTS - 1 clients in its database."""
    root = stage.rootfs(staged, PACKAGES, Path(lab.dir) / "rootfs")
    site = root / "usr" / "lib" / f"python{stage.python_version()}" / "site-packages"
    for path in (Path(lab.dir), root):
        path.chmod(0o755)  # the portal's user reaches the code, as on the router
    cert, key = _certificate(Path(lab.dir))
    d = Hotspotd(lab, poll_interval=2.0, portal_name=PORTAL_NAME, tls_cert=cert, tls_key=key, tls_port=8443)
    d.python = d.ctl_python = stage.PYTHON
    d.daemon_argv, d.ctl_argv = [str(root / "usr/bin/hotspotd")], [str(root / "usr/bin/hotspotctl")]
    share = root / "usr/share/hotspot"
    d.extra_env = {"PYTHONPATH": str(site), "PYTHONSAFEPATH": "1", "HOTSPOT_SHARE": str(share),
                   "HOTSPOT_WEB": str(share / "web")}
    nsjob(lab, "make_db", config=str(d.config_path), clients=CLIENTS - 1)
    return d.start()


def parts(d: Hotspotd) -> dict[str, list[int]]:
    """The processes of each part: hotspotd, the portal's master (gunicorns, if ever more than one)
    and workers, the snooper."""
    out: dict[str, list[int]] = {"hotspotd": [d.proc.pid]}
    for pid in d.portal_pids():
        try:
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
        out.setdefault("portal_master" if ppid == d.proc.pid else "portal_workers", []).append(pid)
    out["snooper"] = d.snoop_pids()
    return out


def _served(lab: Lab, d: Hotspotd) -> None:
    """The client page and the API over each port, so the worker has rendered what guests ask."""
    https = f"https://{lab.router4}:{d.config.tls_port}"
    for path in ("/", "/api/me", "/api/captive"):
        for url in (d.portal(path), https + path):
            lab.curl("c1", url, "-k", "-o", "/dev/null", timeout=10)


def measure(d: Hotspotd) -> dict[str, dict[str, int]]:
    """Each part's kB (its processes summed), and the total."""
    by_part = {}
    for name, pids in parts(d).items():
        each = [smaps(pid) for pid in pids]
        by_part[name] = {k: sum(e.get(k, 0) for e in each) for k in FIELDS} | {"processes": len(pids)}
    by_part["total"] = {k: sum(p[k] for p in by_part.values()) for k in (*FIELDS, "processes")}
    return by_part


# The snooper captured with scapy's L2ListenSocket until its weight was measured here: kept beside the
# figure, what importing it would add to the snooper (Debian's scapy, this machine's Python).
SCAPY_PROBE = """
import sys, hotspot.apps.snoop.snooper
if sys.argv[1] == "scapy":
    import scapy.arch.linux
print(next(ln.split()[1] for ln in open("/proc/self/smaps_rollup") if ln.startswith("Pss:")))
"""


def scapy_kb(stage, site: Path) -> int:
    """PSS kB that importing scapy's capture socket adds to a process with the snooper's modules."""
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(site), "PYTHONSAFEPATH": "1"}
    pss = {}
    for what in ("alone", "scapy"):
        done = subprocess.run([stage.PYTHON, "-c", SCAPY_PROBE, what], env=env, capture_output=True,
                              text=True, check=True, cwd="/")
        pss[what] = int(done.stdout.split()[-1])
    return pss["scapy"] - pss["alone"]


def run() -> None:
    stage = load("openwrt_stage", OPENWRT / "stage.py")
    staged = stage.stage()
    with Lab(clients=("c1",)) as lab:
        d = _installed(lab, staged, stage)
        try:
            lab.ping("c1", lab.server4)
            d.wait_client(lab.clients["c1"].mac, timeout=10)
            lab.wait_for(lambda: "dns snooper: watching" in d.log() and len(d.portal_pids()) >= 2, 60,
                         "the portal and the dns snooper")
            d.wait_portal("c1")
            _served(lab, d)
            time.sleep(SETTLE)
            n = len(d.clients())
            m = measure(d)
            errors = [ln for ln in d.log().splitlines() if "ERROR" in ln or "Traceback" in ln]
        finally:
            d.stop(timeout=30)
        scapy = scapy_kb(stage, Path(d.extra_env["PYTHONPATH"]))
    mb = {k: round(v["Pss"] / 1024, 1) for k, v in m.items()}
    log(f"{n} clients: PSS {mb}")
    if errors:
        log("errors:\n" + "\n".join(errors[-10:]))
    emit("router_pss_mb", mb.pop("total"), "MB", goal=GOAL, clients=n, parts_pss_mb=mb,
         parts_rss_mb={k: round(v["Rss"] / 1024, 1) for k, v in m.items()},
         parts_private_mb={k: round((v["Private_Clean"] + v["Private_Dirty"]) / 1024, 1)
                           for k, v in m.items()},
         processes={k: v["processes"] for k, v in m.items()}, scapy_capture_pss_mb=round(scapy / 1024, 1),
         errors=len(errors), load=loadavg(),
         note=("PSS of hotspotd, the portal (one gunicorn master and its worker, serving HTTP and HTTPS) "
               "and the DNS snooper, run from the staged OpenWrt packages (bytecode only) with Debian's "
               f"Python 3.11 on x86-64, {n} registered clients, after the portal served /, /api/me "
               f"and /api/captive over each port and {SETTLE:g} s more; MB = 1024 kB. scapy_capture_pss_mb: "
               "what importing scapy's capture socket (which the snooper used before) would add to the "
               "snooper"))
