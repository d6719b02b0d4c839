"""Slow clients for one client namespace: connections that send half a request and dribble the rest.

    python -m tests.bench.slowload --host 10.77.0.1 --port 8080 --connections 200 \
        [--source ADDRESS ...] [--interval 3] [--duration 30] [--reconnect] [--tls | --tls-stall]

Each connection (from the --source addresses in turn, default: the namespace's own) sends a request
line and a Host header, then one more byte of a header every --interval seconds, and never ends its
headers: what a slowloris does, and what a phone on a bad link looks like to the server. With --tls it
first completes a TLS handshake (certificate not checked) and dribbles inside it; with --tls-stall it
connects to a TLS port and never sends its ClientHello. With --reconnect a connection the server
closed is opened again at once, so --connections stay in play for the whole --duration.

Prints one JSON line when every connection is open ({"ready": true, ...}), then one at the end:
connections opened, closed by the server (and after how many seconds each lived), still open, and
what the server sent before it closed (e.g. a 408), sampled. Bounded by --duration; SIGTERM ends it
early with the same summary.
"""

from __future__ import annotations

import argparse
import json
import selectors
import signal
import socket
import ssl
import sys
import time

HALF = b"GET /api/me HTTP/1.1\r\nHost: portal\r\nX-Slow: "


class _Slow:
    def __init__(self, sock: socket.socket, source: str) -> None:
        self.sock, self.source, self.opened, self.reply = sock, source, time.monotonic(), b""


def _open(host: str, port: int, source: str | None, tls: bool, stall: bool, timeout: float) -> _Slow:
    sock = socket.create_connection((host, port), timeout, source_address=(source, 0) if source else None)
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        sock = ctx.wrap_socket(sock)
    if not stall:  # a stalled one has connected and says nothing, not even its ClientHello
        sock.sendall(HALF)
    sock.setblocking(False)
    return _Slow(sock, source or sock.getsockname()[0])


def run(host: str, port: int, connections: int, sources: list[str], interval: float, duration: float,
        reconnect: bool, tls: bool, stall: bool, timeout: float = 5.0) -> dict:
    """`stall` implies a plain TCP connection (to a TLS port): `tls` is for dribbling inside TLS."""
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    sel = selectors.DefaultSelector()
    counter = [0]
    stats = {"opened": 0, "open_failures": 0, "closed_by_server": 0, "lifetimes_s": [], "replies": {}}
    errors: list[str] = []

    def source() -> str | None:
        counter[0] += 1
        return sources[(counter[0] - 1) % len(sources)] if sources else None

    def add() -> None:
        try:
            c = _open(host, port, source(), tls, stall, timeout)
        except OSError as e:
            stats["open_failures"] += 1
            if len(errors) < 5:
                errors.append(f"{type(e).__name__}: {e}")
            return
        stats["opened"] += 1
        sel.register(c.sock, selectors.EVENT_READ, c)

    t0 = time.monotonic()
    for _ in range(connections):
        add()
    print(json.dumps({"ready": True, "open": len(sel.get_map()), "opened": stats["opened"],
                      "open_failures": stats["open_failures"], "errors": errors,
                      "seconds": round(time.monotonic() - t0, 2)}), flush=True)
    end = time.monotonic() + duration
    next_drip = time.monotonic() + interval
    while not stop[0] and time.monotonic() < end:
        for key, _ in sel.select(max(0.0, min(next_drip, end) - time.monotonic())):
            c: _Slow = key.data
            try:
                data = c.sock.recv(4096)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                continue
            except OSError:
                data = b""
            if data:
                c.reply += data[:200]
                continue
            sel.unregister(c.sock)
            c.sock.close()
            stats["closed_by_server"] += 1
            stats["lifetimes_s"].append(round(time.monotonic() - c.opened, 2))
            head = c.reply.split(b"\r\n", 1)[0].decode("latin-1") or "(nothing)"
            stats["replies"][head] = stats["replies"].get(head, 0) + 1
            if reconnect:
                add()
        if time.monotonic() >= next_drip:
            next_drip += interval
            for key in list(sel.get_map().values()) if not stall else ():
                try:
                    key.data.sock.send(b"a")
                except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError, OSError):
                    pass  # a closed one: the read side sees the close
    still = len(sel.get_map())
    for key in list(sel.get_map().values()):
        key.data.sock.close()
    life = sorted(stats["lifetimes_s"])
    return {"ready": False, **{k: v for k, v in stats.items() if k != "lifetimes_s"}, "still_open": still,
            "lifetime_s_min": life[0] if life else None, "lifetime_s_max": life[-1] if life else None,
            "lifetime_s_median": life[len(life) // 2] if life else None, "errors": errors,
            "seconds": round(time.monotonic() - t0, 2)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="tests.bench.slowload", description=__doc__.splitlines()[0])
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--connections", type=int, default=200)
    p.add_argument("--source", action="append", default=[], help="connect from (repeatable)")
    p.add_argument("--interval", type=float, default=3.0, help="seconds between two bytes of a connection")
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--reconnect", action="store_true", help="open a closed connection again")
    p.add_argument("--tls", action="store_true", help="complete a TLS handshake, then dribble")
    p.add_argument("--tls-stall", action="store_true", help="connect to a TLS port and send nothing")
    a = p.parse_args(argv)
    if a.connections < 1 or a.interval <= 0 or a.duration <= 0:
        p.error("connections, interval and duration must be positive")
    result = run(a.host, a.port, a.connections, a.source, a.interval, a.duration, a.reconnect,
                 a.tls and not a.tls_stall, a.tls_stall)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
