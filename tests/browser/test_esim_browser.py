"""The eSIM's profiles on the admin Plan page in headless Chromium, against the real hotspotd whose lpac
is the stand-in (tests/lpac_standin.py): the owner enables the travel pass and names the home profile,
on a phone and a desktop, in English and Chinese."""

from __future__ import annotations

import json
from pathlib import Path

from tests.browser.conftest import DESKTOP, PHONE, shot
from tests.lab.conftest import register
from tests.lpac_standin import HOME, TRAVEL, sample

PASSWORD = "owner-secret-1"
SCROLL = {"eval": "document.getElementById('esim').scrollIntoView(); return 1"}
STANDIN = str(Path(__file__).resolve().parents[1] / "lpac_standin.py")


def _login(d, lang: str = "en") -> list[dict]:
    return [{"get": d.portal(f"/admin/login?lang={lang}")},
            {"fill": "input[name=password]", "text": PASSWORD},
            {"click": "form button[type=submit]"},
            {"wait": "body", "text": "Log out" if lang == "en" else "退出登录"},
            {"get": d.portal("/admin/plan")},
            {"wait": "#esim"}]


def test_the_owner_enables_and_names_profiles(lab, start_hotspotd, browse, request, monkeypatch):
    state = sample(str(Path(lab.dir) / "euicc.json"))
    monkeypatch.setenv("LPAC_STANDIN_STATE", state)
    d = start_hotspotd(plan_quota=20_000_000, esim_lpac=STANDIN)
    register(lab, d, "c1")
    d.ctl("passwd", input=f"{PASSWORD}\n")
    d.wait_portal()

    def card() -> list[tuple]:
        return [(p["iccid"], p["profileState"], p["profileNickname"])
                for p in json.loads(Path(state).read_text())["profiles"]]

    results = browse("c1", [
        *_login(d),
        SCROLL,
        shot(request, "esim-phone"),
        {"text": "#esim"},
        {"count": "#esim form.pr-enable button"},
        {"click": f"#esim li[data-iccid='{TRAVEL}'] form.pr-enable button"},
        {"wait": ".flash", "text": f"Profile {TRAVEL} enabled"},
        {"fill": f"#esim li[data-iccid='{HOME}'] input[name=nickname]", "text": "Home <3 家"},
        {"click": f"#esim li[data-iccid='{HOME}'] form.pr-nickname button"},
        {"wait": ".flash", "text": "Nickname saved."},
        SCROLL,
        shot(request, "esim-phone-after"),
        {"text": "#esim"},
        {"fill": f"#esim li[data-iccid='{TRAVEL}'] input[name=nickname]", "text": "-rf"},
        {"click": f"#esim li[data-iccid='{TRAVEL}'] form.pr-nickname button"},
        {"wait": "#esim .error"},
        {"text": "#esim .error"},
    ], size=PHONE, mobile=True)
    before, enables, after, refused = results[8], results[9], results[17], results[-1]
    assert "Japan 7 days 5GB" in before and "Tokyo Pass" in before and HOME in before, before
    assert enables == 1  # the enabled profile has none
    assert card() == [(HOME, "disabled", "Home <3 家"), (TRAVEL, "enabled", None)]
    assert "Home <3 家" in after and "In use" in after, after
    assert "Nickname: 1 to 64 bytes" in refused, refused
    assert card()[1][2] is None

    browse("c1", [*_login(d), SCROLL, shot(request, "esim-desktop")], size=DESKTOP, name="desktop")
    zh = browse("c1", [*_login(d, "zh"), SCROLL, shot(request, "esim-zh-phone"), {"text": "#esim"}],
                lang="zh-CN", size=PHONE, mobile=True, name="zh")[-1]
    assert "eSIM 配置文件" in zh and "启用一个配置文件后" in zh, zh
    browse("c1", [*_login(d, "zh"), SCROLL, shot(request, "esim-zh-desktop")], lang="zh-CN", size=DESKTOP,
           name="zh-desktop")
