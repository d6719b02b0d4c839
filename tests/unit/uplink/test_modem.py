"""hotspot.uplink.modem against a ModemManager mock (python-dbusmock, tests/modem_mock.py) on a private
dbus-daemon: reading, roaming, bearer stats, SIM/eSIM, absence, SMS; the sysfs fallback; the wire
format. No test touches the machine's system bus: every call names the private bus."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time

import dbus
import pytest

from hotspot.core.units import InvalidValue
from hotspot.uplink import modem
from tests.modem_mock import MAIN_OBJ, MESSAGING, MODEM, MODEM_3GPP, USSD


def read(bus, **kw):
    return modem.read(bus=bus.address, **kw)


# -- reading --------------------------------------------------------------------------------------------


def test_reads_the_modem_operator_signal_bearer_and_esim(bus, mm):
    mm.add_modem(0)
    m = read(bus)
    assert m.path == f"{MAIN_OBJ}/Modem/0" and m.index == 0
    assert (m.manufacturer, m.model, m.state) == ("Quectel", "EM120R-GL", "connected")
    assert m.access_technologies == ("lte",)
    assert (m.operator_name, m.operator_code, m.mcc, m.mnc) == ("Example Mobile", "00101", "001", "01")
    assert (m.registration, m.roaming) == ("home", False)
    assert (m.signal_quality, m.rsrp, m.rsrq, m.snr) == (71, -95.0, -11.0, 13.5)
    assert (m.bearer_interface, m.bearer_connected) == ("wwan0", True)
    assert (m.rx_bytes, m.tx_bytes) == (123_456_789, 9_876_543)
    assert abs(m.connected_since - (time.time() - 3600)) < 60
    assert (m.sim_iccid, m.sim_imsi, m.sim_type) == ("8988211000000123456", "001010123456789", "esim")
    assert m.sim_eid == "89049032000001000000012345678901"
    assert m.sim_operator_name == "Example Home"
    d = json.loads(json.dumps(m.as_dict()))
    assert d["roaming"] is False and d["access_technologies"] == ["lte"] and d["mcc"] == "001"
    assert d["rx_bytes"] == 123_456_789 and d["sim_type"] == "esim"


def test_roaming_follows_the_registration_state(bus, mm):
    path = mm.add_modem(0)
    assert read(bus).roaming is False
    mm.update(path, MODEM_3GPP, RegistrationState=dbus.UInt32(5), OperatorName="Partner Net",
              OperatorCode="20801")
    m = read(bus)
    assert (m.registration, m.roaming, m.operator_name, m.mcc, m.mnc) == (
        "roaming", True, "Partner Net", "208", "01")
    mm.update(path, MODEM_3GPP, RegistrationState=dbus.UInt32(7))  # roaming, SMS only
    assert read(bus).roaming is True
    mm.update(path, MODEM_3GPP, RegistrationState=dbus.UInt32(1))
    assert (read(bus).registration, read(bus).roaming) == ("home", False)


def test_bearer_stats_follow_the_modem_and_may_be_missing(bus, mm):
    mm.add_modem(0, RxBytes=dbus.UInt64(5 * 10**9), TxBytes=dbus.UInt64(10))
    assert (read(bus).rx_bytes, read(bus).tx_bytes) == (5 * 10**9, 10)  # past 32 bits: a "t"
    mm.add_modem(1, NoStats=True, State=8)
    mm.add_modem(2, NoBearer=True, State=8)
    quiet = [read_index(bus, i) for i in (1, 2)]
    assert [(q.rx_bytes, q.tx_bytes, q.connected_since) for q in quiet] == [(None, None, None)] * 2
    assert quiet[0].bearer_interface == "wwan0" and quiet[1].bearer_interface is None
    assert quiet[1].bearer_connected is False


def read_index(bus, index):
    """The modem at `index` alone: the others' state set so that read() picks it."""
    conn = dbus.bus.BusConnection(bus.address)
    try:
        for p in conn.get_object("org.freedesktop.ModemManager1", MAIN_OBJ).GetManagedObjects(
                dbus_interface="org.freedesktop.DBus.ObjectManager"):
            state = 11 if p.endswith(f"/{index}") else 8
            dbus.Interface(conn.get_object("org.freedesktop.ModemManager1", p),
                           "org.freedesktop.DBus.Mock").UpdateProperties(MODEM, {"State": dbus.Int32(state)})
    finally:
        conn.close()
    m = read(bus)
    assert m.index == index
    return m


def test_physical_sim_and_no_sim(bus, mm):
    mm.add_modem(0, SimType=dbus.UInt32(1), Eid="", State=8)
    mm.add_modem(1, NoSim=True, NoSignal=True, State=8)
    physical = read_index(bus, 0)
    assert (physical.sim_type, physical.sim_eid) == ("physical", None)
    assert physical.sim_iccid == "8988211000000123456"
    bare = read_index(bus, 1)
    assert (bare.sim_type, bare.sim_iccid, bare.sim_imsi, bare.sim_eid) == ("unknown", None, None, None)
    assert (bare.rsrp, bare.rsrq, bare.snr, bare.signal_quality) == (None, None, None, 71)


def test_the_connected_modem_is_read_first(bus, mm):
    mm.add_modem(0, State=8, OperatorName="Idle One")
    mm.add_modem(1, State=11, OperatorName="Busy One")
    assert (read(bus).index, read(bus).operator_name) == (1, "Busy One")


def test_the_system_bus_address_comes_from_the_environment(bus, mm, monkeypatch):
    mm.add_modem(0)
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path=/nonexistent/bus;{bus.address}")
    assert modem.read().operator_name == "Example Mobile"  # the first address that answers


# -- absence and failure ---------------------------------------------------------------------------------


def test_no_modemmanager_is_none_quickly(bus, tmp_path):
    start = time.monotonic()
    assert read(bus) is None  # a bus, nobody owns ModemManager's name
    assert modem.read(bus=f"unix:path={tmp_path}/no-bus") is None  # no bus at all
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(tmp_path / "stale"))  # a socket file nobody listens on: a dead daemon's
    stale.close()
    assert modem.read(bus=f"unix:path={tmp_path}/stale") is None
    assert time.monotonic() - start < 3  # none of the three waited for the 2 s timeout


def test_modemmanager_without_a_modem_is_none(bus, mm):
    assert read(bus) is None


def test_a_failing_call_is_one_modem_error(bus, mm):
    mm.add_modem(0)
    mm.mock(MAIN_OBJ).AddMethod(
        "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", "", "a{oa{sa{sv}}}",
        "raise dbus.exceptions.DBusException('modem is busy', "
        "name='org.freedesktop.ModemManager1.Error.Core.Retry')")
    with pytest.raises(modem.ModemError) as e:
        read(bus)
    assert "modem is busy" in str(e.value) and "\n" not in str(e.value)


def test_unexpected_properties_are_one_modem_error(bus, mm):
    path = mm.add_modem(0)
    mm.update(path, MODEM, SignalQuality="strong")
    with pytest.raises(modem.ModemError, match="unexpected properties of .*/Modem/0: ValueError"):
        read(bus)


def test_a_bus_that_never_answers_costs_the_timeout(tmp_path):
    """Never hang the daemon's poll: a bus that accepts and then says nothing."""
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "mute"))
    server.listen(1)
    held = []
    threading.Thread(target=lambda: held.append(server.accept()), daemon=True).start()
    start = time.monotonic()
    with pytest.raises(modem.ModemError, match="did not answer within 0.3 s"):
        modem.read(timeout=0.3, bus=f"unix:path={tmp_path}/mute")
    assert time.monotonic() - start < 2.5  # the timeout, not a hang
    for conn, _ in held:
        conn.close()
    server.close()


# -- SMS ---------------------------------------------------------------------------------------------


def test_send_sms_creates_sends_and_deletes_the_message(bus, mm):
    path = mm.add_modem(0)
    text = "Data cap reached: phone {a} [b] 'x' \"y\", ~€"
    modem.send_sms("+14155550123", text, bus=bus.address)
    assert [tuple(map(str, m)) for m in mm.manager.SentMessages()] == [("+14155550123", text)]
    (_, (props,)), = mm.mock(path).GetMethodCalls("Create")
    assert {str(k): str(v) for k, v in props.items()} == {"number": "+14155550123", "text": text}
    conn = dbus.bus.BusConnection(bus.address)
    try:
        messages = conn.get_object("org.freedesktop.ModemManager1", path).Get(
            MESSAGING, "Messages", dbus_interface="org.freedesktop.DBus.Properties")
    finally:
        conn.close()
    assert list(messages) == []  # deleted once sent: ModemManager would keep it otherwise


def test_send_sms_in_ucs2(bus, mm):
    mm.add_modem(0)
    text = "流量已用完 " * 11 + "好"  # 67 UCS-2 characters
    modem.send_sms("+8613800138000", text, bus=bus.address)
    assert str(mm.manager.SentMessages()[0][1]) == text


def test_a_failed_send_is_a_modem_error_and_leaves_nothing(bus, mm):
    path = mm.add_modem(0)
    mm.manager.SetSmsError("org.freedesktop.ModemManager1.Error.MessageError.NetworkTimeout",
                           "Network timeout")
    with pytest.raises(modem.ModemError, match="cannot send SMS: Network timeout"):
        modem.send_sms("+14155550123", "hello", bus=bus.address)
    assert list(mm.manager.SentMessages()) == []
    assert len(mm.mock(path).GetMethodCalls("Delete")) == 1


def test_send_sms_without_a_modem(bus, mm, tmp_path):
    with pytest.raises(modem.ModemError, match="no modem"):
        modem.send_sms("+14155550123", "hello", bus=bus.address)
    with pytest.raises(modem.ModemError, match="not running"):
        modem.send_sms("+14155550123", "hello", bus=f"unix:path={tmp_path}/no-bus")


@pytest.mark.parametrize("number", ["4155550123", "+", "+0123456", "+1234567890123456", "+1 415 555",
                                    "+1415555012a", "", None, "+١٢٣٤٥٦٧"])
def test_send_sms_refuses_a_bad_number(bus, mm, number):
    path = mm.add_modem(0)
    with pytest.raises(InvalidValue, match="invalid phone number"):
        modem.send_sms(number, "hello", bus=bus.address)
    assert list(mm.mock(path).GetMethodCalls("Create")) == []


@pytest.mark.parametrize("text, why", [
    ("x" * 161, "161 GSM 7-bit characters, one SMS holds 160"),
    ("{" * 81, "162 GSM 7-bit characters"),  # an extension character takes two septets
    ("é" * 60 + "ş" * 11, "71 UCS-2 characters, one SMS holds 70"),
    ("😀" * 36, "72 UCS-2 characters"),  # outside the BMP: a surrogate pair each
    ("", "expected non-empty text"),
    ("a\0b", "expected non-empty text"),
])
def test_send_sms_refuses_what_does_not_fit_one_sms(bus, mm, text, why):
    path = mm.add_modem(0)
    with pytest.raises(InvalidValue, match=why):
        modem.send_sms("+14155550123", text, bus=bus.address)
    assert list(mm.mock(path).GetMethodCalls("Create")) == []


def test_sms_length_and_fit():
    assert modem.sms_length("x" * 160) == (160, 160)
    assert modem.sms_length("{" * 80) == (160, 160)
    assert modem.sms_length("ş" * 70) == (70, 70)
    assert modem.fit_sms("short") == "short"
    cut = modem.fit_sms("Data cap reached " * 20)
    assert cut.endswith("...") and modem.sms_length(cut) == (160, 160)
    cut = modem.fit_sms("流量" * 50)
    assert cut.endswith("...") and modem.sms_length(cut)[0] <= 70 and modem.check_sms_text(cut)


# -- the fallback without a modem ------------------------------------------------------------------------


def test_interface_bytes_of_lo():
    rx, tx = modem.interface_bytes("lo")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"x" * 1000, ("127.0.0.1", 9))  # discard port: counted on lo whether or not anyone listens
    rx2, tx2 = modem.interface_bytes("lo")
    assert rx2 >= rx + 1000 and tx2 >= tx + 1000


def test_interface_bytes_of_a_missing_or_bad_device():
    assert modem.interface_bytes("hs-nowan0") is None
    for bad in ["", "..", ".", "../lo", "lo/statistics", "a" * 16, "wan 0", "eth0:1", None]:
        with pytest.raises(InvalidValue, match="invalid interface name"):
            modem.interface_bytes(bad)


# -- the wire format -------------------------------------------------------------------------------------


def test_marshalling_round_trip():
    sig = "a{sv}ya(ubx)dsob"
    values = [{"n": ("u", 7), "s": ("s", "é"), "a": ("ai", [-1, 2]), "t": ("t", 2**63)}, 255,
              [(1, True, -2**40)], 0.5, "text", "/o/p", False]
    w = modem._Writer()
    for t, v in zip(modem._types(sig), values):
        w.write(t, v)
    r = modem._Reader(bytes(w.buf), "<")
    out = [r.read(t) for t in modem._types(sig)]
    assert out[0] == {"n": 7, "s": "é", "a": [-1, 2], "t": 2**63}
    assert out[1:] == values[1:]
    assert r.pos == len(w.buf)


def test_big_endian_replies_are_read():
    """A big-endian router's daemon marshals big-endian: a{sv} {"rx-bytes": t 2**40}."""
    key = b"rx-bytes"
    # the entry at 8 (aligned), its key's length 8..11, key and NUL 12..20, the signature "t" 21..23,
    # the uint64 at 24 (already aligned)
    entry = struct.pack(">I", len(key)) + key + b"\0" + b"\x01t\0" + struct.pack(">Q", 2**40)
    buf = struct.pack(">I", len(entry)) + b"\0" * 4 + entry
    assert modem._Reader(buf, ">").read("a{sv}") == {"rx-bytes": 2**40}


def test_malformed_input_is_refused():
    with pytest.raises(ValueError):
        modem._Reader(struct.pack("<I", 100) + b"abc", "<").read("s")
    with pytest.raises(ValueError):
        modem._Reader(struct.pack("<I", 1000) + b"\0" * 8, "<").read("ai")
    with pytest.raises(ValueError):
        modem._types("a{sz}")


# -- USSD and received SMS ------------------------------------------------------------------------------


def test_ussd_sends_the_code_and_returns_the_reply(bus, mm):
    mm.add_modem(0)
    mm.set_ussd("已使用3.2GB，剩余1.8GB")
    assert modem.ussd("*100#", bus=bus.address) == "已使用3.2GB，剩余1.8GB"
    assert mm.ussd_calls() == ["*100#"]


def test_ussd_cancels_a_menu_left_open_and_a_stuck_session(bus, mm):
    path = mm.add_modem(0)
    mm.set_ussd("1. Balance 2. Data", state_after=3)  # a menu waits for a choice
    assert modem.ussd("*100#", bus=bus.address) == "1. Balance 2. Data"
    assert mm.ussd_calls() == ["*100#", "cancel"]
    mm.update(path, USSD, State=dbus.UInt32(2))  # another client's session, still open
    mm.set_ussd("ok")
    assert modem.ussd("*100#", bus=bus.address) == "ok"
    assert mm.ussd_calls()[2:] == ["cancel", "*100#"]


def test_a_ussd_error_or_no_answer_is_one_modem_error(bus, mm):
    mm.add_modem(0)
    mm.set_ussd(error="org.freedesktop.ModemManager1.Error.Core.Unsupported", message="USSD not supported")
    with pytest.raises(modem.ModemError, match="USSD \\*100#: USSD not supported"):
        modem.ussd("*100#", bus=bus.address)
    mm.set_ussd("late", delay=1.5)
    with pytest.raises(modem.ModemError, match="did not answer within 0.5 s"):
        modem.ussd("*100#", timeout=0.5, bus=bus.address)
    assert mm.ussd_calls()[-2:] == ["*100#", "cancel"]  # the session it may have left open


@pytest.mark.parametrize("code", ["", "100", "*100", "*100#;rm", "*1 00#", "*100#\n", None, "#" * 70])
def test_ussd_refuses_a_bad_code_before_the_bus(bus, mm, code):
    with pytest.raises(InvalidValue, match="invalid USSD code"):
        modem.ussd(code, bus=bus.address)
    assert mm.ussd_calls() == []


def test_ussd_without_a_modem_or_modemmanager(bus, mm, tmp_path):
    with pytest.raises(modem.ModemError, match="no modem"):
        modem.ussd("*100#", bus=bus.address)
    with pytest.raises(modem.ModemError, match="not running"):
        modem.ussd("*100#", bus=f"unix:path={tmp_path}/none")


def test_received_sms_lists_only_messages_received_whole(bus, mm):
    mm.add_modem(0)
    assert modem.received_sms(bus=bus.address) == []
    modem.send_sms("+8613800000000", "sent by us", bus=bus.address)  # a sent one is not received
    mm.deliver_sms("10086", "later", "2026-12-08T10:00:00+08:00")
    mm.deliver_sms("Vodafone", "no time", "")
    mm.deliver_sms("10010", "earlier", "2026-12-08T09:00:00+08:00")
    got = modem.received_sms(bus=bus.address)
    assert [(m.number, m.text) for m in got] == [("10010", "earlier"), ("10086", "later"),
                                                 ("Vodafone", "no time")]
    assert got[0].at == 1796691600.0 and got[0].timestamp == "2026-12-08T09:00:00+08:00"
    assert got[2].at is None


def test_received_sms_without_modemmanager_is_empty(tmp_path):
    assert modem.received_sms(bus=f"unix:path={tmp_path}/none") == []
