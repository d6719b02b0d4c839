"""The LTE/5G modem, read through ModemManager: bearer bytes, signal, operator, roaming, SIM/eSIM; SMS
sent through it and the SMS it received; USSD (the carrier's `*100#`). Without ModemManager, read() is
None and interface_bytes() is the fallback.

Access path: the D-Bus wire protocol, spoken here over the system bus's Unix socket (stdlib only).
- On the router Python has only what OpenWrt's feed carries: no dbus-python there (only the asyncio
  python-dbus-fast), and ModemManager's own bindings are GObject introspection for C. A Python
  binding would be a new dependency for one optional feature.
- `mmcli -J` needs nothing from Python and does work against the test mock (checked: libmm-glib
  accepted it), but one reading costs three to four processes (modem, bearer, SIM, signal), and an SMS
  text would pass through mmcli's `--messaging-create-sms="number='..',text='..'"` key=value parser,
  which cannot carry a text holding both quote characters: user text would reach a parser as text,
  which DESIGN principle 7 rules out.
- Over D-Bus, one connection answers a reading in three calls: ObjectManager.GetManagedObjects on the
  manager (every modem with all its interfaces' properties; ModemManager's object manager lists
  modems only), then Properties.GetAll on the modem's bearer and on its SIM (exported beside it). An
  SMS is Messaging.Create({number, text}) and Sms.Send(), the text a typed D-Bus string.
Measured against the python-dbusmock ModemManager of tests/modem_mock.py on a private bus (x86-64,
Python 3.11): read() takes 1.6-1.8 ms, median of 300 (connect, authenticate, Hello, three calls);
`mmcli -J` for the same facts, 4 processes, 40-70 ms. A router core is some 10-20 times slower: a
few tens of ms every 30 s.

The client is the smallest part of D-Bus that does this (EXTERNAL authentication, method calls,
replies and errors, marshalling of every type in either byte order: a big-endian MIPS router's
daemon writes big-endian), in the spirit of the hand-written netlink in neighbours.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import socket
import struct
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from hotspot.core.units import InvalidValue, quote
from hotspot.uplink import sms
from hotspot.uplink.sms import GSM7_LIMIT

SYSTEM_BUS = "unix:path=/var/run/dbus/system_bus_socket"  # Debian's and OpenWrt's
MM = "org.freedesktop.ModemManager1"
MM_PATH = "/org/freedesktop/ModemManager1"
MODEM = MM + ".Modem"
MODEM_3GPP, SIGNAL, MESSAGING = MODEM + ".Modem3gpp", MODEM + ".Signal", MODEM + ".Messaging"
USSD = MODEM_3GPP + ".Ussd"
BEARER, SIM, SMS = MM + ".Bearer", MM + ".Sim", MM + ".Sms"
OBJECT_MANAGER, PROPERTIES = "org.freedesktop.DBus.ObjectManager", "org.freedesktop.DBus.Properties"
# What a bus says when nobody owns the name: ModemManager is not running (we never ask to start it).
_ABSENT = {"org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner"}
# What it says of an object that went away between two calls (a bearer of a modem that reset).
_GONE = {"org.freedesktop.DBus.Error.UnknownObject", "org.freedesktop.DBus.Error.UnknownMethod",
         "org.freedesktop.DBus.Error.UnknownInterface"}

# ModemManager's enumerations (ModemManager-enums.h), named as mmcli names them.
STATES = {-1: "failed", 0: "unknown", 1: "initializing", 2: "locked", 3: "disabled", 4: "disabling",
          5: "enabling", 6: "enabled", 7: "searching", 8: "registered", 9: "disconnecting",
          10: "connecting", 11: "connected"}
REGISTRATION = {0: "idle", 1: "home", 2: "searching", 3: "denied", 4: "unknown", 5: "roaming",
                6: "home-sms-only", 7: "roaming-sms-only", 8: "emergency-only",
                9: "home-csfb-not-preferred", 10: "roaming-csfb-not-preferred", 11: "attached-rlos"}
ROAMING = {5, 7, 10}
ACCESS_TECHNOLOGIES = ("pots", "gsm", "gsm-compact", "gprs", "edge", "umts", "hsdpa", "hsupa", "hspa",
                       "hspa-plus", "1xrtt", "evdo0", "evdoa", "evdob", "lte", "5gnr", "lte-cat-m",
                       "lte-nb-iot")  # bit 0, 1, 2, ...
SIM_TYPES = {1: "physical", 2: "esim"}  # 0, or no SimType before ModemManager 1.20: "unknown"
STATE_CONNECTED = 11
USSD_ACTIVE, USSD_USER_RESPONSE = 2, 3  # a session open: waiting for the network, or for us
SMS_RECEIVED = 3  # MMSmsState: received whole (not "receiving": parts still missing)
SMS_DELIVER = {1, 32}  # MMSmsPduType: deliver, cdma-deliver (what another sends us)


class ModemError(RuntimeError):
    """ModemManager is there but a reading or a message failed; str() is one line."""


@dataclass(frozen=True)
class Modem:
    """One reading of a modem. Text ModemManager does not know is None, as are the figures a modem
    does not report (many report no bearer statistics; extended signal needs Signal.Setup)."""

    path: str  # /org/freedesktop/ModemManager1/Modem/0
    index: int  # 0: what `mmcli -m 0` names
    manufacturer: str | None
    model: str | None
    state: str  # STATES: "connected", "registered", "searching", ...
    access_technologies: tuple[str, ...]  # ("lte",), ("lte", "5gnr") on 5G NSA, () when unknown
    operator_name: str | None  # of the network the modem is registered on
    operator_code: str | None  # its MCC and MNC, "00101"
    registration: str | None  # REGISTRATION: "home", "roaming", ...; None without a 3GPP interface
    roaming: bool  # registered on another operator's network: the stricter guard applies
    signal_quality: int | None  # percent
    rsrp: float | None  # dBm, LTE (or 5G) extended signal
    rsrq: float | None  # dB
    snr: float | None  # dB: what modems report as SINR, ModemManager's "snr"
    bearer_interface: str | None  # the data interface, "wwan0"
    bearer_connected: bool
    rx_bytes: int | None  # the bearer's bytes since it connected (ModemManager's "rx-bytes")
    tx_bytes: int | None
    connected_since: float | None  # epoch seconds of that connection's start, where reported
    sim_iccid: str | None
    sim_imsi: str | None
    sim_eid: str | None  # the eUICC's EID: an eSIM
    sim_type: str  # "physical", "esim" or "unknown"
    sim_operator_name: str | None  # the SIM's home operator
    primary_sim_slot: int | None = None  # 1, 2: the slot in use on a multi-SIM modem; None: one slot
    sim_slots: tuple[int, ...] = ()  # the slots (1, 2, ...) that hold a SIM, on a multi-SIM modem

    @property
    def mcc(self) -> str | None:
        return self.operator_code[:3] if self.operator_code else None

    @property
    def mnc(self) -> str | None:
        return self.operator_code[3:] if self.operator_code else None

    def as_dict(self) -> dict:
        """For JSON (hotspotctl status --json, /metrics): every field, and mcc/mnc."""
        d = dataclasses.asdict(self)
        d["access_technologies"] = list(self.access_technologies)
        d["sim_slots"] = list(self.sim_slots)
        d["mcc"], d["mnc"] = self.mcc, self.mnc
        return d


def read(timeout: float = 2.0, bus: str | None = None) -> Modem | None:
    """The modem, read now; None when there is none: no system bus, ModemManager not running, or no
    modem. With several modems, the connected one (then the lowest index). ModemError when
    ModemManager is there but the reading fails (no answer within `timeout` seconds, an error); the
    caller logs it and reads again at its next poll."""
    try:
        with _Connection(bus, timeout) as conn:
            (objects,) = conn.call(MM, MM_PATH, OBJECT_MANAGER, "GetManagedObjects")
            found = _pick(objects)
            if found is None:
                return None
            path, ifaces = found
            modem = ifaces.get(MODEM, {})
            bearers = [conn.get_all(b, BEARER) for b in modem.get("Bearers", [])]
            sim = conn.get_all(modem["Sim"], SIM) if _object(modem.get("Sim")) else {}
    except _NoBus:
        return None
    except _DBusError as e:
        if e.name in _ABSENT:
            return None
        raise ModemError(f"ModemManager: {e}") from None
    try:
        return _modem(path, ifaces, bearers, sim)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as e:
        raise ModemError(f"ModemManager: unexpected properties of {path}: {type(e).__name__}: {e}") from None


def _pick(objects: dict) -> tuple[str, dict] | None:
    modems = [(p, i) for p, i in objects.items() if MODEM in i]
    if not modems:
        return None
    return min(modems, key=lambda m: (m[1][MODEM].get("State") != STATE_CONNECTED, _index(m[0])))


def _modem(path: str, ifaces: dict, bearers: list[dict], sim: dict) -> Modem:
    modem, signal = ifaces.get(MODEM, {}), ifaces.get(SIGNAL, {})
    gpp = ifaces.get(MODEM_3GPP, {})  # absent on a CDMA-only modem: no registration to speak of
    # The bearer that carries the data: the connected one, else the first with an interface.
    bearer = next((b for b in bearers if b.get("Connected")), None) or \
        next((b for b in bearers if b.get("Interface")), {})
    stats = bearer.get("Stats", {})
    since = stats.get("start-date") or None
    if since is None and bearer.get("Connected") and stats.get("duration"):
        since = time.time() - stats["duration"]
    registration = REGISTRATION.get(gpp.get("RegistrationState", 4), "unknown") if gpp else None
    tech = modem.get("AccessTechnologies", 0)
    quality = modem.get("SignalQuality")
    # Extended signal: 5G when the modem is on it, else LTE; empty until someone set a refresh rate
    # (Signal.Setup; OpenWrt: `option signalrate '30'` on the modemmanager interface in
    # /etc/config/network).
    extended = signal.get("Nr5g") or signal.get("Lte") or {}
    return Modem(
        path=path,
        index=_index(path),
        manufacturer=_text(modem.get("Manufacturer")),
        model=_text(modem.get("Model")),
        state=STATES.get(modem.get("State", 0), "unknown"),
        access_technologies=tuple(n for bit, n in enumerate(ACCESS_TECHNOLOGIES) if tech >> bit & 1),
        operator_name=_text(gpp.get("OperatorName")),
        operator_code=_text(gpp.get("OperatorCode")),
        registration=registration,
        roaming=gpp.get("RegistrationState") in ROAMING,
        signal_quality=int(quality[0]) if quality else None,
        rsrp=extended.get("rsrp"),
        rsrq=extended.get("rsrq"),
        snr=extended.get("snr"),
        bearer_interface=_text(bearer.get("Interface")),
        bearer_connected=bool(bearer.get("Connected")),
        rx_bytes=stats.get("rx-bytes"),
        tx_bytes=stats.get("tx-bytes"),
        connected_since=float(since) if since else None,
        sim_iccid=_text(sim.get("SimIdentifier")),
        sim_imsi=_text(sim.get("Imsi")),
        sim_eid=_text(sim.get("Eid")),
        sim_type=SIM_TYPES.get(sim.get("SimType", 0), "unknown"),
        sim_operator_name=_text(sim.get("OperatorName")),
        primary_sim_slot=modem.get("PrimarySimSlot") or None,  # 0: not a multi-SIM modem
        sim_slots=tuple(n for n, slot in enumerate(modem.get("SimSlots", []), 1) if _object(slot)),
    )


def _text(value) -> str | None:
    return value or None  # ModemManager says "" for unknown


def _object(path) -> bool:
    return bool(path) and path != "/"  # "/" is ModemManager's "none"


def _index(path: str) -> int:
    tail = path.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def watch(stop, changed, bus: str | None = None) -> None:
    """Call `changed()` whenever ModemManager signals a change (a property of a modem, its SIM or its
    bearer; a modem added or removed), until the Event `stop` is set: the modem thread reads at once
    instead of at its next interval, so a SIM swap or another eSIM profile switches plans within a poll.
    Returns when there is no bus or ModemManager drops us (the caller watches again later)."""
    try:
        with _Connection(bus, 5.0) as conn:
            conn.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch",
                      "s", f"type='signal',sender='{MM}'")
            while not stop.is_set():
                conn.deadline = time.monotonic() + 1.0  # a second at a time, to see `stop`
                try:
                    kind, _fields, _values = conn._message()
                except ModemError as e:
                    if "did not answer" in str(e):
                        continue
                    raise
                if kind == SIGNAL_MESSAGE:
                    changed()
    except (_NoBus, _DBusError):
        return


# -- SMS ------------------------------------------------------------------------------------------------

# One SMS per call, never a concatenated one: ModemManager would split a long text itself; send_sms
# refuses it instead. A long alert goes as several SMS, each labelled (hotspot.uplink.sms.split), and
# fit_sms() cuts a text to one.
_E164 = re.compile(r"\+[1-9][0-9]{1,14}", re.ASCII)


def sms_length(text: str) -> tuple[int, int]:
    """(length, limit) of `text` in one SMS, in the encoding ModemManager will choose: GSM 7-bit
    septets (an extension character counts two) when every character has one, else UCS-2 units."""
    return sms.length(text)


def _fits(text: str) -> bool:
    length, limit = sms_length(text)
    return length <= limit


def fit_sms(text: str) -> str:
    """`text` cut to one SMS, ending in "..." when it was cut."""
    text = text.replace("\0", "")
    if _fits(text):
        return text
    while text and not _fits(text + "..."):
        text = text[:-1]
    return text + "..."


def check_number(number: str) -> str:
    """An international number in E.164 form, "+" and up to 15 digits; InvalidValue otherwise."""
    if not isinstance(number, str) or not _E164.fullmatch(number):
        raise InvalidValue(f"invalid phone number {quote(number)}: use the international form, "
                           "e.g. +14155550123")
    return number


def check_sms_text(text: str) -> str:
    if not isinstance(text, str) or not text or "\0" in text:
        raise InvalidValue(f"invalid SMS text {quote(text)}: expected non-empty text")
    length, limit = sms_length(text)
    if length > limit:
        kind = "GSM 7-bit characters" if limit == GSM7_LIMIT else "UCS-2 characters"
        raise InvalidValue(f"SMS text too long: {length} {kind}, one SMS holds {limit}")
    return text


@contextlib.contextmanager
def _on_modem(what: str, bus: str | None, timeout: float, failed: str | None = None):
    """(connection, modem path, its interfaces) of the modem to act on, for an action the errors name
    ("send SMS"): ModemError, one line, for no system bus, no ModemManager, no modem, or a call that
    failed (then worded `failed: reason`, by default `cannot <what>: reason`)."""
    try:
        with _Connection(bus, timeout) as conn:
            (objects,) = conn.call(MM, MM_PATH, OBJECT_MANAGER, "GetManagedObjects")
            found = _pick(objects)
            if found is None:
                raise ModemError(f"cannot {what}: ModemManager has no modem")
            yield conn, *found
    except _NoBus:
        raise ModemError(f"cannot {what}: no system bus (ModemManager is not running)") from None
    except _DBusError as e:
        if e.name in _ABSENT:
            raise ModemError(f"cannot {what}: ModemManager is not running") from None
        raise ModemError(f"{failed or f'cannot {what}'}: {e}") from None


def send_sms(number: str, text: str, timeout: float = 30.0, bus: str | None = None) -> None:
    """Send one SMS through the modem's Messaging interface: Create, Send, then Delete (ModemManager
    keeps every message it made until deleted). InvalidValue for a bad number or a text that does not
    fit one SMS (see fit_sms), ModemError when there is no modem or the modem fails to send. After a
    timeout the modem may still send it: a retry can deliver it twice."""
    check_number(number)
    check_sms_text(text)
    with _on_modem("send SMS", bus, timeout) as (conn, modem, ifaces):
        if MESSAGING not in ifaces:
            raise ModemError(f"cannot send SMS: modem {_index(modem)} has no messaging (is it enabled?)")
        (sms,) = conn.call(MM, modem, MESSAGING, "Create", "a{sv}",
                           {"number": ("s", number), "text": ("s", text)})
        try:
            conn.call(MM, sms, SMS, "Send")
        finally:
            try:
                conn.call(MM, modem, MESSAGING, "Delete", "o", sms)
            except (_DBusError, ModemError):
                pass  # sent or not, a message left in the list is only clutter


# -- SIM slots ------------------------------------------------------------------------------------------


def set_primary_sim_slot(slot: int, timeout: float = 10.0, bus: str | None = None) -> None:
    """Make SIM slot `slot` (1, 2, ...) the modem's primary: Modem.SetPrimarySimSlot. ModemManager
    then probes the modem again (it goes away and comes back, some seconds) with the other SIM.
    ModemError when there is no modem or it refuses (a single-slot modem, no such slot)."""
    if not isinstance(slot, int) or isinstance(slot, bool) or not 1 <= slot <= 8:
        raise InvalidValue(f"invalid SIM slot {quote(slot)}: expected 1, 2, ...")
    with _on_modem("switch SIM slots", bus, timeout, f"cannot switch to SIM slot {slot}") as (conn, modem, _):
        conn.call(MM, modem, MODEM, "SetPrimarySimSlot", "u", slot)


# -- USSD and received SMS: the carrier's own words ------------------------------------------------------

# A USSD code (3GPP TS 22.030): digits, '*' and '#', ending in '#'. Nothing else goes to the network.
_USSD_CODE = re.compile(r"[0-9*#+]{1,62}#", re.ASCII)


def check_ussd(code: str) -> str:
    """A USSD code such as '*100#'; InvalidValue otherwise."""
    if not isinstance(code, str) or not _USSD_CODE.fullmatch(code):
        raise InvalidValue(f"invalid USSD code {quote(code)}: digits, '*' and '#', ending in '#', "
                           "e.g. *100#")
    return code


def ussd(code: str, timeout: float = 40.0, bus: str | None = None) -> str:
    """Send a USSD code and return the network's reply, as ModemManager decoded it (any text: the caller
    trusts none of it). A session left open, by another client or by a menu that waits for an answer,
    is cancelled before and after. A network takes seconds to answer, some half a minute: call this
    from a thread of its own. InvalidValue for a bad code; ModemError for no modem, no USSD, a refusal
    or no answer within `timeout` seconds (the session is then cancelled, as far as it can be)."""
    check_ussd(code)
    with _on_modem("ask the carrier", bus, timeout, f"USSD {code}") as (conn, modem, ifaces):
        if USSD not in ifaces:
            raise ModemError(f"cannot ask the carrier: modem {_index(modem)} has no USSD "
                             "(is it enabled, and on a 3GPP network?)")
        if ifaces[USSD].get("State") in (USSD_ACTIVE, USSD_USER_RESPONSE):
            _cancel(conn, modem)
        try:
            (reply,) = conn.call(MM, modem, USSD, "Initiate", "s", code)
        except ModemError:
            _cancel_later(bus, modem)  # no answer in time: the session may be stuck open
            raise
        if conn.get_all(modem, USSD).get("State") in (USSD_ACTIVE, USSD_USER_RESPONSE):
            _cancel(conn, modem)  # a menu waits for a choice we never make
    if not isinstance(reply, str):
        raise ModemError(f"USSD {code}: the reply is not text")
    return reply


def _cancel(conn: _Connection, modem: str) -> None:
    try:
        conn.call(MM, modem, USSD, "Cancel")
    except _DBusError:
        pass  # nothing open any more


def _cancel_later(bus: str | None, modem: str) -> None:
    try:
        with _Connection(bus, 5.0) as conn:
            _cancel(conn, modem)
    except (ModemError, _NoBus, _DBusError):
        pass


@dataclass(frozen=True)
class Sms:
    """One message the modem received whole. `number` is the sender as the network gave it: a number
    ('+8613800000000'), a short code ('10086') or a name ('Vodafone'); `at`: when the network says
    it was sent (epoch seconds), None when it does not say or says it in a form we do not know."""

    path: str
    number: str
    text: str
    at: float | None
    timestamp: str  # as ModemManager gave it


def received_sms(timeout: float = 5.0, bus: str | None = None) -> list[Sms]:
    """The messages the modem holds that it received whole (not those sent, nor half-arrived parts),
    oldest first; [] without ModemManager or a modem, or without messaging. ModemError when a call
    fails. A message that goes away between the list and its reading is left out."""
    try:
        with _Connection(bus, timeout) as conn:
            (objects,) = conn.call(MM, MM_PATH, OBJECT_MANAGER, "GetManagedObjects")
            found = _pick(objects)
            if found is None or MESSAGING not in found[1]:
                return []
            (paths,) = conn.call(MM, found[0], MESSAGING, "List")
            found = [(p, conn.get_all(p, SMS)) for p in paths if isinstance(p, str)]
    except _NoBus:
        return []
    except _DBusError as e:
        if e.name in _ABSENT:
            return []
        raise ModemError(f"ModemManager: {e}") from None
    messages = []
    for path, props in found:
        if props.get("State") != SMS_RECEIVED or props.get("PduType") not in SMS_DELIVER:
            continue
        number, text, stamp = props.get("Number"), props.get("Text"), props.get("Timestamp")
        if not isinstance(number, str) or not isinstance(text, str):
            continue
        stamp = stamp if isinstance(stamp, str) else ""
        messages.append(Sms(path, number, text, _sms_time(stamp), stamp))
    return sorted(messages, key=lambda m: (m.at is None, m.at or 0, _index(m.path)))


def _sms_time(stamp: str) -> float | None:
    """ModemManager's Timestamp, ISO 8601 with the network's offset ('2026-12-08T09:10:11+08:00');
    one without an offset is read as UTC, anything else as unknown."""
    try:
        when = datetime.fromisoformat(stamp.strip())
    except (ValueError, TypeError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    try:
        return when.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


# -- without a modem ----------------------------------------------------------------------------------

_IFNAME = re.compile(r"[^/:\s\0]{1,15}", re.ASCII)  # what the kernel's dev_valid_name() takes


def interface_bytes(device: str) -> tuple[int, int] | None:
    """(rx, tx) bytes the kernel counted on `device` since it appeared, from sysfs; None when there is
    no such device now (an LTE interface goes away while its modem resets). InvalidValue for a name
    no interface can have."""
    if not isinstance(device, str) or not _IFNAME.fullmatch(device) or device in (".", ".."):
        raise InvalidValue(f"invalid interface name {quote(device)}")
    base = f"/sys/class/net/{device}/statistics/"
    try:
        with open(base + "rx_bytes") as rx, open(base + "tx_bytes") as tx:
            return int(rx.read()), int(tx.read())
    except FileNotFoundError:
        return None


# -- the D-Bus client -----------------------------------------------------------------------------------


class _NoBus(Exception):
    """No system bus to connect to: nothing listens at its address."""


class _DBusError(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{message} ({name})" if message else name)
        self.name = name


# type code -> (struct format, size = alignment)
_FIXED = {"y": ("B", 1), "b": ("I", 4), "n": ("h", 2), "q": ("H", 2), "i": ("i", 4), "u": ("I", 4),
          "x": ("q", 8), "t": ("Q", 8), "d": ("d", 8), "h": ("I", 4)}
_ALIGN = {**{k: v[1] for k, v in _FIXED.items()}, "s": 4, "o": 4, "g": 1, "v": 1, "a": 4, "(": 8, "{": 8}
_MAX_MESSAGE = 1 << 24  # a reading is a few kB; the protocol's own limit is 128 MiB
METHOD_CALL, METHOD_RETURN, ERROR, SIGNAL_MESSAGE = 1, 2, 3, 4
NO_AUTO_START = 0x2  # never let the bus start ModemManager for us
PATH, INTERFACE, MEMBER, ERROR_NAME, REPLY_SERIAL, DESTINATION, _SENDER, SIGNATURE = range(1, 9)


def _types(sig: str) -> list[str]:
    """A signature split into its single complete types: "sa{sv}" -> ["s", "a{sv}"]."""
    out, i = [], 0
    while i < len(sig):
        j = _end(sig, i)
        out.append(sig[i:j])
        i = j
    return out


def _end(sig: str, i: int) -> int:
    c = sig[i]
    if c == "a":
        return _end(sig, i + 1)
    if c in "({":
        close, i = ")" if c == "(" else "}", i + 1
        while sig[i] != close:
            i = _end(sig, i)
        return i + 1
    if c not in _ALIGN:
        raise ValueError(f"bad D-Bus type {c!r}")
    return i + 1


class _Writer:
    """Marshals values, little-endian. A variant is written from a (signature, value) pair."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def pad(self, n: int) -> None:
        self.buf += b"\0" * (-len(self.buf) % n)

    def write(self, t: str, v) -> None:
        c = t[0]
        if c in _FIXED:
            fmt, size = _FIXED[c]
            self.pad(size)
            self.buf += struct.pack("<" + fmt, v)
        elif c in "so":
            data = v.encode()
            self.write("u", len(data))
            self.buf += data + b"\0"
        elif c == "g":
            self.buf += bytes([len(v)]) + v.encode() + b"\0"
        elif c == "v":
            self.write("g", v[0])
            self.write(v[0], v[1])
        elif c == "a":
            self.write("u", 0)
            at = len(self.buf)
            self.pad(_ALIGN[t[1]])
            start = len(self.buf)
            for item in v.items() if t[1] == "{" else v:
                self.write(t[1:], item)
            struct.pack_into("<I", self.buf, at - 4, len(self.buf) - start)
        else:  # ( or {
            self.pad(8)
            for sub, item in zip(_types(t[1:-1]), v):
                self.write(sub, item)


class _Reader:
    """Unmarshals values in either byte order ("<" or ">"); a variant reads as its bare value."""

    def __init__(self, buf: bytes, order: str, pos: int = 0) -> None:
        self.buf, self.order, self.pos = buf, order, pos

    def pad(self, n: int) -> None:
        self.pos += -self.pos % n

    def read(self, t: str):
        c = t[0]
        if c in _FIXED:
            fmt, size = _FIXED[c]
            self.pad(size)
            (v,) = struct.unpack_from(self.order + fmt, self.buf, self.pos)
            self.pos += size
            return bool(v) if c == "b" else v
        if c in "sog":
            n = self.read("y" if c == "g" else "u")
            end = self.pos + n
            if end >= len(self.buf):
                raise ValueError("string past the end")
            s = self.buf[self.pos:end].decode()
            self.pos = end + 1
            return s
        if c == "v":
            return self.read(self.read("g"))
        if c == "a":
            n = self.read("u")
            self.pad(_ALIGN[t[1]])
            end = self.pos + n
            if end > len(self.buf):
                raise ValueError("array past the end")
            items = []
            while self.pos < end:
                at = self.pos
                items.append(self.read(t[1:]))
                if self.pos == at:
                    raise ValueError("empty array element")
            return dict(items) if t[1] == "{" else items
        self.pad(8)  # ( or {
        return tuple(self.read(sub) for sub in _types(t[1:-1]))


class _Connection:
    """One connection to the system bus for one reading or message, closed after it. Every step
    shares one deadline, so a hung bus or daemon costs at most `timeout` seconds."""

    def __init__(self, address: str | None, timeout: float) -> None:
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.serial = 0
        self.buf = b""
        self.sock = self._connect(address or os.environ.get("DBUS_SYSTEM_BUS_ADDRESS") or SYSTEM_BUS)
        try:
            uid = str(os.getuid()).encode().hex().encode()
            self._io(self.sock.sendall, b"\0AUTH EXTERNAL " + uid + b"\r\n")
            line = self._line()
            if not line.startswith(b"OK "):
                raise ModemError(f"the system bus refused us: {line[:60]!r}")
            self._io(self.sock.sendall, b"BEGIN\r\n")
            self.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello")
        except BaseException:
            self.sock.close()
            raise

    def __enter__(self) -> _Connection:
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()

    def _connect(self, address: str) -> socket.socket:
        """The first address of `address` (";"-separated) that answers: unix path= or abstract=."""
        for one in address.split(";"):
            kind, _, rest = one.partition(":")
            keys = dict(kv.split("=", 1) for kv in rest.split(",") if "=" in kv)
            if kind != "unix" or not ("path" in keys or "abstract" in keys):
                continue
            where = _unescape(keys["path"]) if "path" in keys else b"\0" + _unescape(keys["abstract"])
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(self.timeout)
                sock.connect(where)
                return sock
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
            except OSError as e:
                sock.close()
                raise ModemError(f"cannot connect to the system bus: {e.strerror or e}") from None
        raise _NoBus(address)

    def _io(self, fn, *args):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ModemError(f"ModemManager did not answer within {self.timeout:g} s")
        self.sock.settimeout(left)
        try:
            return fn(*args)
        except socket.timeout:
            raise ModemError(f"ModemManager did not answer within {self.timeout:g} s") from None
        except OSError as e:
            raise ModemError(f"system bus: {e.strerror or e}") from None

    def _fill(self, n: int) -> None:
        while len(self.buf) < n:
            data = self._io(self.sock.recv, 65536)
            if not data:
                raise ModemError("the system bus closed the connection")
            self.buf += data

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            if len(self.buf) > 4096:
                raise ModemError("the system bus sent a bad greeting")
            self._fill(len(self.buf) + 1)
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def call(self, dest: str, path: str, iface: str, member: str, sig: str = "", *args) -> list:
        """Call a method and wait for its answer: the list of its values, or _DBusError."""
        self.serial += 1
        body = _Writer()
        for t, a in zip(_types(sig), args):
            body.write(t, a)
        fields = [(PATH, ("o", path)), (INTERFACE, ("s", iface)), (MEMBER, ("s", member)),
                  (DESTINATION, ("s", dest))] + ([(SIGNATURE, ("g", sig))] if sig else [])
        head = _Writer()
        head.buf += struct.pack("<cBBBII", b"l", METHOD_CALL, NO_AUTO_START, 1, len(body.buf), self.serial)
        head.write("a(yv)", fields)
        head.pad(8)
        self._io(self.sock.sendall, bytes(head.buf + body.buf))
        while True:
            kind, fields, values = self._message()
            if fields.get(REPLY_SERIAL) != self.serial:
                continue  # a signal (NameAcquired after Hello) or an answer we no longer wait for
            if kind == ERROR:
                raise _DBusError(fields.get(ERROR_NAME, "?"), values[0] if values and isinstance(
                    values[0], str) else "")
            return values

    def _message(self) -> tuple[int, dict, list]:
        self._fill(16)
        order = {b"l": "<", b"B": ">"}.get(self.buf[:1])
        if order is None:
            raise ModemError("the system bus sent a malformed message")
        kind, body_len, _, fields_len = struct.unpack_from(order + "xBxxIII", self.buf)
        size = 16 + fields_len + (-fields_len % 8) + body_len
        if size > _MAX_MESSAGE:
            raise ModemError(f"the system bus sent a message of {size} bytes")
        self._fill(size)
        msg, self.buf = self.buf[:size], self.buf[size:]
        try:
            head = _Reader(msg, order, 12)
            fields = dict(head.read("a(yv)"))
            head.pad(8)
            body = _Reader(msg, order, head.pos)
            values = [body.read(t) for t in _types(fields.get(SIGNATURE, ""))]
        except (ValueError, struct.error, IndexError, UnicodeDecodeError, TypeError) as e:
            raise ModemError(f"the system bus sent a malformed message: {e}") from None
        return kind, fields, values

    def get_all(self, path: str, iface: str) -> dict:
        """Properties.GetAll of one object; {} when it went away meanwhile."""
        try:
            return self.call(MM, path, PROPERTIES, "GetAll", "s", iface)[0]
        except _DBusError as e:
            if e.name in _GONE:
                return {}
            raise


def _unescape(value: str) -> bytes:
    """A D-Bus address value: %xx escapes for any byte."""
    return re.sub(rb"%([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), value.encode())


if __name__ == "__main__":  # python3 -m hotspot.uplink.modem: what hotspotd would read now
    import json

    start = time.perf_counter()
    m = read()
    print(json.dumps(m.as_dict() if m else None, indent=2))
    print(f"read in {(time.perf_counter() - start) * 1000:.1f} ms")
