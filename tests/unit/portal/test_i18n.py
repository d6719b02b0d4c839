"""Chinese and English: catalogues through stdlib gettext, the switch, and locale-aware formatting."""

from __future__ import annotations

import html as html_lib
import re
from urllib.parse import unquote, urljoin

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


# -- links built from the request stay on the portal ------------------------------------------------

def _as_browser_reads(href: str) -> str:
    """What a browser makes of an href: tabs and newlines dropped, a backslash read as a slash (WHATWG
    URL, special schemes)."""
    return "".join(c for c in html_lib.unescape(href) if c not in "\t\n\r").replace("\\", "/")


@pytest.mark.parametrize("path", ["/%5Cevil.example/", "//evil.example/", "/%2F%2Fevil.example/",
                                  "/%5C%5Cevil.example", "/\\evil.example/", "/%09/evil.example",
                                  "///evil.example/x", "/%5C/evil.example", "/%0A/evil.example",
                                  "/%E2%80%A8/evil.example", "/ /evil.example", "/?x=%5Cevil"])
def test_the_language_switch_never_leaves_the_portal(client, path):
    raw, _, query = path.partition("?")
    wsgi_path = unquote(raw, encoding="latin-1")  # the path as a WSGI server hands it over
    r = client.get("/", query_string=query, environ_base={"REMOTE_ADDR": LAPTOP},
                   environ_overrides={"PATH_INFO": wsgi_path})
    hrefs = re.findall(r'<a href="([^"]*)" lang="(?:en|zh-CN)"', r.get_data(as_text=True))
    assert len(hrefs) == 2, (path, r.status_code)
    for href in hrefs:
        seen = _as_browser_reads(href)
        assert seen.startswith("/") and not seen.startswith("//"), (path, href)
        assert urljoin("http://portal.lab/a/b", seen).startswith("http://portal.lab/"), (path, href)
        assert "lang=" in seen


def test_the_language_switch_keeps_the_page_and_its_parameters(client):
    html = client.get("/admin/login?next=x&lang=en").get_data(as_text=True)
    assert 'href="/admin/login?next=x&amp;lang=zh"' in html
    html = client.get("/%5Cevil.example/").get_data(as_text=True)  # the 404 page still switches
    assert 'href="/%5Cevil.example/?lang=zh"' in html
