"""hotspotd: keeps the kernel table loaded, polls it, registers clients, rolls periods, commits.

The kernel counts and enforces on its own; this loop only moves bytes into the database and
keeps the table in line with it. Each step is contained: one failing step is logged and the
loop goes on, so a bad lease file or a missing WAN device never stops the counting.
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
import pwd
import select
import signal
import socket
import sqlite3
import sys
import threading
import time
from pathlib import Path

from hotspot import __version__
from hotspot.alerts.outbox import Outbox
from hotspot.alerts.points import channels_of
from hotspot.apps.snoop.process import SnoopProcess
from hotspot.clients import retention
from hotspot.clients.discovery import Leases
from hotspot.config import DEFAULT_PATH, ConfigError, load
from hotspot.core.files import write_atomic
from hotspot.core.uci import uci_options
from hotspot.daemon.api import PortalApi
from hotspot.daemon.portal import PortalProcess, bind_addresses, remove_old_copies
from hotspot.ipc import IpcServer, socket_path
from hotspot.kernel.neighbours import NeighbourWatch, addresses, neighbours
from hotspot.kernel.nft import TableGone, TableWatch
from hotspot.service import Hotspot, daemon_pid, iso
from hotspot.uplink.metered import DhcpHint, active_uplink, dnsmasq_pids
from hotspot.uplink.modem import interface_bytes

log = logging.getLogger("hotspot")

FLOW_OFFLOAD_HELP = (
    "flow offloading is on ({where}): offloaded flows bypass the forward hook, so hotspot could "
    "neither count nor cap them. Turn it off with: uci set firewall.@defaults[0].flow_offloading=0; "
    "uci set firewall.@defaults[0].flow_offloading_hw=0; uci commit firewall; /etc/init.d/firewall restart"
)


# Seconds between readings of the modem (HOTSPOT_MODEM_INTERVAL: tests read it more often).
MODEM_INTERVAL = float(os.environ.get("HOTSPOT_MODEM_INTERVAL", "15"))
FIREWALL_CONFIG = os.environ.get("HOTSPOT_FIREWALL_CONFIG", "/etc/config/firewall")
# Seconds between readings of the per-category counters (HOTSPOT_APPS_INTERVAL: tests read every poll).
APPS_INTERVAL = float(os.environ.get("HOTSPOT_APPS_INTERVAL", "30"))
# Seconds between looks at dnsmasq (on OpenWrt a look reads /proc: procd jails it in a pid namespace).
DNSMASQ_WATCH = 5.0
# A poll's step that keeps failing the same way is logged again after this many seconds.
REPEAT_LOG = 600.0
# A commit to flash that failed (the flash full, read-only, worn out) is tried again this often at most.
COMMIT_RETRY = 60.0
# Seconds between looks for devices to forget (HOTSPOT_RETENTION_INTERVAL: tests look every poll).
RETENTION_INTERVAL = float(os.environ.get("HOTSPOT_RETENTION_INTERVAL", retention.INTERVAL))


def flow_offloading(hs: Hotspot) -> list[str]:
    """Where flow offloading is on: rules in the kernel now, or fw4's config (it may load them later)."""
    found = hs.nft.flow_offload()
    try:
        defaults = uci_options(Path(FIREWALL_CONFIG).read_text(), "defaults")
    except OSError:
        defaults = {}
    found += [f"{FIREWALL_CONFIG}: option {k} '1'" for k in ("flow_offloading", "flow_offloading_hw")
              if defaults.get(k) == "1"]
    return found


def setup_logging(verbose: bool = False) -> None:
    """One line per event on stderr, no timestamp: procd/logd (or journald) add their own."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("hotspotd[%(process)d]: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


class Daemon:
    def __init__(self, hs: Hotspot) -> None:
        self.hs = hs
        self.cfg = hs.cfg
        self.stop = threading.Event()
        self.hup = False  # SIGHUP came: commit and reload between two polls (see main)
        self.leases = Leases(self.cfg.leases_file)
        self.known: dict[str, tuple] = {}  # mac -> (hostname, ips) as last registered
        self.next_commit = time.monotonic() + self.cfg.commit_interval
        self.commit_failures = 0  # commits to flash that failed in a row
        self.failing: dict[str, tuple] = {}  # step -> (its failure, when last logged, failures since)
        self.dnsmasq_seen: tuple[float, bool | None] = (0.0, None)  # (when looked, running then)
        self.last_poll = time.time()
        self.devices: list[str] | None = None  # the shaped devices present at the last poll
        self.watch: TableWatch | None = None
        self.newcomers: NeighbourWatch | None = None  # wakes discovery when a new device appears
        self._wake_r, self._wake_w = os.pipe()  # a signal handler writes here to end the wait at once
        os.set_blocking(self._wake_w, False)
        # The portal's requests run in the IPC server's threads; this lock keeps them and the loop
        # from using the service (its database connection, its nft context) at the same time.
        self.lock = threading.RLock()
        self.speeds: dict[int, tuple[float, float]] = {}  # client id -> (up, down) bits/s at the last poll
        self.started = time.time()
        self.poll_seconds = 0.0
        self.rebuilds = 0
        self.ipc: IpcServer | None = None
        self.portal: PortalProcess | None = None
        self.portal_tls: PortalProcess | None = None  # HTTPS, when the config gives a certificate
        self.config_mtime: int | None = None
        self.modem: tuple | None = None  # (the modem thread's last reading, a Modem or None)
        self.modem_used: tuple | None = None  # the reading the poll last took in
        self.apps_read = 0.0  # time.monotonic() of the last reading of the per-category counters
        self.nftset_made: tuple | None = None  # what dnsmasq's nftset file was last written from
        self.snoop: SnoopProcess | None = None  # the DNS snooper (dns_snoop), a process of its own
        # Alerts and reports wait in the database's outbox; its thread delivers them.
        # HOTSPOT_RETRY_DELAY: the first retry's delay (tests shorten the default 30 s).
        self.outbox = Outbox(hs.store.path, channels_of(self.cfg, self.send_sms), clock=hs.clock,
                             base_delay=float(os.environ.get("HOTSPOT_RETRY_DELAY", "30")))
        self.ghost = self._ghost_watch(self.cfg)
        self.ghost_due = False  # a ghost-traffic bin closed: look for events at this poll
        self.retain_next = 0.0  # time.monotonic() of the next look for devices to forget

    def send_sms(self, number: str, text: str) -> None:
        """SMS alerts go out through the modem (ModemManager's messaging), one message each."""
        from hotspot.uplink.modem import fit_sms, send_sms

        send_sms(number, fit_sms(text))

    def read_modem(self) -> None:
        """The modem thread: read ModemManager every MODEM_INTERVAL seconds (a D-Bus call can take
        up to its timeout; the poll never waits for it) and leave the reading for the poll."""
        from hotspot.uplink import modem

        failed = None
        while not self.stop.is_set():
            try:
                self.modem = (modem.read(),)
                failed = None
            except Exception as e:  # contained: the next reading tries again
                if str(e) != failed:
                    log.warning("modem: %s", e)
                failed = str(e)
            self.stop.wait(MODEM_INTERVAL)

    def use_modem(self) -> None:
        """The poll takes the modem thread's last reading: status and metrics show it, its roaming
        switches the plan guard's points, its bearer's byte count is compared with ours."""
        reading = self.modem
        if reading is None or reading is self.modem_used:
            return  # none yet, or this one is in already: a reading comes every MODEM_INTERVAL
        self.modem_used = reading
        (m,) = reading
        self.hs.modem_info = m.as_dict() if m else None
        if m is None:
            return
        with self.hs.store.transaction():
            self.hs.plan.set_roaming(m.roaming)
            if m.rx_bytes is not None and m.tx_bytes is not None:
                self.hs.plan.meter("modem", m.rx_bytes + m.tx_bytes)

    # -- ghost traffic (hotspot.ghost.watch) ----------------------------------------------------

    def _ghost_watch(self, cfg):
        if not cfg.ghost:
            return None
        from hotspot.ghost.watch import GhostWatch
        from hotspot.kernel.nft import Marks

        marks = Marks(cfg.ct_mark_mask)
        return GhostWatch(_ghost_settings(cfg), mark_of=marks.value, mask=marks.mask, run_dir=cfg.run_dir)

    def ghost_check(self) -> None:
        """At a bin's end: events of ghost traffic, stored and their alerts queued (committed at once,
        like the other alerts)."""
        if self.ghost is None or not self.ghost_due:
            return
        self.ghost_due = False
        now = self.hs.clock()
        names = {c.id: c.alias or c.hostname for c in self.hs.store.clients()}
        found = self.ghost.check(self.hs.store, now, names)
        if not found:
            return
        with self.hs.store.transaction():
            queued = self.ghost.save(self.hs.store.db, found, now, sorted(self.outbox.channels),
                                     self.cfg.run_dir)
        if queued:
            self.commit()
            self.outbox.wake()

    def alerts(self) -> None:
        queued = self.hs.check_alerts(sorted(self.outbox.channels))
        if queued:
            self.commit()  # an alert that fired is on flash at once: a reboot never fires it again
            self.outbox.wake()

    def uplink_meters(self) -> None:
        """The other counts of the plan's bytes, for comparing with ours: the metered uplinks'
        interface counters (they include each frame's link header where there is one) and, with a
        modem, its bearer's count (refreshed by the modem thread)."""
        total = None
        for dev in self.cfg.wan_device:
            found = interface_bytes(dev)
            if found:
                total = (total or 0) + sum(found)
        with self.hs.store.transaction():
            self.hs.plan.meter("interfaces", total)

    def watch_dnsmasq(self) -> None:
        """dnsmasq (procd's on a router, not hotspotd's) gives the clients their addresses and names:
        say when it goes and when it is back. Counting and enforcement do not need it."""
        looked, running = self.dnsmasq_seen
        if time.monotonic() - looked < DNSMASQ_WATCH:
            return
        files = glob.glob(self.cfg.dnsmasq_pidfile)
        now = bool(files) and any(dnsmasq_pids(path) for path in files)
        if files and not now and running is not False:
            log.warning("dnsmasq is not running (%s): clients get no new address and no DNS answer until "
                        "it is back; counting and enforcement go on", self.cfg.dnsmasq_pidfile)
        elif now and running is False:
            log.info("dnsmasq is running again")
        self.dnsmasq_seen = (time.monotonic(), now if files else running)

    def metered_hint(self) -> None:
        """DHCP option 43 ANDROID_METERED while the uplink in use is metered (hotspot.uplink.metered)."""
        if not self.cfg.dhcp_opts_file:
            return
        device, metered = active_uplink(list(self.cfg.wan_device), list(self.cfg.unmetered_device))
        if device is None:
            return  # no default route for a moment (an LTE reconnect): the hint stays as it was
        hint = DhcpHint(self.cfg.dhcp_opts_file, self.cfg.dnsmasq_pidfile)
        if hint.set(metered):
            log.info("uplink %s is %s: clients are told at their next lease renewal", device,
                     "metered" if metered else "not metered")

    def read_apps(self, now: bool = False) -> None:
        """The per-category counters, every APPS_INTERVAL (a dump of 14 sets, one element per
        client each), or `now`."""
        if not now and time.monotonic() - self.apps_read < APPS_INTERVAL:
            return
        self.apps_read = time.monotonic()
        self.hs.account_apps()

    def dnsmasq_sets(self) -> None:
        """dnsmasq's nftset lines, rewritten (and dnsmasq restarted) when the categories list or
        its settings changed (hotspot.apps.dnsmasq)."""
        from hotspot.apps import categories
        from hotspot.apps import dnsmasq as nftset

        path = self.cfg.dnsmasq_nftset_file
        source = self.cfg.categories_file or str(categories.BUILTIN)
        try:
            mtime = os.stat(source).st_mtime_ns
        except OSError:
            mtime = None
        made = (path, source, mtime, self.cfg.dnsmasq_restart)
        if not path or made == self.nftset_made:
            return
        self.nftset_made = made
        if not nftset.supported():
            log.warning("dnsmasq has no nftset support (OpenWrt: install dnsmasq-full): app categories "
                        "come only from the DNS snooper")
            return
        if nftset.install(path, nftset.lines(categories.load(self.cfg.categories_file)),
                          self.cfg.dnsmasq_restart or ""):
            log.info("dnsmasq's nftset lines written to %s%s", path,
                     f"; ran {self.cfg.dnsmasq_restart}" if self.cfg.dnsmasq_restart else "")

    def report(self) -> None:
        if self.hs.report_if_due([c for c in ("email",) if c in self.outbox.channels]):
            self.outbox.wake()

    def wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass

    def start(self) -> None:
        try:
            self.watch = TableWatch()  # first: a deletion between the load and the watch is not missed
        except OSError as e:
            log.warning("no nftables notifications (%s): a deleted table is rebuilt at the next poll", e)
        if self.hs.ensure_table():
            log.info("loaded table inet hotspot with %d clients", len(self.hs.store.clients()))
        else:
            log.info("table inet hotspot still loaded: counting went on while hotspotd was down")
            self.hs.sync_http()  # who is capped may have changed meanwhile
        self.step("holds", self.hs.release_holds)
        try:
            self.newcomers = NeighbourWatch(self.cfg.lan_device)
        except OSError as e:
            log.warning("no neighbour notifications (%s): new devices are registered at the next poll", e)
        self.hs.rollover_if_due()
        if self.ghost is not None:
            from hotspot.kernel.conntrack import enable_accounting

            if not enable_accounting():  # the destinations of ghost traffic need conntrack's counters
                log.warning("ghost traffic: cannot turn on net.netfilter.nf_conntrack_acct; events will "
                            "name no destinations")
        self.known = {c.mac: (c.hostname, sorted(c.ips)) for c in self.hs.store.clients()}
        self.outbox.start()
        if self.cfg.modem:
            threading.Thread(target=self.read_modem, name="modem", daemon=True).start()

    def step(self, name: str, fn) -> None:
        """One step of the poll, contained: a failure is logged and the next poll tries again. A step
        that keeps failing the same way is logged again only every REPEAT_LOG seconds (a router's log
        is a small ring buffer: it must keep what came before), and once when it works again."""
        try:
            fn()
        except Exception as e:
            reason = f"{type(e).__name__}: {e}"
            if isinstance(e, sqlite3.OperationalError) and "full" in str(e):
                reason += (f" ({self.cfg.run_dir} is full: the kernel counts and enforces on, and what it "
                           "counts is moved into the database once there is room)")
            now = time.monotonic()
            last, at, count = self.failing.get(name, (None, 0.0, 0))
            if reason != last or now - at >= REPEAT_LOG:
                log.error("%s failed: %s%s", name, reason, f" ({count} times since)" if count else "")
                at, count = now, 0
            self.failing[name] = (reason, at, count + 1)
            log.debug("%s failed", name, exc_info=True)
        else:
            if name in self.failing:
                log.warning("%s works again", name)
                del self.failing[name]

    def health(self) -> dict:
        return {"last_poll": iso(self.last_poll), "poll_seconds": self.poll_seconds,
                "rebuilds": self.rebuilds, "uptime_seconds": time.time() - self.started}

    def serve_portal(self) -> None:
        """The IPC socket, then gunicorn on the LAN's addresses (once the LAN device has one)."""
        if self.cfg.portal_port == 0:
            return
        if self.ipc is None:
            api = PortalApi(self.hs, lock=self.lock, health=self.health, speeds=lambda: self.speeds,
                            on_config=self.apply_config, portal_url=self.portal_url,
                            portal_hosts=self.portal_hosts, test_send=self.outbox.test,
                            channels=lambda: sorted(self.outbox.channels))
            try:
                peers = {0: "root", pwd.getpwnam(self.cfg.portal_user).pw_uid: "portal"}
            except KeyError:  # the portal cannot start either: PortalProcess says why
                peers = {0: "root"}
            self.ipc = IpcServer(socket_path(self.cfg.run_dir), api, peers=peers)
            self.ipc.start()
        if self.portal is None:
            found = addresses(self.cfg.lan_device)
            if not found:
                return  # the LAN has no address yet: the next poll tries again
            self.portal = self._portal_process(bind_addresses(found, self.cfg.portal_port))
            if self.cfg.tls_cert and self.cfg.tls_key:
                self.portal_tls = self._portal_process(bind_addresses(found, self.cfg.tls_port),
                                                       tls=(self.cfg.tls_cert, self.cfg.tls_key))
        for p in (self.portal, self.portal_tls):
            if p is not None:
                p.check()  # started, or started again (with a back-off), or told why it cannot be

    def _portal_process(self, binds: list[str], tls: tuple[str, str] | None = None) -> PortalProcess:
        p = PortalProcess(user=self.cfg.portal_user, run_dir=self.cfg.run_dir, binds=binds,
                          socket_path=str(self.ipc.path), tls=tls)
        p.kill_leftover()
        return p

    def portal_url(self) -> str | None:
        """The portal's address for clients: its HTTPS name when it has one (RFC 8908 wants HTTPS),
        else the LAN's first IPv4 address (any phone reaches it)."""
        if self.cfg.portal_name and self.cfg.tls_cert:
            port = "" if self.cfg.tls_port == 443 else f":{self.cfg.tls_port}"
            return f"https://{self.cfg.portal_name}{port}"
        found = sorted(addresses(self.cfg.lan_device), key=lambda a: ":" in a)
        if not found:
            return None
        host = f"[{found[0]}]" if ":" in found[0] else found[0]
        return f"http://{host}:{self.cfg.portal_port}"

    def portal_hosts(self) -> list[str]:
        """Host names a request for the portal itself may carry; any other Host is a site whose plain
        HTTP the kernel redirected to the portal."""
        names = [self.cfg.portal_name] if self.cfg.portal_name else []
        return [*addresses(self.cfg.lan_device), *names, "localhost", "127.0.0.1", "::1",
                socket.gethostname()]

    def stop_portal(self) -> None:
        for p in (self.portal, self.portal_tls):
            if p:
                self.step("portal stop", p.stop)
        if self.ipc:
            self.step("ipc stop", self.ipc.close)

    def apply_config(self, cfg) -> None:
        """Plan settings the admin changed: every client's kernel state moves to them at once."""
        with self.lock:
            self.hs.set_config(cfg)
            self.cfg = cfg
        self.outbox.channels = channels_of(cfg, self.send_sms)
        if _ghost_settings(cfg) != (self.ghost.st if self.ghost else None):
            self.ghost = self._ghost_watch(cfg)  # new settings: the bins start again
        self.step("dns snooper reload", self.reload_snoop)  # its categories list may have changed
        log.info("settings changed: %s", cfg.path)

    def reload_config(self) -> None:
        """The config file changed (hotspotctl plan set, an edit, procd's reload trigger): carry the
        new settings into the kernel; a bad file is reported and the running settings stay."""
        try:
            mtime = os.stat(self.cfg.path).st_mtime_ns
        except OSError:
            return
        if self.config_mtime is None:
            self.config_mtime = mtime
        if mtime == self.config_mtime:
            return
        self.config_mtime = mtime
        try:
            cfg = load(self.cfg.path)
        except ConfigError as e:
            log.error("config not reloaded: %s", e.errors[0])
            return
        if cfg != self.cfg:
            self.apply_config(cfg)

    def poll(self) -> None:
        started = time.monotonic()
        self.step("config", self.reload_config)
        with self.lock:
            self._poll()
        self.poll_seconds = time.monotonic() - started
        self.step("portal", self.serve_portal)
        self.step("dns snooper", self.supervise_snoop)

    def supervise_snoop(self) -> None:
        """The DNS snooper runs while dns_snoop is on, started again if it exits; whatever becomes
        of it, counting and enforcement go on here."""
        if self.cfg.dns_snoop:
            self.snoop = self.snoop or SnoopProcess(self.cfg.path)
            self.snoop.check()
        elif self.snoop:
            self.snoop.stop()
            self.snoop = None

    def reload_snoop(self) -> None:
        if self.snoop:
            self.snoop.reload()

    def _poll(self) -> None:
        self.step("table check", self.check_table)
        self.step("accounting", self.account)
        self.step("credited", self.hs.forget_credited)
        self.step("sessions", self.hs.expire_sessions)
        self.step("captive verdicts", self.hs.refresh_portal)
        self.step("forgotten", self.notice_forgotten)  # before discovery: it may find them again
        self.step("discovery", self.discover)
        self.step("period", self.rollover)
        self.step("plan cycle", self.hs.plan_rollover_if_due)
        self.step("history", self.hs.compact_history)  # bounded: a few ms, resumed at the next poll
        self.step("retention", self.retain)  # bounded too: a few devices at a time
        self.step("alerts", self.alerts)
        self.step("ghost traffic", self.ghost_check)
        self.step("report", self.report)
        self.step("metered hint", self.metered_hint)
        self.step("dnsmasq", self.watch_dnsmasq)
        self.step("modem", self.use_modem)
        self.step("uplink meters", self.uplink_meters)
        self.step("shaping", self.check_devices)
        self.step("app categories", self.read_apps)
        self.step("dnsmasq nftset", self.dnsmasq_sets)
        if time.monotonic() >= self.next_commit:
            self.commit()

    def check_table(self, gone: list[TableGone] = ()) -> None:
        started = time.monotonic()
        if self.watch and not gone:
            # A poll may find the table gone before the loop read the kernel's notice: read it
            # now, or the rebuilt table would count as ours and the notice's counters be lost.
            gone = self.watch.read()
        if not self.hs.ensure_table(gone):
            return
        took = (time.monotonic() - started) * 1000
        self.rebuilds += 1
        if any(g.handle is not None for g in gone):
            log.warning("table inet hotspot was deleted (flushed?) and is rebuilt in %.0f ms; what it had "
                        "counted since the last poll is kept", took)
        else:
            log.warning("table inet hotspot was gone (flushed?) and is rebuilt in %.0f ms; traffic of the "
                        "last %.1f s before the rebuild could not be counted", took,
                        time.time() - self.last_poll)

    def on_notifications(self) -> None:
        """The kernel told us about our table: rebuild at once if it was deleted."""
        with self.lock:
            gone = self.watch.read() if self.watch else []
            if gone:
                self.step("table check", lambda: self.check_table(gone))

    def on_newcomers(self) -> None:
        """The kernel learnt a neighbour on the LAN: register it now if it is new (milliseconds after
        its first ARP, not a poll later)."""
        macs = self.newcomers.read() if self.newcomers else set()
        if macs - set(self.known):
            with self.lock:
                self.step("discovery", self.discover)

    def rollover(self) -> None:
        if self.hs.rollover_if_due():
            self.commit()  # a period's final figures go to flash at once

    def check_devices(self) -> None:
        present = self.hs.shaper.present()
        if present != self.devices:
            if self.devices is not None:
                log.info("devices present now: %s", ", ".join(present) or "none")
            self.hs.reshape()
            self.devices = present

    def account(self) -> None:
        with self.hs.store.transaction():
            moved = self.hs.account()
        now = time.time()
        seconds = max(0.001, now - self.last_poll)
        # a new dict, swapped in at once: the portal's threads read it without the lock
        self.speeds = {cid: (up * 8 / seconds, down * 8 / seconds) for cid, (up, down) in moved.items()}
        self.last_poll = now
        if self.ghost is not None and self.ghost.add(moved, self.hs.clock()):
            self.ghost_due = True

    def retain(self) -> None:
        """client_retention: forget the devices with no traffic for that long, a few at a time, once
        a minute (at once again while a look finds more than a step's worth)."""
        if time.monotonic() < self.retain_next:
            return
        done = self.hs.retain()
        self.retain_next = time.monotonic() + (0 if len(done) >= retention.STEP else RETENTION_INTERVAL)

    def notice_forgotten(self) -> None:
        """Devices were forgotten (retention, the admin UI, hotspotctl in another process): discovery
        may register their MACs again, as new devices, and the ghost-traffic bins of their ids go."""
        ids = self.hs.notice_forgotten()
        if ids is None:
            return
        self.known = {c.mac: (c.hostname, sorted(c.ips)) for c in self.hs.store.clients()}
        if self.ghost is not None:
            self.ghost.forget(set(self.ghost.bins) - ids)

    def discover(self) -> None:
        """Register MACs seen in the unknown set, the neighbour table or the leases; keep names fresh."""
        found: dict[str, dict] = {}
        for mac in self.hs.nft.unknown_macs():
            found.setdefault(mac, {"ips": [], "hostname": None})
        for mac, ips in neighbours(self.cfg.lan_device).items():
            found.setdefault(mac, {"ips": [], "hostname": None})["ips"] += ips
        for mac, (ip, hostname) in self.leases.read().items():
            entry = found.setdefault(mac, {"ips": [], "hostname": None})
            entry["hostname"] = hostname
            if ip not in entry["ips"]:
                entry["ips"].append(ip)
        changed = {mac: info for mac, info in found.items() if self._changed(mac, info)}
        if not changed:
            return
        new = self.hs.register(changed)
        for c in new:
            log.info("new client %s (%s) id %d", c.mac, c.hostname or "no hostname", c.id)
        if self.ghost is not None and new:
            self.ghost.forget({c.id for c in new})  # an id given again starts with no bins
        self.known = {c.mac: (c.hostname, sorted(c.ips)) for c in self.hs.store.clients()}

    def _changed(self, mac: str, info: dict) -> bool:
        if mac not in self.known:
            return True
        hostname, ips = self.known[mac]
        return bool(info["hostname"] and info["hostname"] != hostname
                    or info["ips"] and sorted(info["ips"]) != ips)

    def commit(self, force: bool = False) -> bool:
        """Copy the database to flash. A failure is loud and contained: counting and enforcement go on
        in the working copy in RAM, and the copy is tried again after COMMIT_RETRY (or commit_interval
        if shorter), not at every poll or alert (unless `force`: SIGHUP, the stop); the first that
        succeeds has every byte."""
        now = time.monotonic()
        if self.commit_failures and not force and now < self.next_commit:
            return False
        try:
            self.hs.commit()
        except (OSError, sqlite3.Error) as e:
            self.commit_failures += 1
            retry = min(self.cfg.commit_interval, COMMIT_RETRY)
            self.next_commit = now + retry
            last = iso(float(self.hs.store.get("last_commit") or 0))
            loss = f"what was counted since {last}" if last else "all it counted (no commit made it yet)"
            log.error("commit to %s failed: %s; counting goes on in RAM (%s), but a power cut now would "
                      "lose %s; trying again in %g s", self.cfg.state_dir, getattr(e, "strerror", None) or e,
                      self.cfg.run_dir, loss, retry)
            return False
        if self.commit_failures:
            log.warning("committed again to %s after %d failed tries", self.cfg.state_dir,
                        self.commit_failures)
            self.commit_failures = 0
        self.next_commit = now + self.cfg.commit_interval
        log.debug("committed to %s", self.cfg.state_dir)
        return True

    def reload(self) -> None:
        """SIGHUP: commit now, and the snooper reads its categories list again."""
        with self.lock:
            self.commit(force=True)
        self.step("dns snooper reload", self.reload_snoop)

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            self.poll()
            # Wake at the next poll, or exactly at the period's end if that comes first, or at once
            # when the kernel notifies a change to our table, or on a signal.
            _start, end = self.hs.period()
            cycle = self.hs.plan.cycle()
            if cycle and self.cfg.plan_period != "pass":
                end = min(end, cycle[1])
            deadline = started + min(self.cfg.poll_interval, max(0.0, end - self.hs.clock()))
            while not self.stop.is_set():
                if self.hup:
                    self.hup = False
                    self.reload()
                wait = deadline - time.monotonic()
                if wait <= 0:
                    break
                waiting = [self._wake_r] + [w for w in (self.watch, self.newcomers) if w]
                ready, _, _ = select.select(waiting, [], [], wait)
                if self._wake_r in ready:
                    os.read(self._wake_r, 64)
                if self.watch in ready:
                    self.on_notifications()
                if self.newcomers in ready:
                    self.on_newcomers()
        self.stop_portal()
        if self.snoop:
            self.step("dns snooper stop", self.snoop.stop)
        self.step("outbox stop", self.outbox.stop)
        with self.lock:
            self.step("accounting", self.account)
            self.step("app categories", lambda: self.read_apps(now=True))
            committed = self.commit(force=True)
        if committed:
            log.info("stopped; usage committed to %s", self.cfg.state_dir)
        else:
            log.error("stopped; usage is not on flash, only in RAM (%s): a restart takes it from there, a "
                      "reboot loses it", self.cfg.run_dir)


def _ghost_settings(cfg):
    from hotspot.ghost.watch import settings_of

    return settings_of(cfg) if cfg.ghost else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="hotspotd", description="hotspot daemon: counts, caps and throttles "
                                "LAN clients in the kernel.")
    p.add_argument("-c", "--config", default=DEFAULT_PATH, help=f"UCI config file (default {DEFAULT_PATH})")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("--version", action="version", version=f"hotspotd {__version__}")
    args = p.parse_args(argv)
    setup_logging(args.verbose)
    try:
        cfg = load(args.config)
    except ConfigError as e:
        for line in e.errors:  # every mistake in the file, in file order
            log.error("%s", line)
        return 2

    # Nothing hotspotd writes is for other users (the database holds every client's usage), but the
    # portal's user must reach the socket in run_dir: it may pass through, not list (the store makes
    # run_dir so, or refuses one another user could change).
    os.umask(0o077)
    try:
        hs = Hotspot(cfg)
    except OSError as e:  # e.g. UnsafePath: a run_dir or state_dir another user could change
        log.error("%s", e)
        return 1
    offloads = flow_offloading(hs)
    if offloads:
        log.error(FLOW_OFFLOAD_HELP.format(where="; ".join(offloads)))
        return 1
    other = daemon_pid(cfg)
    if other and other != os.getpid():
        log.error("hotspotd is already running (pid %d)", other)
        return 1
    pidfile = Path(cfg.run_dir) / "hotspotd.pid"
    write_atomic(pidfile, f"{os.getpid()}\n", 0o600, keep=False)
    remove_old_copies(cfg.run_dir)

    daemon = Daemon(hs)
    def stop(*_):
        daemon.stop.set()
        daemon.wake()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    def hup(*_):
        # Not here: the handler runs between two bytecodes of the poll, maybe inside its transaction,
        # which a commit's copy would wait for (for ever) or copy halfway.
        daemon.hup = True
        daemon.wake()

    signal.signal(signal.SIGHUP, hup)
    try:
        daemon.start()
        log.info("hotspotd %s: lan %s, wan %s, polling every %gs", __version__, cfg.lan_device,
                 ",".join(cfg.wan_device), cfg.poll_interval)
        daemon.run()
    finally:
        pidfile.unlink(missing_ok=True)
        hs.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
