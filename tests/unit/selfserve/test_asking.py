"""Asking the owner for more (hotspot/selfserve/asking.py): once an hour, the top-up proposed, the
owner's alert and its link."""

import pytest

from hotspot.selfserve.asking import INTERVAL, SUBJECT, TEXT, approve_url, message, next_ask, proposed_topup

NOW = 1_800_000_000.0


def test_a_device_asks_once_an_hour():
    assert next_ask(None, NOW) is None
    assert next_ask(NOW - 10, NOW) == NOW - 10 + INTERVAL
    assert next_ask(NOW - INTERVAL, NOW) is None
    # the clock went back: never locked out for longer than the interval
    assert next_ask(NOW + 100, NOW) == NOW + INTERVAL
    assert next_ask(NOW + 10 * INTERVAL, NOW) is None


def test_the_proposed_top_up_is_a_quarter_of_the_cap_in_100_mb_steps():
    assert proposed_topup(2_000_000_000) == 500_000_000
    assert proposed_topup(1_000_000_001) == 300_000_000
    assert proposed_topup(10_000_000) == 100_000_000 and proposed_topup(0) == 100_000_000
    assert proposed_topup(None) is None
    for bad in (-1, "2GB", 1.5):
        with pytest.raises(ValueError):
            proposed_topup(bad)


def test_the_link_opens_the_confirm_page_and_is_escaped():
    assert approve_url("http://10.0.0.1:8080/", "aa:bb:cc:dd:ee:ff", 500_000_000) == \
        "http://10.0.0.1:8080/admin/clients/aa%3Abb%3Acc%3Add%3Aee%3Aff/approve?size=500000000"
    assert approve_url(None, "aa:bb:cc:dd:ee:ff", 1) is None


def test_the_owners_alert_names_the_device_its_usage_cap_and_link_and_is_translatable():
    m = message(mac="aa:bb:cc:dd:ee:ff", name="<b>phone</b>", used=1_900_000_000, cap=2_000_000_000,
                size=500_000_000, link="http://r/admin/clients/x/approve?size=500000000")
    assert m.subject == "hotspot: <b>phone</b> asks for more data"
    assert "(aa:bb:cc:dd:ee:ff) has used 1.90 GB of its 2.00 GB" in m.text and "500 MB" in m.text
    assert m.text.endswith("http://r/admin/clients/x/approve?size=500000000")
    assert m.data["event"] == "ask" and m.data["topup"] == 500_000_000 and m.data["cap"] == 2_000_000_000
    zh = {SUBJECT: "热点：%(name)s 请求更多流量",
          TEXT: "%(name)s（%(mac)s）%(used)s/%(cap)s %(size)s %(link)s"}
    m = message(mac="aa:bb:cc:dd:ee:ff", name=None, used=1, cap=2, size=3, link="L", gettext=zh.get)
    assert m.subject == "热点：aa:bb:cc:dd:ee:ff 请求更多流量" and m.text.endswith("L")
    m = message(mac="aa:bb:cc:dd:ee:ff", name="p", used=1, cap=2, size=3, link=None)
    assert "admin UI" in m.text and m.data["approve_url"] is None
