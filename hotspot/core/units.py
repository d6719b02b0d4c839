"""Parse and format the values people type: sizes, rates, MAC addresses, ICCIDs.

Every parser turns text into a plain typed value or raises InvalidValue with a one-line reason, so nothing
a user typed ever reaches nftables as text (DESIGN principle 7).
"""

from __future__ import annotations

import re
from decimal import Decimal, localcontext

MAX_SIZE = 2**62  # far beyond any data plan, and safe in a signed 64-bit kernel counter
MIN_RATE = 8000  # 1 kB/s: below this a policer drops nearly every packet and TCP stalls
MAX_RATE = 100 * 10**9

SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
RATE_UNITS = {"bit": 1, "kbit": 10**3, "mbit": 10**6, "gbit": 10**9}

# Digits with an optional fraction, then an optional unit made only of letters (and "/s" for rates).
# Anything else -- signs, exponents, nan/inf, nft syntax -- does not match.
_NUMBER_UNIT = re.compile(r"(\d+(?:\.\d*)?|\.\d+) *([a-z]*(?:/s)?)", re.ASCII | re.IGNORECASE)
_MAC = re.compile(r"[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}", re.ASCII | re.IGNORECASE)
_ICCID = re.compile(r"[0-9]{19,20}", re.ASCII)
_SIZE_HINT = "use a number with B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"
_RATE_HINT = "use a number with bit, kbit, mbit or gbit, e.g. 256kbit"


class InvalidValue(ValueError):
    """A user-supplied value that cannot be used; str() is a one-line reason naming the value."""


def quote(text: object) -> str:
    """Quote a bad value for an error message: one line, control characters escaped, long text cut."""
    s = str(text)
    if len(s) > 40:
        s = s[:40] + "..."
    s = "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)
    return "'" + s.replace("'", "\\'") + "'"


def _as_text(text: object, kind: str) -> str:
    if isinstance(text, int) and not isinstance(text, bool):
        return str(text)
    if not isinstance(text, str):
        raise InvalidValue(f"invalid {kind} {quote(text)}: expected text")
    return text


def _number_with_unit(text: str, units: dict[str, int], kind: str, hint: str) -> int:
    """Return the number in `text` times its unit, rounded down to an integer."""
    s = text.strip()
    if not s:
        raise InvalidValue(f"invalid {kind} {quote(text)}: empty; {hint}")
    if s.startswith("-") and _NUMBER_UNIT.fullmatch(s[1:].strip()):
        raise InvalidValue(f"invalid {kind} {quote(text)}: must not be negative")
    m = _NUMBER_UNIT.fullmatch(s) if len(s) <= 40 else None
    if not m or m.group(2).lower() not in units:
        raise InvalidValue(f"invalid {kind} {quote(text)}: {hint}")
    with localcontext() as ctx:
        ctx.prec = 80  # exact for 40 digits times a 13-digit unit
        return int(Decimal(m.group(1)) * units[m.group(2).lower()])


def parse_size(text: str) -> int:
    """'1.5GB' -> 1500000000 bytes. KB..TB are powers of 1000, KiB..TiB of 1024; a bare number is bytes."""
    text = _as_text(text, "size")
    n = _number_with_unit(text, SIZE_UNITS, "size", _SIZE_HINT)
    if n > MAX_SIZE:
        raise InvalidValue(f"invalid size {quote(text)}: too large (at most {MAX_SIZE} bytes)")
    return n


def parse_rate(text: str) -> int:
    """'256kbit' -> 256000 bits/s. A unit is required: a bare number is bytes/s to tc, bits/s to others."""
    text = _as_text(text, "rate")
    units = dict(RATE_UNITS)
    units.update({u + "/s": m for u, m in RATE_UNITS.items()})  # accept what format_rate prints
    n = _number_with_unit(text, units, "rate", _RATE_HINT)
    if n < MIN_RATE:
        raise InvalidValue(f"invalid rate {quote(text)}: too slow to be usable (at least 8kbit)")
    if n > MAX_RATE:
        raise InvalidValue(f"invalid rate {quote(text)}: too fast (at most 100gbit)")
    return n


def parse_mac(text: str) -> str:
    """'AA-BB-CC-DD-EE-FF' -> 'aa:bb:cc:dd:ee:ff'. Only unicast device addresses are clients."""
    text = _as_text(text, "MAC address")
    s = text.strip()
    if not _MAC.fullmatch(s):
        raise InvalidValue(f"invalid MAC address {quote(text)}: use six hex pairs like aa:bb:cc:dd:ee:ff")
    mac = s.lower().replace("-", ":")
    if int(mac[:2], 16) & 1:
        raise InvalidValue(f"invalid MAC address {quote(text)}: a multicast address is not a device")
    if mac == "00:00:00:00:00:00":
        raise InvalidValue(f"invalid MAC address {quote(text)}: all zeros is not a device")
    return mac


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of a string of ASCII digits, its last digit the check digit."""
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = ord(c) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def check_iccid(text: str) -> str:
    """A SIM's ICCID (ITU-T E.118): 19 or 20 ASCII digits, the last a Luhn check digit;
    spaces and dashes people copy from a SIM card's print are dropped. InvalidValue otherwise."""
    text = _as_text(text, "ICCID")
    s = text.strip().replace(" ", "").replace("-", "")
    if not _ICCID.fullmatch(s):
        raise InvalidValue(f"invalid ICCID {quote(text)}: expected 19 or 20 digits")
    if not luhn_valid(s):
        raise InvalidValue(f"invalid ICCID {quote(text)}: its check digit is wrong (a digit mistyped?)")
    return s


def _is_none(text: object) -> bool:
    return isinstance(text, str) and text.strip().lower() == "none"


def _or_none(parse, text: str, meaning: str):
    if _is_none(text):
        return None
    try:
        return parse(text)
    except InvalidValue as e:
        raise InvalidValue(f"{e} (or 'none' for {meaning})") from None


def parse_cap(text: str) -> int | None:
    """A size, or 'none' for no cap -> None. A cap of 0 is allowed: blocked from the first byte."""
    return _or_none(parse_size, text, "no cap")


def parse_rate_or_none(text: str) -> int | None:
    """A rate, or 'none' for no limit -> None."""
    return _or_none(parse_rate, text, "no limit")


def _si(value: float, unit: str) -> str:
    """Three significant digits with an SI prefix: 999 -> '999 B', 1234 -> '1.23 kB', 12345 -> '12.3 kB'."""
    sign = "-" if value < 0 else ""
    v = abs(value)
    prefixes = ["", "k", "M", "G", "T", "P", "E"]
    i = 0
    while i < len(prefixes) - 1 and float(f"{v:.3g}") >= 1000:
        v /= 1000
        i += 1
    if i == 0:
        return f"{sign}{v:.0f} {unit}"
    r = float(f"{v:.3g}")
    decimals = 2 if r < 10 else 1 if r < 100 else 0
    return f"{sign}{r:.{decimals}f} {prefixes[i]}{unit}"


def format_bytes(n: float) -> str:
    """Bytes for people, SI: '0 B', '999 B', '1.00 kB', '12.3 MB', '1.50 GB'."""
    return _si(n, "B")


def format_rate(bits_per_s: float) -> str:
    """Bits/s for people, SI: '256 kbit/s', '8.00 Mbit/s'."""
    return _si(bits_per_s, "bit/s")


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_DURATION = 366 * 86400
_DURATION_PART = re.compile(r"(\d{1,9})([smhdw])", re.ASCII | re.IGNORECASE)
_DURATION_HINT = "use whole numbers with s, m, h, d or w, e.g. 30m, 24h, 1h30m"


def parse_duration(text: str) -> int:
    """'1h30m' -> 5400 seconds. Parts are whole numbers with s, m, h, d (days) or w (weeks); a bare
    whole number is seconds. At least 1s, at most 366d."""
    text = _as_text(text, "duration")
    s = text.strip().lower()
    if not s:
        raise InvalidValue(f"invalid duration {quote(text)}: empty; {_DURATION_HINT}")
    if s.startswith("-"):
        raise InvalidValue(f"invalid duration {quote(text)}: must not be negative")
    if re.fullmatch(r"\d{1,12}", s, re.ASCII):
        n = int(s)
    else:
        parts = _DURATION_PART.findall(s) if len(s) <= 40 else []
        if not parts or "".join(a + b for a, b in parts) != s:
            raise InvalidValue(f"invalid duration {quote(text)}: {_DURATION_HINT}")
        n = sum(int(a) * DURATION_UNITS[b] for a, b in parts)
    if n < 1:
        raise InvalidValue(f"invalid duration {quote(text)}: must be at least 1s")
    if n > MAX_DURATION:
        raise InvalidValue(f"invalid duration {quote(text)}: too long (at most 366d)")
    return n


def format_duration(seconds: int) -> str:
    """The shortest exact spelling parse_duration reads back: 86400 -> '1d', 5400 -> '1h30m'."""
    out, left = [], int(seconds)
    for unit in ("d", "h", "m", "s"):
        size = DURATION_UNITS[unit]
        if left >= size:
            out.append(f"{left // size}{unit}")
            left %= size
    return "".join(out) or "0s"


# The years a date or time a person types may name: what the history and the plans can hold, with
# room on both sides for the arithmetic done on it (a day, a month, a year on or back, a UTC offset)
# to stay inside what datetime and time_t hold. A router without a real-time clock boots in 1970
# (DESIGN: clock jumps): nothing of that time is kept, so there is nothing there to ask for.
MIN_YEAR, MAX_YEAR = 2000, 2100
MAX_OFFSET_HOURS = 14  # the widest UTC offset in use (Kiribati); +14:30 is a typing error


def out_of_range(when) -> str | None:
    """Why `when` (a date, or a datetime with or without an offset) is not one a person may name, or
    None. The first instant after MAX_YEAR is allowed: it is the exclusive end of a range in it."""
    from datetime import date, datetime

    if isinstance(when, datetime):
        offset = when.utcoffset()
        if offset is not None and abs(offset.total_seconds()) > MAX_OFFSET_HOURS * 3600:
            return f"a UTC offset is at most ±{MAX_OFFSET_HOURS}:00"
        ok = datetime(MIN_YEAR, 1, 1) <= when.replace(tzinfo=None) <= datetime(MAX_YEAR + 1, 1, 1)
    else:
        ok = date(MIN_YEAR, 1, 1) <= when <= date(MAX_YEAR + 1, 1, 1)
    return None if ok else f"out of range: dates are in the years {MIN_YEAR} to {MAX_YEAR}"


def check_when(when, what: str, text: object):
    """`when` if out_of_range finds nothing wrong with it; else InvalidValue naming `what` and the
    `text` it was read from."""
    why = out_of_range(when)
    if why:
        raise InvalidValue(f"{what} {quote(text)}: {why}")
    return when


def check_timestamp(ts: object, what: str) -> float:
    """A unix time within MIN_YEAR..MAX_YEAR (a day's slack either side for any time zone), as a float;
    else InvalidValue (infinities and NaN included)."""
    from datetime import datetime, timezone

    lo = datetime(MIN_YEAR, 1, 1, tzinfo=timezone.utc).timestamp() - 86400
    hi = datetime(MAX_YEAR + 1, 1, 1, tzinfo=timezone.utc).timestamp() + 86400
    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not lo <= ts <= hi:  # NaN fails too
        raise InvalidValue(f"{what} {quote(ts)}: out of range: dates are in the years {MIN_YEAR} to "
                           f"{MAX_YEAR}")
    return float(ts)


def iso(ts: float | None) -> str | None:
    """A unix time as ISO 8601 in the router's local time (None for none)."""
    if not ts:
        return None
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ts, timezone.utc).astimezone().isoformat(timespec="seconds")
