"""What hotspotd answers the portal about the data plan, through the real house (no kernel): a
client sees only the plan's facts that affect it, the plan's bound reaches RFC 8908's bytes-remaining,
the owner's top-up, alerts, delivery log and channel test."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from hotspot.alerts.channels import DeliveryError
from hotspot.clients import keeper as clients_keeper
from hotspot.core.contract import BackendError
from hotspot.house import House
from hotspot.plan.model import Threshold
from hotspot.portal.app import create_app
from tests.conftest import Clock, without_kernel

GB, MB = 10**9, 10**6
GUEST, OWNER = "aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02"
ADDRESSES = {"10.0.0.2": GUEST, "10.0.0.3": OWNER}
FACTS = {"percent", "guard", "held", "left_for_you", "alert_point", "next_level", "next_at_percent",
         "cycle_end", "renews"}


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@pytest.fixture
def hs(cfg, monkeypatch):
    """A hotspot with a 10 GB plan (slow at 90 %, block at 100 %), a guest with a 1 GB cap and the
    owner's exempt phone; the portal's neighbour lookup and kernel counters stubbed."""
    clock = Clock(ts("2026-11-20 12:00"))
    cfg = cfg.replace(plan_quota=10 * GB, plan_throttle_at=Threshold(percent=90.0),
                      plan_block_at=Threshold(percent=100.0), alert_at=(80, 95, 100), plan_exempt=(OWNER,),
                      alert_webhook="https://user:pw@hooks.example.com/t0k3n", alert_sms=("+4915112345678",))
    h = House(cfg, clock=clock)
    with h.store.transaction():
        h.store.add_client(GUEST, clock.now, cap=GB, hostname="<b>guest</b>")
        h.store.add_client(OWNER, clock.now, hostname="owner-phone")
    h.plan.rollover_step()  # the first cycle starts
    without_kernel(monkeypatch, ADDRESSES)
    yield h
    h.close()


def use(hs, nbytes: int) -> None:
    """The poll moved `nbytes` of the plan's into the database."""
    with hs.store.transaction():
        hs.plan.add(nbytes, hs.clock())


def api_of(hs, channels=None, test_send=None):
    """hotspotd's answers to the portal; `channels`: the channels its outbox delivers through now,
    `test_send`: its outbox's test (None: no outbox runs)."""
    if channels is not None:
        hs.alerts.channel_names = channels
    hs.alerts.send_test = test_send
    return hs.answers()


def test_the_plans_bound_reaches_rfc8908_bytes_remaining(hs):
    use(hs, 9_700 * MB)
    client = create_app(api_of(hs), testing=True).test_client()
    body = client.get("/api/captive", environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_json(force=True)
    # its own cap leaves 1 GB; the plan blocks guests at 10 GB, 300 MB from here
    assert body["captive"] is False and body["bytes-remaining"] == 300 * MB
    owner = client.get("/api/captive", environ_base={"REMOTE_ADDR": "10.0.0.3"}).get_json(force=True)
    assert "bytes-remaining" not in owner  # exempt, no cap, no stop point: no bound
    use(hs, 300 * MB)
    body = client.get("/api/captive", environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_json(force=True)
    assert body["captive"] is True and body["bytes-remaining"] == 0
    me = client.get("/api/me", environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_json()
    assert (me["state"], me["reason"], me["plan_guard"]) == ("capped", "plan_block", "block")
    assert me["until"] == me["plan"]["cycle_end"] and me["until"].startswith("2026-12-01T00:00:00")
    assert "data plan is used up" in me["text"]["explanation"]


def test_the_guards_kernel_quota_pauses_the_page_before_the_database_knows(hs, monkeypatch):
    """The guard dropped the packet that would cross its point: the database stops just short of it,
    the kernel's quota (which counts the dropped packet) does not, and the page must say 'paused'."""
    asked = []

    def counters(_table, cid, voucher=None, quotas=()):
        asked.append(tuple(quotas))
        return {"g_throttle": 10 * GB + 1400, "g_block": 10 * GB + 1400}

    monkeypatch.setattr(clients_keeper, "client_counters", counters)
    use(hs, 10 * GB - 28_000)
    me = api_of(hs).me("10.0.0.2")
    assert asked == [("g_throttle", "g_block")]  # the guard's levels in the table, nothing else
    assert (me["state"], me["reason"], me["remaining"]) == ("capped", "plan_block", 0)
    assert me["plan"]["percent"] == 100.0 and me["plan"]["held"] == "block"


def test_a_client_sees_only_the_plan_facts_that_affect_it(hs):
    use(hs, 8_500 * MB)
    api = api_of(hs)
    me = api.me("10.0.0.2")
    assert set(me["plan"]) == FACTS and me["plan"].pop("cycle_end").startswith("2026-12-01T00:00:00")
    assert me["plan"] == {"percent": 85.0, "guard": "ok", "held": None, "left_for_you": 1_500 * MB,
                          "alert_point": 80, "next_level": "throttle", "next_at_percent": 90.0,
                          "renews": True}
    assert OWNER not in json.dumps(me) and "owner-phone" not in json.dumps(me)
    owner = api.me("10.0.0.3")["plan"]
    assert (owner["next_level"], owner["left_for_you"]) == (None, None)  # only a stop point would hold it


def test_the_plan_throttle_is_named_unless_the_own_cap_is_spent(hs):
    use(hs, 9_200 * MB)
    api = api_of(hs)
    client = create_app(api, testing=True).test_client()
    me = client.get("/api/me", environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_json()
    assert (me["state"], me["reason"], me["plan"]["held"], me["plan"]["next_level"]) == (
        "throttled", "plan_throttle", "throttle", "block")
    assert me["text"]["plan_banner"].startswith("The hotspot's data plan is 92% used, so this device is slow")
    with hs.store.transaction():
        hs.store.update(hs.store.client(GUEST).id, period_down=GB)
    hs.cfg = hs.cfg.replace(after_cap="throttle")
    me = api.me("10.0.0.2")
    assert (me["reason"], me["cap_alert"]) == ("cap_throttle", 100)


def test_plan_topup(hs):
    api = api_of(hs)
    assert api.plan_topup("1GB")["allowance"] == 11 * GB
    for bad in ("lots", "", None, "-1GB"):
        with pytest.raises(BackendError):
            api.plan_topup(bad)
    hs.cfg = hs.cfg.replace(plan_quota=None)
    with pytest.raises(BackendError, match="no quota") as e:
        api.plan_topup("1GB")
    assert "\n" not in str(e.value)
    assert hs.plan.topup() == GB


def test_plan_page_figures_and_exempt_names(hs):
    use(hs, 2 * GB)
    found = api_of(hs).plan()
    assert found["plan"]["plan_used"] == 2 * GB and found["plan"]["allowance"] == 10 * GB
    assert found["exempt"] == [{"mac": OWNER, "name": "owner-phone"}]
    assert "modem" not in found or isinstance(found["modem"], dict)


def test_alerts_the_log_and_the_channels(hs):
    use(hs, 8 * GB)
    with hs.store.transaction():
        hs.store.update(hs.store.client(GUEST).id, period_down=900 * MB)
    hs.alerts.fire(["webhook"])
    found = api_of(hs, channels=lambda: ["webhook"]).alerts()
    fired = {(a["kind"], a["point"]): a for a in found["alerts"]}
    assert set(fired) == {("plan", 80), ("client", 80)}
    assert fired[("client", 80)]["name"] == "<b>guest</b>" and fired[("plan", 80)]["name"] is None
    (first, *_) = found["deliveries"]
    assert first["status"] == "pending" and first["channel"] == "webhook"
    assert datetime.fromisoformat(first["created"]) and datetime.fromisoformat(first["next_try"])
    # the webhook's path and credentials may be secrets: only its scheme and host are shown
    assert found["channels"] == [{"name": "webhook", "target": "https://hooks.example.com", "ready": True},
                                 {"name": "sms", "target": "+4915112345678", "ready": False}]
    counts = hs.alerts.counts()
    assert counts == {"fired": {"plan": 1, "client": 1}, "deliveries": {"pending": 2, "sent": 0, "failed": 0}}


def test_alert_counts_before_any_table(hs):
    assert hs.alerts.counts() == {"fired": {"plan": 0, "client": 0},
                                          "deliveries": {"pending": 0, "sent": 0, "failed": 0}}


def test_test_channel_goes_through_the_daemons_outbox(hs):
    sent = []

    def test_send(channel):
        sent.append(channel)
        if channel == "email":
            raise DeliveryError("connection refused by smtp.example.com:587")
        return "HTTP 204"

    api = api_of(hs, test_send=test_send)
    assert api.test_channel("webhook") == {"channel": "webhook", "receipt": "HTTP 204"}
    with pytest.raises(BackendError, match="^email: connection refused by smtp.example.com:587$"):
        api.test_channel("email")
    for bad in ("pager", "", None, ["webhook"]):
        with pytest.raises(BackendError):
            api.test_channel(bad)
    assert sent == ["webhook", "email"]
    with pytest.raises(BackendError, match="no outbox"):
        api_of(hs).test_channel("webhook")
