"""Faults a router meets, each under traffic, with the bytes on the wire as the truth: hotspotd killed
at random moments of its poll, the flash or the RAM disk full, the clock jumping a year back and
forward again, dnsmasq, the portal and the DNS snooper killed or stopped."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import time
from datetime import datetime
from pathlib import Path

from lab import CommandError, Lab
from lab.hotspotd import Hotspotd
from tests.lab.conftest import register


def _wire(lab: Lab, name: str) -> int:
    return sum(lab.ip_bytes(name).values())


def _kernel(d, cid: int) -> int:
    """The counter rules of the client's chains (up + down): what our table counted for it."""
    total = 0
    for chain in (f"up{cid}", f"down{cid}"):
        for o in json.loads(d.nft("-j", "list", "chain", "inet", "hotspot", chain))["nftables"]:
            total += sum(e["counter"]["bytes"] for e in o.get("rule", {}).get("expr", ()) if "counter" in e)
    return total


def _db(d, where: str = "run") -> sqlite3.Connection:
    path = Path(d.config.run_dir if where == "run" else d.config.state_dir) / "hotspot.db"
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _stored(d, mac: str, where: str = "run") -> dict:
    """A client's row, its hours and the plan's figures as the database has them (no kernel reading)."""
    db = _db(d, where)
    try:
        cid, up, down, seen_up, seen_down = db.execute(
            "SELECT id, period_up, period_down, seen_up, seen_down FROM clients WHERE mac = ?",
            (mac,)).fetchone()
        (hours,) = db.execute("SELECT COALESCE(SUM(up + down), 0) FROM usage WHERE client = ?",
                              (cid,)).fetchone()
        meta = dict(db.execute("SELECT key, value FROM meta"))
    finally:
        db.close()
    return {"id": cid, "total": up + down, "seen": seen_up + seen_down, "hours": hours,
            "plan_used": int(meta.get("plan_used", 0)),
            "router": int(meta.get("router_up", 0)) + int(meta.get("router_down", 0)),
            "unregistered": int(meta.get("unregistered", 0)), "last_commit": meta.get("last_commit")}


class Traffic:
    """iperf3 runs back to back from a client while a test does its damage: call check() now and then."""

    def __init__(self, lab: Lab, client: str, seconds: int = 3, **kw) -> None:
        self.lab, self.client, self.kw = lab, client, {"seconds": seconds, "reverse": True, **kw}
        self.runs = 0
        self.run = self._start()

    def _start(self):
        self.runs += 1
        return self.lab.iperf_start(self.client, **self.kw)

    def check(self) -> None:
        if self.run.client.poll() is not None:
            self.run.wait()
            self.run = self._start()

    def stop(self) -> None:
        self.run.wait()


# -- hotspotd killed at random moments of its poll --------------------------------------------------

KILLS = 100


def test_kill9_at_100_moments_inside_the_poll_loses_and_doubles_nothing(lab, start_hotspotd):
    """Every kill lands inside a poll (the daemon is stopped first and checked not to be waiting
    between two), at a random point of it; each restart picks the running table up. The portal runs
    (and dies with each hotspotd); the snooper, which plays no part in counting, is off so that the
    two cores go to 100 restarts rather than to scapy's imports."""
    d = start_hotspotd(poll_interval=0.2, commit_interval=10, dns_snoop=False)
    register(lab, d, "c1")
    mac = lab.clients["c1"].mac
    d.ctl("throttle", mac, "40mbit")  # a steady flow that leaves the two cores room for 100 restarts
    d.wait_polls()
    before, wire0 = _stored(d, mac), _wire(lab, "c1")
    kernel0 = _kernel(d, before["id"])
    rng = random.Random()
    seed = rng.randrange(2**32)
    rng.seed(seed)
    traffic = Traffic(lab, "c1")
    started, restarts, doing = time.monotonic(), [], {}
    for _ in range(KILLS):
        where = d.kill9_in_poll(rng)
        doing[where] = doing.get(where, 0) + 1
        traffic.check()
        t = time.monotonic()
        d.start()
        restarts.append(time.monotonic() - t)
    took = time.monotonic() - started
    traffic.stop()
    d.wait_polls(3)

    after, wire = _stored(d, mac), _wire(lab, "c1") - wire0
    counted = after["total"] - before["total"]
    kernel = _kernel(d, after["id"]) - kernel0
    print(f"\n{KILLS} kills in {took:.0f} s (seed {seed}); restart to polling: mean "
          f"{statistics.mean(restarts):.2f} s, max {max(restarts):.2f} s; main thread at the kill: {doing}; "
          f"{traffic.runs} iperf3 runs; counted {counted} B, kernel {kernel} B, wire {wire} B "
          f"({(counted - wire) / wire:+.4%})")
    assert wire > 100_000_000
    assert counted == kernel, "bytes lost or counted twice between the kernel and the database"
    assert after["seen"] == _kernel(d, after["id"])  # the last poll's reading is the kernel's
    assert after["hours"] - before["hours"] == counted  # every byte in exactly one hour
    billed = (after["plan_used"] - before["plan_used"]) - (after["router"] - before["router"]) \
        - (after["unregistered"] - before["unregistered"])
    assert billed == counted, "the plan's bytes differ from its clients'"
    assert abs(counted - wire) <= 0.005 * wire, (counted, wire)
    assert d.client(mac)["bytes_total"] == after["total"]


# -- the flash full when hotspotd commits ------------------------------------------------------------


def _fill(path: str) -> None:
    """Fill the file system `path` is on to its last byte."""
    for name, chunk in (("filler", 65536), ("filler-tail", 1)):
        with open(Path(path) / name, "wb", buffering=0) as f:
            try:
                while f.write(b"\0" * chunk):
                    pass
            except OSError:
                pass


def _unfill(path: str) -> None:
    for name in ("filler", "filler-tail"):
        (Path(path) / name).unlink(missing_ok=True)


def _download(lab: Lab, name: str) -> None:
    """Two seconds of download, or less: a cap cuts it off."""
    with contextlib.suppress(subprocess.TimeoutExpired, CommandError):
        lab.iperf(name, seconds=2, reverse=True, timeout=5)


def _capped(lab: Lab, name: str) -> bool:
    """The client gets nothing more through: two seconds of trying move no byte to it."""
    before = lab.ip_bytes(name)
    lab.ping(name, lab.server4, count=2, timeout=1)
    lab.curl(name, f"http://{lab.server4}:9/", check=False, timeout=1)
    after = lab.ip_bytes(name)
    return after["rx4"] == before["rx4"] and after["rx6"] == before["rx6"]


def test_a_full_flash_fails_the_commit_loudly_and_loses_nothing_once_space_returns(lab, start_hotspotd):
    flash = lab.tmpfs("flash", "256k")
    d = start_hotspotd(state_dir=flash, commit_interval=10, poll_interval=0.5)
    register(lab, d, "c1", "c2")
    c1, c2 = lab.clients["c1"].mac, lab.clients["c2"].mac
    d.ctl("cap", c1, "5MB")
    d.ctl("throttle", c2, "20mbit")
    d.wait_polls()
    base, wire0 = _stored(d, c2)["total"], _wire(lab, "c2")
    _fill(flash)  # before the first commit, due in 10 s or when an alert fires (c1 reaching its cap)
    log_from = len(d.log())
    traffic = Traffic(lab, "c2", seconds=2)
    _download(lab, "c1")
    failed = lab.wait_for(lambda: [line for line in d.log()[log_from:].splitlines() if "commit" in line],
                          15, "the commit to fail")
    print("\n" + "\n".join(failed))
    assert "No space left on device" in failed[0] or "disk is full" in failed[0], failed
    assert flash in failed[0], "the log says where"
    # enforcement goes on: the capped client stays capped
    assert d.client(c1)["state"] == "capped"
    assert _capped(lab, "c1")
    traffic.check()
    traffic.stop()
    d.wait_polls(2)
    counted = _stored(d, c2)["total"] - base  # the working database in RAM has every byte
    wire = _wire(lab, "c2") - wire0
    assert wire > 5_000_000
    assert abs(counted - wire) <= 0.005 * wire, (counted, wire)
    assert sorted(p.name for p in Path(flash).iterdir()) == ["filler", "filler-tail"], \
        "a failed commit left a file"
    assert sum("commit" in line for line in d.log()[log_from:].splitlines()) <= 2, \
        "a commit that failed is tried again after a while, not at every poll"
    assert "alerts failed" not in d.log(), "the alert fired; only its commit failed"

    _unfill(flash)  # space returns: the next commit has every byte
    lab.wait_for(lambda: (Path(flash) / "hotspot.db").exists()
                 and _stored(d, c2, "state")["total"] == _stored(d, c2)["total"], 15, "the next commit")
    committed = {mac: _stored(d, mac, "state")["total"] for mac in (c1, c2)}
    assert committed == {mac: _stored(d, mac)["total"] for mac in (c1, c2)}
    assert abs(committed[c2] - base - wire) <= 0.005 * wire
    assert "committed again" in d.log()[log_from:], d.log()[log_from:]

    # a power cut after that: RAM and the kernel table are gone; the flash copy brings back every byte
    d.kill9()
    d.ctl("teardown")
    for f in Path(d.config.run_dir).iterdir():
        f.unlink()
    d.start()
    assert {mac: d.client(mac)["bytes_total"] for mac in (c1, c2)} == committed
    rx0 = _wire(lab, "c1")
    _download(lab, "c1")  # takes what was left of the cap, up to the packet that crosses it
    assert committed[c1] + _wire(lab, "c1") - rx0 <= 5_000_000 + 256 * 1024
    assert d.client(c1)["state"] == "capped" and _capped(lab, "c1")


# -- run_dir (RAM) full while hotspotd runs ----------------------------------------------------------


def test_a_full_run_dir_is_loud_and_safe_and_loses_no_byte_once_space_returns(lab, start_hotspotd):
    """The working database lives in run_dir: while it cannot grow, no poll can move the kernel's bytes
    into it. The kernel goes on counting and enforcing; the first poll once space returns moves every
    byte (filed in that poll's hour)."""
    ram = lab.tmpfs("ram", "8m")
    d = start_hotspotd(run_dir=ram, poll_interval=0.5)
    register(lab, d, "c1", "c2")
    c1, c2 = lab.clients["c1"].mac, lab.clients["c2"].mac
    d.ctl("throttle", c1, "20mbit")
    d.ctl("cap", c2, "3MB")
    d.wait_polls()
    before, wire0 = _stored(d, c1), _wire(lab, "c1")
    kernel0 = _kernel(d, before["id"])
    _fill(ram)
    log_from = len(d.log())
    traffic = Traffic(lab, "c1", seconds=2)
    _download(lab, "c2")
    full = lab.wait_for(lambda: [line for line in d.log()[log_from:].splitlines() if ram in line], 10,
                        "hotspotd to say run_dir is full")
    print("\n" + "\n".join(full))
    assert "full" in full[0]
    # safe: the kernel counts and enforces on its own
    assert d.client(c2)["state"] == "capped" and _capped(lab, "c2")
    refused = d.ctl("cap", c1, "1GB", check=False)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused
    d.proc.send_signal(signal.SIGHUP)  # a commit: the flash gets the database as it is
    lab.wait_for(lambda: (Path(d.config.state_dir) / "hotspot.db").exists(), 5, "the commit")
    assert _stored(d, c1, "state")["total"] == _stored(d, c1)["total"]
    traffic.check()
    traffic.stop()
    d.wait_polls()
    counted_kernel, wire = _kernel(d, before["id"]) - kernel0, _wire(lab, "c1") - wire0
    assert abs(counted_kernel - wire) <= 0.005 * wire, (counted_kernel, wire)
    assert _stored(d, c1)["total"] < before["total"] + counted_kernel // 2, "the database could not grow"
    lines = d.log()[log_from:].splitlines()
    assert len(lines) <= 8, "loud once, not at every poll:\n" + "\n".join(lines)  # 10 polls or more

    _unfill(ram)  # space returns: the next poll moves every byte the kernel counted meanwhile
    lab.wait_for(lambda: "again" in d.log()[log_from:], 10, "hotspotd to say it works again")
    d.wait_polls()
    after = _stored(d, c1)
    counted = after["total"] - before["total"]
    assert counted == _kernel(d, after["id"]) - kernel0, "a byte lost or doubled"
    assert abs(counted - wire) <= 0.005 * wire, (counted, wire)
    assert after["hours"] - before["hours"] == counted
    assert d.client(c1)["cap"] is None, "the refused command changed nothing"


# -- the clock a year back and forward again ---------------------------------------------------------

YEAR = 365 * 86400


def test_the_clock_back_a_year_and_forward_again_rolls_no_period_misfiles_no_hour_fires_no_alert_twice(lab):
    """A router without a real-time clock boots at an old date and jumps to the real time when NTP
    syncs: here the clock goes a year back 6 s before an hour ends, hotspotd restarts (as at boot),
    and the clock comes back 4 s into the next hour, with a steady 1 MB/s flowing throughout."""
    from tests.lab.alerts.test_alerts import RECEIVER, WEBHOOK_PORT, _lines, _serve

    hooks = Path(lab.dir) / "hooks.jsonl"
    web = _serve(lab, RECEIVER, WEBHOOK_PORT, hooks)
    # the daemon's clock: the 15th of this month, before 11:00 (local), far from a period's end
    hour = datetime.now().replace(day=15, hour=11, minute=0, second=0, microsecond=0).timestamp()
    offset = hour - 600 - time.time()
    d = Hotspotd(lab, period="monthly", plan_quota=20_000_000, alert_at=(50,),
                 alert_webhook=f"http://127.0.0.1:{WEBHOOK_PORT}/hook")
    d.clock_file.write_text(str(offset))
    d.start()
    register(lab, d, "c1")
    mac = lab.clients["c1"].mac
    d.ctl("cap", mac, "40MB")  # its 50 % comes during the flow below
    lab.iperf("c1", bytes=11_000_000, reverse=True)  # past 50 % of the plan: its alert fires
    lab.wait_for(lambda: len(_lines(hooks)) == 1, 10, "the plan's alert")
    d.ctl("throttle", mac, "8mbit")
    d.wait_polls()
    status = d.json("status")["plan"]
    period, cycle = status["period_start"], status["cycle_start"]
    before, wire0 = _stored(d, mac), _wire(lab, "c1")
    offset = hour - 9 - time.time()  # a few minutes on, so that 11:00 comes soon
    d.clock_file.write_text(str(offset))

    def at(t: float) -> None:  # wait until the daemon's clock (before the jump) reads `hour + t`
        time.sleep(max(0.0, hour + t - (time.time() + offset)))

    at(-8)
    traffic = lab.iperf_start("c1", seconds=14, reverse=True)
    at(-6)
    d.clock_file.write_text(str(offset - YEAR))
    at(-5)
    d.stop()
    d.start()  # as at boot, a year back
    assert d.json("status")["plan"]["period_start"] == period
    at(4)
    d.clock_file.write_text(str(offset))  # NTP syncs
    traffic.wait()
    d.wait_polls()
    after, wire = _stored(d, mac), _wire(lab, "c1") - wire0
    counted = after["total"] - before["total"]
    assert abs(counted - wire) <= 0.005 * wire, (counted, wire)

    status = d.json("status")["plan"]
    assert (status["period_start"], status["cycle_start"]) == (period, cycle), "a period rolled"
    day = datetime.fromtimestamp(hour).date().isoformat()
    hours = {h["start"]: h for h in d.json("history", mac, "--by", "hour", "--from", day)}
    assert sum(h["bytes_total"] for h in d.json("history", mac, "--by", "month", "--from", "2000-01-01")) \
        == after["total"], "usage filed outside the day (a year back?)"
    ten, eleven = (hours.get(datetime.fromtimestamp(hour + dt).astimezone().isoformat(timespec="seconds"),
                             {"bytes_total": 0})["bytes_total"] for dt in (-3600, 0))
    print(f"\n10:00 {ten} B, 11:00 {eleven} B; counted {counted} B, wire {wire} B")
    # the flow: 8 s before 11:00, 6 s after it (1 MB/s), give or take a poll and the restart
    rate = counted / 14
    assert abs(ten - before["total"] - 8 * rate) <= 2 * rate, (ten, eleven, rate)
    assert abs(eleven - 6 * rate) <= 2 * rate, (ten, eleven, rate)

    time.sleep(2)
    fired = sorted((h["body"]["event"], h["body"]["point"]) for h in _lines(hooks))
    assert fired == [("client", 50), ("plan", 50)], fired
    assert len(d.json("alerts")["alerts"]) == 2
    web.kill()
    d.stop()


# -- dnsmasq, the portal and the DNS snooper killed or stopped ---------------------------------------


def _last_poll(d) -> float:
    """When hotspotd's last poll filed its bytes (meta last_good, written at every poll)."""
    db = _db(d)
    try:
        return float(db.execute("SELECT value FROM meta WHERE key = 'last_good'").fetchone()[0])
    finally:
        db.close()


def _said(d, text: str, since: int) -> bool:
    return text in d.log()[since:]


def _dns(lab: Lab) -> bool:
    return lab.run("c1", "getent", "hosts", "internet.lab", check=False, timeout=3).returncode == 0


def _portal(d) -> bool:
    answer = d.lab.curl("c1", d.portal("/api/captive"), "-o", "/dev/null", check=False, timeout=1)
    return answer.returncode == 0


def _snooping(d) -> list[int]:
    from lab.hotspotd import _state

    return [p for p in d.snoop_pids() if _state(p) != "T"]


def test_dnsmasq_the_portal_and_the_snooper_killed_or_stopped_under_traffic(lab, start_hotspotd):
    """Each in turn, killed (-9) or stopped (SIGSTOP, 2 s, SIGCONT): hotspotd polls on throughout,
    counts every byte and keeps a capped client capped; the portal and the snooper come back by
    hotspotd, dnsmasq by the lab (procd on a router), and hotspotd says that dnsmasq went."""
    import socket

    d = start_hotspotd(poll_interval=0.5)
    register(lab, d, "c1", "c2")
    c1, c2 = lab.clients["c1"].mac, lab.clients["c2"].mac
    d.ctl("throttle", c1, "20mbit")
    d.ctl("cap", c2, "2MB")
    _download(lab, "c2")
    d.wait_portal()
    lab.wait_for(lambda: _snooping(d), 10, "the DNS snooper")
    d.wait_polls()
    before, wire0 = _stored(d, c1), _wire(lab, "c1")
    kernel0, capped0 = _kernel(d, before["id"]), lab.ip_bytes("c2")
    traffic = Traffic(lab, "c1", seconds=2)
    lab.popen("c2", "ping", "-n", "-q", "-i", "0.2", lab.server4, stdout=subprocess.DEVNULL)  # tries on

    def master() -> int:
        return int((Path(d.config.run_dir) / "portal.pid").read_text())

    def send(what: str, sig: int) -> None:
        if what == "dnsmasq":
            os.kill(lab.dnsmasq.pid, sig)  # `ip netns exec` exec'd dnsmasq
            if sig == signal.SIGKILL:
                lab.dnsmasq.wait()  # reaped, as procd does
        elif what == "portal":  # gunicorn's master, or with its worker (its process group)
            os.kill(master(), sig) if sig == signal.SIGKILL else os.killpg(master(), sig)
        else:
            for pid in d.snoop_pids():
                os.kill(pid, sig)

    recovery = {}
    for what in ("dnsmasq", "portal", "snooper"):
        for how in ("kill", "stop"):
            log_from, polled = len(d.log()), _last_poll(d)
            gone = {"dnsmasq": lab.dnsmasq.pid, "portal": master(), "snooper": d.snoop_pids()[0]}[what]
            back = {"dnsmasq": lambda: _dns(lab),
                    "portal": lambda gone=gone: master() != gone and _portal(d),
                    "snooper": lambda gone=gone: [p for p in _snooping(d) if p != gone]}[what]
            if how == "stop":
                back = {"dnsmasq": lambda: _dns(lab), "portal": lambda: _portal(d),
                        "snooper": lambda: _snooping(d)}[what]
            t = time.monotonic()
            send(what, signal.SIGKILL if how == "kill" else signal.SIGSTOP)
            hung = None
            if what == "portal" and how == "stop":  # as if it stopped halfway through a request
                hung = socket.socket(socket.AF_UNIX)
                hung.connect(str(Path(d.config.run_dir) / "hotspotd.sock"))
                hung.sendall(b'{"op": "me", "ar')
            while time.monotonic() - t < 2:
                traffic.check()
                if how == "kill" and what != "dnsmasq" and f"{what} {how}" not in recovery and back():
                    recovery[f"{what} {how}"] = round(time.monotonic() - t, 2)  # hotspotd's doing
                time.sleep(0.05)
            assert _last_poll(d) - polled >= 1.5, f"{what} {how}: hotspotd's poll stalled"
            if how == "stop":
                t = time.monotonic()
                send(what, signal.SIGCONT)
                if hung:
                    hung.close()
            elif what == "dnsmasq":
                lab.wait_for(lambda since=log_from: _said(d, "dnsmasq is not running", since), 8,
                             "hotspotd to say dnsmasq went")
                recovery["dnsmasq noticed"] = round(time.monotonic() - t, 2)
                t = time.monotonic()
                lab.restart_dnsmasq()  # procd's part on a router
            lab.wait_for(back, 20, f"{what} back after {how}", interval=0.05)
            recovery.setdefault(f"{what} {how}", round(time.monotonic() - t, 2))
            if what == "dnsmasq" and how == "kill":
                lab.renew("c1")  # DHCP works again
                lab.wait_for(lambda since=log_from: _said(d, "dnsmasq is running again", since), 8,
                             "hotspotd to say dnsmasq is back")
    traffic.stop()
    d.wait_polls(2)

    after, wire = _stored(d, c1), _wire(lab, "c1") - wire0
    counted = after["total"] - before["total"]
    print(f"\nrecovery (s): {recovery}; counted {counted} B, wire {wire} B")
    assert counted == _kernel(d, after["id"]) - kernel0
    assert abs(counted - wire) <= 0.005 * wire, (counted, wire)
    assert after["hours"] - before["hours"] == counted
    capped = lab.ip_bytes("c2")
    assert capped["tx4"] > capped0["tx4"] and capped["rx4"] == capped0["rx4"], "the capped client got through"
    assert d.client(c2)["state"] == "capped"


# -- SIGHUP (commit, reload the categories) inside the poll ------------------------------------------


HUPS = 40  # about one in twenty lands inside a write transaction


def test_sighup_inside_the_poll_commits_a_whole_poll_and_never_hangs_hotspotd(lab, start_hotspotd):
    """SIGHUP makes hotspotd commit and the snooper reload its categories. Landing inside a poll, in
    the middle of its transaction, it must neither wait for that transaction (it would wait for ever)
    nor copy half of it to flash."""
    d = start_hotspotd(poll_interval=0.2, commit_interval=3600, dns_snoop=False)
    register(lab, d, "c1")
    mac = lab.clients["c1"].mac
    d.ctl("throttle", mac, "40mbit")
    rng = random.Random()
    traffic = Traffic(lab, "c1")
    flash = Path(d.config.state_dir) / "hotspot.db"

    def stamp() -> str | None:
        return _stored(d, mac, "state")["last_commit"] if flash.exists() else None

    for i in range(HUPS):
        before = stamp()
        doing = d.signal_in_poll(rng, signal.SIGHUP)
        lab.wait_for(lambda before=before: stamp() != before, 3,
                     f"the commit SIGHUP {i + 1} asks for (sent in system call {doing})")
        copy = _stored(d, mac, "state")
        assert copy["total"] == copy["hours"], "half a poll's transaction on flash"
        traffic.check()
    polled = _last_poll(d)
    time.sleep(1)
    assert _last_poll(d) > polled, "hotspotd's poll stopped"
    traffic.stop()
    assert "ERROR" not in d.log(), d.log()[-2000:]
