"""hotspotd's Unix socket, the server: how the unprivileged portal asks for what needs privilege.

What may be asked, with which arguments and by whom is declared once (hotspot/contract.py, OPERATIONS);
the wire format and the roles are hotspot/core/contract.py's. The allow-list, the dispatch and the
authorisation here come from the declarations. Who is asking is the peer's uid (SO_PEERCRED): root, or
the portal's own user (guest and portal operations, and the owner's with a session hotspotd checks);
anyone else is not answered. A request is at most MAX_REQUEST bytes nested at most MAX_DEPTH deep, and
at most `handlers` requests are served at once: beyond that a connection gets a one-line refusal, not a
thread.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import socket
import socketserver
import struct
import threading
from pathlib import Path

from hotspot.contract import OPS
from hotspot.core.contract import (
    ADMIN,
    MAX_REQUEST,
    METRICS,
    ROOT,
    TIMEOUT,
    BackendError,
    Operation,
    VoucherRefused,
)

log = logging.getLogger("hotspot")

MAX_DEPTH = 8  # {"args": {"values": {...}}} is 3 deep; nothing the portal sends is deeper
HANDLERS = 32  # requests served at once (the portal's workers have 2 x 4 threads)


def peer_uid(sock: socket.socket) -> int:
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    return uid


def _too_deep(value, most: int) -> bool:
    """Does `value` nest lists and dicts more than `most` deep?"""
    if not isinstance(value, (list, dict)):
        return False
    if most == 0:
        return True
    return any(_too_deep(v, most - 1) for v in (value.values() if isinstance(value, dict) else value))


def _refusal(error: str, kind: str = "BackendError") -> dict:
    return {"ok": False, "error": error, "kind": kind}


def _send(sock: socket.socket, answer: dict) -> None:
    sock.sendall(json.dumps(answer, separators=(",", ":")).encode() + b"\n")


class IpcServer(socketserver.UnixStreamServer):
    """Serves the declared operations on `target` (the house's operations), each request in a thread of
    its own so a slow one (an admin page reading every client) never holds up a client's page, up to
    `handlers` at once. `target` also says whether an admin session or a metrics token is good
    (`session_valid`, `token_valid`)."""

    def __init__(self, path: str | Path, target, *, peers: dict[int, str], handlers: int = HANDLERS) -> None:
        """`peers`: who each uid that may connect is, "root" or "portal" (hotspotd: {0: "root",
        the portal user's uid: "portal"}); any other uid is not answered."""
        self.path = Path(path)
        self.path.unlink(missing_ok=True)
        self.target = target
        self.peers = peers
        self.slots = threading.BoundedSemaphore(handlers)
        super().__init__(str(self.path), None)
        os.chmod(self.path, 0o666)  # who may talk is checked per connection (SO_PEERCRED)
        self.thread: threading.Thread | None = None

    def process_request(self, request: socket.socket, client_address) -> None:
        """In the accepting thread: a stranger is dropped at once; anyone else gets a handler thread
        if one is free, else a one-line refusal."""
        uid = peer_uid(request)
        peer = self.peers.get(uid)
        if peer not in ("root", "portal"):
            log.warning("ipc: refused a connection from uid %d", uid)
            self.shutdown_request(request)
            return
        if not self.slots.acquire(blocking=False):
            try:
                request.settimeout(0.5)
                _send(request, _refusal("hotspotd is busy: too many requests at once; try again"))
            except OSError:
                pass
            self.shutdown_request(request)
            return
        threading.Thread(target=self._serve, args=(request, peer), name="ipc-request", daemon=True).start()

    def _serve(self, request: socket.socket, peer: str) -> None:
        try:
            request.settimeout(TIMEOUT)
            with request.makefile("rb") as f:
                line = f.readline(MAX_REQUEST + 1)
            if not line:
                return
            answer = (_refusal("request too large") if len(line) > MAX_REQUEST
                      else self.answer(line, peer))
            _send(request, answer)
        except OSError:
            pass  # the portal gave up waiting; nothing to tell it
        except Exception:  # an answer that cannot be sent: a bug, logged, and the slot comes back
            log.exception("ipc: a request failed")
        finally:
            self.shutdown_request(request)
            self.slots.release()

    def answer(self, line: bytes, peer: str) -> dict:
        """The answer to one request line from `peer` ("root" or "portal")."""
        try:
            req = json.loads(line)
        except RecursionError:
            return _refusal("malformed request: nested too deeply")
        except ValueError:
            return _refusal("malformed request")
        if isinstance(req, dict) and _too_deep(req, MAX_DEPTH):
            return _refusal("malformed request: nested too deeply")
        name = req.get("op") if isinstance(req, dict) else None
        op = OPS.get(name) if isinstance(name, str) else None
        args = req.get("args", {}) if op else None
        if op is None or not isinstance(args, dict):
            return _refusal("malformed request")
        unknown, missing = set(args) - set(op.arg_names), op.required - set(args)
        if unknown or missing:
            return _refusal(f"bad arguments for {op.name}: " + ", ".join(
                [f"unknown {n}" for n in sorted(unknown)] + [f"missing {n}" for n in sorted(missing)]))
        if not self.allowed(op, peer, req):
            kind = "root only" if op.who == ROOT else "log in first: no admin session hotspotd accepts"
            return _refusal(f"{op.name}: {kind}", "NotAdmin")
        try:
            return {"ok": True, "result": getattr(self.target, op.name)(**args)}
        except VoucherRefused as e:
            return {"ok": False, "error": str(e), "kind": "VoucherRefused", "reason": e.reason}
        except BackendError as e:
            return _refusal(str(e), type(e).__name__)
        except Exception as e:  # contained: one failing request never stops the daemon
            log.error("ipc: %s failed: %s: %s", op.name, type(e).__name__, e)
            log.debug("ipc: %s failed", op.name, exc_info=True)
            return _refusal("internal error")

    def allowed(self, op: Operation, peer: str, req: dict) -> bool:
        """Root may do anything; the portal's user a device's and its own operations, the owner's
        only with a session hotspotd itself issued (or, for metrics, the metrics token)."""
        if peer == "root":
            return True
        if op.who == ROOT:
            return False
        if op.who in (ADMIN, METRICS) and self.target.session_valid(req.get("session")):
            return True
        if op.who == METRICS:
            return self.target.token_valid(req.get("token"))
        return op.who not in (ADMIN, METRICS)

    def start(self) -> None:
        self._wake_r, self._wake_w = os.pipe()
        self.thread = threading.Thread(target=self._accept_until_closed, name="ipc", daemon=True)
        self.thread.start()

    def _accept_until_closed(self) -> None:
        """socketserver's serve_forever wakes every half second to look for a shutdown; this thread
        sleeps until a connection or close() comes (a router on a battery idles better)."""
        with selectors.DefaultSelector() as sel:
            sel.register(self, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            while True:
                ready = [key.fileobj for key, _ in sel.select()]
                if self._wake_r in ready:
                    return
                self._handle_request_noblock()

    def close(self) -> None:
        if self.thread is not None:
            os.write(self._wake_w, b"x")
            self.thread.join(5)
            for fd in (self._wake_r, self._wake_w):
                os.close(fd)
            self.thread = None
        self.server_close()
        self.path.unlink(missing_ok=True)
