"""The socket's operations on which apps use the data (hotspot/apps/usage.py) and the update guard.

What a client view (`me`, `client`: clients/ops.py) holds of them: apps: [{"category": one of
hotspot.apps.categories.CATEGORIES or "other", "bytes_up", "bytes_down", "bytes_total", "percent":
its share of the total}] this period, largest first; update_guard: bool (the guard holds back its
chosen categories while metered); update_guard_choice: True | False (the device's own choice) | None
(the default); update_guard_categories: [category] the guard holds back.

The owner's `apps`, as `hotspotctl apps --json`: {"since", "until", "clients": [{"mac" (None: the
router), "name", "update_guard", "categories": as a client view's apps}], "by_category": [{"category",
"bytes_total", "clients": [{"client": MAC or "router", "bytes_total"}]}] largest first}.
"""

from hotspot.core.contract import ADMIN, GUEST, op

OPERATIONS = (
    op("set_update_guard", GUEST, "ip, on", "client view",
       "The device switches the update guard on or off for itself."),
    op("apps", ADMIN, "", "apps", "Every client's bytes per app category this period."),
)
