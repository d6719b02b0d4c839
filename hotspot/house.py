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
from hotspot.alerts import events
from hotspot.alerts.keeper import Alerts
from hotspot.apps.keeper import Apps
from hotspot.captive.keeper import Captive
from hotspot.carrier.keeper import Carrier
from hotspot.clients import policy
from hotspot.clients.counting import Counting
from hotspot.clients.discovery import Discovery
from hotspot.clients.forgetting import Forgetting
from hotspot.clients.keeper import Clients
from hotspot.core import parts
from hotspot.core.clock import default_clock
from hotspot.core.engine import Core
from hotspot.core.units import InvalidValue, iso
from hotspot.ghost.keeper import Ghost
from hotspot.history.keeper import History
from hotspot.kernel.nft import Nft
from hotspot.kernel.rules import Marks
from hotspot.metrics.textfile import Textfile
from hotspot.ownlimits.keeper import OwnLimits
from hotspot.plan import sims
from hotspot.plan.keeper import PlanKeeper, guard_of
from hotspot.plan.per_sim import SimPlans
from hotspot.radius.keeper import Radius
from hotspot.selfserve.keeper import SelfServe
from hotspot.uplink.esim import Esim
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
        self.base_cfg = cfg  # the config file's settings; the core holds those in force (the SIM's plan)
        self.sims = SimPlans(core, cfg)
        core.cfg = self.sims.in_force(cfg)
        self.plan = PlanKeeper(core)
        self.clients = Clients(core, self.plan)
        self.counting = Counting(core, self.clients, self.plan, table_options=self.table_options,
                                 built=self.table_built)
        self.plan.counting = self.clients.counting = self.counting
        self.forgetting = self.counting.forgetting = Forgetting(core, self.clients, self.counting,
                                                                 erasers=self.erasers)
        self.discovery = Discovery(core, self.counting, self.forgetting, forgotten=self.forgotten)
        self.captive = Captive(core, self.clients, self.counting)
        self.radius = Radius(core, self.clients, self.counting)
        self.history = History(core, self.clients, self.plan)
        self.uplink = Uplink(core, self.plan, sim_seen=self.use_sim, roamed=self.roamed)
        self.esim = Esim(core, enabled=self.uplink.read_now)
        self.carrier = Carrier(core, self.plan)
        self.uplink.on_signal = self.carrier.look_now  # an SMS the carrier sent is read at once
        self.alerts = Alerts(core, self.clients, self.plan, send_sms=self.uplink.send_sms,
                             modem=self.uplink.modem)
        self.uplink.tell = self.alerts.tell
        self.ghost = Ghost(core, self.clients, self.counting, self.alerts)
        self.apps = Apps(core, self.clients)
        self.admin = Admin(core)
        self.ownlimits = OwnLimits(core, self.clients)
        self.textfile = Textfile(core, lambda: self.metrics())
        self.selfserve = SelfServe(core, self.clients, self.alerts, portal_url=lambda: self.portal_url())
        # a client's page: each capability's part of it, in this order
        self.clients.parts = [self.captive.client_part, self.plan.client_part, self.alerts.client_part,
                              self.ghost.client_part, self.apps.client_part]
        self.clients.parts.append(self.selfserve.client_part)
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
        self.base_cfg = self.sims.base = cfg
        self.core.cfg = self.sims.in_force(cfg)

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
        return [self.ghost.erase, self.alerts.erase, self.selfserve.erase]

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
            Step("carrier", self.carrier.take, commit=True),  # the carrier's figure, read by its thread
            Step("next sim", self.uplink.next_sim, commit=True),  # after the modem's reading
            Step("uplink meters", self.uplink.meters),
            Step("shaping", self.clients.reshape_step),
            Step("app categories", self.apps.read),
            Step("dnsmasq nftset", self.apps.dnsmasq_sets),
            Step("metrics textfile", self.textfile.step),  # last: this poll's figures
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
        self.base_cfg = self.sims.base = cfg
        old, self.core.cfg = self.core.cfg, self.sims.in_force(cfg)
        with self.core.transaction():
            if self.core.table_is_ours():
                self.counting.account()
            self.plan.config_changed(old)  # the database's side, and the guard's points if ours
        self.clients.set_config(old)
        for keeper in (self.alerts, self.ghost, self.apps):
            keeper.config_changed(old)

    # -- a plan per SIM ------------------------------------------------------------------------------

    def use_sim(self, iccid: str | None, operator: str | None = None, sim_type: str | None = None) -> bool:
        """The modem's SIM as read now (hotspotd's poll): a SIM never met gets its plan and the owner an
        alert; another SIM than the active plan's brings its plan in force. True when plans switched."""
        if not iccid:
            return False  # no SIM, or one ModemManager cannot read (locked): the plan in force stays
        channels = self.alerts.channel_names()
        with self.core.transaction():
            adopted = self.sims.active() == ""
            if sims.meet(self.store.db, self.base_cfg, iccid, self.core.clock(), operator, sim_type):
                self.alerts.notify(events.new_sim(self.cfg.owner_language, iccid, operator, sim_type,
                                                   adopted), channels, kind="sim")
                log.warning("plan: SIM %s met for the first time; %s", iccid,
                            "the plan counted so far is its plan" if adopted else "it gets the default plan")
        if self.sims.active() == iccid:
            if adopted:
                self.core.cfg = self.sims.in_force(self.base_cfg)
            self.alerts.wake()
            return False
        self.switch_sim(iccid)
        self.alerts.wake()
        return True

    def switch_sim(self, iccid: str) -> None:
        """Bring `iccid`'s plan in force: the kernel's bytes so far filed to the plan that was, the plans'
        state swapped, the guard's points moved to the new plan's in the same step (a new set of levels
        rebuilds the table at the next poll)."""
        core = self.core
        with core.transaction():
            if core.table_is_ours():
                self.counting.account()
            was = sims.swap(self.store.db, iccid)
        old, core.cfg = core.cfg, self.sims.in_force(self.base_cfg)
        with core.transaction():
            ours = core.table_is_ours()
            self.plan.rollover_if_due(core.trusted_time(), ours)
            self.plan._push_limits(ours)
        if guard_of(old) != guard_of(core.cfg):
            self.clients.set_config(old)
        for keeper in (self.alerts, self.ghost, self.apps):
            keeper.config_changed(old)
        log.warning("plan: SIM %s is in use: its plan is in force (was %s)", iccid,
                    was or "the plan without a modem")

    def roamed(self, roaming: bool, operator: str | None) -> None:
        """The modem began or stopped roaming (the guard switched already): the owner is told, once."""
        channels = self.alerts.channel_names()
        with self.core.transaction():
            limits = self.plan.limits()
            self.alerts.notify(events.roaming(self.cfg.owner_language, roaming, operator, limits,
                                              self.plan.guarded(),
                                              self.cfg.roaming_quota if self.plan.roaming_bucket()
                                              else self.plan.allowance()), channels, kind="roaming")
        self.alerts.wake()

    def set_plan(self, iccid: str, values: dict[str, str]) -> None:
        """A plan's settings: the config file's for the plan used without a modem, the SIM's own for a
        SIM; the kernel follows when it is the plan in force. ConfigError: nothing changed."""
        from hotspot.config import write_settings

        if iccid == "":
            self.set_config(write_settings(self.base_cfg.path, values))
            return
        self.sims.set_settings(iccid, values)
        if iccid == self.sims.active():
            self.set_config(self.base_cfg)

    def plans(self) -> list[dict]:
        """`hotspotctl plan list`: every SIM's plan."""
        return self.sims.listing(self.plan.view_now())

    def plan_set(self, sim, values) -> list[dict]:
        """The socket's: set a SIM's plan options (the admin Plan page)."""
        from hotspot.config import ConfigError
        from hotspot.core.contract import BackendError, text

        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise BackendError("plan settings must be a form of fields")
        with self.core.lock:
            try:
                self.set_plan(self.sims.resolve(text(sim)), values)
            except ConfigError as e:
                raise BackendError(e.errors[0]) from None
            except OSError as e:
                raise BackendError(str(e)) from None
            except InvalidValue as e:
                raise BackendError(str(e)) from None
            return self.plans()

    def plan_name(self, sim, name) -> list[dict]:
        from hotspot.core.contract import BackendError, text

        with self.core.lock:
            try:
                self.sims.name(self.sims.resolve(text(sim)), text(name) or None)
            except InvalidValue as e:
                raise BackendError(str(e)) from None
            return self.plans()

    def plan_calibrate(self, used, at=None) -> dict:
        from hotspot.core.contract import BackendError, text
        from hotspot.core.units import parse_size
        from hotspot.plan.options import local_time

        try:
            n = parse_size(text(used))
            when = None if at in (None, "") else local_time(text(at))
        except (InvalidValue, ValueError) as e:
            raise BackendError(str(e).splitlines()[0]) from None
        with self.core.lock:
            try:
                return self.plan.calibrate(n, when, "owner")
            except ValueError as e:
                raise BackendError(str(e)) from None

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
            plans = self.plans()
            carrier = self.carrier.last()
        found = {"plan": status["plan"], "uplink": status["uplink"], "exempt": exempt, "plans": plans,
                 "carrier": carrier}
        if isinstance(status.get("modem"), dict):
            found["modem"] = status["modem"]
        return found

    def settings(self) -> dict:
        from hotspot.config import settings_text

        return settings_text(self.base_cfg)

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
            plans = self.plans()
        return {"status": self.status_op(), "clients": self.clients.clients(), "health": self.health(),
                "alerts": counts, "apps": self.apps.apps()["clients"], "plans": plans}

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
            (self.esim, ("esim", "esim_enable", "esim_nickname")),
            (self.history, ("me_history", "history")),
            (self.ghost, ("ghost_act", "ghost_admin")),
            (self.apps, ("set_update_guard", "apps")),
            (self.alerts, ("alerts", "test_channel")),
            (self.admin, ("login", "admin_from_luci", "logout", "end_sessions")),
            (self.ownlimits, ("set_own_limits", "answer_ask")),
            (self.selfserve, ("data_off", "ask_owner")),
            (self.radius, ("radius_signin",)),
        ) for name in names}
        found.update(plan_set=self.plan_set, plan_name=self.plan_name, plan_calibrate=self.plan_calibrate)
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
