"""luci-app-hotspot's views rendered by LuCI's own JavaScript in Debian's headless Chromium, run as a
LAN client, against the real LuCI in the lab's router (uhttpd's /ubus, rpcd's session and ACLs, the
plugin) and the real hotspotd: what the owner sees and does there reaches the kernel and the config
file. Screenshots of each view, phone and desktop, English and Chinese."""

from __future__ import annotations

import pytest

from hotspot.config import load
from tests.browser.conftest import DESKTOP, PHONE, shot
from tests.lab.conftest import register
from tests.luci.conftest import OWNER

CLIENT_ROW = ".hotspot-clients tr.tr:not(.table-titles):not(.placeholder)"


def login(router) -> list[dict]:
    """LuCI's own login page (the dispatcher's sysauth), then Services > Hotspot."""
    return [{"get": router.url + "/cgi-bin/luci/admin/services/hotspot"},
            {"fill": "input[name=luci_password]", "text": OWNER.password},
            {"click": "button.cbi-button-positive"}]


def test_overview_shows_the_plan_and_clients_and_its_actions_reach_the_kernel(lab, luci_router, browse):
    r, d = luci_router, luci_router.hotspotd
    register(lab, d, "c1", "c2")
    mac = lab.clients["c2"].mac
    results = browse("c1", login(r) + [
        {"wait": CLIENT_ROW, "timeout": 20},
        {"text": ".hotspot-plan"},
        {"count": CLIENT_ROW},
        {"eval": f"return Array.from(document.querySelectorAll('{CLIENT_ROW}'))"
                 f".findIndex(function(tr) {{ return tr.textContent.indexOf('{mac}') > -1; }})"},
    ], size=DESKTOP, name="overview")
    plan, rows, index = results[-3:]
    assert "20 GB" in plan and "Forecast" in plan
    assert rows == len(d.clients())
    # cap the other client through the modal: the plugin, hotspotctl, the kernel
    row = f"{CLIENT_ROW}:nth-of-type({index + 2})"
    browse("c1", login(r) + [
        {"wait": CLIENT_ROW, "timeout": 20},
        {"click": f"{row} .hotspot-actions button:first-child"},
        {"fill": ".modal input", "text": "3GB"},
        {"click": ".modal .cbi-button-action"},
        {"wait": f"{row} td[data-title=Cap]", "text": "3 GB", "timeout": 15},
    ], size=DESKTOP, name="cap")
    assert d.client(mac)["cap"] == 3 * 10**9


def test_the_admin_ui_opens_from_luci_without_its_password(lab, luci_router, browse):
    r, d = luci_router, luci_router.hotspotd
    d.ctl("passwd", input="a-password-nobody-types\n")
    results = browse("c1", login(r) + [
        {"wait": "form.hotspot-admin button", "timeout": 20},
        {"eval": "document.querySelector('form.hotspot-admin').target = '_self'; return 1"},  # not a new tab
        {"click": "form.hotspot-admin button"},
        {"wait": "a[href$='/admin/vouchers']", "timeout": 15},
        {"url": True},
    ], size=DESKTOP, name="admin")
    assert results[-1] == f"http://{lab.router4}:{d.config.portal_port}/admin"


def settings(r) -> list[dict]:
    return [{"wait": "#view .cbi-map h2", "timeout": 20},
            {"get": r.url + "/cgi-bin/luci/admin/services/hotspot/settings"},
            {"wait": "select[id$='.period']", "timeout": 20}]


WEEKLY = {"eval": "var s = document.querySelector('select[id$=\".period\"]'); s.value = 'weekly';"
                  "s.dispatchEvent(new Event('change')); return 1"}
SAVE = {"click": ".cbi-page-actions .cbi-button-save"}


def test_settings_write_only_what_hotspot_accepts(lab, luci_router, browse):
    r, d = luci_router, luci_router.hotspotd
    before = d.config_path.read_text()
    # the field's own check, from the option's declaration: a weekly period starts on day 1 to 7
    results = browse("c1", login(r) + settings(r) + [
        {"count": ".cbi-tabmenu li"}, WEEKLY, {"fill": "input[id$='.period_start']", "text": "9"}, SAVE,
        {"wait": "#maincontent", "text": "A number from 1 to 7", "timeout": 15}, {"text": "#maincontent"},
    ], size=DESKTOP, name="settings-field")
    assert results[-6] == 3  # the admin UI's three forms, as tabs
    assert "A number from 1 to 7" in results[-1]
    # hotspot's own check before the save: a zone the field's pattern lets through, hotspot does not know
    results = browse("c1", login(r) + settings(r) + [
        {"click": ".cbi-tabmenu li:nth-child(2) a"},
        {"fill": "input[id$='.plan_timezone']", "text": "Mars/Olympus_Mons"}, SAVE,
        {"wait": "#maincontent", "text": "hotspot refuses", "timeout": 15}, {"text": "#maincontent"},
    ], size=DESKTOP, name="settings-hotspot")
    assert "hotspot refuses these settings: option plan_timezone:" in results[-1]
    assert d.config_path.read_text() == before  # nothing written, nothing staged
    # Save & Apply: LuCI's dispatcher has rpcd apply the change with a rollback, and confirms it
    browse("c1", login(r) + settings(r) + [
        WEEKLY, {"fill": "input[id$='.period_start']", "text": "5"},
        {"click": ".cbi-page-actions .cbi-button-apply"},
        {"wait": "body", "text": "Configuration changes applied", "timeout": 40},
    ], size=DESKTOP, name="settings-applied")
    cfg = load(d.config_path)
    assert (cfg.period, cfg.period_start) == ("weekly", 5)


@pytest.mark.parametrize("lang", ["en-US", "zh-CN"])
def test_screenshots(lab, luci_router, browse, request, lang):
    """Each view at a phone's and a desktop's width, with a capped, a throttled and a busy client: the
    Overview's live rate is the bytes between two of its reads, so it waits for a rate in Mbit/s."""
    r, d = luci_router, luci_router.hotspotd
    register(lab, d, "c1", "c2")
    d.ctl("cap", lab.clients["c1"].mac, "50MB")
    d.ctl("throttle", lab.clients["c2"].mac, "2mbit")
    busy = lab.iperf_start("c1", seconds=40, reverse=True, bitrate="8M", timeout=50)
    try:
        for size, tag in ((PHONE, "phone"), (DESKTOP, "desktop")):
            browse("c1", login(r) + [
                {"wait": ".hotspot-rate", "text": "Mbit/s", "timeout": 20},
                shot(request, f"overview-{tag}"),
                {"get": r.url + "/cgi-bin/luci/admin/services/hotspot/settings"},
                {"wait": "select[id$='.period']", "timeout": 20},
                shot(request, f"settings-{tag}"),
            ], size=size, lang=lang, name=tag, mobile=size == PHONE)
    finally:
        busy.client.kill()
