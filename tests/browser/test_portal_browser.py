"""The portal in a real browser, from inside a client: the captive flow, the usage page after real
traffic, the admin UI cutting a client off, and the Chinese page."""

from __future__ import annotations

from tests.browser.conftest import DESKTOP, PHONE, shot
from tests.lab.conftest import register


def test_click_through_captive_flow_ends_on_the_page_first_asked_for(web, start_hotspotd, browse, request):
    lab = web
    d = start_hotspotd(auth="click")
    register(lab, d, "c1")
    d.wait_portal()
    assert d.client(lab.clients["c1"].mac)["admitted"] is False
    wanted = "http://internet.lab/hello"
    url, page = browse("c1", [
        {"get": wanted},  # the kernel sends it to the portal, which sends it to sign in
        {"wait": "input[name=accept]"},
        shot(request, "signin"),
        {"click": "input[name=accept]"},
        {"click": "form button[type=submit]"},
        {"wait": "body", "text": "internet host=internet.lab path=/hello"},
        {"url": True},
        {"text": "body"},
    ])[-2:]
    assert url == wanted and page.strip() == "internet host=internet.lab path=/hello"
    assert d.client(lab.clients["c1"].mac)["admitted"] is True


def test_voucher_flow_ends_on_the_page_first_asked_for(web, start_hotspotd, browse, request):
    lab = web
    d = start_hotspotd(auth="voucher")
    register(lab, d, "c1")
    d.wait_portal()
    made = d.json("voucher", "create", "--data", "50MB", "--valid", "1h")
    code = (made[0] if isinstance(made, list) else made["vouchers"][0])["code"]
    wanted = "http://internet.lab/after-voucher"
    results = browse("c1", [
        {"get": wanted},
        {"wait": "input[name=voucher]"},
        {"fill": "input[name=voucher]", "text": "WRONG-CODE"},
        {"click": "form button[type=submit]"},
        {"wait": ".error"},
        shot(request, "voucher-refused"),
        {"fill": "input[name=voucher]", "text": code.lower()},  # any case will do
        {"click": "form button[type=submit]"},
        {"wait": "body", "text": "internet host=internet.lab path=/after-voucher"},
        {"url": True},
    ])
    assert results[-1] == wanted
    info = d.client(lab.clients["c1"].mac)
    assert info["admitted"] is True and info["voucher"] == code
    page = browse("c1", [{"get": d.portal("/")}, {"wait": "#status"}, shot(request, "voucher-page"),
                         {"text": "main"}], name="page")[-1]
    assert code in page or "50 MB" in page, page


def test_usage_page_shows_the_real_numbers_and_draws_its_charts(lab, start_hotspotd, browse, request):
    d = start_hotspotd()
    register(lab, d, "c1", "c2")
    mac = lab.clients["c1"].mac
    d.ctl("cap", mac, "1GB")
    d.wait_portal()
    lab.iperf("c1", bytes=30_000_000, reverse=True)
    d.wait_polls()
    before = d.client(mac)["bytes_total"]
    me_js = "return JSON.parse(document.getElementById('me-data').textContent)"
    results = browse("c1", [
        {"get": d.portal("/")},
        {"wait": "#chart-today svg rect"},
        {"wait": "#chart-days svg rect"},
        shot(request, "usage-phone"),
        {"eval": me_js},
        {"text": "[data-f=total]"},
        {"eval": "return Math.max(...[...document.querySelectorAll('#chart-today svg rect')]"
                 ".map(r => r.getBBox().height))"},
    ])
    me, total_text, tallest = results[-3:]
    after = d.client(mac)["bytes_total"]
    assert me["mac"] == mac and before <= me["bytes_total"] <= after
    assert me["cap"] == 1_000_000_000
    assert total_text.endswith("MB") and 30 <= float(total_text.split()[0]) <= 40, total_text
    assert tallest > 10, "today's chart has a visible bar for this hour's traffic"
    browse("c1", [{"get": d.portal("/")}, {"wait": "#chart-days svg rect"}, shot(request, "usage-desktop")],
           size=DESKTOP, name="desktop")


def test_admin_blocks_a_client_and_its_next_request_fails(web, start_hotspotd, browse, request):
    lab = web
    d = start_hotspotd()
    register(lab, d, "c1", "c2")
    victim = lab.clients["c1"].mac
    d.ctl("passwd", input="owner-secret-1\n")
    d.wait_portal()
    assert lab.curl("c1", "http://internet.lab/ok").stdout.startswith("internet ")
    browse("c2", [
        {"get": d.portal("/admin/clients")},  # not logged in: sent to the login page
        {"wait": "input[name=password]"},
        {"fill": "input[name=password]", "text": "wrong-password"},
        {"click": "form button[type=submit]"},
        {"wait": ".error"},
        shot(request, "login-refused"),
        {"fill": "input[name=password]", "text": "owner-secret-1"},
        {"click": "form button[type=submit]"},
        {"wait": "body", "text": "Log out"},  # logged in: the dashboard
        {"get": d.portal(f"/admin/clients/{victim}")},
        {"wait": "button.danger"},
        shot(request, "client-before"),
        {"click": "button.danger"},
        {"accept": True},
        {"wait": "body", "text": "Unblock"},
        shot(request, "client-blocked"),
    ], size=DESKTOP)
    assert d.client(victim)["blocked"] is True
    # Its next request to the internet fails; its plain HTTP lands on the portal saying why.
    assert not lab.ping("c1", lab.server4, timeout=1)
    out = lab.curl("c1", "http://internet.lab/ok", "-L", check=False).stdout
    assert not out.startswith("internet "), out
    status = browse("c1", [{"get": d.portal("/")}, {"wait": "#status"}, shot(request, "victim-page"),
                           {"text": "#status"}], name="victim")[-1]
    assert "owner has paused this device" in status, status


def test_chinese_page(lab, start_hotspotd, browse, request):
    d = start_hotspotd()
    register(lab, d, "c1")
    d.ctl("cap", lab.clients["c1"].mac, "2GB")
    d.wait_portal()
    lang, used, *_ = browse("c1", [
        {"get": d.portal("/")},
        {"wait": "#chart-today svg"},
        {"eval": "return document.documentElement.lang"},
        {"text": "main"},
        shot(request, "zh-phone"),
    ], lang="zh-CN", size=PHONE)[2:]
    assert lang.startswith("zh") and "本周期已用" in used and "2 GB" in used
