"""The eSIM's profiles' forms on the owner's Plan page (/admin/plan): enabled, named, through
hotspotd (which runs lpac: hotspot.uplink.esim). An ICCID or a nickname is checked here first, so a
bad one gets a one-line 400 and lpac is never asked; hotspotd checks both again."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for

from hotspot.core.contract import BackendError
from hotspot.core.units import InvalidValue, check_iccid
from hotspot.portal.i18n import _
from hotspot.portal.owner import login_required, owner
from hotspot.portal.plan import render_plan
from hotspot.uplink.lpac import check_nickname

bp = Blueprint("esim", __name__, url_prefix="/admin")


def _refused(message: str):
    return render_plan(message, "esim", 400)


@bp.route("/plan/esim/enable", methods=["POST"])
@login_required
def enable():
    """Enable a profile: the modem switches to it, and the router to its plan."""
    try:
        iccid = check_iccid(request.form.get("iccid") or "")
    except InvalidValue:
        return _refused(_("eSIM: not a valid ICCID."))
    try:
        owner().esim_enable(iccid)
    except BackendError as e:
        return _refused(str(e))
    flash(_("Profile %(iccid)s enabled: the modem switches to it.", iccid=iccid))
    return redirect(url_for("plan.page") + "#esim", 303)


@bp.route("/plan/esim/nickname", methods=["POST"])
@login_required
def nickname():
    try:
        iccid = check_iccid(request.form.get("iccid") or "")
    except InvalidValue:
        return _refused(_("eSIM: not a valid ICCID."))
    try:
        name = check_nickname(request.form.get("nickname") or "")
    except InvalidValue:
        return _refused(_("Nickname: 1 to 64 bytes of printable text, not starting with '-'."))
    try:
        owner().esim_nickname(iccid, name)
    except BackendError as e:
        return _refused(str(e))
    flash(_("Nickname saved."))
    return redirect(url_for("plan.page") + "#esim", 303)
