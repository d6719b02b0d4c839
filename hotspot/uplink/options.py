"""The uplinks' options: those that are free (counted nowhere), the modem, and metered mode (Android is
told by DHCP while the uplink in use is metered)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from hotspot.core.config import Bad, Given, Option, absolute_path, boolean, interface, optional_path
from hotspot.core.units import quote

HEADING = "Free uplinks, the modem, and metered mode"


def apdu_backend(v: str) -> str | None:
    """lpac's LPAC_APDU: a backend's name (at, pcsc, qmi, qmi_qrtr, mbim, uqmi, ...), or '' for lpac's."""
    if v and not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", v, re.ASCII):
        raise Bad(f"{quote(v)} is not an APDU backend's name such as qmi, mbim or at")
    return v or None


OPTIONS = (
    Option("unmetered_device", interface, (), "Free uplinks (Ethernet, hotel Wi-Fi): counted nowhere.",
           "Uplinks that are not metered (Ethernet, a hotel's Wi-Fi): traffic over them counts against "
           "nothing, neither the plan nor any client's cap; a blocked client, or one not admitted yet, is "
           "still held back there. One line per device.", list=True, heading=HEADING, example="eth1"),
    Option("modem", boolean, True, "Read the modem through ModemManager when it is there.",
           "Read the modem (signal, operator, roaming, SIM, its byte count) through ModemManager when it "
           "runs: '1' or '0'.", heading=HEADING),
    Option("dhcp_opts_file", optional_path, "/var/run/dnsmasq/hotspot.opts",
           "dnsmasq's --dhcp-optsfile for the metered hint (DHCP option 43); none: off.",
           "While the uplink in use (the default route's) is metered, Android phones are told so by DHCP "
           "option 43 ANDROID_METERED and defer their background downloads; on a free uplink the hint goes "
           "away at their next lease renewal. hotspotd writes the option to this dnsmasq optsfile and makes "
           "dnsmasq re-read it (dnsmasq_pidfile: the pid files of OpenWrt's dnsmasq instances); 'none' turns "
           "the hint off. dnsmasq must be pointed at the file once:\necho "
           "'dhcp-optsfile=/var/run/dnsmasq/hotspot.opts' >> /etc/dnsmasq.conf\nand /etc/init.d/dnsmasq "
           "restart. A short DHCP leasetime (e.g. 1h) makes clients learn of a switch "
           "sooner.", heading=HEADING),
    Option("dnsmasq_pidfile", absolute_path, "/var/run/dnsmasq/dnsmasq.*.pid",
           "The dnsmasq instances to tell of a new optsfile (SIGHUP).", heading=HEADING, joined=True),
    Option("plan_next_sim", boolean, False, "On a dual-SIM modem, switch SIM slots at the plan's stop point.",
           "On a modem with two SIM slots: when the plan's stop point is reached, make the other slot "
           "primary through ModemManager (once a cycle) and tell the owner: '1' or '0'.", heading=HEADING),
    Option("esim_lpac", absolute_path, "/usr/bin/lpac", "lpac, which manages the eSIM's profiles.",
           "lpac (opkg install lpac) lists, enables and names the eUICC's profiles for `hotspotctl esim` "
           "and the admin UI's Plan page. OpenWrt's /usr/bin/lpac takes its APDU backend from "
           "/etc/config/lpac.", heading=HEADING),
    Option("esim_apdu", apdu_backend, None, "lpac's APDU backend (LPAC_APDU); '' leaves it to lpac.",
           heading=HEADING, joined=True),
)


def free_uplinks_are_not_metered_nor_the_lan(c: Given) -> Iterator[tuple[str, str]]:
    both = set(c["wan_device"]) & set(c["unmetered_device"])
    if both and not c.refused("wan_device", "unmetered_device"):
        yield "unmetered_device", f"{quote(sorted(both)[0])} is also a wan_device (a metered uplink)"
    if not c.refused("lan_device", "unmetered_device") and c["lan_device"] in c["unmetered_device"]:
        key = "unmetered_device" if c.in_file("unmetered_device") else "lan_device"
        yield key, f"{quote(c['lan_device'])} is both the lan_device and an unmetered_device"


def next_sim_needs_the_modem(c: Given) -> Iterator[tuple[str, str]]:
    if c["plan_next_sim"] and not c["modem"] and not c.refused("plan_next_sim", "modem"):
        yield "plan_next_sim", "needs modem '1': the SIM slots are switched through ModemManager"


CHECKS = (free_uplinks_are_not_metered_nor_the_lan, next_sim_needs_the_modem)
