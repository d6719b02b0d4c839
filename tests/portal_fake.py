"""An in-memory Backend with the exact dict shapes of hotspot/portal/backend.py, for tests and screenshots.

Clients are keyed by IP like hotspotd's neighbour lookup; every call is recorded in `calls` so a test can
assert what the portal asked for (or that it asked nothing).
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

from hotspot.portal.backend import BackendError, NotAClient, VoucherRefused
from hotspot.units import (
    InvalidValue,
    parse_cap,
    parse_duration,
    parse_mac,
    parse_rate_or_none,
    parse_size,
)
from hotspot.vouchers import MAX_BATCH, MAX_DEVICES, parse_code, parse_count

NOW = datetime(2026, 11, 22, 14, 30)
PERIOD_START, PERIOD_END = datetime(2026, 11, 1), datetime(2026, 12, 1)
GB, MB = 10**9, 10**6
WEEK = 7 * 86400


def iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat(timespec="seconds")


def _series(total: int, n: int, shape) -> list[int]:
    """Split `total` over n buckets with weights `shape(i)` (deterministic, nothing random)."""
    w = [max(0.0, shape(i)) for i in range(n)]
    s = sum(w) or 1.0
    out = [int(total * x / s) for x in w]
    if out:
        out[-1] += total - sum(out)
    return out


def make_client(i: int, mac: str, ip: str, hostname, used: int, cap, state="ok", reason=None,
                rate=None, admitted=True, auth="none", speed=(0, 0)) -> dict:
    up = used // 9
    days = _series(used, NOW.day, lambda d: 1 + (d * 7 % 5) + (3 if d % 6 == 5 else 0))
    today_total = days[-1]
    hours = _series(today_total, NOW.hour + 1, lambda h: 0.2 if h < 7 else 1 + (h % 5) * 0.6)
    hist = []
    for d in range(7, 0, -1):
        for h in range(24):
            t = NOW.replace(minute=0) - timedelta(days=d - 1, hours=NOW.hour - h)
            if t > NOW:
                continue
            b = int((used / NOW.day) * (0.1 if h < 7 else 1 + (h % 5) * 0.5) / 17)
            hist.append({"hour": iso(t), "up": b // 9, "down": b - b // 9})
    pace = used / ((NOW - PERIOD_START).total_seconds())
    end_bytes = int(pace * (PERIOD_END - PERIOD_START).total_seconds())
    hit = None
    if cap is not None and used < cap and end_bytes > cap:
        hit = iso(NOW + timedelta(seconds=(cap - used) / pace))
    until = iso(PERIOD_END) if reason in ("cap_block", "cap_throttle") else None
    return {
        "mac": mac, "id": i + 2, "hostname": hostname, "ips": [ip, f"fd00::{i + 10:x}"],
        "bytes_up": up, "bytes_down": used - up, "bytes_total": used, "cap": cap,
        "remaining": None if cap is None else max(0, cap - used), "rate_limit": rate,
        "state": state, "first_seen": iso(datetime(2026, 10, 3, 9, 12)), "last_seen": iso(NOW),
        "reason": reason, "until": until, "period_start": iso(PERIOD_START), "period_end": iso(PERIOD_END),
        "speed_up": speed[0], "speed_down": speed[1],
        "today": [{"hour": iso(NOW.replace(hour=h, minute=0)), "bytes": b} for h, b in enumerate(hours)],
        "days": [{"day": f"2026-11-{d + 1:02d}", "bytes": b} for d, b in enumerate(days)],
        "forecast": {"period_end_bytes": end_bytes, "cap_hit_at": hit},
        "admitted": admitted, "auth": auth, "voucher": None, "voucher_bytes": None, "voucher_used": None,
        "voucher_remaining": None, "voucher_expires": None,
        "history": hist,
    }


def make_voucher(code: str, batch: int, data, valid: int = 86400, devices: int = 1, used: int = 0,
                 devices_used: int = 0, first_used=None, revoked=None, state: str = "unused") -> dict:
    expires = None if first_used is None else iso(first_used + timedelta(seconds=valid))
    created = iso(datetime(2026, 11, 20, 9, 0) + timedelta(days=batch))
    return {"code": code, "batch": batch, "created": created,
            "bytes": data, "used": used, "remaining": None if data is None else max(0, data - used),
            "valid_seconds": valid, "devices": devices, "devices_used": devices_used,
            "first_used": iso(first_used), "expires": expires, "revoked": iso(revoked), "state": state}


def sample_vouchers() -> dict[str, dict]:
    """Vouchers by code: two batches, one voucher in each state."""
    rows = [
        make_voucher("HZ7K-Q4PM", 1, 2 * GB, WEEK, 2, 740 * MB, 1, NOW - timedelta(hours=5), state="active"),
        make_voucher("WR3N-8CXT", 1, 2 * GB, WEEK, 2, 2 * GB, 2, NOW - timedelta(days=2), state="used_up"),
        make_voucher("PT6D-MJ2A", 1, 2 * GB, WEEK, 2, 0, 0, None, NOW - timedelta(hours=1),
                     state="revoked"),
        make_voucher("KX4E-9BVL", 1, 2 * GB, WEEK, 2, 1 * GB, 0, NOW - timedelta(days=8), state="expired"),
        make_voucher("C7YF-3GUS", 2, 500 * MB, 86400, 1),
        make_voucher("N2JQ-V8HD", 2, 500 * MB, 86400, 1),
        make_voucher("=CMD-EVIL", 2, None, 3600, 1),  # a hostile code, as if written into the database
    ]
    return {v["code"]: v for v in rows}


def sample_clients(auth: str = "none") -> dict[str, dict]:
    """Clients by IP: one of each state, two with hostile DHCP hostnames."""
    rows = [
        make_client(0, "a4:5e:60:11:22:33", "10.0.0.10", "Annas-iPhone", 620 * MB, 2 * GB,
                    speed=(180_000, 2_400_000), auth=auth),
        make_client(1, "3c:22:fb:44:55:66", "10.0.0.11", "work-laptop", 2 * GB, 2 * GB, "throttled",
                    "cap_throttle", 256_000, speed=(40_000, 250_000), auth=auth),
        make_client(2, "f0:18:98:77:88:99", "10.0.0.12", "kids-tablet", 1 * GB, 1 * GB, "capped", "cap_block",
                    auth=auth),
        make_client(3, "8a:1b:2c:3d:4e:5f", "10.0.0.13", "<script>alert(1)</script>", 0, 2 * GB,
                    reason="not_admitted", admitted=False, auth=auth),
        make_client(4, "02:aa:bb:cc:dd:ee", "10.0.0.14", '"; flush ruleset', 1_850 * MB, 2 * GB, "warned",
                    "warned", speed=(20_000, 900_000), auth=auth),
        make_client(5, "5c:cf:7f:00:00:01", "10.0.0.15", None, 3_400 * MB, None, "blocked", "blocked",
                    auth=auth),
    ]
    return {r["ips"][0]: r for r in rows}


class FakeBackend:
    """Backend in memory; `password` is the admin password, `max_failures` failed logins per IP allowed."""

    def __init__(self, auth: str = "none", password: str = "correct horse", metrics_token: str | None = None,
                 portal_url: str = "http://localhost", max_failures: int = 5):
        self.by_ip = sample_clients(auth)
        self.password = password
        self.max_failures = max_failures
        self.failures: dict[str, int] = {}
        self.codes = sample_vouchers()
        self.calls: list[tuple] = []
        self._settings = {"default_cap": "2GB", "period": "monthly", "period_start": "1",
                          "after_cap": "throttle", "after_cap_rate": "256kbit", "auth": auth}
        self._portal = {"secret": "00" * 31 + "2a", "auth": auth, "portal_port": 8080, "tls": False,
                        "metrics_token": metrics_token, "venue": "Café Sunrise", "portal_url": portal_url}

    # -- helpers -----------------------------------------------------------------------------------
    def _view(self, c: dict, history: bool = False) -> dict:
        v = copy.deepcopy(c)
        if not history:
            v.pop("history", None)
        return v

    def _by_mac(self, mac: str) -> dict:
        for c in self.by_ip.values():
            if c["mac"] == mac:
                return c
        raise BackendError(f"no client {mac}")

    def _me(self, ip: str) -> dict:
        for c in self.by_ip.values():
            if ip in c["ips"]:
                return c
        raise NotAClient(f"{ip} is not a client of this hotspot")

    # -- the client's own --------------------------------------------------------------------------
    def me(self, ip: str) -> dict:
        self.calls.append(("me", ip))
        return self._view(self._me(ip))

    def captive(self, ip: str) -> dict:
        self.calls.append(("captive", ip))
        c = self._me(ip)
        return {"captive": not c["admitted"], "seconds_remaining": None if not c["admitted"] else 86400,
                "bytes_remaining": c["remaining"], "can_extend": c["auth"] == "voucher"}

    def admit(self, ip: str, voucher: str | None = None) -> dict:
        self.calls.append(("admit", ip, voucher))
        c = self._me(ip)
        if c["auth"] == "voucher" or voucher is not None:
            try:
                v = self.codes.get(parse_code(voucher))
            except InvalidValue:
                v = None
            if v is None:
                raise VoucherRefused("That voucher code is not valid.", "invalid")
            if v["state"] in ("revoked", "expired", "used_up"):
                raise VoucherRefused(f"This voucher is {v['state']}.", v["state"])
            if v["devices_used"] >= v["devices"] and c["voucher"] != v["code"]:
                raise VoucherRefused("This voucher is in use on as many devices as it allows.", "devices")
            if c["voucher"] != v["code"]:
                v["devices_used"] += 1
            if v["first_used"] is None:
                v.update(first_used=iso(NOW), expires=iso(NOW + timedelta(seconds=v["valid_seconds"])),
                         state="active")
            c.update(voucher=v["code"], voucher_bytes=v["bytes"], voucher_used=v["used"],
                     voucher_remaining=v["remaining"], voucher_expires=v["expires"])
            if v["remaining"] is not None:
                own = None if c["cap"] is None else c["cap"] - c["bytes_total"]
                c["remaining"] = v["remaining"] if own is None else min(v["remaining"], own)
            if c["reason"] in ("cap_block", "cap_throttle"):
                c["cap"] += 1 * GB
                c["remaining"] = c["cap"] - c["bytes_total"]
        c.update(admitted=True, reason=None, state="ok", rate_limit=None, until=None)
        return self._view(c)

    # -- the owner's -------------------------------------------------------------------------------
    def portal_settings(self) -> dict:
        return dict(self._portal)

    def login(self, ip: str, password: str) -> bool:
        self.calls.append(("login", ip))
        if self.failures.get(ip, 0) >= self.max_failures:
            raise BackendError("Too many failed attempts; try again in 5 minutes.")
        if password == self.password:
            self.failures.pop(ip, None)
            return True
        self.failures[ip] = self.failures.get(ip, 0) + 1
        return False

    def status(self) -> dict:
        views = list(self.by_ip.values())
        names = ("ok", "warned", "capped", "throttled", "blocked")
        states = {s: sum(v["state"] == s for v in views) for s in names}
        return {
            "daemon": {"running": True, "pid": 1234}, "kernel": {"table": True},
            "uplink": [{"device": "wwan0", "present": True}],
            "plan": {"period": "monthly", "period_start": iso(PERIOD_START), "period_end": iso(PERIOD_END),
                     "default_cap": 2 * GB, "after_cap": "throttle", "after_cap_rate": 256_000},
            "clients": len(views), "states": states,
            "bytes_up": sum(v["bytes_up"] for v in views), "bytes_down": sum(v["bytes_down"] for v in views),
            "bytes_total": sum(v["bytes_total"] for v in views), "bytes_unregistered": 12 * MB,
            "last_commit": iso(NOW - timedelta(minutes=4)),
            "speed_up": sum(v["speed_up"] for v in views), "speed_down": sum(v["speed_down"] for v in views),
        }

    def clients(self) -> list[dict]:
        self.calls.append(("clients",))
        return [self._view(c) for c in self.by_ip.values()]

    def client(self, mac: str) -> dict:
        self.calls.append(("client", mac))
        return self._view(self._by_mac(mac), history=True)

    def act(self, mac: str, action: str, value: str | None = None) -> dict:
        self.calls.append(("act", mac, action, value))
        c = self._by_mac(parse_mac(mac))
        try:
            if action == "cap":
                c["cap"] = parse_cap(value)
            elif action == "throttle":
                c["rate_limit"] = parse_rate_or_none(value)
                c["state"], c["reason"] = ("throttled", "throttle") if c["rate_limit"] else ("ok", None)
            elif action == "block":
                c["state"], c["reason"] = "blocked", "blocked"
            elif action == "unblock":
                c["state"], c["reason"] = "ok", None
            elif action == "reset":
                c.update(bytes_up=0, bytes_down=0, bytes_total=0)
            elif action == "topup":
                c["cap"] = (c["cap"] or 0) + parse_size(value)
            elif action == "rename":
                c["hostname"] = value or None
            else:
                raise BackendError(f"unknown action {action!r}")
        except InvalidValue as e:
            raise BackendError(str(e)) from None
        if c["cap"] is not None:
            c["remaining"] = max(0, c["cap"] - c["bytes_total"])
        return self._view(c)

    def settings(self) -> dict:
        return dict(self._settings)

    def set_settings(self, values: dict[str, str]) -> dict:
        self.calls.append(("set_settings", dict(values)))
        self._settings.update(values)
        return dict(self._settings)

    def vouchers(self) -> list[dict]:
        self.calls.append(("vouchers",))
        return [dict(v) for v in self.codes.values()]

    def create_vouchers(self, count, data, valid, devices) -> list[dict]:
        self.calls.append(("create_vouchers", count, data, valid, devices))
        try:
            n, size = parse_count(count, "count", MAX_BATCH), parse_cap(data or "none")
            seconds, most = parse_duration(valid), parse_count(devices, "devices", MAX_DEVICES)
        except InvalidValue as e:
            raise BackendError(str(e)) from None
        batch = max(v["batch"] for v in self.codes.values()) + 1
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
        made = []
        for i in range(n):  # deterministic codes: screenshots stay the same
            k = len(self.codes) * 7919 + i * 104729
            raw = "".join(alphabet[(k >> (5 * j)) % 32] for j in range(8))
            made.append(make_voucher(f"{raw[:4]}-{raw[4:]}", batch, size, seconds, most))
        self.codes.update({v["code"]: v for v in made})
        return [dict(v) for v in made]

    def revoke_voucher(self, code) -> dict:
        self.calls.append(("revoke_voucher", code))
        try:
            v = self.codes.get(parse_code(code))
        except InvalidValue as e:
            raise BackendError(str(e)) from None
        if v is None:
            raise BackendError(f"unknown voucher {code}")
        v.update(revoked=iso(NOW), state="revoked", devices_used=0)
        return dict(v)

    def metrics(self) -> dict:
        return {"status": self.status(), "clients": self.clients(),
                "health": {"last_poll": iso(NOW), "poll_seconds": 0.0042, "rebuilds": 3,
                           "uptime_seconds": 86400.0}}
