"""/metrics: who may read it, and label values escaped per the exposition format."""

from __future__ import annotations

import pytest

from hotspot.portal.app import create_app
from hotspot.portal.metrics import escape_label, render
from tests.portal_fake import FakeBackend
from tests.promtool import promtool_check, samples


@pytest.fixture
def backend():
    return FakeBackend(metrics_token="s3cret-token")


def test_needs_auth(client):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Basic s3cret-token"}).status_code == 401


def test_bearer_token(client):
    r = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = r.get_data(as_text=True)
    assert "# TYPE hotspot_client_bytes_total counter" in text
    assert 'hotspot_client_info{mac="a4:5e:60:11:22:33",hostname="Annas-iPhone",alias=""} 1\n' in text
    assert 'hotspot_client_bytes_total{mac="a4:5e:60:11:22:33",direction="up"} 68888888\n' in text
    assert 'hotspot_client_cap_bytes{mac="a4:5e:60:11:22:33"} 2000000000\n' in text
    assert 'hotspot_client_state{mac="3c:22:fb:44:55:66",state="throttled"} 1\n' in text
    assert 'hotspot_client_state{mac="3c:22:fb:44:55:66",state="ok"} 0\n' in text
    assert "hotspot_clients 6" in text and "hotspot_rebuilds_total 3" in text
    assert "hotspot_poll_duration_seconds 0.0042" in text
    assert "hotspot_last_poll_timestamp_seconds " in text
    assert 'hotspot_plan_bytes_total{direction="down"}' in text


def test_no_token_configured_means_no_bearer_access():
    client = create_app(FakeBackend(metrics_token=None), testing=True).test_client()
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer None"}).status_code == 401


def test_admin_session(client, backend):
    with client.session_transaction() as s:
        s["admin"] = backend.login("10.0.0.10", backend.password)  # a session the backend issued
    assert client.get("/metrics").status_code == 200
    with client.session_transaction() as s:
        s["admin"] = True  # a cookie that merely claims to be the admin's
    assert client.get("/metrics").status_code == 401


def test_label_escaping(client, backend):
    backend.by_ip["10.0.0.10"]["hostname"] = 'a"b\\c\nd} x{'
    text = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"}).get_data(as_text=True)
    assert 'hostname="a\\"b\\\\c\\nd} x{"' in text
    promtool_check(text)
    assert escape_label('"; flush ruleset') == '\\"; flush ruleset'
    for line in text.splitlines():  # every sample is one line: name{labels} value
        assert line.startswith("#") or line.startswith("hotspot_")


def test_promtool_accepts_what_the_portal_serves(client):
    """Prometheus' own linter: base units (bytes, seconds, ratios), _total counters, HELP and TYPE."""
    r = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    promtool_check(r.get_data(as_text=True))


def test_promtool_refuses_what_it_should():
    """The check can fail: a rate in bits and a counter without _total are what it refuses."""
    with pytest.raises(AssertionError, match="bits"):
        promtool_check("# HELP x_bits_per_second r.\n# TYPE x_bits_per_second gauge\n"
                       "x_bits_per_second 1\n")
    with pytest.raises(AssertionError, match="_total"):
        promtool_check("# HELP x_bytes b.\n# TYPE x_bytes counter\nx_bytes 1\n")


def test_names_live_only_in_client_info(client, backend):
    """A renamed device keeps its series: only hotspot_client_info carries the hostname and alias, every
    other series names the client by its MAC (lower-case, colons)."""
    def scrape():
        return samples(client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
                       .get_data(as_text=True))
    before = scrape()
    backend.by_ip["10.0.0.10"]["hostname"] = "renamed-phone"
    after = scrape()
    assert {k for k in before if not k.startswith("hotspot_client_info")} == \
        {k for k in after if not k.startswith("hotspot_client_info")}
    assert 'hotspot_client_info{mac="a4:5e:60:11:22:33",hostname="renamed-phone",alias=""}' in after
    for series in after:
        if not series.startswith("hotspot_client_info"):
            assert "hostname=" not in series and "alias=" not in series, series
    macs = [part.split('"')[1] for series in after for part in series.split(",") if 'mac="' in part]
    assert macs and all(m == m.lower() and "-" not in m for m in macs)


def test_mac_labels_have_one_spelling():
    text = render({"clients": [{"mac": "A4-5E-60-11-22-33", "hostname": "x", "bytes_up": 1}],
                   "apps": [{"mac": "A4:5E:60:11:22:33", "categories": [
                       {"category": "video", "bytes_up": 1, "bytes_down": 2, "bytes_total": 3}]}]})
    assert 'hotspot_client_bytes_total{mac="a4:5e:60:11:22:33",direction="up"} 1\n' in text
    category = 'hotspot_category_bytes_total{mac="a4:5e:60:11:22:33",category="video",direction="down"}'
    assert f"{category} 2\n" in text
    promtool_check(text)
