"""Ghost traffic on the portal: the banner on a client's own page and in the admin UI, and the
one-tap actions (block a destination for this device, pause it, resume if it paused itself).

The client page's forms carry the session's CSRF token like every portal form (request.check_csrf);
the device is named by the request's source address only, never by anything it sends."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for

from hotspot.core.contract import BackendError, NotAClient
from hotspot.portal.i18n import _, format_date, format_size, format_time
from hotspot.portal.owner import login_required, owner
from hotspot.portal.request import backend

bp = Blueprint("ghost", __name__)
ACTIONS = ("block", "unblock", "pause", "resume")


@bp.app_template_global()
def ghost_text(c: dict) -> dict | None:
    """The banner for a client view's latest ghost event, in the reader's language; None without one."""
    g = c.get("ghost") or {}
    events = g.get("events") or []
    if not events:
        return None
    e = events[0]
    amount, since = format_size(e["bytes_total"]), f"{format_date(e['start'])} {format_time(e['start'])}"
    if e["kind"] == "upload":
        text = _("This device uploaded %(amount)s in the background since %(time)s, far more than it "
                 "usually sends.", amount=amount, time=since)
    elif e["kind"] == "unusual_hour":
        text = _("This device used %(amount)s since %(time)s, at an hour it is normally quiet.",
                 amount=amount, time=since)
    else:
        text = _("This device has been using data steadily (%(amount)s since %(time)s) while it is "
                 "otherwise idle.", amount=amount, time=since)
    blocked = {b["addr"] for b in g.get("blocked") or []}
    dests = [{"addr": d["addr"], "label": d["name"] or d["addr"], "amount": format_size(d["up"] + d["down"]),
              "blocked": d["addr"] in blocked} for d in e["destinations"]]
    return {"text": text, "destinations": dests}


def _action() -> tuple[str, str | None]:
    action = request.form.get("action", "")
    if action not in ACTIONS:
        raise BackendError(_("Unknown action."))
    return action, (request.form.get("destination") or "").strip()[:300] or None


def _done(action: str) -> str:
    return {"block": _("Blocked for this device."), "unblock": _("Unblocked."),
            "pause": _("This device is paused."), "resume": _("This device is back online.")}[action]


@bp.route("/ghost", methods=["POST"])
def client_act():
    """The device acts on its own ghost traffic, then sees its page again."""
    try:
        action, dest = _action()
        backend().ghost_act(request.remote_addr, action, dest)
        flash(_done(action))
    except NotAClient:
        return redirect(url_for("client.index"), 303)
    except BackendError as e:
        flash(str(e))
    return redirect(url_for("client.index") + "#ghost", 303)


@bp.route("/admin/clients/<mac>/ghost", methods=["POST"])
@login_required
def admin_act(mac):
    try:
        action, dest = _action()
        owner().ghost_admin(mac, action, dest)
        flash(_done(action))
    except BackendError as e:
        flash(str(e))
    return redirect(url_for("admin.client", mac=mac) + "#ghost", 303)
