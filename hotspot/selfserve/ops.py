"""The socket's operations of a guest's own choices (hotspot/selfserve).

What a client view (clients/ops.py) holds of them: ask: {"asked_at": when it last asked the owner for
more (None: never), "next_at": when it may ask again (None: now), "told": an alert channel is set up,
so the owner can be told, "topup": the top-up the owner is offered (bytes; None without a cap of its
own)}; trickle: {"quiet_hours": [local hours 0-23], "basis": "history" (learnt from its own hourly
history) | "night" (too little history: 00:00-06:00), "learnt_days", "days": [{"day": "YYYY-MM-DD",
"bytes"}] the bytes in its quiet hours on each of the last 14 days (today so far, last), "per_day",
"per_month": the whole days' average and 30 times it (None without a whole day)}. Its own pause is the
view's `self_paused`; the owner's block, `owner_blocked`.
"""

from hotspot.core.contract import GUEST, op

OPERATIONS = (
    op("data_off", GUEST, "ip, off", "client view",
       "The device at `ip` turns its own data off (`off` true: its own pause, in the kernel at once) or "
       "back on (false: lifts only its own pause, never the owner's block); BackendError with a "
       "one-line reason."),
    op("ask_owner", GUEST, "ip", "client view",
       "The device at `ip` asks the owner for more: an alert through the outbox with its name, MAC, usage, "
       "cap and a link to the admin UI's confirm page for a top-up; at most once an hour; BackendError "
       "(nothing sent) without a cap of its own or an alert channel, or within the hour."),
)
