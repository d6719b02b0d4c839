"""Every operation of hotspotd's socket, gathered: hotspotd's own (below), then each capability's from
its ops.py, in the house's order. hotspotd's server (hotspot/daemon/server.py) takes its allow-list, its
dispatch and its authorisation from OPERATIONS; the portal's client (hotspot/portal/hotspotd.py) is made
from it; any other backend (the tests' fake, hotspotd's answers: hotspot/house.py) is checked against it
(`check_backend`), so none of them can drift from the others. The machinery (op(), the roles, the
errors) is hotspot/core/contract.py's.

The portal's worker imports this module: it and every ops.py import nothing but core.contract.
"""

from __future__ import annotations

from hotspot.admin import ops as admin
from hotspot.alerts import ops as alerts
from hotspot.apps import ops as apps
from hotspot.captive import ops as captive
from hotspot.clients import ops as clients
from hotspot.core import contract
from hotspot.core.contract import ADMIN, METRICS, PORTAL, Operation, gather, op
from hotspot.ghost import ops as ghost
from hotspot.history import ops as history
from hotspot.ownlimits import ops as ownlimits
from hotspot.plan import ops as plan
from hotspot.radius import ops as radius
from hotspot.selfserve import ops as selfserve
from hotspot.uplink import ops as uplink

# hotspotd's own: what the portal needs to run, and what spans every capability.
HOTSPOTD = (
    op("portal_settings", PORTAL, "", '{"cookie_key": hex str (signs the portal\'s cookies: CSRF tokens, '
       'language; hotspotd makes it at start and keeps it in memory), "auth", "portal_port", "tls": bool, '
       '"tls_port", "venue": str|None, "portal_url", "portal_hosts": [str], "retention": {"client_days": '
       'days without traffic before a device is forgotten (None: never), "hourly_days", "daily_months": '
       'the history\'s retention}}',
       "What the portal needs to run. Nothing in it lets the portal act as admin."),
    op("status", ADMIN, "", "status", "As `hotspotctl status --json`, plus speed_up/speed_down for the LAN."),
    op("settings", ADMIN, "", "{field: config string}",
       "default_cap, period, period_start, after_cap, after_cap_rate, auth, and the data plan's "
       "(config.SETTABLE)."),
    op("set_settings", ADMIN, "values", "{field: config string}",
       "Validate and write to the config file; BackendError names the bad field."),
    op("metrics", METRICS, "", '{"status", "clients", "health": {"last_poll", "poll_seconds", "rebuilds", '
       '"uptime_seconds"}, "alerts": {"fired": {"plan", "client"}, "deliveries": {"pending", "sent", '
       '"failed"}}, "apps": apps()["clients"]}', "Everything /metrics exposes."),
)

OPERATIONS: tuple[Operation, ...] = gather(
    HOTSPOTD, clients.OPERATIONS, captive.OPERATIONS, plan.OPERATIONS, uplink.OPERATIONS, history.OPERATIONS,
    ghost.OPERATIONS, apps.OPERATIONS, alerts.OPERATIONS, admin.OPERATIONS, selfserve.OPERATIONS,
    ownlimits.OPERATIONS, radius.OPERATIONS)
OPS = {o.name: o for o in OPERATIONS}


def check_backend(target, *, credentials: bool = True):
    """contract.check_backend against every operation: TypeError unless `target` matches them exactly."""
    return contract.check_backend(target, OPERATIONS, credentials=credentials)
