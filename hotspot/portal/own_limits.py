"""A guest's own choices on its own page (its warning point, its own limit, a point to be asked at),
the page that asks a held device "continue to the limit" or "stop here", and the owner's ask point for
one device on the admin client page.

The device is named by the request's source address only (hotspotd looks it up in the neighbour
table), never by anything the form sends, and every form carries the session's CSRF token like every
portal form (request.check_csrf): a post naming another device changes only the sender's own."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from hotspot.core.config import size_text
from hotspot.core.contract import BackendError, NotAClient
from hotspot.core.units import InvalidValue, parse_cap
from hotspot.portal.captive import safe_url
from hotspot.portal.client_text import client_text
from hotspot.portal.i18n import _, format_size
from hotspot.portal.owner import login_required, owner
from hotspot.portal.request import backend, portal_base

bp = Blueprint("own_limits", __name__)
MAX_FIELD = 32


def refusal_text(refused: str, amount: int | None) -> str:
    """Why hotspotd refused a choice, in the reader's language."""
    size = format_size(amount)
    return {
        "above_cap": _("That is more than the owner allows this device (%(size)s). Nothing was changed.",
                       size=size),
        "below_used": _("This device already used %(size)s this period: a limit below that is not possible. "
                        "Nothing was changed.", size=size),
        "warn_above_limit": _("The warning must come before your limit (%(size)s). Nothing was changed.",
                              size=size),
        "ask_above_limit": _("The point to ask must come before the limit (%(size)s). Nothing was changed.",
                             size=size),
        "ask_below_used": _("The point to ask must be above what this device already used (%(size)s). "
                            "Nothing was changed.", size=size),
        "not_positive": _("A point must be more than 0. Nothing was changed."),
        "invalid": _("Write a size such as 500MB or 2GB, or leave the field empty. Nothing was changed."),
        "not_asked": _("This device is not waiting for an answer."),
    }.get(refused, _("Nothing was changed."))


@bp.app_template_global()
def own_text(me: dict) -> dict:
    """The page's words for the device's own choices."""
    used = me.get("bytes_total") or 0
    point = me.get("ask_point")
    return {
        "limit": size_text(me.get("own_limit")),
        "warn": size_text(me.get("own_warn")),
        "ask": size_text(me.get("own_ask")),
        "owner_cap": format_size(me.get("owner_cap")) if me.get("owner_cap") is not None else None,
        "used": format_size(used),
        "point": format_size(point) if point is not None else None,
        "warned": (_("You passed your own warning point, %(size)s: this device used %(used)s this period.",
                     size=format_size(me.get("own_warn")), used=format_size(used))
                   if me.get("own_warned") else None),
    }


def _field(name: str) -> str:
    return (request.form.get(name) or "").strip()[:MAX_FIELD]


@bp.route("/own-limits", methods=["POST"])
def set_limits():
    """The device sets its own limit, warning point and ask point (empty: none)."""
    try:
        done = backend().set_own_limits(request.remote_addr, _field("limit"), _field("warn"), _field("ask"))
    except NotAClient:
        return render_template("not_client.html"), 200
    except BackendError as e:
        flash(str(e))
        return redirect(url_for("client.index") + "#own-limits", 303)
    flash(refusal_text(done["refused"], done.get("amount")) if done.get("refused") else _("Saved."))
    return redirect(url_for("client.index") + "#own-limits", 303)


@bp.route("/ask", methods=["GET", "POST"])
def ask():
    """The page a device held at its ask point gets (its plain HTTP is sent here): how much it used,
    and "continue to the limit" or "stop here". Once answered, back to the page it first asked for."""
    ip = request.remote_addr
    kept = safe_url(request.values.get("url"))
    try:
        me = backend().me(ip)
        if request.method == "GET":
            if not me.get("asking"):
                return redirect(kept or portal_base() + "/", 303)
            return render_template("ask.html", me=me, text=client_text(me), own=own_text(me), kept=kept)
        answer = request.form.get("answer")
        done = backend().answer_ask(ip, answer if answer in ("continue", "stop") else "")
    except NotAClient:
        return render_template("not_client.html"), 200
    except BackendError as e:
        flash(str(e))
        return redirect(url_for("own_limits.ask"), 303)
    if done.get("refused"):
        flash(refusal_text(done["refused"], None))
        return redirect(portal_base() + "/", 303)
    if answer == "continue":
        flash(_("Go ahead: this device is online again, up to its limit."))
        return redirect(kept or portal_base() + "/", 303)
    flash(_("Stopped here. You can raise or clear your own limit on this page at any time."))
    return redirect(portal_base() + "/#own-limits", 303)


@bp.route("/admin/clients/<mac>/ask", methods=["POST"])
@login_required
def admin_ask(mac):
    """The owner's ask point for one device: a size, none (never), default, or continue (release)."""
    value = (request.form.get("value") or "").strip().lower()[:MAX_FIELD]
    try:
        if value not in ("default", "continue"):
            parse_cap(value)
        owner().act(mac, "ask", value)
        flash(_("Done: %(action)s.", action=_("ask point set") if value != "continue" else _("released")))
    except (InvalidValue, BackendError) as e:
        flash(str(e))
    return redirect(url_for("admin.client", mac=mac) + "#own-limits", 303)
