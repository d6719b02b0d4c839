"""Does rpcd vouch for a LuCI session? The owner logged into LuCI (the router's own web UI) opens the
admin UI without a second password: the portal passes on the LuCI session id, and hotspotd asks rpcd
over ubus whether that session holds the luci-app-hotspot ACL for writing. The portal only carries the
id; the answer comes from rpcd, and hotspotd alone acts on it."""

from __future__ import annotations

import json
import re
import subprocess

ACL = "luci-app-hotspot"
# rpcd's session ids: 32 lower-case hex digits (rpcd's session.c makes them from 16 random bytes).
SID = re.compile(r"[0-9a-f]{32}", re.ASCII)
WAIT = 3  # seconds ubus waits for rpcd's answer


def valid_sid(sid) -> bool:
    return isinstance(sid, str) and SID.fullmatch(sid) is not None


def may_admin(sid: str, socket: str | None = None, ubus: str = "ubus") -> bool:
    """True only when rpcd says the session `sid` may write the luci-app-hotspot ACL group; False for
    any other answer (no such session, expired, no ubus, no rpcd, a timeout)."""
    if not valid_sid(sid):
        return False
    request = {"ubus_rpc_session": sid, "scope": "access-group", "object": ACL, "function": "write"}
    argv = [ubus, *(["-s", socket] if socket else []), "-t", str(WAIT), "call", "session", "access",
            json.dumps(request)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=WAIT + 2,
                              stdin=subprocess.DEVNULL)
        answer = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return False
    return isinstance(answer, dict) and answer.get("access") is True
