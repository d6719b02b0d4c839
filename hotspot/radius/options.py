"""The options of sign-in through RADIUS: the servers tried in order, their secrets, how long to wait for
each, and the router's name to them. (auth 'radius' itself is the captive gate's option.)"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from hotspot.core.config import Bad, Given, Option, boolean, ranged, secret, short_text
from hotspot.core.units import quote
from hotspot.radius.model import Server, parse_server

HEADING = "Sign-in through RADIUS"


def server(v: str) -> Server:
    try:
        return parse_server(v)
    except ValueError as e:
        raise Bad(str(e)) from None


def coa_client(v: str) -> str:
    try:
        return str(ipaddress.ip_address(v))
    except ValueError:
        raise Bad(f"{quote(v)} is not an IP address") from None


def server_text(s: Server) -> str:
    return s.spelled


OPTIONS = (
    Option("radius_server", server, (), "The RADIUS servers, tried in order (auth radius).",
           "With auth 'radius': the RADIUS servers asked to sign a device in, tried in order until one "
           "answers: 'HOST[:AUTH_PORT[:ACCT_PORT]]' (ports 1812 and 1813 by default; an IPv6 address in "
           "brackets), optionally followed by '/SECRET', that server's own shared secret (else "
           "radius_secret). One line per server.", list=True, heading=HEADING, spell=server_text,
           example="192.0.2.10:1812:1813"),
    Option("radius_secret", secret, None, "The shared secret of the servers without their own.",
           heading=HEADING, joined=True),
    Option("radius_nas_id", short_text, None, "NAS-Identifier: this router's name to the server.",
           "NAS-Identifier sent with every request: this router's name to the RADIUS server (empty: its "
           "host name).", heading=HEADING),
    Option("radius_timeout", ranged(1, 30, "seconds from 1 to 30"), 3,
           "Seconds to wait for a server's answer before sending again.", heading=HEADING),
    Option("radius_retries", ranged(1, 5, "a count from 1 to 5"), 2,
           "How many times a request is sent to a server before the next is tried.", heading=HEADING,
           joined=True),
    Option("radius_mac_auth", boolean, False, "Also ask the server for each new device by its MAC.",
           "Ask the RADIUS server for each new device at first sight, with its MAC as user name, so "
           "known devices get through without the page. Not implemented yet: must stay '0'.",
           heading=HEADING),
    Option("radius_coa_port", ranged(1, 65535, "a port number between 1 and 65535"), 3799,
           "UDP port of the change-of-authorisation server (RFC 5176).", heading=HEADING),
    Option("radius_coa_client", coa_client, (), "Addresses allowed to send CoA and Disconnect requests.",
           list=True, heading=HEADING, joined=True, example="192.0.2.10"),
    Option("radius_coa_secret", secret, None, "Their shared secret (default: radius_secret).",
           heading=HEADING, joined=True),
)


def radius_needs_servers(c: Given) -> Iterator[tuple[str, str]]:
    """auth 'radius' without a server, or a server without a secret, signs nobody in."""
    if c.refused("auth", "radius_server", "radius_secret") or c["auth"] != "radius":
        return
    if not c["radius_server"]:
        yield "auth", "is 'radius' but no radius_server is set"
    elif not c["radius_secret"] and any(s.secret is None for s in c["radius_server"]):
        yield "radius_secret", "is needed: a radius_server has no secret of its own"


def mac_auth_not_yet(c: Given) -> Iterator[tuple[str, str]]:
    if not c.refused("radius_mac_auth") and c["radius_mac_auth"]:
        yield "radius_mac_auth", "is not supported yet: set it to '0'"


CHECKS = (radius_needs_servers, mac_auth_not_yet)
