"""Read the UCI config file (/etc/config/hotspot) into a typed, validated Config.

We parse UCI ourselves rather than through libuci's bindings so the same code runs on a Debian lab box, and so
every mistake in the file is reported at once, each as FILE:LINE: reason, in file order. Only the
`config hotspot` section is ours; sections of other types are ignored because UCI files may be shared and
extended.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

from hotspot.core.files import write_atomic
from hotspot.core.units import (
    InvalidValue,
    format_duration,
    out_of_range,
    parse_duration,
    parse_mac,
    parse_rate,
    parse_size,
    quote,
)

DEFAULT_PATH = "/etc/config/hotspot"
SECTION_TYPE = "hotspot"


class ConfigError(Exception):
    """A config file that cannot be used. `errors` holds every problem found, in file order, each one line
    'FILE:LINE: reason' (or 'FILE: reason'); str() is those lines joined by newlines."""

    def __init__(self, errors: str | list[str]):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("\n".join(self.errors))


class Threshold(NamedTuple):
    """A point in the plan: a percentage of the plan's quota (with its top-ups), or bytes."""

    percent: float | None = None
    bytes: int | None = None

    def of(self, limit: int | None) -> int | None:
        """In bytes, for a plan of `limit` bytes (None: a percentage of no quota is no point)."""
        if self.bytes is not None:
            return self.bytes
        return None if limit is None else int(limit * self.percent / 100)

    def __str__(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else _exact_size(self.bytes)


@dataclass(frozen=True)
class Config:
    lan_device: str = "br-lan"
    wan_device: tuple[str, ...] = ("wwan0",)
    state_dir: str = "/etc/hotspot"
    run_dir: str = "/var/run/hotspot"
    poll_interval: float = 2.0  # seconds
    commit_interval: int = 600  # seconds between writes to flash
    portal_port: int = 8080
    auth: str = "none"  # none | click | voucher
    session_timeout: int = 86400  # seconds an admission lasts at most (auth click/voucher)
    idle_timeout: int | None = 3600  # seconds without counted bytes that end an admission; None = never
    period: str = "monthly"  # daily | weekly | monthly
    period_start: int = 1  # day of month (monthly) or of week, 1 = Monday (weekly)
    default_cap: int | None = None  # bytes
    after_cap: str = "block"  # block | throttle
    after_cap_rate: int = 256000  # bits/s
    warn_at: int = 80  # percent of the cap at which a client is 'warned'
    leases_file: str = "/tmp/dhcp.leases"  # dnsmasq's lease file, for hostnames
    ct_mark_mask: int = 0xFFFF0000  # the conntrack mark bits that hold the client id
    portal_user: str = "hotspot"  # the portal's own unprivileged user (never root, nor a shared one)
    portal_name: str | None = None  # the router's DNS name for the portal (the TLS certificate's name)
    tls_cert: str | None = None  # the portal's certificate (PEM, with its chain) for HTTPS on tls_port
    tls_key: str | None = None  # its private key (PEM)
    tls_port: int = 8443
    metrics_token: str | None = None  # bearer token for /metrics without an admin login
    venue: str | None = None  # the hotspot's name, shown on the portal
    # -- the uplink's data plan (SIM/eSIM) ------------------------------------------------------
    unmetered_device: tuple[str, ...] = ()  # free uplinks (Ethernet, hotel Wi-Fi): counted nowhere
    plan_quota: int | None = None  # bytes the plan allows per cycle; None = no plan quota
    plan_period: str = "monthly"  # daily | weekly | monthly | pass
    plan_period_start: int = 1  # day of month (monthly) or of week (weekly) the cycle starts on
    plan_start_hour: int = 0  # the hour (0-23) the cycle starts at, in plan_timezone
    plan_timezone: str | None = None  # the carrier's time zone ('Asia/Tokyo', 'UTC+8'); None = local
    plan_pass_length: int = 7 * 86400  # a pass's length (plan_period 'pass')
    plan_activated: float | None = None  # when the pass started; None = at its first metered byte
    plan_throttle_at: Threshold | None = None  # throttle all but the exempt devices from here
    plan_throttle_rate: int = 1000000  # bits/s the throttled devices share
    plan_block_at: Threshold | None = None  # block all but the exempt devices from here
    plan_stop_at: Threshold | None = None  # stop all metered data, the router's too, from here
    roaming_throttle_at: Threshold | None = None  # the same three while the modem roams
    roaming_block_at: Threshold | None = None
    roaming_stop_at: Threshold | None = None
    plan_exempt: tuple[str, ...] = ()  # MACs of the owner's devices: never throttled or blocked by the plan
    # -- alerts and reports ---------------------------------------------------------------------
    alert_at: tuple[int, ...] = (80, 95, 100)  # percent of a cap or of the plan that raises an alert
    alert_clients: bool = True  # also tell the owner when a client reaches its cap's thresholds
    alert_webhook: str | None = None  # URL that gets each alert as a JSON POST
    alert_webhook_secret: str | None = None  # signs each POST with its time and delivery id (README)
    alert_email: tuple[str, ...] = ()  # the owner's addresses, for alerts and reports
    alert_sms: tuple[str, ...] = ()  # phone numbers (E.164) texted through the modem
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: str = "starttls"  # starttls | tls | none
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str | None = None  # default: hotspot@<smtp_host>
    report: str = "none"  # none | daily | weekly: a usage report by email
    report_hour: int = 8  # the hour (local time) the report goes out
    modem: bool = True  # read the modem through ModemManager when it is there
    # -- metered mode: DHCP option 43 ANDROID_METERED while the active uplink is metered -----------
    dhcp_opts_file: str | None = "/var/run/dnsmasq/hotspot.opts"  # dnsmasq's --dhcp-optsfile; None = off
    dnsmasq_pidfile: str = "/var/run/dnsmasq/dnsmasq.*.pid"  # the dnsmasq instances to tell (SIGHUP)
    # -- ghost traffic (hotspot.ghost): a device using data when or how it usually does not ------
    ghost: bool = True  # watch for it and alert the owner
    ghost_sensitivity: str = "medium"  # low | medium | high: how far above its usual a device must go
    ghost_bin: int = 300  # seconds per bin the detector looks at
    ghost_min_duration: int = 1800  # seconds it must last to be an event
    ghost_min_bytes: int = 20_000_000  # bytes it must move to be an event
    # -- which apps use the data, and the update guard (hotspot/apps) ---------------------------
    categories_file: str | None = None  # the editable categories list; None = the shipped one
    dnsmasq_nftset_file: str | None = "/tmp/dnsmasq.d/hotspot-categories.conf"  # None = dnsmasq fills nothing
    dnsmasq_restart: str | None = "/etc/init.d/dnsmasq restart"  # run when that file changed; None = never
    dns_redirect: bool = False  # plain DNS from the LAN to any server goes to the router's resolver
    update_guard: bool = False  # the default for devices without a choice of their own
    update_guard_categories: tuple[str, ...] = ("updates", "backup")  # held back while metered
    update_guard_action: str = "block"  # block | throttle
    update_guard_rate: int = 256000  # bits/s the guarded categories share (action throttle)
    # -- usage history: retention (hotspot/history/buckets.py) ------------------------------------------
    history_hourly_days: int = 30  # hourly buckets kept this many days (and all of the current period's)
    history_daily_months: int = 13  # then daily buckets this many months; monthly buckets forever
    # -- devices that leave (hotspot/clients/retention.py) -----------------------------------------------
    client_retention: int | None = 90 * 86400  # seconds without traffic, then forgotten; None = never
    # -- which apps use the data: the DNS snooper (hotspot/apps/snoop/snooper.py) ---------------------------
    dns_snoop: bool = True  # snoop DNS answers on the LAN device to fill the category sets
    dns_min_ttl: int = 60  # seconds a snooped address stays at least (answers with TTL 0 are common)
    path: str = field(default=DEFAULT_PATH, compare=False)  # the file this came from

    def __post_init__(self) -> None:
        for key in _LISTS:
            object.__setattr__(self, key, tuple(getattr(self, key)))

    def guard(self, roaming: bool = False) -> dict[str, Threshold | None]:
        """The plan guard's thresholds in force: {"throttle", "block", "stop"}; roaming ones replace
        the home ones they set."""
        home = {"throttle": self.plan_throttle_at, "block": self.plan_block_at, "stop": self.plan_stop_at}
        if not roaming:
            return home
        away = {"throttle": self.roaming_throttle_at, "block": self.roaming_block_at,
                "stop": self.roaming_stop_at}
        return {k: away[k] or home[k] for k in home}

    def replace(self, **changes) -> Config:
        return dataclasses.replace(self, **changes)


# --- value checks: each takes the option's text and returns its typed value or raises _Bad(reason) ---


class _Bad(ValueError):
    pass


_IFACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,14}", re.ASCII)


def _iface(v: str) -> str:
    if not _IFACE.fullmatch(v):
        raise _Bad(f"{quote(v)} is not an interface name (letters, digits, '.', '_' or '-'; at most 15)")
    return v


def _abs_path(v: str) -> str:
    if not v.startswith("/") or not v.isprintable():
        raise _Bad(f"{quote(v)} is not an absolute path")
    return v


def _ranged(lo: float, hi: float, desc: str, integer: bool = True) -> Callable[[str], float]:
    pattern = re.compile(r"\d+" if integer else r"\d+(?:\.\d+)?", re.ASCII)

    def check(v: str) -> float:
        n = (int(v) if integer else float(v)) if pattern.fullmatch(v) else None
        if n is None or not lo <= n <= hi:
            raise _Bad(f"{quote(v)} is not {desc}")
        return n

    return check


def _choice(*choices: str) -> Callable[[str], str]:
    def check(v: str) -> str:
        if v not in choices:
            raise _Bad(f"{quote(v)} is not one of {', '.join(choices)}")
        return v

    return check


def _cap(v: str) -> int | None:
    if v.strip().lower() in ("", "none"):
        return None
    try:
        return parse_size(v)
    except InvalidValue as e:
        raise _Bad(f"{e} (or '' for no cap)") from None


def _rate(v: str) -> int:
    try:
        return parse_rate(v)
    except InvalidValue as e:
        raise _Bad(str(e)) from None


def _duration(v: str) -> int:
    try:
        return parse_duration(v)
    except InvalidValue as e:
        raise _Bad(str(e)) from None


def _ghost_bytes(v: str) -> int:
    try:
        return parse_size(v)
    except InvalidValue as e:
        raise _Bad(str(e)) from None


def _duration_or_none(v: str) -> int | None:
    if v.strip().lower() == "none":
        return None
    try:
        return parse_duration(v)
    except InvalidValue as e:
        raise _Bad(f"{e} (or 'none' for no idle timeout)") from None


def _retention(v: str) -> int | None:
    if v.strip().lower() in ("0", "none"):
        return None
    try:
        seconds = parse_duration(v)
    except InvalidValue as e:
        raise _Bad(f"{e} (or 'none' to keep devices for ever)") from None
    if seconds < 3600:
        raise _Bad(f"{quote(v)} is less than an hour (or 'none' to keep devices for ever)")
    return seconds


def _mark_mask(v: str) -> int:
    try:
        mask = int(v, 0)
    except ValueError:
        raise _Bad(f"{quote(v)} is not a number (e.g. 0xffff0000)") from None
    low = mask & -mask
    if not 0 < mask <= 0xFFFFFFFF or (mask + low) & mask or mask // low < 3:
        raise _Bad(f"{quote(v)} is not a 32-bit mask of at least 2 contiguous bits (e.g. 0xffff0000)")
    return mask


_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}", re.ASCII)


def _user(v: str) -> str:
    if not _USER.fullmatch(v):
        raise _Bad(f"{quote(v)} is not a user name")
    if v in ("root", "nobody"):  # root holds everything; nobody is shared by other daemons
        raise _Bad(f"the portal needs a user of its own (e.g. 'hotspot'), not {quote(v)}")
    return v


_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*", re.ASCII)


def _hostname(v: str) -> str | None:
    if v == "":
        return None
    if not _HOSTNAME.fullmatch(v.lower()):
        raise _Bad(f"{quote(v)} is not a DNS name (e.g. portal.example.com), or '' for none")
    return v.lower()


def _optional_path(v: str) -> str | None:
    return None if v == "" else _abs_path(v)


def _token(v: str) -> str | None:
    if v == "":
        return None
    if not re.fullmatch(r"[A-Za-z0-9._~+/=-]{16,256}", v, re.ASCII):
        raise _Bad("a token of 16 to 256 letters, digits or . _ ~ + / = - (or '' for none)")
    return v


def _text(v: str) -> str | None:
    if len(v) > 64 or not v.isprintable():
        raise _Bad("at most 64 printable characters")
    return v or None


def _threshold(v: str) -> Threshold | None:
    text = v.strip()
    if text.lower() in ("", "none"):
        return None
    if text.endswith("%"):
        try:
            pct = float(text[:-1])
        except ValueError:
            pct = -1.0
        if not 0 < pct <= 1000 or not re.fullmatch(r"\d+(\.\d+)?", text[:-1].strip(), re.ASCII):
            raise _Bad(f"{quote(v)} is not a percentage of the plan (e.g. '90%') or a size (e.g. '18GB')")
        return Threshold(percent=pct)
    try:
        return Threshold(bytes=parse_size(text))
    except InvalidValue as e:
        raise _Bad(f"{e}, a percentage of the plan such as '90%', or '' for none") from None


def _percents(v: str) -> tuple[int, ...]:
    found = []
    for word in v.replace(",", " ").split():
        n = word[:-1] if word.endswith("%") else word
        if not n.isdigit() or not 1 <= int(n) <= 100:
            raise _Bad(f"{quote(word)} is not a percentage between 1 and 100")
        found.append(int(n))
    return tuple(sorted(set(found)))


def _bool(v: str) -> bool:
    if v in ("1", "yes", "on", "true", "enabled"):
        return True
    if v in ("0", "no", "off", "false", "disabled"):
        return False
    raise _Bad(f"{quote(v)} is not a boolean (1 or 0)")


def _timezone(v: str) -> str | None:
    if v == "":
        return None
    try:
        from hotspot.plan.model import timezone_of

        timezone_of(v)
    except ValueError as e:
        raise _Bad(str(e)) from None
    return v


def _datetime(v: str) -> float | None:
    if v == "":
        return None
    from datetime import datetime

    try:
        when = datetime.fromisoformat(v.strip())
    except ValueError:
        raise _Bad(f"{quote(v)} is not a date and time like '2026-11-28 14:00' (or '' for unset)") from None
    why = out_of_range(when)
    if why:
        raise _Bad(f"{quote(v)}: {why}")
    return when.timestamp()


def _url(v: str) -> str | None:
    if v == "":
        return None
    from hotspot.alerts.channels import check_url

    try:
        return check_url(v)
    except ValueError as e:
        raise _Bad(str(e)) from None


def _email(v: str) -> str:
    from hotspot.alerts.channels import check_email

    try:
        return check_email(v)
    except ValueError as e:
        raise _Bad(str(e)) from None


def _email_or_none(v: str) -> str | None:
    return None if v == "" else _email(v)


def _phone(v: str) -> str:
    from hotspot.alerts.channels import check_phone

    try:
        return check_phone(v)
    except ValueError as e:
        raise _Bad(str(e)) from None


def _mac(v: str) -> str:
    try:
        return parse_mac(v)
    except InvalidValue as e:
        raise _Bad(str(e)) from None


def _secret(v: str) -> str | None:
    if v == "":
        return None
    if len(v) > 256 or not v.isprintable():
        raise _Bad("at most 256 printable characters")
    return v


_CHECKS: dict[str, Callable[[str], object]] = {
    "lan_device": _iface,
    "state_dir": _abs_path,
    "run_dir": _abs_path,
    "poll_interval": _ranged(0.2, 3600, "a number of seconds between 0.2 and 3600", integer=False),
    "commit_interval": _ranged(10, 86400, "a whole number of seconds between 10 and 86400"),
    "portal_port": _ranged(0, 65535, "a port number between 1 and 65535 (0: no portal)"),
    "auth": _choice("none", "click", "voucher"),
    "session_timeout": _duration,
    "idle_timeout": _duration_or_none,
    "period": _choice("daily", "weekly", "monthly"),
    "default_cap": _cap,
    "after_cap": _choice("block", "throttle"),
    "after_cap_rate": _rate,
    "warn_at": _ranged(1, 100, "a percentage between 1 and 100"),
    "leases_file": _abs_path,
    "ct_mark_mask": _mark_mask,
    "portal_user": _user,
    "portal_name": _hostname,
    "tls_cert": _optional_path,
    "tls_key": _optional_path,
    "tls_port": _ranged(1, 65535, "a port number between 1 and 65535"),
    "metrics_token": _token,
    "venue": _text,
    "plan_quota": _cap,
    "plan_period": _choice("daily", "weekly", "monthly", "pass"),
    "plan_start_hour": _ranged(0, 23, "an hour between 0 and 23"),
    "plan_timezone": _timezone,
    "plan_pass_length": _duration,
    "plan_activated": _datetime,
    "plan_throttle_at": _threshold,
    "plan_throttle_rate": _rate,
    "plan_block_at": _threshold,
    "plan_stop_at": _threshold,
    "roaming_throttle_at": _threshold,
    "roaming_block_at": _threshold,
    "roaming_stop_at": _threshold,
    "alert_at": _percents,
    "alert_clients": _bool,
    "alert_webhook": _url,
    "alert_webhook_secret": _secret,
    "smtp_host": _hostname,
    "smtp_port": _ranged(1, 65535, "a port number between 1 and 65535"),
    "smtp_security": _choice("starttls", "tls", "none"),
    "smtp_user": _secret,
    "smtp_password": _secret,
    "smtp_from": _email_or_none,
    "report": _choice("none", "daily", "weekly"),
    "report_hour": _ranged(0, 23, "an hour between 0 and 23"),
    "modem": _bool,
    "dhcp_opts_file": _optional_path,
    "dnsmasq_pidfile": _abs_path,
    # ghost traffic
    "ghost": _bool,
    "ghost_sensitivity": _choice("low", "medium", "high"),
    "ghost_bin": _duration,
    "ghost_min_duration": _duration,
    "ghost_min_bytes": _ghost_bytes,
    # which apps use the data, and the update guard
    "categories_file": lambda v: _categories_file(v),
    "dnsmasq_nftset_file": _optional_path,
    "dnsmasq_restart": lambda v: _command(v),
    "dns_redirect": _bool,
    "update_guard": _bool,
    "update_guard_action": _choice("block", "throttle"),
    "update_guard_rate": _rate,
    # -- usage history --
    "history_hourly_days": _ranged(1, 3660, "a whole number of days between 1 and 3660"),
    "history_daily_months": _ranged(1, 1200, "a whole number of months between 1 and 1200"),
    "client_retention": _retention,
    # which apps use the data: the DNS snooper
    "dns_snoop": _bool,
    "dns_min_ttl": _ranged(0, 86400, "a whole number of seconds between 0 and 86400"),
}
# Options that take several values ('list', or one 'option' with values separated by spaces), and
# the check of each value.
_LISTS: dict[str, Callable[[str], object]] = {
    "wan_device": lambda v: _iface(v),
    "unmetered_device": lambda v: _iface(v),
    "plan_exempt": lambda v: _mac(v),
    "alert_email": lambda v: _email(v),
    "alert_sms": lambda v: _phone(v),
    "update_guard_categories": lambda v: _category(v),
}
_PERIOD_START = {
    "monthly": _ranged(1, 31, "a day of the month between 1 and 31"),
    "weekly": _ranged(1, 7, "a day of the week between 1 (Monday) and 7 (Sunday)"),
    "daily": _ranged(1, 31, "a number between 1 and 31 (daily periods start at 00:00 and ignore it)"),
}
_OPTIONS = sorted(set(_CHECKS) | set(_LISTS) | {"period_start", "plan_period_start"})



def _categories_file(v: str) -> str | None:
    """A categories list that hotspotd can use: read and checked here, its first mistake reported."""
    if v == "":
        return None
    from hotspot.apps.categories import CategoriesError
    from hotspot.apps.categories import load as load_categories

    path = _abs_path(v)
    try:
        load_categories(path)
    except CategoriesError as e:
        lines = str(e).splitlines()
        raise _Bad(lines[0] + (f" (and {len(lines) - 1} more)" if len(lines) > 1 else "")) from None
    return path


def _command(v: str) -> str | None:
    if len(v) > 256 or not v.isprintable():
        raise _Bad("a command line of at most 256 printable characters")
    if v and not v.startswith("/"):
        raise _Bad(f"{quote(v)} must start with an absolute path (or be '' for none)")
    return v or None


def _category(v: str) -> str:
    from hotspot.apps.categories import CATEGORIES

    if v not in CATEGORIES:
        raise _Bad(f"{quote(v)} is not a category (one of {', '.join(CATEGORIES)})")
    return v


# --- UCI syntax ---

_NAME = re.compile(r"[A-Za-z0-9_]+", re.ASCII)


def _statements(line: str) -> list[list[str]]:
    """Split one line into statements (';' separates them) of words, honouring UCI quoting and comments."""
    return [words for words, _start, _end in _spans(line)]


def _spans(line: str) -> list[tuple[list[str], int, int]]:
    """The line's statements, each as (words, start, end): line[start:end] is the statement's text
    from its first word's first character to its last word's last, without separators or comment."""
    statements: list[tuple[list[str], int, int]] = []
    words: list[str] = []
    start = end = 0
    word: str | None = None  # None between words; '' for a quoted empty string
    i = 0

    def close() -> None:
        nonlocal words
        if words:
            statements.append((words, start, end))
        words = []

    while i < len(line):
        c = line[i]
        if word is None and c not in " \t\r\f\v#;" and not words:
            start = i
        if c in " \t\r\f\v" or c in "#;":
            if word is not None:
                words.append(word)
                word, end = None, i
            if c == "#":
                break
            if c == ";":
                close()
        elif c == "'":
            close_at = line.find("'", i + 1)
            if close_at < 0:
                raise _Bad("unterminated ' quote")
            word = (word or "") + line[i + 1 : close_at]
            i = close_at
        elif c == '"':
            i += 1
            part = []
            while i < len(line) and line[i] != '"':
                if line[i] == "\\" and i + 1 < len(line):
                    i += 1
                part.append(line[i])
                i += 1
            if i >= len(line):
                raise _Bad('unterminated " quote')
            word = (word or "") + "".join(part)
        elif c == "\\":
            if i + 1 >= len(line):
                raise _Bad("backslash at the end of a line (continued lines are not supported)")
            i += 1
            word = (word or "") + line[i]
        else:
            word = (word or "") + c
        i += 1
    if word is not None:
        words.append(word)
        end = i
    close()
    return statements


# The errors found in a file, as (line, reason).
_Errors = list[tuple[int, str]]


def _parse(lines: list[str], errors: _Errors) -> list[tuple[str, str, str, int]]:
    """Return our section's settings as (keyword, key, value, line) in file order, adding each bad
    statement to `errors` and going on with the next one."""
    settings: list[tuple[str, str, str, int]] = []
    section: str | None = None  # type of the current section; '' for one whose 'config' line is unreadable
    ours_at = 0  # line of our section, once seen
    for lineno, line in enumerate(lines, 1):
        try:
            statements = _statements(line)
        except _Bad as e:
            errors.append((lineno, str(e)))
            continue
        for keyword, *args in statements:
            try:
                if keyword == "package":
                    if len(args) != 1:
                        raise _Bad("'package' takes one name")
                elif keyword == "config":
                    section = args[0] if args and _NAME.fullmatch(args[0]) else ""
                    if section == SECTION_TYPE:
                        if ours_at:
                            raise _Bad(f"a second '{SECTION_TYPE}' section (the first is on line {ours_at})")
                        ours_at = lineno
                    if not 1 <= len(args) <= 2:
                        raise _Bad("'config' takes a type and an optional name")
                    for a in args:
                        if not _NAME.fullmatch(a):
                            raise _Bad(f"{quote(a)} is not a valid section type or name")
                elif keyword in ("option", "list"):
                    if section is None:
                        raise _Bad(f"'{keyword}' before the first 'config' line")
                    if len(args) != 2:
                        raise _Bad(f"'{keyword}' takes a name and one value (quote a value with spaces)")
                    key, value = args
                    if not _NAME.fullmatch(key):
                        raise _Bad(f"{quote(key)} is not a valid option name")
                    if section != SECTION_TYPE:
                        continue
                    if key not in _OPTIONS:
                        close = difflib.get_close_matches(key, _OPTIONS, n=1)
                        hint = f"; did you mean '{close[0]}'?" if close else ""
                        raise _Bad(f"unknown option {quote(key)}{hint}")
                    if keyword == "list" and key not in _LISTS:
                        raise _Bad(f"option {key} takes one value: use 'option', not 'list'")
                    settings.append((keyword, key, value, lineno))
                else:
                    raise _Bad(f"unknown statement {quote(keyword)}; expected config, option or list")
            except _Bad as e:
                errors.append((lineno, str(e)))
    return settings


def uci_options(text: str, section_type: str) -> dict[str, str]:
    """The options of every section of one type in another package's UCI file (e.g. the firewall's
    defaults), best effort: lines that do not parse are skipped, as that file is not ours to judge."""
    found: dict[str, str] = {}
    section = None
    for line in text.splitlines():
        try:
            statements = _statements(line)
        except _Bad:
            continue
        for keyword, *args in statements:
            if keyword == "config" and args:
                section = args[0]
            elif keyword == "option" and section == section_type and len(args) == 2:
                found[args[0]] = args[1]
    return found


def _read_lines(path: str, errors: _Errors) -> list[str]:
    """The file's lines; a missing or unreadable file is the one error there is to report."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as e:
        raise ConfigError(f"{path}: {e.strerror or e}") from None
    lines = []
    for lineno, raw in enumerate(data.split(b"\n"), 1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            errors.append((lineno, "not UTF-8 text"))
            lines.append(raw.decode("utf-8", "replace"))  # still parsed, for the errors on other lines
    return lines


def load(path: str | os.PathLike = DEFAULT_PATH) -> Config:
    """Read and check the config file; a file without a hotspot section gives all defaults.

    Raises ConfigError listing every problem in the file, not just the first."""
    path = os.fspath(path)
    errors: _Errors = []
    settings = _parse(_read_lines(path, errors), errors)
    values: dict[str, object] = {"path": path}
    bad: set[str] = set()  # options with an error: they take no part in checks across options
    last_line: dict[str, int] = {}

    def error(key: str, lineno: int, reason: object) -> None:
        errors.append((lineno, f"option {key}: {reason}"))
        bad.add(key)

    def check(key: str, convert: Callable[[str], object], value: str, lineno: int) -> None:
        try:
            values[key] = convert(value)  # a repeated option replaces the earlier one, as in UCI...
        except _Bad as e:
            error(key, lineno, e)  # ...but an earlier bad value is still reported

    lists: dict[str, list] = {}  # each list option's values in force
    for keyword, key, value, lineno in settings:
        last_line[key] = lineno
        if key in _LISTS:
            items = lists.setdefault(key, [])
            if keyword == "option":
                items.clear()  # an option replaces, a list entry appends
            for word in value.split():
                try:
                    items.append(_LISTS[key](word))
                except _Bad as e:
                    error(key, lineno, e)
        elif key in _CHECKS:
            check(key, _CHECKS[key], value, lineno)
    for key, items in lists.items():
        if key not in bad:
            values[key] = tuple(dict.fromkeys(items))  # drop repeats, keep order
    if "wan_device" in last_line and "wan_device" not in bad and not values["wan_device"]:
        error("wan_device", last_line["wan_device"], "needs at least one interface")
    period = values.get("period", Config.period)  # if period is bad: monthly, the widest range
    plan_period = values.get("plan_period", Config.plan_period)
    for _, key, value, lineno in settings:
        if key == "period_start":
            check(key, _PERIOD_START[period], value, lineno)
        elif key == "plan_period_start":
            check(key, _PERIOD_START.get(plan_period, _PERIOD_START["daily"]), value, lineno)
    both = set(values.get("wan_device", Config.wan_device)) & set(values.get("unmetered_device", ()))
    if both and not bad & {"wan_device", "unmetered_device"}:
        error("unmetered_device", last_line["unmetered_device"],
              f"{quote(sorted(both)[0])} is also a wan_device (a metered uplink)")
    if values.get("plan_quota") is None and "plan_quota" not in bad:
        for key in ("plan_throttle_at", "plan_block_at", "plan_stop_at", "roaming_throttle_at",
                    "roaming_block_at", "roaming_stop_at"):
            t = values.get(key)
            if t is not None and t.percent is not None:
                error(key, last_line[key], f"{t} of what? set plan_quota, or give a size such as '18GB'")
    lan = values.get("lan_device", Config.lan_device)
    for uplinks in ("wan_device", "unmetered_device"):
        if not bad & {"lan_device", uplinks} and lan in values.get(uplinks, getattr(Config, uplinks)):
            key = uplinks if uplinks in last_line else "lan_device"
            what = "a wan_device" if uplinks == "wan_device" else "an unmetered_device"
            error(key, last_line[key], f"{quote(lan)} is both the lan_device and {what}")
    if not bad & {"tls_cert", "tls_key"} and bool(values.get("tls_cert")) != bool(values.get("tls_key")):
        key = "tls_key" if values.get("tls_cert") else "tls_cert"
        other = "tls_cert" if key == "tls_key" else "tls_key"
        error(other, last_line[other], f"needs {key} too (HTTPS takes a certificate and its key)")
    if values.get("smtp_security") == "none" and values.get("smtp_user") and not bad & {"smtp_security"}:
        error("smtp_user", last_line["smtp_user"], "smtp_security 'none' sends no password (it would go in "
              "plain text): use 'starttls' or 'tls', or set smtp_user ''")
    if errors:
        errors.sort(key=lambda e: e[0])  # stable: one line's errors keep the order they were found in
        raise ConfigError([f"{path}:{lineno}: {reason}" for lineno, reason in errors])
    return Config(**values)


def _uci_quote(value: object) -> str:
    return "'" + str(value).replace("'", "'\\''") + "'"


def _exact(n: int, units: dict[str, int]) -> str:
    """The shortest exact spelling: 2000000000 -> '2GB', 256000 -> '256kbit'."""
    for unit, size in sorted(units.items(), key=lambda u: -u[1]):
        if n and n % size == 0:
            return f"{n // size}{unit}"
    return str(n)


_RATE_UNITS = {"gbit": 10**9, "mbit": 10**6, "kbit": 10**3, "bit": 1}


def _exact_size(n: int) -> str:
    return _exact(n, {"TB": 10**12, "GB": 10**9, "MB": 10**6, "kB": 10**3, "B": 1}).replace("kB", "KB")


def _spell(key: str, value: object) -> str:
    """One option's value as the config file spells it."""
    if value is None:
        return "none" if key in ("idle_timeout", "client_retention") else ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Threshold):
        return str(value)
    if key in ("default_cap", "plan_quota"):
        return _exact_size(value)
    if key.endswith("_rate"):
        return _exact(value, _RATE_UNITS)
    if key in ("session_timeout", "idle_timeout", "plan_pass_length", "client_retention"):
        return format_duration(value)
    if key == "poll_interval":
        text = repr(float(value))
        return text[:-2] if text.endswith(".0") else text
    if key == "ct_mark_mask":
        return f"{value:#010x}"
    if key == "plan_activated":
        from datetime import datetime

        return datetime.fromtimestamp(value).isoformat(sep=" ", timespec="seconds")
    if key == "alert_at":
        return " ".join(map(str, value))
    return str(value)


def dump(config: Config) -> str:
    """UCI text for `config` that load() reads back to an equal Config (for tests, the lab and the UI)."""
    out = [f"config {SECTION_TYPE} 'main'"]
    for f in dataclasses.fields(config):
        if f.name == "path":
            continue
        value = getattr(config, f.name)
        if f.name in _LISTS:
            out += [f"\tlist {f.name} {_uci_quote(v)}" for v in value]
        else:
            out.append(f"\toption {f.name} {_uci_quote(_spell(f.name, value))}")
    return "\n".join(out) + "\n"


SETTABLE = ("default_cap", "period", "period_start", "after_cap", "after_cap_rate", "auth",
            "plan_quota", "plan_period", "plan_period_start", "plan_start_hour", "plan_timezone",
            "plan_pass_length", "plan_activated", "plan_throttle_at", "plan_throttle_rate", "plan_block_at",
            "plan_stop_at", "roaming_throttle_at", "roaming_block_at", "roaming_stop_at", "alert_at")


def check_setting(key: str, value: str, period: str = "monthly") -> object:
    """One settable option's text checked as load() checks it (a period's start day against
    `period`); its typed value, or ValueError with the reason in one line. The admin UI refuses a
    bad field with this before anything is written."""
    if key not in SETTABLE:
        raise ValueError(f"not a setting: {key}")
    check = _CHECKS.get(key) or _PERIOD_START.get(period, _PERIOD_START["daily"])
    try:
        return check(value)
    except _Bad as e:
        raise ValueError(str(e)) from None


def settings_text(config: Config) -> dict[str, str]:
    """The plan settings as the config file spells them (for the admin UI's form)."""
    text = dump(config)
    found = uci_options(text, SECTION_TYPE)
    return {key: found[key] for key in SETTABLE}


def _section_at(section: str | None, statements: list, start: int) -> str | None:
    """The section a statement at `start` of a line is in: a 'config' earlier on the line opens one."""
    for (keyword, *args), at, _end in statements:
        if at < start and keyword == "config":
            section = args[0] if args else None
    return section


def write_settings(path: str, values: dict[str, str]) -> Config:
    """Set options of our section in the file, keeping every other line and comment as it is; the
    new file is checked as a whole before it replaces the old one. Raises ConfigError (nothing
    written) with every problem, each naming its option."""
    bad = sorted(set(values) - set(SETTABLE))
    if bad:
        raise ConfigError(f"{path}: not a setting: {', '.join(bad)}")
    for key, value in values.items():
        if not isinstance(value, str) or len(value) > 64 or not value.isprintable():
            raise ConfigError(f"{path}: option {key}: at most 64 printable characters")
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    section, ours_end, done = None, None, set()
    for i, line in enumerate(lines):
        try:
            statements = _spans(line)
        except _Bad:
            continue
        # Each option set is replaced where it stands: the line's other statements and its comment stay.
        for (keyword, *args), start, end in reversed(statements):
            if keyword == "option" and len(args) == 2 and args[0] in values and \
                    _section_at(section, statements, start) == SECTION_TYPE:
                line = f"{line[:start]}option {args[0]} {_uci_quote(values[args[0]])}{line[end:]}"
                done.add(args[0])
        lines[i] = line
        for (keyword, *args), _start, _end in statements:
            if keyword == "config":
                section = args[0] if args else None
            if section == SECTION_TYPE:
                ours_end = i
    if ours_end is None:
        lines[:0] = [f"config {SECTION_TYPE} 'main'"]
        ours_end = 0
    lines[ours_end + 1:ours_end + 1] = [f"\toption {k} {_uci_quote(v)}" for k, v in values.items()
                                        if k not in done]
    found: list[Config] = []

    def check(tmp: str) -> None:
        try:
            found.append(load(tmp))
        except ConfigError as e:
            raise ConfigError([line.replace(tmp, path, 1) for line in e.errors]) from None

    # The file keeps its mode and owner: it may hold smtp_password and the other secrets (0600).
    write_atomic(path, "\n".join(lines), keep=True, check=check)
    return found[0].replace(path=path)
