"""Sign-in through a real FreeRADIUS (Debian's 3.2, run in the lab's internet) at the real portal: an
Access-Accept's data limit is a kernel quota that cuts real traffic at the byte, its rate a real shaper;
an Access-Reject's Reply-Message is shown and nothing admitted; a dead first server fails over to the
second; a wrong secret, or a server that does not sign its answers (Blast-RADIUS), admits no one."""

from __future__ import annotations

import re
from pathlib import Path

from hotspot.radius.model import parse_server
from lab.radius import FreeRadius
from tests.lab.captive.test_vouchers import GSO, MB, error_line, flood, totals
from tests.lab.conftest import register

SECRET = "lab-s3cret"
USERS = """alice Cleartext-Password := "alice-pw"
\tReply-Message = "Welcome, alice",
\tSession-Timeout = 3600,
\tChilliSpot-Max-Total-Octets = 12000000,
\tChilliSpot-Bandwidth-Max-Down = 20000,
\tWISPr-Bandwidth-Max-Down = 90000000

carol Cleartext-Password := "carol-pw"
\tIdle-Timeout = 2

bob Cleartext-Password := "bob-pw", Auth-Type := Reject
\tReply-Message = "No credit left, bob"
"""


def radius(lab, port: int = 1812, secret: str = SECRET, name: str = "radius",
           sign: bool = True) -> FreeRadius:
    return FreeRadius(lab, lab.internet, Path(lab.dir) / name, address=lab.server4, port=port,
                      clients={lab.wan4: secret}, users=USERS, sign=sign).start()


def sign_in(lab, d, client: str, username: str, password: str) -> tuple[int, str]:
    """The real sign-in page: GET it (cookie, CSRF field, the form), POST the user name and password."""
    jar = Path(lab.dir) / f"cookies-{client}"
    page = lab.curl(client, d.portal("/signin"), "-c", str(jar), "-b", str(jar)).stdout
    assert 'name="username"' in page and 'type="password"' in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    out = lab.curl(client, d.portal("/signin"), "-c", str(jar), "-b", str(jar), "-d", f"csrf={csrf}",
                   "--data-urlencode", f"username={username}", "--data-urlencode", f"password={password}",
                   "-o", "-", "-w", "\n%{http_code}").stdout
    body, _, status = out.rpartition("\n")
    return int(status), body


def start(lab, start_hotspotd, servers: tuple[str, ...], secret: str = SECRET):
    d = start_hotspotd(auth="radius", radius_server=tuple(map(parse_server, servers)), radius_secret=secret,
                       radius_timeout=1, radius_retries=1, radius_nas_id="bus-7")
    register(lab, d, "c1", "c2")
    d.wait_portal()
    return d


def test_accept_applies_its_data_limit_and_rate_in_the_kernel_and_reject_admits_nothing(lab, start_hotspotd):
    server = radius(lab)
    try:
        d = start(lab, start_hotspotd, (lab.server4,))
        c1, c2 = lab.clients["c1"].mac, lab.clients["c2"].mac
        assert not lab.ping("c1", lab.server4)  # the gate holds until the server says yes

        # a reject: its Reply-Message on the page, nothing admitted
        status, page = sign_in(lab, d, "c2", "bob", "bob-pw")
        assert status == 403 and error_line(page) == "No credit left, bob"
        status, page = sign_in(lab, d, "c2", "alice", "wrong")
        assert status == 403 and not d.client(c2)["admitted"] and not lab.ping("c2", lab.server4)
        # the click path is no way round the server
        jar = Path(lab.dir) / "cookies-c2"
        csrf = re.search(r'name="csrf" value="([^"]+)"',
                         lab.curl("c2", d.portal("/signin"), "-c", str(jar), "-b", str(jar)).stdout).group(1)
        lab.curl("c2", d.portal("/signin"), "-c", str(jar), "-b", str(jar), "-d", f"csrf={csrf}&accept=yes",
                 check=False)
        assert not d.client(c2)["admitted"]

        # an accept: what the server sent, in the request and in the kernel
        status, page = sign_in(lab, d, "c1", "alice", "alice-pw")
        assert status == 200 and "Welcome, alice" in page, (status, error_line(page))
        log = server.log.read_text()
        for line in ('User-Name = "alice"', 'NAS-Identifier = "bus-7"', "NAS-Port-Type = Wireless-802.11",
                     f'Calling-Station-Id = "{c1.upper().replace(":", "-")}"',
                     f"Framed-IP-Address = {lab.clients['c1'].ipv4}", f"NAS-IP-Address = {lab.wan4}",
                     "Message-Authenticator = 0x"):
            assert line in log, line
        info = d.client(c1)
        assert info["admitted"] and info["voucher_bytes"] == 12 * MB
        assert info["rate_limit"] == 20_000_000  # ChilliSpot's kbit/s win over WISPr's bit/s
        assert d.json("voucher", "list") == []  # a RADIUS session is no voucher anyone can type
        assert lab.ping("c1", lab.server4)

        # the shaper holds the rate, the quota cuts at the byte
        rx0 = lab.ip_bytes("c1")["rx4"]
        goodput = lab.iperf("c1", seconds=2, reverse=True)["end"]["sum_received"]["bits_per_second"]
        assert 10_000_000 < goodput <= 20_000_000 * 1.1, goodput
        for _ in range(6):  # at 20 Mbit/s, 12 MB take about 5 s
            flood(lab, "c1")
            if not lab.ping("c1", lab.server4, timeout=1):
                break
        d.wait_polls()
        counted, rx = totals(d, c1), lab.ip_bytes("c1")["rx4"] - rx0
        assert 12 * MB - 2 * GSO <= counted <= 12 * MB + GSO, counted
        assert rx <= counted, (rx, counted)
        assert d.client(c1)["voucher_remaining"] <= GSO, d.client(c1)
        assert not lab.ping("c1", lab.server4)

        # the server's Idle-Timeout (2 s), not the config's hour, ends a quiet session
        status, page = sign_in(lab, d, "c2", "carol", "carol-pw")
        assert status == 200 and d.client(c2)["admitted"] and lab.ping("c2", lab.server4)
        lab.wait_for(lambda: not d.client(c2)["admitted"], 10, "carol's idle session to end", interval=0.5)
        assert not lab.ping("c2", lab.server4)
    finally:
        server.stop()


def test_failover_to_the_second_server_and_a_wrong_secret_admits_no_one(lab, start_hotspotd):
    server = radius(lab, port=1822)
    try:
        # the first server is dead (nothing listens), the second answers
        d = start(lab, start_hotspotd, (f"{lab.server4}:1899", f"{lab.server4}:1822"))
        status, page = sign_in(lab, d, "c1", "alice", "alice-pw")
        assert status == 200 and "Welcome, alice" in page, (status, error_line(page))
        assert d.client(lab.clients["c1"].mac)["admitted"] and lab.ping("c1", lab.server4)
        d.stop()

        # a server entry with its own wrong secret: the server drops the request, nothing is admitted
        seen = server.requests()
        d = start(lab, start_hotspotd, (f"{lab.server4}:1822/not-the-secret",))
        status, page = sign_in(lab, d, "c2", "alice", "alice-pw")
        assert status == 403
        assert error_line(page) == "The sign-in server does not answer; please try again later."
        assert server.requests() > seen and "invalid Message-Authenticator" in server.log.read_text()
        assert not d.client(lab.clients["c2"].mac)["admitted"] and not lab.ping("c2", lab.server4)
    finally:
        server.stop()


def test_an_answer_without_a_message_authenticator_admits_no_one(lab, start_hotspotd):
    """Blast-RADIUS (CVE-2024-3596): an attacker in the path can forge an Access-Accept's Response
    Authenticator, not its Message-Authenticator; so an answer without one is never believed."""
    server = radius(lab, port=1832, name="unsigned", sign=False)
    try:
        d = start(lab, start_hotspotd, (f"{lab.server4}:1832",))
        status, page = sign_in(lab, d, "c1", "alice", "alice-pw")
        log = server.log.read_text()
        answer = log.split("Sent Access-Accept")[1]
        assert "Message-Authenticator" not in answer and "Welcome, alice" in answer
        assert status == 403, (status, error_line(page))
        assert error_line(page) == "The sign-in server does not answer; please try again later."
        assert not d.client(lab.clients["c1"].mac)["admitted"] and not lab.ping("c1", lab.server4)
    finally:
        server.stop()
