"""Vouchers without a kernel: codes, policy, the nft JSON of a shared quota, the store, the house
(no table of ours: the database alone changes), the CLI, and the portal on the fake backend."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from hotspot import cli
from hotspot.captive.keeper import VoucherRefused
from hotspot.captive.vouchers import ALPHABET, new_code, parse_code
from hotspot.cli import Environment, ExitStatus
from hotspot.clients import policy
from hotspot.clients.keeper import NotFound
from hotspot.core.store import Client, Store, Voucher
from hotspot.core.units import InvalidValue
from hotspot.house import House
from hotspot.kernel.nft import Nft
from hotspot.kernel.rules import ClientElements, Guard, Marks, client_rules, policy_cmds, voucher_quota_name
from tests.conftest import Clock
from tests.unit.cli.test_cli import untouched as untouched_  # noqa: F401  (the fixture, under another name)
from tests.unit.kernel.test_nft import FakeNftables
from tests.unit.kernel.test_rules import DOWN, DROP, UP, prio, quota
from tests.unit.portal.test_admin import login, post, token

MAC, OTHER, THIRD = "aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02", "aa:bb:cc:dd:ee:03"
T = {"family": "inet", "table": "hotspot"}


# -- codes ----------------------------------------------------------------------------------------

def test_codes_are_random_and_unambiguous():
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in codes:
        assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", code)
        assert not set(code) & set("01OI")
    assert set(ALPHABET) == set("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")


@pytest.mark.parametrize("typed", ["abcd-efgh", "ABCDEFGH", " abcd efgh ", "AbCd-eFgH"])
def test_codes_are_case_and_dash_insensitive(typed):
    assert parse_code(typed) == "ABCD-EFGH"


@pytest.mark.parametrize("bad", ["", "ABCD-EFG", "ABCD-EFGHJ", "ABCD-EFG0", "ABCD-EFGO", "ABC1-EFGH",
                                 "ABCD;EFGH", "ABCD-EFGH\n", None, 12345678, "ＡBCD-EFGH"])
def test_bad_codes_are_refused(bad):
    if bad == "ABCD-EFGH\n":
        assert parse_code(bad) == "ABCD-EFGH"  # whitespace around is forgiven
        return
    with pytest.raises(InvalidValue):
        parse_code(bad)


# -- policy ---------------------------------------------------------------------------------------

def voucher(**kw) -> Voucher:
    return Voucher(**{"id": 1, "code": "ABCD-EFGH", "created": 0.0, "batch": 1, "bytes": 1000,
                      "valid_seconds": 3600, "devices": 2, **kw})


def test_voucher_state_and_refusals():
    assert policy.voucher_state(voucher(), 10) == "unused"
    assert policy.voucher_state(voucher(first_used=5, expires=3605), 10) == "active"
    assert policy.voucher_state(voucher(first_used=5, expires=3605), 3605) == "expired"
    assert policy.voucher_state(voucher(first_used=5, expires=3605, used=1000), 10) == "used_up"
    assert policy.voucher_state(voucher(first_used=5, expires=3605), 10, used=1000) == "used_up"
    assert policy.voucher_state(voucher(bytes=None, used=10**12), 10) == "unused"
    assert policy.voucher_state(voucher(revoked=7, used=1000), 10) == "revoked"
    assert policy.voucher_refusal(None, 0) == "invalid"
    assert policy.voucher_refusal(voucher(), 0, others=1) is None
    assert policy.voucher_refusal(voucher(), 0, others=2) == "devices"
    assert policy.voucher_refusal(voucher(revoked=1), 0) == "revoked"
    assert policy.voucher_refusal(voucher(first_used=0, expires=10), 10) == "expired"
    assert policy.voucher_refusal(voucher(), 0, used=1000) == "used_up"


def on_voucher(**kw) -> Client:
    return Client(**{"id": 5, "mac": MAC, "voucher": 3, "voucher_code": "ABCD-EFGH", "voucher_bytes": 1000,
                     "voucher_used": 0, "admitted_until": 9e9, **kw})


def test_a_voucher_used_up_caps_its_devices(cfg):
    vcfg = cfg.replace(auth="voucher")
    c = on_voucher(voucher_used=999)
    assert policy.state(c, vcfg) == "ok" and not policy.to_portal(c, vcfg)
    c = on_voucher(voucher_used=1000, period_up=10)  # its own usage is its own
    assert policy.capped(c) and policy.state(c, vcfg) == "capped" and policy.to_portal(c, vcfg)
    thr = vcfg.replace(after_cap="throttle", after_cap_rate=256_000)
    assert policy.state(c, thr) == "throttled" and policy.rate_limit(c, thr) == 256_000
    assert not policy.to_portal(c, thr)
    e = policy.elements(c, thr)
    assert (e.voucher, e.voucher_quota, e.voucher_used, e.quota) == (3, 1000, 1000, None)
    assert e.shape_capped is not None  # the throttle's class, for the voucher's quota
    assert policy.elements(on_voucher(voucher_bytes=None), vcfg).voucher is None  # no data: no quota


# -- kernel: one shared quota ---------------------------------------------------------------------

@pytest.fixture
def nft() -> Nft:
    n = Nft.__new__(Nft)
    n.marks = Marks()
    n._nft = FakeNftables()
    return n


def test_devices_of_a_voucher_meet_its_quota_in_their_chains():
    a = ClientElements(id=5, mac=MAC, voucher=3, voucher_quota=1000)
    up, down = client_rules(a, Marks())
    assert up == [[{"quota": "v3"}, DROP], UP] and down == [[{"quota": "v3"}, DROP], DOWN]
    both = ClientElements(id=5, mac=MAC, quota=500, voucher=3, voucher_quota=1000, shape_capped="1:11")
    capped = prio("1:11")
    assert client_rules(both, Marks())[1] == [[{"quota": "q5"}, capped], [{"quota": "v3"}, capped], DOWN]
    gated = ClientElements(id=5, mac=MAC, voucher=3, voucher_quota=1000, gated=True)
    assert "v3" not in json.dumps(client_rules(gated, Marks()))
    assert voucher_quota_name(3) == "v3"


def policy_change(c, *, was, handles=None):
    """The commands that move a client's kernel state from `was` to `c` (no plan guard)."""
    return policy_cmds(c, was=was, marks=Marks(), guard=Guard(), handles=handles)


def test_two_devices_one_quota_seeded_with_what_the_voucher_used(nft):
    a = ClientElements(id=5, mac=MAC, voucher=3, voucher_quota=1000, voucher_used=400)
    b = ClientElements(id=6, mac=OTHER, voucher=3, voucher_quota=1000, voucher_used=400)
    nft.add_clients([a, b])
    text = nft._nft.text_commands[0]
    # one quota for the voucher, however many devices
    assert text.count("add quota inet hotspot v3 { over 1000 bytes used 400 bytes }\n") == 1
    vq = {"add": {"quota": {**T, "name": "v3", "bytes": 1000, "used": 400, "inv": True}}}
    # a device that joins adds it again: the kernel keeps what an existing quota consumed
    cmds = policy_change(b, was=ClientElements(id=6, mac=OTHER, gated=True),
                         handles={"up6": [1, 2], "down6": [3, 4]})
    assert cmds[0] == vq
    # a device already on it: nothing to add
    assert vq not in policy_change(b, was=b, handles=None)
    used = ClientElements(id=6, mac=OTHER, voucher=3, voucher_quota=1000, voucher_used=5000)
    assert policy_change(used, was=ClientElements(id=6, mac=OTHER))[0]["add"]["quota"]["used"] == 1000


def test_rollover_keeps_voucher_quotas(nft, monkeypatch):
    monkeypatch.setattr("hotspot.kernel.nft.dump_quotas", lambda table: {"q2": 5, "q3": 6, "v1": 7})
    nft.reset_quotas()
    assert nft._nft.json_batches[0]["nftables"] == [{"reset": quota(2)}, {"reset": quota(3)}]
    monkeypatch.setattr("hotspot.kernel.nft.dump_quotas", lambda table: {"q2": 5})
    nft.reset_quotas()
    assert nft._nft.json_batches[1]["nftables"] == [{"reset": {"quotas": T}}]


# -- store and service ----------------------------------------------------------------------------

@pytest.fixture
def hs(cfg):
    clock = Clock()
    h = House(cfg.replace(auth="voucher"), clock=clock)
    with h.store.transaction():
        for mac in (MAC, OTHER, THIRD):
            h.store.add_client(mac, clock.now)
    h.clock_ = clock
    yield h
    h.close()


def test_store_migrates_an_old_clients_table(tmp_path):
    import sqlite3

    db = sqlite3.connect(tmp_path / "old.db")
    db.execute("CREATE TABLE clients (id INTEGER PRIMARY KEY, mac TEXT NOT NULL UNIQUE, hostname TEXT, "
               "ips TEXT NOT NULL DEFAULT '[]', first_seen REAL NOT NULL, last_seen REAL NOT NULL, "
               "cap INTEGER, topup INTEGER NOT NULL DEFAULT 0, rate INTEGER, "
               "blocked INTEGER NOT NULL DEFAULT 0, "
               "period_up INTEGER NOT NULL DEFAULT 0, period_down INTEGER NOT NULL DEFAULT 0, "
               "seen_up INTEGER NOT NULL DEFAULT 0, seen_down INTEGER NOT NULL DEFAULT 0)")
    db.execute("INSERT INTO clients (mac, first_seen, last_seen) VALUES (?, 0, 0)", (MAC,))
    db.commit()
    db.close()
    s = Store(tmp_path / "old.db")
    c = s.client(MAC)
    assert (c.voucher, c.voucher_code, c.voucher_used) == (None, None, 0)


def test_create_list_redeem_share_and_revoke(hs):
    made = hs.captive.make_vouchers(3, 20_000_000, 7200, 2)
    assert len({v["code"] for v in made}) == 3 and {v["batch"] for v in made} == {1}
    assert made[0]["state"] == "unused" and made[0]["expires"] is None
    code = made[0]["code"]
    assert hs.captive.make_vouchers(1, None, 60, 1)[0]["batch"] == 2

    c = hs.captive.redeem(MAC, code.lower().replace("-", " "))
    now = hs.clock_.now
    assert c["admitted"] and c["voucher"] == code and c["voucher_remaining"] == 20_000_000
    assert hs.store.client(MAC).admitted_until == now + 7200  # until the voucher expires
    hs.clock_.now += 100
    hs.captive.redeem(OTHER, code)
    assert hs.store.client(OTHER).admitted_until == now + 7200  # its validity started at the first use
    with pytest.raises(VoucherRefused) as e:
        hs.captive.redeem(THIRD, code)
    assert e.value.reason == "devices"
    hs.captive.redeem(MAC, code)  # the same device again is no extra device

    # bytes of both devices go to the voucher at each poll, and to each device's own period
    a, b = hs.store.client(MAC), hs.store.client(OTHER)
    with hs.store.transaction():
        hs.counting.account({f"u{a.id}": 6_000_000, f"d{a.id}": 4_000_000,
                    f"u{b.id}": 1_000_000, f"d{b.id}": 9_000_000})
    v = hs.captive.voucher(code)
    assert (v["used"], v["remaining"], v["devices_used"], v["state"]) == (20_000_000, 0, 2, "used_up")
    assert hs.clients.detail(MAC)["bytes_total"] == 10_000_000 and hs.clients.detail(MAC)["state"] == "capped"
    assert hs.clients.detail(MAC)["remaining"] == 0
    with pytest.raises(VoucherRefused) as e:
        hs.captive.redeem(MAC, code)
    assert e.value.reason == "used_up"

    hs.captive.revoke(code)
    assert hs.captive.voucher(code)["state"] == "revoked"
    assert not hs.clients.detail(MAC)["admitted"] and not hs.clients.detail(OTHER)["admitted"]
    with pytest.raises(VoucherRefused) as e:
        hs.captive.redeem(MAC, code)
    assert e.value.reason == "revoked"
    with pytest.raises(NotFound):
        hs.captive.revoke("ZZZZ-ZZZZ")


def test_expired_and_invalid(hs):
    code = hs.captive.make_vouchers(1, None, 60, 5)[0]["code"]
    hs.captive.redeem(MAC, code)
    hs.clock_.now += 60
    assert hs.captive.expire_sessions() == [MAC]
    assert hs.captive.voucher(code)["state"] == "expired"
    for bad, why in ((code, "expired"), ("ZZZZ-ZZZZ", "invalid"), ("nope", "invalid")):
        with pytest.raises(VoucherRefused) as e:
            hs.captive.redeem(OTHER, bad)
        assert e.value.reason == why
    assert not hs.clients.detail(OTHER)["admitted"]


def test_voucher_usage_survives_a_reboot(cfg):
    h = House(cfg.replace(auth="voucher"), clock=Clock())
    with h.store.transaction():
        h.store.add_client(MAC, 0.0)
    code = h.captive.make_vouchers(1, 10**9, 3600, 1)[0]["code"]
    h.captive.redeem(MAC, code)
    cid = h.store.client(MAC).id
    with h.store.transaction():
        h.counting.account({f"u{cid}": 1234, f"d{cid}": 5678})
    h.core.commit()
    h.close()
    for f in Path(cfg.run_dir).glob("hotspot.db*"):  # RAM is gone; flash is not
        f.unlink()
    h = House(cfg.replace(auth="voucher"), clock=Clock())
    try:
        assert h.captive.voucher(code)["used"] == 6912
        assert policy.elements(h.store.client(MAC), h.cfg).voucher_used == 6912  # seeds the new quota
    finally:
        h.close()


# -- CLI ------------------------------------------------------------------------------------------

def run(*args: str) -> tuple[ExitStatus, str, str]:
    env = Environment(stdout=io.StringIO(), stderr=io.StringIO())
    status = cli.main(list(args), env)
    return status, env.stdout.getvalue(), env.stderr.getvalue()


def test_cli_create_list_revoke(cfg_file):
    status, out, err = run("-c", cfg_file, "--json", "voucher", "create", "--count", "2", "--data", "1GB",
                           "--valid", "12h", "--devices", "3")
    assert status == ExitStatus.OK, err
    made = json.loads(out)
    assert [(v["bytes"], v["valid_seconds"], v["devices"], v["state"]) for v in made] == [
        (10**9, 43200, 3, "unused")] * 2
    status, out, _ = run("-c", cfg_file, "voucher", "list")
    assert status == ExitStatus.OK and made[0]["code"] in out and made[1]["code"] in out
    status, out, _ = run("-c", cfg_file, "--json", "voucher", "revoke", made[0]["code"].lower())
    assert status == ExitStatus.OK and json.loads(out)["state"] == "revoked"
    status, _, err = run("-c", cfg_file, "voucher", "revoke", "ZZZZ-ZZZZ")
    assert status == ExitStatus.ERROR and err == "hotspotctl: unknown voucher ZZZZ-ZZZZ\n"


@pytest.mark.parametrize("args", [["create", "--count", "0"], ["create", "--count", "501"],
                                  ["create", "--data", "lots"], ["create", "--valid", "forever"],
                                  ["create", "--devices", "0"], ["create", "--devices", "2; flush"],
                                  ["revoke", "1234"], ["revoke"], ["bogus"], []])
def test_cli_bad_values_exit_2_and_touch_nothing(request, args):
    cfg_file = request.getfixturevalue("untouched_")
    status, out, err = run("-c", cfg_file, "voucher", *args)
    assert status == ExitStatus.USAGE and out == ""
    assert err.startswith("hotspotctl: ") and err.count("\n") == 1


# -- portal on the fake backend -------------------------------------------------------------------

@pytest.fixture
def vbackend():
    from tests.portal_fake import FakeBackend

    return FakeBackend(auth="voucher")


@pytest.fixture
def vclient(vbackend):
    from hotspot.portal.app import create_app

    return create_app(vbackend, testing=True).test_client()


GUEST = "10.0.0.13"  # not admitted


def signin(client, code, lang="en"):
    client.get(f"/signin?lang={lang}", environ_base={"REMOTE_ADDR": GUEST})
    return client.post("/signin", data={"csrf": token(client), "voucher": code},
                       environ_base={"REMOTE_ADDR": GUEST})


@pytest.mark.parametrize("code, en, zh", [
    ("ZZZZ-ZZZZ", "That voucher code is not valid.", "该券码无效。"),
    ("PT6D-MJ2A", "This voucher has been revoked.", "该上网券已被作废。"),
    ("KX4E-9BVL", "This voucher has expired.", "该上网券已过期。"),
    ("WR3N-8CXT", "This voucher&#39;s data is used up.", "该上网券的流量已用完。"),
])
def test_refusals_are_one_translated_line(vclient, vbackend, code, en, zh):
    r = signin(vclient, code)
    assert r.status_code == 403 and f'<p class="error" role="alert">{en}</p>' in r.get_data(as_text=True)
    r = signin(vclient, code, "zh")
    assert r.status_code == 403 and f'<p class="error" role="alert">{zh}</p>' in r.get_data(as_text=True)


def test_signin_with_a_voucher_and_the_qr_link_prefills(vclient, vbackend):
    guest = {"REMOTE_ADDR": GUEST}
    html = vclient.get("/signin?voucher=c7yf-3gus", environ_base=guest).get_data(as_text=True)
    assert 'value="C7YF-3GUS"' in html
    html = vclient.get('/signin?voucher="><script>', environ_base=guest).get_data(as_text=True)
    assert "<script>" not in html.split("</header>")[1].split("<script src=")[0]
    r = signin(vclient, "c7yf 3gus")
    assert r.status_code == 303 and ("admit", GUEST, "c7yf3gus") in vbackend.calls
    html = vclient.get("/", environ_base={"REMOTE_ADDR": GUEST}).get_data(as_text=True)
    assert 'id="voucher"' in html and "C7YF-3GUS" in html and "500 MB" in html


def test_client_page_explains_a_used_up_voucher(vclient, vbackend):
    me = vbackend.by_ip[GUEST]
    me.update(admitted=True, reason="voucher_used", state="capped", voucher="WR3N-8CXT",
              voucher_bytes=2 * 10**9, voucher_used=2 * 10**9, voucher_remaining=0, remaining=0)
    html = vclient.get("/", environ_base={"REMOTE_ADDR": GUEST}).get_data(as_text=True)
    assert "Paused because the 2 GB of your voucher are used up." in html and 'name="voucher"' in html


@pytest.fixture
def vadmin(vclient):
    assert login(vclient).status_code == 303
    return vclient


@pytest.mark.parametrize("path", ["/admin/vouchers", "/admin/vouchers/print/1", "/admin/vouchers.csv"])
def test_voucher_pages_need_login(vclient, path):
    r = vclient.get(path)
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/login")


def test_admin_creates_lists_prints_and_revokes(vadmin, vbackend):
    html = vadmin.get("/admin/vouchers").get_data(as_text=True)
    assert "HZ7K-Q4PM" in html and "Batch 2" in html and "In use" in html and "Used up" in html
    r = post(vadmin, "/admin/vouchers", count="4", data="500MB", valid="2h", devices="2")
    assert r.status_code == 303 and r.headers["Location"].endswith("/admin/vouchers?made=3")
    assert ("create_vouchers", "4", "500MB", "2h", "2") in vbackend.calls
    assert "Made 4 vouchers." in vadmin.get(r.headers["Location"]).get_data(as_text=True)
    html = vadmin.get("/admin/vouchers/print/3").get_data(as_text=True)
    codes = [v["code"] for v in vbackend.codes.values() if v["batch"] == 3]
    assert len(codes) == 4 and html.count("data-qr=") == 4
    for code in codes:
        assert f'data-qr="http://localhost/signin?voucher={code}"' in html
    assert "vendor/qrcode-generator/qrcode.js" in html and "2 hours" in html and "500 MB" in html
    assert vadmin.get("/admin/vouchers/print/99").status_code == 404
    r = post(vadmin, "/admin/vouchers/HZ7K-Q4PM/revoke")
    assert r.status_code == 303 and ("revoke_voucher", "HZ7K-Q4PM") in vbackend.calls
    n = len(vbackend.calls)
    assert vadmin.post("/admin/vouchers/C7YF-3GUS/revoke", data={}).status_code == 400  # no CSRF
    assert len(vbackend.calls) == n


@pytest.mark.parametrize("field, value, message", [
    ("count", "0", "How many: a whole number from 1 to 500."),
    ("count", "1e3", "How many: a whole number from 1 to 500."),
    ("data", "lots", "Data: a size such as 500MB or 2GB, or empty for no limit."),
    ("valid", "forever", "Valid for: a duration such as 2h, 1d or 7d."),
    ("devices", "51", "Devices: a whole number from 1 to 50."),
])
def test_admin_refuses_bad_fields(vadmin, vbackend, field, value, message):
    form = {"count": "2", "data": "1GB", "valid": "1d", "devices": "1", field: value}
    r = post(vadmin, "/admin/vouchers", **form)
    assert r.status_code == 400 and message in r.get_data(as_text=True)
    assert not [c for c in vbackend.calls if c[0] == "create_vouchers"]


def test_admin_pages_in_chinese(vadmin):
    html = vadmin.get("/admin/vouchers?lang=zh").get_data(as_text=True)
    assert "生成上网券" in html and "第 2 批" in html and "使用中" in html
    html = vadmin.get("/admin/vouchers/print/1?lang=zh").get_data(as_text=True)
    assert "7 天" in html and "流量" in html


def test_csv_export_is_injection_safe(vadmin):
    r = vadmin.get("/admin/vouchers.csv")
    assert r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert {row["code"] for row in rows} >= {"HZ7K-Q4PM", "'=CMD-EVIL"}
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())
