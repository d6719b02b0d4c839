"""Data off, against the real hotspotd, its socket and its portal, with real traffic: a guest turns its
own data off and back on from its page (the kernel drops and passes its traffic at once, no poll
between), its "back on" never lifts the owner's block, a forged post naming another device changes
only the sender, and a post without the CSRF token changes nothing."""

from __future__ import annotations

from lab import SERVER4
from tests.lab.conftest import register
from tests.lab.portal.test_security import Browser

INTERNET = "http://internet.lab/data-off"


def _token(b: Browser) -> str:
    import re

    return re.search(r'<meta name="csrf" content="([^"]+)"', b.request("/")[2]).group(1)


def _off(b: Browser, off: str, **extra: str) -> tuple[int, str]:
    status, head, _ = b.post("/data-off", {"off": off, **extra}, csrf=_token(b))
    return status, head


def _online(lab, client: str) -> bool:
    return lab.ping(client, SERVER4, timeout=1) and \
        lab.curl(client, INTERNET, check=False, timeout=3).stdout.startswith("internet host=")


def test_data_off_stops_real_traffic_at_once_and_back_on_restores_it(web, start_hotspotd):
    lab = web
    d = start_hotspotd()
    register(lab, d, "c1", "c2")
    mac, other = lab.clients["c1"].mac, lab.clients["c2"].mac
    d.wait_portal()
    guest = Browser(lab, d, "c1")
    assert _online(lab, "c1") and 'id="data-off"' in guest.request("/")[2]

    # without the CSRF token: refused, nothing changed
    assert guest.post("/data-off", {"off": "1"}, csrf=None)[0] == 400
    assert d.client(mac)["self_paused"] is False and _online(lab, "c1")

    # off, with fields naming the other device: only the sender is paused, and at once
    status, head = _off(guest, "1", mac=other, ip=lab.clients["c2"].ipv4)
    assert status == 303 and "#data-off" in head
    assert not lab.ping("c1", SERVER4, timeout=1)  # no poll waited for: the kernel already drops it
    # its plain HTTP reaches the portal (which says why), never the internet
    assert not lab.curl("c1", INTERNET, check=False, timeout=3).stdout.startswith("internet host=")
    c = d.client(mac)
    assert c["self_paused"] is True and c["owner_blocked"] is False and c["state"] == "blocked"
    assert d.client(other)["self_paused"] is False and _online(lab, "c2")
    page = guest.request("/")[2]
    assert "Turn data back on" in page and "Data is off for this device" in page  # the portal stays reachable

    # back on: at once
    assert _off(guest, "0")[0] == 303
    assert _online(lab, "c1") and d.client(mac)["self_paused"] is False


def test_back_on_never_lifts_the_owners_block(web, start_hotspotd):
    lab = web
    d = start_hotspotd()
    register(lab, d, "c1")
    mac = lab.clients["c1"].mac
    d.wait_portal()
    guest = Browser(lab, d, "c1")

    # the owner blocks: the guest's "back on" is refused and changes nothing
    d.ctl("block", mac)
    assert not _online(lab, "c1")
    page = guest.request("/")[2]
    assert "Only they can let it back on" in page and "Turn data back on" not in page
    assert _off(guest, "0")[0] == 303
    assert "Only the hotspot&#39;s owner can let this device back on." in guest.request("/")[2]
    assert d.client(mac)["owner_blocked"] is True and not _online(lab, "c1")

    # paused by both: the guest's "back on" lifts only its own pause; the owner's block holds
    d.ctl("unblock", mac)
    assert _online(lab, "c1")
    assert _off(guest, "1")[0] == 303
    d.ctl("block", mac)
    assert _off(guest, "0")[0] == 303
    c = d.client(mac)
    assert c["self_paused"] is False and c["owner_blocked"] is True and not _online(lab, "c1")
    d.ctl("unblock", mac)
    assert _online(lab, "c1")
