"""IPv6-only devices find the portal (RFC 8910) and use its API (RFC 8908) through the real portal.

The URL is the one hotspot makes from the config hotspotd runs with (hotspot.captive.rfc8910, as the
package's uci-defaults reads it); the lab's dnsmasq serves it as OpenWrt's would with the lines that module
gives: option 114 over DHCPv4, 103 over stateless DHCPv6. The RA's option 37 needs an RA daemon that sends
it: odhcpd (OpenWrt 25.12 on) does, the lab's dnsmasq cannot (docs/portal.md), and the listener shows what
dnsmasq's RA does carry."""

from __future__ import annotations

import ipaddress
import json
import sys
from pathlib import Path

from lab import PORTAL_NAME, ROUTER_MAC, Lab
from lab.hotspotd import Hotspotd
from tests.lab.portal.test_portal import _lab_ca

URL = f"https://{PORTAL_NAME}:8443/api/captive"


def test_an_ipv6_only_device_gets_the_api_url_by_dhcpv6_and_reaches_the_api():
    with Lab(clients=("c1",)) as lab:
        pki = _lab_ca(Path(lab.dir))
        d = Hotspotd(lab, auth="click", portal_name=PORTAL_NAME, tls_cert=pki["cert"], tls_key=pki["key"],
                     tls_port=8443, session_timeout=3600)
        # What hotspot tells devices, from hotspotd's own config, served by the router's dnsmasq.
        made = lab.run(lab.router, d.python, "-m", "hotspot.captive.rfc8910", "-c", d.config_path).stdout
        assert made == URL + "\n"
        lab.captive_url = made.strip()
        lab.restart_dnsmasq()
        d.start()
        c1 = lab.clients["c1"]
        info = lab.ipv6_only("c1")
        assert info["captive_portal"] == URL  # a real DHCPv6 client received option 103
        assert info["name_servers"] == lab.router6
        assert lab.addresses("c1") == [c1.ipv6]  # IPv6 only: no IPv4 address left
        lab.ping("c1", lab.server6)
        d.wait_client(c1.mac)

        def api() -> tuple[str, str, dict]:
            """The API at the URL the device received: its name resolved by the router's DNS over IPv6,
            the certificate checked for that name."""
            out = lab.curl("c1", info["captive_portal"], "--cacert", pki["ca"], "-i",
                           "-w", "\n%{remote_ip}").stdout
            head, _, rest = out.partition("\n\n")
            body, _, remote = rest.rpartition("\n")
            return head, remote, json.loads(body)

        lab.wait_for(lambda: lab.curl("c1", URL, "--cacert", pki["ca"], "-o", "/dev/null", check=False,
                                      timeout=2).returncode == 0, 15, "the HTTPS portal over IPv6")
        head, remote, body = api()
        assert ipaddress.ip_address(remote) == ipaddress.ip_address(lab.router6)
        assert "content-type: application/captive+json" in head.lower()
        assert body["captive"] is True and body["user-portal-url"] == f"https://{PORTAL_NAME}:8443/"
        d.ctl("admit", c1.mac)  # the API names the device by its IPv6 address: now admitted
        head, remote, body = api()
        assert body["captive"] is False and 3500 <= body["seconds-remaining"] <= 3600


def _link_local(mac: str) -> ipaddress.IPv6Address:
    """The EUI-64 link-local address of a MAC (RFC 4291)."""
    b = bytes.fromhex(mac.replace(":", ""))
    return ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + bytes([b[0] ^ 2]) + b[1:3] + b"\xff\xfe" + b[3:])


def test_the_router_advertisement_a_device_receives():
    """dnsmasq's RA, read by a raw ICMPv6 socket in a client: the prefix for SLAAC and the router as DNS
    server (RDNSS), but no captive-portal option: dnsmasq has none to send (odhcpd sends it)."""
    with Lab(clients=("c1",), captive_url=URL) as lab:
        options = lab.router_advert("c1")
        types = [t for t, _ in options]
        prefixes = [ipaddress.IPv6Address(body[14:30]) for t, body in options if t == 3]
        assert ipaddress.IPv6Address("2001:db8:77::") in prefixes
        rdnss = [ipaddress.IPv6Address(body[6:22]) for t, body in options if t == 25]
        assert rdnss == [_link_local(ROUTER_MAC)]  # dnsmasq names the router by its link-local address
        assert 37 not in types, options


# An RA as odhcpd sends it with captive_portal_uri set (its router.c): option 37, the URI, zero padding to
# a multiple of 8 octets. Router lifetime 0: the client takes no default route from it. Sent every 0.2 s.
_ODHCPD_LIKE_RA = r"""
import socket, struct, sys, time
dev, uri = sys.argv[1], sys.argv[2].encode()
size = (2 + len(uri) + 7) & ~7
option = bytes([37, size // 8]) + uri + bytes(size - 2 - len(uri))
ra = bytes([134, 0, 0, 0, 64, 0]) + struct.pack("!HII", 0, 0, 0) + option
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
for _ in range(50):
    s.sendto(ra, ("ff02::1", 0, 0, socket.if_nametoindex(dev)))
    time.sleep(0.2)
"""


def test_the_listener_reads_option_37_as_odhcpd_lays_it_out():
    """No RA daemon here sends option 37 (dnsmasq 2.90 cannot, Debian 12's radvd 2.19 predates
    AdvCaptivePortalAPI, odhcpd needs OpenWrt's libraries): an RA built as odhcpd builds it stands in, to
    show that a device reads the URI back, its padding off."""
    with Lab(clients=("c1",)) as lab:
        sender = lab.popen(lab.router, sys.executable, "-c", _ODHCPD_LIKE_RA, lab.lan_device, URL)
        options = lab.router_advert("c1", carrying=37)
        sender.kill()
        (body,) = [b for t, b in options if t == 37]
        assert len(body) % 8 == 6 and body.rstrip(b"\0").decode() == URL
