"""The portal's gunicorn worker (`--worker-class hotspot.portal.worker.PortalWorker`): one event loop
reads every request whole, a few threads run the Flask app on complete requests only.

Why: with gunicorn's gthread worker a connection takes a thread from the moment it is accepted until
its request has arrived (on the HTTPS port, from before the TLS handshake), and nothing times the
read out. Four guests that each send half a request, or connect and say nothing, took the whole
portal (sign-in, the RFC 8908 API, every client page, the admin UI) for as long as they stayed.
More threads only raise the number of guests needed: 256 threads held off 200 such connections and
fell to 300. Here a slow or idle connection costs a file descriptor and a buffer in the loop, never
a thread:

- the loop (selectors: epoll) accepts, does the TLS handshake non-blocking (on the HTTPS port), and
  reads until the request is complete: head within HEAD_DEADLINE of the connection (handshake
  included) and at most HEAD_MAX bytes, a body of up to BODY_MAX bytes (the app's own cap) within
  BODY_DEADLINE after; a request that misses its deadline gets a 408 and the connection is closed;
- one address holds at most PER_ADDRESS open connections and the worker at most
  `--worker-connections` (the open-files limit is raised to fit): past either, the oldest connection
  still reading its request is shed for the new one (a slow guest pushes out its own connections,
  a browser's fresh request gets in), and only if every one is being answered is the new one closed;
- a complete request goes to a pool of `--threads` threads, which parse it with gunicorn's own
  parser and run the WSGI app with gunicorn's own environ and Response, written to memory; the loop
  sends the answer (within WRITE_DEADLINE) and closes the connection: the portal never keeps one
  alive (a connection the kernel redirected here in another site's name must not be reused).
  A body longer than BODY_MAX is never read: the app sees the declared length and refuses it (413)
  with its own page. A chunked request body, which no browser sends, gets 411.

One worker serves both of the portal's ports: hotspotd names the HTTPS port (HOTSPOT_TLS_PORT) and
hands over the certificate and key (HOTSPOT_TLS_CERT, HOTSPOT_TLS_KEY: /proc/self/fd/N, memory files
only the portal's user may read). Only that port's connections are wrapped in TLS, and the app sees
wsgi.url_scheme https on it and http on the other, from the port alone (never from a header): the
session cookie's Secure flag, HSTS and the admin UI's redirect to HTTPS follow from it. One master and
one worker instead of two of each: about 34 MB less on the router. (With gunicorn's --certfile, as in a
test of the worker alone, every port is TLS.)

The client is the TCP peer, always: no forwarded-for or PROXY header is read. Works with gunicorn
20.1 (Debian 12) to 26; no runtime dependency beyond gunicorn and the standard library (gevent is
in OpenWrt's feed, but with greenlet, cffi, zope.interface, libev, libuv and c-ares, and its gunicorn
worker has no header deadline or per-address cap either). There is no access log.
"""

from __future__ import annotations

import errno
import io
import os
import resource
import selectors
import socket
import ssl
import time
from concurrent.futures import Future, ThreadPoolExecutor
from queue import Empty, SimpleQueue

from gunicorn import util
from gunicorn.http import RequestParser, wsgi
from gunicorn.http.body import ChunkedReader, LengthReader
from gunicorn.workers.base import Worker

HEAD_MAX = 8 * 1024  # request line and headers
BODY_MAX = 16 * 1024  # the portal app's MAX_CONTENT_LENGTH
PER_ADDRESS = 32  # open connections of one client address (a browser opens up to 6 to a host)
HEAD_DEADLINE = 10.0  # s from accept to the end of the request's head, the TLS handshake included
BODY_DEADLINE = 10.0  # s from the head to the end of its body
WRITE_DEADLINE = 30.0  # s for the client to take the whole answer
LINGER = 2.0  # s reading (and dropping) what a client still sends after an answer it did not wait for
SPARE_FILES = 64  # descriptors besides connections: listeners, the app's sockets to hotspotd, files
TICK = 0.5  # s between deadline checks while connections are open
IDLE_BEAT = 10.0  # s at most between heartbeats to gunicorn's master (and checks that it is there)
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

# hotspotd's word to the worker (hotspot.daemon.portal): the HTTPS port, the certificate and the key
TLS_PORT, TLS_CERT, TLS_KEY = "HOTSPOT_TLS_PORT", "HOTSPOT_TLS_CERT", "HOTSPOT_TLS_KEY"

HANDSHAKE, HEAD, BODY, APP, WRITE, DRAIN = "handshake", "head", "body", "app", "write", "drain"
READING = (HANDSHAKE, HEAD, BODY, DRAIN)  # what may be shed for a new connection


class _Conn:
    __slots__ = ("sock", "peer", "server", "secure", "state", "deadline", "buf", "req", "head_len", "need",
                 "body", "out", "sent", "linger", "events")

    def __init__(self, sock: socket.socket, peer: tuple, server: tuple, secure: bool,
                 deadline: float) -> None:
        self.sock, self.peer, self.server, self.secure, self.deadline = sock, peer, server, secure, deadline
        self.state = HANDSHAKE if secure else HEAD
        self.buf = bytearray()
        self.req = None
        self.head_len = self.need = self.sent = 0
        self.body = b""
        self.out = memoryview(b"")
        self.linger = False  # the client may still send: read to its end before closing, or it gets RST
        self.events = 0


class _Answer:
    """Where gunicorn's Response writes: the whole answer, in memory, for the loop to send."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.parts.append(bytes(data))

    def send(self, data: bytes) -> int:
        # gunicorn writes only its interim "100 Continue" with send(): the loop sent one already if
        # the client waited for it, and the body is here
        return len(data)

    def sendfile(self, file, offset: int = 0, count: int | None = None) -> int:
        file.seek(offset)
        data = file.read(count) if count else file.read()
        self.parts.append(data)
        return len(data)

    def gettimeout(self) -> float:  # gunicorn's write_error asks before it writes: never blocks
        return 0.0

    def bytes(self) -> bytes:
        return b"".join(self.parts)


def _error(status: int, reason: str) -> bytes:
    out = _Answer()
    util.write_error(out, status, reason, "")
    return out.bytes()


TIMEOUT, CHUNKED, INTERNAL = _error(408, "Request Timeout"), _error(411, "Length Required"), \
    _error(500, "Internal Server Error")


class PortalWorker(Worker):
    def init_process(self) -> None:
        self.sel = selectors.DefaultSelector()
        self.pool = ThreadPoolExecutor(max_workers=max(1, self.cfg.threads), thread_name_prefix="portal")
        self.done: SimpleQueue = SimpleQueue()  # (conn, future) the pool finished
        self.conns: dict[_Conn, None] = {}  # every open connection, oldest first
        self.by_addr: dict[str, dict[_Conn, None]] = {}
        self.max_conns = self._raise_file_limit(self.cfg.worker_connections)
        self.tls_port, self.tls = self._tls()
        self.accepting = False
        super().init_process()  # loads the app, then run()

    def _raise_file_limit(self, wanted: int) -> int:
        """How many connections to hold: `wanted`, or as many as the open-files limit allows."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = wanted + SPARE_FILES
        if soft == resource.RLIM_INFINITY or soft >= need:
            return wanted
        soft = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        return max(16, min(wanted, soft - SPARE_FILES))

    def _tls(self) -> tuple[int | None, ssl.SSLContext | None]:
        """The port whose connections are TLS (None: every port, 0: none) and the context to wrap them
        in. A certificate or key it cannot use costs HTTPS only: that port's connections are closed,
        plain HTTP (where the kernel sends captive clients) is served all the same."""
        if self.cfg.is_ssl:
            port, files = None, (self.cfg.certfile, self.cfg.keyfile)
        elif os.environ.get(TLS_PORT):
            port, files = int(os.environ[TLS_PORT]), (os.environ.get(TLS_CERT), os.environ.get(TLS_KEY))
        else:
            return 0, None
        try:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*files)
            if self.cfg.ciphers:
                ctx.set_ciphers(self.cfg.ciphers)
        except (OSError, TypeError, ValueError) as e:  # ssl.SSLError is an OSError
            self.log.error("no HTTPS: cannot use the certificate and key: %s", e)
            return port, None
        return port, ctx

    def handle_quit(self, sig, frame) -> None:
        self.pool.shutdown(wait=False)
        super().handle_quit(sig, frame)

    # -- the loop ------------------------------------------------------------------------------------

    def run(self) -> None:
        self.listeners = []
        for sock in self.sockets:
            sock.setblocking(False)
            server = sock.getsockname()
            self.listeners.append((sock, server, self.tls_port is None or server[1] == self.tls_port))
        self._listen(True)
        self.sel.register(self.PIPE[0], selectors.EVENT_READ, None)  # signals, and the pool's answers
        beat = self._heartbeat()
        next_tick = next_beat = 0.0
        while self.alive:
            now = time.monotonic()
            if now >= next_beat:
                next_beat = now + beat
                self.notify()
                if self.ppid != os.getppid():
                    self.log.info("Parent changed, shutting down: %s", self)
                    break
            if now >= next_tick:
                next_tick = now + TICK
                self._expire(now)
                self._listen(True)
            # With no connection open and the listeners on, nothing has a deadline: sleep until a
            # connection, a signal or the next heartbeat, not every TICK.
            wake = min(next_beat, next_tick) if self.conns or not self.accepting else next_beat
            for key, _ in self.sel.select(max(0.0, wake - now)):
                if key.data is None:
                    self._wake()
                elif isinstance(key.data, tuple):
                    self._accept(*key.data)
                else:
                    self._step(key.data)
        self._shut_down()

    def _heartbeat(self) -> float:
        """How often to tell gunicorn's master the worker lives: well within its --timeout (after
        which the master kills the worker), at most IDLE_BEAT apart."""
        timeout = self.cfg.timeout
        return min(IDLE_BEAT, timeout / 3) if timeout and timeout > 0 else IDLE_BEAT

    def _listen(self, on: bool) -> None:
        if on == self.accepting:
            return
        for listener in self.listeners:
            sock = listener[0]
            if on:
                self.sel.register(sock, selectors.EVENT_READ, listener)
            else:
                self.sel.unregister(sock)
        self.accepting = on

    def _accept(self, listener: socket.socket, server: tuple, secure: bool) -> None:
        for _ in range(64):  # then the others get a turn
            try:
                sock, peer = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    self.log.warning("cannot accept a connection: %s; again in %s s", e.strerror, TICK)
                    self._listen(False)
                    return
                if e.errno == errno.ECONNABORTED:
                    continue
                raise
            if secure and self.tls is None:  # no usable certificate: said once, at the start
                sock.close()
                continue
            sock.setblocking(False)
            mine = self.by_addr.get(peer[0], {})
            if (len(mine) >= PER_ADDRESS and not self._shed(mine)) or \
                    (len(self.conns) >= self.max_conns and not self._shed(self.conns)):
                sock.close()
                continue
            deadline = time.monotonic() + HEAD_DEADLINE  # the TLS handshake included
            if secure:
                try:
                    sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
                except OSError:  # the client is gone already
                    sock.close()
                    continue
            conn = _Conn(sock, peer, server, secure, deadline)
            self.conns[conn] = None
            self.by_addr.setdefault(peer[0], {})[conn] = None
            self._step(conn)

    def _shed(self, conns: dict[_Conn, None]) -> bool:
        """Close the oldest of these connections that is still reading: a slow or idle one."""
        for conn in conns:
            if conn.state in READING:
                self._close(conn)
                return True
        return False

    def _step(self, conn: _Conn) -> None:
        """Take a connection as far as it goes without waiting."""
        try:
            if conn.state == HANDSHAKE:
                conn.sock.do_handshake()
                conn.state = HEAD
            if conn.state in (HEAD, BODY):
                self._read(conn)
            elif conn.state == WRITE:
                self._write(conn)
            elif conn.state == DRAIN:
                self._drain(conn)
        except (BlockingIOError, InterruptedError):  # not ready: to read, or to write an answer
            self._want(conn, selectors.EVENT_WRITE if conn.state == WRITE else selectors.EVENT_READ)
        except ssl.SSLWantReadError:
            self._want(conn, selectors.EVENT_READ)
        except ssl.SSLWantWriteError:
            self._want(conn, selectors.EVENT_WRITE)
        except OSError:  # reset, TLS alerts: the connection is over
            self._close(conn)
        except Exception:  # a bug must cost this connection, not every one the worker holds
            self.log.exception("dropped a connection from %s", conn.peer[0])
            self._close(conn)

    def _want(self, conn: _Conn, events: int) -> None:
        if conn.events == events:
            return
        if not conn.events:
            self.sel.register(conn.sock, events, conn)
        elif not events:
            self.sel.unregister(conn.sock)
        else:
            self.sel.modify(conn.sock, events, conn)
        conn.events = events

    def _read(self, conn: _Conn) -> None:
        while True:
            data = conn.sock.recv(65536)  # raises when there is nothing more for now
            if not data:  # the client gave up before its request was whole
                self._close(conn)
                return
            conn.buf += data
            if self._complete(conn) or not (conn.secure and conn.sock.pending()):
                break
        if conn.state in (HEAD, BODY):
            self._want(conn, selectors.EVENT_READ)

    def _complete(self, conn: _Conn) -> bool:
        """Whether the request is whole (then handed on, or answered with an error)."""
        if conn.state == HEAD:
            end = conn.buf.find(b"\r\n\r\n", 0, HEAD_MAX)
            if end < 0:
                if len(conn.buf) >= HEAD_MAX:
                    self._answer(conn, _error(431, "Request Header Fields Too Large"), linger=True)
                    return True
                return False
            conn.head_len = end + 4
            try:
                conn.req = next(RequestParser(self.cfg, [bytes(conn.buf[:conn.head_len])], conn.peer))
            except StopIteration:
                self._close(conn)
                return True
            except Exception as e:  # gunicorn's parse errors: its own 400 page
                out = _Answer()
                self.handle_error(None, out, conn.peer, e)
                self._answer(conn, out.bytes(), linger=True)
                return True
            conn.req.scheme = "https" if conn.secure else "http"  # the port's, whatever a header says
            reader = conn.req.body.reader
            if isinstance(reader, ChunkedReader):
                self._answer(conn, CHUNKED, linger=True)
                return True
            length = reader.length if isinstance(reader, LengthReader) else 0
            if length > BODY_MAX:  # the app refuses it on its declared length; it is never read
                conn.linger = True
                self._dispatch(conn)
                return True
            conn.need = conn.head_len + length
            conn.state = BODY
            conn.deadline = time.monotonic() + BODY_DEADLINE
            if len(conn.buf) < conn.need and any(
                    n == "EXPECT" and v.lower() == "100-continue" for n, v in conn.req.headers):
                try:
                    conn.sock.send(CONTINUE)  # a few bytes on a fresh connection: it goes out
                except OSError:
                    pass  # the client sends its body after a pause of its own
        if len(conn.buf) < conn.need:
            return False
        conn.body = bytes(conn.buf[conn.head_len:conn.need])
        conn.linger = len(conn.buf) > conn.need
        self._dispatch(conn)
        return True

    def _dispatch(self, conn: _Conn) -> None:
        conn.state = APP
        conn.buf = bytearray()
        self._want(conn, 0)
        self.pool.submit(self._respond, conn).add_done_callback(lambda f, c=conn: self._finished(c, f))

    def _finished(self, conn: _Conn, future: Future) -> None:  # in a pool thread
        self.done.put((conn, future))
        try:
            os.write(self.PIPE[1], b".")
        except BlockingIOError:
            pass  # the loop is woken already

    def _wake(self) -> None:
        try:
            while os.read(self.PIPE[0], 4096):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                conn, future = self.done.get_nowait()
            except Empty:
                return
            try:
                out = future.result()
            except Exception:  # _respond answers the app's errors itself
                self.log.exception("answering a request failed")
                out = INTERNAL
            self.nr += 1
            if self.nr >= self.max_requests and self.alive:
                self.log.info("Autorestarting worker after current request.")
                self.alive = False
            self._answer(conn, out, linger=conn.linger)

    def _answer(self, conn: _Conn, out: bytes, linger: bool) -> None:
        conn.state, conn.out, conn.sent, conn.linger = WRITE, memoryview(out), 0, linger
        conn.buf = bytearray()
        conn.deadline = time.monotonic() + WRITE_DEADLINE
        self._step(conn)

    def _write(self, conn: _Conn) -> None:
        while conn.sent < len(conn.out):
            conn.sent += conn.sock.send(conn.out[conn.sent:])  # raises when the client must read first
        if not conn.linger:
            self._close(conn)
            return
        # Closing with unread input would reset the connection and could lose the answer: say we are
        # done (FIN), then read what the client still sends for a moment.
        conn.sock.shutdown(socket.SHUT_WR)
        conn.state, conn.deadline = DRAIN, time.monotonic() + LINGER
        self._step(conn)

    def _drain(self, conn: _Conn) -> None:
        for _ in range(16):  # then the others get a turn
            if not conn.sock.recv(65536):  # raises when there is nothing more for now
                self._close(conn)
                return
        self._want(conn, selectors.EVENT_READ)

    def _expire(self, now: float) -> None:
        for conn in [c for c in self.conns if c.deadline <= now and c.state != APP]:
            if conn.state in (HEAD, BODY) and (conn.buf or conn.state == BODY):
                self._answer(conn, TIMEOUT, linger=True)  # a request had begun: say why it ends
            else:
                self._close(conn)

    def _close(self, conn: _Conn) -> None:
        self._want(conn, 0)
        conn.state = "closed"
        try:
            conn.sock.close()
        except OSError:
            pass
        self.conns.pop(conn, None)
        mine = self.by_addr.get(conn.peer[0])
        if mine is not None:
            mine.pop(conn, None)
            if not mine:
                del self.by_addr[conn.peer[0]]

    def _shut_down(self) -> None:
        """Stop taking connections, let the answers under way finish (up to the graceful timeout)."""
        self._listen(False)
        for sock, *_ in self.listeners:
            sock.close()
        for conn in [c for c in self.conns if c.state in READING]:
            self._close(conn)
        end = time.monotonic() + self.cfg.graceful_timeout
        while self.conns and time.monotonic() < end:
            for key, _ in self.sel.select(min(TICK, max(0.0, end - time.monotonic()))):
                if key.data is None:
                    self._wake()
                elif not isinstance(key.data, tuple):
                    self._step(key.data)
            for conn in [c for c in self.conns if c.state in READING]:
                self._close(conn)
        self.pool.shutdown(wait=False)

    # -- in the pool's threads -------------------------------------------------------------------------

    def _respond(self, conn: _Conn) -> bytes:
        """The app's whole answer to a complete request, as bytes."""
        out, resp = _Answer(), None
        try:
            resp, environ = wsgi.create(conn.req, out, conn.peer, conn.server, self.cfg)
            environ["wsgi.url_scheme"] = conn.req.scheme
            environ["wsgi.input"] = io.BytesIO(conn.body)
            environ["wsgi.multithread"] = True
            resp.force_close()
            body = self.wsgi(environ, resp.start_response)
            try:
                if isinstance(body, environ["wsgi.file_wrapper"]):
                    resp.write_file(body)
                else:
                    for chunk in body:
                        resp.write(chunk)
                resp.close()
            finally:
                if hasattr(body, "close"):
                    body.close()
        except Exception as e:
            if resp is not None and resp.headers_sent:  # cut short: the client sees a broken answer
                self.log.exception("Error handling request %s", conn.req.uri)
                return out.bytes()
            out = _Answer()
            self.handle_error(conn.req, out, conn.peer, e)
        return out.bytes()

