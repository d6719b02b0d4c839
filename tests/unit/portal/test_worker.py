"""hotspot.portal.worker under real gunicorn on loopback, with a small echo app: what it does with
requests that are whole, split, oversized, malformed, over TLS, and while it stops. (The portal
itself, slow guests and the per-address cap are tested against the real hotspotd in
tests/lab/portal/test_slow.py.)"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hotspot.portal.worker import BODY_MAX, HEAD_DEADLINE, HEAD_MAX

APP = '''
import hashlib, json, time

def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/boom":
        raise RuntimeError("the app failed")
    if path == "/sleep":
        time.sleep(1)
    if path == "/big":
        body = bytes(range(256)) * 12_000  # 3 MB: more than the socket's buffers take at once
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [body]
    if path == "/file":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](open(__file__, "rb"))
    data = environ["wsgi.input"].read()
    out = json.dumps({"method": environ["REQUEST_METHOD"], "path": path, "remote": environ["REMOTE_ADDR"],
                      "scheme": environ["wsgi.url_scheme"], "content_length": environ.get("CONTENT_LENGTH"),
                      "body": len(data), "sha": hashlib.sha256(data).hexdigest(),
                      "forwarded": environ.get("HTTP_X_FORWARDED_FOR")}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))])
    return [out]
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`tls`: every port TLS, as gunicorn's --certfile makes it; `https_port`: a second port that is,
    the first staying plain HTTP, as hotspotd runs the portal (HOTSPOT_TLS_*)."""

    def __init__(self, tmp: Path, tls: bool = False, https_port: bool = False,
                 trust_forwarded: bool = False) -> None:
        (tmp / "echo_app.py").write_text(APP)
        self.port = _free_port()
        argv = [sys.executable, "-m", "gunicorn", "--worker-class", "hotspot.portal.worker.PortalWorker",
                "--workers", "1", "--threads", "2", "--bind", f"127.0.0.1:{self.port}", "--graceful-timeout",
                "5", "--forwarded-allow-ips", "*" if trust_forwarded else "", "--log-level", "warning",
                "echo_app:app"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp), os.environ.get("PYTHONPATH", "")])}
        self.tls = self.https_port = None
        if tls or https_port:
            cert, key = str(tmp / "cert.pem"), str(tmp / "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                            "-days", "2", "-subj", "/CN=localhost"], check=True, capture_output=True)
            self.tls = ssl.create_default_context(cafile=cert)
            self.tls.check_hostname = False
            if https_port:
                self.https_port = _free_port()
                argv[-1:-1] = ["--bind", f"127.0.0.1:{self.https_port}"]
                env.update(HOTSPOT_TLS_PORT=str(self.https_port), HOTSPOT_TLS_CERT=cert, HOTSPOT_TLS_KEY=key)
            else:
                argv[-1:-1] = ["--certfile", cert, "--keyfile", key]
        self.log = tmp / "gunicorn.log"
        self.proc = subprocess.Popen(argv, cwd=tmp, env=env, stdout=self.log.open("w"),
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 200"):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"the worker did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)

    def connect(self, https: bool | None = None) -> socket.socket:
        """To the port (the HTTPS one if `https`); over TLS if that port speaks it."""
        https = self.https_port is None and self.tls is not None if https is None else https
        s = socket.create_connection(("127.0.0.1", self.https_port or self.port if https else self.port),
                                     timeout=10)
        return self.tls.wrap_socket(s) if https else s

    def request(self, raw: bytes, *, pieces: int = 1, https: bool | None = None) -> bytes:
        """Send raw bytes (in `pieces` writes, a little apart), read until the server closes."""
        with self.connect(https) as s:
            step = -(-len(raw) // pieces)
            for i in range(0, len(raw), step):
                s.sendall(raw[i:i + step])
                if pieces > 1:
                    time.sleep(0.01)
            return _read_all(s)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def _read_all(s: socket.socket) -> bytes:
    out = b""
    while data := s.recv(65536):
        out += data
    return out


def _json(answer: bytes) -> dict:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK"), answer[:300]
    assert b"\r\nConnection: close\r\n" in head  # never kept alive
    return json.loads(body)


def _post(path: str, body: bytes, *headers: str) -> bytes:
    extra = "".join(f"{h}\r\n" for h in headers)
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{extra}\r\n").encode() + body


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path)
    yield s
    s.stop()


def test_whole_and_split_requests_reach_the_app_whole(server):
    got = _json(server.request(b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.9.9.9\r\n\r\n"))
    assert got["path"] == "/a" and got["remote"] == "127.0.0.1"  # the TCP peer, whatever a header says
    body = os.urandom(BODY_MAX)  # the largest body the app takes, split in 40 writes
    got = _json(server.request(_post("/form", body), pieces=40))
    assert got["body"] == BODY_MAX and got["sha"] == hashlib.sha256(body).hexdigest()
    # a client that waits for "100 Continue" gets it, and one final answer
    with server.connect() as s:
        s.sendall(_post("/e", b"", "Expect: 100-continue").replace(b"Length: 0", b"Length: 5"))
        assert s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(b"hello")
        answer = _read_all(s)
    assert _json(answer)["body"] == 5 and b"100 Continue" not in answer


def test_oversized_and_malformed_requests_get_their_answer(server):
    # A body over the cap is never read: the app sees its declared length only (and refuses it, in
    # the portal), and the client still gets the whole answer although it sent its body.
    got = _json(server.request(_post("/big-form", b"x" * (4 * BODY_MAX))))
    assert got["content_length"] == str(4 * BODY_MAX) and got["body"] == 0
    head = server.request(b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * HEAD_MAX + b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 ")
    chunked = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    assert server.request(chunked).startswith(b"HTTP/1.1 411 ")
    assert server.request(b"NOT HTTP AT ALL\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert server.request(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 500 ")
    assert "the app failed" in server.log.read_text()
    assert server.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 200 ")  # still up


def test_large_answers_and_files_arrive_whole(server, tmp_path):
    with server.connect() as s:
        s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.5)  # the client reads late: the worker sends as the socket takes it
        answer = _read_all(s)
    assert answer.partition(b"\r\n\r\n")[2].replace(b"\r\n", b"").count(bytes(range(256))) >= 12_000
    file_body = server.request(b"GET /file HTTP/1.0\r\n\r\n").partition(b"\r\n\r\n")[2]
    assert file_body == (tmp_path / "echo_app.py").read_bytes()


def test_an_answer_under_way_is_finished_when_gunicorn_stops(server):
    with server.connect() as s:
        s.sendall(b"GET /sleep HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)
        server.proc.send_signal(signal.SIGTERM)
        assert _json(_read_all(s))["path"] == "/sleep"
    assert server.proc.wait(10) == 0


def test_tls_handshakes_never_wait_for_a_silent_client(tmp_path):
    server = Server(tmp_path, tls=True)
    try:
        silent = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(20)]
        half = server.connect()
        half.sendall(b"GET / HTTP/1.1\r\nHost")
        got = _json(server.request(b"GET /over-tls HTTP/1.1\r\nHost: x\r\n\r\n"))
        assert got["scheme"] == "https" and got["path"] == "/over-tls"
        body = os.urandom(BODY_MAX)
        assert _json(server.request(_post("/f", body), pieces=8))["sha"] == hashlib.sha256(body).hexdigest()
        big = server.request(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n").partition(b"\r\n\r\n")[2]
        assert big.replace(b"\r\n", b"").count(bytes(range(256))) >= 12_000
        for s in [*silent, half]:
            s.close()
    finally:
        server.stop()


def test_one_worker_serves_http_and_https_each_on_its_port(tmp_path):
    """As hotspotd runs the portal: one gunicorn, TLS on the port it names only. The scheme the app
    sees is the port's, whatever a header says, even from an address gunicorn was told to trust."""
    server = Server(tmp_path, https_port=True, trust_forwarded=True)
    try:
        claims = b"X-Forwarded-Proto: https\r\nX-Forwarded-Ssl: on\r\nX-Forwarded-Protocol: ssl\r\n"
        got = _json(server.request(b"GET /plain HTTP/1.1\r\nHost: x\r\n" + claims + b"\r\n", https=False))
        assert got["scheme"] == "http" and got["path"] == "/plain"
        got = _json(server.request(b"GET /tls HTTP/1.1\r\nHost: x\r\nX-Forwarded-Proto: http\r\n\r\n",
                                   https=True))
        assert got["scheme"] == "https" and got["path"] == "/tls"
        # plain HTTP to the TLS port is no request
        with socket.create_connection(("127.0.0.1", server.https_port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                answer = _read_all(s)
            except ConnectionResetError:  # the TLS layer's alert, or a reset
                answer = b""
            assert b"HTTP/1.1 200" not in answer
        # A client stalled mid-handshake (its hello half sent) or silent holds up neither port.
        stalled = []
        for _ in range(10):
            s = socket.create_connection(("127.0.0.1", server.https_port))
            s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # the start of a ClientHello
            stalled.append(s)
        stalled += [socket.create_connection(("127.0.0.1", server.https_port)) for _ in range(10)]
        time.sleep(0.2)
        for https in (False, True):
            t0 = time.monotonic()
            assert _json(server.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", https=https))["scheme"] == \
                ("https" if https else "http")
            # far within HEAD_DEADLINE: a worker that waited on a handshake would answer only after it
            assert time.monotonic() - t0 < HEAD_DEADLINE / 3, "a stalled TLS client held up another's request"
        for s in stalled:
            s.close()
    finally:
        server.stop()
    assert "Traceback" not in server.log.read_text()
