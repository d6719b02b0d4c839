"""The socket's operations on usage history.

A history (`me_history`, `history`), as UsageHistory.query (hotspot/history/usage.py), in the router's
local days and months: {"by": "hour" | "day" | "month", "now": the router's time, "from", "to": the
buckets' range [from, to), "hourly_from": hours are kept from here on (finer questions before it are
refused), "daily_from": days likewise, "rows": [{"start", "end", "bytes_up", "bytes_down",
"bytes_total"}] (only buckets with usage, oldest first)}.
"""

from hotspot.core.contract import ADMIN, GUEST, op

OPERATIONS = (
    op("me_history", GUEST, 'ip, by="day", since=None, until=None', "history",
       "The device's own usage by hour, day or month over [since, until) (YYYY-MM-DD or ISO 8601; None: "
       "the last 48 hours, 30 days or 12 months); BackendError for a bad range or one finer than "
       "retention kept."),
    op("history", ADMIN, 'subject, by="day", since=None, until=None', "history",
       'As me_history for a client (`subject` a MAC) or the plan ("plan"); BackendError if unknown.'),
)
