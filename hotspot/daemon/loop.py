"""hotspotd's loop: keeps the kernel table loaded and walks the capabilities' steps every poll.

The kernel counts and enforces on its own; the loop only moves what it counted into the database and
keeps the table in line with it (hotspot/house.py says which steps, in which order). Each step is
contained: one failing step is logged and the loop goes on, so a bad lease file or a missing WAN
device never stops the counting. Between polls it waits for the next one, the period's end, the
kernel's notice that the table went or a new device came, or a signal.
"""

from __future__ import annotations

import logging
import os
import pwd
import select
import socket
import sqlite3
import threading
import time

from hotspot.config import ConfigError, load
from hotspot.core import parts
from hotspot.core.contract import socket_path
from hotspot.core.units import iso
from hotspot.daemon.portal import PortalProcess, bind_addresses
from hotspot.daemon.server import IpcServer
from hotspot.house import House
from hotspot.kernel.neighbours import NeighbourWatch, addresses
from hotspot.kernel.watch import TableGone, TableWatch

log = logging.getLogger("hotspot")

# A poll's step that keeps failing the same way is logged again after this many seconds.
REPEAT_LOG = 600.0
# A commit to flash that failed (the flash full, read-only, worn out) is tried again this often at most.
COMMIT_RETRY = 60.0


class Daemon:
    def __init__(self, house: House) -> None:
        self.house = house
        self.stop = threading.Event()
        self.hup = False  # SIGHUP came: commit and reload between two polls (see main)
        self.next_commit = time.monotonic() + self.cfg.commit_interval
        self.commit_failures = 0  # commits to flash that failed in a row
        self.failing: dict[str, tuple] = {}  # step -> (its failure, when last logged, failures since)
        self.watch: TableWatch | None = None
        self.newcomers: NeighbourWatch | None = None  # wakes discovery when a new device appears
        self._wake_r, self._wake_w = os.pipe()  # a signal handler writes here to end the wait at once
        os.set_blocking(self._wake_w, False)
        self.started = time.time()
        self.poll_seconds = 0.0
        self.rebuilds = 0
        self.ipc: IpcServer | None = None
        self.portal: PortalProcess | None = None  # HTTP, and HTTPS when the config gives a certificate
        self.config_mtime: int | None = None
        house.health = self.health
        house.portal_url = self.portal_url
        house.portal_hosts = self.portal_hosts
        house.on_config = self.apply_config

    @property
    def cfg(self):
        return self.house.cfg

    @property
    def lock(self) -> threading.RLock:
        return self.house.core.lock

    def wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass

    def start(self) -> None:
        house = self.house
        try:
            self.watch = TableWatch()  # first: a deletion between the load and the watch is not missed
        except OSError as e:
            log.warning("no nftables notifications (%s): a deleted table is rebuilt at the next poll", e)
        if house.counting.ensure_table():
            log.info("loaded table inet hotspot with %d clients", len(house.store.clients()))
        else:
            log.info("table inet hotspot still loaded: counting went on while hotspotd was down")
            house.captive.sync_http()  # who is capped may have changed meanwhile
        self.step("holds", house.counting.release_holds)
        try:
            self.newcomers = NeighbourWatch(self.cfg.lan_device)
        except OSError as e:
            log.warning("no neighbour notifications (%s): new devices are registered at the next poll", e)
        house.counting.rollover_if_due()
        self.say_parts_off()
        for keeper in (house.ghost, house.discovery, house.alerts, house.uplink, house.carrier, house.admin):
            keeper.start()

    def say_parts_off(self) -> None:
        """One line for each part the settings ask for that this router lacks (OpenWrt packages them
        apart); counting and enforcement do not need them."""
        wanted = {"portal": self.cfg.portal_port != 0, "dns_snooper": self.cfg.dns_snoop}
        for part, on in wanted.items():
            if on and not parts.installed(part):
                log.warning("%s", parts.why_off(part))

    def step(self, name: str, fn) -> object:
        """One step of the poll, contained: a failure is logged and the next poll tries again. A step
        that keeps failing the same way is logged again only every REPEAT_LOG seconds (a router's log
        is a small ring buffer: it must keep what came before), and once when it works again."""
        try:
            done = fn()
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
            return None
        if name in self.failing:
            log.warning("%s works again", name)
            del self.failing[name]
        return done

    def health(self) -> dict:
        return {"last_poll": iso(self.house.last_poll), "poll_seconds": self.poll_seconds,
                "rebuilds": self.rebuilds, "uptime_seconds": time.time() - self.started}

    # -- the poll ---------------------------------------------------------------------------------------

    def poll(self) -> None:
        started = time.monotonic()
        self.step("config", self.reload_config)
        with self.lock:
            self.step("table check", self.check_table)
            for s in self.house.steps():
                if self.step(s.name, s.run) and s.commit:
                    self.commit()  # what it did goes to flash at once
            if time.monotonic() >= self.next_commit:
                self.commit()
        self.poll_seconds = time.monotonic() - started
        self.step("portal", self.serve_portal)
        self.step("dns snooper", self.house.apps.supervise_snoop)

    def check_table(self, gone: list[TableGone] = ()) -> None:
        started = time.monotonic()
        if self.watch and not gone:
            # A poll may find the table gone before the loop read the kernel's notice: read it
            # now, or the rebuilt table would count as ours and the notice's counters be lost.
            gone = self.watch.read()
        if not self.house.counting.ensure_table(gone):
            return
        took = (time.monotonic() - started) * 1000
        self.rebuilds += 1
        if any(g.handle is not None for g in gone):
            log.warning("table inet hotspot was deleted (flushed?) and is rebuilt in %.0f ms; what it had "
                        "counted since the last poll is kept", took)
        else:
            log.warning("table inet hotspot was gone (flushed?) and is rebuilt in %.0f ms; traffic of the "
                        "last %.1f s before the rebuild could not be counted", took,
                        time.time() - self.house.last_poll)

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
        if self.house.discovery.new_macs(macs):
            with self.lock:
                self.step("discovery", self.house.discovery.discover)

    def commit(self, force: bool = False) -> bool:
        """Copy the database to flash. A failure is loud and contained: counting and enforcement go on
        in the working copy in RAM, and the copy is tried again after COMMIT_RETRY (or commit_interval
        if shorter), not at every poll or alert (unless `force`: SIGHUP, the stop); the first that
        succeeds has every byte."""
        now = time.monotonic()
        if self.commit_failures and not force and now < self.next_commit:
            return False
        try:
            self.house.core.commit()
        except (OSError, sqlite3.Error) as e:
            self.commit_failures += 1
            retry = min(self.cfg.commit_interval, COMMIT_RETRY)
            self.next_commit = now + retry
            last = iso(float(self.house.store.get("last_commit") or 0))
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

    # -- settings ---------------------------------------------------------------------------------------

    def apply_config(self, cfg) -> None:
        """Settings the admin changed: every client's kernel state moves to them at once."""
        with self.lock:
            self.house.set_config(cfg)
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
        if cfg != self.house.base_cfg:
            self.apply_config(cfg)

    def reload(self) -> None:
        """SIGHUP: commit now, and the snooper reads its categories list again."""
        with self.lock:
            self.commit(force=True)
        self.step("dns snooper reload", self.house.apps.reload_snoop)

    # -- the portal ------------------------------------------------------------------------------------

    def serve_portal(self) -> None:
        """The socket, then gunicorn on the LAN's addresses (once the LAN device has one)."""
        if self.cfg.portal_port == 0 or not parts.installed("portal"):
            return
        if self.ipc is None:
            try:
                peers = {0: "root", pwd.getpwnam(self.cfg.portal_user).pw_uid: "portal"}
            except KeyError:  # the portal cannot start either: PortalProcess says why
                peers = {0: "root"}
            self.ipc = IpcServer(socket_path(self.cfg.run_dir), self.house.answers(), peers=peers)
            self.ipc.start()
        if self.portal is None:
            found = addresses(self.cfg.lan_device)
            if not found:
                return  # the LAN has no address yet: the next poll tries again
            tls = (self.cfg.tls_cert, self.cfg.tls_key) if self.cfg.tls_cert and self.cfg.tls_key else None
            self.portal = PortalProcess(user=self.cfg.portal_user, run_dir=self.cfg.run_dir,
                                        binds=bind_addresses(found, self.cfg.portal_port),
                                        socket_path=str(self.ipc.path), tls=tls, tls_port=self.cfg.tls_port,
                                        tls_binds=bind_addresses(found, self.cfg.tls_port) if tls else [])
            self.portal.kill_leftover()
        self.portal.check()  # started, or started again (with a back-off), or told why it cannot be

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
        if self.portal:
            self.step("portal stop", self.portal.stop)
        if self.ipc:
            self.step("ipc stop", self.ipc.close)

    # -- the loop -------------------------------------------------------------------------------------

    def run(self) -> None:
        house = self.house
        while not self.stop.is_set():
            started = time.monotonic()
            self.poll()
            # Wake at the next poll, or exactly at the period's end if that comes first, or at once
            # when the kernel notifies a change to our table, or on a signal.
            _start, end = house.clients.period()
            cycle = house.plan.cycle()
            if cycle and self.cfg.plan_period != "pass":
                end = min(end, cycle[1])
            deadline = started + min(self.cfg.poll_interval, max(0.0, end - house.clock()))
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
        self.step("dns snooper stop", house.apps.stop)
        self.step("outbox stop", house.alerts.stop)
        house.uplink.stop()
        house.carrier.stop()
        with self.lock:
            self.step("accounting", house.account)
            self.step("app categories", lambda: house.apps.read(now=True))
            committed = self.commit(force=True)
        if committed:
            log.info("stopped; usage committed to %s", self.cfg.state_dir)
        else:
            log.error("stopped; usage is not on flash, only in RAM (%s): a restart takes it from there, a "
                      "reboot loses it", self.cfg.run_dir)
