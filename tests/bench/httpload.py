"""An open-loop HTTP load generator, bounded, for one client namespace:

    python -m tests.bench.httpload --url URL [--url URL ...] --rate 50 --duration 10 --warmup 3 \
        [--threads 8] [--start-at EPOCH] [--phase SECONDS] [--timeout 5]

Request i is due at start + phase + i/rate (the URLs in turn), whether or not earlier ones have been
answered: the schedule never waits for the server. A latency is measured from the request's due time,
not from when a thread got round to sending it, so time spent queued (behind a slow server, or because
every thread was busy) is counted (no coordinated omission). Threads keep their connection alive
between requests. Requests due in the warm-up are sent but not reported. Bounded: exactly
rate * (warmup + duration) requests, each with a timeout; a request that could not even be sent by the
deadline counts as unsent.

Prints one JSON object: latencies (ms, per URL) of the measured requests that got a 200, errors with
samples, send lag (due time to send: the generator's own delay, when it is large the numbers are the
generator's and not the server's), and wall-clock (epoch) times so several generators' results can be
combined.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import math
import sys
import threading
import time
from urllib.parse import urlsplit


class _Conn:
    """One thread's keep-alive connection, reopened after an error or a close by the server."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.conn: http.client.HTTPConnection | None = None
        self.opened = 0

    def get(self, path: str) -> tuple[int, int]:
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self.opened += 1
            fresh = self.conn.sock is None  # not connected yet
            try:
                self.conn.request("GET", path, headers={"Accept-Encoding": "identity"})
                resp = self.conn.getresponse()
                body = resp.read()
                if resp.will_close:
                    self.close()
                return resp.status, len(body)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed an idle keep-alive connection just as we reused it: retry once on a
                # new one (a fresh connection's failure is a real error).
                self.close()
                if attempt or fresh:
                    raise
            except BaseException:
                self.close()
                raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def run(urls: list[str], rate: float, duration: float, warmup: float, threads: int, start_at: float,
        phase: float, timeout: float) -> dict:
    parts = [urlsplit(u) for u in urls]
    if len({(p.hostname, p.port) for p in parts}) != 1:
        raise SystemExit("httpload: every URL must name the same host and port")
    host, port = parts[0].hostname, parts[0].port or 80
    paths = [(p.path or "/") + (f"?{p.query}" if p.query else "") for p in parts]
    total = int(round(rate * (warmup + duration)))
    measured_from = int(round(rate * warmup))
    # Due times on the monotonic clock: start_at is wall-clock so that generators in other processes
    # share a schedule.
    t0 = time.monotonic() + (start_at - time.time()) + phase
    deadline = t0 + warmup + duration + timeout + 2
    counter = itertools.count()
    lock = threading.Lock()
    lat: dict[str, list[float]] = {u: [] for u in urls}
    errors: list[str] = []
    warmup_errors = [0]
    lags: list[float] = []
    unsent = [0]
    done_last = [0.0]
    in_flight = [0, 0]  # now, max
    body_bytes: dict[str, int] = {}
    seconds = max(1, math.ceil(duration))
    worst = [0.0] * seconds  # the slowest latency among requests due in each second of the window

    def worker() -> None:
        conn = _Conn(host, port, timeout)
        try:
            while True:
                i = next(counter)
                if i >= total:
                    return
                due = t0 + i / rate
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                sent = time.monotonic()
                if sent > deadline:
                    with lock:
                        unsent[0] += 1
                    continue
                url = urls[i % len(urls)]
                with lock:
                    in_flight[0] += 1
                    in_flight[1] = max(in_flight)
                err = None
                try:
                    status, size = conn.get(paths[i % len(paths)])
                    if status != 200:
                        err = f"HTTP {status} for {url}"
                except Exception as e:  # noqa: BLE001 - any failure is an error to report
                    err = f"{type(e).__name__}: {e} ({url})"
                end = time.monotonic()
                with lock:
                    in_flight[0] -= 1
                    if i < measured_from:
                        warmup_errors[0] += err is not None
                        continue
                    lags.append(sent - due)
                    done_last[0] = max(done_last[0], end)
                    if err:
                        errors.append(err)
                    else:
                        lat[url].append((end - due) * 1000)
                        second = min(seconds - 1, int(due - t0 - warmup))
                        worst[second] = max(worst[second], (end - due) * 1000)
                        body_bytes[url] = size
        finally:
            conn.close()

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(max(0.0, deadline + timeout + 1 - time.monotonic()))
    hung = sum(t.is_alive() for t in pool)
    wall = time.time() - time.monotonic()  # monotonic -> epoch
    with lock:
        return {
            "latencies_ms": {u: [round(x, 3) for x in v] for u, v in lat.items()},
            "ok": sum(len(v) for v in lat.values()),
            "errors": len(errors) + unsent[0],
            "error_samples": sorted(set(errors))[:5],
            "unsent": unsent[0],
            "warmup_errors": warmup_errors[0],
            "scheduled": total - measured_from,
            "rate": rate,
            "window_start": t0 + warmup + wall,  # epoch of the first measured request's due time
            "window_end": t0 + warmup + duration + wall,
            "last_done": (done_last[0] + wall) if done_last[0] else None,
            "send_lag_ms_max": round(max(lags) * 1000, 3) if lags else None,
            "send_lag_ms_p99": round(sorted(lags)[int(0.99 * (len(lags) - 1))] * 1000, 3) if lags else None,
            "worst_ms_by_second": [round(x, 1) for x in worst],
            "max_in_flight": in_flight[1],
            "threads": threads,
            "hung_threads": hung,
            "body_bytes": body_bytes,
        }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="tests.bench.httpload", description=__doc__.splitlines()[0])
    p.add_argument("--url", action="append", required=True, help="requested in turn (repeatable)")
    p.add_argument("--rate", type=float, required=True, help="requests per second, this process")
    p.add_argument("--duration", type=float, default=10, help="measured seconds (after the warm-up)")
    p.add_argument("--warmup", type=float, default=3, help="seconds of load not reported")
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--start-at", type=float, default=None, help="epoch seconds (default: now + 0.5)")
    p.add_argument("--phase", type=float, default=0.0, help="offset of this generator's schedule, s")
    p.add_argument("--timeout", type=float, default=5.0, help="per request, s")
    a = p.parse_args(argv)
    if a.rate <= 0 or a.duration <= 0 or a.threads < 1:
        p.error("rate, duration and threads must be positive")
    start_at = a.start_at if a.start_at is not None else time.time() + 0.5
    result = run(a.url, a.rate, a.duration, a.warmup, a.threads, start_at, a.phase, a.timeout)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
