"""The socket between the portal and hotspotd: only the declared operations, called by whom the
declaration says, errors as one line, its input and its threads bounded."""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from hotspot.contract import OPERATIONS, check_backend
from hotspot.core.contract import MAX_REQUEST, BackendError, NotAClient, NotAdmin
from hotspot.daemon.server import IpcServer
from hotspot.portal.hotspotd import IpcBackend

SESSION, TOKEN = "a-session-hotspotd-issued", "the-metrics-token"


class Target:
    def __init__(self):
        self.calls = []

    def session_valid(self, token):
        return token == SESSION

    def token_valid(self, token):
        return token == TOKEN

    def me(self, ip):
        if ip == "10.0.0.9":
            raise NotAClient("this device is not on the hotspot's LAN")
        self.calls.append(("me", ip))
        return {"mac": "02:00:00:00:00:01", "ip": ip}

    def act(self, mac, action, value=None):
        raise RuntimeError("boom")

    def clients(self):
        self.calls.append(("clients",))
        return []

    def login(self, ip, password):
        raise BackendError("too many failed logins from this device; try again in 4 s")

    def test_channel(self, channel):
        return {"channel": channel, "receipt": "HTTP 204"}

    def plan_topup(self, size):
        raise BackendError("the plan has no quota to top up; set one with 'hotspotctl plan set SIZE'")

    def set_update_guard(self, ip, on):
        self.calls.append(("set_update_guard", ip, on))
        return {"update_guard": on}

    def apps(self):
        return {"clients": []}

    def set_settings(self, values):
        return values

    def metrics(self):
        return {"status": {}}

    def end_sessions(self):
        self.calls.append(("end_sessions",))
        return {"ended": 0}

    def teardown(self):  # not a declared operation: must not be callable over the socket
        self.calls.append(("teardown",))


def serve(path, role: str = "portal", **kw) -> tuple[Target, IpcServer]:
    target = Target()
    server = IpcServer(path, target, peers={os.getuid(): role}, **kw)
    server.start()
    return target, server


@pytest.fixture
def served(tmp_path):
    target, server = serve(tmp_path / "s.sock")  # we are the portal
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
        backend.act("02:00:00:00:00:01", "cap", "1GB", session=SESSION)
    with pytest.raises(BackendError, match="bad arguments"):
        backend._call("me", {"ip": "10.0.0.2", "mac": "x"})
    with pytest.raises(BackendError, match="bad arguments for me: missing ip"):
        backend._call("me", {})


def test_the_plan_and_alert_operations_cross_the_socket(served):
    _, backend, _ = served
    assert backend.test_channel("webhook", session=SESSION) == {"channel": "webhook", "receipt": "HTTP 204"}
    with pytest.raises(BackendError, match="no quota to top up"):
        backend.plan_topup("1GB", session=SESSION)


def test_every_declared_operation_reaches_hotspotd(served):
    """The socket's allow-list is the declaration: a device's update guard and the owner's apps page
    (once missing from a hand-kept list, so both answered 500) cross it like every other."""
    target, backend, _ = served
    assert backend.set_update_guard("10.0.0.2", True) == {"update_guard": True}
    assert backend.apps(session=SESSION) == {"clients": []}
    assert ("set_update_guard", "10.0.0.2", True) in target.calls


def _raw(path, data: bytes) -> dict:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(path))
        try:
            s.sendall(data)
        except BrokenPipeError:
            pass  # refused before it read the request: the refusal is there to read
        return json.loads(s.makefile("rb").readline())


def test_only_declared_operations_and_well_formed_requests(served):
    target, _, server = served
    assert _raw(server.path, b'{"op": "teardown"}\n')["error"] == "malformed request"
    assert _raw(server.path, b'{"op": "__init__"}\n')["error"] == "malformed request"
    assert _raw(server.path, b'{"op": ["me"]}\n')["error"] == "malformed request"
    assert _raw(server.path, b"not json\n")["error"] == "malformed request"
    assert _raw(server.path, b'{"op": "me", "args": []}\n')["error"] == "malformed request"
    assert _raw(server.path, b"x" * (MAX_REQUEST + 10) + b"\n")["error"] == "request too large"
    assert target.calls == []


def test_nested_json_gets_a_one_line_answer(served):
    target, backend, server = served
    deep = b'{"op": "me", "args": {"ip": ' + b"[" * 20000 + b"]" * 20000 + b"}}\n"
    answer = _raw(server.path, deep)
    assert answer == {"ok": False, "error": "malformed request: nested too deeply", "kind": "BackendError"}
    nine = b'{"op": "me", "args": {"ip": ' + b"[" * 7 + b"]" * 7 + b"}}\n"  # 9 deep: more than any form
    assert _raw(server.path, nine)["error"] == "malformed request: nested too deeply"
    form = {"default_cap": "1GB", "period": "monthly"}  # a form's fields: 3 deep
    assert backend.set_settings(form, session=SESSION) == form
    assert backend.me("10.0.0.2")["ip"] == "10.0.0.2" and target.calls == [("me", "10.0.0.2")]


def _threads() -> int:
    return threading.active_count()


def test_handlers_are_bounded_and_the_rest_refused_in_one_line(tmp_path):
    _, server = serve(tmp_path / "s.sock", handlers=4)
    idle = []
    try:
        before = _threads()
        for _ in range(40):  # connections that say nothing hold a handler each...
            s = socket.socket(socket.AF_UNIX)
            s.connect(str(server.path))
            idle.append(s)
        time.sleep(0.3)
        assert _threads() <= before + 4  # ...up to the bound, never one thread each
        answer = _raw(server.path, b'{"op": "me", "args": {"ip": "10.0.0.2"}}\n')
        assert answer["ok"] is False and "busy" in answer["error"]
        for s in idle:
            s.close()
        idle = []
        backend = IpcBackend(server.path)
        deadline = time.monotonic() + 5
        while True:  # the slots come back as the handlers see their connections close
            try:
                assert backend.me("10.0.0.2")["ip"] == "10.0.0.2"
                break
            except BackendError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        for s in idle:
            s.close()
        server.close()


def test_the_owners_operations_need_a_session_hotspotd_accepts(served):
    target, backend, _ = served
    for session in (None, "", "made-up", True):
        with pytest.raises(NotAdmin):
            backend._call("clients", {}, session=session)
    assert backend.clients(session=SESSION) == []
    assert target.calls == [("clients",)]
    # metrics: the admin's session or the bearer token, both checked by hotspotd
    assert backend.metrics(token=TOKEN) == {"status": {}}
    assert backend.metrics(session=SESSION) == {"status": {}}
    with pytest.raises(NotAdmin):
        backend.metrics(token="a-guess")
    with pytest.raises(NotAdmin):
        backend.metrics()
    # root's operations are not the portal's, whatever it carries
    with pytest.raises(NotAdmin, match="root only"):
        backend._call("end_sessions", {}, session=SESSION)
    assert ("end_sessions",) not in target.calls


def test_root_may_call_everything(tmp_path):
    target, server = serve(tmp_path / "s.sock", role="root")
    try:
        backend = IpcBackend(server.path)
        assert backend.end_sessions() == {"ended": 0}
        assert backend._call("clients", {}) == []
    finally:
        server.close()


def test_a_stranger_is_refused(tmp_path):
    server = IpcServer(tmp_path / "s.sock", Target(), peers={12345: "portal"})  # not us
    server.start()
    try:
        with pytest.raises(BackendError, match="closed the connection"):
            IpcBackend(server.path).me("10.0.0.2")
    finally:
        server.close()
    with pytest.raises(BackendError, match="not answering"):
        IpcBackend(server.path).me("10.0.0.2")


def test_everyone_follows_the_declaration(cfg):
    """hotspotd's answers, the portal's IpcBackend and the tests' fake all match the declared
    operations; a backend that drifts is refused by name."""
    from hotspot.house import House
    from tests.portal_fake import FakeBackend

    house = House(cfg)
    check_backend(house.answers(), credentials=False)
    house.close()
    check_backend(IpcBackend)
    check_backend(FakeBackend)
    assert {o.name for o in OPERATIONS} <= set(dir(IpcBackend))

    class Drifted(FakeBackend):
        def apps(self, *, session, when=None):
            return {}

        set_update_guard = None

    with pytest.raises(TypeError) as e:
        check_backend(Drifted)
    assert "set_update_guard: missing" in str(e.value) and "apps(self, *, session, when=None)" in str(e.value)


def test_each_operation_is_declared_once_and_the_declarations_stay_light():
    """The capabilities' ops.py gathered without a name twice; the portal's worker imports them and
    its client, so they pull in no Flask, no sqlite and nothing of hotspotd (its memory budget)."""
    import subprocess
    import sys

    from hotspot.core.contract import gather, op

    assert len({o.name for o in OPERATIONS}) == len(OPERATIONS)
    with pytest.raises(TypeError, match="declared twice: me"):
        gather(OPERATIONS, (op("me", "guest", "ip", "client view", "again"),))
    heavy = ("flask", "jinja2", "sqlite3", "hotspot.daemon", "hotspot.kernel", "hotspot.service",
             "hotspot.core.store")
    probe = ("import sys, hotspot.contract, hotspot.portal.hotspotd; "
             f"print(' '.join(m for m in sorted(sys.modules) if m.split('.')[0] in {heavy} "
             f"or m.startswith({heavy[3:]})))")
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.split() == []


def test_an_other_user_gets_nothing_at_all():
    """A real other uid (a child process that dropped to 'nobody'), not a table entry: hotspotd
    does not answer it even for a device's operation."""
    if os.getuid() != 0:
        pytest.fail("this test drops to another uid and needs root (run as root, as CI does)")
    d = Path(tempfile.mkdtemp(prefix="hs-ipc-"))
    d.chmod(0o711)
    server = IpcServer(d / "s.sock", Target(), peers={0: "root"})
    server.start()
    try:
        pid = os.fork()
        if pid == 0:  # the child: nobody
            try:
                os.setgid(65534)
                os.setuid(65534)
                IpcBackend(server.path).me("10.0.0.2")
                os._exit(1)
            except BackendError as e:
                os._exit(0 if "closed the connection" in str(e) else 2)
            except BaseException:
                os._exit(3)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        server.close()
        d.rmdir()


def _switches(tid: int) -> int:
    """Context switches of one of this process's threads so far."""
    lines = Path(f"/proc/self/task/{tid}/status").read_text().splitlines()
    return sum(int(line.split()[1]) for line in lines if "ctxt_switches:" in line)


def test_an_idle_server_sleeps_until_a_request_or_close(tmp_path):
    """No wake-up every half second to look for a shutdown (a router on a battery): the accepting
    thread sleeps until a connection comes, and close() still ends it at once."""
    _target, server = serve(tmp_path / "s.sock")
    try:
        tid = server.thread.native_id
        time.sleep(0.2)
        before = _switches(tid)
        time.sleep(1.6)
        assert _switches(tid) - before == 0
        assert IpcBackend(server.path).me("10.0.0.2")["mac"] == "02:00:00:00:00:01"  # still answers
    finally:
        started = time.monotonic()
        server.close()
    assert time.monotonic() - started < 1
    assert not server.path.exists()
