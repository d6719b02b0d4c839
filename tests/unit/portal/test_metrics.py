"""/metrics: who may read it, and label values escaped per the exposition format."""

from __future__ import annotations

import pytest

from hotspot.portal.app import create_app
from hotspot.portal.metrics import escape_label
from tests.portal_fake import FakeBackend


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
    ids = 'mac="a4:5e:60:11:22:33",hostname="Annas-iPhone"'
    assert f'hotspot_client_bytes_total{{{ids},direction="up"}} 68888888' in text
    assert 'hotspot_client_cap_bytes{mac="a4:5e:60:11:22:33",hostname="Annas-iPhone"} 2000000000' in text
    assert 'hotspot_client_state{mac="3c:22:fb:44:55:66",hostname="work-laptop",state="throttled"} 1' in text
    assert 'hotspot_client_state{mac="3c:22:fb:44:55:66",hostname="work-laptop",state="ok"} 0' in text
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
    assert escape_label('"; flush ruleset') == '\\"; flush ruleset'
    for line in text.splitlines():  # every sample is one line: name{labels} value
        assert line.startswith("#") or line.startswith("hotspot_")
