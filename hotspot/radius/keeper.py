"""Sign-in through RADIUS: the device's user name and password go to the servers (without hotspotd's
lock: an exchange takes seconds when a server is down), and what an Access-Accept grants is applied in
the kernel at once through the captive gate's own mechanisms: the session's end is the admission's, its
data limit a voucher quota of its own (a voucher no one can type: its code is not a voucher code), which
also holds its idle timeout and its rate (the client's shaper takes the lower of it and the owner's)."""

from __future__ import annotations

import logging
import secrets
import socket
import threading
from pathlib import Path

from hotspot.core.config import N_
from hotspot.core.contract import VoucherRefused as Refused
from hotspot.core.engine import Keeper
from hotspot.radius.model import Grant, calling_station, grant, request_attributes

log = logging.getLogger("hotspot")
CODE_PREFIX = "radius:"  # a RADIUS session's voucher row; parse_code refuses it, so no one can redeem it
MAX_FIELD = 253  # RADIUS' longest attribute value
EXCHANGES = 8  # sign-ins waiting on the servers at once: the socket's other requests keep their threads
REJECTED = N_("The user name or password was not accepted.")
UNREACHABLE = N_("The sign-in server does not answer; please try again later.")


class Radius(Keeper):
    def __init__(self, core, clients, counting) -> None:
        super().__init__(core)
        self.clients = clients
        self.counting = counting
        self.exchanges = threading.BoundedSemaphore(EXCHANGES)

    def _nas_ip(self, host: str, port: int) -> str:
        """This router's address towards the server (nothing is sent: a UDP connect picks the route)."""
        try:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.connect((host, port))
                return s.getsockname()[0]
        except OSError:
            return "0.0.0.0"

    def _called_station(self, nas_id: str) -> str:
        try:
            mac = Path(f"/sys/class/net/{self.cfg.lan_device}/address").read_text().strip()
        except OSError:
            return nas_id
        return f"{calling_station(mac)}:{nas_id}"

    def radius_signin(self, ip: str, username: str, password: str) -> dict:
        """The device at `ip` signs in with a user name and password the RADIUS server checks.
        VoucherRefused: "radius_reject" (the message is the server's Reply-Message), "radius_denied" (a
        reject without one) or "radius_unreachable"."""
        cfg = self.cfg
        if cfg.auth != "radius":
            raise Refused("This hotspot does not sign in with a user name.", "invalid")
        if not (isinstance(username, str) and isinstance(password, str) and username
                and len(username.encode()) <= MAX_FIELD and len(password.encode()) <= 128
                and username.isprintable() and password.isprintable()):
            raise Refused("A user name and a password of at most 128 characters are needed.", "invalid")
        c = self.clients.at(ip)
        nas_id = cfg.radius_nas_id or socket.gethostname()
        first = cfg.radius_server[0] if cfg.radius_server else None
        attrs = request_attributes(username=username, nas_id=nas_id,
                                   nas_ip=self._nas_ip(first.host, first.auth_port) if first else "0.0.0.0",
                                   called=self._called_station(nas_id), mac=c.mac, ip=ip)
        try:
            from hotspot.radius import exchange  # pyrad: only where auth is radius (not in OpenWrt's feed)
        except ImportError:
            log.error("auth radius needs pyrad (python3-pyrad), which is not installed")
            raise Refused(UNREACHABLE, "radius_unreachable") from None
        if not self.exchanges.acquire(timeout=cfg.radius_timeout):
            raise Refused(UNREACHABLE, "radius_unreachable")
        try:
            answer = exchange.authenticate(tuple(cfg.radius_server), cfg.radius_secret, password, attrs,
                                           timeout=cfg.radius_timeout, retries=cfg.radius_retries)
        except exchange.Unreachable:
            raise Refused(UNREACHABLE, "radius_unreachable") from None
        finally:
            self.exchanges.release()
        given = grant(answer.attributes)
        if not answer.accepted:
            log.info("client %s: RADIUS rejected user %r", c.mac, username[:64])
            if given.message:  # the server's own words, shown as they are
                raise Refused(given.message, "radius_reject")
            raise Refused(REJECTED, "radius_denied")
        with self.core.lock:
            self.admit(c.mac, given)
        log.info("client %s: signed in through RADIUS as %r", c.mac, username[:64])
        view = self.clients.me(ip)
        view["radius_message"] = given.message
        return view

    def admit(self, mac: str, given: Grant) -> None:
        """Admit a device with what the server granted, in one transaction and the kernel at once."""
        now = self.core.clock()
        seconds = given.session_timeout or self.cfg.session_timeout
        with self.core.transaction():
            ours = self.core.table_is_ours()
            if ours:
                self.counting.account()  # the bytes so far belong to what it had before
            before = self.clients.find(mac)
            (v,) = self.store.add_vouchers([CODE_PREFIX + secrets.token_hex(8)], now, bytes=given.total_bytes,
                                           valid_seconds=seconds, devices=1)
            self.store.update_voucher(v.id, first_used=now, expires=now + seconds,
                                      idle_seconds=given.idle_timeout, rate=given.rate_down)
            # the session's rate is its voucher row's: the owner's throttle, if lower, still holds
            self.store.update(before.id, voucher=v.id, admitted_until=now + seconds, admitted_at=now)
            self.clients.apply(before, self.clients.find(mac))
