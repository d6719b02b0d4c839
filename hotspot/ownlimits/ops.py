"""The socket's operations of a guest's own choices (hotspot.ownlimits).

What a client view (clients/ops.py) holds of them, bytes or None: owner_cap (the owner's cap with
its top-up; `cap` is the lower of it and own_limit), own_limit, own_warn, own_ask (the device's own
points), own_warned (bool: past its own warning point), own_stopped (bool: its own limit stops it),
ask_at (the owner's ask point for it; None: ask_default), ask_off (bool: the owner said never),
ask_default (the config's), ask_point (where it is held next), asking (bool: held there now, until
its user answers; reason "ask"). reason "own_limit": its own limit is reached (until the period ends
or it raises it).

A refusal ({"refused", "amount"}): refused is None (done) or one of "above_cap" (amount: the owner's
cap), "below_used" (amount: what it used), "warn_above_limit" (amount: its limit), "ask_above_limit",
"ask_below_used", "not_positive", "invalid" (not a size), "not_asked" (not held at an ask point).
"""

from hotspot.core.contract import GUEST, op

OPERATIONS = (
    op("set_own_limits", GUEST, "ip, limit, warn, ask", '{"refused": str|None, "amount": int|None}',
       "The device at `ip` sets its own limit, warning point and ask point (each a SIZE, or empty for "
       "none), each at most the owner's cap; a refused choice changes nothing."),
    op("answer_ask", GUEST, "ip, answer", '{"refused": str|None, "amount": None}',
       'The device at `ip`, held at its ask point, answers "continue" (on to its limit, at once) or '
       '"stop" (what it used becomes its own limit); BackendError for another answer.'),
)
