"""The real hotspotd and hotspotctl, run inside a lab's router namespace (tests, demo, bench)."""

from __future__ import annotations

import json
import os
import platform
import pwd
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from hotspot.config import Config, dump
from lab import Lab

# The system call hotspotd's loop waits in between two polls (select.select: pselect6), by machine.
_WAIT_SYSCALLS = {"x86_64": {"270", "23"}, "aarch64": {"72"}}


class Hotspotd:
    def __init__(self, lab: Lab, **options) -> None:
        self.lab = lab
        self.dir = Path(lab.dir) / "hotspot"
        self.dir.mkdir(exist_ok=True)
        self.dir.chmod(0o711)
        self.config = Config(
            lan_device=lab.lan_device,
            wan_device=(lab.wan_device,),
            state_dir=str(self.dir / "state"),
            run_dir=str(self.dir / "run"),
            leases_file=lab.leases_file,
            poll_interval=0.5,
            dhcp_opts_file=lab.dhcp_opts_file,
            dnsmasq_pidfile=lab.dnsmasq_pid_file,
            dnsmasq_nftset_file=None,  # never the host's /tmp/dnsmasq.d: a test gives its own
            dnsmasq_restart=None,
        ).replace(**options)
        ensure_user(self.config.portal_user)
        self.config_path = self.dir / "hotspot.conf"
        self.config_path.write_text(dump(self.config))
        self.clock_file = self.dir / "clock-offset"  # seconds added to the daemon's wall clock
        self.clock_file.write_text("0")
        self.log_path = self.dir / "hotspotd.log"
        self.proc: subprocess.Popen | None = None
        self.extra_env: dict[str, str] = {}  # more environment for hotspotd and hotspotctl
        # The interpreter hotspotd runs with: a test may take the system's, without the venv's editable
        # install of this repository (which would find the package wherever PYTHONPATH says it is).
        self.python = sys.executable
        # What runs hotspotd and hotspotctl (after the interpreter): a test of an installed copy gives
        # its scripts (openwrt/stage.py), which find the package where PYTHONPATH says, not here.
        self.daemon_argv = ["-m", "hotspot.daemon"]
        self.ctl_python, self.ctl_argv = sys.executable, ["-m", "hotspot.cli"]
        self.poll_seconds = [0.005]  # how long its polls took, as kill9_in_poll watched them

    def env(self) -> dict:
        # a failed delivery is retried after 1 s, not 30: tests wait for receivers that come back
        return {**os.environ, "HOTSPOT_CLOCK_FILE": str(self.clock_file), "HOTSPOT_RETRY_DELAY": "1",
                **self.extra_env}

    def start(self, wait: bool = True) -> Hotspotd:
        self._log_from = len(self.log())  # a restart appends: wait for this run's own lines
        with open(self.log_path, "a") as log:
            self.proc = self.lab.popen(self.lab.router, self.python, *self.daemon_argv,
                                       "-c", str(self.config_path), stdout=log, stderr=log, env=self.env())
        if wait:
            self.lab.wait_for(lambda: self._running(), 10, "hotspotd to load its table")
        return self

    def _running(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"hotspotd exited with {self.proc.returncode}: {self.log()[-2000:]}")
        return "polling every" in self.log()[self._log_from:]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)
        # a SIGKILLed daemon leaves its pid file; a new one checks the pid is gone
        self.log_mark("--- killed ---")

    def kill9_in_poll(self, rng: random.Random, skip: int = 1) -> str:
        """SIGKILL hotspotd at a random moment inside one of its next polls (see stop_in_poll); returns
        what its main thread was doing when it died."""
        doing = self.stop_in_poll(rng, skip)
        self.proc.kill()
        self.proc.wait(5)
        self.log_mark("--- killed ---")
        return doing

    def signal_in_poll(self, rng: random.Random, sig: int, skip: int = 1) -> str:
        """Send `sig` to hotspotd at a random moment inside one of its next polls, then let it go on."""
        doing = self.stop_in_poll(rng, skip)
        os.kill(self.proc.pid, sig)
        os.kill(self.proc.pid, signal.SIGCONT)
        return doing

    def stop_in_poll(self, rng: random.Random, skip: int = 1) -> str:
        """Stop hotspotd (SIGSTOP) at a random moment inside one of its next polls, not while it waits
        between two: after 0 to `skip` polls that start, a random time into the next, up to as long as
        its polls took so far; a poll that ended first is let go and the next one taken. Returns what
        the daemon's main thread was doing (/proc/PID/syscall: "running", a system call's number, or
        "-1" for user space)."""
        pid = self.proc.pid  # `ip netns exec` exec'd python: the pid is hotspotd's
        wait = _WAIT_SYSCALLS[platform.machine()]
        polls = rng.randint(0, skip)
        while True:
            waiting, began = _syscall(pid) in wait, None
            while True:  # watch the loop: a poll starts when it leaves its wait
                now, t = _syscall(pid) in wait, time.monotonic()
                if waiting and not now:
                    if polls == 0:
                        break
                    polls, began = polls - 1, t
                elif now and not waiting and began is not None:
                    self.poll_seconds.append(t - began)
                    began = None
                waiting = now
                time.sleep(0.0005)
            time.sleep(rng.uniform(0, statistics.median(self.poll_seconds[-20:])))
            os.kill(pid, signal.SIGSTOP)
            while _state(pid) != "T":
                time.sleep(0.0002)
            doing = _syscall(pid)
            if doing not in wait:
                return doing
            os.kill(pid, signal.SIGCONT)  # the poll was over: take the next one

    def log_mark(self, text: str) -> None:
        with open(self.log_path, "a") as f:
            f.write(text + "\n")

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def ctl(self, *args: str, check: bool = True, input: str = "") -> subprocess.CompletedProcess:
        """Run hotspotctl in the router namespace (`input`: its stdin)."""
        argv = ["ip", "netns", "exec", self.lab.router, self.ctl_python, *self.ctl_argv,
                "-c", str(self.config_path), *args]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=self.env(), input=input)
        if check and proc.returncode != 0:
            raise RuntimeError(f"hotspotctl {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
        return proc

    def json(self, *args: str):
        return json.loads(self.ctl("--json", *args).stdout)

    def clients(self) -> dict[str, dict]:
        return {c["mac"]: c for c in self.json("clients")}

    def client(self, mac: str) -> dict:
        return self.json("client", mac)

    def wait_client(self, mac: str, timeout: float = 5.0) -> dict:
        return self.lab.wait_for(lambda: self.clients().get(mac), timeout, f"client {mac} registered")

    def wait_polls(self, n: int = 2) -> None:
        time.sleep(self.config.poll_interval * n + 0.2)

    def table_live(self) -> bool:
        """Our table is loaded and hooked into the forward path (its hook chain comes last)."""
        return self.lab.run(self.lab.router, "nft", "list", "chain", "inet", "hotspot", "forward",
                            check=False).returncode == 0

    def portal(self, path: str = "/", *, ipv6: bool = False) -> str:
        host = f"[{self.lab.router6}]" if ipv6 else self.lab.router4
        return f"http://{host}:{self.config.portal_port}{path}"

    def wait_portal(self, client: str = "c1", timeout: float = 30) -> None:
        """Until the portal answers a client (gunicorn imports Flask: a second or two, more on a busy
        machine)."""
        tries = []

        def up() -> bool:
            t = time.monotonic()
            p = self.lab.curl(client, self.portal("/api/captive"), "-o", "/dev/null", check=False, timeout=2)
            tries.append(f"{time.monotonic() - t:.1f}s rc={p.returncode} {p.stderr.strip()[-100:]}")
            return p.returncode == 0
        try:
            self.lab.wait_for(up, timeout, "the portal to answer", interval=0.2)
        except TimeoutError as e:
            sockets = self.lab.run(self.lab.router, "ss", "-ltnp", check=False).stdout
            answer = self.lab.curl(client, self.portal("/api/captive"), "-v", check=False, timeout=3)
            raise TimeoutError(f"{e}; hotspotd's log ends:\n{self.log()[-2000:]}\nlistening:\n{sockets}\n"
                               f"curl: {answer.stderr[-300:]}\ntries: {tries[:3]} {tries[-3:]}") from None

    def portal_pids(self) -> list[int]:
        """gunicorn's processes (master and workers) in the router's namespace."""
        return self._pids("hotspot.portal.wsgi")

    def snoop_pids(self) -> list[int]:
        """The DNS snooper's process in the router's namespace."""
        return self._pids("hotspot.apps.snoop.snooper")

    def _pids(self, pattern: str) -> list[int]:
        out = self.lab.run(self.lab.router, "pgrep", "-f", pattern, check=False).stdout
        return [int(p) for p in out.split() if _in_netns(int(p), self.lab.router)]

    def nft(self, *args: str) -> str:
        return self.lab.run(self.lab.router, "nft", *args).stdout


def ensure_user(name: str) -> None:
    """The portal's own system user (hotspotd drops the portal to it), made if this machine lacks it,
    as the OpenWrt package makes it on a router: a fresh Debian has no 'hotspot' user."""
    for _ in range(20):
        try:
            pwd.getpwnam(name)
            return
        except KeyError:
            pass
        p = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                           capture_output=True, text=True)
        if p.returncode not in (0, 9, 10):  # 9: made meanwhile by another run; 10: /etc/passwd busy
            raise RuntimeError(f"cannot create the portal's user {name}: {p.stderr.strip()}")
        time.sleep(0.1 if p.returncode else 0)
    pwd.getpwnam(name)


def _syscall(pid: int) -> str:
    """The system call the process's main thread is in ("running", or "-1" in user space)."""
    with open(f"/proc/{pid}/syscall") as f:
        return f.read().split()[0]


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def _in_netns(pid: int, ns: str) -> bool:
    """pgrep sees every namespace's processes: keep those of the lab's router."""
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(f"/run/netns/{ns}").st_ino
    except OSError:
        return False
