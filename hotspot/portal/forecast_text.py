"""The forecast in words and as a band, for the client page, the admin client page and the plan:
"1.2–1.6 GB by 1 Dec, likely 1.4 GB", and when a cap or the plan is likely reached. The range is the
forecaster's 80 % range (hotspot.forecast.model); the pages draw it with the macro in _forecast.html."""

from __future__ import annotations

from hotspot.portal.i18n import _, format_date, format_size, format_time


def size_range(low: int, high: int) -> str:
    """'1.2–1.6 GB' (one unit when both share it), '900 MB–1.2 GB' otherwise."""
    a, b = format_size(low), format_size(high)
    if a == b:
        return a
    na, ua = a.rsplit(" ", 1)
    nb, ub = b.rsplit(" ", 1)
    return f"{na}–{nb} {ub}" if ua == ub else f"{a}–{b}"


def range_sentence(f: dict, end) -> str:
    """'1.2–1.6 GB by 1 Dec, likely 1.4 GB'."""
    return _("%(range)s by %(date)s, likely %(total)s", range=size_range(f["low"], f["high"]),
             date=format_date(end), total=format_size(f["period_end_bytes"]))


def client_sentence(c: dict) -> str:
    """The client page's forecast line (empty once the cap or the plan stopped it)."""
    f = c.get("forecast") or {}
    done = c.get("reason") in ("cap_block", "cap_throttle", "voucher_used", "plan_block", "plan_stop")
    if f.get("period_end_bytes") is None or done:
        return ""
    if c.get("cap") is not None and f.get("cap_hit_at"):
        text = _("At this pace you reach your cap on %(date)s.", date=format_date(f["cap_hit_at"]))
        early = f.get("cap_hit_earliest")
        if early and format_date(early) != format_date(f["cap_hit_at"]):
            text += " " + _("Perhaps as early as %(date)s.", date=format_date(early))
        return text
    if c.get("cap") is not None:
        text = _("At this pace you stay within your cap: %(forecast)s.",
                 forecast=range_sentence(f, c.get("period_end")))
        if f.get("cap_hit_earliest"):
            text += " " + _("At a busier pace you could reach it from %(date)s.",
                            date=format_date(f["cap_hit_earliest"]))
        return text
    return _("At this pace: %(forecast)s.", forecast=range_sentence(f, c.get("period_end")))


def plan_sentence(p: dict) -> str:
    """Where the plan's cycle ends, its range, and whether (and when) the plan runs out."""
    end, low, high = p.get("forecast_end_bytes"), p.get("forecast_low"), p.get("forecast_high")
    if end is None:
        return ""
    if low is None or high is None:
        low = high = end
    f = {"period_end_bytes": end, "low": low, "high": high}
    if p.get("runs_out_at"):
        text = _("At this pace the plan runs out on %(date)s at %(time)s.",
                 date=format_date(p["runs_out_at"]), time=format_time(p["runs_out_at"]))
        early = p.get("runs_out_earliest")
        if early and format_date(early) != format_date(p["runs_out_at"]):
            text += " " + _("Perhaps as early as %(date)s.", date=format_date(early))
        return text
    text = _("At this pace: %(forecast)s.", forecast=range_sentence(f, p.get("cycle_end")))
    if p.get("allowance") is not None:
        if p.get("runs_out_earliest"):
            text += " " + _("The plan likely lasts, but could run out from %(date)s.",
                            date=format_date(p["runs_out_earliest"]))
        else:
            text += " " + _("The plan lasts.")
    return text


def band(used: int | None, f: dict | None, cap: int | None) -> dict | None:
    """Where the band sits on a 0..100 scale (up to the larger of the cap and the range's high):
    used so far, the range, the likely total, the cap."""
    if not f or f.get("period_end_bytes") is None or f.get("low") is None:
        return None
    top = max(f["high"], cap or 0, 1) * 1.05
    pct = lambda v: round(min(100.0, max(0.0, 100 * v / top)), 1)  # noqa: E731
    low, high = pct(f["low"]), pct(f["high"])
    return {"used": pct(used or 0), "low": low, "width": max(0.8, round(high - low, 1)),
            "likely": pct(f["period_end_bytes"]), "cap": pct(cap) if cap is not None else None,
            "over": cap is not None and f["period_end_bytes"] > cap,
            "label": _("Forecast %(range)s, likely %(total)s", range=size_range(f["low"], f["high"]),
                       total=format_size(f["period_end_bytes"]))}
