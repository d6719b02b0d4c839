"""The portal API's URL for RFC 8910 (DHCPv4 114, DHCPv6 103, RA 37): made from checked config values, and
handed to odhcpd and dnsmasq by the package's uci-defaults only when it has the one safe shape."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hotspot.captive.rfc8910 import api_url, checked, dnsmasq_options
from hotspot.config import Config

UCI_DEFAULTS = Path(__file__).parents[3] / "openwrt" / "files" / "hotspot.uci-defaults"
SHELL = ["busybox", "sh"] if shutil.which("busybox") else ["sh"]


def test_the_url_names_the_portal_over_https_when_it_has_a_certificate():
    cfg = Config().replace(portal_name="portal.example.com", tls_cert="/c.pem", tls_key="/k.pem")
    assert api_url(cfg) == "https://portal.example.com:8443/api/captive"
    assert api_url(cfg.replace(tls_port=443)) == "https://portal.example.com/api/captive"
    assert api_url(cfg.replace(tls_key=None)) == "http://portal.example.com:8080/api/captive"
    assert api_url(cfg.replace(tls_cert=None, tls_key=None, portal_port=80)) == \
        "http://portal.example.com/api/captive"


def test_no_url_without_a_name_both_families_resolve_or_without_a_portal():
    assert api_url(Config()) is None  # an address literal would leave one family out
    assert api_url(Config().replace(portal_name="portal.lab", portal_port=0)) is None


def test_dnsmasq_gets_option_114_and_103():
    assert dnsmasq_options("https://portal.lab:8443/api/captive") == [
        "114,https://portal.lab:8443/api/captive", "option6:103,https://portal.lab:8443/api/captive"]


@pytest.mark.parametrize("url", ["https://portal.lab,evil/api/captive", "https://portal.lab/api/captive\nx",
                                 "https://[2001:db8::1]/api/captive", "ftp://portal.lab/api/captive",
                                 "https://portal.lab/other", "https://por'tal.lab/api/captive"])
def test_nothing_else_passes_as_a_url(url):
    with pytest.raises(ValueError):
        checked(url)
    with pytest.raises(ValueError):
        dnsmasq_options(url)


# -- the package's uci-defaults --------------------------------------------------------------------

FAKE_UCI = r"""#!/bin/sh
echo "uci $*" >> "$CALLS"
[ "$1" = -q ] && shift
case "$1" in
show) grep "^$2\." "$STATE" ;;
get) grep -F "$2=" "$STATE" | cut -d= -f2- | tr -d "'" | grep . || exit 1 ;;
esac
exit 0
"""
DHCP = "dhcp.lan=dhcp\ndhcp.lan.interface='lan'\ndhcp.wan=dhcp\ndhcp.wan.interface='wan'\n"


@pytest.fixture
def uci_defaults(tmp_path):
    """Run the package's uci-defaults with a recording uci (answering from `state`), logger, and a python3
    that runs this hotspot on the config text given (or, with `python3`, a script of the test's)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "uci").write_text(FAKE_UCI)
    (bin_dir / "logger").write_text('#!/bin/sh\necho "logger $*" >> "$CALLS"\n')
    calls, state, conf = tmp_path / "calls", tmp_path / "state", tmp_path / "hotspot"

    def run(config: str, state_text: str = DHCP, python3: str | None = None) -> list[str]:
        (bin_dir / "python3").write_text(python3 or f'#!/bin/sh\nexec {sys.executable} "$@" -c {conf}\n')
        for f in bin_dir.iterdir():
            f.chmod(0o755)
        conf.write_text(config)
        state.write_text(state_text)
        calls.write_text("")
        env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "CALLS": str(calls), "STATE": str(state)}
        proc = subprocess.run([*SHELL, str(UCI_DEFAULTS)], env=env, capture_output=True, text=True,
                              timeout=30)
        assert (proc.returncode, proc.stderr) == (0, "")
        # what changes something: the reads (get, show) left out
        return [c for c in calls.read_text().splitlines() if not c.startswith(("uci -q get", "uci -q show"))]

    return run


HTTPS = ("config hotspot 'main'\n\toption portal_name 'Portal.Example.com'\n\toption tls_cert '/etc/c.pem'\n"
         "\toption tls_key '/etc/k.pem'\n")
URL = "https://portal.example.com:8443/api/captive"


def test_uci_defaults_hands_the_url_to_odhcpd_and_dnsmasq_on_the_lan(uci_defaults):
    assert uci_defaults(HTTPS) == [
        f"uci -q set dhcp.lan.captive_portal_uri={URL}",  # odhcpd: RA 37, DHCPv6 103 (and its DHCPv4 114)
        f"uci -q add_list dhcp.lan.dhcp_option=114,{URL}",  # dnsmasq: DHCPv4
        f"uci -q add_list dhcp.lan.dhcp_option=option6:103,{URL}",  # dnsmasq, where it serves DHCPv6
        "uci commit dhcp",
        f"logger -t hotspot devices learn the portal's API at {URL} (DHCP options 114 and 103, RA option 37)"]


def test_uci_defaults_keeps_the_owners_own_and_runs_twice_alike(uci_defaults):
    owners = DHCP + ("dhcp.lan.captive_portal_uri='https://mine.example.com/api/captive'\n"
                     "dhcp.lan.dhcp_option='114,https://mine.example.com/api/captive' "
                     f"'option6:103,{URL}'\n")
    assert uci_defaults(HTTPS, owners) == []


@pytest.mark.parametrize("config", ["", "config hotspot 'main'\n\toption portal_name 'a,b.lab'\n",
                                    "config hotspot 'main'\n\toption portal_port 'x'\n"])
def test_uci_defaults_changes_nothing_without_a_good_name(uci_defaults, config):
    assert uci_defaults(config) == []


@pytest.mark.parametrize("printed", [f"{URL};reboot", f"{URL} x", "https://portal.lab/x", f"{URL}'"])
def test_uci_defaults_passes_only_the_one_shape_to_uci(uci_defaults, printed):
    fake = f"#!/bin/sh\nprintf '%s\\n' \"{printed}\"\n"
    assert uci_defaults(HTTPS, python3=fake) == []
