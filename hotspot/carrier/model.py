"""The carrier's own figure, picked out of its words: the owner's patterns, per SIM, and the amounts found.

A carrier answers a USSD code (`*100#`) or sends an SMS ("已使用3.2GB，剩余1.8GB", "You have used 3.2 GB
of 5 GB"). The owner writes, per SIM (the longest ICCID prefix wins), which code to send and patterns
that find the amount: a regular expression with a group named `amount` holding a number and its unit
("3.2GB", "3,2 GB", "512MB", "1.8G"), and whether it is the amount used or left. The text comes from the
network, and anyone can send an SMS: nothing here trusts it. A text is read in NFKC form (full-width
digits, letters and punctuation as their ASCII forms, so "３．２ＧＢ，" reads "3.2GB,"), cut to
TEXT_LIMIT characters, and gives an amount only where a pattern matches and its group reads as a size;
never a figure from anything else.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

TEXT_LIMIT = 2000  # characters of a reply or SMS that are read (a USSD reply holds 182, an SMS 160 a part)
MAX_AMOUNT = 10**15  # a petabyte: no SIM's plan comes near it
KINDS = ("used", "left")
ANY_SIM = "*"

_DECIMAL_UNITS = {"": None, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_CHINESE_UNITS = {"兆": "m", "千": "k"}  # 兆 (zhao): what some carriers write for MB
# A number (digits, one decimal separator, thousands separators) and a unit: "3.2GB", "3,2 GB",
# "1,024.5 MB", "1.8G", "512 MiB", "700 bytes", "2 兆".
_AMOUNT = re.compile(r"\s*(?P<number>\d{1,15}(?:[.,]\d{1,15})*)\s*"
                     r"(?P<unit>(?:[kmgt](?:i?b|bytes?)?|b|bytes?|兆b?|千b?))\s*", re.ASCII | re.IGNORECASE)


class PatternError(ValueError):
    """A pattern the owner wrote that cannot be used; str() is one line."""


@dataclass(frozen=True)
class Pattern:
    """One `carrier_pattern` line: for SIMs whose ICCID starts with `prefix` ('*': any SIM), `regex`'s
    group `amount` is this cycle's data `kind` ("used" or "left"); `binary`: the carrier's MB and GB are
    1024-based (as Chinese carriers bill), else 1000-based like the rest of hotspot."""

    prefix: str
    kind: str
    binary: bool
    regex: re.Pattern
    source: str  # as the config file spells it

    def __str__(self) -> str:
        return self.source


@dataclass(frozen=True)
class UssdCode:
    """One `carrier_ussd` line: the code to send for SIMs whose ICCID starts with `prefix`."""

    prefix: str
    code: str

    def __str__(self) -> str:
        return f"{self.prefix} {self.code}"


@dataclass(frozen=True)
class Reading:
    """What a pattern found: `amount` bytes of `kind`, from the text `matched`, by `pattern`."""

    kind: str
    amount: int
    matched: str
    pattern: str


def normal(text: str) -> str:
    """NFKC: full-width and other compatibility forms as their plain ones."""
    return unicodedata.normalize("NFKC", text)


def _prefix(word: str) -> str:
    if word != ANY_SIM and not re.fullmatch(r"\d{1,20}", word, re.ASCII):
        raise PatternError(f"{word!r} is not an ICCID prefix (digits) or '*' for any SIM")
    return word


def parse_pattern(line: str) -> Pattern:
    """'ICCID_PREFIX KIND REGEX': KIND is used or left, with ':1024' for a carrier whose GB is 1024 MB
    (e.g. '8986 used:1024 已使用(?P<amount>[\\d.]+[GM]B)'). PatternError names what is wrong."""
    parts = line.strip().split(None, 2)
    if len(parts) < 3:
        raise PatternError("expected 'ICCID_PREFIX used|left REGEX' (one 'list carrier_pattern' line "
                           "each), e.g. '8986 used 已使用(?P<amount>[\\d.]+ ?[GM]B)'")
    prefix, kind, regex = _prefix(parts[0]), parts[1].lower(), parts[2]
    kind, _, base = kind.partition(":")
    if kind not in KINDS or base not in ("", "1000", "1024"):
        raise PatternError(f"{parts[1]!r} is not 'used' or 'left' (with ':1024' for a carrier whose GB "
                           "is 1024 MB)")
    try:
        compiled = re.compile(normal(regex), re.IGNORECASE)
    except (re.error, RecursionError, OverflowError, ValueError) as e:
        raise PatternError(f"the pattern does not compile: {e}") from None
    if "amount" not in compiled.groupindex:
        raise PatternError("the pattern has no group named amount, e.g. (?P<amount>[\\d.,]+ ?[GM]B)")
    return Pattern(prefix, kind, base == "1024", compiled, line.strip())


def parse_ussd(line: str) -> UssdCode:
    """'ICCID_PREFIX CODE', e.g. '8944 *100#'. PatternError names what is wrong."""
    parts = line.split()
    if len(parts) != 2:
        raise PatternError("expected 'ICCID_PREFIX CODE', e.g. '8944 *100#' ('*' for any SIM)")
    if not re.fullmatch(r"[0-9*#+]{1,62}#", parts[1], re.ASCII):
        raise PatternError(f"{parts[1]!r} is not a USSD code: digits, '*' and '#', ending in '#'")
    return UssdCode(_prefix(parts[0]), parts[1])


def _match_length(prefix: str, iccid: str | None) -> int:
    """How well `prefix` names `iccid`: its length when it does (0 for '*'), -1 when it does not."""
    if prefix == ANY_SIM:
        return 0
    return len(prefix) if iccid and iccid.startswith(prefix) else -1


def for_sim(items, iccid: str | None) -> list:
    """The items (patterns or codes) of the longest prefix that names `iccid`, in config order."""
    scored = [(_match_length(i.prefix, iccid), i) for i in items]
    best = max((s for s, _ in scored), default=-1)
    return [i for s, i in scored if s == best and best >= 0]


def ussd_code(codes, iccid: str | None) -> str | None:
    found = for_sim(codes, iccid)
    return found[0].code if found else None


def parse_amount(text: str, binary: bool = False) -> int:
    """A carrier's amount as bytes: '3.2GB', '3,2 GB', '1,024.5 MB', '1.8G', '512 MiB'. A comma is the
    decimal separator unless a dot follows it or exactly three digits do ('1,024 MB'). `binary`: K, M,
    G, T are powers of 1024 (KiB, MiB ... always are). ValueError for anything else."""
    m = _AMOUNT.fullmatch(normal(text))
    if not m:
        raise ValueError(f"not an amount with a unit: {text[:40]!r}")
    number, unit = m.group("number"), m.group("unit").lower()
    for chinese, latin in _CHINESE_UNITS.items():
        unit = unit.replace(chinese, latin)
    whole, frac = _number(number)
    letter = unit[0] if unit[0] in "kmgt" else "b"
    power = {"b": 0, "k": 1, "m": 2, "g": 3, "t": 4}[letter]
    base = 1024 if (binary or "ib" in unit) else 1000
    value = (int(whole) * 10**len(frac) + int(frac or "0")) * base**power // 10**len(frac)
    if value > MAX_AMOUNT:
        raise ValueError(f"an amount beyond any plan: {text[:40]!r}")
    return value


def _number(number: str) -> tuple[str, str]:
    """Digits before and after the decimal separator of '3.2', '3,2', '1,024', '1.024.000', '1,024.5'."""
    seps = re.findall(r"[.,]", number)
    if not seps:
        return number, ""
    groups = re.split(r"[.,]", number)
    decimal = seps[-1] if len(set(seps)) == 2 or (len(seps) == 1 and not (
        seps[0] == "," and len(groups[1]) == 3 and len(groups[0]) <= 3)) else None
    if decimal is not None and seps.count(decimal) > 1:
        raise ValueError(f"not a number: {number!r}")
    thousands = groups[1:-1] if decimal else groups[1:]
    if any(len(g) != 3 for g in thousands) or (thousands and len(groups[0]) > 3):
        raise ValueError(f"not a number: {number!r}")
    return ("".join(groups[:-1]), groups[-1]) if decimal else ("".join(groups), "")


def read(text, patterns) -> Reading | None:
    """The first of `patterns` (in order) that matches `text` and whose amount reads as a size; None
    when none does. Any text, of any length, with any characters: never an exception."""
    if not isinstance(text, str):
        return None
    text = normal(text[:TEXT_LIMIT])[:TEXT_LIMIT]
    for p in patterns:
        try:
            m = p.regex.search(text)
            found = m and m.group("amount")
            if not found:
                continue
            return Reading(p.kind, parse_amount(found, p.binary), found, p.source)
        except (ValueError, RecursionError, OverflowError, IndexError):
            continue
    return None
