"""hotspotctl's commands for the captive gate: admit, unadmit, voucher create|list|revoke."""

from __future__ import annotations

from hotspot.captive.vouchers import MAX_BATCH, MAX_DEVICES, parse_code, parse_count
from hotspot.clients.commands import changed
from hotspot.core.command import Command, Parser, say
from hotspot.core.text import size, table, write_json
from hotspot.core.units import format_duration, parse_cap, parse_duration


def _admit_args(p) -> None:
    p.add_argument("mac")
    p.add_argument("--for", dest="duration", metavar="DURATION",
                   help="how long, e.g. 30m, 12h, 1d (default: the config's session_timeout)")


def voucher_rows(vouchers: list[dict]) -> str:
    header = ["CODE", "BATCH", "STATE", "DATA", "USED", "VALID", "DEVICES", "EXPIRES"]
    rows = [[v["code"], str(v["batch"]), v["state"], size(v["bytes"]), size(v["used"]),
             format_duration(v["valid_seconds"]), f"{v['devices_used']}/{v['devices']}",
             (v["expires"] or "-")[:16].replace("T", " ")] for v in vouchers]
    return table(rows, header, right={1, 3, 4, 5, 6})


def _voucher_args(p) -> None:
    sub = p.add_subparsers(dest="voucher_command", metavar="create|list|revoke", parser_class=Parser)
    sub.required = True
    vp = sub.add_parser("create", help="make a batch of vouchers")
    vp.add_argument("--count", default="1", help="how many (default 1, at most 500)")
    vp.add_argument("--data", default="none", help="data each voucher allows, shared by its devices, "
                    "e.g. 1GB (default none: no limit)")
    vp.add_argument("--valid", default="1d", help="how long it lasts from its first use (default 1d)")
    vp.add_argument("--devices", default="1", help="how many devices may use it (default 1)")
    sub.add_parser("list", help="every voucher with its state and usage")
    sub.add_parser("revoke", help="revoke a voucher: its devices see the portal again").add_argument("code")


def _voucher_value(ns):
    if ns.voucher_command == "create":
        return {"count": parse_count(ns.count, "--count", MAX_BATCH), "data": parse_cap(ns.data),
                "valid": parse_duration(ns.valid),
                "devices": parse_count(ns.devices, "--devices", MAX_DEVICES)}
    if ns.voucher_command == "revoke":
        return parse_code(ns.code)
    return None


def _voucher(house, ns, value, env):
    captive = house.captive
    if ns.voucher_command == "create":
        made = captive.make_vouchers(**value)
        if ns.json:
            return write_json(env.stdout, made)
        say(env, voucher_rows(made))
    elif ns.voucher_command == "list":
        vouchers = captive.list_vouchers()
        if ns.json:
            return write_json(env.stdout, vouchers)
        say(env, voucher_rows(vouchers) if vouchers else "no vouchers yet")
    else:
        v = captive.revoke(value)
        if ns.json:
            return write_json(env.stdout, v)
        say(env, f"{v['code']}: revoked; {size(v['used'])} used")


COMMANDS = [
    Command("admit", "let a client through the captive portal (auth click or voucher)",
            changed(lambda h, mac, v: h.captive.admit_device(mac, v), lambda c, v: "admitted " + (
                f"until {c['admitted_until']}" if c["admitted_until"] else "(auth none: every client is)")),
            _admit_args, lambda ns: parse_duration(ns.duration) if ns.duration is not None else None),
    Command("unadmit", "end a client's admission: it sees the portal again",
            changed(lambda h, mac, v: h.captive.unadmit(mac), lambda c, v: "not admitted" + (
                "" if not c["admitted"] else " (auth none: every client still is)")),
            lambda p: p.add_argument("mac")),
    Command("voucher", "captive-portal vouchers (auth voucher): create, list, revoke", _voucher,
            _voucher_args, _voucher_value),
]
