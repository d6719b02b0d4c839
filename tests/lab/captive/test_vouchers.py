"""Vouchers in the real kernel, redeemed through the real portal: a voucher's data is one kernel quota
shared by its devices, exact to the byte, and it survives a daemon restart, `nft flush ruleset` and a
reboot; refusals are one translated line; revoking cuts the devices at once."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from lab import CommandError
from tests.lab.conftest import register

MB = 1_000_000
GSO = 65_536  # one GSO super-packet: the most a quota can let past its limit, or stop short of it


def redeem(lab, d, client: str, code: str, *args: str) -> tuple[int, str]:
    """Sign in at the real portal as a phone that scanned the voucher's QR code: GET the sign-in link
    (session cookie, CSRF field, the code filled in), POST the form. Returns the HTTP status and the page."""
    jar = Path(lab.dir) / f"cookies-{client}"
    page = lab.curl(client, d.portal("/signin"), "-G", "--data-urlencode", f"voucher={code}",
                    "-c", str(jar), "-b", str(jar), *args).stdout
    if re.fullmatch(r"[A-Za-z0-9-]{4,32}", code):
        assert f'value="{code.upper()}"' in page  # the QR code's link fills the form in
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    out = lab.curl(client, d.portal("/signin"), "-c", str(jar), "-b", str(jar), "-d", f"csrf={csrf}",
                   "--data-urlencode", f"voucher={code}", "-o", "-", "-w", "\n%{http_code}", *args).stdout
    body, _, status = out.rpartition("\n")
    return int(status), body


def error_line(page: str) -> str:
    m = re.search(r'<p class="error" role="alert">([^<]*)</p>', page)
    return m.group(1) if m else ""


def flood(lab, *clients: str) -> None:
    """Download from every client at once until the quota cuts them (iperf3 then hangs or fails)."""
    runs = [lab.iperf_start(c, seconds=3, reverse=True, timeout=6) for c in clients]
    for run in runs:
        try:
            run.wait()
        except (subprocess.TimeoutExpired, CommandError, RuntimeError, ValueError):
            pass


def quota_used(d, vid: int = 1) -> int:
    out = d.nft("list", "quota", "inet", "hotspot", f"v{vid}")
    m = re.search(r"used (\d+) bytes", out)
    return int(m.group(1)) if m else 0


def totals(d, *macs: str) -> int:
    clients = d.clients()
    return sum(clients[m]["bytes_total"] for m in macs)


def test_voucher_data_is_shared_exact_and_follows_the_voucher(lab, start_hotspotd):
    d = start_hotspotd(auth="voucher")
    register(lab, d, "c1", "c2")
    c1, c2 = lab.clients["c1"].mac, lab.clients["c2"].mac
    d.wait_portal()
    code = d.json("voucher", "create", "--data", "20MB", "--devices", "3", "--valid", "2h")[0]["code"]

    for name in ("c1", "c2"):
        status, page = redeem(lab, d, name, code.lower().replace("-", ""))  # any case, dash optional
        assert status == 303, (status, error_line(page))
    for mac in (c1, c2):
        info = d.client(mac)
        assert info["admitted"] and info["voucher"] == code and info["voucher_bytes"] == 20 * MB
    assert 'quota name "v1" drop' in d.nft("list", "chain", "inet", "hotspot", f"down{d.client(c1)['id']}")
    assert lab.ping("c1", lab.server4) and lab.ping("c2", lab.server6)

    # both devices drain the one quota in the kernel at once, to the byte: no poll is involved
    before = totals(d, c1, c2)
    rx0 = sum(lab.ip_bytes(n)["rx4"] for n in ("c1", "c2"))
    flood(lab, "c1", "c2")
    d.wait_polls()
    counted = totals(d, c1, c2) - before
    rx = sum(lab.ip_bytes(n)["rx4"] for n in ("c1", "c2")) - rx0
    assert 20 * MB - 2 * GSO <= counted <= 20 * MB + GSO, counted
    assert rx <= counted, (rx, counted)
    assert d.clients()[c1]["bytes_total"] > 0 and d.clients()[c2]["bytes_total"] > 0
    lab.wait_for(lambda: d.client(c1)["state"] == "capped" and d.client(c2)["state"] == "capped", 3,
                 "both devices capped")
    v = d.json("voucher", "list")[0]
    assert v["state"] == "used_up" and v["remaining"] == 0 and v["devices_used"] == 2
    used_db = d.json("voucher", "list")[0]["used"]
    assert not lab.ping("c1", lab.server4) and not lab.ping("c2", lab.server4)
    me = d.client(c1)
    assert me["remaining"] == 0 and me["voucher_remaining"] == 0

    # a re-login and a new MAC get no fresh data: the voucher is used up, whoever asks
    status, page = redeem(lab, d, "c1", code)
    assert status == 403 and error_line(page) == "This voucher&#39;s data is used up."
    lab.add_client("c3")
    c3 = lab.clients["c3"].mac
    register(lab, d, "c3")
    status, page = redeem(lab, d, "c3", code, "-H", "Accept-Language: zh-CN")
    assert status == 403 and error_line(page) == "该上网券的流量已用完。"
    assert not d.client(c3)["admitted"] and not lab.ping("c3", lab.server4)

    # the voucher's bytes survive a restart of hotspotd, `nft flush ruleset` and a reboot
    def still_cut(where: str) -> None:
        v = d.json("voucher", "list")[0]
        assert v["state"] == "used_up" and v["used"] >= used_db - GSO, (where, v)
        assert quota_used(d) >= 20 * MB - 2 * GSO, where
        start = totals(d, c1, c2)
        flood(lab, "c1")
        d.wait_polls()
        assert totals(d, c1, c2) - start <= GSO, where
        assert d.client(c1)["state"] == "capped", where

    assert d.stop() == 0
    d.start()
    still_cut("restart")
    lab.run(lab.router, "nft", "flush", "ruleset")
    lab.wait_for(d.table_live, 2, "the table to come back")
    lab.install_nat()
    still_cut("flush")
    assert d.stop() == 0  # a reboot: RAM (run_dir) and the kernel table are gone, flash is kept
    d.ctl("teardown")
    for f in Path(d.config.run_dir).glob("hotspot.db*"):
        f.unlink()
    d.start()
    still_cut("reboot")


def test_device_limit_revoke_and_refusals(lab, start_hotspotd):
    d = start_hotspotd(auth="voucher")
    register(lab, d, "c1", "c2")
    c1, c2 = lab.clients["c1"].mac, lab.clients["c2"].mac
    d.wait_portal()
    code = d.json("voucher", "create", "--valid", "1h")[0]["code"]  # one device, no data limit

    status, page = redeem(lab, d, "c1", "abcd-efgh")
    assert status == 403 and error_line(page) == "That voucher code is not valid."
    status, _page = redeem(lab, d, "c1", code)
    assert status == 303 and lab.ping("c1", lab.server4)
    status, page = redeem(lab, d, "c2", code)
    assert status == 403
    assert error_line(page) == "This voucher is already in use on as many devices as it allows."
    assert not d.client(c2)["admitted"] and not lab.ping("c2", lab.server4)
    status, _page = redeem(lab, d, "c1", code)  # the same device again: not one more device
    assert status == 303
    v = d.json("voucher", "list")[0]
    assert (v["state"], v["devices_used"], v["expires"] is not None) == ("active", 1, True)

    # revoking ends the session at once: no poll in between
    assert d.json("voucher", "revoke", code)["state"] == "revoked"
    assert not d.client(c1)["admitted"]
    assert not lab.ping("c1", lab.server4, timeout=1)
    status, page = redeem(lab, d, "c1", code, "-H", "Accept-Language: zh-CN")
    assert status == 403 and error_line(page) == "该上网券已被作废。"
    assert d.ctl("voucher", "revoke", "ZZZZ-ZZZZ", check=False).returncode == 1
