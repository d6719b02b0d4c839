"""The client's own page and /api/me: its own numbers, escaped, whatever headers it forges."""

from __future__ import annotations

PHONE, LAPTOP, HOSTILE, WARNED = "10.0.0.10", "10.0.0.11", "10.0.0.13", "10.0.0.14"


def get(client, path, ip, **kw):
    return client.get(path, environ_base={"REMOTE_ADDR": ip}, **kw)


def test_api_me_numbers(client, backend):
    r = get(client, "/api/me", PHONE)
    assert r.status_code == 200 and r.is_json
    me = r.get_json()
    assert me["mac"] == "a4:5e:60:11:22:33"
    assert me["bytes_total"] == 620 * 10**6 == me["bytes_up"] + me["bytes_down"]
    assert me["cap"] == 2 * 10**9 and me["remaining"] == 2 * 10**9 - 620 * 10**6
    assert me["state"] == "ok"
    assert me["text"]["total"] == "620 MB" and me["text"]["remaining"] == "1.38 GB"
    assert me["text"]["percent"] == 31
    assert me["text"]["forecast"].startswith("At this pace you stay within your cap")


def test_page_shows_usage_and_state_sentence(client):
    html = get(client, "/", LAPTOP).get_data(as_text=True)
    assert "Slowed to 256 kbit/s because you used your 2 GB — full speed again on 1 Dec at 00:00." in html
    assert "1.78 GB" in html and "222 MB" in html
    assert 'id="chart-today"' in html and 'id="chart-days"' in html


def test_forecast_names_the_day_the_cap_is_reached(client):
    me = get(client, "/api/me", WARNED).get_json()
    assert me["forecast"]["cap_hit_at"].startswith("2026-11-24")
    assert me["text"]["forecast"] == "At this pace you reach your cap on 24 Nov."
    assert "92% of your 2 GB" in me["text"]["explanation"]


def test_forged_forwarded_for_is_ignored(client):
    r = get(client, "/api/me", PHONE, headers={"X-Forwarded-For": LAPTOP, "X-Real-IP": LAPTOP,
                                                "Forwarded": f"for={LAPTOP}"})
    assert r.get_json()["mac"] == "a4:5e:60:11:22:33"
    html = get(client, "/", PHONE, headers={"X-Forwarded-For": LAPTOP}).get_data(as_text=True)
    assert "Annas-iPhone" in html and "work-laptop" not in html


def test_not_a_client(client):
    r = get(client, "/api/me", "192.0.2.99")
    assert r.status_code == 404 and "error" in r.get_json()
    r = get(client, "/", "192.0.2.99")
    assert r.status_code == 200 and "not one of them yet" in r.get_data(as_text=True)


def test_hostile_hostname_is_escaped(client, backend):
    backend.by_ip[PHONE]["hostname"] = '<script>alert(1)</script>"; flush ruleset'
    html = get(client, "/", PHONE).get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # the JSON island is HTML-safe too: no raw '<' that could close the script element
    island = html.split('id="me-data">')[1].split("</script>")[0]
    assert "<" not in island and "\\u003cscript\\u003e" in island


def test_capped_voucher_client_is_offered_the_voucher_form(backend):
    from hotspot.portal.app import create_app
    from tests.portal_fake import FakeBackend

    app = create_app(FakeBackend(auth="voucher"), testing=True)
    html = get(app.test_client(), "/", "10.0.0.12").get_data(as_text=True)
    assert "Paused because you used your 1 GB — back online on 1 Dec at 00:00." in html
    assert 'name="voucher"' in html


def test_page_weight_is_small(client):
    total = len(get(client, "/", PHONE).data)
    for asset in ("/static/portal.css", "/static/portal.js"):
        r = get(client, asset, PHONE)
        assert r.status_code == 200
        total += len(r.data)
    assert total < 100_000, total


def test_security_headers(client):
    r = get(client, "/", PHONE)
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY"
