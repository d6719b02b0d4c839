"""The socket between the portal and hotspotd: only the Backend's operations, errors as one line."""

from __future__ import annotations

import json
import socket

import pytest

from hotspot.ipc import MAX_REQUEST, IpcBackend, IpcServer
from hotspot.portal.backend import BackendError, NotAClient


class Target:
    def __init__(self):
        self.calls = []

    def me(self, ip):
        if ip == "10.0.0.9":
            raise NotAClient("this device is not on the hotspot's LAN")
        self.calls.append(("me", ip))
        return {"mac": "02:00:00:00:00:01", "ip": ip}

    def act(self, mac, action, value=None):
        raise RuntimeError("boom")

    def login(self, ip, password):
        raise BackendError("too many failed logins from this device; try again in 4 s")

    def test_channel(self, channel):
        return {"channel": channel, "receipt": "HTTP 204"}

    def plan_topup(self, size):
        raise BackendError("the plan has no quota to top up; set one with 'hotspotctl plan set SIZE'")

    def teardown(self):  # not a Backend operation: must not be callable over the socket
        self.calls.append(("teardown",))


@pytest.fixture
def served(tmp_path):
    target = Target()
    server = IpcServer(tmp_path / "s.sock", target, {0, __import__("os").getuid()})
    server.start()
    yield target, IpcBackend(server.path), server
    server.close()


def test_calls_and_errors_cross_the_socket(served):
    target, backend, _ = served
    assert backend.me("10.0.0.2") == {"mac": "02:00:00:00:00:01", "ip": "10.0.0.2"}
    with pytest.raises(NotAClient, match="not on the hotspot's LAN"):
        backend.me("10.0.0.9")
    with pytest.raises(BackendError, match="try again in 4 s"):
        backend.login("10.0.0.2", "x")
    with pytest.raises(BackendError, match="internal error"):  # contained, never a traceback
        backend.act("02:00:00:00:00:01", "cap", "1GB")
    with pytest.raises(BackendError, match="bad arguments"):
        backend._call("me", ip="10.0.0.2", mac="x")


def test_the_plan_and_alert_operations_cross_the_socket(served):
    _, backend, _ = served
    assert backend.test_channel("webhook") == {"channel": "webhook", "receipt": "HTTP 204"}
    with pytest.raises(BackendError, match="no quota to top up"):
        backend.plan_topup("1GB")


def _raw(path, data: bytes) -> dict:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(path))
        s.sendall(data)
        return json.loads(s.makefile("rb").readline())


def test_only_backend_operations_and_well_formed_requests(served):
    target, _, server = served
    assert _raw(server.path, b'{"op": "teardown"}\n')["error"] == "malformed request"
    assert _raw(server.path, b'{"op": "__init__"}\n')["error"] == "malformed request"
    assert _raw(server.path, b"not json\n")["error"] == "malformed request"
    assert _raw(server.path, b'{"op": "me", "args": []}\n')["error"] == "malformed request"
    assert _raw(server.path, b"x" * (MAX_REQUEST + 10) + b"\n")["error"] == "request too large"
    assert target.calls == []


def test_a_stranger_is_refused(tmp_path):
    server = IpcServer(tmp_path / "s.sock", Target(), {12345})  # not us
    server.start()
    try:
        with pytest.raises(BackendError, match="closed the connection"):
            IpcBackend(server.path).me("10.0.0.2")
    finally:
        server.close()
    with pytest.raises(BackendError, match="not answering"):
        IpcBackend(server.path).me("10.0.0.2")
