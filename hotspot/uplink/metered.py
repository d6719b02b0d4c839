"""Tell the LAN's clients whether the uplink in use is metered: DHCP option 43 "ANDROID_METERED".

Android treats a network whose DHCP lease carries vendor-specific information (option 43) containing
ANDROID_METERED as metered, and then defers background downloads, app updates and backups; so does
NetworkManager, when the option reaches it (it does not ask for it: see below). While the active uplink
is metered (LTE on a data plan), hotspotd puts the option into a dnsmasq `--dhcp-optsfile` and makes
dnsmasq re-read it (SIGHUP); when the router switches to an unmetered uplink it empties the file again.
Clients learn of either change at their next lease renewal (T1, half the lease time by default): DHCP
has no way to push a change.

How dnsmasq takes it (checked against dnsmasq 2.90 in the lab, tests/lab/uplink/test_metered.py):
- An optsfile line has the syntax of the value of --dhcp-option: `43,ANDROID_METERED` sends option 43
  with those 15 bytes of text. dnsmasq re-reads the file on SIGHUP (and only then: the main
  configuration is not re-read); a file missing at start is only logged.
- Lines in an optsfile are never "forced": dnsmasq sends their options only to clients that list them
  in their parameter request list. `--dhcp-option-force` has no optsfile form (a leading `force,` is
  taken as a tag name, and the option is then never sent). Android asks for option 43; NetworkManager
  does not (its DHCP client leaves 43 out of its request list), so this reaches Android, not
  NetworkManager. Forcing it would take a static `dhcp-option-force=43,ANDROID_METERED` in dnsmasq's
  configuration, i.e. a dnsmasq restart at each switch, not a SIGHUP.

Setup on OpenWrt: its /etc/config/dhcp has no option for an optsfile, so it is one line of dnsmasq's own
syntax in /etc/dnsmasq.conf (which the init script passes with --conf-file):
    echo 'dhcp-optsfile=/var/run/dnsmasq/hotspot.opts' >> /etc/dnsmasq.conf
    /etc/init.d/dnsmasq restart
hotspotd then writes /var/run/dnsmasq/hotspot.opts and sends SIGHUP to the dnsmasq instances whose pid
files match /var/run/dnsmasq/dnsmasq.*.pid (OpenWrt names them after the UCI section). Why there: procd
runs dnsmasq in a ujail, with its own mount and pid namespaces; it sees only the paths its init script
mounts, /var/run/dnsmasq/ among them, and the pid in its pid file is its pid inside the jail (1), so
hotspotd looks for the dnsmasq process whose innermost pid (NSpid in /proc/PID/status) is that one.
"""

from __future__ import annotations

import glob
import logging
import os
import signal
import socket

from hotspot.core.files import write_atomic
from hotspot.kernel.routes import default_route_device

log = logging.getLogger("hotspot")

OPTION_43_METERED = "43,ANDROID_METERED\n"  # a dnsmasq --dhcp-optsfile line
OPTS_FILE = "/var/run/dnsmasq/hotspot.opts"
DNSMASQ_PIDFILES = "/var/run/dnsmasq/dnsmasq.*.pid"


def active_uplink(metered: list[str], unmetered: list[str]) -> tuple[str | None, bool]:
    """(device, metered?) of the uplink that carries the default route: IPv4's, else IPv6's.

    A device in `unmetered` is unmetered; any other one counts as metered, listed in `metered` or not.
    An unlisted device is most often a tunnel (WireGuard, OpenVPN) or a new uplink whose bytes in the end
    cross the LTE modem: saying "metered" by mistake only defers some downloads, saying "unmetered" by
    mistake spends the data plan. No default route at all: (None, False), nothing to hint about.
    """
    dev = default_route_device(socket.AF_INET) or default_route_device(socket.AF_INET6)
    if dev is None:
        return None, False
    return dev, dev not in unmetered


def opts_text(metered: bool) -> str:
    """The optsfile's whole content: the option-43 line while metered, nothing otherwise."""
    return OPTION_43_METERED if metered else ""


class DhcpHint:
    """The metered hint in dnsmasq's optsfile. set() writes the file (atomically) and signals dnsmasq
    only when the content changes, so it may be called every poll. `dnsmasq_pidfile` may be a glob
    pattern: every dnsmasq whose pid file matches is signalled."""

    def __init__(self, opts_file: str = OPTS_FILE, dnsmasq_pidfile: str = DNSMASQ_PIDFILES):
        self.opts_file = opts_file
        self.dnsmasq_pidfile = dnsmasq_pidfile
        self._unsignalled = False  # written, but no dnsmasq told yet: tell it at the next set()
        self._quiet = False  # "no dnsmasq to signal" was logged once already

    def set(self, metered: bool) -> bool:
        """Hint `metered` to clients from their next renewal on; True if the file changed. OSError
        (one line) if the file cannot be written, e.g. its directory is missing (no dnsmasq)."""
        text = opts_text(metered)
        changed = self._read() != text
        if changed:
            self._write(text)
            self._unsignalled = True
            log.info("DHCP metered hint %s", "on (option 43 ANDROID_METERED)" if metered else "off")
        if self._unsignalled:
            self._unsignalled = not self._signal()
        return changed

    def _read(self) -> str | None:
        try:
            with open(self.opts_file) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def _write(self, text: str) -> None:
        """Atomically (dnsmasq never reads half a file), through a new file of a unique name: the
        directory may belong to dnsmasq's user. 0644: dnsmasq re-reads it after dropping root."""
        try:
            write_atomic(self.opts_file, text, 0o644, keep=False)
        except OSError as e:
            raise OSError(e.errno, f"cannot write {self.opts_file}: {e.strerror}") from None

    def _signal(self) -> bool:
        """SIGHUP every running dnsmasq named by the pid file(s); True if at least one got it."""
        told = 0
        pids = {pid for path in glob.glob(self.dnsmasq_pidfile) for pid in dnsmasq_pids(path)}
        for pid in sorted(pids):
            try:
                os.kill(pid, signal.SIGHUP)
                told += 1
            except ProcessLookupError:
                pass
        if not told and not self._quiet:
            log.debug("no running dnsmasq at %s to re-read %s; it reads it when it starts",
                      self.dnsmasq_pidfile, self.opts_file)
            self._quiet = True
        elif told:
            self._quiet = False
        return bool(told)


def dnsmasq_pids(pidfile: str, proc: str = "/proc") -> list[int]:
    """The dnsmasq process(es) that a dnsmasq pid file names, as pids of our pid namespace.

    Usually the pid in the file itself. A jailed dnsmasq (OpenWrt's ujail) wrote its pid inside the jail,
    so then: each dnsmasq whose innermost pid is that one (two jails may both hold a pid 1: both are
    named). Never a process that is not a dnsmasq: a stale pid file may name a pid that another program
    has now, and SIGHUP would end most programs."""
    try:
        with open(pidfile) as f:
            pid = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    if _comm(proc, pid) == "dnsmasq" and _nspid(proc, pid) == [pid]:
        return [pid]
    found = []
    for entry in os.listdir(proc):
        if entry.isdigit() and _comm(proc, int(entry)) == "dnsmasq":
            ns = _nspid(proc, int(entry))
            if len(ns) > 1 and ns[-1] == pid:
                found.append(int(entry))
    return found


def _comm(proc: str, pid: int) -> str | None:
    try:
        with open(f"{proc}/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def _nspid(proc: str, pid: int) -> list[int]:
    """The process's pid in each pid namespace it is in, ours first ("NSpid:" in /proc/PID/status)."""
    try:
        with open(f"{proc}/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return [int(x) for x in line.split()[1:]]
    except (OSError, ValueError):
        pass
    return []
