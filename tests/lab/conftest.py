"""Fixtures for tests that need root: a lab router with clients in network namespaces (lab)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Iterator

import pytest

from lab import Lab, cleanup_stale, warm_up


@pytest.fixture(scope="session", autouse=True)
def _lab_session() -> None:
    """Lab tests need root: fail (never skip) without it; remove namespaces that crashed runs left behind;
    warm the machine up, so that no test's timeout pays a cold start."""
    if os.geteuid() != 0:
        pytest.fail("tests/lab create network namespaces and need root (run: sudo make test)", pytrace=False)
    cleanup_stale()
    warm_up()


@pytest.fixture
def lab() -> Iterator[Lab]:
    """A started lab with two DHCP clients, c1 and c2 (IPv4 by DHCP, IPv6 by SLAAC)."""
    with Lab(clients=("c1", "c2")) as lab:
        yield lab


@pytest.fixture
def start_hotspotd(lab):
    """Start the real hotspotd in the lab's router with config options; stopped at teardown (woken
    first, in case a test that paused it with SIGSTOP failed before it woke it)."""
    from lab.hotspotd import Hotspotd

    started = []

    def start(**options) -> Hotspotd:
        d = Hotspotd(lab, **options).start()
        started.append(d)
        return d

    yield start
    for d in started:
        if d.proc and d.proc.poll() is None:
            d.proc.send_signal(signal.SIGCONT)
            d.stop()


def register(lab, d, *names: str) -> None:
    """Make clients send metered traffic so hotspotd registers them, and wait until it has."""
    for name in names:
        lab.ping(name, lab.server4)
        d.wait_client(lab.clients[name].mac)


# -- servers on the lab's internet ---------------------------------------------------------------

OTHER_PORT = 8443  # a TCP service on the internet besides port 80
ECHO_PORT = 53  # a UDP echo on the internet, standing in for DNS to another server

HTTP_SCRIPT = r"""
import socket, socketserver, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
tag, port = sys.argv[1], int(sys.argv[2])
class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{tag} host={self.headers.get('Host')} path={self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    def server_bind(self):  # IPv4 and IPv6 alike; no getfqdn()
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        socketserver.TCPServer.server_bind(self)
Server(("::", port), Handler).serve_forever()
"""

ECHO_SCRIPT = r"""
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
while True:
    data, addr = s.recvfrom(2048)
    s.sendto(data, addr)
"""


def serve(lab: Lab, ns: str, script: str, *args) -> subprocess.Popen:
    return lab.popen(ns, sys.executable, "-c", script, *map(str, args), stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def listening(lab: Lab, ns: str, port: int, proto: str = "t") -> bool:
    return bool(lab.run(ns, "ss", f"-Hn{proto}l", f"sport = :{port}").stdout.strip())


@pytest.fixture
def web(lab):
    """HTTP (80, 443, 8443) and a UDP echo (53) on the internet."""
    for port in (80, 443, OTHER_PORT):  # 443 listens too, so a reset can only come from the gate
        serve(lab, lab.internet, HTTP_SCRIPT, "internet", port)
    serve(lab, lab.internet, ECHO_SCRIPT, ECHO_PORT)
    servers = [(lab.internet, ECHO_PORT, "u")]
    servers += [(lab.internet, port, "t") for port in (80, 443, OTHER_PORT)]
    for ns, port, proto in servers:
        lab.wait_for(lambda ns=ns, port=port, proto=proto: listening(lab, ns, port, proto), 10,
                     f"a server on {ns} port {port}")
    return lab


# A UDP echo on given addresses (a stand-in for a resolver on the router: what it gets, it answers).
ROUTER_ECHO = r"""
import select, socket, sys
socks = []
for addr in sys.argv[2:]:
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, int(sys.argv[1])))
    socks.append(s)
while True:
    for s in select.select(socks, [], [])[0]:
        data, peer = s.recvfrom(2048)
        s.sendto(data, peer)
"""
RESOLVER4, RESOLVER6 = "10.77.0.53", "2001:db8:77::53"  # more of the router's LAN addresses


def router_resolver(lab) -> None:
    """The echo on two more of the router's own LAN addresses, port 53 (dnsmasq binds only the
    addresses it found at its start): answers sent to it come back from the router's resolver."""
    lab.run(lab.router, "sh", "-ec", f"ip addr add {RESOLVER4}/24 dev {lab.lan_device}; "
            f"ip -6 addr add {RESOLVER6}/64 dev {lab.lan_device} nodad")
    serve(lab, lab.router, ROUTER_ECHO, 53, RESOLVER4, RESOLVER6)
    lab.wait_for(lambda: RESOLVER4 in lab.run(lab.router, "ss", "-Hnul", "sport = :53").stdout, 10,
                 "the router's stand-in resolver")


@pytest.fixture
def modem():
    """(bus, mock, modem path): ModemManager's mock on a private bus with one modem (tests/modem_mock.py);
    hotspotd reads it when its DBUS_SYSTEM_BUS_ADDRESS is bus.address."""
    from tests.modem_mock import running_modem

    with running_modem() as found:
        yield found
