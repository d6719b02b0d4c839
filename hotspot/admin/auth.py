"""The admin's password and the brakes on guessing it.

The password is stored as a salted scrypt hash in state_dir (flash, root only), set by
`hotspotctl passwd`. hotspotd checks it for the portal, one hash at a time, slows down a device that
keeps failing (the portal is on the guests' LAN, so anyone there can try) and issues the sessions every
owner's operation must carry.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from pathlib import Path

from hotspot.core.files import STATE_DIR_MODE, own_dir, write_atomic

PASSWORD_FILE = "admin.passwd"
MIN_LENGTH, MAX_LENGTH = 8, 128
# scrypt: 16 MiB and ~50 ms on a PC per try, some tenths of a second on a router's CPU.
N, R, P = 2**14, 8, 1
HASH_WAIT = 5.0  # seconds a login waits for the one hash computed at a time before it is refused


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"scrypt${N}${R}${P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.strip().split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(digest) // 2, maxmem=64 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def check_new_password(password: str) -> str | None:
    """Why `password` cannot be the admin password, or None if it can."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        return f"the password must have {MIN_LENGTH} to {MAX_LENGTH} characters"
    if not password.isprintable():
        return "the password must be printable characters only"
    return None


def set_password(state_dir: str, password: str) -> None:
    """Store the hash atomically, readable by root only."""
    own_dir(state_dir, STATE_DIR_MODE, "state_dir")
    write_atomic(Path(state_dir) / PASSWORD_FILE, hash_password(password) + "\n", 0o600, keep=False)


def stored_hash(state_dir: str) -> str | None:
    try:
        return (Path(state_dir) / PASSWORD_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None


class LoginLimiter:
    """Failed logins per key (an address, a device's MAC, an IPv6 /64): a few free tries, then a wait
    that doubles with each failure (up to `longest` seconds); and the same over all keys, with more
    free tries (`everyone`), so that many addresses or forged MACs together are slowed as well. A key
    is forgotten `forget` seconds after its last failure, and the oldest beyond `remember`, so a flood
    of addresses cannot fill the router's memory. `attempt` checks and counts in one step under a lock:
    tries that arrive together cannot all pass the check before any is counted."""

    def __init__(self, free: int = 5, first: float = 1.0, longest: float = 300.0, remember: int = 1024,
                 everyone: int = 50, forget: float = 3600.0, clock=time.monotonic) -> None:
        self.free, self.first, self.longest, self.remember = free, first, longest, remember
        self.everyone, self.forget = everyone, forget
        self.clock = clock
        self.failures: dict[str, tuple[int, float]] = {}  # key -> (failures, time of the last)
        self.all: tuple[int, float] = (0, 0.0)  # every key's failures together
        self._lock = threading.Lock()

    def _wait(self, record: tuple[int, float], free: int) -> float:
        count, last = record
        if count < free or self.clock() - last > self.forget:
            return 0.0
        delay = min(self.longest, self.first * 2 ** (count - free))
        return max(0.0, last + delay - self.clock())

    def wait(self, key: str) -> float:
        """Seconds before `key` may try again (0: now), by its own failures."""
        return self._wait(self.failures.get(key, (0, 0.0)), self.free)

    def failed(self, key: str) -> None:
        count, last = self.failures.pop(key, (0, 0.0))
        now = self.clock()
        self.failures[key] = (1 if now - last > self.forget else count + 1, now)
        while len(self.failures) > self.remember:
            del self.failures[next(iter(self.failures))]

    def attempt(self, keys: list[str]) -> float:
        """One login try by a device named by `keys`: the seconds it must wait (and nothing counted),
        or 0 and the try counted as a failure until `succeeded` says otherwise."""
        with self._lock:
            wait = max([self.wait(k) for k in keys] + [self._wait(self.all, self.everyone)])
            if wait > 0:
                return wait
            for k in keys:
                self.failed(k)
            count, last = self.all
            now = self.clock()
            self.all = (1 if now - last > self.forget else count + 1, now)
            return 0.0

    def succeeded(self, *keys: str | list[str]) -> None:
        """The right password: the device's failures are forgiven, and its try no longer counts."""
        flat = [k for group in keys for k in ([group] if isinstance(group, str) else group)]
        with self._lock:
            for k in flat:
                self.failures.pop(k, None)
            self.all = (max(0, self.all[0] - 1), self.all[1])


def login_keys(ip: str, mac: str | None) -> list[str]:
    """What names the device trying to log in: its address, its MAC (the neighbour table's: the
    same device by any of its addresses) and, for IPv6, its /64 (a device may take any address in it)."""
    keys = [f"ip {ip}"]
    if mac:
        keys.append(f"mac {mac}")
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return keys
    if addr.version == 6 and not addr.ipv4_mapped:
        keys.append(f"net {ipaddress.ip_network(f'{addr}/64', strict=False)}")
    return keys


class Sessions:
    """The admin's sessions, in hotspotd's memory only: a session is a random token the portal keeps in
    the admin's cookie and sends with every owner's operation; hotspotd holds only its SHA-256. A session
    ends after `idle` seconds unused or `longest` after the login, when the admin logs out (every session
    ends), and when the password changes: each session remembers the password hash it was opened under,
    read again from state_dir at every check, so `hotspotctl passwd` (another process) ends them all at
    once. At most `most` sessions are kept (the oldest ends first)."""

    def __init__(self, state_dir: str, *, idle: float = 12 * 3600, longest: float = 7 * 86400, most: int = 64,
                 clock=time.monotonic) -> None:
        self.state_dir, self.idle, self.longest, self.most, self.clock = state_dir, idle, longest, most, clock
        self._open: dict[str, tuple[float, float, str]] = {}  # sha256(token) -> (opened, last used, password)
        self._lock = threading.Lock()

    @staticmethod
    def _digest(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    def issue(self, stored: str | None) -> str:
        """A new session under the password hash `stored` (the one just checked; None when no password
        is set, for a session rpcd vouched for): setting or changing the password ends it. Its token."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self._lock:
            self._open[self._digest(token)] = (now, now, self._digest(stored or ""))
            while len(self._open) > self.most:
                del self._open[next(iter(self._open))]
        return token

    def valid(self, token) -> bool:
        """Is `token` an open session? Using it keeps it from idling out."""
        if not isinstance(token, str) or not token:
            return False
        key, now = self._digest(token), self.clock()
        stored = stored_hash(self.state_dir)
        with self._lock:
            found = self._open.get(key)
            if found is None:
                return False
            opened, used, under = found
            if (now - used > self.idle or now - opened > self.longest
                    or not hmac.compare_digest(under, self._digest(stored or ""))):
                del self._open[key]
                return False
            self._open[key] = (opened, now, under)
            return True

    def end_all(self) -> int:
        """End every session (logout, a new password); how many were open."""
        with self._lock:
            n = len(self._open)
            self._open.clear()
            return n
