"""The owner's credential, held by hotspotd alone: the password is checked here (one hash at a time,
each try counted first), and every owner's operation carries a session issued here (hotspot/admin/auth.py
has the hash, the sessions and the brakes on guessing)."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path

from hotspot.admin import auth, luci
from hotspot.core.contract import BackendError
from hotspot.core.engine import Keeper
from hotspot.kernel.neighbours import mac_of


class Admin(Keeper):
    def __init__(self, core) -> None:
        super().__init__(core)
        self.limiter = auth.LoginLimiter()
        self.sessions = auth.Sessions(core.cfg.state_dir)
        self._hashing = threading.Lock()  # one scrypt (16 MiB) at a time, however many try at once
        # Signs the portal's cookies (CSRF tokens, language): made here, in memory, so every portal
        # worker (and one gunicorn brings back) shares it while hotspotd runs. It makes no one admin.
        self.cookie_key = secrets.token_hex(32)
        self.ask_rpcd = luci.may_admin  # (sid, ubus socket) -> does rpcd vouch for the LuCI session?

    def start(self) -> None:
        (Path(self.cfg.state_dir) / "portal.key").unlink(missing_ok=True)  # an old fixed key, gone

    # -- the socket's operations ------------------------------------------------------------------------

    def login(self, ip, password) -> str | None:
        """A new session's token for the right password, None for a wrong one. The try is counted
        before the hash is computed, for the device's address, MAC and /64 and for everyone, and only
        one hash is computed at a time."""
        if not isinstance(ip, str) or not isinstance(password, str) or len(password) > auth.MAX_LENGTH:
            return None
        stored = auth.stored_hash(self.cfg.state_dir)
        if stored is None:
            raise BackendError("no admin password is set: run 'hotspotctl passwd' on the router")
        keys = auth.login_keys(ip, mac_of(ip, self.cfg.lan_device))
        wait = self.limiter.attempt(keys)
        if wait > 0:
            raise BackendError(f"too many failed logins; try again in {max(1, round(wait))} s")
        if not self._hashing.acquire(timeout=auth.HASH_WAIT):
            raise BackendError("hotspotd is busy checking other logins; try again in a few seconds")
        try:
            right = auth.verify_password(password, stored)
        finally:
            self._hashing.release()
        if not right:
            return None
        self.limiter.succeeded(keys)
        return self.sessions.issue(stored)

    def admin_from_luci(self, ip, sid) -> str | None:
        """A new session's token when rpcd says the LuCI session `sid` may write luci-app-hotspot's
        ACL group; None for any other answer. Counted against the device like a login's try, so
        guessing ids is braked as guessing passwords is (an id has 128 random bits in any case)."""
        if not isinstance(ip, str) or not luci.valid_sid(sid):
            return None
        keys = auth.login_keys(ip, mac_of(ip, self.cfg.lan_device))
        wait = self.limiter.attempt(keys)
        if wait > 0:
            raise BackendError(f"too many failed logins; try again in {max(1, round(wait))} s")
        if not self.ask_rpcd(sid, self.cfg.ubus_socket):
            return None
        self.limiter.succeeded(keys)
        return self.sessions.issue(auth.stored_hash(self.cfg.state_dir))

    def logout(self) -> dict:
        """The admin logs out: every session ends (a copy of a cookie is worth nothing after)."""
        return {"ended": self.sessions.end_all()}

    def end_sessions(self) -> dict:
        """Root's (hotspotctl passwd): every session ends now rather than at its next check."""
        return {"ended": self.sessions.end_all()}

    # -- for the socket server: who may call an owner's operation ----------------------------------------

    def session_valid(self, token) -> bool:
        """Is `token` an admin session hotspotd issued and still open?"""
        return self.sessions.valid(token)

    def token_valid(self, token) -> bool:
        """Is `token` the metrics bearer token of the config?"""
        want = self.cfg.metrics_token
        return bool(want) and isinstance(token, str) and secrets.compare_digest(token.encode(), want.encode())
