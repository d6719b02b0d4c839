"""The options of usage history: how long hourly and daily buckets are kept before they are compacted."""

from __future__ import annotations

from hotspot.core.config import Option, ranged

HEADING = "Usage history"

OPTIONS = (
    Option("history_hourly_days", ranged(1, 3660, "a whole number of days between 1 and 3660"), 30,
           "Hourly buckets are kept this many days (and all of the current period's).",
           "Usage is kept by the hour for history_hourly_days days (and, whatever their age, the hours of "
           "the current period and plan cycle), then by the day for history_daily_months months, then by the "
           "month for ever (a device's own until it is forgotten: client_retention). Days and months are the "
           "router's local ones (its time zone).\nhotspotd compacts old hours into days and old days into "
           "months in RAM, a few thousand rows at a time, so flash sees nothing more than its regular "
           "commits.", heading=HEADING),
    Option("history_daily_months", ranged(1, 1200, "a whole number of months between 1 and 1200"), 13,
           "Then daily buckets this many months; monthly buckets for ever.", heading=HEADING, joined=True),
)
