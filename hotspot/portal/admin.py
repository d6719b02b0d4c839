"""The owner's web UI: login, dashboard, apps, clients, one client's actions, settings and a CSV export.

Every value a form sends is parsed here with the CLI's own parsers before hotspotd is asked, so a bad value
gets a one-line 400 and nothing changes; hotspotd parses again (it trusts no one either). The owner's
other pages have blueprints of their own under /admin: plan.py, alerts.py, vouchers.py, history.py's API.
"""

from __future__ import annotations

import re
import secrets

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, session, url_for

from hotspot.core.contract import BackendError, NotAdmin
from hotspot.core.units import (
    InvalidValue,
    parse_cap,
    parse_mac,
    parse_rate_or_none,
    parse_size,
)
from hotspot.portal import option_fields
from hotspot.portal.client_text import admin_row, state_label
from hotspot.portal.i18n import _, format_datetime, format_rate, format_size
from hotspot.portal.owner import after_login, csv_download, login_required, owner
from hotspot.portal.plan_text import plan_summary
from hotspot.portal.request import backend, wants_json

bp = Blueprint("admin", __name__, url_prefix="/admin")

ACTIONS = ("cap", "throttle", "block", "unblock", "reset", "topup", "rename", "guard")
MAX_NAME = 63
_NAME = re.compile(r"[^\x00-\x1f\x7f]*")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        if isinstance(session.get("admin"), str):
            return redirect(url_for("admin.dashboard"))
        return render_template("admin/login.html")
    password = request.form.get("password", "")
    if not password or len(password) > 256:
        return render_template("admin/login.html", error=_("Enter the admin password.")), 400
    try:
        token = backend().login(request.remote_addr, password)
    except BackendError as e:
        return render_template("admin/login.html", error=str(e)), 429
    if not token:
        return render_template("admin/login.html", error=_("Wrong password.")), 403
    then = after_login()
    start_session(token)  # a fresh session (and CSRF token) on every login
    return redirect(then, 303)


@bp.route("/luci", methods=["POST"])
def from_luci():
    """The owner comes from LuCI's hotspot page with its LuCI session id (a form posted from the
    router's own web UI, so it carries no CSRF token of ours: the id is the credential). hotspotd asks
    rpcd whether that session may write luci-app-hotspot's ACL; the portal only passes it on."""
    sid = request.form.get("sid", "")
    try:
        token = backend().admin_from_luci(request.remote_addr, sid) if len(sid) <= 64 else None
    except BackendError as e:
        return render_template("admin/login.html", error=str(e)), 429
    if not token:
        return render_template("admin/login.html", error=_(
            "LuCI did not confirm this login (it ended, or it may not manage hotspot). "
            "Log in with the admin password.")), 403
    start_session(token)
    return redirect(url_for("admin.dashboard"), 303)


def start_session(token: str) -> None:
    """A fresh cookie session (and CSRF token) holding hotspotd's admin session; the language stays."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    session["admin"] = token  # hotspotd's session: it checks it with every owner's operation
    session["csrf"] = secrets.token_urlsafe(24)


@bp.route("/logout", methods=["POST"])
def logout():
    """hotspotd ends every admin session: a copy of this cookie is worth nothing after."""
    try:
        owner().logout()
    except (NotAdmin, BackendError):
        pass  # ended already, or hotspotd is down (its sessions went with it)
    session.clear()
    return redirect(url_for("admin.login"), 303)


@bp.route("/")
@bp.route("")
@login_required
def dashboard():
    status = owner().status()
    clients = owner().clients()
    top = sorted(clients, key=lambda c: c.get("bytes_total") or 0, reverse=True)[:5]
    counts: dict = {}
    for c in clients:
        counts[c.get("state")] = counts.get(c.get("state"), 0) + 1
    return render_template("admin/dashboard.html", status=status, top=[admin_row(c) for c in top],
                           nclients=len(clients), states_text=states_text(counts),
                           after_cap_text=after_cap_text(status.get("plan") or {}),
                           plan=plan_summary(status.get("plan") or {}))


@bp.route("/apps")
@login_required
def apps_page():
    """Which apps use the data: every category this period, its share and its biggest clients."""
    found = owner().apps()
    names = {c["mac"] or "router": c["name"] or c["mac"] or _("This router") for c in found["clients"]}
    whole = sum(cat["bytes_total"] for cat in found["by_category"]) or 1
    cats = [{**cat, "percent": round(100 * cat["bytes_total"] / whole, 1),
             "top": [{"mac": x["client"], "name": names.get(x["client"], x["client"]),
                      "bytes_total": x["bytes_total"]} for x in cat["clients"][:5]],
             "more": max(0, len(cat["clients"]) - 5)} for cat in found["by_category"]]
    return render_template("admin/apps.html", cats=cats, since=found["since"])


def states_text(counts: dict) -> str:
    """'OK 3 · Slowed 1' for the dashboard."""
    return " · ".join(f"{state_label(s)} {n}" for s, n in counts.items() if n) or "–"


def after_cap_text(plan: dict) -> str:
    if plan.get("after_cap") == "throttle":
        return _("slow to %(rate)s", rate=format_rate(plan.get("after_cap_rate")))
    return _("block")


@bp.route("/api/status")
@login_required
def api_status():
    s = owner().status()
    clients = owner().clients()
    counts: dict = {}
    for c in clients:
        counts[c.get("state")] = counts.get(c.get("state"), 0) + 1
    return jsonify(total=format_size(s.get("bytes_total")), up=format_size(s.get("bytes_up")),
                   down=format_size(s.get("bytes_down")), speed_up=format_rate(s.get("speed_up") or 0),
                   speed_down=format_rate(s.get("speed_down") or 0), clients=str(len(clients)),
                   states=states_text(counts))


@bp.route("/clients")
@login_required
def clients():
    rows = [admin_row(c) for c in owner().clients()]
    rows.sort(key=lambda r: r["bytes_total"] or 0, reverse=True)
    return render_template("admin/clients.html", rows=rows)


@bp.route("/api/clients")
@login_required
def api_clients():
    rows = [admin_row(c) for c in owner().clients()]
    rows.sort(key=lambda r: r["bytes_total"] or 0, reverse=True)
    return jsonify(clients=rows)


def _mac_or_404(mac: str) -> str:
    try:
        return parse_mac(mac)
    except InvalidValue:
        abort(404)


def _client_or_404(mac: str) -> dict:
    try:
        return owner().client(mac)
    except BackendError as e:
        abort(404, description=str(e))


@bp.route("/clients/<mac>")
@login_required
def client(mac):
    c = _client_or_404(_mac_or_404(mac))
    return render_client(c)


def render_client(c: dict, **extra):
    history = [{"label": format_datetime(h["hour"]), "up": h["up"], "down": h["down"],
                "text": f"↓ {format_size(h['down'])}  ↑ {format_size(h['up'])}"}
               for h in c.get("history") or []]
    return render_template("admin/client.html", c=c, row=admin_row(c), history=history, **extra)


def validate_action(action: str, value: str | None) -> str | None:
    """The value to send for `action`, checked like the CLI does; InvalidValue with a one-line reason."""
    if action not in ACTIONS:
        raise InvalidValue(_("Unknown action."))
    value = (value or "").strip()
    if action == "cap":
        parse_cap(value)
        return value
    if action == "throttle":
        parse_rate_or_none(value)
        return value
    if action == "topup":
        parse_size(value)
        return value
    if action == "guard":
        if value not in ("on", "off", "default"):
            raise InvalidValue(_("The update guard is on, off or default."))
        return value
    if action == "rename":
        if len(value) > MAX_NAME or not _NAME.fullmatch(value):
            raise InvalidValue(_("A name is at most 63 characters, without control characters."))
        return value
    return None


@bp.route("/clients/<mac>/act", methods=["POST"])
@login_required
def act(mac):
    mac = _mac_or_404(mac)
    action = request.form.get("action", "")
    try:
        value = validate_action(action, request.form.get("value"))
        result = owner().act(mac, action, value)
    except (InvalidValue, BackendError) as e:
        if wants_json():
            return jsonify(error=str(e)), 400
        return render_client(_client_or_404(mac), error=str(e), error_action=action), 400
    if wants_json():
        return jsonify(client=admin_row(result))
    flash(_("Done: %(action)s.", action=action_label(action)))
    return redirect(request.form.get("next") == "clients" and url_for("admin.clients")
                    or url_for("admin.client", mac=mac), 303)


@bp.route("/clients/<mac>/forget", methods=["POST"])
@login_required
def forget(mac):
    """Erase a device with everything recorded about it (the page asks to confirm first)."""
    mac = _mac_or_404(mac)
    try:
        done = owner().forget(mac)
    except BackendError as e:
        if wants_json():
            return jsonify(error=str(e)), 400
        flash(str(e))
        return redirect(url_for("admin.clients"), 303)
    if wants_json():
        return jsonify(forgotten=done)
    flash(_("Forgotten: %(mac)s and everything recorded about it. Its data stays in the plan's totals.",
            mac=done["mac"]))
    return redirect(url_for("admin.clients"), 303)


def action_label(action: str) -> str:
    return {
        "cap": _("cap set"), "throttle": _("speed limit set"), "block": _("blocked"),
        "unblock": _("unblocked"), "reset": _("usage reset"), "topup": _("cap topped up"),
        "rename": _("renamed"), "guard": _("update guard set"),
    }.get(action, action)


def render_settings(values: dict[str, str], error: str | None = None, status: int = 200):
    """The settings page; after a refused form, its error and the values as typed."""
    fields = option_fields.fields("settings", values=values)
    return render_template("admin/settings.html", f=fields, error=error), status


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings_page():
    if request.method == "GET":
        return render_settings(owner().settings())
    try:
        owner().set_settings(option_fields.checked(option_fields.posted("settings", request.form)))
    except (InvalidValue, BackendError) as e:
        return render_settings({**owner().settings(), **request.form.to_dict()}, str(e), 400)
    flash(_("Settings saved."))
    return redirect(url_for("admin.settings_page"), 303)


@bp.route("/export.csv")
@login_required
def export_csv():
    return csv_download("hotspot-usage.csv",
                        ("mac", "hostname", "bytes_up", "bytes_down", "bytes_total", "cap", "state"),
                        owner().clients())
