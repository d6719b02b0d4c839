"""RADIUS sign-in, pure: server entries as the config spells them, the request's attributes, and what an
Access-Accept's attributes grant."""

from __future__ import annotations

import pytest

from hotspot.config import Config, ConfigError
from hotspot.core.config import from_text
from hotspot.radius.model import GIGAWORD, Server, grant, parse_server, request_attributes


@pytest.mark.parametrize(("text", "server"), [
    ("192.0.2.10", Server("192.0.2.10", 1812, 1813)),
    ("radius.example.com:11812", Server("radius.example.com", 11812, 1813)),
    ("192.0.2.10:1645:1646/s/e cret", Server("192.0.2.10", 1645, 1646, "s/e cret")),
    ("[2001:db8::1]:1812:1813", Server("2001:db8::1", 1812, 1813)),
])
def test_server_entries(text, server):
    assert parse_server(text) == server
    assert parse_server(server.spelled) == server


@pytest.mark.parametrize(("text", "error"), [
    ("192.0.2.10:0", "auth port '0' is not a port number between 1 and 65535"),
    ("192.0.2.10:1812:99999", "accounting port '99999' is not a port number between 1 and 65535"),
    ("192.0.2.10:1:2:3", "'192.0.2.10:1:2:3' is not HOST[:AUTH_PORT[:ACCT_PORT]]"),
    ("bad host!", "'bad host!' is not a host name or an IP address"),
    ("192.0.2.10/", "a '/' must be followed by the server's secret"),
    ("[2001:db8::1", "'[2001:db8::1' is not [IPv6]:PORT"),
])
def test_bad_server_entries_are_one_line(text, error):
    with pytest.raises(ValueError) as e:
        parse_server(text)
    assert str(e.value) == error


def config(text: str) -> Config:
    return from_text("config hotspot\n" + text, Config, "/etc/config/hotspot")


def test_config_needs_a_server_and_a_secret_with_auth_radius():
    with pytest.raises(ConfigError) as e:
        config("\toption auth 'radius'\n")
    assert "auth: is 'radius' but no radius_server is set" in str(e.value)
    with pytest.raises(ConfigError) as e:
        config("\toption auth 'radius'\n\tlist radius_server '192.0.2.10'\n")
    assert "radius_secret: is needed: a radius_server has no secret of its own" in str(e.value)
    with pytest.raises(ConfigError) as e:
        config("\tlist radius_server '192.0.2.10:70000'\n")
    assert "auth port '70000' is not a port number" in str(e.value)
    cfg = config("\toption auth 'radius'\n\tlist radius_server '192.0.2.10/a'\n"
                 "\tlist radius_server '192.0.2.11'\n\toption radius_secret 'b'\n")
    assert cfg.radius_server == (Server("192.0.2.10", secret="a"), Server("192.0.2.11"))
    assert cfg.radius_timeout == 3 and cfg.radius_retries == 2 and cfg.radius_mac_auth is False


def test_request_attributes():
    attrs = request_attributes(username="alice", nas_id="bus-7", nas_ip="100.64.0.1", called="X:bus-7",
                               mac="02:ab:cd:00:00:01", ip="10.77.0.50")
    assert attrs == {"User-Name": "alice", "NAS-Identifier": "bus-7", "Called-Station-Id": "X:bus-7",
                     "Calling-Station-Id": "02-AB-CD-00-00-01", "NAS-Port-Type": 19, "Service-Type": 1,
                     "NAS-IP-Address": "100.64.0.1", "Framed-IP-Address": "10.77.0.50"}


def test_an_accept_grants_time_data_and_rates():
    g = grant({"Session-Timeout": [600], "Idle-Timeout": [120], "Reply-Message": ["Hello, ", "alice\x07"],
               "ChilliSpot-Max-Total-Octets": [5], "ChilliSpot-Max-Total-Gigawords": [2],
               "ChilliSpot-Max-Input-Octets": [7], "WISPr-Bandwidth-Max-Down": [9_000_000],
               "WISPr-Bandwidth-Max-Up": [1_000_000], "ChilliSpot-Bandwidth-Max-Down": [2000]})
    assert g.session_timeout == 600 and g.idle_timeout == 120 and g.message == "Hello, alice"
    assert g.total_bytes == 2 * GIGAWORD + 5 and g.input_bytes == 7 and g.output_bytes is None
    assert g.rate_down == 2_000_000  # ChilliSpot's kbit/s win over WISPr's bit/s
    assert g.rate_up == 1_000_000
    assert grant({}) == grant({"Session-Timeout": [0]})  # nothing limited
    assert grant({"ChilliSpot-Max-Total-Gigawords": [1]}).total_bytes == GIGAWORD
