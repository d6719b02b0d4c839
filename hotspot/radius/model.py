"""RADIUS sign-in, pure: the servers as configured, the Access-Request's attributes for a device, and what
an Access-Accept grants (time, data, rates) read from its attributes."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

DICTIONARY = Path(__file__).with_name("dictionary")  # RFC 2865/2869, WISPr and ChilliSpot attributes
AUTH_PORT, ACCT_PORT = 1812, 1813
GIGAWORD = 2**32
WIRELESS_80211 = 19  # NAS-Port-Type


@dataclass(frozen=True)
class Server:
    host: str
    auth_port: int = AUTH_PORT
    acct_port: int = ACCT_PORT
    secret: str | None = None  # its own; None: radius_secret

    @property
    def spelled(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        text = f"{host}:{self.auth_port}:{self.acct_port}"
        return text + (f"/{self.secret}" if self.secret is not None else "")


def _port(text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"{what} {text[:10]!r} is not a port number between 1 and 65535")
    return int(text)


def parse_server(text: str) -> Server:
    """'HOST[:AUTH_PORT[:ACCT_PORT]][/SECRET]' (an IPv6 address in brackets); ValueError in one line."""
    where, slash, secret = text.partition("/")
    if slash and not secret:
        raise ValueError("a '/' must be followed by the server's secret")
    if where.startswith("["):
        host, bracket, rest = where[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"{where[:60]!r} is not [IPv6]:PORT")
        ports = rest[1:].split(":") if rest else []
    else:
        host, *ports = where.split(":")
    if len(ports) > 2:
        raise ValueError(f"{where[:60]!r} is not HOST[:AUTH_PORT[:ACCT_PORT]]")
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        if not host or len(host) > 253 or not all(
                p and len(p) <= 63 and p.replace("-", "").isalnum() and p.isascii() for p in host.split(".")):
            raise ValueError(f"{host[:60]!r} is not a host name or an IP address") from None
    auth = _port(ports[0], "auth port") if ports else AUTH_PORT
    acct = _port(ports[1], "accounting port") if len(ports) > 1 else ACCT_PORT
    return Server(host, auth, acct, secret if slash else None)


def calling_station(mac: str) -> str:
    """A MAC as RADIUS servers expect it in Calling-Station-Id: AA-BB-CC-DD-EE-FF."""
    return mac.upper().replace(":", "-")


def request_attributes(*, username: str, nas_id: str, nas_ip: str, called: str, mac: str,
                       ip: str) -> dict:
    """An Access-Request's attributes besides the password (PAP: pyrad hides it with the secret)."""
    attrs = {
        "User-Name": username,
        "NAS-Identifier": nas_id,
        "Called-Station-Id": called,
        "Calling-Station-Id": calling_station(mac),
        "NAS-Port-Type": WIRELESS_80211,
        "Service-Type": 1,  # Login-User
    }
    if ipaddress.ip_address(nas_ip).version == 4:
        attrs["NAS-IP-Address"] = nas_ip
    if ip and ipaddress.ip_address(ip).version == 4:
        attrs["Framed-IP-Address"] = ip
    return attrs


@dataclass(frozen=True)
class Grant:
    """What an Access-Accept gives a device. None: not limited by the server."""

    session_timeout: int | None = None  # seconds
    idle_timeout: int | None = None
    total_bytes: int | None = None
    input_bytes: int | None = None  # from the device
    output_bytes: int | None = None  # to the device
    rate_down: int | None = None  # bits/s
    rate_up: int | None = None
    interim_interval: int | None = None
    message: str | None = None


def _one(attrs: dict, name: str) -> object | None:
    values = attrs.get(name) or []
    return values[0] if values else None


def _octets(attrs: dict, name: str) -> int | None:
    low = _one(attrs, f"ChilliSpot-Max-{name}-Octets")
    high = _one(attrs, f"ChilliSpot-Max-{name}-Gigawords")
    if low is None and high is None:
        return None
    return (high or 0) * GIGAWORD + (low or 0)


def _positive(value: object) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def message(attrs: dict) -> str | None:
    """Reply-Message: several attributes make one text; only printable characters are kept."""
    parts = attrs.get("Reply-Message") or []
    text = "".join(p if isinstance(p, str) else p.decode("utf-8", "replace") for p in parts)
    text = "".join(ch for ch in text if ch.isprintable() or ch == " ").strip()
    return text[:500] or None


def grant(attrs: dict) -> Grant:
    """An Access-Accept's attributes (name -> list of values) as a Grant. ChilliSpot's rates (kbit/s)
    win over WISPr's (bit/s), as CoovaChilli does."""
    down = _one(attrs, "ChilliSpot-Bandwidth-Max-Down")
    up = _one(attrs, "ChilliSpot-Bandwidth-Max-Up")
    down = down * 1000 if isinstance(down, int) else _one(attrs, "WISPr-Bandwidth-Max-Down")
    up = up * 1000 if isinstance(up, int) else _one(attrs, "WISPr-Bandwidth-Max-Up")
    return Grant(
        session_timeout=_positive(_one(attrs, "Session-Timeout")),
        idle_timeout=_positive(_one(attrs, "Idle-Timeout")),
        total_bytes=_octets(attrs, "Total"),
        input_bytes=_octets(attrs, "Input"),
        output_bytes=_octets(attrs, "Output"),
        rate_down=_positive(down),
        rate_up=_positive(up),
        interim_interval=_positive(_one(attrs, "Acct-Interim-Interval")),
        message=message(attrs),
    )
