"""The captive gate: who is admitted (a click, a voucher, the owner), for how long, and where a held
client's plain HTTP goes (the portal, to say why, or on its way).

Admissions live in the client's row with their end; a voucher's data is shared by its devices and
counted in a kernel quota of its own. The gate itself is a constant in each client's chain (policy).
"""

from __future__ import annotations

import logging
from datetime import datetime

from hotspot.captive.vouchers import MAX_BATCH, MAX_DEVICES, new_code, parse_code, parse_count
from hotspot.clients import policy
from hotspot.clients.keeper import NEAR_CAP, NotFound
from hotspot.core.contract import BackendError, text
from hotspot.core.contract import VoucherRefused as Refused
from hotspot.core.engine import Keeper
from hotspot.core.store import Client, Voucher
from hotspot.core.units import InvalidValue, iso, parse_cap, parse_duration
from hotspot.kernel.rules import voucher_quota_name

log = logging.getLogger("hotspot")


class VoucherRefused(ValueError):
    """A voucher that cannot admit a device; `reason` is one of policy.voucher_refusal's."""

    MESSAGES = {
        "invalid": "That voucher code is not valid.",
        "revoked": "This voucher has been revoked.",
        "expired": "This voucher has expired.",
        "used_up": "This voucher's data is used up.",
        "devices": "This voucher is already in use on as many devices as it allows.",
    }

    def __init__(self, reason: str) -> None:
        super().__init__(self.MESSAGES.get(reason, reason))
        self.reason = reason


class Captive(Keeper):
    def __init__(self, core, clients, counting) -> None:
        super().__init__(core)
        self.clients = clients
        self.counting = counting
        self._plan_http: str | None = None  # the guard's level the clients' HTTP verdicts follow


    # -- admissions ---------------------------------------------------------------------------------

    def admit_device(self, mac: str, seconds: float | None = None) -> dict:
        """Let a client use the uplink (auth click or voucher) for `seconds` (default: the config's
        session_timeout), or until it has no bytes counted for idle_timeout; hotspotd ends it."""
        now = self.core.clock()
        length = self.cfg.session_timeout if seconds is None else seconds
        if not length > 0:
            raise ValueError(f"an admission must last more than 0 seconds, not {length}")
        return self.clients.change(mac, admitted_until=now + length, admitted_at=now)

    def unadmit(self, mac: str) -> dict:
        """End a client's admission: with auth click or voucher it may reach only the router again."""
        return self.clients.change(mac, admitted_until=None, admitted_at=None)

    def expire_sessions(self) -> list[str]:
        """hotspotd's poll: end the admissions that ran out (session_timeout) or went idle (no
        bytes counted for idle_timeout); returns their MACs."""
        if self.cfg.auth == "none":
            return []
        ended = self.store.expired(self.core.clock(), self.cfg.idle_timeout)
        for mac in ended:
            self.clients.update(mac, admitted_until=None, admitted_at=None)
            log.info("client %s: session ended, back to the portal", mac)
        return ended

    # -- vouchers ----------------------------------------------------------------------------------

    def voucher_view(self, v: Voucher, objs: dict[str, int], devices: int = 0, pending: int = 0) -> dict:
        """A voucher as `hotspotctl voucher list --json` shows it; `objs`: the kernel's counters and
        quotas, `devices`: how many devices use it, `pending`: their bytes since the last poll."""
        used = v.used + pending
        if v.bytes is not None:
            used = min(v.bytes, max(used, objs.get(voucher_quota_name(v.id), 0)))
        return {
            "code": v.code,
            "batch": v.batch,
            "created": iso(v.created),
            "bytes": v.bytes,
            "used": used,
            "remaining": None if v.bytes is None else max(0, v.bytes - used),
            "valid_seconds": v.valid_seconds,
            "devices": v.devices,
            "devices_used": devices,
            "first_used": iso(v.first_used),
            "expires": iso(v.expires),
            "revoked": iso(v.revoked),
            "state": policy.voucher_state(v, self.core.clock(), used),
        }

    def list_vouchers(self, batch: int | None = None) -> list[dict]:
        objs = self.core.live_objects()
        devices, pending = {}, {}
        for c in self.store.clients():
            if c.voucher is not None:
                devices[c.voucher] = devices.get(c.voucher, 0) + 1
                pending[c.voucher] = pending.get(c.voucher, 0) + sum(self.clients.pending(objs, c))
        return [self.voucher_view(v, objs, devices.get(v.id, 0), pending.get(v.id, 0))
                for v in self.store.vouchers(batch) if not v.code.startswith("radius:")]  # RADIUS sessions'

    def voucher(self, code: str) -> dict:
        code = parse_code(code)
        for v in self.list_vouchers():
            if v["code"] == code:
                return v
        raise NotFound(f"unknown voucher {code}")

    def make_vouchers(self, count: int, data: int | None, valid: int, devices: int) -> list[dict]:
        """`count` new vouchers of one batch: `data` bytes shared by up to `devices` devices (None: no
        limit), valid for `valid` seconds from their first use."""
        if not (1 <= count <= MAX_BATCH and 1 <= devices <= MAX_DEVICES and valid > 0
                and (data is None or data > 0)):
            raise ValueError("bad voucher parameters")
        with self.core.transaction():
            codes: set[str] = set()
            while len(codes) < count:
                codes |= {new_code() for _ in range(count - len(codes))}
                codes -= self.store.codes_taken(sorted(codes))
            made = self.store.add_vouchers(sorted(codes), self.core.clock(), bytes=data, valid_seconds=valid,
                                           devices=devices)
        return [self.voucher_view(v, {}) for v in made]

    def redeem(self, mac: str, code: str) -> dict:
        """Admit a device with a voucher until the voucher expires (its validity starts at its first
        use); the device's bytes count against the voucher's data from now on, with its other
        devices'. VoucherRefused says why not."""
        try:
            code = parse_code(code)
        except InvalidValue:
            raise VoucherRefused("invalid") from None
        now = self.core.clock()
        with self.core.transaction():
            before = self.clients.find(mac)
            ours = self.core.table_is_ours()
            if ours:
                self.counting.account()  # the bytes so far belong to the voucher it had before, if any
                before = self.clients.find(mac)
            v = self.store.voucher(code)
            used = others = None
            if v is not None:
                used = v.used
                if ours and v.bytes is not None:
                    used = max(used, self.core.nft.read_quotas().get(voucher_quota_name(v.id), 0))
                others = sum(d.id != before.id for d in self.store.voucher_clients(v.id))
            why = policy.voucher_refusal(v, now, used=used, others=others or 0)
            if why:
                raise VoucherRefused(why)
            expires = v.expires
            if v.first_used is None:
                expires = now + v.valid_seconds
                self.store.update_voucher(v.id, first_used=now, expires=expires)
            # the choices its holder made on another device come with the voucher
            self.store.update(before.id, voucher=v.id, admitted_until=expires, admitted_at=now,
                              **self.store.voucher_choices(v.id))
            self.clients.apply(before, self.clients.find(mac))
            log.info("client %s: signed in with voucher %s", mac, code)
        return self.clients.detail(mac)

    def revoke(self, code: str) -> dict:
        """Revoke a voucher: its devices lose their session at once (they see the portal again)."""
        code = parse_code(code)
        with self.core.transaction():
            v = self.store.voucher(code)
            if v is None:
                raise NotFound(f"unknown voucher {code}")
            ours = self.core.table_is_ours()
            if ours:
                self.counting.account()  # the voucher keeps the bytes its devices used until now
            if v.revoked is None:
                self.store.update_voucher(v.id, revoked=self.core.clock())
            for before in self.store.voucher_clients(v.id):
                self.store.update(before.id, voucher=None, admitted_until=None, admitted_at=None)
                self.clients.apply(before, self.clients.find(before.mac))
                log.info("client %s: voucher %s revoked, back to the portal", before.mac, code)
            if ours and v.bytes is not None:
                self.core.nft.delete_quotas([voucher_quota_name(v.id)])
        return self.voucher(code)

    # -- where a held client's plain HTTP goes --------------------------------------------------------

    def refresh_portal(self) -> list[Client]:
        """hotspotd's poll: a client that used up its cap (after_cap block) has its plain HTTP sent
        to the portal, and one that no longer is has it back. Only clients near their cap, or sent
        there for their cap before, are looked at (and the devices of vouchers near the end of their
        data); the quotas are read only if there are any."""
        clients, nft = self.clients, self.core.nft
        plan_state = (clients.plan.last or {}).get("state")
        if plan_state != self._plan_http:  # the guard blocks, stops or lets go: everyone's HTTP
            self._plan_http = plan_state
            changed = clients.set_http(self.store.clients(), nft.read_quotas())
            if changed:
                log.info("plan guard %s: %d clients' plain HTTP now goes where it should", plan_state,
                         len(changed))
            return changed
        if self.cfg.after_cap != "block" and not clients.by_cap:
            return []
        near = {c.id: c for c in self.store.near_cap(NEAR_CAP)}
        near.update({c.id: c for c in self.store.near_voucher(NEAR_CAP)})
        near.update({c.id: c for c in self.store.clients_by_id(clients.by_cap - set(near))})
        if not near:
            return []
        quotas = nft.read_quotas()
        self._used_up(list(near.values()), quotas)
        changed = clients.set_http(list(near.values()), quotas)
        for c in changed:
            log.info("client %s: plain HTTP now goes %s", c.mac,
                     "to the portal" if clients.http[c.id] else "on its way")
        return changed

    def _used_up(self, clients: list[Client], quotas: dict[str, int]) -> None:
        """A voucher whose kernel quota ran out is used up in the database too: the bytes delivered
        stop short of its data by the packet the quota dropped, and a rebuilt quota, seeded with
        them, must still be used up."""
        done = set()
        for c in clients:
            if c.voucher is None or c.voucher_bytes is None or c.voucher in done:
                continue
            done.add(c.voucher)
            if c.voucher_used < c.voucher_bytes <= quotas.get(voucher_quota_name(c.voucher), 0):
                self.store.update_voucher(c.voucher, used=c.voucher_bytes)
                log.info("voucher %s: its data is used up", c.voucher_code)

    def sync_http(self) -> None:
        """Rewrite every client's plain-HTTP verdict from the database and the kernel quotas (hotspotd
        at start, when it finds the table a previous run left)."""
        if not self.core.table_is_ours():
            return
        self.clients.http.clear()
        self.clients.set_http(self.store.clients(), self.core.nft.read_quotas())

    # -- the table's part ---------------------------------------------------------------------------

    def table_options(self) -> dict:
        return {"portal_port": self.cfg.portal_port, "gate_unregistered": self.cfg.auth != "none"}

    def built_for(self, cfg) -> str:
        return f"{'gate' if cfg.auth != 'none' else 'open'}/{cfg.portal_port}"

    def client_part(self, c: Client, view: dict, seen) -> dict:
        return {"admitted": policy.admitted(c, self.cfg)}

    # -- the socket's operations ---------------------------------------------------------------------

    def captive(self, ip: str) -> dict:
        """RFC 8908's state of the device at `ip`."""
        view = self.clients.me(ip)
        captive = view["reason"] in ("not_admitted", "blocked", "paused", "cap_block", "plan_block",
                                     "plan_stop", "ask", "own_limit") or (
            view["reason"] == "voucher_used" and view["state"] == "capped")
        until = view.get("admitted_until")
        until = None if captive or until is None else datetime.fromisoformat(until).timestamp()
        return {
            "captive": captive,
            "seconds_remaining": None if until is None else max(0, int(until - self.core.clock())),
            "bytes_remaining": view["remaining"],
            "can_extend": self.cfg.auth == "voucher",
        }

    def admit(self, ip: str, voucher: str | None = None) -> dict:
        """The device at `ip` signs in: accepts the terms (click) or gives a voucher."""
        c = self.clients.at(ip)
        if self.cfg.auth == "none":
            return self.clients.me(ip)
        if self.cfg.auth == "radius":  # only the RADIUS server admits (radius_signin)
            raise Refused("Sign in with your user name and password.", "invalid")
        if voucher is not None or self.cfg.auth == "voucher":
            if not isinstance(voucher, str) or not voucher.strip():
                raise Refused("A voucher code is needed.", "invalid")
            with self.core.lock:
                try:
                    self.redeem(c.mac, voucher)
                except VoucherRefused as e:
                    raise Refused(str(e), e.reason) from None
            return self.clients.me(ip)
        with self.core.lock:
            self.admit_device(c.mac)
        return self.clients.me(ip)

    def vouchers(self) -> list[dict]:
        with self.core.lock:
            return self.list_vouchers()

    def create_vouchers(self, count, data, valid, devices) -> list[dict]:
        try:
            n = parse_count(text(count), "count", MAX_BATCH)
            size = parse_cap(text(data) or "none")
            seconds = parse_duration(text(valid))
            most = parse_count(text(devices), "devices", MAX_DEVICES)
        except InvalidValue as e:
            raise BackendError(str(e)) from None
        with self.core.lock:
            return self.make_vouchers(n, size, seconds, most)

    def revoke_voucher(self, code) -> dict:
        try:
            code = parse_code(code)
        except InvalidValue as e:
            raise BackendError(str(e)) from None
        with self.core.lock:
            try:
                return self.revoke(code)
            except NotFound as e:
                raise BackendError(str(e)) from None
