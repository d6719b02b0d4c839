"""How a text fits SMS: its encoding, its length, and a long text split into labelled parts.

One SMS holds 160 septets of the GSM 7-bit alphabet (3GPP TS 23.038; a character of its extension
table is an escape plus one septet: two) or, for any other text (Chinese, emoji), 70 UCS-2 code units
(a character outside the Basic Multilingual Plane, such as an emoji, is a surrogate pair: two). A text
is GSM 7-bit only when every character has a septet, as ModemManager decides: Chinese is never forced
into the GSM alphabet (where it would arrive as '?').

A long text goes as separate messages, not one concatenated SMS (parts of which some networks deliver
late, out of order, or never joined): each part is a whole SMS that starts with its label, "(1/3) ",
counted in its length, and is cut where a reader expects it (after a space, a line or a sentence's
punctuation) and never inside a character. At most MAX_PARTS are sent; a text longer than that ends
its last part with "...".
"""

from __future__ import annotations

GSM7_LIMIT, UCS2_LIMIT = 160, 70  # septets in GSM 7-bit; UTF-16 code units in UCS-2
MAX_PARTS = 4  # an alert is a few lines: four SMS say it; more would be a report, which goes by email
ELLIPSIS = "..."  # in the GSM alphabet, unlike "…"
# 3GPP TS 23.038: the default alphabet (one septet) and its extension table (escape + one septet).
GSM7 = frozenset("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
                 "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXT = frozenset("\f^{}\\[~]|€")
# Where a part may end, best first: after a sentence, after a clause, after a space (Chinese text has
# no spaces). ASCII punctuation counts only before a space: "1.8 GB" and "00:00" are not cut.
_SENTENCE, _CLAUSE = frozenset(".!?。！？\n"), frozenset(",;:，；：、）」』")


def is_gsm7(text: str) -> bool:
    return all(c in GSM7 or c in GSM7_EXT for c in text)


def units(c: str, gsm7: bool) -> int:
    """What one character costs: septets in GSM 7-bit, UTF-16 code units in UCS-2."""
    if gsm7:
        return 2 if c in GSM7_EXT else 1
    return 2 if ord(c) > 0xFFFF else 1


def length(text: str) -> tuple[int, int]:
    """(length, limit) of `text` in one SMS, in the encoding ModemManager will choose."""
    gsm7 = is_gsm7(text)
    return sum(units(c, gsm7) for c in text), GSM7_LIMIT if gsm7 else UCS2_LIMIT


def label(i: int, n: int) -> str:
    return f"({i}/{n}) "


def split(text: str, max_parts: int = MAX_PARTS) -> list[str]:
    """`text` as the SMS to send, in order: itself when it fits one, else labelled parts of at most
    160 septets or 70 UCS-2 units each, label included; at most `max_parts` (the last one ending in
    "..." when the text was longer). The encoding is the whole text's, so every part keeps it."""
    text = text.replace("\0", "").strip()
    if not text:
        return []
    gsm7 = is_gsm7(text)
    limit = GSM7_LIMIT if gsm7 else UCS2_LIMIT
    if sum(units(c, gsm7) for c in text) <= limit:
        return [text]
    for n in range(2, max_parts + 1):
        pieces = _cut(text, [limit - len(label(i, n)) for i in range(1, n + 1)], gsm7)
        if pieces is not None:
            return [label(i, n) + p for i, p in enumerate(pieces, 1)]
    n = max(1, max_parts)
    budgets = [limit - len(label(i, n)) if n > 1 else limit for i in range(1, n + 1)]
    budgets[-1] -= len(ELLIPSIS)
    pieces = _cut(text, budgets, gsm7, whole=False)
    labels = [label(i, n) if n > 1 else "" for i in range(1, n + 1)]
    return [labels[i] + p + (ELLIPSIS if i == n - 1 else "") for i, p in enumerate(pieces)]


def _cut(text: str, budgets: list[int], gsm7: bool, whole: bool = True) -> list[str] | None:
    """`text` in pieces within `budgets` (units each), each cut at a reader's break where one lies in its
    second half; None when `whole` and the text does not fit them all."""
    pieces, rest = [], text
    for budget in budgets:
        if not rest:
            break
        end, spent = 0, 0
        while end < len(rest) and spent + units(rest[end], gsm7) <= budget:
            spent += units(rest[end], gsm7)
            end += 1
        if end < len(rest) and (len(pieces) < len(budgets) - 1 or not whole):
            end = _break(rest, end)
        pieces.append(rest[:end].rstrip())
        rest = rest[end:].lstrip(" \n\t")
    if rest and whole:
        return None
    if not whole:
        pieces[-1] = pieces[-1].rstrip(" \n,;:.-，、；：")
    return pieces


def _break(text: str, end: int) -> int:
    """Where to end a part that could hold text[:end]: after the last sentence in its last third, else
    the last clause there, else the last space in its second half, else at `end`."""
    def ends(i: int, marks: frozenset) -> bool:
        """text[i] ends a sentence or a clause: CJK punctuation anywhere, ASCII only before a space."""
        c, after = text[i], text[i + 1:i + 2]
        if after and (after in _SENTENCE or after in _CLAUSE) and after != "\n":
            return False  # "）。": the marks that follow go with it, never alone into the next part
        return c in marks and (not c.isascii() or c == "\n" or after in (" ", "\n"))

    third, half = end * 2 // 3, end // 2
    for found in ([i for i in range(third, end) if ends(i, _SENTENCE)],
                  [i for i in range(third, end) if ends(i, _CLAUSE)],
                  [i for i in range(half, end) if text[i] in " \t"]):
        if found:
            return found[-1] + 1
    return end
