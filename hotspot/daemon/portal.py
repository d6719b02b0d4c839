"""The portal's web server: gunicorn with hotspot's own worker (hotspot/portal/worker.py), started
and watched by hotspotd, never running as root.

gunicorn gets a session and process group of its own and drops to `portal_user` before it runs
(the master too: nothing in the portal holds root). The kernel sends it SIGTERM if hotspotd dies,
even by kill -9, and a new hotspotd first ends any group an old one left behind, so the port is
always taken back. gunicorn itself brings back a worker that crashed; hotspotd brings back gunicorn.

One gunicorn serves both ports, plain HTTP (where the kernel sends captive clients) and HTTPS: its
worker wraps only the HTTPS port's connections in TLS, with the certificate and key hotspotd hands
over as memory files only the portal's user may read. If hotspotd cannot read them, plain HTTP is
served alone, and hotspotd tries them again (with a back-off) until HTTPS can be added.
"""

from __future__ import annotations

import ctypes
import logging
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from hotspot.core import parts
from hotspot.core.files import UnsafePath, read_trusted, write_atomic

log = logging.getLogger("hotspot")

PR_SET_PDEATHSIG = 1
PIDFILE = "portal.pid"
OLD_PIDFILES = ("tls-portal.pid",)  # the HTTPS portal's, when it was a gunicorn of its own
# The worker's word for the HTTPS port, the certificate and the key (hotspot.portal.worker reads them;
# not imported from there: hotspotd would load gunicorn)
TLS_PORT, TLS_CERT, TLS_KEY = "HOTSPOT_TLS_PORT", "HOTSPOT_TLS_CERT", "HOTSPOT_TLS_KEY"
RESTART_DELAYS = (0.5, 1, 2, 5, 10, 30)  # back-off for a gunicorn that keeps dying
# What each TLS file must hold: PEM of its kind (whether they belong together only OpenSSL can tell, in
# the portal's worker; importing ssl here would weigh on hotspotd)
PEM = {"tls_cert": (b"-----BEGIN CERTIFICATE-----", "a PEM certificate"),
       "tls_key": (b"PRIVATE KEY-----", "a PEM private key")}


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


# Run as the portal's user before gunicorn starts: the first path it cannot reach, as a line
# "kind<TAB>path<TAB>reason<TAB>the first directory on the way it may not pass (the path itself if
# none; nothing if the path is missing)".
PROBE = r"""
import os, sys
for kind, path in zip(sys.argv[1::2], sys.argv[2::2]):
    try:
        if kind == "dir":
            os.listdir(path)
        elif kind == "file":
            open(path, "rb").close()
        else:
            os.stat(path)
    except OSError as e:
        parts = path.split("/")
        dirs = ["/".join(parts[:i]) for i in range(2, len(parts))]
        closed = next((d for d in dirs if not os.access(d, os.X_OK)), path)
        print(kind, path, e.strerror, "" if isinstance(e, FileNotFoundError) else closed, sep="\t")
        break
"""


class PortalProcess:
    def __init__(self, *, user: str, binds: list[str], socket_path: str, run_dir: str,
                 threads: int = 4, connections: int = 512, tls: tuple[str, str] | None = None,
                 tls_port: int = 0, tls_binds: list[str] = ()) -> None:
        """`tls`: (certificate, key) to serve HTTPS with on `tls_binds`, whose port is `tls_port`."""
        self.user_name = user
        self.binds = binds
        self.socket_path = socket_path
        self.tls, self.tls_port, self.tls_binds = tls, tls_port, list(tls_binds)
        self.run_dir = Path(run_dir)
        self.pidfile = self.run_dir / PIDFILE
        self.threads = threads  # run the app; requests reach them only once whole
        self.connections = connections  # open at once, slow ones included (each up to 24 KiB buffered)
        self.proc: subprocess.Popen | None = None
        self.failures = 0
        self.next_start = 0.0
        self.problem: str | None = None  # why it could not start, as last logged
        self.https = False  # the running gunicorn serves HTTPS too
        self.tls_problem: str | None = None  # why it does not, as last logged
        self.tls_failures = 0
        self.next_tls_try = 0.0

    def argv(self, https: bool = False) -> list[str]:
        argv = [sys.executable, "-m", "gunicorn", "-c", "python:hotspot.portal.gunicorn_settings",
                # an event loop that reads each request whole, then threads that run the app: a slow
                # or idle guest costs a descriptor and a buffer, never a thread (hotspot.portal.worker)
                "--worker-class", "hotspot.portal.worker.PortalWorker", "--workers", "1",
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
        for b in [*self.binds, *(self.tls_binds if https else ())]:
            argv += ["--bind", b]
        return argv + ["hotspot.portal.wsgi:app"]

    def kill_leftover(self) -> None:
        """End the process groups a previous hotspotd left (it was killed before it could)."""
        for pidfile in (self.pidfile, *(self.run_dir / name for name in OLD_PIDFILES)):
            try:
                pgid = int(pidfile.read_text())
            except (FileNotFoundError, ValueError):
                continue
            try:
                os.killpg(pgid, signal.SIGKILL)
                log.info("ended the portal (process group %d) a previous hotspotd left running", pgid)
            except ProcessLookupError:
                pass
            pidfile.unlink(missing_ok=True)

    def probe(self, user: pwd.struct_passwd, env: dict) -> str | None:
        """Why the portal's user cannot start the portal (the interpreter, the code, the templates or
        hotspotd's socket out of its reach), in one line with the fix; None if it can. Asked as that
        user: only the kernel knows what it may reach."""
        import hotspot

        package = Path(hotspot.__file__).resolve().parent
        # wsgi.py, or wsgi.pyc where the package is installed as bytecode only (OpenWrt)
        app = parts.module_file("hotspot.portal.wsgi") or str(package / "portal" / "wsgi.py")
        web = Path(env["HOTSPOT_WEB"]) if env.get("HOTSPOT_WEB") else parts.web_dir()
        # Python lists the directory the package is in (an unreadable one holds no modules for it).
        paths = ["dir", str(package.parent), "dir", str(package), "file", app,
                 "dir", str(web / "templates"), "socket", self.socket_path]
        try:
            out = subprocess.run([sys.executable, "-I", "-S", "-c", PROBE, *paths], capture_output=True,
                                 text=True, timeout=30, cwd="/", stdin=subprocess.DEVNULL, env={},
                                 preexec_fn=_drop_to(user.pw_uid, user.pw_gid)).stdout
        except OSError as e:
            return (f"user {user.pw_name} cannot run {e.filename or sys.executable}: {e.strerror}; make the "
                    f"path readable (chmod o+rx on each directory) or install the package")
        except subprocess.TimeoutExpired:
            return None  # a slow machine: let gunicorn try
        if not out.strip():
            return None
        kind, path, reason, closed = out.rstrip("\n").split("\t")
        if kind == "socket":
            return (f"user {user.pw_name} cannot reach {path}: {reason}; let it pass (chmod o+x {closed}) "
                    f"or set run_dir to a directory it can pass")
        if not closed:
            return f"user {user.pw_name} cannot read {path}: {reason}; install the package"
        grant = "o+rx" if closed == path and kind == "dir" else "o+r" if closed == path else "o+x"
        return (f"user {user.pw_name} cannot read {path}: {reason}; make the path readable "
                f"(chmod {grant} {closed}) or install the package")

    def start(self) -> None:
        """Start gunicorn as the portal's user, or say once why it cannot and try again later."""
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH", "LANG", "HOTSPOT_WEB",
                                                                 "HOTSPOT_SHARE")}
        env.update(HOTSPOT_SOCKET=self.socket_path, HOME="/", PYTHONDONTWRITEBYTECODE="1")
        try:
            user = pwd.getpwnam(self.user_name)
        except KeyError:
            return self._cannot(f"no user {self.user_name} on this system: add it (an unprivileged user "
                                f"of its own) or set portal_user")
        problem = self.probe(user, env)
        if problem:
            return self._cannot(problem)
        tls = self._read_tls() if self.tls else None
        fds: list[int] = []
        try:
            for data, what in zip(tls or (), ("tls_cert", "tls_key")):
                fds.append(_memory_file(data, user, what))
        except OSError as e:
            for fd in fds:
                os.close(fd)
            return self._cannot(f"cannot hand the portal its certificate and key: {e}")
        https = bool(fds)
        if https:
            env.update({TLS_PORT: str(self.tls_port), TLS_CERT: f"/proc/self/fd/{fds[0]}",
                        TLS_KEY: f"/proc/self/fd/{fds[1]}"})
        try:
            self.proc = subprocess.Popen(self.argv(https), env=env, cwd="/", stdin=subprocess.DEVNULL,
                                         start_new_session=True, pass_fds=fds,
                                         preexec_fn=_drop_to(user.pw_uid, user.pw_gid))
        except OSError as e:
            return self._cannot(f"cannot start gunicorn: {e}")
        finally:
            for fd in fds:
                os.close(fd)
        self.problem, self.https = None, https
        write_atomic(self.pidfile, f"{self.proc.pid}\n", 0o600, keep=False)
        log.info("portal on %s%s (gunicorn pid %d, user %s)", ", ".join(self.binds),
                 f", HTTPS on {', '.join(self.tls_binds)}" if https else "", self.proc.pid, user.pw_name)

    def _read_tls(self) -> list[bytes] | None:
        """The certificate and key; None if root cannot read them safely: said once, and tried again
        later with a back-off (HTTPS then waits, plain HTTP does not)."""
        found = []
        for path, what in zip(self.tls, ("tls_cert", "tls_key")):
            mark, kind = PEM[what]
            try:
                data = read_trusted(path, what)
                if mark in data:
                    found.append(data)
                    continue
                problem = f"no HTTPS: {what} {path} is not {kind}"
            except UnsafePath as e:
                problem = f"no HTTPS: {e}"
            except OSError as e:
                problem = f"no HTTPS: cannot read {what} {path}: {e.strerror}"
            if problem != self.tls_problem:
                log.error("portal: %s", problem)
                self.tls_problem = problem
            self.next_tls_try = time.monotonic() + RESTART_DELAYS[min(self.tls_failures,
                                                                      len(RESTART_DELAYS) - 1)]
            self.tls_failures += 1
            return None
        self.tls_problem, self.tls_failures = None, 0
        return found

    def _cannot(self, problem: str) -> None:
        if problem != self.problem:
            log.error("portal: %s", problem)
            self.problem = problem
        self._later()

    def _later(self) -> None:
        delay = RESTART_DELAYS[min(self.failures, len(RESTART_DELAYS) - 1)]
        self.failures += 1
        self.next_start = time.monotonic() + delay

    def check(self) -> None:
        """Start gunicorn if it is not running: at once the first time, then with a back-off if it
        keeps exiting or cannot start."""
        if self.proc is not None:
            if self.proc.poll() is None:
                if self.tls and not self.https and time.monotonic() >= self.next_tls_try and \
                        self._read_tls() is not None:
                    log.info("portal: the certificate and key can be read now: restarting it with HTTPS")
                    self.stop()
                    self.start()
                return
            log.error("the portal exited with status %s", self.proc.returncode)
            self.proc = None
            self._later()
        if time.monotonic() >= self.next_start:
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


def _memory_file(data: bytes, user: pwd.struct_passwd, what: str) -> int:
    """A file in memory with `data` (the TLS key), that only `user` may read: gunicorn, as that user,
    opens it as /proc/self/fd/N. No copy on disk, and no directory of the portal's user in which root
    would have to write."""
    fd = os.memfd_create(f"hotspot-{what}", os.MFD_CLOEXEC)
    try:
        os.write(fd, data)
        os.fchown(fd, user.pw_uid, user.pw_gid)
        os.fchmod(fd, 0o400)
    except BaseException:
        os.close(fd)
        raise
    return fd


def remove_old_copies(run_dir: str) -> None:
    """The TLS key copies an older hotspot left for the portal's user in run_dir/tls (a directory
    that user owned): gone, without following anything in it."""
    shutil.rmtree(Path(run_dir) / "tls", ignore_errors=True)
