"""The options of the portal and the captive gate: its port and user, how a new device gets online and for
how long, the name shown on its pages, and HTTPS."""

from __future__ import annotations

import re
from collections.abc import Iterator

from hotspot.core.config import (
    N_,
    Bad,
    Field,
    Given,
    Option,
    choice,
    duration,
    duration_or_none,
    duration_text,
    hostname,
    optional_path,
    ranged,
    short_text,
)
from hotspot.core.units import quote

HEADING = "The portal, and how a new device gets online"
_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}", re.ASCII)


def portal_user(v: str) -> str:
    """A user of the portal's own: root holds everything; nobody is shared by other daemons."""
    if not _USER.fullmatch(v):
        raise Bad(f"{quote(v)} is not a user name")
    if v in ("root", "nobody"):
        raise Bad(f"the portal needs a user of its own (e.g. 'hotspot'), not {quote(v)}")
    return v


OPTIONS = (
    Option("portal_port", ranged(0, 65535, "a port number between 1 and 65535 (0: no portal)"), 8080,
           "TCP port of the portal, admin UI and API; 0: no portal.",
           "TCP port of the usage portal, admin UI and API on the LAN side; '0' for no portal.",
           heading=HEADING),
    Option("portal_user", portal_user, "hotspot", "The portal's own unprivileged user.",
           "The user the portal's web server runs as: guests on the LAN talk to it, so it holds no root "
           "privilege and asks hotspotd for what needs it. A user of its own (the package creates it), never "
           "root nor one other daemons share such as 'nobody'.", heading=HEADING),
    Option("auth", choice("none", "click", "voucher", "radius"), "none",
           "How a new client gets online: none, click, voucher or radius.",
           "How a new client gets online: 'none' (at once), 'click' (accept a splash page) or 'voucher' "
           "(enter a code) or 'radius' (a user name and password the RADIUS servers check: radius_server). "
           "Until admitted, a client reaches only the router: its plain HTTP goes to the "
           "portal, everything else fails at once.", heading=HEADING,
           admin=Field(N_("Sign-in"), "settings", radio=True, choices=(
               ("none", N_("None"), N_("Devices get online as soon as they join.")),
               ("click", N_("Accept terms"), N_("Devices accept the terms on the portal first.")),
               ("voucher", N_("Voucher"), N_("Devices enter a voucher code first.")),
               ("radius", N_("RADIUS"), N_("Devices sign in with a user name and password the RADIUS server "
                                           "checks."))))),
    Option("session_timeout", duration, 86400, "The longest an admission lasts (auth click or voucher).",
           "With auth 'click' or 'voucher': the longest an admitted client stays admitted before it sees the "
           "portal again. Whole numbers with s, m, h, d or w (e.g. '30m', '12h', '1d', '1h30m'), 1s..366d.",
           heading=HEADING, spell=duration_text),
    Option("idle_timeout", duration_or_none("no idle timeout"), 3600,
           "Seconds without counted bytes that end an admission; none: never.",
           "With auth 'click' or 'voucher': an admitted client that has no bytes counted on the uplink for "
           "this long sees the portal again. Same format as session_timeout, or 'none' to never end a "
           "session for idleness.", heading=HEADING, spell=duration_text),
    Option("venue", short_text, None, "The hotspot's name, shown on the portal.",
           "The hotspot's name, shown at the top of the portal pages.", heading=HEADING),
    Option("portal_name", hostname, None, "The router's DNS name for the portal (its TLS certificate's).",
           "HTTPS for the portal: phones use the RFC 8908 captive-portal API only over HTTPS with a "
           "certificate they trust. portal_name is the router's DNS name in that certificate (make the LAN's "
           "DNS answer it with the router's address); tls_cert and tls_key are the certificate (PEM, with "
           "its chain) and its key, readable by root; HTTPS is served on tls_port. Empty names: plain HTTP "
           "only (the captive flow and the OS probes still work).", heading=HEADING),
    Option("tls_cert", optional_path, None, "The portal's certificate (PEM, with its chain) for HTTPS.",
           heading=HEADING, joined=True),
    Option("tls_key", optional_path, None, "The certificate's private key (PEM).", heading=HEADING,
           joined=True),
    Option("tls_port", ranged(1, 65535, "a port number between 1 and 65535"), 8443, "The HTTPS port.",
           heading=HEADING, joined=True),
)


def https_takes_both(c: Given) -> Iterator[tuple[str, str]]:
    """A certificate without its key, or a key without its certificate, serves nothing."""
    if not c.refused("tls_cert", "tls_key") and bool(c["tls_cert"]) != bool(c["tls_key"]):
        needed = "tls_key" if c["tls_cert"] else "tls_cert"
        given = "tls_cert" if needed == "tls_key" else "tls_key"
        yield given, f"needs {needed} too (HTTPS takes a certificate and its key)"


def https_port_of_its_own(c: Given) -> Iterator[tuple[str, str]]:
    """One port cannot be plain HTTP (where the kernel sends captive clients) and HTTPS at once."""
    if not c.refused("portal_port", "tls_port", "tls_cert", "tls_key") and c["tls_cert"] and c["tls_key"] \
            and c["tls_port"] == c["portal_port"]:
        key, other = ("tls_port", "portal_port") if c.in_file("tls_port") else ("portal_port", "tls_port")
        yield key, f"is {other} too ({c[key]}): plain HTTP and HTTPS need a port each"


CHECKS = (https_takes_both, https_port_of_its_own)
