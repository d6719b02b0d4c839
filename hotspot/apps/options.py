"""The options of which apps use the data: the categories list, how dnsmasq and the DNS snooper fill the
kernel's category sets, DNS redirection, and the update guard that holds categories back while metered."""

from __future__ import annotations

from hotspot.apps.categories import CATEGORIES, CategoriesError
from hotspot.apps.categories import load as load_categories
from hotspot.core.config import (
    Bad,
    Option,
    absolute_path,
    boolean,
    choice,
    optional_path,
    ranged,
    rate,
    rate_text,
)
from hotspot.core.units import quote

HEADING = "Which apps use the data, and the update guard"
SNOOPER = "Which apps use the data: the DNS snooper"


def categories_file(v: str) -> str | None:
    """A categories list that hotspotd can use: read and checked here, its first mistake reported."""
    if v == "":
        return None
    path = absolute_path(v)
    try:
        load_categories(path)
    except CategoriesError as e:
        lines = str(e).splitlines()
        raise Bad(lines[0] + (f" (and {len(lines) - 1} more)" if len(lines) > 1 else "")) from None
    return path


def command(v: str) -> str | None:
    """A command line starting with an absolute path, or 'none' for none."""
    if len(v) > 256 or not v.isprintable():
        raise Bad("a command line of at most 256 printable characters")
    if v in ("", "none"):
        return None
    if not v.startswith("/"):
        raise Bad(f"{quote(v)} must start with an absolute path (or be 'none' for none)")
    return v


def category(v: str) -> str:
    if v not in CATEGORIES:
        raise Bad(f"{quote(v)} is not a category (one of {', '.join(CATEGORIES)})")
    return v


OPTIONS = (
    Option("categories_file", categories_file, None, "The editable categories list; none: the shipped one.",
           "The categories list (video, social, messaging, maps, backup, updates, games): domains per "
           "category, yours to edit; traffic to names no category claims, or whose names the router never "
           "saw (encrypted DNS: DoH, DoT, Android's Private DNS, iCloud Private Relay), counts as \"other\". "
           "'' is the list shipped with hotspot; the package installs an editable copy (kept across "
           "upgrades) at /etc/hotspot/categories.conf: set this option to that path to use your edits. "
           "hotspotd reads it at start and when this config changes.", heading=HEADING),
    Option("dnsmasq_nftset_file", optional_path, "/tmp/dnsmasq.d/hotspot-categories.conf",
           "dnsmasq's nftset lines for the category sets; none: dnsmasq fills nothing.",
           "dnsmasq fills the kernel's category sets from its answers through its nftset option: hotspotd "
           "writes the lines to this file (in OpenWrt's dnsmasq confdir, which its jail mounts) and runs "
           "dnsmasq_restart when they change, as dnsmasq reads nftset only at start. Needs dnsmasq-full (a "
           "dnsmasq without nftset is left alone: hotspotd checks 'dnsmasq --version'). 'none' for either "
           "turns it off.", heading=HEADING),
    Option("dnsmasq_restart", command, "/etc/init.d/dnsmasq restart",
           "Run when the nftset file changed; none: never.", heading=HEADING, joined=True),
    Option("dns_redirect", boolean, False,
           "Plain DNS from the LAN to any server goes to the router's resolver.",
           "Send plain DNS (UDP and TCP port 53) from LAN clients to any server to the router's own dnsmasq "
           "instead, so it sees the names (IPv4 and IPv6). Encrypted DNS (DoH, DoT) is not port 53 and "
           "passes as it is. '1' or '0'.", heading=HEADING),
    Option("update_guard", boolean, False,
           "The update guard's default for devices without a choice of their own.",
           "The update guard (\"Wi-Fi only\" for background data): while the uplink in use is metered, "
           "traffic of the chosen categories is blocked, or throttled to a rate all guarded devices share; "
           "on a free uplink it passes. update_guard is the default for devices; each device may opt in or "
           "out (hotspotctl guard MAC on|off|default, the admin UI, the client's page).", heading=HEADING),
    Option("update_guard_categories", category, ("updates", "backup"),
           "The categories held back while metered.",
           list=True, heading=HEADING, joined=True),
    Option("update_guard_action", choice("block", "throttle"), "block",
           "What the guard does: block or throttle.",
           heading=HEADING, joined=True),
    Option("update_guard_rate", rate, 256_000, "Bits/s the guarded categories share (action throttle).",
           heading=HEADING, joined=True, spell=rate_text),
    Option("dns_snoop", boolean, True, "Snoop DNS answers on the LAN device to fill the category sets.",
           "Snoop the DNS answers the LAN device sends to clients (a kernel filter passes only those): each "
           "address a name of an app category resolves to joins that category's address set until the "
           "answer's TTL runs out (at most a day), and every answered name is kept for naming destinations. "
           "On OpenWrt it is the package hotspot-snoop. Encrypted DNS (DoH, DoT, DNS over QUIC) hides the "
           "names: that traffic shows as \"other\". '1' or '0'.", heading=SNOOPER),
    Option("dns_min_ttl", ranged(0, 86400, "a whole number of seconds between 0 and 86400"), 60,
           "Seconds a snooped address stays at least.",
           "A snooped address stays in its set at least this long (seconds), whatever its answer's TTL: an "
           "app connects right after the answer, and names served with TTL 0 or a few seconds (some CDNs, "
           "every dnsmasq 'address=' answer) would otherwise leave before their first bytes. '0' keeps each "
           "address exactly its TTL.", heading=SNOOPER),
)
