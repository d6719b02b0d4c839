"""The portal as a client reaches it: served by hotspotd's gunicorn, unprivileged, always back."""

from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import time
from pathlib import Path

from lab import PORTAL_NAME, Lab
from lab.hotspotd import Hotspotd
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
    master = min(pids)
    worker = max(pids)
    # With no connection open, the worker sleeps (it wakes only to tell the master it lives, every
    # few seconds), rather than every half second: a router on a battery.
    time.sleep(0.5)
    before = _switches(worker)
    time.sleep(2.5)
    assert _switches(worker) - before <= 1, "the idle portal worker keeps waking up"
    # A crashed worker: gunicorn brings it back.
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


def _switches(pid: int) -> int:
    """Context switches of every thread of a process so far."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        total += sum(int(line.split()[1]) for line in status.read_text().splitlines()
                     if "ctxt_switches:" in line)
    return total


def _memory_files(pid: int, name: str) -> list[os.stat_result]:
    """What a process holds open of the memory files called `name` (memfd_create)."""
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if f"memfd:{name}" in os.readlink(f"/proc/{pid}/fd/{fd}"):
                found.append(os.stat(f"/proc/{pid}/fd/{fd}"))
        except OSError:  # a file the process closed meanwhile
            pass
    return found


def _lab_ca(d: Path) -> dict[str, str]:
    """A throwaway CA and a certificate for the lab's portal name, as an owner would get one."""
    ca_key, ca, key, csr, cert = (str(d / n) for n in ("ca.key", "ca.pem", "portal.key", "portal.csr",
                                                        "portal.pem"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=hotspot lab CA")
    run("req", *ec, "-keyout", key, "-out", csr, "-subj", f"/CN={PORTAL_NAME}")
    ext = d / "san.ext"
    ext.write_text(f"subjectAltName=DNS:{PORTAL_NAME}\n")
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
        "-days", "2", "-extfile", str(ext))
    os.chmod(key, 0o600)
    return {"ca": ca, "cert": cert, "key": key}


def test_rfc8908_over_https_with_the_owners_certificate():
    url = f"https://{PORTAL_NAME}:8443/api/captive"
    with Lab(clients=("c1",), captive_url=url) as lab:
        pki = _lab_ca(Path(lab.dir))
        d = Hotspotd(lab, auth="click", portal_name=PORTAL_NAME, tls_cert=pki["cert"], tls_key=pki["key"],
                     tls_port=8443, session_timeout=3600).start()
        mac = lab.clients["c1"].mac
        lab.ping("c1", lab.server4)
        d.wait_client(mac)
        assert lab.dhcp_option("c1", 114) == url  # RFC 8910: a real DHCP client got the API's URL

        def api() -> tuple[str, dict]:
            out = lab.curl("c1", url, "--cacert", pki["ca"], "-i").stdout  # verified: name and chain
            head, _, body = out.partition("\n\n")
            return head, json.loads(body)

        lab.wait_for(lambda: lab.curl("c1", url, "--cacert", pki["ca"], "-o", "/dev/null", check=False,
                                      timeout=2).returncode == 0, 15, "the HTTPS portal")
        head, body = api()
        assert "content-type: application/captive+json" in head.lower()
        assert body["captive"] is True and body["user-portal-url"] == f"https://{PORTAL_NAME}:8443/"
        # The kernel sends plain HTTP to the portal, which sends the browser to sign in over HTTPS.
        loc = lab.curl("c1", "http://internet.lab/x", "-o", "/dev/null", "-w", "%{redirect_url}").stdout
        assert loc.startswith(f"https://{PORTAL_NAME}:8443/signin?url=http%3A%2F%2Finternet.lab%2Fx"), loc
        d.ctl("admit", mac)
        head, body = api()
        assert body["captive"] is False and 3500 <= body["seconds-remaining"] <= 3600
        # The owner's key stays root's: the portal reads a copy in memory only its user may read (no
        # copy on disk, nothing of the portal's user's where root writes).
        key = Path(pki["key"]).stat()
        assert key.st_mode & 0o777 == 0o600 and key.st_uid == 0
        assert not (Path(d.config.run_dir) / "tls").exists()
        portal_uid = pwd.getpwnam(d.config.portal_user).pw_uid
        copies = [st for pid in d.portal_pids() for st in _memory_files(pid, "hotspot-tls_key")]
        assert copies and all(st.st_mode & 0o777 == 0o400 and st.st_uid == portal_uid for st in copies)
        d.stop()


def test_dates_at_the_edges_are_a_clean_4xx_or_a_line_on_the_card_never_a_500(lab, start_hotspotd):
    """Through the real hotspotd: the portal's gunicorn asks hotspotd's socket for the history of a
    date out of range, and hotspotctl is asked the same. Each answers in one line; nothing crashes."""
    d = start_hotspotd()
    register(lab, d, "c1")
    d.wait_portal()
    mac = lab.clients["c1"].mac
    for query in ("from=0001-01-01", "to=9999-12-31", "by=month&from=1969-12-31", "from=10000-01-01",
                  "by=hour&from=2100-12-31T23:00%2B14:30"):
        out = lab.curl("c1", d.portal(f"/api/me/history?{query}"), "-i").stdout
        head, _, body = out.partition("\n\n")
        assert head.startswith("HTTP/1.1 400"), (query, out)
        error = json.loads(body)["error"]
        assert error and "\n" not in error, (query, error)
    for query in ("to=9999-12-31", "from=0001-01-01", "from=9999-12-30&to=9999-12-31", "month=9999-12"):
        out = lab.curl("c1", d.portal(f"/?{query}"), "-i").stdout
        assert out.startswith("HTTP/1.1 200"), (query, out[:200])
        assert '<p class="error" role="alert">' in out, query
    for args in (("history", mac, "--from", "0001-01-01"), ("history", "plan", "--to", "9999-12-31"),
                 ("history", mac, "--by", "month", "--from", "1969-12-31")):
        r = d.ctl(*args, check=False)
        assert (r.returncode, r.stdout) == (2, ""), (args, r)
        assert r.stderr.startswith("hotspotctl: ") and r.stderr.count("\n") == 1, (args, r.stderr)
        assert "2000" in r.stderr and "2100" in r.stderr, r.stderr
    trace = Path(lab.dir) / "trace.csv"
    trace.write_text("2026-11-01T00,5\n")
    for at in ("10000-01-01", "9999-12-31", "0001-01-01"):
        r = d.ctl("forecast", "--trace", str(trace), "--at", at, check=False)
        assert (r.returncode, r.stdout) == (2, "") and r.stderr.count("\n") == 1, (at, r)
        assert r.stderr.startswith("hotspotctl: invalid --at"), r.stderr
    assert "Traceback" not in d.log()
