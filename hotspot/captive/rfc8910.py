"""How a device finds the portal's RFC 8908 API (RFC 8910): one URL, in DHCPv4 option 114, DHCPv6 option
103 and the router advertisement's option 37.

One URL serves both families only if its host is a name the router's DNS answers with an IPv4 and an
IPv6 address: a literal address would leave a phone without that family at a URL it cannot reach. So
the URL names `portal_name` (HTTPS on `tls_port` with a certificate, else plain HTTP on `portal_port`),
and without a `portal_name` there is no URL. It is built from checked config values only (a DNS name and
port numbers) and checked again against a pattern without quotes, commas, spaces or newlines, so it is
safe as one argument to `uci set` and as the value of a dnsmasq `dhcp-option` line.

`python3 -m hotspot.captive.rfc8910 [-c FILE]` prints the URL (nothing when there is none); the
package's uci-defaults hands it to odhcpd and dnsmasq.
"""

from __future__ import annotations

import argparse
import re
import sys

from hotspot.config import DEFAULT_PATH, Config, ConfigError, load

API_PATH = "/api/captive"
# scheme://dns-name[:port]/api/captive, and nothing else: what uci and dnsmasq get passed.
_SAFE_URL = re.compile(r"https?://[a-z0-9.-]{1,253}(:[0-9]{1,5})?/api/captive", re.ASCII)


def api_url(cfg: Config) -> str | None:
    """The RFC 8908 API's URL every device is told, or None without a portal_name (or without a portal)."""
    if not cfg.portal_name or not cfg.portal_port:
        return None
    if cfg.tls_cert and cfg.tls_key:
        scheme, port, default = "https", cfg.tls_port, 443
    else:
        scheme, port, default = "http", cfg.portal_port, 80
    return checked(f"{scheme}://{cfg.portal_name.lower()}{'' if port == default else f':{port}'}{API_PATH}")


def checked(url: str) -> str:
    """`url` if it has the one shape this module makes; ValueError otherwise."""
    if not _SAFE_URL.fullmatch(url):
        raise ValueError(f"not a captive-portal API URL: {url!r}")
    return url


def dnsmasq_options(url: str) -> list[str]:
    """dnsmasq `dhcp-option` values: option 114 to DHCPv4 clients, 103 to DHCPv6 clients (where dnsmasq
    serves DHCPv6; dnsmasq cannot send the RA's option 37)."""
    url = checked(url)
    return [f"114,{url}", f"option6:103,{url}"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m hotspot.captive.rfc8910",
                                description="Print the portal's RFC 8908 API URL for DHCP and RA (RFC 8910).")
    p.add_argument("-c", "--config", default=DEFAULT_PATH, help="hotspot's config file")
    args = p.parse_args(argv)
    try:
        url = api_url(load(args.config))
    except (ConfigError, OSError) as e:
        print(f"hotspot: {e}".splitlines()[0], file=sys.stderr)
        return 1
    if url:
        print(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
