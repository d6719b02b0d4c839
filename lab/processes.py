"""Running things in a lab's namespaces, and owning them until the lab closes.

Every namespace, process, mount and file a lab makes is its own: close() removes them all. The pid that
owns a lab is recorded in /run/hotspot-lab/<lab>.json before any namespace exists, so cleanup_stale() in
any process removes what a dead lab left and never touches a live lab of another process.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable

OWNERS_DIR = "/run/hotspot-lab"  # <lab>.json: the pid that owns a lab's namespaces (see cleanup_stale)
NETNS_DIR = "/run/netns"
ETC_NETNS = "/etc/netns"  # `ip netns exec NS` bind-mounts /etc/netns/NS/resolv.conf over /etc/resolv.conf
_LAB_RE = re.compile(r"^(hs[0-9a-f]{6})-")


@dataclass
class Client:
    """A client: a namespace of its own plugged into the router's LAN."""

    name: str
    ns: str
    mac: str
    port: str  # the router-side veth (a br-lan port)
    hostname: str | None
    dhcp: bool
    ipv4: str | None = None
    ipv6: str | None = None  # global SLAAC or static address
    dev: str = "eth0"
    dhcp_process: subprocess.Popen | None = field(default=None, repr=False)


class CommandError(subprocess.CalledProcessError):
    """A command in a namespace failed; str() includes its stderr."""

    def __str__(self) -> str:
        cmd = " ".join(self.cmd) if isinstance(self.cmd, (list, tuple)) else str(self.cmd)
        err = (self.stderr or self.stdout or "").strip()
        return f"command failed (exit {self.returncode}): {cmd}" + (f"\n{err}" if err else "")


class Processes:
    """The lab's namespaces, what runs in them and its directory; the base of every part of Lab."""

    name: str  # hs + 6 hex digits: every namespace's name starts with it
    dir: str  # the lab's own directory (logs, leases, tmpfs mounts), removed at close
    clients: dict[str, Client]
    _procs: list[subprocess.Popen]
    _namespaces: list[str]

    def ns(self, where: str | Client) -> str:
        """The namespace name for a Client, a client's short name, or a namespace name."""
        if not isinstance(where, str):
            return where.ns
        if where in self.clients:
            return self.clients[where].ns
        return where

    def client(self, c: str | Client) -> Client:
        return self.clients[c] if isinstance(c, str) else c

    def run(self, ns: str | Client, *argv: str, check: bool = True, timeout: float = 60,
            input: str | None = None) -> subprocess.CompletedProcess:
        """Run argv in a namespace (text mode, output captured); raise CommandError on failure."""
        cmd = ["ip", "netns", "exec", self.ns(ns), *map(str, argv)]
        p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode:
            raise CommandError(p.returncode, cmd, p.stdout, p.stderr)
        return p

    def popen(self, ns: str | Client, *argv: str, **kw: Any) -> subprocess.Popen:
        """Start argv in a namespace; the process is killed at teardown if it is still running."""
        p = subprocess.Popen(["ip", "netns", "exec", self.ns(ns), *map(str, argv)], **kw)
        self._procs.append(p)
        return p

    def nft(self, ns: str | Client, rules: str) -> None:
        self.run(ns, "nft", "-f", "-", input=rules)

    @staticmethod
    def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
        """Poll predicate until it returns something truthy (which is returned); TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
            time.sleep(interval)

    def tmpfs(self, name: str, size: str) -> str:
        """A small RAM disk of its own (`size` as mount takes it: "256k") in the lab's directory, as a
        router's flash or /var/run that can fill up; unmounted at teardown. Returns its path."""
        path = os.path.join(self.dir, name)
        os.makedirs(path)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0711", "tmpfs", path],
                       check=True, capture_output=True)
        return path

    def _log(self, name: str) -> str:
        """The end of a log file in the lab's directory, for an error message."""
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    # ---- ownership ---------------------------------------------------------------------------------

    def _claim(self) -> None:
        """Make the lab's directory and record this process as the lab's owner."""
        os.makedirs(OWNERS_DIR, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix=f"{self.name}-")
        os.chmod(self.dir, 0o711)  # the portal's unprivileged user passes through to hotspotd's socket
        # Written (atomically) before any namespace exists, so cleanup_stale() in another process never
        # mistakes a live lab for litter.
        owner = os.path.join(OWNERS_DIR, f"{self.name}.json")
        with open(owner + ".tmp", "w") as f:
            json.dump({"pid": os.getpid(), "start": _start_time(os.getpid()), "dir": self.dir}, f)
        os.replace(owner + ".tmp", owner)

    def _own_ns(self, ns: str, *sysctls: str) -> None:
        """Create a namespace the lab owns (deleted at close), set its sysctls and bring up its lo."""
        subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True)
        self._namespaces.append(ns)
        self.run(ns, "sh", "-c", 'sysctl -qw "$@" && ip link set lo up', "-", *sysctls)

    def _release(self) -> None:
        """Remove everything the lab owns: processes, namespaces (and so their veths), mounts, files."""
        stop_processes([p for p in self._procs if p.poll() is None])
        for ns in reversed(self._namespaces):
            _delete_ns(ns)
        if self.dir:
            _unmount_under(self.dir)
            shutil.rmtree(self.dir, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(OWNERS_DIR, f"{self.name}.json"))


# ---- processes ---------------------------------------------------------------------------------------


def stop_processes(procs: list[subprocess.Popen], grace: float = 3) -> None:
    """SIGTERM, and SIGKILL for those still running after `grace` seconds."""
    for p in procs:
        with contextlib.suppress(ProcessLookupError):
            p.terminate()
    deadline = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _start_time(pid: int) -> int | None:
    """A process's start time (clock ticks since boot), to tell it from a later process with the same pid."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _proc_lines(pid: int, comm: str, table: str) -> list[list[str]]:
    """Rows of /proc/PID/net/TABLE, i.e. of the namespace PID is in, once PID has exec'd `comm`."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            if f.read().strip() != comm:
                return []  # still `ip netns exec`, not yet in the namespace
        with open(f"/proc/{pid}/net/{table}") as f:
            return [line.split() for line in f.readlines()[1:]]
    except OSError:
        return []


def tcp_listening(pid: int, comm: str, port: int) -> bool:
    """The process (once it runs `comm`) is in a namespace where a TCP socket listens on `port`."""
    return any(row[1].endswith(f":{port:04X}") and row[3] == "0A"
               for t in ("tcp", "tcp6") for row in _proc_lines(pid, comm, t))


def udp_bound(pid: int, comm: str, port: int) -> bool:
    """The process (once it runs `comm`) is in a namespace where a UDP socket is bound to `port`."""
    return any(row[1].endswith(f":{port:04X}") for row in _proc_lines(pid, comm, "udp"))


# ---- namespaces and what dead labs left ----------------------------------------------------------------


def _unmount_under(path: str) -> None:
    """Unmount what a lab mounted in its directory (Lab.tmpfs), deepest first."""
    prefix = os.path.realpath(path) + "/"
    with open("/proc/self/mounts") as f:
        points = [line.split()[1] for line in f]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)


def _delete_ns(ns: str) -> None:
    """Kill whatever still runs in ns (untracked processes), delete it and its /etc/netns directory."""
    out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout
    for pid in out.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    subprocess.run(["ip", "netns", "delete", ns], capture_output=True)
    shutil.rmtree(os.path.join(ETC_NETNS, ns), ignore_errors=True)


def _owner_alive(lab: str) -> bool:
    try:
        with open(os.path.join(OWNERS_DIR, f"{lab}.json")) as f:
            owner = json.load(f)
    except (OSError, ValueError):
        return False
    return owner.get("start") is not None and _start_time(owner["pid"]) == owner["start"]


def cleanup_stale() -> list[str]:
    """Remove namespaces (and files) left by labs whose process is gone; return the namespaces removed.

    Only names of the lab pattern (hs + 6 hex digits + '-') are considered, and a lab counts as stale only
    when the process recorded in /run/hotspot-lab/<lab>.json no longer exists, so live labs of other
    processes (e.g. a concurrent test run) are left alone.
    """
    removed = []
    names = os.listdir(NETNS_DIR) if os.path.isdir(NETNS_DIR) else []
    names += os.listdir(ETC_NETNS) if os.path.isdir(ETC_NETNS) else []
    for ns in sorted(set(names)):
        m = _LAB_RE.match(ns)
        if m and not _owner_alive(m.group(1)):
            if os.path.exists(os.path.join(NETNS_DIR, ns)):
                removed.append(ns)
            _delete_ns(ns)
    for entry in os.listdir(OWNERS_DIR) if os.path.isdir(OWNERS_DIR) else []:
        lab = entry[: -len(".json")]
        if entry.endswith(".json") and _LAB_RE.match(lab + "-") and not _owner_alive(lab):
            with contextlib.suppress(OSError, ValueError), open(os.path.join(OWNERS_DIR, entry)) as f:
                d = json.load(f).get("dir")
                if d and os.path.basename(d).startswith(f"{lab}-"):
                    _unmount_under(d)
                    shutil.rmtree(d, ignore_errors=True)
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(OWNERS_DIR, entry))
    return removed
