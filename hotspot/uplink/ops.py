"""The socket's operations on the eSIM's profiles (through lpac: hotspot.uplink.lpac).

An `esim` listing: {"available": bool (lpac is installed at esim_lpac), "eid": str or None, "profiles":
[{"iccid", "name", "nickname", "provider", "state": "enabled" | "disabled", "profile_class"}], "error":
lpac's one line or None}.
"""

from hotspot.core.contract import ADMIN, op

OPERATIONS = (
    op("esim", ADMIN, "", "esim listing", "The eUICC's EID and profiles, 30 s old at most.",
       wait=40.0),  # two lpac runs of at most 15 s each
    op("esim_enable", ADMIN, "iccid", "esim listing",
       "Enable the profile: the modem switches to it. BackendError with a bad ICCID or lpac's one line.",
       wait=130.0),
    op("esim_nickname", ADMIN, "iccid, name", "esim listing",
       "Set the profile's nickname (1 to 64 bytes, printable); BackendError with lpac's one line.",
       wait=130.0),
)
