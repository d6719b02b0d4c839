"""Who is on the LAN: the neighbour table (every client, static addresses too) and dnsmasq's leases
(hostnames). Hostnames come from DHCP, so from the client: they are cleaned here, once, and
must still be escaped wherever they are shown."""

from __future__ import annotations

import ipaddress
import os
import re

from hotspot.core.units import InvalidValue, parse_mac

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
