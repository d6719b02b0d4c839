"""An in-memory Backend with the dict shapes the socket's operations declare (hotspot/contract.py and each
capability's ops.py), for tests and screenshots.

Clients are keyed by IP like hotspotd's neighbour lookup; every call is recorded in `calls` so a test can
assert what the portal asked for (or that it asked nothing). Its methods are checked against the socket's
declared operations at import (check_backend), and like hotspotd it issues the admin's session at login
and refuses an owner's operation without one (NotAdmin).
"""

from __future__ import annotations

import copy
import secrets
from datetime import datetime, timedelta

from hotspot.captive.vouchers import MAX_BATCH, MAX_DEVICES, parse_code, parse_count
from hotspot.contract import check_backend
from hotspot.core.contract import BackendError, NotAClient, NotAdmin, VoucherRefused
from hotspot.core.units import (
    InvalidValue,
    parse_cap,
    parse_duration,
    parse_mac,
    parse_rate_or_none,
    parse_size,
)

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
        "forecast": {"period_end_bytes": end_bytes, "low": int(end_bytes * 0.85),
                     "high": int(end_bytes * 1.2),
                     "cap_hit_at": hit, "cap_hit_earliest": hit, "cap_hit_latest": None},
        "after_cap": "throttle", "after_cap_rate": 256_000,
        "admitted": admitted, "auth": auth, "voucher": None, "voucher_bytes": None, "voucher_used": None,
        "voucher_remaining": None, "voucher_expires": None,
        "history": hist,
        "ghost": {"events": [], "blocked": [], "self_paused": False},
        "blocked": state == "blocked", "owner_blocked": state == "blocked", "self_paused": False,
        "apps": fake_apps(up, used - up, i),
        "update_guard": i % 2 == 0, "update_guard_choice": None,
        "update_guard_categories": ["updates", "backup"],
        "cap_base": cap,
        **fake_selfserve(cap, i),
    }


def fake_selfserve(cap, seed: int) -> dict:
    """The guest's own choices' part of a view (hotspot/selfserve/ops.py): never asked yet, a channel
    set up, and a small nightly trickle learnt from four weeks."""
    from hotspot.selfserve.asking import proposed_topup

    days = [{"day": f"2026-11-{d:02d}", "bytes": 300_000 + (d * 2_654_435_761 * (seed + 1)) % 1_500_000}
            for d in range(9, 23)]
    avg = sum(d["bytes"] for d in days[:-1]) // 13
    return {"ask": {"asked_at": None, "next_at": None, "told": True, "topup": proposed_topup(cap)},
            "trickle": {"quiet_hours": [0, 1, 2, 3, 4, 5, 6, 23], "basis": "history", "learnt_days": 28,
                        "days": days, "per_day": avg, "per_month": avg * 30}}


def fake_apps(up: int, down: int, seed: int) -> list[dict]:
    """A client's bytes per app category (hotspot.apps.usage.breakdown's shape), deterministic per seed."""
    from hotspot.apps.usage import breakdown

    shares = {"video": 0.42, "social": 0.18, "messaging": 0.05, "maps": 0.02,
              "updates": 0.08 + seed % 3 * 0.03, "backup": 0.04, "games": 0.0 if seed % 2 else 0.06}
    return breakdown({k: [int(up * v), int(down * v)] for k, v in shares.items()}, [up, down])


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
    rows[0]["ghost"]["events"] = [sample_ghost_event()]
    return {r["ips"][0]: r for r in rows}


def sample_ghost_event() -> dict:
    """A ghost-traffic event: a sudden upload at night, to a named host and a bare address."""
    start = NOW.replace(hour=3, minute=5)
    dests = [{"addr": "203.0.113.50", "name": "upload.photos-sync.example", "up": 412 * MB, "down": 3 * MB},
             {"addr": "2001:db8:5::7", "name": None, "up": 38 * MB, "down": 1 * MB}]
    return {"id": 1, "client": 2, "mac": "a4:5e:60:11:22:33", "kind": "upload", "start": iso(start),
            "end": iso(start + timedelta(minutes=47)), "fired": iso(start + timedelta(minutes=30)),
            "bytes_up": 450 * MB, "bytes_down": 4 * MB, "bytes_total": 454 * MB, "destinations": dests}


LEVELS = ("throttle", "block", "stop")


def _point(text: str, allowance: int | None) -> int | None:
    """A guard point's config text ('90%', '18GB', '') in bytes."""
    text = (text or "").strip()
    if not text or text.lower() == "none":
        return None
    if text.endswith("%"):
        return None if allowance is None else int(allowance * float(text[:-1]) / 100)
    return parse_size(text)


class FakePlan:
    """The uplink's data plan in memory: its figures follow the settings' plan_* texts, as hotspotd's."""

    def __init__(self, settings: dict, used: int = 12_400 * MB):
        self.settings = settings  # the backend's settings dict, shared: a saved form moves the plan
        self.used, self.topup, self.roaming = used, 0, False
        self.router = (48 * MB, 310 * MB)
        self.exempt = ["a4:5e:60:11:22:33"]

    @property
    def allowance(self) -> int | None:
        quota = parse_cap(self.settings["plan_quota"] or "none")
        return None if quota is None else quota + self.topup

    def limits(self) -> dict[str, int | None]:
        pre = "roaming_" if self.roaming else "plan_"
        return {lv: _point(self.settings[f"{pre}{lv}_at"] or self.settings[f"plan_{lv}_at"], self.allowance)
                for lv in LEVELS}

    def state(self) -> str:
        for lv in reversed(LEVELS):
            point = self.limits()[lv]
            if point is not None and self.used >= point:
                return lv
        return "ok"

    def alert_at(self) -> list[int]:
        return [int(x) for x in self.settings["alert_at"].replace(",", " ").split()]

    def held(self, mac: str) -> str | None:
        state = self.state()
        if state == "stop" or state in ("block", "throttle") and mac not in self.exempt:
            return state
        return None

    def left_for(self, mac: str) -> int | None:
        limits = self.limits()
        points = [limits["stop"]] + ([] if mac in self.exempt else [limits["block"]])
        points = [x for x in points if x is not None]
        return None if not points else max(0, min(points) - self.used)

    def view(self) -> dict:
        """As Hotspot.plan_view()."""
        a, limits = self.allowance, self.limits()
        pace = self.used / (NOW - PERIOD_START).total_seconds()
        end_bytes = int(pace * (PERIOD_END - PERIOD_START).total_seconds())
        runs_out = None
        if a is not None and end_bytes > a:
            runs_out = iso(NOW + timedelta(seconds=max(0, a - self.used) / pace))
        return {
            "quota": parse_cap(self.settings["plan_quota"] or "none"), "topup": self.topup, "allowance": a,
            "used": self.used, "left": None if a is None else max(0, a - self.used),
            "percent": None if not a else round(self.used * 100 / a, 1),
            "cycle": self.settings["plan_period"], "cycle_start": iso(PERIOD_START),
            "cycle_end": iso(PERIOD_END),
            "expired": False, "forecast_end_bytes": end_bytes, "runs_out_at": runs_out,
            "forecast_low": int(end_bytes * 0.85), "forecast_high": int(end_bytes * 1.2),
            "runs_out_earliest": runs_out,
            "router_bytes": sum(self.router), "router_up": self.router[0], "router_down": self.router[1],
            "roaming": self.roaming,
            "meters": {"modem": {"bytes": self.used + 1_200_000, "ours": self.used, "difference": 1_200_000}},
            "guard": {"state": self.state(), "limits": limits,
                      "throttle_rate": 1_000_000 if limits["throttle"] is not None else None,
                      "exempt": list(self.exempt)},
        }

    def status_fields(self) -> dict:
        """As status()["plan"]'s plan fields (flattened like Hotspot.status)."""
        return {f"plan_{k}" if k in ("quota", "topup", "used", "left", "percent") else k: v
                for k, v in self.view().items()}

    def for_client(self, view: dict) -> dict | None:
        """As the plan keeper's client_part: only the plan-level facts that affect this client."""
        a = self.allowance
        if not a:
            return None
        held, mac = self.held(view["mac"]), view["mac"]
        mine = ("stop",) if mac in self.exempt else LEVELS
        stricter = LEVELS[LEVELS.index(held) + 1:] if held else LEVELS
        ahead = sorted((pt, lv) for lv, pt in self.limits().items()
                       if lv in mine and lv in stricter and pt is not None and pt > self.used)
        return {"percent": round(self.used * 100 / a, 1), "guard": self.state(), "held": held,
                "left_for_you": self.left_for(mac),
                "alert_point": max((x for x in self.alert_at() if self.used * 100 >= a * x), default=None),
                "next_level": ahead[0][1] if ahead else None,
                "next_at_percent": round(ahead[0][0] * 100 / a, 1) if ahead else None,
                "cycle_end": iso(PERIOD_END), "renews": self.settings["plan_period"] != "pass"}


def sample_alerts() -> dict:
    """Alerts fired and their deliveries, as hotspotd's alerts operation: one of each status, hostile
    names."""
    def at(hours: float) -> str:
        return iso(NOW - timedelta(hours=hours))

    fired = [
        {"id": 4, "kind": "client", "subject": "02:aa:bb:cc:dd:ee", "name": '"; flush ruleset',
         "period": iso(PERIOD_START), "point": 80, "fired": at(0.5), "used": 1_610 * MB, "allowance": 2 * GB},
        {"id": 3, "kind": "plan", "subject": "plan", "name": None, "period": iso(PERIOD_START), "point": 80,
         "fired": at(26), "used": 16 * GB, "allowance": 20 * GB},
        {"id": 2, "kind": "client", "subject": "8a:1b:2c:3d:4e:5f", "name": "<script>alert(1)</script>",
         "period": iso(PERIOD_START), "point": 100, "fired": at(50), "used": 2 * GB, "allowance": 2 * GB},
        {"id": 1, "kind": "client", "subject": "f0:18:98:77:88:99", "name": "kids-tablet",
         "period": iso(PERIOD_START), "point": 80, "fired": at(75), "used": 800 * MB, "allowance": 1 * GB},
    ]

    def delivery(i, hours, channel, subject, status, attempts, error=None, receipt=None, retry=None):
        return {"id": i, "uid": f"{i:016x}", "created": at(hours), "channel": channel, "kind": "alert",
                "subject": subject, "status": status, "attempts": attempts, "last_error": error,
                "receipt": receipt, "sent_at": at(hours - 0.01) if status == "sent" else None,
                "next_try": at(-retry) if retry else None, "last_try": at(hours - 0.01)}

    deliveries = [
        delivery(6, 0.5, "email", 'hotspot: "; flush ruleset used 80% of its 2 GB cap', "pending", 3,
                 "connection refused by smtp.example.com:587", retry=0.1),
        delivery(5, 0.5, "webhook", 'hotspot: "; flush ruleset used 80% of its 2 GB cap', "sent", 1,
                 receipt="HTTP 204"),
        delivery(4, 26, "webhook", "hotspot: 80% of the data plan used, 4 GB left", "sent", 2,
                 "no answer from hooks.example.com:443 within 10 s", "HTTP 200"),
        delivery(3, 26, "sms", "hotspot: 80% of the data plan used, 4 GB left", "failed", 9,
                 "the modem refused the message: SIM busy (gave up after 9 attempts)"),
        delivery(2, 50, "webhook", "hotspot: <script>alert(1)</script> used up its 2 GB cap", "sent", 1,
                 receipt="HTTP 204"),
    ]
    channels = [{"name": "webhook", "target": "https://hooks.example.com", "ready": True},
                {"name": "email", "target": "owner@example.com", "ready": True},
                {"name": "sms", "target": "+4915112345678", "ready": False}]
    return {"alerts": fired, "deliveries": deliveries, "channels": channels}


_HISTORY: dict = {}
_INSIDE = object()  # the fake calling its own owner's operations (metrics with the bearer token)


class FakeHistoryConfig:
    history_hourly_days = 30
    history_daily_months = 13


def history_store(clients):
    """A Store in memory with 15 months of each client's usage: evenings and weekends heavier, a
    little every night, nothing on some days; compacted as hotspotd would by NOW."""
    from hotspot.core.store import Store
    from hotspot.history.usage import Compaction, UsageHistory

    store = Store(":memory:")
    end = int(NOW.timestamp()) // 3600 * 3600
    rows = []
    for c in clients:
        cid, daily = c["id"], max(c["bytes_total"], 50 * MB) / NOW.day
        for h in range(0, 460 * 24):
            t = end - h * 3600
            when = datetime.fromtimestamp(t)
            day, hour = when.toordinal(), when.hour
            if (day * 7 + cid) % 23 == 0:
                continue  # a day away
            shape = 0.03 if hour < 7 else 0.5 if hour < 18 else 1.4
            shape *= 1.5 if when.weekday() >= 5 else 1.0
            shape *= 0.6 + ((day * 31 + hour * 17 + cid * 7) % 11) / 10
            b = int(daily * shape / 14)
            rows.append((cid, t, b // 8, b - b // 8))
    store.db.executemany("INSERT INTO usage VALUES (?, ?, ?, ?)", rows)
    store.db.execute("INSERT INTO usage_plan SELECT hour, SUM(up), SUM(down) FROM usage GROUP BY hour")
    uh, state = UsageHistory(store, FakeHistoryConfig, NOW.timestamp(), PERIOD_START.timestamp()), None
    while state is None or not state.done:
        state = uh.compact(state, budget=60, limit=100_000)
    assert isinstance(state, Compaction)
    return store


class FakeBackend:
    """Backend in memory; `password` is the admin password, `max_failures` failed logins per IP allowed."""

    def __init__(self, auth: str = "none", password: str = "correct horse", metrics_token: str | None = None,
                 portal_url: str = "http://localhost", max_failures: int = 5):
        self.by_ip = sample_clients(auth)
        self.password = password
        self.max_failures = max_failures
        self.failures: dict[str, int] = {}
        self.sessions: set[str] = set()  # the admin sessions it issued
        self.luci_sessions: set[str] = set()  # the LuCI session ids rpcd would vouch for
        self.metrics_token = metrics_token
        self.codes = sample_vouchers()
        self.calls: list[tuple] = []
        self._settings = {"default_cap": "2GB", "period": "monthly", "period_start": "1",
                          "after_cap": "throttle", "after_cap_rate": "256kbit", "auth": auth,
                          "plan_quota": "20GB", "plan_period": "monthly", "plan_period_start": "1",
                          "plan_start_hour": "0", "plan_timezone": "", "plan_pass_length": "7d",
                          "plan_activated": "", "plan_throttle_at": "90%", "plan_throttle_rate": "1mbit",
                          "plan_block_at": "100%", "plan_stop_at": "", "roaming_throttle_at": "",
                          "roaming_block_at": "", "roaming_stop_at": "", "alert_at": "80 95 100"}
        self.plan_state = FakePlan(self._settings)
        self.alert_log = sample_alerts()
        self.modem: dict | None = None  # status()["modem"] once set
        self.carrier: dict | None = None  # the carrier's last reading (plan()["carrier"]) once set
        self.esim_listing: dict | None = None  # the eSIM's `esim` listing once set (None: no lpac)
        self._portal = {"cookie_key": "00" * 31 + "2a", "auth": auth, "portal_port": 8080, "tls": False,
                        "tls_port": 8443, "venue": "Café Sunrise", "portal_url": portal_url,
                        "retention": {"client_days": 90, "hourly_days": 30, "daily_months": 13}}

    # -- helpers -----------------------------------------------------------------------------------
    def _view(self, c: dict, history: bool = False) -> dict:
        v = copy.deepcopy(c)
        if not history:
            v.pop("history", None)
        return self._with_plan(v)

    def _with_plan(self, v: dict) -> dict:
        """The plan's part of a client view, as hotspotd adds it: the guard's hold (state, reason,
        remaining bounded by the plan), the alert point of its own cap, the plan's facts for it."""
        plan = self.plan_state
        held = plan.held(v["mac"])
        left = plan.left_for(v["mac"])
        if left is not None:
            v["remaining"] = left if v["remaining"] is None else min(v["remaining"], left)
        stops = held in ("block", "stop")
        free = v["reason"] not in ("blocked", "not_admitted")
        if held and free and (stops or v["state"] in ("ok", "warned")):
            v["state"] = "capped" if stops else "throttled"
            v["reason"], v["until"] = f"plan_{held}", iso(PERIOD_END)
        v["plan_guard"] = held
        alert_at = plan.alert_at()
        v["cap_alert"] = (None if not v["cap"] else
                          max((x for x in alert_at if v["bytes_total"] * 100 >= v["cap"] * x), default=None))
        v["plan"] = plan.for_client(v)
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

    def radius_signin(self, ip: str, username: str, password: str) -> dict:
        """The fake's RADIUS server knows one user, "alice" with password "alice-pw"."""
        self.calls.append(("radius_signin", ip, username))
        c = self._me(ip)
        if (username, password) != ("alice", "alice-pw"):
            raise VoucherRefused("No credit left.", "radius_reject")
        c.update(admitted=True, reason="ok")
        return {**c, "radius_message": "Welcome, alice"}

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

    def login(self, ip: str, password: str) -> str | None:
        self.calls.append(("login", ip))
        if self.failures.get(ip, 0) >= self.max_failures:
            raise BackendError("Too many failed attempts; try again in 5 minutes.")
        if password == self.password:
            self.failures.pop(ip, None)
            token = secrets.token_urlsafe(16)
            self.sessions.add(token)
            return token
        self.failures[ip] = self.failures.get(ip, 0) + 1
        return None

    def admin_from_luci(self, ip: str, sid: str) -> str | None:
        """As hotspotd, with `luci_sessions` standing for the LuCI sessions rpcd vouches for."""
        self.calls.append(("admin_from_luci", ip))
        if sid not in self.luci_sessions:
            return None
        token = secrets.token_urlsafe(16)
        self.sessions.add(token)
        return token

    def _owner(self, session) -> None:
        """As hotspotd: an owner's operation needs a session it issued."""
        if session is not _INSIDE and session not in self.sessions:
            raise NotAdmin("log in first: no admin session")

    def logout(self, *, session) -> dict:
        self._owner(session)
        ended, self.sessions = len(self.sessions), set()
        return {"ended": ended}

    def status(self, *, session) -> dict:
        self._owner(session)
        views = list(self.by_ip.values())
        names = ("ok", "warned", "capped", "throttled", "blocked")
        states = {s: sum(v["state"] == s for v in views) for s in names}
        return {
            "daemon": {"running": True, "pid": 1234}, "kernel": {"table": True},
            "uplink": [{"device": "wwan0", "present": True, "metered": True, "active": True},
                       {"device": "eth1", "present": False, "metered": False, "active": False}],
            "plan": {"period": "monthly", "period_start": iso(PERIOD_START), "period_end": iso(PERIOD_END),
                     "default_cap": 2 * GB, "after_cap": "throttle", "after_cap_rate": 256_000,
                     **self.plan_state.status_fields()},
            "clients": len(views), "states": states,
            "bytes_up": sum(v["bytes_up"] for v in views), "bytes_down": sum(v["bytes_down"] for v in views),
            "bytes_total": sum(v["bytes_total"] for v in views), "bytes_unregistered": 12 * MB,
            "last_commit": iso(NOW - timedelta(minutes=4)),
            "speed_up": sum(v["speed_up"] for v in views), "speed_down": sum(v["speed_down"] for v in views),
            **({"modem": dict(self.modem)} if self.modem is not None else {}),
        }

    def clients(self, *, session) -> list[dict]:
        self._owner(session)
        self.calls.append(("clients",))
        return [self._view(c) for c in self.by_ip.values()]

    def client(self, mac: str, *, session) -> dict:
        self._owner(session)
        self.calls.append(("client", mac))
        return self._view(self._by_mac(mac), history=True)

    def act(self, mac: str, action: str, value: str | None = None, *, session) -> dict:
        self._owner(session)
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
                c.update(blocked=True, owner_blocked=True)
            elif action == "unblock":  # the owner's block and the device's own pause
                c["state"], c["reason"] = "ok", None
                c.update(blocked=False, owner_blocked=False, self_paused=False)
                c["ghost"]["self_paused"] = False
            elif action == "reset":
                c.update(bytes_up=0, bytes_down=0, bytes_total=0)
            elif action == "topup":
                c["cap"] = (c["cap"] or 0) + parse_size(value)
            elif action == "rename":
                c["hostname"] = value or None
            elif action == "ask":
                if value == "continue":
                    c.update(asking=False, state="ok", reason=None)
                elif value == "default":
                    c.update(ask_at=None, ask_off=False)
                else:
                    point = parse_cap(value)
                    c.update(ask_at=point, ask_off=point is None)
            elif action == "guard":
                if value not in ("on", "off", "default"):
                    raise BackendError("the update guard is on, off or default")
                c["update_guard_choice"] = {"on": True, "off": False, "default": None}[value]
                c["update_guard"] = bool(c["update_guard_choice"])
            else:
                raise BackendError(f"unknown action {action!r}")
        except InvalidValue as e:
            raise BackendError(str(e)) from None
        if c["cap"] is not None:
            c["remaining"] = max(0, c["cap"] - c["bytes_total"])
        return self._view(c)

    def forget(self, mac: str, *, session) -> dict:
        self._owner(session)
        self.calls.append(("forget", mac))
        c = self._by_mac(parse_mac(mac))
        ip = next(ip for ip, v in self.by_ip.items() if v is c)
        del self.by_ip[ip]
        return {"mac": c["mac"], "id": c["id"], "forgotten": True, "bytes_total": c["bytes_total"],
                "last_seen": c["last_seen"], "rows_erased": 0}

    # -- ghost traffic ----------------------------------------------------------------------------

    def _ghost(self, c: dict, action: str, destination, by_client: bool) -> None:
        """As hotspotd: the device lifts only what it set itself (its pause, its own destinations)."""
        from hotspot.ghost.watch import parse_destination

        g = c["ghost"]
        if action in ("block", "unblock"):
            try:
                addr, name = parse_destination(destination if isinstance(destination, str) else "")
            except InvalidValue as e:
                raise BackendError(str(e)) from None
            if addr is None:
                raise BackendError(f"no address is known for {name}")
            found = [b for b in g["blocked"] if b["addr"] == addr]
            if action == "block" and not found:
                g["blocked"].append({"addr": addr, "name": None, "by": "device" if by_client else "owner"})
            elif action == "block" and not by_client:
                found[0]["by"] = "owner"
            elif action == "unblock":
                if by_client and any(b["by"] == "owner" for b in found):
                    raise BackendError(f"only the hotspot's owner can unblock {addr}")
                g["blocked"] = [b for b in g["blocked"] if b["addr"] != addr]
        elif action in ("pause", "resume"):
            if action == "resume" and by_client and not c["self_paused"]:
                raise BackendError("Only the hotspot's owner can resume this device.")
            if by_client:
                c["self_paused"] = action == "pause"
            else:
                c["owner_blocked"] = action == "pause"
                c["self_paused"] = c["self_paused"] and action == "pause"
            g["self_paused"] = c["self_paused"]
            c["blocked"] = c["owner_blocked"] or c["self_paused"]
            why = "blocked" if c["owner_blocked"] else "paused" if c["self_paused"] else None
            c["state"], c["reason"] = ("blocked", why) if why else ("ok", None)
        else:
            raise BackendError(f"unknown action {action!r}")

    def ghost_act(self, ip: str, action: str, destination: str | None = None) -> dict:
        self.calls.append(("ghost_act", ip, action, destination))
        self._ghost(self._me(ip), action, destination, True)
        return self.me(ip)

    def ghost_admin(self, mac: str, action: str, destination: str | None = None, *, session) -> dict:
        self._owner(session)
        self.calls.append(("ghost_admin", mac, action, destination))
        self._ghost(self._by_mac(parse_mac(mac)), action, destination, False)
        return self.client(mac, session=session)

    # -- a guest's own choices (hotspot/selfserve) --------------------------------------------------

    def data_off(self, ip: str, off) -> dict:
        self.calls.append(("data_off", ip, off))
        c = self._me(ip)
        if not isinstance(off, bool):
            raise BackendError("off is true or false")
        if not off and not c["self_paused"]:
            raise BackendError("This device's data was not turned off from its page; only the hotspot's "
                               "owner can let it back on.")
        self._ghost(c, "pause" if off else "resume", None, True)
        return self.me(ip)

    def ask_owner(self, ip: str) -> dict:
        self.calls.append(("ask_owner", ip))
        c = self._me(ip)
        ask = c["ask"]
        if ask["topup"] is None:
            raise BackendError("This device has no cap of its own to top up.")
        if not ask["told"]:
            raise BackendError("The hotspot's owner has set up no alert channel: ask them in person.")
        if ask["next_at"] is not None:
            raise BackendError("You asked less than an hour ago; the owner was told.")
        ask["asked_at"], ask["next_at"] = iso(NOW), iso(NOW + timedelta(hours=1))
        return self.me(ip)

    def settings(self, *, session) -> dict:
        self._owner(session)
        return dict(self._settings)

    def set_settings(self, values: dict[str, str], *, session) -> dict:
        self._owner(session)
        self.calls.append(("set_settings", dict(values)))
        self._settings.update(values)
        return dict(self._settings)

    def plan(self, *, session) -> dict:
        self._owner(session)
        self.calls.append(("plan",))
        status = self.status(session=session)
        names = {c["mac"]: c["hostname"] for c in self.by_ip.values()}
        found = {"plan": status["plan"], "uplink": status["uplink"],
                 "exempt": [{"mac": m, "name": names.get(m)} for m in self.plan_state.exempt],
                 "plans": self.plans_list()}
        active = [p for p in found["plans"] if p["active"]]
        found["plan"] = {**found["plan"], "calibrations": active[0]["calibrations"] if active else []}
        if "modem" in status:
            found["modem"] = status["modem"]
        found["carrier"] = self.carrier
        return found

    def plan_topup(self, size, *, session) -> dict:
        self._owner(session)
        self.calls.append(("plan_topup", size))
        try:
            n = parse_size(size)
        except InvalidValue as e:
            raise BackendError(str(e)) from None
        if self.plan_state.allowance is None:
            raise BackendError("the plan has no quota to top up; set one with 'hotspotctl plan set SIZE'")
        self.plan_state.topup += n
        return self.plan_state.view()

    sim_plans: list[dict] | None = None  # the SIMs' plans a test or a screenshot sets

    def plans_list(self) -> list[dict]:
        if self.sim_plans is not None:
            return self.sim_plans
        v = self.plan_state.view()
        return [{"iccid": None, "name": None, "active": True, "used": v["used"], "quota": v["quota"],
                 "topup": v["topup"], "allowance": v["allowance"], "percent": v["percent"],
                 "cycle": v["cycle"],
                 "cycle_start": v["cycle_start"], "cycle_end": v["cycle_end"], "operator": None,
                 "sim_type": None, "first_seen": None, "last_seen": None, "settings": {}, "calibrations": []}]

    def plan_set(self, sim, values, *, session) -> list[dict]:
        """As hotspotd: the plan used without a modem is the config file's."""
        self._owner(session)
        self.calls.append(("plan_set", sim, values))
        if sim == "":
            self.set_settings(values, session=session)
        return self.plans_list()

    def plan_name(self, sim, name, *, session) -> list[dict]:
        self._owner(session)
        self.calls.append(("plan_name", sim, name))
        return self.plans_list()

    def plan_calibrate(self, used, at=None, *, session) -> dict:
        self._owner(session)
        self.calls.append(("plan_calibrate", used, at))
        try:
            self.plan_state.used = parse_size(used)
        except InvalidValue as e:
            raise BackendError(str(e)) from None
        return self.plan_state.view()

    def esim(self, *, session) -> dict:
        self._owner(session)
        self.calls.append(("esim",))
        if self.esim_listing is None:
            return {"available": False, "eid": None, "profiles": [], "error": None}
        return copy.deepcopy(self.esim_listing)

    def _profile(self, iccid) -> dict:
        from hotspot.core.units import check_iccid

        try:
            iccid = check_iccid(iccid)
        except InvalidValue as e:
            raise BackendError(str(e)) from None
        found = [p for p in (self.esim_listing or {}).get("profiles", []) if p["iccid"] == iccid]
        if not found:
            raise BackendError("lpac: es10c_enable_profile: iccid or aid not found (code -1)")
        return found[0]

    def esim_enable(self, iccid, *, session) -> dict:
        self._owner(session)
        self.calls.append(("esim_enable", iccid))
        profile = self._profile(iccid)
        if profile["state"] == "enabled":
            raise BackendError("lpac: es10c_enable_profile: profile not in disabled state (code -1)")
        for p in self.esim_listing["profiles"]:
            p["state"] = "enabled" if p is profile else "disabled"
        return self.esim(session=session)

    def esim_nickname(self, iccid, name, *, session) -> dict:
        from hotspot.uplink.lpac import check_nickname

        self._owner(session)
        self.calls.append(("esim_nickname", iccid, name))
        profile = self._profile(iccid)
        try:
            profile["nickname"] = check_nickname(name)
        except InvalidValue as e:
            raise BackendError(str(e)) from None
        return self.esim(session=session)

    def alerts(self, *, session) -> dict:
        self._owner(session)
        self.calls.append(("alerts",))
        return copy.deepcopy(self.alert_log)

    def test_channel(self, channel, *, session) -> dict:
        self._owner(session)
        self.calls.append(("test_channel", channel))
        if channel == "webhook":
            return {"channel": channel, "receipt": "HTTP 204"}
        if channel == "email":
            raise BackendError("email: connection refused by smtp.example.com:587")
        raise BackendError(f"{channel}: no channel {channel!r} is configured (configured: email, webhook)")

    def vouchers(self, *, session) -> list[dict]:
        self._owner(session)
        self.calls.append(("vouchers",))
        return [dict(v) for v in self.codes.values()]

    def create_vouchers(self, count, data, valid, devices, *, session) -> list[dict]:
        self._owner(session)
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

    def revoke_voucher(self, code, *, session) -> dict:
        self._owner(session)
        self.calls.append(("revoke_voucher", code))
        try:
            v = self.codes.get(parse_code(code))
        except InvalidValue as e:
            raise BackendError(str(e)) from None
        if v is None:
            raise BackendError(f"unknown voucher {code}")
        v.update(revoked=iso(NOW), state="revoked", devices_used=0)
        return dict(v)

    def set_own_limits(self, ip: str, limit, warn, ask) -> dict:
        """hotspotd's rules (hotspot.ownlimits.model) on the fake's row; a refusal changes nothing."""
        from hotspot.ownlimits import model as own
        from hotspot.ownlimits.keeper import parse_point

        self.calls.append(("set_own_limits", ip, limit, warn, ask))
        c = self._me(ip)
        try:
            points = [parse_point(v) for v in (limit, warn, ask)]
        except InvalidValue:
            return {"refused": "invalid", "amount": None}
        owner_cap = c.get("owner_cap", c["cap"])
        why = own.check(limit=points[0], warn=points[1], ask=points[2], owner_cap=owner_cap,
                        used=c["bytes_total"])
        if why:
            return {"refused": why.reason, "amount": why.amount}
        c.update(owner_cap=owner_cap, own_limit=points[0], own_warn=points[1], own_ask=points[2],
                 cap=own.lower(owner_cap, points[0]), ask_point=points[2],
                 own_warned=own.warned(points[1], c["bytes_total"]))
        return {"refused": None, "amount": None}

    def answer_ask(self, ip: str, answer: str) -> dict:
        self.calls.append(("answer_ask", ip, answer))
        c = self._me(ip)
        if answer not in ("continue", "stop"):
            raise BackendError("the answer is continue or stop")
        if not c.get("asking"):
            return {"refused": "not_asked", "amount": None}
        c.update(asking=False, state="ok", reason=None)
        if answer == "stop":
            c.update(own_limit=c["bytes_total"], own_stopped=True, state="capped", reason="own_limit")
        return {"refused": None, "amount": None}

    def set_update_guard(self, ip: str, on: bool) -> dict:
        self.calls.append(("set_update_guard", ip, on))
        c = self._me(ip)
        c["update_guard"] = c["update_guard_choice"] = bool(on)
        return self._view(c)

    def apps(self, *, session) -> dict:
        self._owner(session)
        from hotspot.apps.usage import by_category

        self.calls.append(("apps",))
        rows = [{"mac": c["mac"], "name": c["hostname"], "update_guard": c["update_guard"],
                 "categories": c["apps"]} for c in self.by_ip.values()]
        return {"since": iso(PERIOD_START), "until": iso(NOW), "clients": rows,
                "by_category": by_category({r["mac"]: r["categories"] for r in rows})}
    # -- usage history: a real Store in memory and the real queries, over made-up usage -------------
    def _history_store(self):
        key = tuple((c["id"], c["bytes_total"]) for c in self.by_ip.values())
        if key not in _HISTORY:  # made once per set of clients: the tests only read it
            _HISTORY[key] = history_store(self.by_ip.values())
        return _HISTORY[key]

    def _history(self, cid, by, since, until) -> dict:
        from hotspot.history.usage import UsageHistory

        if by not in ("hour", "day", "month"):
            raise BackendError("by must be hour, day or month")
        try:
            return UsageHistory(self._history_store(), FakeHistoryConfig, NOW.timestamp(),
                                PERIOD_START.timestamp()).query(cid, by, since or None, until or None)
        except InvalidValue as e:
            raise BackendError(str(e)) from None

    def me_history(self, ip: str, by: str = "day", since=None, until=None) -> dict:
        self.calls.append(("me_history", ip, by, since, until))
        return self._history(self._me(ip)["id"], by, since, until)

    def history(self, subject: str, by: str = "day", since=None, until=None, *, session) -> dict:
        self._owner(session)
        self.calls.append(("history", subject, by, since, until))
        return self._history(None if subject == "plan" else self._by_mac(subject)["id"], by, since, until)

    def metrics(self, *, session=None, token=None) -> dict:
        if not (self.metrics_token and token == self.metrics_token):
            self._owner(session)
        session = _INSIDE
        return {"apps": self.apps(session=session)["clients"], "status": self.status(session=session),
                "clients": self.clients(session=session),
                "health": {"last_poll": iso(NOW), "poll_seconds": 0.0042, "rebuilds": 3,
                           "uptime_seconds": 86400.0},
                "alerts": {"fired": {"plan": 1, "client": 3},
                           "deliveries": {"pending": 1, "sent": 3, "failed": 1}},
                "plans": self.plans_list()}


check_backend(FakeBackend)  # the socket's declared operations, exactly
