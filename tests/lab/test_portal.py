"""The portal as a client reaches it: served by hotspotd's gunicorn, unprivileged, always back."""

from __future__ import annotations

import json
import os
import signal
import time

from tests.lab.conftest import register


def _me(lab, d, client, *args, ipv6=False) -> dict:
    out = lab.curl(client, d.portal("/api/me", ipv6=ipv6), "-i", *args).stdout
    head, _, body = out.partition("\n\n")  # curl -i; text mode turned CRLF into LF
    assert head.startswith("HTTP/1.1 200"), out
    assert body, out
    return json.loads(body)


def test_each_client_sees_only_its_own_usage(lab, start_hotspotd):
    d = start_hotspotd()
    register(lab, d, "c1", "c2")
    c1, c2 = lab.clients["c1"], lab.clients["c2"]
    d.wait_portal()
    lab.iperf("c1", bytes=3_000_000, reverse=True)
    d.wait_polls()
    me = _me(lab, d, "c1")
    assert me["mac"] == c1.mac and me["bytes_total"] == d.client(c1.mac)["bytes_total"] >= 3_000_000
    # Whatever it sends, a client gets its own page: headers and parameters name nobody.
    forged = _me(lab, d, "c1", "-H", f"X-Forwarded-For: {c2.ipv4}", "-H", f"X-Real-IP: {c2.ipv4}",
                 "-G", "--data-urlencode", f"mac={c2.mac}", "--data-urlencode", f"ip={c2.ipv4}")
    assert forged["mac"] == c1.mac
    lab.ping("c2", lab.server6)  # over IPv6 the neighbour table names it just the same
    assert _me(lab, d, "c2", ipv6=True)["mac"] == c2.mac


def _uids(pid: int) -> set[int]:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return {int(u) for u in line.split()[1:]}
    return set()


def test_portal_holds_no_root_and_always_comes_back(lab, start_hotspotd):
    d = start_hotspotd()
    register(lab, d, "c1")
    d.wait_portal()
    pids = d.portal_pids()
    assert len(pids) == 2  # gunicorn's master and its worker
    for pid in pids:
        assert 0 not in _uids(pid), f"portal process {pid} holds root"
    # A crashed worker: gunicorn brings it back.
    master = min(pids)
    worker = max(pids)
    os.kill(worker, signal.SIGKILL)
    lab.wait_for(lambda: len(d.portal_pids()) == 2 and worker not in d.portal_pids(), 10,
                 "a new worker")
    d.wait_portal()
    # A crashed gunicorn: hotspotd brings it back.
    os.kill(master, signal.SIGKILL)
    lab.wait_for(lambda: "the portal exited" in d.log(), 5, "hotspotd to notice")
    lab.wait_for(lambda: master not in d.portal_pids() and len(d.portal_pids()) == 2, 10,
                 "a new gunicorn")
    d.wait_portal()
    # hotspotd killed: nothing of the portal is left holding the port...
    d.kill9()
    lab.wait_for(lambda: not d.portal_pids(), 10, "the portal to end with hotspotd")
    # ...and a new hotspotd serves it again at once.
    started = time.monotonic()
    d.start()
    d.wait_portal()
    assert time.monotonic() - started < 10
    assert _me(lab, d, "c1")["mac"] == lab.clients["c1"].mac
