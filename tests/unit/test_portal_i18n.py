"""Chinese and English: catalogues through stdlib gettext, the switch, and locale-aware formatting."""

from __future__ import annotations

import pytest

from hotspot.portal.i18n import (
    _from_accept_language,
    format_date,
    format_datetime,
    format_number,
    format_rate,
    format_size,
)

LAPTOP = "10.0.0.11"


def test_accept_language_zh(client):
    html = client.get("/", environ_base={"REMOTE_ADDR": LAPTOP},
                      headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}).get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert "您已用完 2 GB 流量，网速已降至 256 kbit/s，将于12月1日 00:00恢复全速。" in html
    assert "本周期已用" in html and "Used this period" not in html


def test_switch_sets_a_cookie_and_wins_over_the_header(client):
    r = client.get("/?lang=zh", environ_base={"REMOTE_ADDR": LAPTOP}, headers={"Accept-Language": "en"})
    assert "lang=zh" in r.headers["Set-Cookie"] and "网速已受限" in r.get_data(as_text=True)
    html = client.get("/", environ_base={"REMOTE_ADDR": LAPTOP}, headers={"Accept-Language": "en"}).get_data(
        as_text=True)
    assert "网速已受限" in html
    html = client.get("/?lang=en", environ_base={"REMOTE_ADDR": LAPTOP}).get_data(as_text=True)
    assert "You&#39;re slowed down" in html
    assert 'href="/?lang=zh"' in html  # the visible switch


def test_admin_in_chinese(client):
    html = client.get("/admin/login?lang=zh").get_data(as_text=True)
    assert "管理员密码" in html and "登录" in html


def test_api_me_text_in_chinese(client):
    me = client.get("/api/me", environ_base={"REMOTE_ADDR": "10.0.0.14"},
                    headers={"Accept-Language": "zh"}).get_json()
    assert me["text"]["forecast"] == "按当前速度，您将在11月24日用完流量。"
    assert me["text"]["headline"] == "流量即将用完"


def test_every_catalogue_entry_is_translated():
    from pathlib import Path

    from hotspot.portal.app import web_dir

    po = (web_dir() / "translations/zh_CN/LC_MESSAGES/messages.po").read_text()
    assert 'msgstr ""\n\n' not in po.split("\n\n", 1)[1] + "\n"
    mo = Path(web_dir() / "translations/zh_CN/LC_MESSAGES/messages.mo")
    assert mo.stat().st_mtime >= 0 and mo.stat().st_size > 1000


def test_language_negotiation():
    assert _from_accept_language("zh-CN,zh;q=0.9") == "zh"
    assert _from_accept_language("fr-FR,zh;q=0.5,en;q=0.8") == "en"
    assert _from_accept_language("de") == "en"
    assert _from_accept_language("") == "en"


@pytest.mark.parametrize("n,text", [(0, "0 B"), (999, "999 B"), (1000, "1 kB"), (1_500_000_000, "1.5 GB"),
                                    (2 * 10**9, "2 GB"), (1_234_567, "1.23 MB"), (620 * 10**6, "620 MB")])
def test_sizes(n, text):
    assert format_size(n) == text


def test_rates_numbers_dates(app):
    assert format_rate(256_000) == "256 kbit/s" and format_rate(8_000_000) == "8 Mbit/s"
    assert format_number(1234567) == "1,234,567"
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert format_datetime("2026-12-01T00:00:00") == "1 Dec, 00:00"
        assert format_date("2026-11-27") == "27 Nov"
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        assert format_datetime("2026-12-01T00:00:00") == "12月1日 00:00"
        assert format_date("2026-11-27") == "11月27日"
