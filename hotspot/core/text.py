"""Text for a terminal: tables, sizes and rates as people read them, and names made safe to print.

Hostnames come from DHCP clients: `printable` never lets one write control characters to a terminal.
"""

from __future__ import annotations

import json

from hotspot.core.units import format_bytes, format_rate


def printable(s) -> str:
    if s is None:
        return "-"
    return "".join(ch if ch.isprintable() else "?" for ch in str(s))


def size(n) -> str:
    return "-" if n is None else format_bytes(n)


def rate(n) -> str:
    return "-" if n is None else format_rate(n)


def table(rows: list[list[str]], header: list[str], right: set[int] = frozenset()) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def forecast(likely: int, low: int | None, high: int | None) -> str:
    """'14.9 GB (13.6 GB – 16.6 GB)': the likely total and its range."""
    if low is None or high is None:
        return size(likely)
    return f"{size(likely)} ({size(low)} – {size(high)})"


def write_json(out, obj) -> None:
    json.dump(obj, out, indent=2)
    out.write("\n")
