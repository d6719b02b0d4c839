"""The socket's operation of sign-in through RADIUS. The portal waits longer than for the others: the
servers are tried in order, each for radius_timeout x radius_retries seconds."""

from hotspot.core.contract import GUEST, op

OPERATIONS = (
    op("radius_signin", GUEST, "ip, username, password", 'client view, plus "radius_message": str|None',
       "Sign the device at `ip` in through the RADIUS servers (auth radius); VoucherRefused with reason "
       '"radius_reject" (the message is the server\'s Reply-Message), "radius_denied" (a reject without '
       'one) or "radius_unreachable".', wait=60.0),
)
