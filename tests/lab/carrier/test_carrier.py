"""The carrier's own figure against the real hotspotd, with ModemManager (the D-Bus mock of
tests/modem_mock.py on a private bus) answering USSD and delivering SMS: `hotspotctl plan query` and the
query every carrier_query_interval move the plan's used figure to the carrier's, what the router counts
afterwards going on from there; the carrier's SMS does too; an SMS from another sender, one that matches
no pattern and one that would jump too far change nothing and are logged with their text; a slow USSD
answer never holds up the poll."""

from __future__ import annotations

import json
import re
import time

from hotspot.carrier.model import parse_pattern, parse_ussd
from tests.lab.conftest import register
from tests.lab.portal.test_security import Browser

GB, MB = 10**9, 10**6
ICCID = "8988211000000123456"  # the mock's SIM
PATTERNS = (parse_pattern(r"898821 used You have used (?P<amount>[\d.,]+ ?[GMK]B) of"),
            parse_pattern(r"898821 used:1024 已使用(?P<amount>[\d.]+ ?[GMK]B)"))


def carrier_hotspotd(lab, bus, **options):
    from lab.hotspotd import Hotspotd

    d = Hotspotd(lab, plan_quota=10 * GB, carrier_pattern=PATTERNS, carrier_ussd=(parse_ussd("8988 *100#"),),
                 carrier_max_jump=3 * GB, **options)
    d.extra_env = {"DBUS_SYSTEM_BUS_ADDRESS": bus.address, "HOTSPOT_MODEM_INTERVAL": "0.3"}
    return d.start()


def used(d) -> int:
    return d.json("plan")["used"]


def near(n: int, figure: int) -> bool:
    """`n` is `figure` and the lab's own few bytes (neighbour discovery) counted since."""
    return figure <= n < figure + 10_000


def test_plan_query_calibrates_and_counting_goes_on_from_the_carriers_figure(lab, modem):
    bus, mm, _ = modem
    mm.set_ussd("You have used 2.5 GB of 10 GB this month.")
    d = carrier_hotspotd(lab, bus)
    try:
        assert used(d) < 10_000  # a few bytes of the lab's own (neighbour discovery)
        out = d.ctl("plan", "query").stdout
        assert "asked:     *100# (SIM 8988211000000123456)" in out
        assert "reply:     You have used 2.5 GB of 10 GB this month." in out
        assert "the plan's used figure is now 2.50 GB" in out
        assert mm.ussd_calls() == ["*100#"]
        calibrated = used(d)
        assert 2_500_000_000 <= calibrated < 2_500_010_000
        plan = d.json("plan")
        assert plan["carrier"]["taken"] and plan["carrier"]["source"] == "ussd"
        assert plan["sim"] == ICCID  # the active plan is the SIM's that answered
        (cal,) = plan["calibrations"]  # kept with the plan's calibrations: the gap to our count
        assert (cal["source"], cal["theirs"], cal["text"]) == ("ussd", 2_500_000_000,
                                                               "You have used 2.5 GB of 10 GB this month.")
        assert "carrier:   2.50 GB used by ussd *100#" in d.ctl("plan").stdout

        # what the router counts from here adds to the carrier's figure, byte for byte
        before = d.json("status")["bytes_total"]
        register(lab, d, "c1")
        lab.iperf("c1", bytes=3_000_000, reverse=True)
        d.wait_polls()
        counted = d.json("status")["bytes_total"] - before
        assert counted > 3_000_000
        now = used(d)
        assert calibrated + counted <= now < calibrated + counted + 10_000

        # --json: the reply and the record; a reply that matches nothing changes nothing, exit 0
        mm.set_ussd("Your balance is 3.20 EUR. Reply 1 for offers")
        run = d.ctl("--json", "plan", "query")
        q = json.loads(run.stdout)
        assert q["reply"] == "Your balance is 3.20 EUR. Reply 1 for offers" and q["iccid"] == ICCID
        assert q["reading"]["taken"] is False and "matches no carrier_pattern" in q["reading"]["why"]
        assert near(used(d), now)
        assert "carrier: ussd *100#: reading refused, the text matches no carrier_pattern of this SIM " \
            "(text: Your balance is 3.20 EUR. Reply 1 for offers)" in run.stderr
        # a USSD error is one line on stderr, exit 1, nothing changed
        mm.set_ussd(error="org.freedesktop.ModemManager1.Error.Core.Unsupported", message="not supported")
        r = d.ctl("plan", "query", check=False)
        assert r.returncode == 1 and r.stderr.strip() == "hotspotctl: USSD *100#: not supported " \
            "(org.freedesktop.ModemManager1.Error.Core.Unsupported)"
        assert near(used(d), now)
    finally:
        d.stop()


def test_the_query_every_interval_follows_the_carrier_and_a_slow_answer_never_holds_the_poll(lab, modem):
    bus, mm, _ = modem
    mm.set_ussd("您当月通用流量已使用1GB，剩余9GB")
    d = carrier_hotspotd(lab, bus, carrier_query_interval=2)
    try:
        lab.wait_for(lambda: near(used(d), 2**30), 10, "the first query's figure")
        mm.set_ussd("您当月通用流量已使用1.5GB，剩余8.5GB")
        lab.wait_for(lambda: near(used(d), int(1.5 * 2**30)), 10, "the next query's figure")
        assert mm.ussd_calls()[:2] == ["*100#", "*100#"]

        # the network takes 10 s to answer (the mock, busy, answers nothing else meanwhile): hotspotd's
        # poll counts a client's bytes all the while, the plan's figure growing from the last reading's
        mm.set_ussd("您当月通用流量已使用2GB", delay=10)
        time.sleep(2.6)  # the next query (every 2 s) is under way
        before = used(d)
        register(lab, d, "c1")
        lab.iperf("c1", bytes=2_000_000, reverse=True)
        lab.wait_for(lambda: used(d) >= before + 2_000_000, 4, "the poll to count the bytes")
        assert used(d) < 2 * 2**30, "the slow answer came before the bytes were counted"
        lab.wait_for(lambda: used(d) >= 2 * 2**30, 15, "the slow answer's figure")
        assert used(d) - 2 * 2**30 < 10_000  # the client's bytes came before the answer: not added
    finally:
        d.stop()


def test_the_carriers_sms_calibrates_and_what_is_not_its_figure_changes_nothing(lab, modem):
    bus, mm, _ = modem
    d = carrier_hotspotd(lab, bus, carrier_sms_from=("10086",))
    try:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        mm.deliver_sms("10010", "您当月通用流量已使用2GB", stamp)  # not a sender of carrier_sms_from
        mm.deliver_sms("10086", "【中国移动】您的话费余额为12.30元", stamp)  # no pattern matches
        mm.deliver_sms("10086", "您当月通用流量已使用8GB，剩余2GB", stamp)  # a jump of 8.59 GB
        lab.wait_for(lambda: "剩余2GB" in d.log(), 10, "the refused readings in the log")
        log = d.log()
        assert "carrier: sms 10086: reading refused, the text matches no carrier_pattern of this SIM " \
            "(text: 【中国移动】您的话费余额为12.30元)" in log
        assert re.search(r"reading refused, it would move the plan's figure from \d+ B to 8\.59 GB, more "
                         r"than carrier_max_jump \(3\.00 GB\) "
                         r"\(text: 您当月通用流量已使用8GB，剩余2GB\)", log)
        assert "10010" not in log
        assert used(d) < 10_000
        last = d.json("plan")["carrier"]
        assert last["taken"] is False and last["from"] == "10086" and "carrier_max_jump" in last["why"]

        mm.deliver_sms("10086", "尊敬的客户，您当月套餐内通用流量已使用２．５ＧＢ，剩余７．５ＧＢ。", stamp)
        lab.wait_for(lambda: near(used(d), int(2.5 * 2**30)), 10, "the carrier's SMS figure")
        last = d.json("plan")["carrier"]
        assert last["taken"] and last["source"] == "sms" and last["kind"] == "used"
        # each SMS is read once, a restart included
        d.stop()
        d.start()
        time.sleep(1)
        assert near(used(d), int(2.5 * 2**30))
        assert d.log().count("您当月通用流量已使用8GB") == 1

        # the owner sees the last reading on the Plan page, through the real portal and socket; the
        # carrier's text, whatever it holds, is text there
        mm.deliver_sms("10086", "<script>alert(1)</script> 已使用 lots", stamp)
        lab.wait_for(lambda: "alert(1)" in d.log(), 10, "the last SMS read")
        d.ctl("passwd", input="owner-secret-1\n")
        d.wait_portal()
        register(lab, d, "c1")
        owner = Browser(lab, d, "c1")
        assert owner.post("/admin/login", {"password": "owner-secret-1"})[0] == 303
        status, _, page = owner.request("/admin/plan")
        assert status == 200 and '<dl class="facts" id="carrier">' in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt; 已使用 lots" in page and "<script>alert" not in page
        assert "Not taken" in page and "the text matches no carrier_pattern of this SIM" in page
        assert used(d) >= int(2.5 * 2**30)
    finally:
        d.stop()
