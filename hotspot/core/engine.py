"""The core every capability stands on: the settings, the database, the clock, the kernel, one lock.

A keeper gets the core, never another keeper's insides: what a capability needs of the kernel it asks
of `core.nft` (hotspot/kernel/nft.py, the only module that talks to nftables) and `core.tc`. The core
knows no feature: the house (hotspot/house.py) tells it how to make the kernel handle and what a table
is built for.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from typing import Callable

from hotspot.core.clock import boot_id, default_clock, trusted_now
from hotspot.core.store import Store
from hotspot.kernel.dumps import NftError
from hotspot.kernel.nft import Nft
from hotspot.kernel.tc import Shaper


class Core:
    """One router's settings (`cfg`), database (`store`), clock and kernel handles (`nft`, `tc`).

    `lock` serialises what changes the database and the kernel: hotspotd's poll and the socket's
    operations take it; a client's own page reads through `reader()` without it. `built_for(cfg)`
    says what a table is built for (the config's parts that live in its rules, not its elements);
    `kernel(cfg)` makes the nftables handle.
    """

    def __init__(self, cfg, *, clock: Callable[[], float] = default_clock, nft: Nft | None = None,
                 kernel: Callable[[object], Nft] | None = None,
                 built_for: Callable[[object], str] = lambda cfg: "") -> None:
        self.cfg = cfg
        self.clock = clock
        self.store = Store.open(cfg.run_dir, cfg.state_dir)
        self.tc = Shaper(cfg.lan_device, list(cfg.wan_device))
        self.lock = threading.RLock()
        self._nft = nft
        self._kernel = kernel or (lambda cfg: Nft())
        self._built_for = built_for
        self._trusted: tuple[float, float] | None = None  # (trusted time, time.monotonic() then)
        self._readers = threading.local()

    @property
    def nft(self) -> Nft:
        if self._nft is None:
            self._nft = self._kernel(self.cfg)
        return self._nft

    def transaction(self):
        return self.store.transaction()

    def reader(self) -> Store:
        """A read-only connection of this thread's own (WAL: it neither waits for the poll nor holds
        it up), for the socket's threads that read a client's own page."""
        r = getattr(self._readers, "store", None)
        if r is None:
            r = self._readers.store = Store(self.store.path, readonly=True)
        return r

    def close(self) -> None:
        self.store.close()

    # -- the table the database follows ------------------------------------------------------------

    def identity(self, handle: int | None) -> str | None:
        """What the database records of the table it follows: this boot, its handle, then what the
        table was built for."""
        if handle is None:
            return None
        return f"{boot_id()}/{handle}/{self.cfg.ct_mark_mask:#x}/{self._built_for(self.cfg)}"

    def table_is_ours(self, handle: int | None = None) -> bool:
        """True when the kernel table (`handle`, default: looked up) is the one whose counters the
        database follows, built for this config."""
        ours = self.store.get("table")
        if ours is None:
            return False
        return ours == self.identity(self.nft.table_handle() if handle is None else handle)

    def followed(self) -> str:
        """This boot and handle of the table the database followed, whatever it was built for."""
        return "/".join((self.store.get("table") or "").split("/")[:2])

    def follow(self, handle: int) -> None:
        """The database follows this table from now on (the caller holds a transaction)."""
        self.store.set("table", self.identity(handle))

    def distrust_table(self, why: str) -> None:
        """The table no longer matches the database: hotspotd builds it again at its next poll
        (keeping what it counted: the record still names this boot and handle)."""
        import logging

        logging.getLogger("hotspot").error("%s; the table is rebuilt from the database", why)
        self.store.set("table", f"{self.store.get('table')}/stale")

    def live_objects(self) -> dict[str, int]:
        """The kernel's counters and quotas, or {} when there is no table we follow (or we may not
        read it)."""
        try:
            return self.nft.read_objects() if self.table_is_ours() else {}
        except (NftError, PermissionError):
            return {}

    # -- time ------------------------------------------------------------------------------------------

    def trusted_time(self) -> float:
        """The time to file usage at (hotspot.core.clock.trusted_now). While the wall clock is behind
        the last trusted time (a router without a real-time clock, before NTP syncs), time goes on
        from there by the monotonic clock, which no step of the wall clock moves: an hour's bytes stay
        in their hour, and a period ends when it really does."""
        last_good = float(self.store.get("last_good", "0"))
        now, ok = trusted_now(self.clock(), last_good)
        mono = time.monotonic()
        if ok:
            self._trusted = (now, mono)
        else:
            if self._trusted is None:  # this process never saw a trusted time: from the last on record
                self._trusted = (last_good, mono)
            wall, at = self._trusted
            now = max(last_good, wall + mono - at)
        self.store.set("last_good", now)
        return now

    # -- flash ---------------------------------------------------------------------------------------

    def commit(self) -> None:
        """Copy the database to flash, stamped with the time; the working copy records it once the copy
        made it (a full run_dir, where it cannot, does not keep the copy from the flash)."""
        now = self.clock()
        self.store.commit_to(self.cfg.state_dir, {"last_commit": now})
        with contextlib.suppress(sqlite3.OperationalError), self.store.transaction():
            self.store.set("last_commit", now)


class Keeper:
    """What every capability's keeper is: given the core, and reading its settings and database."""

    def __init__(self, core: Core) -> None:
        self.core = core

    @property
    def cfg(self):
        return self.core.cfg

    @property
    def store(self) -> Store:
        return self.core.store
