"""Messages to the owner in Chinese (owner_language 'zh-Hans') from the real hotspotd: an alert reaches a
real SMTP server as UTF-8 email whose decoded subject and body are the Chinese alert, a real webhook
receiver gets the same Chinese text, and the modem (the ModemManager mock on a private bus) is asked to
send it as labelled SMS parts of at most 70 UCS-2 units, unmangled."""

from __future__ import annotations

import re
from email import message_from_string
from email import policy as email_policy
from pathlib import Path

from tests.lab.alerts.test_alerts import RECEIVER, SMTP, SMTP_PORT, WEBHOOK_PORT, _lines, _serve
from tests.lab.conftest import register

SUBJECT = re.compile(r"hotspot: 流量套餐已用 50%，剩余 \d")


def test_a_chinese_alert_reaches_the_smtp_server_and_the_webhook_unmangled(lab, start_hotspotd):
    hooks, mails = Path(lab.dir) / "zh-hooks.jsonl", Path(lab.dir) / "zh-mails.jsonl"
    smtp = _serve(lab, SMTP, SMTP_PORT, mails)
    web = _serve(lab, RECEIVER, WEBHOOK_PORT, hooks)
    try:
        d = start_hotspotd(plan_quota=20_000_000, alert_at=(50,), alert_clients=False,
                           owner_language="zh-Hans", alert_webhook=f"http://127.0.0.1:{WEBHOOK_PORT}/hook",
                           alert_email=("owner@example.com",), smtp_host="localhost", smtp_port=SMTP_PORT,
                           smtp_security="none")
        register(lab, d, "c1")
        lab.iperf("c1", bytes=12_000_000, reverse=True)
        (mail,) = lab.wait_for(lambda: _lines(mails), 15, "the alert's email")
        (hook,) = lab.wait_for(lambda: _lines(hooks), 15, "the alert's webhook")

        raw = mail["data"]
        assert "\ufffd" not in raw  # the receiver decoded every byte as UTF-8
        headers = raw.split("\n\n", 1)[0]
        assert headers.isascii() and "=?utf-8?" in headers.lower()  # the subject as RFC 2047 words
        msg = message_from_string(raw, policy=email_policy.default)
        subject = str(msg["Subject"])
        assert SUBJECT.match(subject), subject
        body = msg.get_body(("plain",))
        assert body.get_content_charset() == "utf-8"
        text = body.get_content()
        assert text.startswith("本周期已用 ") and "（已达 50% 提醒点）" in text and "还剩" in text
        assert not re.findall(r"\b(?!GB|MB|kB)[A-Za-z]{2,}\b", text), text  # no English left

        assert hook["body"]["subject"] == subject and hook["body"]["text"] == text.rstrip("\n")
        assert hook["body"]["lang"] == "zh-Hans" and hook["body"]["event"] == "plan"
        deliveries = d.json("alerts")["deliveries"]
        assert {x["channel"]: (x["status"], x["subject"]) for x in deliveries} == {
            "webhook": ("sent", subject), "email": ("sent", subject)}
    finally:
        web.kill()
        smtp.kill()


def test_a_chinese_alert_goes_by_sms_in_ucs2_parts_in_order(lab, modem):
    from lab.hotspotd import Hotspotd

    bus, mm, _path = modem
    d = Hotspotd(lab, plan_quota=100_000_000, alert_at=(5,), alert_clients=False, owner_language="zh-Hans",
                 alert_sms=("+8613800138000",))
    d.extra_env = {"DBUS_SYSTEM_BUS_ADDRESS": bus.address, "HOTSPOT_MODEM_INTERVAL": "0.3"}
    d.start()
    try:
        register(lab, d, "c1")
        lab.iperf("c1", bytes=6_000_000, reverse=True)
        lab.wait_for(lambda: list(mm.manager.SentMessages()), 15, "the SMS")
        d.wait_polls(2)  # every part sent
        sent = [(str(n), str(t)) for n, t in mm.manager.SentMessages()]
        assert {n for n, _ in sent} == {"+8613800138000"}
        messages: list[list[str]] = []  # each message's parts, in the order they went
        for _, t in sent:
            if t.startswith("(1/") or not messages:
                messages.append([])
            messages[-1].append(t)
        # the plan's alert (beside the one saying the SIM in the modem took over the plan)
        (texts,) = [m for m in messages if "流量套餐已用" in m[0]]
        n = len(texts)
        assert 2 <= n <= 4, texts
        assert [t[:6] for t in texts] == [f"({i}/{n}) " for i in range(1, n + 1)]  # in order
        for t in texts:  # each one UCS-2 SMS: 70 UTF-16 units at most, nothing replaced by '?'
            assert len(t.encode("utf-16-be")) // 2 <= 70, t
            assert "?" not in t and "\ufffd" not in t
        whole = "".join(t[6:] for t in texts)
        assert whole.startswith("流量套餐已用 5%，剩余 ") and "本周期已用" in whole, whole
        assert not whole.endswith("..."), whole  # the alert fits: nothing cut
        # the same alert as the delivery log has it: its subject leads the first part
        (delivery,) = [x for x in d.json("alerts")["deliveries"] if "SIM" not in x["subject"]]
        assert delivery["channel"] == "sms" and delivery["status"] == "sent"
        assert texts[0][6:].startswith(delivery["subject"].removeprefix("hotspot: "))
        assert f"in {n} parts" in delivery["receipt"]
    finally:
        d.stop()
