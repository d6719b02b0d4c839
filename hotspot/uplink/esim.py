"""The eSIM's profiles for the owner: listed, enabled, named, through lpac (hotspot.uplink.lpac).

Enabling a profile is all it takes to change plans: the modem refreshes its SIM, ModemManager reads
the new ICCID, and hotspotd's reading of the modem follows it. One lpac at a time, hotspotd's and
hotspotctl's alike (a lock file in run_dir): the eUICC answers one logical channel.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from contextlib import contextmanager

from hotspot.core.contract import BackendError
from hotspot.core.engine import Keeper
from hotspot.core.units import InvalidValue
from hotspot.uplink.lpac import TIMEOUT, Lpac, LpacError

log = logging.getLogger("hotspot")

FRESH = 30.0  # seconds a listing serves the Plan page before lpac is asked again
LIST_TIMEOUT = 15.0  # seconds for each lpac run of a listing: the Plan page waits for it


class Esim(Keeper):
    """`enabled()`: what follows a profile enabled (the house wakes the modem thread)."""

    def __init__(self, core, enabled=lambda: None) -> None:
        super().__init__(core)
        self.enabled = enabled
        self._lock = threading.Lock()
        self._listed: tuple[float, dict] | None = None  # (monotonic time, the listing)

    def lpac(self, timeout: float = TIMEOUT) -> Lpac:
        return Lpac(self.cfg.esim_lpac, self.cfg.esim_apdu, timeout)

    @contextmanager
    def _one_at_a_time(self):
        with self._lock:
            try:
                fd = os.open(os.path.join(self.cfg.run_dir, "lpac.lock"),
                             os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            except FileNotFoundError:  # no run_dir: hotspotd has never run, nobody else is asking
                yield
                return
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    def listing(self) -> dict:
        """{"available": lpac is installed, "eid", "profiles": [Profile.as_dict()], "error": one line
        or None}, read now."""
        lpac = self.lpac(LIST_TIMEOUT)
        if not lpac.available():
            return {"available": False, "eid": None, "profiles": [], "error": None}
        try:
            with self._one_at_a_time():
                eid = lpac.chip_eid()
                profiles = [p.as_dict() for p in lpac.profiles()]
        except LpacError as e:
            return {"available": True, "eid": None, "profiles": [], "error": str(e)}
        return {"available": True, "eid": eid, "profiles": profiles, "error": None}

    def enable(self, iccid: str) -> None:
        """Enable the profile; LpacError or InvalidValue (nothing done) otherwise."""
        lpac = self.lpac()
        with self._one_at_a_time():
            lpac.enable(iccid)
        self._listed = None
        self.enabled()  # the modem thread reads now: the plan follows as soon as ModemManager says so
        log.info("esim: profile %s enabled; the modem switches to it", iccid)

    def nickname(self, iccid: str, name: str) -> None:
        lpac = self.lpac()
        with self._one_at_a_time():
            lpac.nickname(iccid, name)
        self._listed = None

    # -- the socket's operations -------------------------------------------------------------------

    def esim(self) -> dict:
        listed = self._listed
        if listed is None or time.monotonic() - listed[0] > FRESH or listed[1]["error"]:
            listed = self._listed = (time.monotonic(), self.listing())
        return listed[1]

    def esim_enable(self, iccid) -> dict:
        try:
            self.enable(iccid)
        except (InvalidValue, LpacError) as e:
            raise BackendError(str(e)) from None
        return self.esim()

    def esim_nickname(self, iccid, name) -> dict:
        try:
            self.nickname(iccid, name)
        except (InvalidValue, LpacError) as e:
            raise BackendError(str(e)) from None
        return self.esim()
