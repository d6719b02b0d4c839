"""The options of clients and caps: the LAN and the metered uplinks, the period, each device's cap, the
lease file that names devices, and how long a device that left is remembered."""

from __future__ import annotations

from collections.abc import Iterator

from hotspot.core.config import (
    N_,
    Bad,
    Field,
    Given,
    Option,
    absolute_path,
    choice,
    duration_text,
    interface,
    period_start,
    ranged,
    rate,
    rate_text,
    size_or_none,
    size_text,
)
from hotspot.core.units import InvalidValue, parse_duration, quote

HEADING = "The LAN, its metered uplinks, and each device's cap"


def retention(v: str) -> int | None:
    """How long a device without traffic is kept: at least an hour, or none (or 0) for ever."""
    if v.strip().lower() in ("0", "none"):
        return None
    try:
        seconds = parse_duration(v)
    except InvalidValue as e:
        raise Bad(f"{e} (or 'none' to keep devices for ever)") from None
    if seconds < 3600:
        raise Bad(f"{quote(v)} is less than an hour (or 'none' to keep devices for ever)")
    return seconds


OPTIONS = (
    Option("lan_device", interface, "br-lan", "The LAN bridge or interface the clients are on.",
           heading=HEADING),
    Option("wan_device", interface, ("wwan0",), "Metered uplink(s): traffic crossing them is counted.",
           "Metered uplink(s): only traffic crossing them is counted and capped. Repeat the line for each "
           "uplink (e.g. a SIM modem and a Wi-Fi repeater).", list=True, heading=HEADING),
    Option("period", choice("daily", "weekly", "monthly"), "monthly",
           "The accounting period: daily, weekly or monthly.",
           "The accounting period after which usage starts again from zero: 'daily', 'weekly' or "
           "'monthly'.", heading=HEADING,
           admin=Field(N_("Period"), "settings", choices=(("daily", N_("Daily")), ("weekly", N_("Weekly")),
                                                            ("monthly", N_("Monthly"))))),
    Option("period_start", period_start("period", otherwise="monthly"), 1,
           "The day a period starts: of the month (monthly) or of the week, 1 = Monday (weekly).",
           "When a period starts, at 00:00 local time. Monthly: day of the month, 1..31 (in a shorter month, "
           "its last day). Weekly: day of the week, 1 = Monday .. 7 = Sunday. Daily: ignored.",
           heading=HEADING,
           admin=Field(N_("Starts on day"), "settings",
                       hint=N_("Day of the month (monthly) or of the week, 1 = Monday (weekly)."),
                       maxlength=2, numeric=True)),
    Option("default_cap", size_or_none, None, "The cap given to new clients, in bytes; none: no cap.",
           "The per-period cap given to new clients, as a size (e.g. '2GB'); empty or 'none' for no cap.",
           heading=HEADING, spell=size_text,
           admin=Field(N_("Default cap for new devices"), "settings",
                       hint=N_("e.g. 2GB or 500MB; leave empty for no cap."), placeholder="2GB")),
    Option("after_cap", choice("block", "throttle"), "block",
           "What happens to a client at its cap: block or throttle.",
           "What happens to a client that reaches its cap: 'block' (no more traffic on the uplink) or "
           "'throttle' (slowed to after_cap_rate).", heading=HEADING,
           admin=Field(N_("Action"), "settings",
                       choices=(("block", N_("Block")), ("throttle", N_("Slow down"))),
                       alone=N_("When a device reaches its cap"))),
    Option("after_cap_rate", rate, 256_000, "The rate of a capped client when after_cap is throttle.",
           "The rate of a capped client when after_cap is 'throttle', at least 8kbit.", heading=HEADING,
           spell=rate_text, admin=Field(N_("Slow-down rate"), "settings", placeholder="256kbit")),
    Option("warn_at", ranged(1, 100, "a percentage between 1 and 100"), 80,
           "The percentage of its cap at which a client is warned.",
           "Percentage of its cap at which a client is warned (shown as 'warned'), 1..100.", heading=HEADING),
    Option("leases_file", absolute_path, "/tmp/dhcp.leases", "dnsmasq's DHCP lease file, for host names.",
           "dnsmasq's DHCP lease file, read for client host names.", heading=HEADING),
    Option("client_retention", retention, 90 * 86400,
           "Seconds without traffic after which a device is forgotten; none: never.",
           "A device with no metered traffic for this long is forgotten: its row, its kernel state and "
           "everything recorded about it (its history by hour, day and month, its app usage, its "
           "ghost-traffic events, blocked destinations and alerts) go, and its id may be given to a new "
           "device (ids end at 32,766). Its bytes stay in the plan's own totals and history. A device with "
           "bytes this period stays until the period ends (waiting never gives back a cap), and so does one "
           "the owner blocked or lists in plan_exempt. A DURATION of at least an hour ('90d', '12w'; at most "
           "366d), or 'none' (or '0') to keep devices for ever.", heading=HEADING, spell=duration_text),
)


def lan_is_no_uplink(c: Given) -> Iterator[tuple[str, str]]:
    """At least one metered uplink, and the LAN is none of them."""
    if c.in_file("wan_device") and not c.refused("wan_device") and not c["wan_device"]:
        yield "wan_device", "needs at least one interface"
    if not c.refused("lan_device", "wan_device") and c["lan_device"] in c["wan_device"]:
        key = "wan_device" if c.in_file("wan_device") else "lan_device"
        yield key, f"{quote(c['lan_device'])} is both the lan_device and a wan_device"


CHECKS = (lan_is_no_uplink,)
