"""A ModemManager on a private D-Bus, for the tests of hotspot.uplink.modem. Two halves in one file:

- The dbusmock template (`load` and the functions marked with MOCK_IFACE): python-dbusmock's server
  loads it by path (`python3 -m dbusmock --system --template tests/modem_mock.py`). Debian 12's
  python3-dbusmock (0.28.7) has no ModemManager template, and upstream's (2024) has a manager and a
  bare modem but no bearer, stats, SIM details, messaging or USSD, so this one is ours. A test sets
  what the network answers a USSD code (SetUssd: a reply, an error, a slow answer, a menu left open)
  and delivers an SMS from the network (DeliverSms), as the real daemon shows a received one. It is
  shaped like the real daemon, names and D-Bus types as in ModemManager's introspection XML: the manager's
  ObjectManager lists only the modems (/Modem/N); bearers (/Bearer/N), SIMs (/SIM/N) and messages
  (/SMS/N) are separate objects that a client reads with Properties.GetAll, as it must on a real modem.
- The test side (`MockModemManager`): its own dbus-daemon on a socket in a temporary directory, the
  dbusmock server on it, a dbus-python connection to steer the mock, and a stop that ends both.
  Nothing touches the machine's system bus.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import dbus
import dbus.exceptions
from dbusmock import MOCK_IFACE, OBJECT_MANAGER_IFACE, mockobject

BUS_NAME = "org.freedesktop.ModemManager1"
MAIN_OBJ = "/org/freedesktop/ModemManager1"
MAIN_IFACE = "org.freedesktop.ModemManager1"
SYSTEM_BUS = True
IS_OBJECT_MANAGER = False  # GetManagedObjects is ours: the real one lists the modems only

MODEM = MAIN_IFACE + ".Modem"
MODEM_3GPP = MODEM + ".Modem3gpp"
SIGNAL = MODEM + ".Signal"
MESSAGING = MODEM + ".Messaging"
USSD = MODEM_3GPP + ".Ussd"
SIMPLE = MODEM + ".Simple"
BEARER = MAIN_IFACE + ".Bearer"
SIM = MAIN_IFACE + ".Sim"
SMS = MAIN_IFACE + ".Sms"

SMS_STATE_STORED, SMS_STATE_RECEIVED, SMS_STATE_SENT = 1, 3, 5
SMS_PDU_DELIVER, SMS_PDU_SUBMIT = 1, 2
USSD_IDLE, USSD_ACTIVE, USSD_USER_RESPONSE = 1, 2, 3

# What AddModem builds when the test says nothing else: an LTE modem with an eSIM, registered on its
# home network, one connected bearer on wwan0.
DEFAULTS = {
    "Manufacturer": "Quectel",
    "Model": "EM120R-GL",
    "State": 11,  # connected
    "AccessTechnologies": 1 << 14,  # LTE
    "SignalQuality": 71,
    "OperatorName": "Example Mobile",
    "OperatorCode": "00101",
    "RegistrationState": 1,  # home
    "Interface": "wwan0",
    "RxBytes": 123_456_789,
    "TxBytes": 9_876_543,
    "Iccid": "8988211000000123456",
    "Imsi": "001010123456789",
    "Eid": "89049032000001000000012345678901",
    "SimType": 2,  # eSIM
    "SimOperatorName": "Example Home",
    "Rsrp": -95.0,
    "Rsrq": -11.0,
    "Snr": 13.5,
}


# -- the template, run inside the dbusmock server --------------------------------------------------


def load(mock, parameters):
    mock.AddProperties(MAIN_IFACE, {"Version": dbus.String(parameters.get("Version", "1.20.4"))})
    mock.AddMethods(MAIN_IFACE, [("ScanDevices", "", "", ""), ("SetLogging", "s", "", "")])
    mock.AddMethod(OBJECT_MANAGER_IFACE, "GetManagedObjects", "", "a{oa{sa{sv}}}",
                   f"ret = {{dbus.ObjectPath(k): objects[k].props for k in objects "
                   f"if k.startswith('{MAIN_OBJ}/Modem/')}}")
    mock.sms_error = None  # (D-Bus error name, message) that the next Sms.Send raises
    mock.sent = []  # (number, text) of each message sent
    # what Ussd.Initiate does: (reply, D-Bus error name or "", its message, seconds before answering,
    # the session's state after the answer: USSD_IDLE, or USSD_USER_RESPONSE for a menu left open)
    mock.ussd = ("", "org.freedesktop.ModemManager1.Error.Core.Unsupported", "no USSD reply set", 0.0,
                 USSD_IDLE)
    mock.ussd_calls = []  # each code sent, and "cancel" for each Cancel


@dbus.service.method(MOCK_IFACE, in_signature="ua{sv}", out_signature="o")
def AddModem(self, index, parameters):
    """A modem at /Modem/<index> with its bearer (/Bearer/<index>) and SIM (/SIM/<index>), from
    DEFAULTS overridden by `parameters`; NoBearer, NoStats, NoSim (true) leave those out. SecondIccid
    makes it a dual-SIM modem: a physical SIM of that ICCID in slot 2 (/SIM/<index + 100>), slot 1
    primary."""
    p = dict(DEFAULTS, **{str(k): v for k, v in parameters.items()})
    modem_path, bearer_path, sim_path = (f"{MAIN_OBJ}/{kind}/{index}" for kind in ("Modem", "Bearer", "SIM"))
    u, s = dbus.UInt32, dbus.String
    second = p.get("SecondIccid")
    slots = [dbus.ObjectPath("/" if p.get("NoSim") else sim_path),
             dbus.ObjectPath(f"{MAIN_OBJ}/SIM/{index + 100}")] if second else []

    bearers = dbus.Array([] if p.get("NoBearer") else [dbus.ObjectPath(bearer_path)], signature="o")
    modem_props = {
        "Sim": dbus.ObjectPath("/" if p.get("NoSim") else sim_path),
        "SimSlots": dbus.Array(slots, signature="o"),
        "PrimarySimSlot": u(1 if second else 0),
        "Bearers": bearers,
        "SupportedCapabilities": dbus.Array([u(4)], signature="u"),
        "CurrentCapabilities": u(4),  # LTE
        "MaxBearers": u(1),
        "MaxActiveBearers": u(1),
        "Manufacturer": s(p["Manufacturer"]),
        "Model": s(p["Model"]),
        "Revision": s("EM120RGLAUR02A07M4G"),
        "CarrierConfiguration": s(""),
        "CarrierConfigurationRevision": s(""),
        "HardwareRevision": s("EM120R-GL"),
        "DeviceIdentifier": s("0123456789abcdef0123456789abcdef01234567"),
        "Device": s("/sys/devices/platform/usb/1-1"),
        "Drivers": dbus.Array([s("qmi_wwan"), s("option")], signature="s"),
        "Plugin": s("quectel"),
        "PrimaryPort": s("cdc-wdm0"),
        "Ports": dbus.Array([dbus.Struct((s("cdc-wdm0"), u(6))), dbus.Struct((s("wwan0"), u(2)))],
                            signature="(su)"),
        "EquipmentIdentifier": s("860000000000001"),
        "UnlockRequired": u(1),  # none
        "UnlockRetries": dbus.Dictionary({}, signature="uu"),
        "State": dbus.Int32(p["State"]),
        "StateFailedReason": u(0),
        "AccessTechnologies": u(p["AccessTechnologies"]),
        "SignalQuality": dbus.Struct((u(p["SignalQuality"]), dbus.Boolean(True)), signature="ub"),
        "OwnNumbers": dbus.Array([], signature="s"),
        "PowerState": u(3),  # on
        "SupportedModes": dbus.Array([dbus.Struct((u(8), u(8)), signature="uu")], signature="(uu)"),
        "CurrentModes": dbus.Struct((u(8), u(8)), signature="uu"),
        "SupportedBands": dbus.Array([u(0)], signature="u"),
        "CurrentBands": dbus.Array([u(0)], signature="u"),
        "SupportedIpFamilies": u(7),
    }
    self.AddObject(modem_path, MODEM, modem_props, [])
    modem = mockobject.objects[modem_path]
    modem.AddMethods(MODEM, [("SetPrimarySimSlot", "u", "", set_primary_sim_slot)])
    modem.AddProperties(MODEM_3GPP, {
        "Imei": s("860000000000001"),
        "RegistrationState": u(p["RegistrationState"]),
        "OperatorCode": s(p["OperatorCode"]),
        "OperatorName": s(p["OperatorName"]),
        "EnabledFacilityLocks": u(0),
        "SubscriptionState": u(0),
        "EpsUeModeOperation": u(0),
        "Pco": dbus.Array([], signature="(ubay)"),
        "InitialEpsBearer": dbus.ObjectPath("/"),
        "InitialEpsBearerSettings": dbus.Dictionary({}, signature="sv"),
        "PacketServiceState": u(2),  # attached
    })
    lte = {} if p.get("NoSignal") else {
        "rsrp": dbus.Double(p["Rsrp"]), "rsrq": dbus.Double(p["Rsrq"]), "snr": dbus.Double(p["Snr"])}
    modem.AddProperties(SIGNAL, {
        "Rate": u(0 if p.get("NoSignal") else 30),
        "RssiThreshold": u(0),
        "ErrorRateThreshold": dbus.Boolean(False),
        "Cdma": dbus.Dictionary({}, signature="sv"),
        "Evdo": dbus.Dictionary({}, signature="sv"),
        "Gsm": dbus.Dictionary({}, signature="sv"),
        "Umts": dbus.Dictionary({}, signature="sv"),
        "Lte": dbus.Dictionary(lte, signature="sv"),
        "Nr5g": dbus.Dictionary({}, signature="sv"),
    })
    modem.AddMethods(SIGNAL, [("Setup", "u", "", ""), ("SetupThresholds", "a{sv}", "", "")])
    modem.AddProperties(MESSAGING, {
        "Messages": dbus.Array([], signature="o"),
        "SupportedStorages": dbus.Array([u(1), u(2)], signature="u"),  # SM, ME
        "DefaultStorage": u(2),
    })
    modem.AddMethods(MESSAGING, [("Create", "a{sv}", "o", sms_create), ("Delete", "o", "", sms_delete),
                                 ("List", "", "ao", f"ret = self.props['{MESSAGING}']['Messages']")])
    modem.AddMethods(SIMPLE, [("GetStatus", "", "a{sv}", "ret = {}")])
    modem.AddProperties(USSD, {"State": u(USSD_IDLE), "NetworkNotification": s(""), "NetworkRequest": s("")})
    modem.AddMethods(USSD, [("Initiate", "s", "s", ussd_initiate), ("Respond", "s", "s", ussd_initiate),
                            ("Cancel", "", "", ussd_cancel)])

    if not p.get("NoBearer"):
        stats = {} if p.get("NoStats") else {
            "rx-bytes": dbus.UInt64(p["RxBytes"]), "tx-bytes": dbus.UInt64(p["TxBytes"]),
            "duration": u(3600), "start-date": dbus.UInt64(int(time.time()) - 3600)}
        self.AddObject(bearer_path, BEARER, {
            "Interface": s(p["Interface"]),
            "Connected": dbus.Boolean(True),
            "ConnectionError": dbus.Struct((s(""), s("")), signature="ss"),
            "Suspended": dbus.Boolean(False),
            "Multiplexed": dbus.Boolean(False),
            "Ip4Config": dbus.Dictionary({"method": u(3)}, signature="sv"),  # DHCP
            "Ip6Config": dbus.Dictionary({"method": u(0)}, signature="sv"),  # unknown: not configured
            "Stats": dbus.Dictionary(stats, signature="sv"),
            "ReloadStatsSupported": dbus.Boolean(not p.get("NoStats")),
            "IpTimeout": u(20),
            "BearerType": u(1),  # default
            "ProfileId": dbus.Int32(-1),
            "Properties": dbus.Dictionary({"apn": s("internet")}, signature="sv"),
        }, [("Connect", "", "", ""), ("Disconnect", "", "", "")])

    if not p.get("NoSim"):
        self.AddObject(sim_path, SIM, {
            "Active": dbus.Boolean(True),
            "SimIdentifier": s(p["Iccid"]),
            "Imsi": s(p["Imsi"]),
            "Eid": s(p["Eid"]),
            "OperatorIdentifier": s(p["Imsi"][:5]),
            "OperatorName": s(p["SimOperatorName"]),
            "EmergencyNumbers": dbus.Array([], signature="s"),
            "PreferredNetworks": dbus.Array([], signature="(su)"),
            "Gid1": dbus.Array([], signature="y"),
            "Gid2": dbus.Array([], signature="y"),
            "SimType": u(p["SimType"]),
            "EsimStatus": u(2 if p["SimType"] == 2 else 0),  # with profiles
            "Removability": u(2 if p["SimType"] == 2 else 1),
        }, [("SendPin", "s", "", ""), ("SendPuk", "ss", "", "")])
    if second:
        self.AddObject(str(slots[1]), SIM, {
            "Active": dbus.Boolean(False),
            "SimIdentifier": s(second),
            "Imsi": s("001020987654321"),
            "Eid": s(""),
            "OperatorIdentifier": s("00102"),
            "OperatorName": s("Example Travel"),
            "EmergencyNumbers": dbus.Array([], signature="s"),
            "PreferredNetworks": dbus.Array([], signature="(su)"),
            "Gid1": dbus.Array([], signature="y"),
            "Gid2": dbus.Array([], signature="y"),
            "SimType": u(1),  # physical
            "EsimStatus": u(0),
            "Removability": u(1),
        }, [("SendPin", "s", "", ""), ("SendPuk", "ss", "", "")])

    mockobject.objects[MAIN_OBJ].EmitSignal(OBJECT_MANAGER_IFACE, "InterfacesAdded", "oa{sa{sv}}",
                                            [dbus.ObjectPath(modem_path), modem.props])
    return modem_path


@dbus.service.method(MOCK_IFACE, in_signature="ss", out_signature="")
def SetSmsError(self, name, message):
    """Make every Sms.Send fail with this D-Bus error (empty name: succeed again)."""
    self.sms_error = (name, message) if name else None


@dbus.service.method(MOCK_IFACE, in_signature="", out_signature="a(ss)")
def SentMessages(self):
    """(number, text) of each message that Sms.Send sent, oldest first: what left the modem."""
    return dbus.Array(self.sent, signature="(ss)")


@dbus.service.method(MOCK_IFACE, in_signature="sssdu", out_signature="")
def SetUssd(self, reply, error_name, error_message, delay, state_after):
    """What every Ussd.Initiate does from now on: wait `delay` seconds (the whole mock waits, as a
    busy modem does), then fail with `error_name` (when not empty) or answer `reply`, and leave the
    session in `state_after`."""
    self.ussd = (str(reply), str(error_name), str(error_message), float(delay), int(state_after))


@dbus.service.method(MOCK_IFACE, in_signature="", out_signature="as")
def UssdCalls(self):
    """Each code Initiate was given and "cancel" for each Cancel, oldest first."""
    return dbus.Array(self.ussd_calls, signature="s")


@dbus.service.method(MOCK_IFACE, in_signature="osss", out_signature="o")
def DeliverSms(self, modem_path, number, text, timestamp):
    """A message arrives from the network as ModemManager shows one: received whole, a deliver PDU,
    stored at /SMS/N, listed in the modem's Messages, announced by Messaging.Added (received: true).
    `timestamp`: ModemManager's ISO 8601 text ('' for none). Returns its path."""
    modem = mockobject.objects[modem_path]
    path = _new_sms(modem, {
        "State": dbus.UInt32(SMS_STATE_RECEIVED),
        "PduType": dbus.UInt32(SMS_PDU_DELIVER),
        "Number": dbus.String(number),
        "Text": dbus.String(text),
        "SMSC": dbus.String("+8613800100500"),
        "Timestamp": dbus.String(timestamp),
        "Storage": dbus.UInt32(2),  # ME
    }, received=True)
    return dbus.ObjectPath(path)


def ussd_initiate(self, command):
    manager = _manager()
    manager.ussd_calls.append(str(command))
    if self.props[USSD]["State"] != USSD_IDLE:
        raise dbus.exceptions.DBusException(
            "Cannot initiate USSD: there is already an ongoing USSD session",
            name="org.freedesktop.ModemManager1.Error.Core.WrongState")
    reply, error, message, delay, after = manager.ussd
    self.UpdateProperties(USSD, {"State": dbus.UInt32(USSD_ACTIVE)})
    if delay:
        time.sleep(delay)
    if error:
        self.UpdateProperties(USSD, {"State": dbus.UInt32(USSD_IDLE)})
        raise dbus.exceptions.DBusException(message, name=error)
    self.UpdateProperties(USSD, {"State": dbus.UInt32(after)})
    return dbus.String(reply)


def ussd_cancel(self):
    _manager().ussd_calls.append("cancel")
    self.UpdateProperties(USSD, {"State": dbus.UInt32(USSD_IDLE)})


def set_primary_sim_slot(self, slot):
    """Modem.SetPrimarySimSlot as ModemManager answers it; once it has probed the modem again, the
    modem's Sim is the SIM in that slot (the real daemon re-creates the modem object; the mock
    changes its properties)."""
    slots = list(self.props[MODEM]["SimSlots"])
    if not slots:
        raise dbus.exceptions.DBusException(
            "Cannot switch sim: operation not supported",
            name="org.freedesktop.ModemManager1.Error.Core.Unsupported")
    if not 1 <= slot <= len(slots):
        raise dbus.exceptions.DBusException(
            f"SIM slot {slot} out of range", name="org.freedesktop.ModemManager1.Error.Core.InvalidArgs")
    for n, path in enumerate(slots, 1):
        if path != "/":
            mockobject.objects[path].UpdateProperties(SIM, {"Active": dbus.Boolean(n == slot)})
    # Debian's dbusmock cannot wrap an object path in UpdateProperties: the Sim is set, then announced
    self.props[MODEM]["Sim"] = slots[slot - 1]
    self.UpdateProperties(MODEM, {"PrimarySimSlot": dbus.UInt32(slot)})
    self.EmitSignal(dbus.PROPERTIES_IFACE, "PropertiesChanged", "sa{sv}as", [
        MODEM, {"Sim": dbus.ObjectPath(slots[slot - 1], variant_level=1)}, []])


def _manager():
    return mockobject.objects[MAIN_OBJ]


def sms_create(self, properties):
    """Messaging.Create as ModemManager does it: number and text are required, the message is stored
    (not yet sent) at /SMS/N and listed in the modem's Messages."""
    if "number" not in properties or "text" not in properties:
        raise dbus.exceptions.DBusException(
            "Invalid SMS properties: missing number or text",
            name="org.freedesktop.ModemManager1.Error.Core.InvalidArgs")
    path = _new_sms(self, {
        "State": dbus.UInt32(SMS_STATE_STORED),
        "PduType": dbus.UInt32(SMS_PDU_SUBMIT),
        "Number": dbus.String(properties["number"]),
        "Text": dbus.String(properties["text"]),
    }, received=False)
    return dbus.ObjectPath(path)


def _new_sms(modem, props, received):
    n = 0
    while f"{MAIN_OBJ}/SMS/{n}" in mockobject.objects:
        n += 1
    path = f"{MAIN_OBJ}/SMS/{n}"
    modem.AddObject(path, SMS, {
        "Data": dbus.Array([], signature="y"),
        "SMSC": dbus.String(""),
        "Validity": dbus.Struct((dbus.UInt32(0), dbus.UInt32(0, variant_level=1)), signature="uv"),
        "Class": dbus.Int32(-1),
        "DeliveryReportRequest": dbus.Boolean(False),
        "MessageReference": dbus.UInt32(0),
        "Timestamp": dbus.String(""),
        "DischargeTimestamp": dbus.String(""),
        "DeliveryState": dbus.UInt32(0x100),  # unknown
        "Storage": dbus.UInt32(0),  # unknown: not stored
        **props,
    }, [("Send", "", "", sms_send), ("Store", "u", "", "")])
    messages = list(modem.props[MESSAGING]["Messages"]) + [dbus.ObjectPath(path)]
    modem.UpdateProperties(MESSAGING, {"Messages": dbus.Array(messages, signature="o")})
    modem.EmitSignal(MESSAGING, "Added", "ob", [dbus.ObjectPath(path), received])
    return path


def sms_send(self):
    manager = _manager()
    if manager.sms_error:
        name, message = manager.sms_error
        raise dbus.exceptions.DBusException(message, name=name)
    self.UpdateProperties(SMS, {"State": dbus.UInt32(SMS_STATE_SENT)})
    manager.sent.append((str(self.props[SMS]["Number"]), str(self.props[SMS]["Text"])))


def sms_delete(self, path):
    if path not in mockobject.objects or not path.startswith(f"{MAIN_OBJ}/SMS/"):
        raise dbus.exceptions.DBusException(
            f"No SMS found with path '{path}'", name="org.freedesktop.ModemManager1.Error.Core.NotFound")
    self.RemoveObject(path)
    messages = [m for m in self.props[MESSAGING]["Messages"] if m != path]
    self.UpdateProperties(MESSAGING, {"Messages": dbus.Array(messages, signature="o")})
    self.EmitSignal(MESSAGING, "Deleted", "o", [dbus.ObjectPath(path)])


# -- the test side -----------------------------------------------------------------------------------

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class Bus:
    """A dbus-daemon of our own on a socket in a temporary directory; `address` is what
    DBUS_SYSTEM_BUS_ADDRESS names. stop() ends it (and so every client still on it)."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="hotspot-dbus-")
        self.socket = os.path.join(self.dir, "bus")
        self.address = f"unix:path={self.socket}"
        conf = os.path.join(self.dir, "bus.conf")
        with open(conf, "w") as f:
            f.write(BUS_CONFIG.format(socket=self.socket))
        self.proc = subprocess.Popen(["dbus-daemon", "--nofork", "--nopidfile", f"--config-file={conf}",
                                      "--print-address=1"], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # printed once it listens
        if not line.startswith("unix:"):
            self.stop()
            raise RuntimeError(f"dbus-daemon did not start: {line!r}")

    def stop(self) -> None:
        _end(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


class MockModemManager:
    """python-dbusmock's server with this file's template on `bus`, and a connection to steer it."""

    def __init__(self, bus: Bus, **parameters) -> None:
        self.bus = bus
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dbusmock", "--system", "--template", os.path.abspath(__file__)]
            + (["--parameters", json.dumps(parameters)] if parameters else []),
            env=dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address),
            stdout=subprocess.DEVNULL)
        self.conn = dbus.bus.BusConnection(bus.address)
        deadline = time.monotonic() + 10
        while not self.conn.name_has_owner(BUS_NAME):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the ModemManager mock did not start")
            time.sleep(0.02)
        self.manager = self.mock(MAIN_OBJ)

    def mock(self, path: str) -> dbus.Interface:
        """The dbusmock control interface of the object at `path` (AddModem, UpdateProperties, ...)."""
        return dbus.Interface(self.conn.get_object(BUS_NAME, path), MOCK_IFACE)

    def add_modem(self, index: int = 0, **parameters) -> str:
        return str(self.manager.AddModem(dbus.UInt32(index), dbus.Dictionary(parameters, signature="sv")))

    def set_ussd(self, reply: str = "", *, error: str = "", message: str = "", delay: float = 0.0,
                 state_after: int = USSD_IDLE) -> None:
        """What the network answers every USSD code from now on (see SetUssd)."""
        self.manager.SetUssd(reply, error, message, dbus.Double(delay), dbus.UInt32(state_after))

    def ussd_calls(self) -> list[str]:
        return [str(c) for c in self.manager.UssdCalls()]

    def deliver_sms(self, number: str, text: str, timestamp: str = "", modem: int = 0) -> str:
        """An SMS from `number` arrives at modem `modem`; its path."""
        return str(self.manager.DeliverSms(dbus.ObjectPath(f"{MAIN_OBJ}/Modem/{modem}"), number, text,
                                           timestamp))

    def update(self, path: str, interface: str, **props) -> None:
        """Change properties the way the daemon does: new values and PropertiesChanged."""
        self.mock(path).UpdateProperties(interface, dbus.Dictionary(props, signature="sv"))

    def stop(self) -> None:
        try:
            self.conn.close()
        except Exception:
            pass
        _end(self.proc)


@contextlib.contextmanager
def running_modem(**parameters):
    """(bus, mock, modem path): a private bus with the mock on it and one modem (AddModem's parameters),
    all stopped after."""
    bus = Bus()
    try:
        mm = MockModemManager(bus)
        try:
            yield bus, mm, mm.add_modem(0, **parameters)
        finally:
            mm.stop()
    finally:
        bus.stop()


def _end(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout:
        proc.stdout.close()
