"""The admin's password and the brakes on guessing it.

The password is stored as a salted scrypt hash in state_dir (flash, root only), set by
`hotspotctl passwd`. hotspotd checks it for the portal and slows down an address that keeps
failing: the portal is on the guests' LAN, so anyone there can try.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from pathlib import Path

from hotspot.safefile import STATE_DIR_MODE, own_dir, write_atomic

PASSWORD_FILE = "admin.passwd"
MIN_LENGTH, MAX_LENGTH = 8, 128
# scrypt: 16 MiB and ~50 ms on a PC per try, some tenths of a second on a router's CPU.
N, R, P = 2**14, 8, 1


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
    """Per source address: a few free tries, then a wait that doubles with each failure (up to
    `longest` seconds). Addresses are forgotten oldest first beyond `remember`, so a flood of
    addresses cannot fill the router's memory."""

    def __init__(self, free: int = 5, first: float = 1.0, longest: float = 300.0, remember: int = 1024,
                 clock=time.monotonic) -> None:
        self.free, self.first, self.longest, self.remember = free, first, longest, remember
        self.clock = clock
        self.failures: dict[str, tuple[int, float]] = {}  # ip -> (failures, time of the last)

    def wait(self, ip: str) -> float:
        """Seconds before `ip` may try again (0: now)."""
        count, last = self.failures.get(ip, (0, 0.0))
        if count < self.free:
            return 0.0
        delay = min(self.longest, self.first * 2 ** (count - self.free))
        return max(0.0, last + delay - self.clock())

    def failed(self, ip: str) -> None:
        count, _ = self.failures.pop(ip, (0, 0.0))
        self.failures[ip] = (count + 1, self.clock())
        while len(self.failures) > self.remember:
            del self.failures[next(iter(self.failures))]

    def succeeded(self, ip: str) -> None:
        self.failures.pop(ip, None)
