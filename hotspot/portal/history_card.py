"""The usage-history card of the client page and of the admin's client and plan pages: a date range
(from/to and presets), a weekly (or monthly) trend, a month calendar coloured by each day's usage
(a day opens its hours), and an hour-of-week heatmap. All built here as plain data for the template
(HTML and inline SVG, no chart library, no inline styles: the CSP forbids them); the page works
without JS, web/static/history.js only opens a day's hours in place.

`fetch(by, since, until)` is the backend's me_history or history for the page's subject; the page's
parameters (`from`, `to` both included, `month` YYYY-MM, `day` YYYY-MM-DD) come from the URL and are
checked here: a bad one is named in one line and the defaults are used instead.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from hotspot.core.contract import BackendError
from hotspot.core.units import MAX_YEAR, MIN_YEAR
from hotspot.portal.i18n import _, format_date, format_size, get_locale

LEVELS = 5
TREND_WEEKS = 26  # a longer range is drawn by month
PRESETS = (("4w", 28), ("12w", 84), ("6m", 182), ("12m", 365))
_WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WEEKDAYS_ZH = ("一", "二", "三", "四", "五", "六", "日")
_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")


def level(n: int, top: int) -> int:
    """0 for nothing, else 1-5 in proportion to the busiest bucket."""
    if n <= 0 or top <= 0:
        return 0
    return max(1, min(LEVELS, math.ceil(LEVELS * n / top)))


def short_size(n: int) -> str:
    """'1.2G', '850M', '12k': what fits in a calendar cell."""
    if n <= 0:
        return ""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale * 0.9995:
            v = n / scale
            return f"{v:.1f}{unit}" if v < 9.95 else f"{v:.0f}{unit}"
    return f"{n}B"


def weekday_names() -> tuple[str, ...]:
    return _WEEKDAYS_ZH if get_locale() == "zh" else _WEEKDAYS_EN


def month_title(d: date) -> str:
    if get_locale() == "zh":
        return f"{d.year}年{d.month}月"
    return f"{_MONTHS_EN[d.month - 1]} {d.year}"


def month_short(d: date) -> str:
    return f"{d.month}月" if get_locale() == "zh" else _MONTHS_EN[d.month - 1][:3]


def _written_day(text) -> date | None:
    try:
        return date.fromisoformat(text) if isinstance(text, str) and len(text) == 10 else None
    except ValueError:
        return None


def _day(text) -> date | None:
    """A YYYY-MM-DD in the years a date may name (hotspot/core/units.py), else None: the day after it,
    the month around it, are still dates."""
    d = _written_day(text)
    return d if d is not None and date(MIN_YEAR, 1, 1) <= d <= date(MAX_YEAR, 12, 31) else None


def _month(text) -> date | None:
    return _day(f"{text}-01") if isinstance(text, str) and len(text) == 7 else None


def _add_months(d: date, n: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    return date(y, m + 1, 1)


def _local(iso: str) -> datetime:
    """A bucket's start as the router wrote it (its local time, with its offset)."""
    return datetime.fromisoformat(iso).replace(tzinfo=None)


def _by_day(rows: list[dict]) -> dict[date, int]:
    return {_local(r["start"]).date(): r["bytes_total"] for r in rows}


def _bars(items: list[tuple[str, int, str]]) -> dict:
    """Bars for an inline SVG (viewBox 0 0 10n 100, stretched): [(label, bytes, title)]."""
    top = max([n for _l, n, _t in items] + [0])
    bars = []
    for i, (label, n, title) in enumerate(items):
        h = 0 if not top else max(1.5, 96 * n / top) if n else 0
        bars.append({"x": i * 10 + 1.5, "y": round(100 - h, 2), "h": round(h, 2), "label": label,
                     "title": title, "bytes": n})
    return {"bars": bars, "width": 10 * len(items), "max": format_size(top) if top else None}


def _whole(items: list[tuple[str, int, str]]) -> list[int]:
    """The finished buckets (not the current one) from the first with usage: what an average is of."""
    spent = [n for _l, n, _t in items[:-1]]
    while spent and not spent[0]:
        spent.pop(0)
    return spent


class Page:
    """The history card's data for one request."""

    def __init__(self, fetch, args, today: date) -> None:
        self.fetch = fetch
        self.args = args
        self.errors: list[str] = []
        self.today = today
        self.first, self.last = self._range()
        self.hourly_from = self.daily_from = None
        self.roaming_days: set[date] = set()  # the plan's: days the modem roamed on

    # -- the page's parameters -----------------------------------------------------------------

    def _range(self) -> tuple[date, date]:
        """[first, last] days, both included: the URL's, else the last 12 weeks (whole weeks)."""
        default = (self.today - timedelta(days=self.today.weekday() + 77), self.today)
        given = [self.args.get(k) for k in ("from", "to")]
        if not any(given):
            return default
        first, last = (_day(g) if g else None for g in given)
        if (given[0] and first is None) or (given[1] and last is None):
            if all(_written_day(g) for g in given if g):
                self.errors.append(_("Dates are in the years %(first)s to %(last)s.",
                                     first=MIN_YEAR, last=MAX_YEAR))
            else:
                self.errors.append(_("Dates are written YYYY-MM-DD, e.g. %(example)s.",
                                     example=self.today.isoformat()))
            return default
        last = last or self.today
        first = first or last - timedelta(days=83)
        if first > last:
            self.errors.append(_("The range must end after it starts."))
            return default
        return first, last

    def link(self, **changes) -> str:
        params = {k: self.args.get(k) for k in ("from", "to", "month", "day")}
        params.update(changes)
        return "?" + urlencode({k: v for k, v in params.items() if v}) + "#history"

    def _get(self, by: str, first: date, end: date) -> dict | None:
        try:
            found = self.fetch(by, first.isoformat(), end.isoformat())
        except BackendError as e:
            self.errors.append(str(e))
            return None
        self.hourly_from = _local(found["hourly_from"]).date()
        self.daily_from = _local(found["daily_from"]).date()
        for span in found.get("roaming") or ():  # the plan's: the days the modem roamed on
            d, last = _local(span["from"]).date(), _local(span["to"] or found["now"]).date()
            while d <= last:
                self.roaming_days.add(d)
                d += timedelta(days=1)
        return found

    # -- the sections ----------------------------------------------------------------------------

    def build(self) -> dict:
        weeks = (self.last - self.first).days + 1 <= TREND_WEEKS * 7
        by = "day" if weeks else "month"
        start = self.first if weeks else self.first.replace(day=1)
        found = self._get(by, start, self.last + timedelta(days=1))
        router_today = _local(found["now"]).date() if found else self.today
        if router_today != self.today:  # this process's clock is not the router's (tests, a demo)
            self.today = router_today
            self.errors = []
            self.first, self.last = self._range()
            return self.build()
        if found is None and (self.args.get("from") or self.args.get("to")):
            self.first, self.last = self.today - timedelta(days=self.today.weekday() + 77), self.today
            weeks, by, start = True, "day", self.first
            found = self._get(by, start, self.last + timedelta(days=1))
        rows = found["rows"] if found else []
        days = _by_day(rows) if weeks else {}
        trend = self._weeks(days) if weeks else self._months(rows)
        month = _month(self.args.get("month")) or self.last.replace(day=1)
        if self.args.get("month") and _month(self.args.get("month")) is None:
            self.errors.append(_("Months are written YYYY-MM, e.g. %(example)s.",
                                 example=self.today.isoformat()[:7]))
        calendar = self._calendar(month, days if weeks and start <= month else None)
        hours = self._hours()
        total = sum(r["bytes_total"] for r in rows)
        return {
            "errors": self.errors,
            "first": self.first.isoformat(), "last": self.last.isoformat(),
            "today": self.today.isoformat(),
            "range_text": self._range_text(),
            "total_text": format_size(total),
            "presets": [self._preset(key, n) for key, n in PRESETS],
            "trend": trend,
            "calendar": calendar,
            "roaming": bool(self.roaming_days),
            "heatmap": hours["heatmap"],
            "day": hours["day"],
        }

    def _range_text(self) -> str:
        if get_locale() == "zh":
            return f"{self.first.year}年{format_date(self.first)} – {format_date(self.last)}"
        return f"{format_date(self.first)} – {format_date(self.last)} {self.last.year}"

    def _preset(self, key: str, days: int) -> dict:
        first = self.today - timedelta(days=days - 1)
        label = {"4w": _("4 weeks"), "12w": _("12 weeks"), "6m": _("6 months"), "12m": _("12 months")}[key]
        return {"key": key, "label": label, "current": (self.first, self.last) == (first, self.today),
                "href": self.link(**{"from": first.isoformat(), "to": self.today.isoformat(), "day": None})}

    def _weeks(self, days: dict[date, int]) -> dict:
        monday = self.first - timedelta(days=self.first.weekday())
        items = []
        while monday <= self.last:
            n = sum(days.get(monday + timedelta(days=i), 0) for i in range(7))
            label = f"{monday.month}/{monday.day}" if get_locale() == "zh" else format_date(monday)
            items.append((label, n, _("Week of %(date)s: %(size)s", date=format_date(monday),
                                                      size=format_size(n))))
            monday += timedelta(days=7)
        out = _bars(items)
        spent = _whole(items)
        out.update(title=_("By week"), average=spent and _("%(size)s a week on average",
                                                            size=format_size(sum(spent) // len(spent))))
        return out

    def _months(self, rows: list[dict]) -> dict:
        got = {_local(r["start"]).date().replace(day=1): r["bytes_total"] for r in rows}
        items, m = [], self.first.replace(day=1)
        while m <= self.last:
            n = got.get(m, 0)
            items.append((month_short(m), n, f"{month_title(m)}: {format_size(n)}"))
            m = _add_months(m, 1)
        out = _bars(items)
        spent = _whole(items)
        out.update(title=_("By month"), average=spent and _("%(size)s a month on average",
                                                             size=format_size(sum(spent) // len(spent))))
        return out

    def _calendar(self, month: date, known: dict[date, int] | None) -> dict:
        end = _add_months(month, 1)
        if known is None or month < self.first:
            kept = self.daily_from is None or month >= self.daily_from
            found = self._get("day", month, end) if kept else None
            known = _by_day(found["rows"]) if found else {}
        in_month = {d: n for d, n in known.items() if month <= d < end}
        top = max(in_month.values(), default=0)
        selected = _day(self.args.get("day"))
        first_cell = month - timedelta(days=month.weekday())
        weeks, d = [], first_cell
        while d < end:
            week = []
            for _i in range(7):
                n = in_month.get(d, 0)
                inside, future = month <= d < end, d > self.today
                hours = inside and not future and self.hourly_from is not None and d >= self.hourly_from
                week.append({"date": d.isoformat(), "num": d.day, "inside": inside, "future": future,
                             "level": level(n, top) if inside else 0, "text": short_size(n) if inside else "",
                             "title": f"{format_date(d)}: {format_size(n)}"
                             + (f" · {_('roaming')}" if d in self.roaming_days else ""),
                             "roaming": inside and d in self.roaming_days,
                             "href": self.link(day=d.isoformat(), month=f"{month:%Y-%m}") if hours else None,
                             "selected": d == selected, "today": d == self.today})
                d += timedelta(days=1)
            weeks.append(week)
        prev, nxt = _add_months(month, -1), end
        return {
            "title": month_title(month), "weekdays": weekday_names(), "weeks": weeks,
            "total_text": format_size(sum(in_month.values())),
            "prev": self.link(month=prev.isoformat()[:7], day=None)
            if self.daily_from is None or end > self.daily_from + timedelta(days=1) else None,
            "next": self.link(month=nxt.isoformat()[:7], day=None) if nxt <= self.today else None,
        }

    def _hours(self) -> dict:
        """The heatmap (the range's hours that are still kept) and the chosen day's hours."""
        heat = {"rows": [], "note": None, "peak": None}
        day = _day(self.args.get("day"))
        day_out = None
        if self.hourly_from is None:
            return {"heatmap": heat, "day": None}
        first = max(self.first, self.hourly_from)
        rows: list[dict] = []
        if first <= self.last:
            found = self._get("hour", first, self.last + timedelta(days=1))
            rows = found["rows"] if found else []
        grid = [[0] * 24 for _ in range(7)]
        for r in rows:
            t = _local(r["start"])
            grid[t.weekday()][t.hour] += r["bytes_total"]
        top = max(max(row) for row in grid)
        names = weekday_names()
        heat["rows"] = [{"name": names[w], "cells": [{"level": level(n, top)} for n in grid[w]]}
                        for w in range(7)]  # no per-cell title: 168 of them would weigh 8 kB
        heat["span"] = f"{format_date(first)} – {format_date(self.last)}"
        if first > self.first:
            heat["note"] = _("Hour by hour only since %(date)s: older usage is kept by day.",
                             date=format_date(self.hourly_from))
        if top:
            w, h = max(((w, h) for w in range(7) for h in range(24)), key=lambda wh: grid[wh[0]][wh[1]])
            heat["peak"] = _("Busiest: %(day)s %(hour)s:00", day=names[w], hour=str(h).zfill(2))
        if day is not None and day <= self.today:
            if day < self.hourly_from:
                self.errors.append(_("Hour by hour only since %(date)s: older usage is kept by day.",
                                     date=format_date(self.hourly_from)))
            else:
                if not (first <= day <= self.last):
                    found = self._get("hour", day, day + timedelta(days=1))
                    rows = found["rows"] if found else []
                by_hour = {_local(r["start"]).hour: r["bytes_total"] for r in rows
                           if _local(r["start"]).date() == day}
                out = _bars([(f"{h:02d}" if h % 6 == 0 else "", by_hour.get(h, 0),
                              f"{h:02d}:00 · {format_size(by_hour.get(h, 0))}") for h in range(24)])
                out.update(date=day.isoformat(), title=_("%(date)s, by hour", date=format_date(day)),
                           total_text=format_size(sum(by_hour.values())))
                day_out = out
        return {"heatmap": heat, "day": day_out}


def history_card(fetch, args, today: date | None = None) -> dict:
    """The card's data; `today` the router's (default: this process's local date)."""
    return Page(fetch, args, today or date.today()).build()
