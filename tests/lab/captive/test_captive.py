"""The captive gate, in the real kernel: with auth click or voucher a client not admitted reaches only the
router; its plain HTTP goes to the real portal (which redirects it to its sign-in page, keeping the URL the
client asked for), everything else fails at once. Blocked and capped clients' HTTP goes to the portal in
every auth mode."""

from __future__ import annotations

import subprocess
import sys
import time
from urllib.parse import parse_qs, urlsplit

from lab import CommandError
from tests.lab.conftest import ECHO_PORT, HTTP_SCRIPT, OTHER_PORT, listening, register, serve

PORTAL_PORT = 8080

# Sends one datagram, prints "answer", "refused <errno>" (an ICMP error came back) or "timeout".
_UDP = r"""
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((host, port))
start = time.monotonic()
s.send(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01")
try:
    s.recv(2048)
    print("answer")
except socket.timeout:
    print("timeout")
except OSError as e:
    print(f"refused {e.errno} {time.monotonic() - start:.3f}")
"""


def _get(lab, client, url, *args, timeout=5) -> str:
    """What a plain HTTP GET gets: the server's body, or, when the real portal took the request and
    redirected it to its sign-in page, "portal host=H path=P" from the URL it kept for after."""
    out = lab.curl(client, url, "-w", "\n%{http_code} %{redirect_url}", *args, timeout=timeout).stdout
    body, _, status = out.rpartition("\n")
    code, _, location = status.partition(" ")
    loc = urlsplit(location)
    if code == "302" and loc.path == "/signin" and loc.netloc == f"{lab.router4}:{PORTAL_PORT}":
        kept = urlsplit(parse_qs(loc.query)["url"][0])
        return f"portal host={kept.netloc} path={kept.path}{'?' + kept.query if kept.query else ''}"
    return body.strip()


def _fails_at_once(lab, client, url) -> None:
    start = time.monotonic()
    p = lab.curl(client, url, "-k", check=False, timeout=5)
    took = time.monotonic() - start
    assert p.returncode == 7, (url, p.returncode, p.stderr)  # "Couldn't connect": reset, not a timeout
    assert took < 1, f"{url}: {took:.2f} s"


def _udp(lab, client, host, port=ECHO_PORT) -> str:
    return lab.run(client, sys.executable, "-c", _UDP, host, port).stdout.strip()


def _url(host: str, port: int | None = None, path: str = "/") -> str:
    h = f"[{host}]" if ":" in host else host
    return f"http://{h}{f':{port}' if port else ''}{path}"


def assert_gated(lab, name) -> None:
    """Only the router: plain HTTP lands on the portal with its Host and path, the rest fails at once."""
    for server in (lab.server4, lab.server6):
        h = f"[{server}]" if ":" in server else server
        assert _get(lab, name, _url(server, path="/x?y=1")) == f"portal host={h} path=/x?y=1"
        assert _get(lab, name, _url(server, path="/generate_204"), "-H", "Host: connectivitycheck.example") \
            == "portal host=connectivitycheck.example path=/generate_204"
        _fails_at_once(lab, name, f"https://{h}/")
        _fails_at_once(lab, name, _url(server, OTHER_PORT))
        # UDP (DNS to another server, QUIC) gets an ICMP error back
        assert _udp(lab, name, server).startswith("refused ")
        assert not lab.ping(name, server, timeout=1)
    # DNS to the router's dnsmasq works (internet.lab resolves), and its HTTP goes to the portal too
    assert _get(lab, name, "http://internet.lab/hello") == "portal host=internet.lab path=/hello"
    assert lab.ping(name, lab.router4) and lab.ping(name, lab.router6)


def assert_online(lab, name) -> None:
    for server in (lab.server4, lab.server6):
        h = f"[{server}]" if ":" in server else server
        assert _get(lab, name, _url(server, path="/x")) == f"internet host={h} path=/x"
        assert _get(lab, name, _url(server, OTHER_PORT, "/y")) == f"internet host={h}:{OTHER_PORT} path=/y"
        assert _udp(lab, name, server) == "answer"
        assert lab.ping(name, server)


def _wire(lab, name) -> int:
    return sum(lab.ip_bytes(name).values())


def test_unadmitted_clients_reach_only_the_router_until_admitted(web, start_hotspotd):
    lab = web
    d = start_hotspotd(auth="click")
    d.wait_portal("c2")
    for name in ("c1", "c2"):
        lab.ping(name, lab.server4)  # gated, but it makes the MAC known
        d.wait_client(lab.clients[name].mac)
    c1, c2 = lab.clients["c1"].mac, lab.clients["c2"].mac
    info = d.client(c1)
    assert (info["admitted"], info["admitted_until"]) == (False, None)
    assert d.clients()[c2]["admitted"] is False
    assert_gated(lab, "c1")
    assert d.client(c1)["bytes_total"] == 0, "gated traffic does not cross the uplink: nothing counted"

    info = d.json("admit", c1)
    assert info["admitted"] and info["admitted_until"]
    assert_online(lab, "c1")
    assert_gated(lab, "c2")

    # counted exactly as before the gate existed
    counted0, wire0 = d.client(c1)["bytes_total"], _wire(lab, "c1")
    lab.iperf("c1", bytes=20_000_000, reverse=True)
    lab.iperf("c1", bytes=5_000_000, ipv6=True)
    d.wait_polls()
    counted, wire = d.client(c1)["bytes_total"] - counted0, _wire(lab, "c1") - wire0
    assert wire > 20_000_000  # iperf3 -n may stop a little short of its byte count
    assert abs(counted - wire) <= 0.005 * wire, (counted, wire)

    # the admission survives a restart of hotspotd and `nft flush ruleset`
    assert d.stop() == 0
    d.start()
    d.wait_portal("c2")
    assert_online(lab, "c1")
    lab.run(lab.router, "nft", "flush", "ruleset")
    lab.wait_for(d.table_live, 2, "the table to come back")
    lab.install_nat()
    assert d.client(c1)["admitted"]
    assert_online(lab, "c1")
    assert_gated(lab, "c2")

    # unadmit gates it again, at once
    assert d.json("unadmit", c1)["admitted"] is False
    assert_gated(lab, "c1")


def test_sessions_end_after_session_timeout_and_idle_timeout(web, start_hotspotd):
    lab = web
    d = start_hotspotd(auth="voucher", session_timeout=3, idle_timeout=None)
    d.wait_portal("c2")
    register(lab, d, "c1", "c2")
    c1, c2 = lab.clients["c1"].mac, lab.clients["c2"].mac
    d.ctl("admit", c1)  # session_timeout: 3 s
    d.ctl("admit", c2, "--for", "1h")
    started = time.monotonic()
    assert lab.ping("c1", lab.server4)
    lab.wait_for(lambda: not d.client(c1)["admitted"], 6, "the session to end")
    assert time.monotonic() - started >= 2.5
    assert_gated(lab, "c1")
    assert_online(lab, "c2")
    assert "session ended" in d.log()

    # idle timeout: no bytes counted for 2 s ends a session; traffic keeps it
    assert d.stop() == 0
    d = start_hotspotd(auth="voucher", idle_timeout=2)
    d.wait_portal("c2")
    d.ctl("admit", c1)
    for _ in range(8):  # 4 s of traffic, twice the idle timeout
        assert lab.ping("c1", lab.server6)
        time.sleep(0.5)
    assert d.client(c1)["admitted"], "a client with traffic is not idle"
    lab.wait_for(lambda: not d.client(c1)["admitted"], 5, "the idle session to end")
    assert_gated(lab, "c1")


def test_unregistered_macs_are_gated(web, start_hotspotd):
    lab = web
    d = start_hotspotd(auth="click")
    d.wait_portal("c2")
    register(lab, d, "c1")
    assert d.stop() == 0  # the table stays in the kernel; no daemon registers the newcomer
    lab.add_client("c3")
    # hotspotd's portal is down with it: a stand-in on its port shows where the kernel sends HTTP
    stand_in = serve(lab, lab.router, HTTP_SCRIPT, "portal", PORTAL_PORT)
    try:
        lab.wait_for(lambda: listening(lab, lab.router, PORTAL_PORT), 10, "the stand-in portal")
        assert_gated(lab, "c3")
    finally:
        stand_in.kill()
        stand_in.wait()
    mac = lab.clients["c3"].mac
    assert mac in d.nft("list", "set", "inet", "hotspot", "unknown")
    assert mac not in d.nft("list", "map", "inet", "hotspot", "client_up")
    d.start()
    d.wait_portal("c2")
    info = d.wait_client(mac)
    assert info["admitted"] is False
    assert_gated(lab, "c3")
    d.ctl("admit", mac)
    assert_online(lab, "c3")


def test_blocked_and_capped_http_goes_to_the_portal_with_auth_none(web, start_hotspotd):
    lab = web
    d = start_hotspotd(auth="none")
    d.wait_portal("c2")
    register(lab, d, "c1", "c2")
    c1 = lab.clients["c1"].mac
    assert d.client(c1)["admitted"] is True
    assert_online(lab, "c1")

    d.ctl("block", c1)
    assert _get(lab, "c1", _url(lab.server4, path="/why")) == f"portal host={lab.server4} path=/why"
    assert _get(lab, "c1", _url(lab.server6, path="/why")) == f"portal host=[{lab.server6}] path=/why"
    assert not lab.ping("c1", lab.server4)
    assert_online(lab, "c2")
    d.ctl("unblock", c1)
    assert_online(lab, "c1")

    # capped: known at the poll after the quota runs out
    d.ctl("cap", c1, str(d.client(c1)["bytes_total"] + 2_000_000))
    try:
        lab.iperf("c1", seconds=2, reverse=True, timeout=6)
    except (subprocess.TimeoutExpired, CommandError):
        pass
    lab.wait_for(lambda: d.client(c1)["state"] == "capped", 3, "c1 to be capped")
    lab.wait_for(lambda: _get(lab, "c1", _url(lab.server4, path="/cap")).startswith("portal "), 3,
                 "capped HTTP to go to the portal")
    assert _get(lab, "c1", _url(lab.server6, path="/cap")) == f"portal host=[{lab.server6}] path=/cap"
    assert "plain HTTP now goes to the portal" in d.log()
    d.ctl("topup", c1, "100MB")
    assert _get(lab, "c1", _url(lab.server4, path="/x")) == f"internet host={lab.server4} path=/x"
    assert_online(lab, "c2")
