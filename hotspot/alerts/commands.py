"""hotspotctl alerts [list|test CHANNEL]: the alerts that fired, the delivery log, a test message."""

from __future__ import annotations

from hotspot.core.command import Command, Parser, say
from hotspot.core.text import printable, size, table, write_json
from hotspot.core.units import iso


def _args(p) -> None:
    sub = p.add_subparsers(dest="alerts_command", metavar="list|test", parser_class=Parser)
    sub.add_parser("list", help="the alerts that fired and the delivery log (the default)")
    sub.add_parser("test", help="send a test message through a channel now: webhook, email or sms"
                   ).add_argument("channel", choices=("webhook", "email", "sms"))


def _alerts(house, ns, _v, env):
    if ns.alerts_command == "test":
        receipt = house.alerts.test(ns.channel)
        if ns.json:
            return write_json(env.stdout, {"channel": ns.channel, "receipt": receipt})
        return say(env, f"{ns.channel}: sent ({receipt})")
    fired, log = house.alerts.log()
    if ns.json:
        return write_json(env.stdout, {"alerts": fired, "deliveries": log})
    rows = [[(a["fired"] or "-")[:19].replace("T", " "), a["kind"], a["subject"], f"{a['point']}%",
             size(a["used"]), size(a["allowance"])] for a in fired]
    say(env, (table(rows, ["FIRED", "KIND", "SUBJECT", "POINT", "USED", "OF"], right={3, 4, 5})
              if rows else "no alerts yet") + "\n")
    rows = [[iso(d["created"])[:19].replace("T", " "), d["channel"], d["status"], str(d["attempts"]),
             printable(d["receipt"] or d["last_error"] or "")[:50], printable(d["subject"])[:50]]
            for d in log]
    say(env, table(rows, ["QUEUED", "CHANNEL", "STATUS", "TRIES", "RESULT", "SUBJECT"], right={3})
        if rows else "no deliveries yet")


COMMANDS = [Command("alerts", "alerts fired and their deliveries; test a channel", _alerts, _args)]
