"""hotspotd's Unix socket: how the unprivileged portal asks for what needs privilege.

One request per connection, one JSON line each way: {"op": NAME, "args": {...}} and back
{"ok": true, "result": ...} or {"ok": false, "error": "one line", "kind": KIND}, KIND one of
"NotAClient" | "BackendError" | "VoucherRefused" (which adds "reason").
Only the operations of the portal's Backend interface can be called, and only by root or the portal's
own user (checked with SO_PEERCRED), so a local process cannot use hotspotd as a way up to root.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import struct
import threading
from pathlib import Path

from hotspot.portal.backend import BackendError, NotAClient, VoucherRefused

log = logging.getLogger("hotspot")

MAX_REQUEST = 64 * 1024  # a password, a form's fields: far less; anything bigger is refused
TIMEOUT = 10.0
# A test message waits for the channel's receiver: an SMTP server may take its timeouts (20 s each)
# for the connection and a few commands, so the portal waits longer for that answer alone.
SLOW_OPS = {"test_channel": 75.0}
OPS = frozenset({
    "me", "captive", "admit", "portal_settings", "login", "status", "clients", "client", "act",
    "settings", "set_settings", "metrics", "vouchers", "create_vouchers", "revoke_voucher",
    "plan", "plan_topup", "alerts", "test_channel",
    "ghost_act", "ghost_admin",  # ghost traffic
    "me_history", "history",  # usage history (issue 8)
    "forget",  # devices that leave
})
_ERRORS = {"NotAClient": NotAClient, "BackendError": BackendError}


def peer_uid(sock: socket.socket) -> int:
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    return uid


class _Handler(socketserver.StreamRequestHandler):
    timeout = TIMEOUT

    def handle(self) -> None:
        server: IpcServer = self.server  # type: ignore[assignment]
        uid = peer_uid(self.request)
        if uid not in server.allowed_uids:
            log.warning("ipc: refused a connection from uid %d", uid)
            return
        line = self.rfile.readline(MAX_REQUEST + 1)
        if len(line) > MAX_REQUEST:
            answer = {"ok": False, "error": "request too large", "kind": "BackendError"}
        else:
            answer = server.answer(line)
        self.wfile.write(json.dumps(answer, separators=(",", ":")).encode() + b"\n")


class IpcServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Serves `target`'s Backend methods; each request in a thread of its own, so a slow one (an
    admin page reading every client) never holds up a client's page."""

    daemon_threads = True

    def __init__(self, path: str | Path, target, allowed_uids: set[int]) -> None:
        self.path = Path(path)
        self.path.unlink(missing_ok=True)
        self.target = target
        self.allowed_uids = allowed_uids
        super().__init__(str(self.path), _Handler)
        os.chmod(self.path, 0o666)  # who may talk is checked per connection (SO_PEERCRED)
        self.thread: threading.Thread | None = None

    def answer(self, line: bytes) -> dict:
        try:
            req = json.loads(line)
            op, args = req["op"], req.get("args", {})
            if op not in OPS or not isinstance(args, dict):
                raise ValueError(op)
        except (ValueError, KeyError, TypeError):
            return {"ok": False, "error": "malformed request", "kind": "BackendError"}
        try:
            return {"ok": True, "result": getattr(self.target, op)(**args)}
        except VoucherRefused as e:
            return {"ok": False, "error": str(e), "kind": "VoucherRefused", "reason": e.reason}
        except BackendError as e:
            return {"ok": False, "error": str(e), "kind": type(e).__name__}
        except TypeError as e:  # wrong arguments for the operation
            return {"ok": False, "error": f"bad arguments for {op}: {e}", "kind": "BackendError"}
        except Exception as e:  # contained: one failing request never stops the daemon
            log.error("ipc: %s failed: %s: %s", op, type(e).__name__, e)
            log.debug("ipc: %s failed", op, exc_info=True)
            return {"ok": False, "error": "internal error", "kind": "BackendError"}

    def start(self) -> None:
        self.thread = threading.Thread(target=self.serve_forever, name="ipc", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self.path.unlink(missing_ok=True)


class IpcBackend:
    """The portal's side: every Backend method is a call over the socket."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)

    def _call(self, op: str, **args):
        wait = SLOW_OPS.get(op, TIMEOUT)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(TIMEOUT)
            try:
                s.connect(self.path)
                s.settimeout(wait)
            except OSError as e:
                raise BackendError(f"hotspotd is not answering ({e.strerror or e})") from None
            try:
                s.sendall(json.dumps({"op": op, "args": args}).encode() + b"\n")
                with s.makefile("rb") as f:
                    line = f.readline()
            except TimeoutError:
                raise BackendError(f"hotspotd did not answer within {wait:g} s") from None
            except OSError:
                line = b""
        if not line:
            raise BackendError("hotspotd closed the connection")
        answer = json.loads(line)
        if answer.get("ok"):
            return answer["result"]
        if answer.get("kind") == "VoucherRefused":
            raise VoucherRefused(answer.get("error", "error"), str(answer.get("reason", "invalid")))
        raise _ERRORS.get(answer.get("kind"), BackendError)(answer.get("error", "error"))

    def __getattr__(self, op: str):
        if op not in OPS:
            raise AttributeError(op)
        return lambda **args: self._call(op, **args)

    # Positional forms of the calls the portal makes (the Backend signatures).
    def me(self, ip):
        return self._call("me", ip=ip)

    def captive(self, ip):
        return self._call("captive", ip=ip)

    def admit(self, ip, voucher=None):
        return self._call("admit", ip=ip, voucher=voucher)

    def login(self, ip, password):
        return self._call("login", ip=ip, password=password)

    def client(self, mac):
        return self._call("client", mac=mac)

    def act(self, mac, action, value=None):
        return self._call("act", mac=mac, action=action, value=value)

    def forget(self, mac):
        return self._call("forget", mac=mac)

    def set_settings(self, values):
        return self._call("set_settings", values=values)

    def create_vouchers(self, count, data, valid, devices):
        return self._call("create_vouchers", count=count, data=data, valid=valid, devices=devices)

    def revoke_voucher(self, code):
        return self._call("revoke_voucher", code=code)

    def plan_topup(self, size):
        return self._call("plan_topup", size=size)

    def test_channel(self, channel):
        return self._call("test_channel", channel=channel)

    def ghost_act(self, ip, action, destination=None):
        return self._call("ghost_act", ip=ip, action=action, destination=destination)

    def ghost_admin(self, mac, action, destination=None):
        return self._call("ghost_admin", mac=mac, action=action, destination=destination)
    def me_history(self, ip, by="day", since=None, until=None):
        return self._call("me_history", ip=ip, by=by, since=since, until=until)

    def history(self, subject, by="day", since=None, until=None):
        return self._call("history", subject=subject, by=by, since=since, until=until)
