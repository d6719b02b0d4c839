"""The usage report the owner gets by email, daily, weekly or monthly: plan used and left, where it is
heading, the days as a chart, the top clients, unusual usage, the apps and the ghost traffic of its
range, the router's own traffic.

`build_report(data)` turns figures the caller read from the database into a `Message`: an HTML body
(tables and inline styles only, because that is all email clients agree on), a plain-text part with the
same facts, PNG charts attached inline (Gmail and Outlook show no inline SVG), a subject with the key
figures, and the same figures as JSON for a webhook. It reads nothing itself and has no clock but `now`,
so every report is a pure function of its input.

The input, `data` (timestamps are unix seconds; dates are shown in the router's local time zone; sizes
are bytes; every key but "range" may be left out):

    {
      "router": "Van 1",                  # the hotspot's name (config venue); "hotspot" if missing
      "period": "weekly",                 # "daily" | "weekly" | "monthly": which report this is
      "range": (start, end),              # what the report covers, [start, end)
      "range_bytes": 7_200_000_000,       # metered bytes in range; default: the sum of "days" in range
      "plan": {                           # the uplink's data plan this cycle (None: no plan known)
        "quota": 10_000_000_000,          # bytes this cycle allows, top-ups included; None: no quota
        "used": 7_200_000_000,            # bytes used this cycle
        "left": 2_800_000_000,            # default: quota - used
        "cycle_start": ts, "cycle_end": ts,   # [start, end) of the plan's cycle
        "forecast_end_bytes": 11_000_000_000, # usage at the cycle's end at the recent pace (or None)
        "forecast_runs_out_at": ts,       # when the quota runs out at that pace, if before cycle_end
        "forecast_low": 10_000_000_000, "forecast_high": 12_500_000_000,  # its 80 % range (optional)
        "guard": "ok",                    # plan guard level reached: ok | throttle | block | stop
      },
      "days": [(day_start, bytes_up, bytes_down), ...],   # the chart, oldest first (e.g. the cycle so
                                          # far); (day_start, None, None) is a day still to come
      "clients": [                        # the top clients by bytes in range, most first (10 shown)
        {"name": "anna-phone", "mac": "aa:bb:cc:dd:ee:01", "bytes": 3_100_000_000,
         "bytes_up": 200_000_000, "bytes_down": 2_900_000_000,   # optional split, for the bars
         "cap": 5_000_000_000,            # the client's own cap, or None
         "state": "ok"},                  # ok | warned | capped | throttled | blocked
      ],
      "router_bytes": 120_000_000,        # the router's own metered traffic in range
      "unusual": [                        # clients whose usage stood out in range
        {"name": "tablet", "mac": "...", "bytes": 2_100_000_000, "usual_bytes": 300_000_000,
         "why": "spike"},                 # spike | new | night, or a short text shown as given
      ],
      "apps": [                           # app categories used in range, most first (hotspot.apps)
        {"category": "video", "bytes": 5_200_000_000,
         "devices": [{"name": "anna-phone", "mac": "...", "bytes": 4_000_000_000}]},
      ],
      "ghost": [                          # ghost-traffic events that began in range (hotspot.ghost)
        {"name": "tablet", "mac": "...", "kind": "idle", "start": ts, "bytes": 210_000_000,
         "destinations": ["backup.example.com"]},
      ],
      "modem": {"operator": "Vodafone", "technology": "LTE", "signal": 72,   # signal: percent
                "signal_dbm": -85, "roaming": False},                       # (all optional)
    }

Names come from DHCP, so anyone on the LAN chooses them: they are cut to one printable line and
escaped in the HTML (Jinja2 autoescape); nothing from `data` reaches the subject but the router's name,
cleaned the same way, so no header can be injected.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import jinja2

from hotspot.alerts import png
from hotspot.alerts.language import Words
from hotspot.alerts.message import Message
from hotspot.core.parts import web_dir
from hotspot.core.units import format_bytes
from hotspot.ghost.watch import kind_text

APPS = 8  # app categories listed (there are seven and "other")
TOP = 10  # clients listed: each has a bar image, and an email with dozens of images reads badly
NAME_LIMIT = 40  # characters of a client's name shown (DHCP allows 63, and phones make long ones)

# portal.css, so the email looks like the admin UI
COLOUR = {
    "bg": "#f4f6f9", "card": "#ffffff", "ink": "#1b2330", "muted": "#667085", "line": "#e3e7ee",
    "brand": "#0f766e", "up": "#f59e0b", "good": "#16a34a", "warn": "#d97706", "bad": "#dc2626",
    "good_bg": "#ecfdf3", "warn_bg": "#fffbeb", "bad_bg": "#fef2f2", "track": "#e8ecf2",
    "badge_good": "#166534", "badge_warn": "#92400e", "badge_bad": "#991b1b",
    "badge_good_bg": "#ecfdf3", "badge_warn_bg": "#fef3c7", "badge_bad_bg": "#fee2e2",
}
# Chart sizes in CSS pixels: the card's inner width at the email's 600 px; images are drawn at 2x.
CHART_WIDTH, CHART_HEIGHT, GAUGE_HEIGHT, CLIENT_BAR_HEIGHT = 560, 140, 12, 8


def build_report(data: dict, *, lang: str = "en", now: float | None = None) -> Message:
    """The report for `data` (shape in the module docstring) in `lang` ("en", or "zh-Hans"/"zh";
    others: English).
    `now` is when it is made (default: the clock), shown in the footer."""
    words = Words(lang)
    now = time.time() if now is None else now
    f = figures(data)
    view = _view(f, data, words, now)
    images = _charts(f, view)
    html = _environment(words.lang).get_template("email/report.html").render(v=view, c=COLOUR)
    text = _environment(words.lang).get_template("email/report.txt").render(v=view)
    return Message(subject=view["subject"], text=text, html=html, images=tuple(images),
                   data=view["data"])


# -- language: hotspot.alerts.language's Words (the owner's catalogue and date formats) ---------------------


# -- the view: every finished string and figure the templates, the subject and the JSON use ------------------


def clean(text: object, limit: int = NAME_LIMIT) -> str:
    """One printable line of at most `limit` characters: control, format (bidi overrides) and line
    characters become spaces, so a hostile DHCP name cannot break a line or reorder the text."""
    s = "".join(c if c.isprintable() else " " for c in str(text or ""))
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 1].rstrip() + "…"


def _int(value) -> int | None:
    if value is None:
        return None
    return max(0, int(value))


def percent(used: int, whole: int | None) -> int | None:
    """Share of `whole` used; never 100 while some is left, so '100%' always means used up."""
    if whole is None:
        return None
    if whole <= 0:
        return 100
    p = round(100 * used / whole)
    return min(p, 99) if used < whole else max(p, 100)


def tone_of_percent(p: int | None, guard: str) -> str:
    if guard in ("block", "stop") or (p is not None and p >= 100):
        return "bad"
    if guard == "throttle" or (p is not None and p >= 80):
        return "warn"
    return "good"


_TONE = {"ok": "good", "warned": "warn", "throttled": "warn"}  # as the admin UI (views.tone)


def _state_label(w: Words, state: str | None) -> str:
    return {"ok": w._("OK"), "warned": w._("Near cap"), "capped": w._("Capped"),
            "throttled": w._("Slowed"), "blocked": w._("Blocked")}.get(state or "", clean(state or "", 20))


def _forecast(w: Words, plan: dict, quota: int | None, used: int) -> str:
    """The forecast's sentence, and its range where the data has one (hotspot.forecast.model)."""
    text = _forecast_point(w, plan, quota, used)
    low, high, total = (_int(plan.get(k)) for k in ("forecast_low", "forecast_high", "forecast_end_bytes"))
    if text and None not in (low, high, total) and not (quota is not None and used >= quota):
        text = w.sentence(text, w._("Likely %(total)s in all (%(range)s).", total=format_bytes(total),
                                    range=_size_range(low, high)))
    return text


def _size_range(low: int, high: int) -> str:
    """'10.0–12.5 GB' (one unit when both share it)."""
    a, b = format_bytes(low), format_bytes(high)
    na, ua = a.rsplit(" ", 1)
    nb, ub = b.rsplit(" ", 1)
    return a if a == b else f"{na}–{nb} {ub}" if ua == ub else f"{a}–{b}"


def _forecast_point(w: Words, plan: dict, quota: int | None, used: int) -> str:
    end = plan.get("cycle_end")
    total = _int(plan.get("forecast_end_bytes"))
    runs_out = plan.get("forecast_runs_out_at")
    if quota is not None and used >= quota:
        return w._("The plan is used up.")
    if quota is not None and runs_out is not None:
        return w._("At this pace the plan runs out on %(date)s.", date=w.day(runs_out))
    if total is None or end is None:
        return ""
    if quota is None:
        return w._("At this pace about %(total)s will be used by the end of the cycle (%(date)s).",
                   total=format_bytes(total), date=w.until(end))
    if total > quota:
        return w._("At this pace the plan runs out before the end of the cycle (%(date)s).",
                   date=w.until(end))
    return w._("At this pace the plan lasts to the end of the cycle (%(date)s) with %(left)s left.",
               date=w.until(end), left=format_bytes(quota - total))


def _guard(w: Words, state: str | None) -> str:
    return {
        "throttle": w._("The plan guard is slowing every device except the exempt ones."),
        "block": w._("The plan guard is blocking every device except the exempt ones."),
        "stop": w._("The plan guard has stopped all mobile data, the router's own too."),
    }.get(state or "ok", "")


def _unusual(w: Words, u: dict) -> dict:
    """One unusual client: its name, and what stood out in one line ('2.10 GB, 7× the usual 300 MB')."""
    mac, name = clean(u.get("mac"), 17), clean(u.get("name"))
    why, got, usual = u.get("why"), _int(u.get("bytes")) or 0, _int(u.get("usual_bytes"))
    size = format_bytes(got)
    if why == "spike" and usual:
        times = f"{got / usual:.0f}" if got >= 10 * usual else f"{got / usual:.1f}"
        detail = w._("%(bytes)s, %(times)s× the usual %(usual)s", bytes=size, times=times,
                     usual=format_bytes(usual))
    else:
        detail = w._("%(bytes)s, usually %(usual)s", bytes=size, usual=format_bytes(usual)) \
            if usual is not None else size
        reason = {"spike": w._("Far more than usual."), "new": w._("A new device."),
                  "night": w._("Mostly at night.")}.get(why or "", clean(why, 80))
        if reason:
            detail += " · " + reason
    return {"name": name or mac, "mac": mac if name else "", "detail": detail}


def category_label(w: Words, category: str) -> str:
    """An app category's name, as the portal's apps card says it."""
    return {"video": w._("Video"), "social": w._("Social"), "messaging": w._("Messaging"),
            "maps": w._("Maps"), "backup": w._("Cloud backup"), "updates": w._("Updates"),
            "games": w._("Games"), "other": w._("Other")}.get(category, clean(category, 20))


def _app(w: Words, a: dict) -> dict:
    """One app category of the range: its name, bytes, and the devices that used it most."""
    devices = [f"{clean(d.get('name')) or clean(d.get('mac'), 17)} {format_bytes(_int(d.get('bytes')) or 0)}"
               for d in a.get("devices") or []]
    return {"label": category_label(w, str(a.get("category"))),
            "bytes": format_bytes(_int(a.get("bytes")) or 0), "devices": devices,
            "separator": w.list(["", ""])}


def _ghost(w: Words, e: dict) -> dict:
    """One ghost-traffic event of the range: who, when, how much, what, and where to."""
    mac, name = clean(e.get("mac"), 17), clean(e.get("name"))
    dests = w.list(clean(d, 60) for d in e.get("destinations") or [])
    return {"name": name or mac, "mac": mac if name else "", "when": w.when(e["start"]),
            "bytes": format_bytes(_int(e.get("bytes")) or 0), "what": kind_text(w, e.get("kind") or ""),
            "destinations": dests}


def _modem(w: Words, m: dict | None) -> list[str]:
    """The uplink in a few short parts (operator, technology, signal, roaming), each kept on one line."""
    if not m:
        return []
    parts = [clean(m.get("operator"), 30), clean(m.get("technology"), 12)]
    if m.get("signal") is not None:
        dbm = f" ({int(m['signal_dbm'])} dBm)" if m.get("signal_dbm") is not None else ""
        parts.append(w._("signal %(pct)s%%", pct=int(m["signal"])) + dbm)
    elif m.get("signal_dbm") is not None:
        parts.append(w._("signal %(dbm)s dBm", dbm=int(m["signal_dbm"])))
    if m.get("roaming"):
        parts.append(w._("roaming"))
    return [p for p in parts if p]


def _pace(plan: dict) -> float | None:
    """The plan's even pace, bytes a day: the chart's dashed line (days above it eat into the rest)."""
    quota = _int(plan.get("quota"))
    if not quota or plan.get("cycle_start") is None or plan.get("cycle_end") is None:
        return None
    cycle_days = (plan["cycle_end"] - plan["cycle_start"]) / 86400
    return quota / cycle_days if cycle_days >= 1 else None


def _chart_labels(w: Words, days: list) -> list[dict]:
    """The dates under the columns, as equal HTML cells that line up with the image's slots: every day
    for a week (weekday over the day of the month), else one date every few days."""
    n = len(days)
    if n == 0:
        return []
    if n <= 8:
        return [{"top": w.weekday(d[0]), "bottom": w.local(d[0]).day if w.lang == "en"
                 else f"{w.local(d[0]).day}日", "width": 100 / n, "align": "center"} for d in days]
    every = math.ceil(n / 6)
    return [{"top": w.day(days[i][0]), "bottom": "", "width": 100 * min(every, n - i) / n, "align": "left"}
            for i in range(0, n, every)]


@dataclass(frozen=True)
class Figures:
    """The raw numbers of a report, read once from `data` with its defaults filled in: what the view
    formats, the charts draw and the webhook gets."""

    period: str
    start: float
    end: float
    router: str
    plan: dict
    quota: int | None
    used: int
    left: int | None
    percent: int | None
    guard: str
    days: list  # [(day_start, up, down)], None for days to come
    up: int  # in the report's range, from the days
    down: int
    range_bytes: int
    router_bytes: int | None
    pace: float | None  # the plan's even pace, bytes a day


def figures(data: dict) -> Figures:
    plan = dict(data.get("plan") or {})
    start, end = data["range"]
    quota, used = _int(plan.get("quota")), _int(plan.get("used")) or 0
    left = _int(plan["left"]) if plan.get("left") is not None else (
        None if quota is None else max(0, quota - used))
    days = [(d[0], _int(d[1]), _int(d[2])) for d in data.get("days") or []]
    in_range = [d for d in days if start <= d[0] < end]
    up, down = sum(d[1] or 0 for d in in_range), sum(d[2] or 0 for d in in_range)
    return Figures(
        period=data.get("period") if data.get("period") in ("daily", "weekly", "monthly") else "weekly",
        start=start, end=end, router=clean(data.get("router")) or "hotspot", plan=plan,
        quota=quota, used=used, left=left, percent=percent(used, quota), guard=plan.get("guard") or "ok",
        days=days, up=up, down=down,
        range_bytes=_int(data["range_bytes"]) if data.get("range_bytes") is not None else up + down,
        router_bytes=_int(data.get("router_bytes")), pace=_pace(plan),
    )


def _client(w: Words, i: int, c: dict) -> dict:
    got, mac, name, cap = _int(c.get("bytes")) or 0, clean(c.get("mac"), 17), clean(c.get("name")), \
        _int(c.get("cap"))
    up, down = _int(c.get("bytes_up")), _int(c.get("bytes_down"))
    return {
        "rank": i, "name": name or mac, "named": bool(name), "mac": mac if name else "",
        "bytes": format_bytes(got), "raw": got, "raw_up": up, "raw_down": down,
        "down": format_bytes(down) if down is not None and up is not None else "",
        "up": format_bytes(up) if down is not None and up is not None else "",
        "cap": w._("cap %(cap)s", cap=format_bytes(cap)) if cap is not None else w._("No cap"),
        "cap_size": format_bytes(cap) if cap is not None else w._("No cap"),
        "state": _state_label(w, c.get("state")), "tone": _TONE.get(c.get("state") or "", "bad"),
        "cid": f"report-client-{i}",
    }


def _subject(w: Words, f: Figures) -> tuple[str, str]:
    """The subject, and its summary of the plan (the email's preview text when there is no forecast)."""
    if f.quota is None:
        summary = w._("%(used)s used this cycle", used=format_bytes(f.used)) if f.plan else \
            w._("%(used)s used", used=format_bytes(f.range_bytes))
    elif f.used >= f.quota:
        summary = w._("plan used up")
    else:
        summary = w._("plan %(pct)s%% used, %(left)s left", pct=f.percent, left=format_bytes(f.left or 0))
    report = {"daily": w._("daily report"), "monthly": w._("monthly report")}.get(f.period) or \
        w._("weekly report")
    subject = w._("%(router)s: %(report)s — %(summary)s", router=f.router, report=report, summary=summary)
    return subject, summary


def _view(f: Figures, data: dict, w: Words, now: float) -> dict:
    plan = f.plan
    forecast = _forecast(w, plan, f.quota, f.used)
    subject, summary = _subject(w, f)
    has_cycle = plan.get("cycle_start") is not None and plan.get("cycle_end") is not None
    counted = any(d[1] is not None or d[2] is not None for d in f.days if f.start <= d[0] < f.end)
    highest = max([(d[1] or 0) + (d[2] or 0) for d in f.days] + [f.pace or 0, 0])
    view = {
        "lang": w.lang, "html_lang": "zh-CN" if w.lang == "zh" else "en",
        "router": f.router, "subject": subject, "preheader": forecast or summary,
        "title": {"daily": w._("Daily report"), "monthly": w._("Monthly report")}.get(f.period,
                                                                                     w._("Weekly report")),
        "range": w.span(f.start, f.end), "span": (f.start, f.end),
        "plan": {
            "known": bool(plan), "has_quota": f.quota is not None,
            "quota": format_bytes(f.quota) if f.quota is not None else "", "used": format_bytes(f.used),
            "left": format_bytes(f.left) if f.left is not None else "", "percent": f.percent,
            "tone": tone_of_percent(f.percent, f.guard), "forecast": forecast, "guard": _guard(w, f.guard),
            "cycle": w.span(plan["cycle_start"], plan["cycle_end"]) if has_cycle else "",
            "cid": "report-gauge" if f.quota is not None else "",
        },
        "total": {"bytes": format_bytes(f.range_bytes), "down": format_bytes(f.down) if counted else "",
                  "up": format_bytes(f.up) if counted else ""},
        "chart": {
            "cid": "report-daily", "max": format_bytes(highest), "labels": _chart_labels(w, f.days),
            "pace": w._("%(size)s a day", size=format_bytes(f.pace)) if f.pace else "",
            "has_up": any(d[1] for d in f.days),
        } if f.days else None,
        "clients": [_client(w, i, c) for i, c in enumerate((data.get("clients") or [])[:TOP], 1)],
        "unusual": [_unusual(w, u) for u in data.get("unusual") or []],
        "router_bytes": format_bytes(f.router_bytes) if f.router_bytes is not None else "",
        "router_share": percent(f.router_bytes, f.range_bytes)
        if f.router_bytes is not None and f.range_bytes else None,
        "modem": _modem(w, data.get("modem")),
        "apps": [_app(w, a) for a in (data.get("apps") or [])[:APPS]],
        "ghost": [_ghost(w, e) for e in data.get("ghost") or []],
        "generated": w.when(now),
        "sizes": {"chart": (CHART_WIDTH, CHART_HEIGHT), "gauge": (CHART_WIDTH, GAUGE_HEIGHT),
                  "client": (CHART_WIDTH, CLIENT_BAR_HEIGHT)},
    }
    view["text"] = _text_tables(w, view, f.days)
    view["data"] = _data(f, data, view, w)
    return view


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def _data(f: Figures, data: dict, view: dict, w: Words) -> dict:
    """The key figures for a webhook: raw numbers (bytes, ISO 8601 times with the offset), few words."""
    plan = f.plan
    return {
        "type": "usage_report", "period": f.period, "router": f.router, "lang": w.lang,
        "range": {"start": _iso(f.start), "end": _iso(f.end)},
        "range_bytes": f.range_bytes, "router_bytes": f.router_bytes,
        "plan": {
            "quota": f.quota, "used": f.used, "left": f.left, "percent": f.percent, "guard": f.guard,
            "cycle_start": _iso(plan.get("cycle_start")), "cycle_end": _iso(plan.get("cycle_end")),
            "forecast_end_bytes": _int(plan.get("forecast_end_bytes")),
            "forecast_runs_out_at": _iso(plan.get("forecast_runs_out_at")),
            "forecast_low": _int(plan.get("forecast_low")), "forecast_high": _int(plan.get("forecast_high")),
            "forecast": view["plan"]["forecast"],
        } if plan else None,
        "top_clients": [{"name": clean(c.get("name")) or None, "mac": clean(c.get("mac"), 17),
                         "bytes": _int(c.get("bytes")) or 0, "cap": _int(c.get("cap")),
                         "state": c.get("state")} for c in (data.get("clients") or [])[:TOP]],
        "unusual": [{"name": clean(u.get("name")) or None, "mac": clean(u.get("mac"), 17),
                     "bytes": _int(u.get("bytes")) or 0, "usual_bytes": _int(u.get("usual_bytes")),
                     "why": clean(u.get("why"), 80) or None} for u in data.get("unusual") or []],
        "apps": [{"category": clean(a.get("category"), 20), "bytes": _int(a.get("bytes")) or 0,
                  "devices": [{"name": clean(d.get("name")) or None, "mac": clean(d.get("mac"), 17),
                               "bytes": _int(d.get("bytes")) or 0} for d in a.get("devices") or []]}
                 for a in (data.get("apps") or [])[:APPS]],
        "ghost": [{"name": clean(e.get("name")) or None, "mac": clean(e.get("mac"), 17),
                   "kind": clean(e.get("kind"), 20), "start": _iso(e.get("start")),
                   "bytes": _int(e.get("bytes")) or 0} for e in data.get("ghost") or []],
    }


# -- plain text ----------------------------------------------------------------------------------------------


# East Asian wide and fullwidth characters (Unicode's East_Asian_Width W and F, in broad blocks): they take
# two columns. A table rather than `unicodedata`, which OpenWrt ships apart (python3-codecs).
_WIDE = ((0x1100, 0x115F), (0x2E80, 0x303E), (0x3041, 0x33FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF),
         (0xA000, 0xA4CF), (0xAC00, 0xD7A3), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFF60),
         (0xFFE0, 0xFFE6), (0x1F300, 0x1F64F), (0x1F900, 0x1F9FF), (0x20000, 0x3FFFD))


def width(s: str) -> int:
    """Columns `s` takes in a monospaced font: CJK characters take two."""
    return sum(2 if any(a <= ord(c) <= b for a, b in _WIDE) else 1 for c in s)


def _pad(s: str, n: int, right: bool = False) -> str:
    fill = " " * max(0, n - width(s))
    return fill + s if right else s + fill


def align(rows: list[list[str]], right: set[int] = frozenset(), gap: int = 3) -> list[str]:
    """Rows of cells as aligned lines; the columns in `right` are aligned right (numbers)."""
    if not rows:
        return []
    n = max(len(r) for r in rows)
    widths = [max(width(r[i]) if i < len(r) else 0 for r in rows) for i in range(n)]
    lines = []
    for r in rows:
        cells = [_pad(r[i] if i < len(r) else "", widths[i], i in right) for i in range(n)]
        lines.append((" " * gap).join(cells).rstrip())
    return lines


def _text_days(days: list, span: tuple[float, float]) -> list:
    """The days the text lists: those of the report's range, or at least the last week up to its end
    (a daily report's one day says little alone); the HTML's chart shows them all."""
    past = [d for d in days if d[0] < span[1] and not (d[1] is None and d[2] is None)]
    inside = [d for d in past if d[0] >= span[0]]
    return inside if len(inside) >= 7 else past[-7:]


def _text_tables(w: Words, view: dict, days: list) -> dict:
    plan = view["plan"]
    facts = []
    if plan["has_quota"]:
        facts.append([w._("Used"), w._("%(used)s of %(quota)s (%(pct)s%%)", used=plan["used"],
                                          quota=plan["quota"], pct=plan["percent"])])
        facts.append([w._("Left"), plan["left"]])
    elif plan["known"]:
        facts.append([w._("Used"), plan["used"]])
    if plan["cycle"]:
        facts.append([w._("Cycle"), plan["cycle"]])
    rows = [[w._("Day"), w._("Download"), w._("Upload"), w._("Total")]]
    for ts, up, down in _text_days(days, view["span"]):
        rows.append([w.weekday_day(ts), format_bytes(down or 0), format_bytes(up or 0),
                     format_bytes((up or 0) + (down or 0))])
    clients = [["#", w._("Device"), w._("MAC"), w._("Used"), w._("Cap"), w._("State")]]
    for c in view["clients"]:
        clients.append([str(c["rank"]), c["name"], c["mac"], c["bytes"], c["cap_size"], c["state"]])
    other = []
    if view["router_bytes"]:
        share = f" ({w._('%(pct)s%% of all traffic', pct=view['router_share'])})" \
            if view["router_share"] is not None else ""
        other.append([w._("The router itself"), view["router_bytes"] + share])
    if view["modem"]:
        other.append([w._("Uplink"), " · ".join(view["modem"])])
    apps = [[a["label"], a["bytes"], a["separator"].join(a["devices"])] for a in view["apps"]]
    return {
        "facts": align(facts),
        "apps": align(apps, right={1}),
        "days": align(rows, right={1, 2, 3}) if len(rows) > 1 else [],
        "clients": align(clients, right={0, 3}) if len(clients) > 1 else [],
        "other": align(other),
    }


# -- charts --------------------------------------------------------------------------------------------------


def _charts(f: Figures, view: dict) -> list[tuple[str, bytes]]:
    """The PNGs the HTML references, in its order: the plan gauge, the days, one bar per top client."""
    images = []
    if view["plan"]["cid"]:
        colour = COLOUR[view["plan"]["tone"]]
        images.append((view["plan"]["cid"], png.meter([(min(f.used, f.quota or 0), colour)], f.quota or 0,
                                                      CHART_WIDTH, GAUGE_HEIGHT, track=COLOUR["track"])))
    if view["chart"]:
        stacks = [None if up is None and down is None
                  else [(down or 0, COLOUR["brand"]), (up or 0, COLOUR["up"])] for _day, up, down in f.days]
        images.append((view["chart"]["cid"], png.columns(
            stacks, CHART_WIDTH, CHART_HEIGHT, grid=COLOUR["line"], empty=COLOUR["track"],
            guide=(f.pace, COLOUR["bad"]) if f.pace else None)))
    most = max([c["raw"] for c in view["clients"]] + [1])
    for c in view["clients"]:
        up, down = c["raw_up"], c["raw_down"]
        if up is not None and down is not None and up + down > 0:  # split the client's bytes as its traffic
            share = down / (up + down)
            parts = [(c["raw"] * share, COLOUR["brand"]), (c["raw"] * (1 - share), COLOUR["up"])]
        else:
            parts = [(c["raw"], COLOUR["brand"])]
        images.append((c["cid"], png.meter(parts, most, CHART_WIDTH, CLIENT_BAR_HEIGHT,
                                           track=COLOUR["track"])))
    return images


# -- templates -----------------------------------------------------------------------------------------------


@cache
def _environment(lang: str) -> jinja2.Environment:
    """One Jinja2 environment per language: autoescape for .html (client names are attacker-chosen),
    none for .txt; the i18n extension with the same catalogue as the portal."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(web_dir() / "templates")),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    words = Words(lang)
    env.install_gettext_translations(words.catalogue, newstyle=True)
    env.filters["underline"] = lambda s: f"{s}\n{'-' * width(str(s))}"
    return env
