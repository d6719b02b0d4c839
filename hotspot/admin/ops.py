"""The socket's operations on the owner's credential: logging in and ending the sessions."""

from hotspot.core.contract import ADMIN, GUEST, ROOT, op

OPERATIONS = (
    op("login", GUEST, "ip, password", "str | None: a new admin session token, None for a wrong password",
       "Check the admin password (one hash at a time); BackendError while the device (its address, "
       "its MAC, its IPv6 /64) or the hotspot as a whole made too many failed attempts."),
    op("logout", ADMIN, "", '{"ended": int}', "End every admin session at once."),
    op("end_sessions", ROOT, "", '{"ended": int}',
       "End every admin session now (`hotspotctl passwd`; a new password ends them in any case)."),
)
