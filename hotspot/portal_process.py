"""The portal's web server: gunicorn with hotspot's own worker (hotspot/portal_worker.py), started
and watched by hotspotd, never running as root.

gunicorn gets a session and process group of its own and drops to `portal_user` before it runs
(the master too: nothing in the portal holds root). The kernel sends it SIGTERM if hotspotd dies,
even by kill -9, and a new hotspotd first ends any group an old one left behind, so the port is
always taken back. gunicorn itself brings back a worker that crashed; hotspotd brings back gunicorn.
"""

from __future__ import annotations

import ctypes
import logging
import os
import pwd
import signal
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger("hotspot")

PR_SET_PDEATHSIG = 1
PIDFILE = "portal.pid"
RESTART_DELAYS = (0.5, 1, 2, 5, 10, 30)  # back-off for a gunicorn that keeps dying


def _drop_to(uid: int, gid: int):
    libc = ctypes.CDLL(None, use_errno=True)

    parent = os.getpid()

    def preexec() -> None:  # in the child, between fork and exec
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        # After the switch of user: changing credentials clears the parent-death signal.
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # hotspotd died before prctl took effect
            os._exit(1)

    return preexec


def bind_addresses(addresses: list[str], port: int) -> list[str]:
    return [f"[{a}]:{port}" if ":" in a else f"{a}:{port}" for a in addresses]


class PortalProcess:
    def __init__(self, *, user: str, binds: list[str], socket_path: str, run_dir: str,
                 threads: int = 4, connections: int = 512, tls: tuple[str, str] | None = None) -> None:
        """`tls`: (certificate, key) to serve HTTPS with: a second gunicorn, as one cannot serve
        plain HTTP (where the kernel sends captive clients) and HTTPS side by side."""
        self.user = pwd.getpwnam(user)
        self.binds = binds
        self.socket_path = socket_path
        self.tls = tls
        self.pidfile = Path(run_dir) / (f"tls-{PIDFILE}" if tls else PIDFILE)
        self.threads = threads  # run the app; requests reach them only once whole
        self.connections = connections  # open at once, slow ones included (each up to 24 KiB buffered)
        self.proc: subprocess.Popen | None = None
        self.failures = 0
        self.next_start = 0.0

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "gunicorn", "-c", "python:hotspot.portal_gunicorn",
                # an event loop that reads each request whole, then threads that run the app: a slow
                # or idle guest costs a descriptor and a buffer, never a thread (hotspot.portal_worker)
                "--worker-class", "hotspot.portal_worker.PortalWorker", "--workers", "1",
                "--threads", str(self.threads), "--worker-connections", str(self.connections),
                "--graceful-timeout", "3", "--timeout", "30",
                # No keep-alive: a connection the kernel redirected here (a captive client's request
                # for another site) must not be reused once the client is admitted, or the browser
                # would keep talking to the portal in that site's name. On a LAN a connection is cheap.
                "--keep-alive", "0",
                # never take a client's address from a header: the TCP peer is the client
                "--forwarded-allow-ips", "", "--proxy-allow-from", "",
                "--limit-request-line", "4094", "--limit-request-fields", "50",
                "--worker-tmp-dir", "/dev/shm" if os.path.isdir("/dev/shm") else "/tmp",
                "--log-level", "warning"]
        for b in self.binds:
            argv += ["--bind", b]
        if self.tls:
            argv += ["--certfile", self.tls[0], "--keyfile", self.tls[1]]
        return argv + ["hotspot.portal.wsgi:app"]

    def kill_leftover(self) -> None:
        """End the process group a previous hotspotd left (it was killed before it could)."""
        try:
            pgid = int(self.pidfile.read_text())
        except (FileNotFoundError, ValueError):
            return
        try:
            os.killpg(pgid, signal.SIGKILL)
            log.info("ended the portal (process group %d) a previous hotspotd left running", pgid)
        except ProcessLookupError:
            pass
        self.pidfile.unlink(missing_ok=True)

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH", "LANG", "HOTSPOT_WEB")}
        env.update(HOTSPOT_SOCKET=self.socket_path, HOME="/", PYTHONDONTWRITEBYTECODE="1",
                   HOTSPOT_TLS="1" if self.tls else "0")
        self.proc = subprocess.Popen(self.argv(), env=env, cwd="/", stdin=subprocess.DEVNULL,
                                     start_new_session=True,
                                     preexec_fn=_drop_to(self.user.pw_uid, self.user.pw_gid))
        self.pidfile.write_text(f"{self.proc.pid}\n")
        log.info("portal on %s%s (gunicorn pid %d, user %s)", ", ".join(self.binds),
                 " (HTTPS)" if self.tls else "", self.proc.pid, self.user.pw_name)

    def check(self) -> None:
        """Start gunicorn again if it exited (with a back-off if it keeps exiting)."""
        if self.proc is None or self.proc.poll() is None:
            return
        now = time.monotonic()
        if not self.next_start:
            log.error("the portal exited with status %s", self.proc.returncode)
            delay = RESTART_DELAYS[min(self.failures, len(RESTART_DELAYS) - 1)]
            self.failures += 1
            self.next_start = now + delay
        if now >= self.next_start:
            self.next_start = 0.0
            self.start()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        self.pidfile.unlink(missing_ok=True)
        self.proc = None


def private_copy(files: list[str], run_dir: str, user: str) -> list[str]:
    """Copies of root-only files (the TLS key) that only the portal's user may read, in run_dir:
    gunicorn's worker reads them after it dropped root."""
    pw = pwd.getpwnam(user)
    target = Path(run_dir) / "tls"
    target.mkdir(mode=0o700, exist_ok=True)
    os.chown(target, pw.pw_uid, pw.pw_gid)
    copies = []
    for f in files:
        dest = target / Path(f).name
        data = Path(f).read_bytes()
        dest.unlink(missing_ok=True)
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chown(dest, pw.pw_uid, pw.pw_gid)
        copies.append(str(dest))
    return copies
