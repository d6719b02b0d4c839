"""`hotspotctl forecast --trace`: the forecaster run on an hourly trace, as an outside backtest would.

A trace is CSV, `hour,bytes` per line: the hour in ISO 8601 (a time without a UTC offset is UTC; a
bucket is the hour that contains it), bytes a whole number; a header line is optional, blank lines
and lines starting with '#' are skipped, a repeated hour adds up. The period, precisely:

- at: the forecast's moment; only the hours that ended by then are read (an --at inside an hour is
  taken as that hour's start: its bytes are not known yet);
- end: --period-end, default the start of the calendar month after --at, in --at's UTC offset (UTC
  if it has none);
- start: --period-start, default one calendar month before the end (the same day, or the month's
  last day when shorter);
- used so far: the trace's hours in [start, at); hours missing after the trace's first line are 0.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

from hotspot.core.clock import _add_months, _month_start
from hotspot.core.units import out_of_range
from hotspot.forecast import model as fc


class TraceError(ValueError):
    """A bad line or value: str() is one line (FILE:LINE: reason, for a trace)."""


class TraceUnreadable(TraceError):
    """The trace cannot be read at all (missing, unreadable, not text)."""


def parse_time(text: str, tz=None, what: str = "time") -> datetime:
    """ISO 8601 date or date and time; without an offset, in `tz` (UTC by default)."""
    s = text.strip()
    try:
        t = datetime.fromisoformat(s)
        if len(s) <= 10:  # a date alone: its midnight
            t = datetime.combine(date.fromisoformat(s), datetime.min.time())
    except ValueError:
        raise TraceError(f"invalid {what} {s[:40]!r}: use ISO 8601, e.g. 2026-11-15T00:00+08:00") from None
    why = out_of_range(t)  # the years the periods' arithmetic and the unix times stay sane in
    if why:
        raise TraceError(f"invalid {what} {s[:40]!r}: {why}")
    return t if t.tzinfo else t.replace(tzinfo=tz or timezone.utc)


def read(path: str) -> list[tuple[int, int]]:
    """The trace's buckets, sorted: (unix hour, bytes)."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise TraceUnreadable(f"{path}: cannot read the trace: {getattr(e, 'strerror', None) or e}") from None
    found: dict[int, int] = {}
    for number, line in enumerate(lines, 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        parts = [p.strip() for p in s.split(",")]
        if len(parts) != 2:
            raise TraceError(f"{path}:{number}: expected 'hour,bytes', got {len(parts)} fields")
        if number == 1 and not parts[1].isdigit() and not parts[0][:1].isdigit():
            continue  # the header
        try:
            hour = parse_time(parts[0], what="hour")
        except TraceError as e:
            raise TraceError(f"{path}:{number}: {e}") from None
        if not parts[1].isascii() or not parts[1].isdigit() or len(parts[1]) > 18:
            raise TraceError(f"{path}:{number}: invalid bytes {parts[1][:40]!r}: a whole number, at least 0")
        key = int(hour.timestamp()) // fc.HOUR * fc.HOUR
        found[key] = found.get(key, 0) + int(parts[1])
    if not found:
        raise TraceError(f"{path}: the trace has no hours")
    return sorted(found.items())


def period(at: datetime, end: datetime | None = None,
           start: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) as the module docstring defines them."""
    if end is None:
        y, m = _add_months(at.year, at.month, 1)
        end = datetime(y, m, 1, tzinfo=at.tzinfo)
    if start is None:
        y, m = _add_months(end.year, end.month, -1)
        day = _month_start(y, m, end.day)
        start = datetime.combine(day.date(), end.timetz())  # the 31st: the shorter month's last day
    if not start < end:
        raise TraceError("the period's start must be before its end")
    if not start <= at < end:
        raise TraceError(f"--at must be in the period [{start.isoformat()}, {end.isoformat()})")
    return start, end


def run(rows: list[tuple[int, int]], at: datetime, start: datetime, end: datetime,
        cap: int | None = None) -> dict:
    """The forecast at `at` from the hours before it (unix times in the answer)."""
    now = int(at.timestamp()) // fc.HOUR * fc.HOUR
    known = [(h, b) for h, b in rows if h < now]
    t0, t1 = start.timestamp(), end.timestamp()
    used = sum(b for h, b in known if h >= t0)
    since = rows[0][0] if rows else now
    return fc.forecast(known, now, t0, t1, cap, used=used, since=since)


def as_output(result: dict, tz, start: datetime, end: datetime, at: datetime) -> dict:
    """The answer `hotspotctl forecast` prints: times in ISO 8601, in --at's offset."""
    def when(t):
        return None if t is None else datetime.fromtimestamp(t, tz).isoformat(timespec="minutes")
    return {"period_end_bytes": result["period_end_bytes"], "low": result["low"], "high": result["high"],
            "cap_hit_at": when(result["cap_hit_at"]), "cap_hit_earliest": when(result["cap_hit_earliest"]),
            "cap_hit_latest": when(result["cap_hit_latest"]),
            "at": at.isoformat(timespec="minutes"), "period_start": start.isoformat(timespec="minutes"),
            "period_end": end.isoformat(timespec="minutes"), "basis": result["basis"],
            "history_days": result["history_days"]}

