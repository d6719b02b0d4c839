"""Captive portal: RFC 8908, the catch-all for redirected requests, probes, sign-in, no open redirect."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from hotspot.portal.app import create_app
from tests.portal_fake import FakeBackend

GUEST, PHONE = "10.0.0.13", "10.0.0.10"  # GUEST is not admitted yet


@pytest.fixture
def backend():
    return FakeBackend(auth="click")


def get(client, path, ip=GUEST, **kw):
    return client.get(path, environ_base={"REMOTE_ADDR": ip}, **kw)


def csrf(client, ip=GUEST):
    get(client, "/signin", ip)
    with client.session_transaction() as s:
        return s["csrf"]


def test_api_captive_before_and_after_admission(client, backend):
    r = get(client, "/api/captive")
    assert r.headers["Content-Type"].startswith("application/captive+json")
    body = r.get_json(force=True)
    assert body["captive"] is True
    assert body["user-portal-url"] == "http://localhost/"
    assert body["venue-info-url"].startswith("http://")
    assert body["can-extend-session"] is False
    backend.admit(GUEST)
    body = get(client, "/api/captive").get_json(force=True)
    assert body["captive"] is False and body["seconds-remaining"] == 86400
    assert body["bytes-remaining"] == 2 * 10**9


@pytest.mark.parametrize("path", ["/hotspot-detect.html", "/generate_204", "/connecttest.txt",
                                  "/canonical.html", "/success.txt"])
def test_probes_on_a_foreign_host_go_to_sign_in_keeping_the_url(client, path):
    r = get(client, path, headers={"Host": "captive.apple.com"})
    assert r.status_code == 302
    loc = urlsplit(r.headers["Location"])
    assert (loc.netloc, loc.path) == ("localhost", "/signin")
    assert parse_qs(loc.query)["url"] == [f"http://captive.apple.com{path}"]


@pytest.mark.parametrize("path", ["/hotspot-detect.html", "/generate_204", "/connecttest.txt",
                                  "/canonical.html", "/success.txt"])
def test_probes_at_the_portal_never_say_success_while_captive(client, backend, path):
    r = get(client, path)
    assert r.status_code == 302 and b"Success" not in r.data and b"success" not in r.data
    backend.admit(GUEST)
    r = get(client, path)
    assert r.status_code in (200, 204)


def test_any_path_on_a_foreign_host_redirects_with_query_kept(client):
    r = get(client, "/news/today?id=5&x=<b>", headers={"Host": "example.com"})
    kept = parse_qs(urlsplit(r.headers["Location"]).query)["url"][0]
    assert kept.startswith("http://example.com/news/today?id=5")
    r = get(client, "/admin/clients", headers={"Host": "example.com"})  # no admin page on a foreign host
    assert r.status_code == 302 and "/signin" in r.headers["Location"]


def test_click_sign_in_admits_and_returns_to_the_kept_url(client, backend):
    token = csrf(client)
    html = get(client, "/signin?url=http%3A%2F%2Fexample.com%2Fa").get_data(as_text=True)
    assert "I accept the terms" in html and 'value="http://example.com/a"' in html
    r = client.post("/signin", data={"csrf": token, "accept": "yes", "url": "http://example.com/a"},
                    environ_base={"REMOTE_ADDR": GUEST})
    assert r.status_code == 303 and r.headers["Location"] == "http://example.com/a"
    assert ("admit", GUEST, None) in backend.calls


def test_sign_in_without_accepting_is_refused(client, backend):
    token = csrf(client)
    r = client.post("/signin", data={"csrf": token}, environ_base={"REMOTE_ADDR": GUEST})
    assert r.status_code == 400 and b"accept the terms" in r.data
    assert not [c for c in backend.calls if c[0] == "admit"]


@pytest.mark.parametrize("bad", ["javascript:alert(1)", "//evil.example/", "data:text/html,x", "/\\evil",
                                 "http://user:pw@evil.example/", "ftp://example.com/",
                                 "\\\\evil.example", "\\/evil.example", "http:\\\\evil.example",
                                 "https:/\\evil.example", "http:evil.example", "http:///evil.example",
                                 " http://evil.example/", "java\tscript:alert(1)", "JaVaScRiPt:alert(1)",
                                 "http://evil.example\\@ok.example/", "\x00http://evil.example/",
                                 "http://[::1", "///evil.example", "\u3000http://evil.example/",
                                 "data:,http://x", "vbscript:msgbox(1)", "/%2F%2Fevil.example",
                                 "http://evil.example:99999/", "https://" + "a" * 2100 + ".example/"])
def test_no_open_redirect(client, bad):
    token = csrf(client)
    r = client.post("/signin", data={"csrf": token, "accept": "yes", "url": bad},
                    environ_base={"REMOTE_ADDR": GUEST})
    assert r.status_code == 303 and r.headers["Location"] == "http://localhost/"
    assert bad not in get(client, "/signin", query_string={"url": bad}).get_data(as_text=True)


def test_voucher_sign_in():
    backend = FakeBackend(auth="voucher")
    client = create_app(backend, testing=True).test_client()
    token = csrf(client)
    html = get(client, "/").get_data(as_text=True)
    assert 'name="voucher"' in html
    r = client.post("/signin", data={"csrf": token, "voucher": "<bad>"}, environ_base={"REMOTE_ADDR": GUEST})
    assert r.status_code == 400 and not [c for c in backend.calls if c[0] == "admit"]
    r = client.post("/signin", data={"csrf": token, "voucher": "NOPE-0000"},
                    environ_base={"REMOTE_ADDR": GUEST})
    assert r.status_code == 403 and b"That voucher code is not valid." in r.data
    r = client.post("/signin", data={"csrf": token, "voucher": "HZ7K-Q4PM"},
                    environ_base={"REMOTE_ADDR": GUEST})
    assert r.status_code == 303 and ("admit", GUEST, "HZ7K-Q4PM") in backend.calls


def test_post_without_csrf_is_refused(client, backend):
    get(client, "/signin")
    r = client.post("/signin", data={"accept": "yes"}, environ_base={"REMOTE_ADDR": GUEST})
    assert r.status_code == 400
    r = client.post("/signin", data={"accept": "yes", "csrf": "forged"}, environ_base={"REMOTE_ADDR": GUEST})
    assert r.status_code == 400
    assert not [c for c in backend.calls if c[0] == "admit"]


def test_oversized_post_is_413(client, backend):
    token = csrf(client)
    r = client.post("/signin", data={"csrf": token, "accept": "yes", "x": "a" * 40_000},
                    environ_base={"REMOTE_ADDR": GUEST})
    assert r.status_code == 413
    assert not [c for c in backend.calls if c[0] == "admit"]


def test_unadmitted_client_gets_the_sign_in_page_at_root(client):
    html = get(client, "/").get_data(as_text=True)
    assert "Welcome to Café Sunrise" in html and "I accept the terms" in html


def test_every_address_and_name_of_the_router_is_the_portal_on_any_port():
    backend = FakeBackend(auth="click", portal_url="http://10.0.0.1:8080")
    backend._portal["portal_hosts"] = ["10.0.0.1", "fd00::1", "localhost", "127.0.0.1"]
    client = create_app(backend, testing=True).test_client()
    for host in ("10.0.0.1:8080", "[fd00::1]:8080", "127.0.0.1:9000", "LOCALHOST"):
        r = get(client, "/api/captive", headers={"Host": host})
        assert r.status_code == 200, host
    r = get(client, "/api/captive", headers={"Host": "10.0.0.1.example.com"})
    assert r.status_code == 302 and r.headers["Location"].startswith("http://10.0.0.1:8080/signin")


@pytest.mark.parametrize("ip", ["10.0.0.12", "10.0.0.15"])  # capped (blocked after the cap), blocked
def test_a_stopped_client_redirected_by_the_kernel_lands_on_the_page_that_says_why(ip):
    backend = FakeBackend(auth="none")
    client = create_app(backend, testing=True).test_client()
    r = get(client, "/anything", ip, headers={"Host": "example.com"})
    assert r.status_code == 302 and urlsplit(r.headers["Location"]).path == "/signin"
    r = get(client, r.headers["Location"].split("localhost", 1)[1], ip)
    assert r.status_code == 302 and urlsplit(r.headers["Location"]).path == "/"
    page = get(client, "/", ip).get_data(as_text=True)
    assert ("paused" in page) or ("used" in page)


@pytest.mark.parametrize("good", ["http://example.com/a", "https://example.com/a?b=c#d", "HTTP://Example.com/",
                                  "http://192.0.2.1:8080/x", "http://[2001:db8::1]/"])
def test_sign_in_returns_to_an_absolute_http_url(client, good):
    token = csrf(client)
    r = client.post("/signin", data={"csrf": token, "accept": "yes", "url": good},
                    environ_base={"REMOTE_ADDR": GUEST})
    assert r.status_code == 303 and r.headers["Location"] == good


def _privacy(html: str) -> str:
    import re

    found = re.search(r'<section class="privacy".*?</section>', html, re.S)
    assert found, "no notice of what is recorded"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(0)).split())


@pytest.mark.parametrize("path, ip", [("/signin", GUEST), ("/", GUEST), ("/", PHONE)])
def test_guests_read_what_is_recorded_about_their_device_and_for_how_long(client, backend, path, ip):
    text = _privacy(get(client, path, ip).get_data(as_text=True))
    assert text.startswith("What this hotspot records about your device")
    assert "by hour, day and month, and by app" in text and "names it looks up in DNS" in text
    assert "destinations of traffic that looks unusual" in text
    assert "by the hour for 30 days, then by the day for 13 months, then by the month" in text
    assert "uses no data for 90 days is forgotten with everything recorded about it" in text
    zh = _privacy(get(client, path + "?lang=zh", ip).get_data(as_text=True))
    assert zh.startswith("本热点记录了您设备的哪些信息")
    assert "按小时保存 30 天" in zh and "13 个月" in zh and "按月保存。设备连续 90 天不用流量" in zh


def test_the_notice_follows_the_settings(backend):
    backend._portal["retention"] = {"client_days": None, "hourly_days": 7, "daily_months": 2}
    client = create_app(backend, testing=True).test_client()
    text = _privacy(get(client, "/signin").get_data(as_text=True))
    assert "by the hour for 7 days, then by the day for 2 months" in text
    assert "then by the month, until the hotspot’s owner forgets the device" in text
    assert "forgotten with" not in text
