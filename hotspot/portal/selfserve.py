"""A guest's own choices on its page: data off and back on, asking the owner for more, its background
trickle; and the owner's side: the trickle on a client's page and the confirm page an ask's link opens.

The device is named by the request's source address only (hotspotd maps it through the neighbour
table): a form field naming another device changes nothing. Every form carries the session's CSRF token
(request.check_csrf). The approve link never acts on GET: it shows a form the owner confirms."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from hotspot.core.contract import BackendError, NotAClient
from hotspot.core.units import InvalidValue, parse_mac, parse_size
from hotspot.portal.i18n import _, format_date, format_datetime, format_size
from hotspot.portal.owner import login_required, owner
from hotspot.portal.request import backend
from hotspot.selfserve.trickle import spans

bp = Blueprint("selfserve", __name__)
MAX_SIZE_TEXT = 32


@bp.route("/data-off", methods=["POST"])
def data_off():
    """The device turns its own data off ("off"=1) or back on (0); its page says what happened."""
    off = request.form.get("off")
    if off not in ("0", "1"):
        abort(400, description=_("Unknown action."))
    try:
        backend().data_off(request.remote_addr, off == "1")
        flash(_("Data is off for this device. Turn it back on here when you need it.") if off == "1"
              else _("Data is back on for this device."))
    except NotAClient:
        return redirect(url_for("client.index"), 303)
    except BackendError as e:
        flash(_refusal(str(e)))
    return redirect(url_for("client.index") + "#data-off", 303)


@bp.route("/ask-owner", methods=["POST"])
def ask_owner():
    """The device asks the owner for more data (hotspotd sends the alert, once an hour at most)."""
    try:
        backend().ask_owner(request.remote_addr)
        flash(_("The owner was told you would like more data."))
    except NotAClient:
        return redirect(url_for("client.index"), 303)
    except BackendError as e:
        flash(_refusal(str(e)))
    return redirect(url_for("client.index") + "#ask-owner", 303)


def _refusal(text: str) -> str:
    """hotspotd's one-line refusals, in the reader's language where we know them."""
    return {
        "This device's data was not turned off from its page; only the hotspot's owner can let it back on.":
            _("Only the hotspot's owner can let this device back on."),
        "This device has no cap of its own to top up.": _("This device has no cap of its own to top up."),
        "The hotspot's owner has set up no alert channel: ask them in person.":
            _("The owner cannot be told from here (no alert channel is set up): ask them in person."),
        "You asked less than an hour ago; the owner was told.":
            _("You asked less than an hour ago; the owner was told."),
        "Many devices asked the owner within the hour; try again later.":
            _("Many devices asked the owner within the hour; try again later."),
    }.get(text, text)


@bp.app_template_global()
def ask_text(me: dict) -> dict:
    """What the ask card says: whether the button shows, and when it last asked."""
    ask = me.get("ask") or {}
    return {"can": bool(ask.get("told")) and ask.get("topup") is not None and not ask.get("next_at"),
            "told": bool(ask.get("told")), "has_cap": ask.get("topup") is not None,
            "asked_at": format_datetime(ask["asked_at"]) if ask.get("asked_at") else None,
            "next_at": format_datetime(ask["next_at"]) if ask.get("next_at") else None}


@bp.app_template_global()
def trickle_text(t: dict | None) -> dict | None:
    """The trickle card's figures, in the reader's language: quiet hours as spans, each day's bar."""
    if not t:
        return None
    hours = ", ".join(f"{a:02d}:00–{b % 24:02d}:00" for a, b in spans(t.get("quiet_hours") or []))
    top = max([d["bytes"] for d in t.get("days") or []] + [1])
    days = [{"label": format_date(d["day"]), "amount": format_size(d["bytes"]),
             "percent": round(100 * d["bytes"] / top)} for d in t.get("days") or []]
    return {"hours": hours, "learnt": t.get("basis") == "history", "learnt_days": t.get("learnt_days"),
            "days": days, "per_day": None if t.get("per_day") is None else format_size(t["per_day"]),
            "per_month": None if t.get("per_month") is None else format_size(t["per_month"])}


def size_value(n: int) -> str:
    """A size as a form's exact value: '500MB', '2GB', '123456789B'."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6)):
        if n % scale == 0:
            return f"{n // scale}{unit}"
    return f"{n}B"


# -- the owner's confirm page for an ask's top-up -------------------------------------------------------


def _mac_or_404(mac: str) -> str:
    try:
        return parse_mac(mac)
    except InvalidValue:
        abort(404)


@bp.route("/admin/clients/<mac>/approve", methods=["GET", "POST"])
@login_required
def approve(mac):
    """GET (the alert's link): the device, its usage and cap, and the proposed top-up in a form; POST
    (the owner's click, with the CSRF token): the top-up, as the client page's own action."""
    mac = _mac_or_404(mac)
    try:
        c = owner().client(mac)
    except BackendError as e:
        abort(404, description=str(e))
    proposed = (c.get("ask") or {}).get("topup")
    value = (request.form.get("size") if request.method == "POST" else request.args.get("size")) or ""
    value = value.strip()[:MAX_SIZE_TEXT]
    if request.method == "GET":
        try:
            size = parse_size(value) if value else proposed
        except InvalidValue:
            size = proposed  # a link altered on the way proposes nothing of its own
        return render_template("admin/approve.html", c=c, size=size_value(size) if size else "")
    try:
        parse_size(value)
        owner().act(mac, "topup", value)
    except (InvalidValue, BackendError) as e:
        return render_template("admin/approve.html", c=c, size=value, error=str(e)), 400
    flash(_("Done: %(action)s.", action=_("cap topped up")))
    return redirect(url_for("admin.client", mac=mac), 303)
