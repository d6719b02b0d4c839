"""Voucher codes: random, easy to read out and type.

A code is eight characters from an alphabet without the look-alikes 0/O and 1/I, shown as XXXX-XXXX:
32^8 = 2^40 codes, drawn with `secrets`, so a guest cannot guess another's code. Entry is forgiving:
any case, with or without the dash or spaces.
"""

from __future__ import annotations

import secrets

from hotspot.core.units import InvalidValue

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
LENGTH = 8
MAX_BATCH = 500  # vouchers made at once
MAX_DEVICES = 50


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def parse_code(text: object) -> str:
    """A code as stored (XXXX-XXXX, upper case) from what someone typed; InvalidValue if it cannot be one."""
    if not isinstance(text, str):
        raise InvalidValue("a voucher code is needed")
    raw = "".join(text.split()).replace("-", "").upper()
    if len(raw) != LENGTH or any(ch not in ALPHABET for ch in raw):
        raise InvalidValue(f"not a voucher code: {text[:40]!r} (8 letters and digits, like ABCD-EFGH)")
    return f"{raw[:4]}-{raw[4:]}"


def parse_count(text: object, what: str, hi: int) -> int:
    """A whole number from 1 to `hi` (how many vouchers, how many devices)."""
    s = str(text).strip() if isinstance(text, (str, int)) and not isinstance(text, bool) else ""
    if not s.isascii() or not s.isdigit() or not 1 <= int(s) <= hi:
        raise InvalidValue(f"{what} must be a whole number from 1 to {hi}, not {str(text)[:20]!r}")
    return int(s)
