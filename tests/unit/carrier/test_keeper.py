"""What a carrier reading does to the plan, without a kernel or a modem: a "used" or "left" figure calibrates
the active plan; a text from another SIM, one that matches nothing, one that would jump too far, or one
the plan refuses changes nothing; each SIM keeps its last reading, and the log has the text."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest

from hotspot.carrier.keeper import carrier_line, finding, is_sender
from hotspot.carrier.model import parse_pattern, parse_ussd
from hotspot.house import House
from tests.conftest import Clock

GB = 10**9
SIM = "8986001234567890123"
CMCC = r"898600 used:1024 已使用(?P<amount>[\d.]+ ?[GMK]B)"
LEFT = r"* left (?P<amount>[\d.,]+ ?[GMK]B) left"


@pytest.fixture
def house(cfg):
    clock = Clock(datetime.fromisoformat("2026-12-08 12:00").timestamp())
    h = House(cfg.replace(plan_quota=10 * GB, carrier_pattern=(parse_pattern(CMCC), parse_pattern(LEFT)),
                          carrier_ussd=(parse_ussd("* *100#"),), carrier_max_jump=4 * GB), clock=clock)
    h.plan.rollover_step()  # the cycle starts
    with h.store.transaction():
        h.plan.add(GB, clock())
    yield h
    h.close()


def found(house, text, iccid=SIM, source="sms", at=None):
    return house.carrier.apply(finding(house.cfg, source, "10086", iccid, text, at or house.clock()))


def test_a_used_figure_calibrates_the_plan_and_is_kept(house, caplog):
    caplog.set_level(logging.INFO, "hotspot")
    r = found(house, "您当月通用流量已使用3GB，剩余7GB")
    assert r["taken"] and (r["kind"], r["amount"], r["used"]) == ("used", 3 * 2**30, 3 * 2**30)
    assert house.plan.used() == 3 * 2**30
    last = house.carrier.last()
    assert last["taken"] and last["source"] == "sms" and last["text"] == "您当月通用流量已使用3GB，剩余7GB"
    assert "carrier: sms 10086 says" in caplog.text and "已使用3GB" in caplog.text
    assert carrier_line(last).startswith("carrier:   3.22 GB used by sms 10086 at 2026-12-08T") and \
        carrier_line(last).endswith("(taken)")


def test_a_left_figure_is_the_allowance_minus_it(house):
    r = found(house, "Data: 7.5 GB left", iccid="8944000000000000000")
    assert r["taken"] and r["used"] == int(2.5 * GB) and house.plan.used() == int(2.5 * GB)


@pytest.mark.parametrize("text, iccid, why", [
    ("您当月通用流量已使用3GB", "8944000000000000000", "the text matches no carrier_pattern"),
    ("hello", SIM, "the text matches no carrier_pattern"),
    ("已使用8GB", SIM, "from 1.00 GB to 8.59 GB, more than carrier_max_jump (4.00 GB)"),
    ("Data: 11 GB left", "8944000000000000000", "is more than the plan allows"),
])
def test_what_changes_nothing_is_logged_with_its_text(house, caplog, text, iccid, why):
    r = found(house, text, iccid=iccid)
    assert not r["taken"] and why in r["why"] % r["why_args"]
    assert house.plan.used() == GB
    assert why in caplog.text and text in caplog.text


def test_a_sim_without_patterns_or_another_sim_than_the_active_plans(house, monkeypatch):
    house.cfg = house.cfg.replace(carrier_pattern=(parse_pattern(CMCC),))
    assert found(house, "已使用3GB", iccid="8944")["why"] == "no carrier_pattern for this SIM"
    monkeypatch.setattr(house.plan, "active_iccid", lambda: "8986009999999999999")
    r = found(house, "已使用3GB")
    assert not r["taken"] and "is not the active plan's" in r["why"] and house.plan.used() == GB


def test_the_plan_refusing_a_time_before_the_cycle_changes_nothing(house):
    r = found(house, "已使用3GB", at=house.clock() - 40 * 86400)
    assert not r["taken"] and r["why"].startswith("the plan refused it") and house.plan.used() == GB


def test_an_older_reading_does_not_replace_a_newer_one(house):
    found(house, "已使用2GB")
    found(house, "已使用1.5GB", at=house.clock() - 3600)
    assert house.carrier.last()["text"] == "已使用2GB"


def test_garbage_of_any_kind_changes_nothing(house):
    for text in ["\0" * 10_000, "已使用" * 5000, "\ud800\udfff", "已使用-3GB", "已使用3GB" * 0, "x" * 10**6]:
        r = found(house, text)
        assert not r["taken"] and len(r["text"]) <= 1000
    assert house.plan.used() == GB


def test_senders_match_as_the_network_names_them():
    assert is_sender("10086", ("10086",)) and is_sender("VODAFONE", ("Vodafone",))
    assert not is_sender("+8610086", ("10086",)) and not is_sender("1008", ("10086",))
