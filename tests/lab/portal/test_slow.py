"""Slow and idle guests against the real hotspotd and portal: hundreds of connections that send half a
request (or, on the HTTPS port, not even a TLS handshake) never keep anyone else from the portal; one
address cannot take more than its share of connections; a request that never ends is cut off."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import time
from pathlib import Path

from hotspot.portal.worker import HEAD_DEADLINE as HEADER_DEADLINE
from hotspot.portal.worker import PER_ADDRESS
from lab import PORTAL_NAME, Lab
from lab.hotspotd import Hotspotd
from tests.lab.conftest import register
from tests.lab.portal.test_portal import _lab_ca

ROOT = Path(__file__).resolve().parents[3]
PROMPT = 2.0  # s: what "still answers" means here; a functional check, not a benchmark


def _aliases(lab: Lab, client: str, first: int, n: int) -> list[str]:
    """n more IPv4 addresses on a client (outside the DHCP pool): a client's slow connections from
    many addresses, each under the per-address cap, as a phone's IPv6 privacy addresses would be."""
    c = lab.clients[client]
    found = [f"10.77.0.{first + k}" for k in range(n)]
    for a in found:
        lab.run(c.ns, "ip", "addr", "add", f"{a}/24", "dev", c.dev)
    return found


class _Slow:
    """tests.bench.slowload in a client namespace: started, ready (every connection open), summary."""

    def __init__(self, lab: Lab, client: str, port: int, n: int, *args: str, sources=(), duration=30.0):
        argv = [sys.executable, "-m", "tests.bench.slowload", "--host", lab.router4, "--port", str(port),
                "--connections", str(n), "--interval", "2", "--duration", str(duration), *args]
        for s in sources:
            argv += ["--source", s]
        self.proc = lab.popen(client, *argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=ROOT)
        self.n, self.what = n, f"{n} slow connections {' '.join(args)} to port {port}"

    def ready(self, timeout: float = 30) -> dict:
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if r else ""
        if not line:
            self.proc.kill()
            raise AssertionError(f"{self.what}: not all open within {timeout} s (the portal took no more) "
                                 f"{self.proc.stderr.read()[-2000:]}")
        info = json.loads(line)
        assert info["opened"] == self.n, (self.what, info)
        return info

    def summary(self, timeout: float = 60) -> dict:
        out, err = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode == 0, err[-2000:]
        return json.loads(out.strip().splitlines()[-1])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()


def _answers(lab: Lab, client: str, url: str, *args: str) -> tuple[int, float]:
    """(status, seconds) of one GET, given PROMPT seconds at most (status 0: no answer in time)."""
    t0 = time.monotonic()
    p = lab.curl(client, url, "-o", "/dev/null", "-w", "%{http_code}", *args, check=False, timeout=PROMPT)
    return (int(p.stdout or 0) if p.returncode == 0 else 0), time.monotonic() - t0


def test_hundreds_of_slow_connections_keep_no_one_out():
    """200 connections that dribble half a request from 10 addresses (20 each: under the cap), 60 that
    connect to the HTTPS port and never say hello, 60 that dribble inside TLS: the portal holds them
    all and still answers a normal client at once, over HTTP and HTTPS, every kind of page; then cuts
    each request that did not end within its deadline (a 408 where a request had begun)."""
    with Lab(clients=("c1", "c2", "c3")) as lab:
        pki = _lab_ca(Path(lab.dir))
        d = Hotspotd(lab, auth="click", portal_name=PORTAL_NAME, tls_cert=pki["cert"], tls_key=pki["key"],
                     tls_port=8443).start()
        slow = []
        try:
            register(lab, d, "c1")
            d.wait_portal()
            https = f"https://{PORTAL_NAME}:8443"
            lab.wait_for(lambda: _answers(lab, "c1", f"{https}/api/captive", "--cacert", pki["ca"])[0] == 200,
                         15, "the HTTPS portal")
            dribblers = _aliases(lab, "c2", 210, 10)
            tls_sources = _aliases(lab, "c3", 220, 6)
            port = d.config.portal_port
            until = HEADER_DEADLINE + 8
            slow = [_Slow(lab, "c2", port, 200, sources=dribblers, duration=until),
                    _Slow(lab, "c3", 8443, 60, "--tls-stall", sources=tls_sources[:3], duration=until),
                    _Slow(lab, "c3", 8443, 60, "--tls", sources=tls_sources[3:], duration=until)]
            for s in slow:
                s.ready()
            time.sleep(1)  # the portal has seen every connection by now

            # with TLS, plain HTTP /admin is sent to HTTPS at once (302), which answers it below
            pages = [(d.portal("/api/me"), 200), (d.portal("/api/captive"), 200), (d.portal("/"), 200),
                     (d.portal("/admin/login"), 302), (d.portal("/api/captive", ipv6=True), 200)]
            for url, want in pages:
                status, _ = _answers(lab, "c1", url)
                assert status == want, f"{url}: no answer within {PROMPT} s beside the slow clients"
            for path in ("/api/captive", "/api/me", "/admin/login"):
                status, _ = _answers(lab, "c1", f"{https}{path}", "--cacert", pki["ca"])
                assert status == 200, f"HTTPS {path}: no answer within {PROMPT} s (status {status})"

            dribbling, stalled, in_tls = (s.summary() for s in slow)
        finally:
            for s in slow:
                s.stop()
            d.stop()
    for name, s in (("dribbling", dribbling), ("stalled TLS", stalled), ("dribbling in TLS", in_tls)):
        # every one held until its deadline (none shed: each address is under the cap), then cut
        assert s["open_failures"] == 0 and s["still_open"] == 0, (name, s)
        assert s["closed_by_server"] == s["opened"], (name, s)
        lived = (s["lifetime_s_min"], s["lifetime_s_max"])
        assert HEADER_DEADLINE - 0.1 <= lived[0] <= lived[1] <= HEADER_DEADLINE + 4, (name, s)
    assert dribbling["replies"] == {"HTTP/1.1 408 Request Timeout": 200}, dribbling
    assert in_tls["replies"] == {"HTTP/1.1 408 Request Timeout": 60}, in_tls
    assert stalled["replies"] == {"(nothing)": 60}, stalled


def test_one_address_gets_its_share_not_the_portal(lab, start_hotspotd):
    """100 slow connections from one address: the portal keeps the newest PER_ADDRESS of them and
    sheds the older ones, so that address itself (a phone whose browser left connections hanging)
    and every other client are still served."""
    d = start_hotspotd()
    register(lab, d, "c1")
    d.wait_portal()
    hog = _Slow(lab, "c2", d.config.portal_port, 100, duration=6)
    try:
        hog.ready()
        time.sleep(1)
        for client in ("c1", "c2"):
            status, _ = _answers(lab, client, d.portal("/api/captive"))
            assert status == 200, f"{client}: no answer within {PROMPT} s while c2 holds 100 connections"
        assert _answers(lab, "c1", d.portal("/api/me"))[0] == 200
        s = hog.summary()
    finally:
        hog.stop()
    # c2's own request took one more place: PER_ADDRESS of the 100 are open at the end, the rest shed
    assert s["still_open"] == PER_ADDRESS - 1 and s["closed_by_server"] == 100 - PER_ADDRESS + 1, s
    assert s["lifetime_s_max"] < HEADER_DEADLINE, s  # shed by the cap, not cut by the deadline
