"""Who is on the LAN: the neighbour table (every client, static addresses too) and dnsmasq's leases
(hostnames). Hostnames come from DHCP, so from the client: they are cleaned here, once, and
must still be escaped wherever they are shown."""

from __future__ import annotations

import ipaddress
import logging
import os
import re

from hotspot.core.engine import Keeper
from hotspot.core.units import InvalidValue, parse_mac
from hotspot.kernel.neighbours import neighbours

log = logging.getLogger("hotspot")

_HOSTNAME_BAD = re.compile(r"[^\w.\- ]", re.UNICODE)


def clean_hostname(name: str) -> str | None:
    """Letters, digits, '.', '-', '_' and spaces, at most 63 characters; None when nothing is left."""
    if not name or name == "*":
        return None
    name = _HOSTNAME_BAD.sub("", name).strip()[:63].strip()
    return name or None


def _mac(text: str) -> str | None:
    try:
        return parse_mac(text)
    except InvalidValue:
        return None


def parse_leases(text: str) -> dict[str, tuple[str, str | None]]:
    """dnsmasq lease lines 'expiry mac ip hostname client-id' -> {mac: (ip, hostname)}; DHCPv6 skipped."""
    leases = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[0] == "duid":
            continue
        mac = _mac(parts[1])
        if mac is None:
            continue
        try:
            ip = str(ipaddress.ip_address(parts[2]))
        except ValueError:
            continue
        leases[mac] = (ip, clean_hostname(parts[3]))
    return leases


class Leases:
    """The lease file, re-read only when it changes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple[float, int] | None = None
        self.leases: dict[str, tuple[str, str | None]] = {}

    def read(self) -> dict[str, tuple[str, str | None]]:
        try:
            st = os.stat(self.path)
        except OSError:
            return self.leases
        if (st.st_mtime, st.st_size) != self._stamp:
            with open(self.path, errors="replace") as f:
                self.leases = parse_leases(f.read())
            self._stamp = (st.st_mtime, st.st_size)
        return self.leases


class Discovery(Keeper):
    """hotspotd's look for devices: the MACs the kernel saw sending before they were registered, the
    neighbour table and the leases; only what changed since the last look is registered."""

    def __init__(self, core, counting, forgetting, *, forgotten=lambda ids, present=False: None) -> None:
        super().__init__(core)
        self.counting = counting
        self.forgetting = forgetting
        # the house: what is kept in memory of these ids goes (`present`: of all ids but these)
        self.forgotten = forgotten
        self.leases = Leases(core.cfg.leases_file)
        self.known: dict[str, tuple] = {}  # mac -> (hostname, ips) as last registered

    def start(self) -> None:
        self.remember()

    def remember(self) -> None:
        self.known = {c.mac: (c.hostname, sorted(c.ips)) for c in self.core.store.clients()}

    def discover(self) -> None:
        """Register MACs seen in the unknown set, the neighbour table or the leases; keep names fresh."""
        lan = self.core.cfg.lan_device
        found: dict[str, dict] = {}
        for mac in self.core.nft.unknown_macs():
            found.setdefault(mac, {"ips": [], "hostname": None})
        for mac, ips in neighbours(lan).items():
            found.setdefault(mac, {"ips": [], "hostname": None})["ips"] += ips
        for mac, (ip, hostname) in self.leases.read().items():
            entry = found.setdefault(mac, {"ips": [], "hostname": None})
            entry["hostname"] = hostname
            if ip not in entry["ips"]:
                entry["ips"].append(ip)
        changed = {mac: info for mac, info in found.items() if self._changed(mac, info)}
        if not changed:
            return
        new = self.counting.register(changed)
        for c in new:
            log.info("new client %s (%s) id %d", c.mac, c.hostname or "no hostname", c.id)
        if new:
            self.forgotten({c.id for c in new})  # an id given again starts with nothing kept
        self.remember()

    def new_macs(self, macs: set[str]) -> bool:
        """Are any of these MACs (a neighbour notice) not registered yet?"""
        return bool(macs - set(self.known))

    def notice_forgotten(self) -> None:
        """Devices were forgotten (retention, the admin UI, hotspotctl in another process): they may be
        registered again, as new devices, and what is kept in memory of their ids goes."""
        ids = self.forgetting.notice_forgotten()
        if ids is None:
            return
        self.remember()
        self.forgotten(ids, present=True)

    def _changed(self, mac: str, info: dict) -> bool:
        if mac not in self.known:
            return True
        hostname, ips = self.known[mac]
        return bool(info["hostname"] and info["hostname"] != hostname
                    or info["ips"] and sorted(info["ips"]) != ips)
