"""hotspotctl's commands for clients and caps: clients, client, cap, throttle, block, unblock, reset,
topup, forget, top."""

from __future__ import annotations

import time

from hotspot.core.command import Command, say
from hotspot.core.text import forecast, printable, rate, size, table, write_json
from hotspot.core.units import format_rate, parse_cap, parse_rate_or_none, parse_size


def client_rows(clients: list[dict]) -> str:
    header = ["MAC", "HOSTNAME", "IP", "STATE", "UP", "DOWN", "TOTAL", "CAP", "RATE", "LAST SEEN"]
    rows = [[c["mac"], printable(c["hostname"])[:24], c["ips"][0] if c["ips"] else "-", c["state"],
             size(c["bytes_up"]), size(c["bytes_down"]), size(c["bytes_total"]), size(c["cap"]),
             rate(c["rate_limit"]), (c["last_seen"] or "-")[:19].replace("T", " ")] for c in clients]
    return table(rows, header, right={4, 5, 6, 7, 8})


def _admitted(c: dict) -> str:
    if not c["admitted"]:
        return "no"
    return f"until {c['admitted_until']}" if c["admitted_until"] else "yes"


def _held(c: dict) -> str:
    """Who holds a client: the owner's block, its own pause (from its page), or both."""
    who = [w for w, on in (("by the owner", c["owner_blocked"]), ("paused itself", c["self_paused"])) if on]
    return f"yes ({', '.join(who)})" if who else "no"


def _app_shares(cats: list[dict]) -> str:
    shown = [f"{r['category']} {r['percent']:g}%" for r in cats if r["bytes_total"]]
    return ", ".join(shown) or "-"


def detail(c: dict) -> str:
    rows = [
        ("mac", c["mac"]), ("hostname", printable(c["hostname"])), ("ips", ", ".join(c["ips"]) or "-"),
        ("state", c["state"]), ("up", size(c["bytes_up"])), ("down", size(c["bytes_down"])),
        ("total", size(c["bytes_total"])), ("cap", size(c["cap"])),
        ("remaining", size(c["remaining"])), ("top-up", size(c["topup"])),
        ("rate limit", rate(c["rate_limit"])), ("blocked", _held(c)),
        ("admitted", _admitted(c)),
        ("first seen", c["first_seen"] or "-"), ("last seen", c["last_seen"] or "-"),
    ]
    f = c.get("forecast")
    if f:  # the period's likely total, its 80 % range, when the cap is likely reached
        rows.append(("forecast", f"{forecast(f['period_end_bytes'], f['low'], f['high'])} by the "
                     f"period's end" + (f"; cap reached {f['cap_hit_at']}" if f["cap_hit_at"] else "")))
    rows.append(("apps", _app_shares(c.get("apps") or [])))
    guard = "on" if c["update_guard"] else "off"
    rows.append(("update guard", guard + (" (default)" if c["update_guard_choice"] is None else "")))
    if any(c.get(k) is not None for k in ("own_limit", "own_warn", "own_ask")):  # the device's own choices
        rows.append(("own limits", f"limit {size(c['own_limit'])}, warn at {size(c['own_warn'])}, "
                     f"ask at {size(c['own_ask'])}"))
    if c.get("ask_point") is not None:
        rows.append(("ask at", size(c["ask_point"]) + (" (waiting for its answer)" if c["asking"] else "")))
    return "\n".join(f"{k + ':':<11} {v}" for k, v in rows)


def _clients(house, ns, _v, env):
    clients = house.clients.views()
    if ns.json:
        return write_json(env.stdout, clients)
    say(env, client_rows(clients) if clients else "no clients yet")


def _client(house, ns, _v, env):
    c = house.clients.detail(ns.mac)
    if ns.json:
        return write_json(env.stdout, c)
    say(env, detail(c))


def changed(do, message):
    """A command that changes one client: `do(house, mac, value)` returns its view."""
    def run(house, ns, value, env):
        c = do(house, ns.mac, value)
        if ns.json:
            return write_json(env.stdout, c)
        say(env, f"{c['mac']}: {message(c, value)}; {size(c['bytes_total'])} used, state {c['state']}")
    return run


def _forget(house, ns, _v, env):
    r = house.forgetting.forget_device(ns.mac)
    if ns.json:
        return write_json(env.stdout, r)
    say(env, f"{r['mac']}: forgotten with everything recorded about it (id {r['id']} is free again; its "
             f"{size(r['bytes_total'])} this period stay in the plan's totals)")


def _top(house, ns, _v, env):
    """Redraw in place; rates are the byte deltas between two refreshes."""
    tty = env.stdout.isatty()
    prev, prev_t, n = {}, time.monotonic(), 0
    while True:
        clients, now = house.clients.views(), time.monotonic()
        dt = max(now - prev_t, 1e-3)
        rows = []
        for c in sorted(clients, key=lambda c: -c["bytes_total"]):
            before = prev.get(c["mac"], (c["bytes_up"], c["bytes_down"]))
            up, down = (c["bytes_up"] - before[0]) * 8 / dt, (c["bytes_down"] - before[1]) * 8 / dt
            rows.append([c["mac"], printable(c["hostname"])[:20], c["state"], format_rate(max(0, down)),
                         format_rate(max(0, up)), size(c["bytes_total"]), size(c["cap"]),
                         rate(c["rate_limit"])])
        prev, prev_t = {c["mac"]: (c["bytes_up"], c["bytes_down"]) for c in clients}, now
        head = f"hotspot top - {time.strftime('%H:%M:%S')} - {len(clients)} clients - Ctrl-C to quit"
        body = table(rows, ["MAC", "HOSTNAME", "STATE", "DOWN/s", "UP/s", "USED", "CAP", "LIMIT"],
                     right={3, 4, 5, 6, 7})
        env.stdout.write(("\x1b[H\x1b[J" if tty else "") + head + "\n\n" + body + "\n")
        env.stdout.flush()
        n += 1
        if ns.count and n >= ns.count:
            return
        time.sleep(ns.interval)


def _mac(p) -> None:
    p.add_argument("mac")


def _top_args(p) -> None:
    p.add_argument("-n", "--interval", type=float, default=1.0, help="seconds between refreshes")
    p.add_argument("--count", type=int, default=0, help="stop after this many refreshes (0 = never)")


COMMANDS = [
    Command("clients", "one row per client", _clients),
    Command("client", "one client in detail", _client, _mac),
    Command("cap", "per-period cap: SIZE (e.g. 2GB, 500MiB) or none",
            changed(lambda h, mac, v: h.clients.set_cap(mac, v), lambda c, v: f"cap {size(c['cap'])}"),
            lambda p: (p.add_argument("mac"), p.add_argument("size")), lambda ns: parse_cap(ns.size)),
    Command("throttle", "rate limit: RATE (e.g. 1mbit, 256kbit) or none",
            changed(lambda h, mac, v: h.clients.throttle(mac, v), lambda c, v: f"throttle {rate(v)}"),
            lambda p: (p.add_argument("mac"), p.add_argument("rate")),
            lambda ns: parse_rate_or_none(ns.rate)),
    Command("block", "cut a client off",
            changed(lambda h, mac, v: h.clients.block(mac, True), lambda c, v: "blocked"), _mac),
    Command("unblock", "let a blocked client back on (the owner's block and its own pause)",
            changed(lambda h, mac, v: h.clients.block(mac, False), lambda c, v: "unblocked"), _mac),
    Command("reset", "zero this period's usage",
            changed(lambda h, mac, v: h.clients.reset(mac), lambda c, v: "usage reset"), _mac),
    Command("topup", "add SIZE to this period's cap",
            changed(lambda h, mac, v: h.clients.topup(mac, v), lambda c, v: f"cap now {size(c['cap'])}"),
            lambda p: (p.add_argument("mac"), p.add_argument("size")), lambda ns: parse_size(ns.size)),
    Command("forget", "erase a device now: its row, its kernel state and everything recorded about it "
            "(its bytes stay in the plan's totals); back, it is a new device", _forget, _mac),
    Command("top", "live view of clients and their current rates (Ctrl-C to quit)", _top, _top_args),
]
