"""Alerts and reports: the points the plan and the clients reach (points.py), the usage report, and the
durable outbox whose thread delivers them through the channels (channels.py: webhook, email, SMS)."""

from __future__ import annotations

import logging
import os
from urllib.parse import urlsplit

from hotspot.alerts import outbox, reports
from hotspot.alerts import points as alerts
from hotspot.alerts.channels import DeliveryError
from hotspot.alerts.options import editions
from hotspot.clients import policy
from hotspot.clients.keeper import NEAR_CAP
from hotspot.core.contract import BackendError
from hotspot.core.engine import Keeper
from hotspot.core.units import iso
from hotspot.forecast import from_history as forecasts
from hotspot.kernel.rules import quota_name
from hotspot.plan.model import passed

log = logging.getLogger("hotspot")

CHANNELS = ("webhook", "email", "sms")  # the alert channels the admin UI may test
LOG_LIMIT = 100  # alerts and deliveries the Alerts page shows


class Alerts(Keeper):
    """`send_sms(number, text)`: how an SMS goes out (the modem's). The outbox's thread runs only in
    hotspotd (start/stop); hotspotctl queues and reads."""

    def __init__(self, core, clients, plan, *, send_sms=None, modem=lambda: None) -> None:
        super().__init__(core)
        self.clients = clients
        self.plan = plan
        self.send_sms = send_sms
        self.modem = modem  # the modem as hotspotd last read it (for the report)
        self._outbox: outbox.Outbox | None = None
        self.send_test = None  # hotspotd's outbox's test, once its thread runs (the socket's test_channel)

    @property
    def outbox(self) -> outbox.Outbox:
        """The durable outbox (its connection made at first use: hotspotctl's commands seldom need it).
        HOTSPOT_RETRY_DELAY: the first retry's delay (tests shorten the default 30 s)."""
        if self._outbox is None:
            self._outbox = outbox.Outbox(self.store.path, alerts.channels_of(self.cfg, self.send_sms),
                                         clock=self.core.clock, lang=self.cfg.owner_language,
                                         base_delay=float(os.environ.get("HOTSPOT_RETRY_DELAY", "30")))
        return self._outbox


    def start(self) -> None:
        self.outbox.start()
        self.send_test = self.outbox.test

    def stop(self) -> None:
        if self._outbox is not None:
            self._outbox.stop()

    def wake(self) -> None:
        self.outbox.wake()

    def channel_names(self) -> list[str]:
        return sorted(self.outbox.channels)

    def config_changed(self, old) -> None:
        if self._outbox is not None:
            self._outbox.channels = alerts.channels_of(self.cfg, self.send_sms)
            self._outbox.lang = self.cfg.owner_language

    # -- hotspotd's poll -------------------------------------------------------------------------------

    def check(self) -> bool:
        """Fire the alert points the plan and the clients reached, queueing their notifications; True
        when one fired (it goes to flash at once: a reboot never fires it again)."""
        queued = self.fire(self.channel_names())
        if queued:
            self.wake()
        return bool(queued)

    def fire(self, channels: list[str]) -> list:
        """The alert points the plan and the clients reached (hotspot.alerts.points), their
        notifications queued to `channels`. Usage is the database's, or a kernel quota's where it is
        ahead (it counts the packet it dropped at the cap)."""
        cfg = self.cfg
        if not cfg.alert_at:
            return []
        low = min(cfg.alert_at)
        with self.core.transaction():
            plan = None
            allowance, bounds = self.plan.allowance(), self.plan.cycle()
            candidates = self.store.near_cap(0, percent=low) if cfg.alert_clients else []
            plan_near = allowance and bounds and self.plan.used() * 100 >= allowance * low - 100 * NEAR_CAP
            if not candidates and not plan_near:
                return []
            quotas = self.core.nft.read_quotas() if self.core.table_is_ours() else {}
            if plan_near:
                used = self.plan.used_now(quotas)
                plan = {"used": used, "allowance": allowance, "cycle_start": bounds[0],
                        "cycle_end": bounds[1], "forecast": lambda: self._plan_forecast(quotas)}
            period_start = float(self.store.get("period_start") or 0)
            clients = [{"mac": c.mac, "name": c.alias or c.hostname, "cap": policy.owner_cap(c),
                        "used": max(c.period_total, quotas.get(quota_name(c.id), 0)),
                        "period_start": period_start, "forecast": self._client_forecast(c)}
                       for c in candidates]
            return alerts.check(self.store.db, cfg, plan=plan, clients=clients, now=self.core.clock(),
                                channels=channels)

    def _plan_forecast(self, objs: dict[str, int]) -> dict:
        """Computed only for an alert that fires."""
        f = self.plan.figures(objs=objs)
        return {"end_bytes": f["forecast_end_bytes"], "low": f["forecast_low"], "high": f["forecast_high"],
                "runs_out_at": f["runs_out_at"], "runs_out_earliest": f["runs_out_earliest"]}

    def _client_forecast(self, c):
        def forecast() -> dict:
            start, end = self.clients.period()
            f = forecasts.of_client(self.store, c.id, used=c.period_total, cap=policy.owner_cap(c),
                                    now=self.core.clock(), start=start, end=end, since=c.first_seen)
            return {"end_bytes": f["period_end_bytes"], "low": f["low"], "high": f["high"],
                    "runs_out_at": f["cap_hit_at"], "runs_out_earliest": f["cap_hit_earliest"]}
        return forecast

    def notify(self, message, channels: list[str], kind: str = "event") -> bool:
        """Queue an owner's alert to `channels` (channel_names(), taken before the caller's transaction,
        which records what the alert is about, so it goes once); True when a channel takes it."""
        if channels:
            outbox.enqueue(self.store.db, message, channels, kind=kind, now=self.core.clock())

    def tell(self, message, kind: str = "alert") -> bool:
        """A message to the owner that no alert point makes (another capability's), queued to every
        alert channel in a transaction of its own; True when queued (the caller's poll step puts it on
        flash at once)."""
        channels = self.channel_names()
        with self.core.transaction():
            queued = self.notify(message, channels, kind)
        if queued:
            self.wake()
        return bool(channels)

    def report_step(self) -> None:
        if self.report_if_due([c for c in ("email",) if c in self.outbox.channels]):
            self.wake()

    def report_if_due(self, channels: list[str]) -> bool:
        """Queue each usage report (daily or weekly, and monthly) whose time came to `channels`
        (hotspot.alerts.reports); True if one was queued."""
        queued = False
        for edition in self.editions():
            if edition == "monthly":
                queued |= self._monthly_if_due(channels)
            else:
                queued |= self._periodic_if_due(edition, channels)
        return queued

    def editions(self) -> tuple[str, ...]:
        """The report editions the config asks for: daily or weekly, and monthly."""
        return editions(self.cfg.report)

    def _periodic_if_due(self, edition: str, channels: list[str]) -> bool:
        cfg = self.cfg
        now = self.core.clock()
        due = self.store.get("report_next")
        if due is None or float(due) > now + 8 * 86400:  # first run, or the clock went back
            with self.core.transaction():
                self.store.set("report_next", reports.next_time(now, edition, cfg.report_hour))
            return False
        if now < float(due):
            return False
        return self._queue(self.report(float(due), edition), channels,
                           ("report_next", reports.next_time(now, edition, cfg.report_hour)))

    def _monthly_if_due(self, channels: list[str]) -> bool:
        """The end-of-cycle report: kept in meta `report_monthly` as 'DUE START END' (the cycle it will
        cover), or 'sent END' until the next cycle is known."""
        now = self.core.clock()
        kept = (self.store.get("report_monthly") or "").split()
        if len(kept) == 3:
            due, start, end = (float(x) for x in kept)
            # A schedule made on a wrong clock (a router without a real-time clock before NTP): for a
            # cycle that ended a month ago, or that ends further off than a cycle lasts, made anew.
            if now > end + 31 * 86400 or due > now + (end - start) + 2 * 86400:
                kept = []
        if len(kept) != 3:
            after = float(kept[1]) if len(kept) == 2 and kept[0] == "sent" else 0.0
            due, start, end = reports.next_monthly(now, self.plan.cycle(), self.cfg.report_hour)
            if end > after:
                with self.core.transaction():
                    self.store.set("report_monthly", f"{due} {start} {end}")
            return False
        if now < due:
            return False
        return self._queue(self.report(due, "monthly", span=(start, end)), channels,
                           ("report_monthly", f"sent {end}"))

    def _queue(self, message, channels: list[str], schedule: tuple[str, object]) -> bool:
        with self.core.transaction():
            if channels:
                outbox.enqueue(self.store.db, message, channels, kind="report", now=self.core.clock())
            self.store.set(*schedule)
        log.info("usage report queued: %s", message.subject)
        return bool(channels)

    def report(self, at: float, edition: str | None = None, span: tuple[float, float] | None = None):
        """The usage report `edition` (daily, weekly or monthly: default the config's first) for the
        range before `at` (or `span`), as a Message in the owner's language, with the modem as hotspotd
        last read it."""
        from hotspot.alerts.report_email import build_report

        edition = edition or (self.editions() or ("daily",))[0]
        start, end = span or reports.span(at, edition)
        objs = self.core.live_objects()
        plan = self.plan.snapshot(objs)
        names = {}
        for c in self.store.clients():
            v = self.clients.view(c, objs, plan)
            names[c.id] = {"name": c.alias or c.hostname, "mac": c.mac, "cap": v["cap"], "state": v["state"],
                           "first_seen": c.first_seen}
        data = reports.gather(self.store.db, self.cfg, start=start, end=end, names=names,
                              plan=self.plan.figures(objs=objs), edition=edition)
        m = self.modem()
        if m and "error" not in m:
            data["modem"] = {"operator": m["operator_name"], "roaming": m["roaming"],
                             "technology": "/".join(m["access_technologies"]).upper() or None,
                             "signal": m["signal_quality"], "signal_dbm": m["rsrp"]}
        return build_report(data, lang=self.cfg.owner_language, now=self.core.clock())

    # -- what hotspotctl and the admin UI show ----------------------------------------------------------

    def log(self, limit: int | None = None) -> tuple[list[dict], list[dict]]:
        """The alerts that fired and the delivery log, newest first."""
        if limit is None:
            return alerts.recent(self.store.db), outbox.log_entries(self.store.db)
        return alerts.recent(self.store.db, limit), outbox.log_entries(self.store.db, limit)

    def test(self, channel: str) -> str:
        """Send a test message through `channel` now; its receipt or DeliveryError."""
        return self.outbox.test(channel)

    def close(self) -> None:
        if self._outbox is not None:
            self._outbox.close()

    def counts(self) -> dict:
        """Alerts fired by kind (all time) and deliveries in the log by status, for /metrics."""
        db = self.store.db
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        fired = dict(db.execute("SELECT kind, COUNT(*) FROM alerts GROUP BY kind").fetchall()
                     if "alerts" in tables else [])
        sent = dict(db.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status").fetchall()
                    if "deliveries" in tables else [])
        return {"fired": {k: fired.get(k, 0) for k in ("plan", "client")},
                "deliveries": {k: sent.get(k, 0) for k in ("pending", "sent", "failed")}}

    def channels(self) -> list[dict]:
        """Each channel the config names, where it goes (a webhook's scheme and host only: its path
        may hold a token) and whether the outbox can send through it now."""
        ready = set(self.channel_names())
        cfg = self.cfg
        found = []
        if cfg.alert_webhook:
            url = urlsplit(cfg.alert_webhook)
            found.append({"name": "webhook", "target": f"{url.scheme}://{url.netloc.rpartition('@')[2]}"})
        if cfg.alert_email:
            found.append({"name": "email", "target": ", ".join(cfg.alert_email)})
        if cfg.alert_sms:
            found.append({"name": "sms", "target": ", ".join(cfg.alert_sms)})
        return [{**c, "ready": c["name"] in ready} for c in found]

    # -- a client's page, and a device forgotten ---------------------------------------------------------

    def client_part(self, c, view: dict, seen) -> dict:
        return {"cap_alert": passed(view["bytes_total"], view["cap"], self.cfg.alert_at)}

    @staticmethod
    def erase(db, cid: int, mac: str) -> int:
        return alerts.forget(db, mac) + outbox.forget(db, mac)

    # -- the socket's operations ----------------------------------------------------------------------

    def alerts(self) -> dict:
        """The Alerts page: the alerts that fired and the delivery log (newest first), and the
        channels the config sets up."""
        with self.core.lock:
            fired, log_ = self.log(LOG_LIMIT)
            names = {}
            for a in fired:
                if a["kind"] == "client":
                    c = self.store.client(a["subject"])
                    names[a["subject"]] = None if c is None else c.alias or c.hostname
        for a in fired:
            a["name"] = names.get(a["subject"]) if a["kind"] == "client" else None
        for d in log_:
            d.update({k: iso(d[k]) for k in ("created", "sent_at", "next_try", "last_try")})
            if d["status"] != "pending":
                d["next_try"] = None  # only a waiting delivery has a next try
        return {"alerts": fired, "deliveries": log_, "channels": self.channels()}

    def test_channel(self, channel) -> dict:
        """Send a test message through one channel now, as `hotspotctl alerts test CHANNEL`: its
        receipt, or BackendError with the channel's one-line reason. Not under the lock: it waits
        for the network (bounded by the channel's timeouts), never for the poll."""
        if channel not in CHANNELS:
            raise BackendError(f"unknown channel {channel!r}: webhook, email or sms")
        if self.send_test is None:
            raise BackendError("hotspotd has no outbox to send through")
        try:
            receipt = self.send_test(channel)
        except DeliveryError as e:
            raise BackendError(f"{channel}: {str(e).splitlines()[0] if str(e) else 'failed'}") from None
        return {"channel": channel, "receipt": str(receipt)}
