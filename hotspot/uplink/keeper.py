"""The uplink: the modem as ModemManager reports it (its own thread: a D-Bus call may take its
timeout, the poll never waits), whether the uplink in use is metered (DHCP option 43 for Android),
the other counts of the plan's bytes, and dnsmasq, which the clients need and procd runs."""

from __future__ import annotations

import glob
import json
import logging
import os
import threading
import time

from hotspot.alerts.language import words
from hotspot.core.engine import Keeper
from hotspot.uplink import next_sim
from hotspot.uplink.metered import DhcpHint, active_uplink, dnsmasq_pids
from hotspot.uplink.modem import interface_bytes

log = logging.getLogger("hotspot")

# Seconds between readings of the modem (HOTSPOT_MODEM_INTERVAL: tests read it more often).
MODEM_INTERVAL = float(os.environ.get("HOTSPOT_MODEM_INTERVAL", "15"))
# Seconds between looks at dnsmasq (on OpenWrt a look reads /proc: procd jails it in a pid namespace).
DNSMASQ_WATCH = 5.0


class Uplink(Keeper):
    def __init__(self, core, plan, *, sim_seen=lambda iccid, operator, sim_type: False,
                 roamed=lambda roaming, operator: None, on_signal=lambda: None) -> None:
        super().__init__(core)
        self.plan = plan
        self.sim_seen = sim_seen  # the SIM read now: its plan comes in force (the house's use_sim)
        self.roamed = roamed  # roaming began or ended: the owner is told
        self.on_signal = on_signal  # ModemManager signalled: others look too (the carrier's SMS)
        self.info: dict | None = None  # hotspotd's last reading of the modem (None: none yet)
        self._reading: tuple | None = None  # (the modem thread's last reading, a Modem or None)
        self._used: tuple | None = None  # the reading the poll last took in
        self._stop = threading.Event()
        self._wake = threading.Event()  # read the modem now: ModemManager signalled a change
        self.dnsmasq_seen: tuple[float, bool | None] = (0.0, None)  # (when looked, running then)
        self.last_modem = None  # the last Modem the poll took in
        self.tell = lambda message: False  # a message to the owner through the alert channels (the house's)
        self._slot_switch: threading.Thread | None = None
        self._slot_switched: tuple | None = None  # (old, new, iccid, error or None), for the poll to tell

    # -- hotspotd ------------------------------------------------------------------------------------

    def start(self) -> None:
        if self.cfg.modem:
            threading.Thread(target=self._read_modem, name="modem", daemon=True).start()
            threading.Thread(target=self._watch_modem, name="modem-signals", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _signalled(self) -> None:
        self._wake.set()
        self.on_signal()

    def read_now(self) -> None:
        """Read the modem at once (another eSIM profile was enabled)."""
        self._wake.set()

    def _watch_modem(self) -> None:
        """ModemManager's signals wake the modem thread (a SIM swapped, roaming begun, a modem gone)."""
        from hotspot.uplink import modem

        while not self._stop.is_set():
            try:
                modem.watch(self._stop, self._signalled)
            except Exception as e:  # contained: watched again shortly; the interval reads go on
                log.debug("modem signals: %s", e)
            self._stop.wait(MODEM_INTERVAL)

    def _read_modem(self) -> None:
        """The modem thread: read ModemManager every MODEM_INTERVAL seconds and leave the reading for
        the poll."""
        from hotspot.uplink import modem

        failed = None
        while not self._stop.is_set():
            try:
                self._reading = (modem.read(),)
                failed = None
            except Exception as e:  # contained: the next reading tries again
                if str(e) != failed:
                    log.warning("modem: %s", e)
                failed = str(e)
            self._wake.wait(MODEM_INTERVAL)
            self._wake.clear()

    def use_modem(self) -> None:
        """The poll takes the modem thread's last reading: status and metrics show it, its roaming
        switches the plan guard's points, its bearer's byte count is compared with ours."""
        reading = self._reading
        if reading is None or reading is self._used:
            return  # none yet, or this one is in already: a reading comes every MODEM_INTERVAL
        self._used = reading
        (m,) = reading
        self.info = m.as_dict() if m else None
        self.last_modem = m
        if m is None:
            return
        self.sim_seen(m.sim_iccid, m.sim_operator_name, m.sim_type)
        with self.core.transaction():
            roamed = self.plan.set_roaming(m.roaming)
            if m.rx_bytes is not None and m.tx_bytes is not None:
                self.plan.meter("modem", m.rx_bytes + m.tx_bytes)
        if roamed:
            self.roamed(m.roaming, m.operator_name)

    def next_sim(self) -> bool:
        """plan_next_sim: at the plan's stop point, the other SIM slot made primary (hotspot.uplink.
        next_sim). The D-Bus call runs in a thread of its own; the next poll tells the owner (True:
        a message was queued)."""
        done, self._slot_switched = self._slot_switched, None
        told = bool(done) and self.tell(next_sim.message(*done, gettext=words(self.cfg.owner_language)._))
        m = self.last_modem
        if m is None or (self._slot_switch and self._slot_switch.is_alive()) or not self.cfg.plan_next_sim:
            return told
        if len(m.sim_slots) < 2:
            return told  # one SIM: nothing to switch to (and no kernel read each poll)
        cycle = self.plan.cycle()
        mark = next_sim.mark(cycle[0] if cycle else None)
        marks = json.loads(self.store.get("next_sim_switched", "[]"))
        if mark in marks:
            return told  # this cycle made its switch
        # the kernel's guard quotas: the stop point's drops the packet that reaches it, so the database's
        # count stays one packet short of it
        guard = self.plan.state(objs=self.core.nft.read_quotas() if self.core.table_is_ours() else {})
        new = next_sim.next_slot(enabled=self.cfg.plan_next_sim, guard=guard,
                                 primary=m.primary_sim_slot, slots=m.sim_slots, switched=False)
        if new is None:
            return told
        with self.core.transaction():
            self.store.set("next_sim_switched", json.dumps((marks + [mark])[-next_sim.KEEP:]))
        old = m.primary_sim_slot
        log.warning("plan: stop point reached on SIM slot %s (%s): switching to SIM slot %s", old,
                    m.sim_iccid, new)

        def switch() -> None:
            from hotspot.uplink.modem import set_primary_sim_slot

            try:
                set_primary_sim_slot(new)
                error = None
            except Exception as e:  # contained: the owner is told why
                log.warning("plan: %s", e)
                error = str(e)
            self._slot_switched = (old, new, m.sim_iccid, error)

        self._slot_switch = threading.Thread(target=switch, name="sim-slot", daemon=True)
        self._slot_switch.start()
        return told

    def meters(self) -> None:
        """The other counts of the plan's bytes, for comparing with ours: the metered uplinks'
        interface counters (they include each frame's link header where there is one) and, with a
        modem, its bearer's count (refreshed by the modem thread)."""
        total = None
        for dev in self.cfg.wan_device:
            found = interface_bytes(dev)
            if found:
                total = (total or 0) + sum(found)
        with self.core.transaction():
            self.plan.meter("interfaces", total)

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

    # -- what status shows ---------------------------------------------------------------------------

    def modem(self) -> dict | None:
        """The modem as hotspotd last read it, or (hotspotctl, without the daemon's reading) read now;
        None without ModemManager or a modem."""
        if self.info is not None or not self.cfg.modem:
            return self.info
        from hotspot.uplink.modem import ModemError, read

        try:
            m = read(timeout=1.0)
        except ModemError as e:
            return {"error": str(e)}
        return m.as_dict() if m else None

    def uplinks(self, present: set[str]) -> list[dict]:
        """Each uplink: present, metered, and whether it carries the default route now."""
        try:
            active = active_uplink(list(self.cfg.wan_device), list(self.cfg.unmetered_device))[0]
        except OSError:
            active = None
        return [{"device": d, "present": d in present, "metered": d in self.cfg.wan_device,
                 "active": d == active}
                for d in (*self.cfg.wan_device, *self.cfg.unmetered_device)]

    def send_sms(self, number: str, text: str) -> None:
        """SMS alerts go out through the modem (ModemManager's messaging), one message each."""
        from hotspot.uplink.modem import fit_sms, send_sms

        send_sms(number, fit_sms(text))
