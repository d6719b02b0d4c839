"""The socket's operations on ghost traffic (hotspot.ghost.watch).

What a client view (clients/ops.py) holds of it: ghost: {"events": [{"id", "kind": "upload" |
"unusual_hour" | "idle", "start", "end", "fired", "bytes_up", "bytes_down", "bytes_total",
"destinations": [{"addr", "name": its DNS name or None, "up", "down"}], ...}] of the last day, newest
first, at most 3; "blocked": [{"addr", "name", "by": "owner" | "device"}] the destinations its chains
drop and who blocked each (the device may unblock only its own); "self_paused": bool, it paused itself
from its page (so it may resume from there)}.
"""

from hotspot.core.contract import ADMIN, GUEST, op

OPERATIONS = (
    op("ghost_act", GUEST, "ip, action, destination=None", "client view",
       'The device acts on its ghost traffic: "block"/"unblock" a destination (an IPv4 or IPv6 address, '
       'or a DNS name: the addresses it has now), "pause" itself, "resume". It lifts only what it set '
       "itself: never the owner's block of it or of a destination; BackendError with a one-line reason."),
    op("ghost_admin", ADMIN, "mac, action, destination=None", "client view with history",
       "The owner's ghost actions on a client (pause/resume = block/unblock); any block it may lift."),
)
