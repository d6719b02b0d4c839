"""Alerts reach real receivers in the router's namespace (an HTTP webhook, an SMTP server): each alert
point once per period, never again after a restart or a power cut, and late but once when the
receiver was down."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from lab import Lab
from tests.lab.conftest import register

WEBHOOK_PORT, SMTP_PORT = 18080, 18025

RECEIVER = r"""
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
out = sys.argv[2]
class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(out, "a") as f:
            f.write(json.dumps({"delivery": self.headers.get("X-Hotspot-Delivery"),
                                "signature": self.headers.get("X-Hotspot-Signature"),
                                "body": json.loads(body), "at": __import__("time").time()}) + "\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""

SMTP = r"""
import json, sys, time
from aiosmtpd.controller import Controller
out = sys.argv[2]
class Handler:
    async def handle_DATA(self, server, session, envelope):
        with open(out, "a") as f:
            mail = {"to": envelope.rcpt_tos, "data": envelope.content.decode("utf-8", "replace")}
            f.write(json.dumps(mail) + "\n")
        return "250 OK"
c = Controller(Handler(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
while True:
    time.sleep(3600)
"""


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _serve(lab: Lab, script: str, port: int, out: Path):
    p = lab.popen(lab.router, sys.executable, "-c", script, str(port), str(out))
    lab.wait_for(lambda: lab.run(lab.router, "ss", "-ltn", f"sport = :{port}").stdout.count("LISTEN"), 10,
                 f"a server on port {port}")
    return p


def test_alerts_fire_once_reach_webhook_and_email_and_survive_restarts(lab, start_hotspotd, tmp_path):
    hooks, mails = Path(lab.dir) / "hooks.jsonl", Path(lab.dir) / "mails.jsonl"
    smtp = _serve(lab, SMTP, SMTP_PORT, mails)
    try:
        d = start_hotspotd(plan_quota=20_000_000, alert_at=(50,), alert_clients=False,
                           alert_webhook=f"http://127.0.0.1:{WEBHOOK_PORT}/hook",
                           alert_webhook_secret="s3cret",
                           alert_email=("owner@example.com",), smtp_host="localhost", smtp_port=SMTP_PORT,
                           smtp_security="none")
        register(lab, d, "c1")
        lab.iperf("c1", bytes=12_000_000, reverse=True)
        # the webhook is down: the email goes out, the webhook's delivery waits and retries
        lab.wait_for(lambda: _lines(mails), 10, "the alert's email")
        (mail,) = _lines(mails)
        assert mail["to"] == ["owner@example.com"]
        assert "50% of the data plan used" in mail["data"]
        deliveries = lab.wait_for(lambda: [x for x in d.json("alerts")["deliveries"]
                                           if x["channel"] == "webhook" and x["attempts"] >= 1], 10,
                                  "a failed webhook attempt")
        assert deliveries[0]["status"] == "pending" and deliveries[0]["last_error"]

        # a restart fires nothing again, nor does a power cut: the alert went to flash when it fired
        # (commit_interval is 10 minutes), so the RAM copy lost with the kernel table comes back from it
        d.stop()
        d.start()
        d.kill9()
        d.ctl("teardown")
        for f in Path(d.config.run_dir).iterdir():
            f.unlink()
        d.start()
        lab.iperf("c1", bytes=1_000_000, reverse=True)
        d.wait_polls(3)
        assert len(d.json("alerts")["alerts"]) == 1

        # the receiver comes back: the alert arrives, once, signed
        web = _serve(lab, RECEIVER, WEBHOOK_PORT, hooks)
        try:
            (hook,) = lab.wait_for(lambda: _lines(hooks), 30, "the webhook's delivery")
            time.sleep(2)
            assert len(_lines(hooks)) == 1 and len(_lines(mails)) == 1
        finally:
            web.kill()
        assert hook["body"]["event"] == "plan" and hook["body"]["point"] == 50
        assert hook["signature"].startswith("sha256=") and hook["delivery"]
        log = d.json("alerts")["deliveries"]
        assert {x["channel"]: x["status"] for x in log} == {"webhook": "sent", "email": "sent"}
    finally:
        smtp.kill()


def test_the_daily_report_reaches_the_owner_by_email(lab, start_hotspotd):
    from email import message_from_string

    from hotspot.alerts.reports import next_time

    mails = Path(lab.dir) / "report-mails.jsonl"
    smtp = _serve(lab, SMTP, SMTP_PORT, mails)
    try:
        hour = (time.localtime().tm_hour + 2) % 24
        d = start_hotspotd(plan_quota=10**9, report="daily", report_hour=hour, venue="Van 1",
                           alert_email=("owner@example.com",), smtp_host="localhost", smtp_port=SMTP_PORT,
                           smtp_security="none")
        register(lab, d, "c1")
        lab.iperf("c1", bytes=3_000_000, reverse=True)
        d.wait_polls(2)  # the first poll schedules the report: today or tomorrow at `hour`
        assert not _lines(mails)
        d.clock_file.write_text(str(next_time(time.time(), "daily", hour) - time.time() + 1))
        (mail,) = lab.wait_for(lambda: _lines(mails), 15, "the report's email")
        msg = message_from_string(mail["data"])
        assert "Van 1" in msg["Subject"] and mail["to"] == ["owner@example.com"]
        parts = {p.get_content_type(): p for p in msg.walk()}
        text = parts["text/plain"].get_payload(decode=True).decode()
        html = parts["text/html"].get_payload(decode=True).decode()
        assert lab.clients["c1"].mac in text and "cid:" in html
        assert "image/png" in parts
        time.sleep(2)
        assert len(_lines(mails)) == 1  # once, not at every poll
    finally:
        smtp.kill()
