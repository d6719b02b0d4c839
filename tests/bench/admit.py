"""admit_ms: from the click on the portal's "Connect" to the first byte from the internet.

A client not admitted (auth click) fetches the sign-in page, then, timed: POSTs the accepted terms
(the portal asks hotspotd, which opens the gate in the kernel) and, as soon as the answer is in,
GETs a page from the lab's internet until its first byte arrives. The client side runs inside the
client's namespace (PROBE below), so only the product's own work is in the figure.
"""

from __future__ import annotations

import json
import sys

from lab import Lab
from lab.hotspotd import Hotspotd
from tests.bench.common import emit, loadavg, log, median
from tests.lab.conftest import HTTP_SCRIPT, listening, serve

ROUNDS = 10

PROBE = r"""
import http.client, json, re, sys, time
portal, server = sys.argv[1], sys.argv[2]
c = http.client.HTTPConnection(portal, 8080, timeout=10)
c.request("GET", "/signin")
r = c.getresponse()
page = r.read().decode()
cookie = r.getheader("Set-Cookie").split(";")[0]
csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
c.close()
body = f"csrf={csrf}&accept=yes"
t0 = time.perf_counter()
c = http.client.HTTPConnection(portal, 8080, timeout=10)
c.request("POST", "/signin", body, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
r = c.getresponse()
r.read()
posted = time.perf_counter()
s = http.client.HTTPConnection(server, 80, timeout=10)
s.request("GET", "/first-byte")
r2 = s.getresponse()
r2.read(1)
t1 = time.perf_counter()
print(json.dumps({"status": r.status, "internet_status": r2.status, "ms": (t1 - t0) * 1000,
                  "post_ms": (posted - t0) * 1000}))
"""


def run_admit(rounds: int = ROUNDS) -> None:
    with Lab(clients=("c1",)) as lab:
        serve(lab, lab.internet, HTTP_SCRIPT, "internet", 80)
        lab.wait_for(lambda: listening(lab, lab.internet, 80), 10, "the internet's web server")
        d = Hotspotd(lab, auth="click", poll_interval=2).start()
        mac = lab.clients["c1"].mac
        lab.ping("c1", lab.server4)
        d.wait_client(mac, timeout=10)
        d.wait_portal()
        results = []
        try:
            for i in range(rounds):
                d.ctl("unadmit", mac)
                p = lab.run("c1", sys.executable, "-c", PROBE, lab.router4, lab.server4, check=False)
                if p.returncode:
                    raise RuntimeError(f"probe failed: {p.stderr.strip()[-500:]}")
                r = json.loads(p.stdout)
                if (r["status"], r["internet_status"]) != (303, 200):
                    raise RuntimeError(f"round {i}: sign-in answered {r['status']}, "
                                       f"internet {r['internet_status']}")
                results.append(r)
        finally:
            d.stop()
    ms = [r["ms"] for r in results]
    log(f"admit_ms: {', '.join(f'{x:.0f}' for x in ms)}")
    emit("admit_ms", round(median(ms), 1), "ms", goal=200, max=round(max(ms), 1), min=round(min(ms), 1),
         post_ms=round(median([r["post_ms"] for r in results]), 1), rounds=len(ms), loadavg=loadavg(),
         note=("median over rounds: from the POST of the accepted terms (auth click) to the first byte of a "
               "page from the lab's internet on a new connection; post_ms: the POST's answer alone (the "
               "portal asks hotspotd, which opens the gate and the HTTP redirect in the kernel)"))
