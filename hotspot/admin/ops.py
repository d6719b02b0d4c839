"""The socket's operations on the owner's credential: logging in and ending the sessions."""

from hotspot.core.contract import ADMIN, GUEST, ROOT, op

OPERATIONS = (
    op("login", GUEST, "ip, password", "str | None: a new admin session token, None for a wrong password",
       "Check the admin password (one hash at a time); BackendError while the device (its address, "
       "its MAC, its IPv6 /64) or the hotspot as a whole made too many failed attempts."),
    op("admin_from_luci", GUEST, "ip, sid",
       "str | None: a new admin session token, None unless rpcd vouches for the LuCI session `sid`",
       "The owner logged into LuCI opens the admin UI without a second password: hotspotd asks rpcd "
       "over ubus whether the LuCI session `sid` holds the luci-app-hotspot ACL for writing, and on yes "
       "issues an admin session as a login does. A forged, ended or expired sid gets None; the tries "
       "are braked like logins (BackendError while too many failed).", wait=8.0),
    op("logout", ADMIN, "", '{"ended": int}', "End every admin session at once."),
    op("end_sessions", ROOT, "", '{"ended": int}',
       "End every admin session now (`hotspotctl passwd`; a new password ends them in any case)."),
)
