"""The DNS snooper's process (hotspot/apps/snoop/snooper.py), started and watched by hotspotd.

It is a child of its own so that a crash, a stall or its memory never touch counting or
enforcement: hotspotd only starts it, starts it again with a back-off when it exits, forwards its
reload (SIGHUP: the categories list again) and stops it. The kernel sends it SIGTERM when hotspotd
dies, even by kill -9, so a new hotspotd never finds an old snooper still capturing.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time

log = logging.getLogger("hotspot")

PR_SET_PDEATHSIG = 1
RESTART_DELAYS = (1, 2, 5, 10, 30, 60)  # back-off for a snooper that keeps exiting
STABLE_SECONDS = 60  # a snooper that ran this long starts again without waiting


def _die_with_parent():
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec() -> None:  # in the child, between fork and exec
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # hotspotd died before prctl took effect
            os._exit(1)

    return preexec


class SnoopProcess:
    def __init__(self, config_path: str) -> None:
        self.config_path = config_path
        self.proc: subprocess.Popen | None = None
        self.started = 0.0
        self.failures = 0
        self.next_start = 0.0

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "hotspot.apps.snoop.snooper", "-c", self.config_path]

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, cwd="/",
                                     preexec_fn=_die_with_parent())
        self.started = time.monotonic()
        log.info("dns snooper started (pid %d)", self.proc.pid)

    def check(self) -> None:
        """Start it if it is not running (with a back-off if it keeps exiting)."""
        now = time.monotonic()
        if self.proc is not None and self.proc.poll() is None:
            return
        if self.proc is not None and not self.next_start:
            if now - self.started >= STABLE_SECONDS:
                self.failures = 0
            delay = RESTART_DELAYS[min(self.failures, len(RESTART_DELAYS) - 1)]
            log.error("the dns snooper exited with status %s; starting it again in %g s",
                      self.proc.returncode, delay)
            self.failures += 1
            self.next_start = now + delay
        if now >= self.next_start:
            self.next_start = 0.0
            self.start()

    def reload(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
