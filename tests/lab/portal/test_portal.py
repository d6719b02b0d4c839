"""The portal as a client reaches it: served by hotspotd's gunicorn, unprivileged, always back."""

from __future__ import annotations

import json
import os
import pwd
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from hotspot.portal.worker import HEAD_DEADLINE
from lab import PORTAL_NAME, Lab
from lab.hotspotd import Hotspotd
from tests.lab.conftest import register

PROMPT = 2.0  # s: what "answers at once" means here; a functional check, not a benchmark


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


# A client stalled in the middle of its TLS handshake: it sends the first half of a real ClientHello,
# says so, and waits for the server to close; then prints how long that took and what came.
STALLED_HELLO = r"""
import socket, ssl, sys, time
ctx = ssl.create_default_context()
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
tls = ctx.wrap_bio(ssl.MemoryBIO(), out := ssl.MemoryBIO(), server_hostname=sys.argv[1])
try:
    tls.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = out.read()
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
started = time.monotonic()
s.sendall(hello[:len(hello) // 2])
print("stalled", flush=True)
got = s.recv(100)
print(round(time.monotonic() - started, 1), len(got), flush=True)
"""


def _socket_pids(lab: Lab, d: Hotspotd, port: int, state: str) -> set[int]:
    """The processes that hold a TCP socket of the router's on `port` in `state` (ss -l: listening)."""
    args = ["-Hltnp"] if state == "listening" else ["-Htnp", "state", state]
    out = d.lab.run(lab.router, "ss", *args, f"( sport = :{port} )").stdout
    return {int(p) for p in re.findall(r"pid=(\d+)", out)}


def _head(out: str) -> str:
    return out.partition("\n\n")[0].lower()  # curl -i; text mode turned CRLF into LF


def test_one_gunicorn_serves_both_ports_and_a_stalled_handshake_holds_up_no_one(lab, start_hotspotd):
    """With a certificate, plain HTTP and HTTPS come from one gunicorn (one master, one worker, one
    process group), each port with its own scheme: the session cookie, HSTS and the admin UI's
    redirect follow the port, never a header. A client stalled halfway through its TLS handshake
    waits in that worker's loop, not in a thread: another client's HTTP and HTTPS requests are
    answered at once, and the stalled one is cut off at the head deadline."""
    pki = _lab_ca(Path(lab.dir))
    d = start_hotspotd(auth="click", portal_name=PORTAL_NAME, tls_cert=pki["cert"], tls_key=pki["key"],
                       tls_port=8443)
    register(lab, d, "c1", "c2")
    d.wait_portal()
    https = f"https://{PORTAL_NAME}:8443"
    lab.wait_for(lambda: lab.curl("c1", https + "/api/captive", "--cacert", pki["ca"], "-o", "/dev/null",
                                  check=False, timeout=2).returncode == 0, 15, "the HTTPS portal")
    pids = d.portal_pids()
    assert len(pids) == 2, pids  # one master and its worker serve both ports
    parent = {pid: int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) for pid in pids}
    [master] = [pid for pid in pids if parent[pid] == d.proc.pid]
    [worker] = [pid for pid in pids if parent[pid] == master]
    assert {os.getpgid(pid) for pid in pids} == {master}
    port = d.config.portal_port
    assert _socket_pids(lab, d, port, "listening") == {master, worker}
    assert _socket_pids(lab, d, 8443, "listening") == {master, worker}
    assert "tls-portal.pid" not in os.listdir(d.config.run_dir)

    stalled = lab.popen("c2", sys.executable, "-c", STALLED_HELLO, PORTAL_NAME, "8443",
                        stdout=subprocess.PIPE, text=True)
    try:
        assert select.select([stalled.stdout], [], [], 10)[0] and stalled.stdout.readline() == "stalled\n"
        lab.wait_for(lambda: worker in _socket_pids(lab, d, 8443, "established"), 5,
                     "the worker to hold the stalled handshake")
        # Meanwhile another client, over both ports, each claiming the other's scheme in a header
        t0 = time.monotonic()
        plain = _head(lab.curl("c1", d.portal("/"), "-i", "-H", "X-Forwarded-Proto: https",
                               "-H", "X-Forwarded-Ssl: on", timeout=PROMPT).stdout)
        secure = _head(lab.curl("c1", https + "/", "--cacert", pki["ca"], "-i",
                                "-H", "X-Forwarded-Proto: http", timeout=PROMPT).stdout)
        admin = lab.curl("c1", d.portal("/admin/login"), "-o", "/dev/null", "-w", "%{redirect_url}",
                         "-H", "X-Forwarded-Proto: https", timeout=PROMPT).stdout
        took = time.monotonic() - t0
        assert stalled.poll() is None  # still stalled, still held
        lived, got = stalled.communicate(timeout=HEAD_DEADLINE + 10)[0].split()
    finally:
        stalled.kill()
    assert took < 3 * PROMPT, f"three requests took {took:.1f} s beside a stalled handshake"
    assert plain.startswith("http/1.1 200") and "strict-transport-security" not in plain, plain
    [cookie] = re.findall(r"^set-cookie: (.*)$", plain, re.M)
    assert cookie.startswith("hotspot=") and "secure" not in cookie, plain
    assert secure.startswith("http/1.1 200") and "strict-transport-security: max-age=" in secure, secure
    [cookie] = re.findall(r"^set-cookie: (.*)$", secure, re.M)
    assert cookie.startswith("__host-hotspot=") and "; secure" in cookie, secure
    assert admin == https + "/admin/login"  # plain HTTP, whatever the header claims
    # the stalled handshake: closed, with nothing said, at the head deadline
    assert got == "0" and HEAD_DEADLINE - 0.5 <= float(lived) <= HEAD_DEADLINE + 4, (lived, got)
    assert "Traceback" not in d.log()


def test_plain_http_never_waits_for_https_which_comes_once_its_key_can_be_read(lab, start_hotspotd):
    """A key hotspotd cannot read (not there yet, as before a certificate's first renewal) costs
    HTTPS only: plain HTTP is served at once, and HTTPS is added once the key is there."""
    pki = _lab_ca(Path(lab.dir))
    key = Path(lab.dir) / "later.key"
    d = start_hotspotd(portal_name=PORTAL_NAME, tls_cert=pki["cert"], tls_key=str(key), tls_port=8443)
    register(lab, d, "c1")
    d.wait_portal()
    https = f"https://{PORTAL_NAME}:8443/api/captive"

    def https_up() -> bool:
        return lab.curl("c1", https, "--cacert", pki["ca"], "-o", "/dev/null", check=False,
                        timeout=2).returncode == 0

    assert f"portal: no HTTPS: cannot read tls_key {key}: No such file or directory" in d.log()
    assert not https_up()
    shutil.copy(pki["cert"], key)  # the wrong file: no key in it
    os.chmod(key, 0o600)
    lab.wait_for(lambda: f"portal: no HTTPS: tls_key {key} is not a PEM private key" in d.log(), 15,
                 "hotspotd to find no key in it")
    assert not https_up() and _me(lab, d, "c1")["mac"] == lab.clients["c1"].mac
    shutil.copy(pki["key"], key)
    lab.wait_for(https_up, 40, "HTTPS, once the key is there")
    assert "the certificate and key can be read now" in d.log()
    assert len(d.portal_pids()) == 2  # the same one gunicorn, started again with HTTPS
    assert _me(lab, d, "c1")["mac"] == lab.clients["c1"].mac
    assert d.log().count("no HTTPS") == 2  # each problem said once, however often it was tried
