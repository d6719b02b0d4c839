"""The house: the core and every capability's keeper, built in order and wired to each other.

This is the one place that knows every capability. It builds the core, then each keeper with the core
and the keepers it needs; it gathers what each contributes to the whole (its part of the kernel table,
of a client's page, of what a forgotten device erases, of hotspotd's poll, of the socket's operations);
and it composes what belongs to no one capability (status, the settings, the portal's settings).
A keeper never sees the house: it gets the core and the keepers it names.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, NamedTuple

from hotspot.admin.keeper import Admin
from hotspot.alerts.keeper import Alerts
from hotspot.apps.keeper import Apps
from hotspot.captive.keeper import Captive
from hotspot.clients import policy
from hotspot.clients.counting import Counting
from hotspot.clients.discovery import Discovery
from hotspot.clients.forgetting import Forgetting
from hotspot.clients.keeper import Clients
from hotspot.core import parts
from hotspot.core.clock import default_clock
from hotspot.core.engine import Core
from hotspot.core.units import iso
from hotspot.ghost.keeper import Ghost
from hotspot.history.keeper import History
from hotspot.kernel.nft import Nft
from hotspot.kernel.rules import Marks
from hotspot.ownlimits.keeper import OwnLimits
from hotspot.plan.keeper import PlanKeeper, guard_of
from hotspot.uplink.keeper import Uplink

log = logging.getLogger("hotspot")


class Step(NamedTuple):
    """One step of hotspotd's poll: `run()` returns True when what it did must go to flash at once."""

    name: str
    run: Callable[[], object]
    commit: bool = False


def _kernel(cfg) -> Nft:
    return Nft(Marks(cfg.ct_mark_mask), guard=guard_of(cfg))


class House:
    def __init__(self, cfg, *, clock=default_clock, nft: Nft | None = None) -> None:
        self.core = core = Core(cfg, clock=clock, nft=nft, kernel=_kernel, built_for=self.built_for)
        self.plan = PlanKeeper(core)
        self.clients = Clients(core, self.plan)
        self.counting = Counting(core, self.clients, self.plan, table_options=self.table_options,
                                 built=self.table_built)
        self.plan.counting = self.clients.counting = self.counting
        self.forgetting = self.counting.forgetting = Forgetting(core, self.clients, self.counting,
                                                                 erasers=self.erasers)
        self.discovery = Discovery(core, self.counting, self.forgetting, forgotten=self.forgotten)
        self.captive = Captive(core, self.clients, self.counting)
        self.history = History(core, self.clients, self.plan)
        self.uplink = Uplink(core, self.plan)
        self.alerts = Alerts(core, self.clients, self.plan, send_sms=self.uplink.send_sms,
                             modem=self.uplink.modem)
        self.ghost = Ghost(core, self.clients, self.counting, self.alerts)
        self.apps = Apps(core, self.clients)
        self.admin = Admin(core)
        self.ownlimits = OwnLimits(core, self.clients)
        # a client's page: each capability's part of it, in this order
        self.clients.parts = [self.captive.client_part, self.plan.client_part, self.alerts.client_part,
                              self.ghost.client_part, self.apps.client_part]
        self.last_poll = time.time()  # when the kernel's bytes were last moved into the database
        # what hotspotd knows that the house does not (set by hotspotd)
        self.health: Callable[[], dict] = dict
        self.portal_url: Callable[[], str | None] = lambda: None
        self.portal_hosts: Callable[[], list[str]] = list
        self.on_config: Callable[[object], None] = lambda cfg: None

    # -- the core's parts ----------------------------------------------------------------------------

    @property
    def cfg(self):
        return self.core.cfg

    @cfg.setter
    def cfg(self, cfg) -> None:
        """New settings for what follows, nothing moved (set_config moves the kernel to them)."""
        self.core.cfg = cfg

    @property
    def store(self):
        return self.core.store

    @property
    def clock(self):
        return self.core.clock

    @clock.setter
    def clock(self, clock) -> None:
        self.core.clock = clock

    @property
    def nft(self) -> Nft:
        return self.core.nft

    def close(self) -> None:
        self.alerts.close()
        self.core.close()

    def teardown(self) -> bool:
        """Remove the kernel table and our tc classes (counting and enforcement stop)."""
        self.core.tc.teardown()
        return self.core.nft.delete_table()

    # -- what each capability contributes to the whole --------------------------------------------

    def built_for(self, cfg) -> str:
        """What a table is built for, besides its elements: a table built for other settings is
        built again."""
        cap = f"/cap{cfg.default_cap}" if cfg.default_cap else ""  # the unregistered devices' cap is in it
        return (f"{self.captive.built_for(cfg)}/{self.plan.built_for(cfg)}{self.apps.built_for(cfg)}{cap}")

    def table_options(self) -> dict:
        """What the table is built with besides the clients' elements."""
        return {"free": list(self.cfg.unmetered_device), "unregistered_cap": self.cfg.default_cap,
                **self.captive.table_options(), **self.plan.table_options(), **self.apps.table_options()}

    def table_built(self) -> None:
        for keeper in (self.apps, self.plan, self.forgetting):
            keeper.table_built()

    def erasers(self) -> list:
        return [self.ghost.erase, self.alerts.erase]

    def steps(self) -> list[Step]:
        """hotspotd's poll, in order. Counting first (the kernel's bytes into the database), then what
        reads them; every step is contained, so one failing never stops the others."""
        return [
            Step("accounting", self.account),
            Step("credited", self.counting.forget_credited),
            Step("sessions", self.captive.expire_sessions),
            Step("captive verdicts", self.captive.refresh_portal),
            Step("ask points", self.ownlimits.refresh_asking),
            Step("forgotten", self.discovery.notice_forgotten),  # before discovery: it may find them again
            Step("discovery", self.discovery.discover),
            Step("period", self.counting.rollover_if_due, commit=True),  # a period's final figures
            Step("plan cycle", self.plan.rollover_step),
            Step("history", self.history.compact),  # bounded: a few ms, resumed at the next poll
            Step("retention", self.forgetting.retain_step),  # bounded too: a few devices at a time
            Step("alerts", self.alerts.check, commit=True),  # an alert on flash at once
            Step("ghost traffic", self.ghost.check, commit=True),
            Step("report", self.alerts.report_step),
            Step("metered hint", self.uplink.metered_hint),
            Step("dnsmasq", self.uplink.watch_dnsmasq),
            Step("modem", self.uplink.use_modem),
            Step("uplink meters", self.uplink.meters),
            Step("shaping", self.clients.reshape_step),
            Step("app categories", self.apps.read),
            Step("dnsmasq nftset", self.apps.dnsmasq_sets),
        ]

    def account(self) -> None:
        """The kernel's bytes since the last poll into the database, each client's speed since then, and
        the ghost watch's bins."""
        with self.core.transaction():
            moved = self.counting.account()
        now = time.time()
        seconds = max(0.001, now - self.last_poll)
        # a new dict, swapped in at once: the portal's threads read it without the lock
        self.clients.speeds = {cid: (up * 8 / seconds, down * 8 / seconds)
                               for cid, (up, down) in moved.items()}
        self.last_poll = now
        self.ghost.bin()

    def forgotten(self, ids: set[int], present: bool = False) -> None:
        """Client ids that are no more, or given to a new device: what is kept of them in memory goes
        (`present`: `ids` are the ids registered now, and every other goes)."""
        self.ghost.forgotten(ids, present)

    def set_config(self, cfg) -> None:
        """Move everything from the current settings to `cfg`'s (the admin UI or an edit changed them
        while hotspotd runs); counters and quotas carry on."""
        old, self.core.cfg = self.core.cfg, cfg
        with self.core.transaction():
            if self.core.table_is_ours():
                self.counting.account()
            self.plan.config_changed(old)  # the database's side, and the guard's points if ours
        self.clients.set_config(old)
        for keeper in (self.alerts, self.ghost, self.apps):
            keeper.config_changed(old)

    # -- what belongs to no one capability ------------------------------------------------------------

    def status(self) -> dict:
        """`hotspotctl status --json`: the daemon, the kernel, the uplinks, the plan, the clients' states."""
        core = self.core
        objs = core.live_objects()
        clients = self.store.clients()
        views = self.clients.views(objs, clients)
        start, end = self.clients.period()
        pid = daemon_pid(self.cfg)
        present = set(core.tc.present()) if objs or pid else set()
        cfg = self.cfg
        return {
            "daemon": {"running": pid is not None, "pid": pid},
            "kernel": {"table": bool(objs)},
            "uplink": self.uplink.uplinks(present),
            "plan": {
                "period": cfg.period,
                "period_start": iso(start),
                "period_end": iso(end),
                "default_cap": cfg.default_cap,
                "after_cap": cfg.after_cap,
                "after_cap_rate": cfg.after_cap_rate if cfg.after_cap == "throttle" else None,
                **{f"plan_{k}" if k in ("quota", "topup", "used", "left", "percent") else k: v
                   for k, v in self.plan.view_now(objs, clients).items()},
            },
            "clients": len(views),
            "states": {s: sum(v["state"] == s for v in views) for s in policy.STATES},
            "bytes_up": sum(v["bytes_up"] for v in views),
            "bytes_down": sum(v["bytes_down"] for v in views),
            "bytes_total": sum(v["bytes_total"] for v in views),
            # the plan's bytes of devices not registered yet, and those of them credited to the
            # devices once registered (both only grow)
            "bytes_unregistered": int(self.store.get("unregistered", "0")),
            "bytes_unregistered_credited": int(self.store.get("unregistered_credited", "0")),
            "modem": self.uplink.modem(),
            "last_commit": iso(float(self.store.get("last_commit", "0"))),
            "parts": parts.report(),
        }

    def retention_facts(self) -> dict:
        """How long what is recorded about a device is kept, for the notice guests read."""
        cfg = self.cfg
        return {"client_days": None if cfg.client_retention is None else -(-cfg.client_retention // 86400),
                "hourly_days": cfg.history_hourly_days, "daily_months": cfg.history_daily_months}

    # -- the socket's operations that belong to no one capability ------------------------------------

    def portal_settings(self) -> dict:
        cfg = self.cfg
        return {
            "cookie_key": self.admin.cookie_key,
            "auth": cfg.auth,
            "portal_port": cfg.portal_port,
            "tls": bool(cfg.tls_cert and cfg.tls_key),
            "tls_port": cfg.tls_port,
            "venue": cfg.venue,
            "portal_url": self.portal_url(),
            "portal_hosts": self.portal_hosts(),
            "retention": self.retention_facts(),
        }

    def status_op(self) -> dict:
        """As `hotspotctl status --json`, plus the LAN's speed."""
        with self.core.lock:
            status = self.status()
        speeds = self.clients.speeds.values()
        status["speed_up"] = int(sum(u for u, _ in speeds))
        status["speed_down"] = int(sum(d for _, d in speeds))
        return status

    def plan_page(self) -> dict:
        """The Plan page: the plan and uplinks as in status() (the modem too once hotspotd reads
        it), and the devices the guard spares, by name."""
        with self.core.lock:
            status = self.status()
            exempt = []
            for mac in self.cfg.plan_exempt:
                c = self.store.client(mac)
                exempt.append({"mac": mac, "name": None if c is None else c.alias or c.hostname})
        found = {"plan": status["plan"], "uplink": status["uplink"], "exempt": exempt}
        if isinstance(status.get("modem"), dict):
            found["modem"] = status["modem"]
        return found

    def settings(self) -> dict:
        from hotspot.config import settings_text

        return settings_text(self.cfg)

    def set_settings(self, values) -> dict:
        from hotspot.config import ConfigError, settings_text, write_settings
        from hotspot.core.contract import BackendError

        if not isinstance(values, dict):
            raise BackendError("settings must be a form of fields")
        with self.core.lock:
            try:
                cfg = write_settings(self.cfg.path, values)
            except (ConfigError, OSError) as e:
                raise BackendError(str(e).splitlines()[0]) from None
            self.on_config(cfg)
        return settings_text(cfg)

    def metrics(self) -> dict:
        with self.core.lock:
            counts = self.alerts.counts()
        return {"status": self.status_op(), "clients": self.clients.clients(), "health": self.health(),
                "alerts": counts, "apps": self.apps.apps()["clients"]}

    def answers(self) -> SimpleNamespace:
        """What hotspotd's socket serves: every operation by name, and whether an admin session or the
        metrics token is good (the server asks before an owner's operation)."""
        from hotspot.contract import check_backend

        answers = SimpleNamespace(**self.operations(), session_valid=self.admin.session_valid,
                                  token_valid=self.admin.token_valid)
        return check_backend(answers, credentials=False)  # exactly the declared operations

    def operations(self) -> dict[str, Callable]:
        """The socket's operations, by name: what each does in hotspotd (the declarations say who may
        call it and with what)."""
        found = {name: getattr(keeper, name) for keeper, names in (
            (self.clients, ("me", "clients", "client", "act")),
            (self.forgetting, ("forget",)),
            (self.captive, ("captive", "admit", "vouchers", "create_vouchers", "revoke_voucher")),
            (self.plan, ("plan_topup",)),
            (self.history, ("me_history", "history")),
            (self.ghost, ("ghost_act", "ghost_admin")),
            (self.apps, ("set_update_guard", "apps")),
            (self.alerts, ("alerts", "test_channel")),
            (self.admin, ("login", "admin_from_luci", "logout", "end_sessions")),
            (self.ownlimits, ("set_own_limits", "answer_ask")),
        ) for name in names}
        found.update(portal_settings=self.portal_settings, status=self.status_op, plan=self.plan_page,
                     settings=self.settings, set_settings=self.set_settings, metrics=self.metrics)
        return found


def daemon_pid(cfg) -> int | None:
    """hotspotd's pid, if it runs."""
    try:
        pid = int((Path(cfg.run_dir) / "hotspotd.pid").read_text())
    except (OSError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None
