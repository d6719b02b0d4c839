"""The metered hint without root: the optsfile's text and how it is written and signalled
(hotspot/uplink/metered.py), and the parsing of an RTM_GETROUTE dump (hotspot/kernel/routes.py)."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import struct
import subprocess
import time

import pytest

from hotspot.kernel import routes
from hotspot.kernel.netlink import messages, pack_attr
from hotspot.uplink import metered
from hotspot.uplink.metered import DhcpHint, active_uplink, opts_text


def test_opts_text_is_one_dnsmasq_option_line_or_nothing():
    assert opts_text(True) == "43,ANDROID_METERED\n"
    assert opts_text(False) == ""


# ---- DhcpHint ---------------------------------------------------------------------------------------


@pytest.fixture
def fake_dnsmasq(tmp_path):
    """Start a process named "dnsmasq" (a copy of sleep: SIGHUP ends it) with its pid file; return a
    function that starts one and gives (process, pid file). SIGHUP is set back to its default in the
    child: a test run started under nohup would pass on an ignored SIGHUP through exec."""
    exe = tmp_path / "bin" / "dnsmasq"
    exe.parent.mkdir()
    shutil.copy(shutil.which("sleep"), exe)
    procs = []

    def start(pidfile="dnsmasq.pid", name=str(exe)):
        p = subprocess.Popen([name, "30"], preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
        procs.append(p)
        deadline = time.monotonic() + 5
        while _comm(p.pid) != os.path.basename(name):  # until exec'd: before, it is a python
            assert time.monotonic() < deadline, f"{name} did not start"
            time.sleep(0.005)
        path = tmp_path / pidfile
        path.write_text(f"{p.pid}\n")
        return p, str(path)

    yield start
    for p in procs:
        p.kill()
        p.wait()


def _comm(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def hupped(p: subprocess.Popen, timeout: float = 2) -> bool:
    try:
        return p.wait(timeout=timeout) == -1  # killed by signal 1, SIGHUP
    except subprocess.TimeoutExpired:
        return False


def test_set_writes_the_file_and_hups_dnsmasq_only_on_a_change(tmp_path, fake_dnsmasq):
    opts = tmp_path / "hotspot.opts"
    p, pidfile = fake_dnsmasq()
    hint = DhcpHint(str(opts), pidfile)
    assert hint.set(True) is True
    assert opts.read_text() == "43,ANDROID_METERED\n"
    assert opts.stat().st_mode & 0o777 == 0o644, "dnsmasq re-reads it after dropping root"
    assert hupped(p)

    p, pidfile = fake_dnsmasq()
    inode = opts.stat().st_ino
    assert hint.set(True) is False
    assert opts.stat().st_ino == inode, "not rewritten"
    assert not hupped(p, 0.2)

    assert hint.set(False) is True
    assert opts.read_text() == ""
    assert hupped(p)
    assert sorted(os.listdir(tmp_path)) == ["bin", "dnsmasq.pid", "hotspot.opts"], "no temporary files left"


def test_a_new_hint_compares_with_the_file_not_with_memory(tmp_path, fake_dnsmasq):
    """hotspotd restarting must not HUP dnsmasq (which also clears its DNS cache) for nothing."""
    opts = tmp_path / "hotspot.opts"
    opts.write_text("43,ANDROID_METERED\n")
    p, pidfile = fake_dnsmasq()
    assert DhcpHint(str(opts), pidfile).set(True) is False
    assert not hupped(p, 0.2)
    assert DhcpHint(str(tmp_path / "absent.opts"), pidfile).set(False) is True  # creates it, empty
    assert (tmp_path / "absent.opts").read_text() == ""


def test_no_dnsmasq_is_no_error_logged_once_and_signalled_when_it_is_back(tmp_path, fake_dnsmasq, caplog):
    opts, pidfile = tmp_path / "hotspot.opts", tmp_path / "dnsmasq.pid"
    hint = DhcpHint(str(opts), str(pidfile))
    with caplog.at_level(logging.DEBUG, logger="hotspot"):
        assert hint.set(True) is True
        assert hint.set(True) is False
        assert hint.set(True) is False
    assert opts.read_text() == "43,ANDROID_METERED\n"
    assert sum("no running dnsmasq" in r.getMessage() for r in caplog.records) == 1
    assert all(r.levelno == logging.DEBUG for r in caplog.records if "no running dnsmasq" in r.getMessage())

    # dnsmasq (re)started before reading the new file could have missed it: it is told at the next set()
    p, _ = fake_dnsmasq()
    assert hint.set(True) is False
    assert hupped(p)
    p2, _ = fake_dnsmasq()
    assert hint.set(True) is False
    assert not hupped(p2, 0.2), "told once is enough"


def test_an_unwritable_file_is_a_one_line_error(tmp_path):
    with pytest.raises(OSError, match=r"^\[Errno 2\] cannot write .*/absent/hotspot.opts: No such file"):
        DhcpHint(str(tmp_path / "absent" / "hotspot.opts"), str(tmp_path / "x.pid")).set(True)


def test_a_stale_pid_file_naming_another_program_is_not_signalled(tmp_path, fake_dnsmasq):
    p, pidfile = fake_dnsmasq(name=shutil.which("sleep"))  # the pid is now a "sleep", not a dnsmasq
    assert DhcpHint(str(tmp_path / "o"), pidfile).set(True) is True
    assert not hupped(p, 0.2)
    (tmp_path / "garbage.pid").write_text("not a pid\n")
    assert DhcpHint(str(tmp_path / "o2"), str(tmp_path / "garbage.pid")).set(True) is True


def test_a_pid_file_pattern_signals_every_instance(tmp_path, fake_dnsmasq):
    """OpenWrt names pid files after the UCI section: /var/run/dnsmasq/dnsmasq.cfg01411c.pid."""
    a, _ = fake_dnsmasq("dnsmasq.cfg01411c.pid")
    b, _ = fake_dnsmasq("dnsmasq.guest.pid")
    hint = DhcpHint(str(tmp_path / "hotspot.opts"), str(tmp_path / "dnsmasq.*.pid"))
    assert hint.set(True) is True
    assert hupped(a) and hupped(b)


def fake_proc(root, **procs):
    """A /proc with, for each "p<PID>=(comm, NSpid)", PID/comm and PID/status."""
    for name, (comm, nspid) in procs.items():
        d = root / name[1:]
        d.mkdir(parents=True)
        (d / "comm").write_text(comm + "\n")
        (d / "status").write_text(f"Name:\t{comm}\nNSpid:\t" + "\t".join(map(str, nspid)) + "\n")
    return str(root)


def test_dnsmasq_pids_finds_a_jailed_dnsmasq_by_its_pid_inside_the_jail(tmp_path):
    pidfile = tmp_path / "dnsmasq.cfg01411c.pid"
    proc = fake_proc(tmp_path / "proc", p1=("procd", [1]), p812=("ujail", [812]), p813=("dnsmasq", [813, 1]),
                     p900=("dnsmasq", [900]), p950=("sleep", [950]))
    pidfile.write_text("900\n")  # not jailed: the file's pid is ours
    assert metered.dnsmasq_pids(str(pidfile), proc) == [900]
    pidfile.write_text("1\n")  # jailed (ujail: own pid namespace): pid 1 there is 813 here, not procd
    assert metered.dnsmasq_pids(str(pidfile), proc) == [813]
    pidfile.write_text("950\n")  # stale: that pid is another program now
    assert metered.dnsmasq_pids(str(pidfile), proc) == []
    pidfile.write_text("")
    assert metered.dnsmasq_pids(str(pidfile), proc) == []
    assert metered.dnsmasq_pids(str(tmp_path / "absent.pid"), proc) == []


def test_the_defaults_are_where_openwrts_jailed_dnsmasq_can_read():
    hint = DhcpHint()
    assert hint.opts_file == "/var/run/dnsmasq/hotspot.opts"
    assert hint.dnsmasq_pidfile == "/var/run/dnsmasq/dnsmasq.*.pid"


# ---- active_uplink ----------------------------------------------------------------------------------


@pytest.fixture
def routes_are(monkeypatch):
    def set_(v4, v6=None):
        table = {socket.AF_INET: v4, socket.AF_INET6: v6}
        monkeypatch.setattr(metered, "default_route_device", lambda family=socket.AF_INET: table[family])

    return set_


def test_active_uplink(routes_are):
    routes_are("wwan0")
    assert active_uplink(["wwan0"], ["wan"]) == ("wwan0", True)
    routes_are("wan")
    assert active_uplink(["wwan0"], ["wan"]) == ("wan", False)
    routes_are("wg0")  # in neither list, e.g. a tunnel over the LTE: metered, to be safe
    assert active_uplink(["wwan0"], ["wan"]) == ("wg0", True)
    routes_are(None, "wan")  # IPv6 only
    assert active_uplink(["wwan0"], ["wan"]) == ("wan", False)
    routes_are("wwan0", "wan")  # IPv4's default route decides
    assert active_uplink(["wwan0"], ["wan"]) == ("wwan0", True)
    routes_are(None, None)
    assert active_uplink(["wwan0"], ["wan"]) == (None, False)


# ---- the route dump ---------------------------------------------------------------------------------


def route(*, dst_len=0, table=254, kind=1, flags=0, family=socket.AF_INET, metric=None, oif=None,
          table_attr=None, nexthops=()) -> bytes:
    """One RTM_NEWROUTE message as the kernel sends it."""
    body = routes._RTMSG.pack(family, dst_len, 0, 0, table, 4, 0, kind, flags)
    if table_attr is not None:
        body += pack_attr(routes.RTA_TABLE, struct.pack("=I", table_attr))
    if metric is not None:
        body += pack_attr(routes.RTA_PRIORITY, struct.pack("=I", metric))
    if oif is not None:
        body += pack_attr(routes.RTA_OIF, struct.pack("=i", oif))
    if nexthops:
        hops = b"".join(routes._RTNEXTHOP.pack(8, 0, 0, i) for i in nexthops)
        body += pack_attr(routes.RTA_MULTIPATH, hops)
    return struct.pack("=IHHII", 16 + len(body), routes.RTM_NEWROUTE, 2, 1, 0) + body


def parse(msg: bytes):
    ((_kind, start, end),) = messages(msg)
    return routes.default_route(msg, start, end)


def test_default_route_parsing():
    assert parse(route(metric=10, oif=3, table_attr=254)) == (10, 3)
    assert parse(route(oif=3)) == (0, 3), "no RTA_PRIORITY: metric 0"
    assert parse(route(family=socket.AF_INET6, metric=1024, oif=2)) == (1024, 2)
    assert parse(route(dst_len=24, oif=3)) is None, "not a default route"
    assert parse(route(table=255, oif=3)) is None, "local table"
    assert parse(route(table=252, table_attr=1000, oif=3)) is None, "table 1000 (rtm_table says COMPAT)"
    assert parse(route(table=252, table_attr=254, oif=3)) == (0, 3)
    assert parse(route(kind=7)) is None, "unreachable: no device"
    assert parse(route(oif=3, flags=routes.RTNH_F_DEAD)) is None
    assert parse(route(metric=5, nexthops=(7, 3))) == (5, 7), "multipath: the first nexthop's device"
    assert parse(route(metric=5)) is None, "no device (e.g. nhid)"


def test_default_route_device_takes_the_lowest_metric(monkeypatch):
    names = {2: "wan0", 3: "wwan0", 4: "gone0"}

    def indextoname(i):
        if i == 4:
            raise OSError(6, "No such device or address")
        return names[i]

    def answers(msgs):
        def request(_proto, _type, _flags, _body):
            for m in msgs:
                for kind, start, end in messages(m):
                    yield kind, m, start, end
        return request

    monkeypatch.setattr(routes.socket, "if_indextoname", indextoname)
    monkeypatch.setattr(routes, "request", answers([route(metric=20, oif=3), route(dst_len=8, oif=9),
                                                    route(metric=10, oif=2), route(metric=1, oif=4)]))
    assert routes.default_route_device() == "wan0", "lowest metric whose device still exists"
    monkeypatch.setattr(routes, "request", answers([route(metric=20, oif=3), route(metric=20, oif=2)]))
    assert routes.default_route_device() == "wwan0", "equal metrics: the kernel's first"
    monkeypatch.setattr(routes, "request", answers([route(dst_len=8, oif=3)]))
    assert routes.default_route_device() is None
