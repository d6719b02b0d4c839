"""Who decides, against the real hotspotd, its socket and its portal: a device lifts only what it set
itself; hotspotd alone decides who is admin (the portal's user cannot act as admin on its own, nor mint
a session); logins are limited per device and atomically; the socket bounds its input and its threads;
a guest never sees the owner's private name for its device; with TLS the admin UI is HTTPS only."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from lab import SERVER4
from tests.lab.conftest import register
from tests.lab.portal.test_security import Browser

PASSWORD = "owner-secret-1"


def _token(b: Browser) -> str:
    """The session's CSRF token, from the device's own page."""
    return re.search(r'<meta name="csrf" content="([^"]+)"', b.request("/")[2]).group(1)


def _ghost(b: Browser, action: str, destination: str = "") -> int:
    form = {"action": action, **({"destination": destination} if destination else {})}
    return b.post("/ghost", form, csrf=_token(b))[0]


def test_a_device_lifts_only_what_it_set_itself(lab, start_hotspotd):
    d = start_hotspotd()
    register(lab, d, "c1")
    mac = lab.clients["c1"].mac
    d.wait_portal()
    guest = Browser(lab, d, "c1")

    # The owner blocks the device; on its own page it pauses itself, then resumes: the block holds.
    d.ctl("block", mac)
    assert _ghost(guest, "pause") == 303
    assert _ghost(guest, "resume") == 303
    c = d.client(mac)
    assert c["blocked"] is True and c["state"] == "blocked", c
    assert not lab.ping("c1", SERVER4)

    # Its own pause it may lift; the owner's block under it stays.
    d.ctl("unblock", mac)
    assert lab.ping("c1", SERVER4)
    assert _ghost(guest, "pause") == 303
    assert d.client(mac)["blocked"] is True and not lab.ping("c1", SERVER4)
    d.ctl("block", mac)  # the owner blocks too while it is paused
    assert _ghost(guest, "resume") == 303
    assert d.client(mac)["blocked"] is True and not lab.ping("c1", SERVER4)
    d.ctl("unblock", mac)
    assert d.client(mac)["blocked"] is False and lab.ping("c1", SERVER4)

    # A destination the owner blocked the device cannot unblock; one it blocked itself it can.
    d.ctl("destination", "block", mac, SERVER4)
    assert not lab.ping("c1", SERVER4)
    assert _ghost(guest, "unblock", SERVER4) == 303
    chain = d.nft("list", "chain", "inet", "hotspot", f"up{d.client(mac)['id']}")
    assert SERVER4 in chain and not lab.ping("c1", SERVER4)
    assert [b["addr"] for b in d.json("ghost", mac)["blocked"][mac]] == [SERVER4]
    d.ctl("destination", "unblock", mac, SERVER4)
    assert lab.ping("c1", SERVER4)
    assert _ghost(guest, "block", SERVER4) == 303
    assert not lab.ping("c1", SERVER4)
    assert _ghost(guest, "unblock", SERVER4) == 303
    assert lab.ping("c1", SERVER4)


def _as_user(lab, d, uid: int, gid: int, script: str, *args: str) -> str:
    """Run a Python script in the router's namespace as another user (what any process of that user
    could do); its stdout."""
    env = ["env", f"PYTHONPATH={Path(__file__).resolve().parents[3]}"]
    return lab.run(lab.router, "setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *env,
                   sys.executable, "-c", script, *args).stdout


ASK = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
try:
    s.sendall(sys.argv[2].encode() + b"\n")
    line = s.makefile("rb").readline()
except OSError:  # closed on it before it said anything
    line = b""
print(line.decode().strip() or "(no answer)")
"""


def _forge(key: str, data: dict) -> str:
    """A session cookie for `data`, signed with `key` as Flask signs the portal's."""
    from flask import Flask
    from flask.sessions import SecureCookieSessionInterface

    app = Flask("forger")
    app.secret_key = bytes.fromhex(key)
    return SecureCookieSessionInterface().get_signing_serializer(app).dumps(data)


def _saved(b: Browser) -> str:
    return b.jar.read_text()


def _restore(b: Browser, jar: str) -> None:
    b.jar.write_text(jar)


def test_the_portals_user_cannot_act_as_admin(lab, start_hotspotd):
    d = start_hotspotd()
    register(lab, d, "c1")
    victim = lab.clients["c1"].mac
    d.ctl("passwd", input=PASSWORD + "\n")
    d.wait_portal()
    sock = str(Path(d.config.run_dir) / "hotspotd.sock")
    portal = pwd.getpwnam(d.config.portal_user)

    # Any process of the portal's user: no admin operation without a session hotspotd issued...
    ask = lambda req: json.loads(_as_user(lab, d, portal.pw_uid, portal.pw_gid, ASK, sock,  # noqa: E731
                                          json.dumps(req)))
    answer = ask({"op": "act", "args": {"mac": victim, "action": "block"}})
    assert answer["ok"] is False, answer
    answer = ask({"op": "act", "args": {"mac": victim, "action": "block"}, "session": "made-up"})
    assert answer["ok"] is False, answer
    assert ask({"op": "clients", "args": {}})["ok"] is False
    assert d.client(victim)["blocked"] is False
    # ...and what it is given cannot make one: a cookie signed with any key it gets is no admin.
    settings = ask({"op": "portal_settings", "args": {}})["result"]
    assert "metrics_token" not in settings and not (Path(d.config.state_dir) / "portal.key").exists()
    keys = [v for v in settings.values() if isinstance(v, str) and re.fullmatch(r"[0-9a-f]{32,}", v)]
    guest = Browser(lab, d, "c1")
    for key in keys:
        for forged in ({"admin": True}, {"admin": "forged-session"}):
            guest.jar.write_text(f"{lab.router4}\tFALSE\t/\tFALSE\t0\thotspot\t{_forge(key, forged)}\n")
            status, head, _ = guest.request("/admin/clients")
            assert status == 302 and "/admin/login" in head, (forged, status)
    # Another user (not root, not the portal's) gets nothing at all.
    other = _as_user(lab, d, 65533, 65533, ASK, sock, json.dumps({"op": "portal_settings", "args": {}}))
    assert other.strip() == "(no answer)"

    # The portal runs as a user of its own, not one other daemons share.
    assert d.config.portal_user == "hotspot"
    for pid in d.portal_pids():
        assert os.stat(f"/proc/{pid}").st_uid == portal.pw_uid


def test_sessions_end_at_logout_and_passwd(lab, start_hotspotd):
    d = start_hotspotd()
    register(lab, d, "c1", "c2")
    victim = lab.clients["c1"].mac
    d.ctl("passwd", input=PASSWORD + "\n")
    d.wait_portal()

    # A session ends at logout, and every session when the password changes (hotspotctl, another
    # process): a copy of the cookie taken before is worth nothing after.
    owner = Browser(lab, d, "c2")
    assert owner.post("/admin/login", {"password": PASSWORD})[0] == 303
    assert owner.request("/admin/clients")[0] == 200
    stolen = _saved(owner)
    assert owner.post("/admin/logout", {}, csrf=_token(owner))[0] == 303
    _restore(owner, stolen)
    status, head, _ = owner.request("/admin/clients")
    assert status == 302 and "/admin/login" in head
    assert owner.post("/admin/login", {"password": PASSWORD})[0] == 303
    stolen = _saved(owner)
    d.ctl("passwd", input="owner-secret-2\n")
    _restore(owner, stolen)
    status, head, _ = owner.request("/admin/clients")
    assert status == 302 and "/admin/login" in head
    assert owner.post("/admin/login", {"password": "owner-secret-2"})[0] == 303

    # A guest never sees the owner's private name for its device: only its own DHCP hostname.
    assert owner.post(f"/admin/clients/{victim}/act", {"action": "rename", "value": "Dads secret"})[0] == 303
    me = json.loads(lab.curl("c1", d.portal("/api/me")).stdout)
    assert me["hostname"] == "c1" and "Dads secret" not in json.dumps(me)
    assert "Dads secret" not in lab.curl("c1", d.portal("/")).stdout
    assert "Dads secret" in owner.request(f"/admin/clients/{victim}")[2]


def _sessions(lab, d, client: str, name: str, n: int = 8, ipv6: bool = False) -> list[tuple[str, str]]:
    """n sessions of one device's browser (over IPv4 or IPv6), each a cookie jar and its CSRF token."""
    found = []
    for i in range(n):
        jar = f"{lab.dir}/cookies-{client}-{name}-{i}"
        page = lab.curl(client, d.portal("/admin/login", ipv6=ipv6), "-c", jar).stdout
        found.append((jar, re.search(r'name="csrf" value="([^"]+)"', page).group(1)))
    return found


def _parallel_logins(lab, d, client: str, sessions: list[tuple[str, str]], password: str,
                     ipv6: bool = False) -> list[int]:
    """A login try from each session at once."""
    procs = [lab.popen(client, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-b", jar,
                       "--data-urlencode", f"csrf={token}", "--data-urlencode", f"password={password}",
                       d.portal("/admin/login", ipv6=ipv6), stdout=subprocess.PIPE, text=True)
             for jar, token in sessions]
    return sorted(int(p.communicate(timeout=30)[0]) for p in procs)


def test_login_limits_hold_per_device_and_atomically(lab, start_hotspotd):
    d = start_hotspotd()
    register(lab, d, "c1", "c2")
    d.ctl("passwd", input=PASSWORD + "\n")
    d.wait_portal()
    lab.ping("c1", lab.server6)
    first, second = _sessions(lab, d, "c1", "first"), _sessions(lab, d, "c1", "second")
    over_v6 = _sessions(lab, d, "c1", "v6", n=1, ipv6=True)
    guesser = Browser(lab, d, "c1")
    for _ in range(4):  # one free try left
        assert guesser.post("/admin/login", {"password": "guess-guess"})[0] == 403
    # Eight tries at once: the check and the count are one step, so only one is tried.
    assert _parallel_logins(lab, d, "c1", first, "guess-guess") == [403] + [429] * 7
    # Its wait doubles with each failure: 1 s, 2 s, then 4 s...
    for wait in (1, 2):
        time.sleep(wait + 0.1)
        assert guesser.post("/admin/login", {"password": "guess-guess"})[0] == 403
    # ...and at the limit, eight at once with the right password: none gets through.
    assert _parallel_logins(lab, d, "c1", second, PASSWORD) == [429] * 8
    # The same device from its IPv6 address is the same device (its MAC, from the neighbour table).
    assert _parallel_logins(lab, d, "c1", over_v6, PASSWORD, ipv6=True) == [429]
    # Another device is not held back by it.
    assert Browser(lab, d, "c2").post("/admin/login", {"password": PASSWORD})[0] == 303


def _threads(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))


def test_the_socket_bounds_what_it_reads_and_its_threads(lab, start_hotspotd):
    d = start_hotspotd()
    register(lab, d, "c1")
    sock = str(Path(d.config.run_dir) / "hotspotd.sock")

    def ask(data: bytes, s: socket.socket | None = None) -> bytes:
        s = s or socket.socket(socket.AF_UNIX)
        with s:
            s.settimeout(10)
            s.connect(sock)
            try:
                s.sendall(data)
            except BrokenPipeError:
                pass  # refused before it read the request: the refusal is there to read
            return s.makefile("rb").readline()

    # Deeply nested JSON: a one-line answer, and hotspotd goes on answering.
    deep = b'{"op": "me", "args": {"ip": ' + b"[" * 20000 + b"]" * 20000 + b"}}\n"
    answer = ask(deep)
    assert answer and json.loads(answer)["ok"] is False, answer
    ok = json.loads(ask(b'{"op": "portal_settings", "args": {}}\n'))
    assert ok["ok"] is True

    # Connections that say nothing hold a handler each, up to a bound; beyond it, a clear refusal.
    before = _threads(d.proc.pid)
    idle = []
    for _ in range(200):
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        idle.append(s)
    time.sleep(0.5)
    try:
        assert _threads(d.proc.pid) <= before + 64
        refused = json.loads(ask(b'{"op": "portal_settings", "args": {}}\n'))
        assert refused["ok"] is False and "busy" in refused["error"], refused
    finally:
        for s in idle:
            s.close()
    lab.wait_for(lambda: json.loads(ask(b'{"op": "portal_settings", "args": {}}\n'))["ok"], 15,
                 "hotspotd to answer again")


def _self_signed(d: Path, address: str) -> tuple[str, str]:
    cert, key = str(d / "tls.pem"), str(d / "tls.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={address}",
                    "-addext", f"subjectAltName=IP:{address}"], check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


def test_with_tls_the_admin_ui_is_https_only(lab, start_hotspotd):
    assert shutil.which("openssl")
    cert, key = _self_signed(Path(lab.dir), lab.router4)
    d = start_hotspotd(tls_cert=cert, tls_key=key, tls_port=8443)
    register(lab, d, "c1")
    d.wait_portal()
    https = f"https://{lab.router4}:8443"
    lab.wait_for(lambda: lab.curl("c1", https + "/api/captive", "--cacert", cert, "-o", "/dev/null",
                                  check=False, timeout=2).returncode == 0, 15, "the HTTPS portal")
    for path in ("/admin", "/admin/login", "/admin/clients?x=1"):
        out = lab.curl("c1", d.portal(path), "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}").stdout
        status, _, where = out.partition(" ")
        assert status in ("301", "302", "307", "308") and where == https + path, (path, out)
    # A POST over plain HTTP (a password sent in the clear) is not acted on either.
    out = lab.curl("c1", d.portal("/admin/login"), "-o", "/dev/null", "-w", "%{http_code}",
                   "--data", "password=x").stdout
    assert out in ("301", "302", "307", "308")
    head = lab.curl("c1", https + "/admin/login", "--cacert", cert, "-i").stdout.lower()
    assert head.startswith("http/1.1 200") and "strict-transport-security: max-age=" in head
    # The guest's pages stay on plain HTTP (the kernel sends captive clients there).
    assert lab.curl("c1", d.portal("/"), "-o", "/dev/null", "-w", "%{http_code}").stdout == "200"
