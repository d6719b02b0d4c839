"""The owner's web UI: login, dashboard, clients, one client's actions, plan settings and a CSV export.

Every value a form sends is parsed here with the CLI's own parsers before hotspotd is asked, so a bad value
gets a one-line 400 and nothing changes; hotspotd parses again (it trusts no one either).
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from functools import wraps

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from hotspot.captive.vouchers import MAX_BATCH, MAX_DEVICES, parse_code, parse_count
from hotspot.core.units import (
    InvalidValue,
    parse_cap,
    parse_duration,
    parse_mac,
    parse_rate_or_none,
    parse_size,
)
from hotspot.portal import option_fields
from hotspot.portal.app import backend, owner, portal_base
from hotspot.portal.backend import BackendError, NotAdmin
from hotspot.portal.i18n import _, format_datetime, format_rate, format_size, ngettext
from hotspot.portal.views import admin_row, plan_summary, state_label

bp = Blueprint("admin", __name__, url_prefix="/admin")

ACTIONS = ("cap", "throttle", "block", "unblock", "reset", "topup", "rename", "guard")
MAX_NAME = 63
_NAME = re.compile(r"[^\x00-\x1f\x7f]*")


def login_required(view):
    """Without an admin session token: 401 JSON for the API, else a redirect to the login page. The
    token is only the cookie's claim: hotspotd checks it with every owner's operation (NotAdmin, which
    errors.py answers the same way, when it has ended)."""

    @wraps(view)
    def wrapped(**kwargs):
        if not isinstance(session.get("admin"), str):
            return not_logged_in()
        return view(**kwargs)

    return wrapped


def not_logged_in():
    session.pop("admin", None)
    if request.path.startswith("/admin/api/"):
        return jsonify(error=_("Log in first.")), 401
    return redirect(url_for("admin.login"))


def wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


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
    lang = session.get("lang")
    session.clear()  # a fresh session (and CSRF token) on every login
    if lang:
        session["lang"] = lang
    session["admin"] = token  # hotspotd's session: it checks it with every owner's operation
    session["csrf"] = secrets.token_urlsafe(24)
    return redirect(url_for("admin.dashboard"), 303)


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


def csv_cell(value) -> str:
    """A cell a spreadsheet shows as text: formulas (= + - @, tab, CR) are defused with a leading quote."""
    s = "" if value is None else str(value)
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


@bp.route("/export.csv")
@login_required
def export_csv():
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["mac", "hostname", "bytes_up", "bytes_down", "bytes_total", "cap", "state"])
    for c in owner().clients():
        w.writerow([csv_cell(c.get(k)) for k in
                    ("mac", "hostname", "bytes_up", "bytes_down", "bytes_total", "cap", "state")])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="hotspot-usage.csv"'})


# -- vouchers ------------------------------------------------------------------------------------------

VOUCHER_FIELDS = ("count", "data", "valid", "devices")
VOUCHER_DEFAULTS = {"count": "10", "data": "1GB", "valid": "1d", "devices": "1"}


def voucher_state_label(state: str) -> str:
    return {"unused": _("Unused"), "active": _("In use"), "used_up": _("Used up"), "expired": _("Expired"),
            "revoked": _("Revoked")}.get(state, state)


def duration_text(seconds: int | None) -> str:
    """'3 days', '12 hours', '1 day 6 hours', '45 minutes', in the reader's language."""
    if not seconds:
        return "–"
    d, rest = divmod(int(seconds), 86400)
    h, rest = divmod(rest, 3600)
    m = rest // 60
    parts = []
    if d:
        parts.append(ngettext("%(num)s day", "%(num)s days", d))
    if h:
        parts.append(ngettext("%(num)s hour", "%(num)s hours", h))
    if m and not d:
        parts.append(ngettext("%(num)s minute", "%(num)s minutes", m))
    return " ".join(parts) or ngettext("%(num)s minute", "%(num)s minutes", 0)


def voucher_row(v: dict) -> dict:
    """One voucher as the admin pages show it (raw fields kept, text added)."""
    data = v.get("bytes")
    tone = {"unused": "good", "active": "good", "used_up": "warn"}.get(v.get("state"), "bad")
    return {
        **v,
        "state_text": voucher_state_label(v.get("state")),
        "tone": tone,
        "data_text": format_size(data) if data is not None else _("No limit"),
        "used_text": format_size(v.get("used") or 0),
        "percent": 0 if not data else max(0, min(100, round(100 * (v.get("used") or 0) / data))),
        "valid_text": duration_text(v.get("valid_seconds")),
        "devices_text": f"{v.get('devices_used', 0)}/{v.get('devices')}",
        "expires_text": format_datetime(v["expires"]) if v.get("expires") else "–",
        "revocable": v.get("state") in ("unused", "active", "used_up"),
    }


def validate_vouchers(form) -> dict[str, str]:
    """The create form's values, each checked like hotspotd will; InvalidValue names the bad field."""
    v = {k: (form.get(k) or "").strip() for k in VOUCHER_FIELDS}
    try:
        parse_count(v["count"], "count", MAX_BATCH)
    except InvalidValue:
        raise InvalidValue(_("How many: a whole number from 1 to %(hi)s.", hi=MAX_BATCH)) from None
    try:
        parse_cap(v["data"] or "none")
    except InvalidValue:
        raise InvalidValue(_("Data: a size such as 500MB or 2GB, or empty for no limit.")) from None
    try:
        parse_duration(v["valid"])
    except InvalidValue:
        raise InvalidValue(_("Valid for: a duration such as 2h, 1d or 7d.")) from None
    try:
        parse_count(v["devices"], "devices", MAX_DEVICES)
    except InvalidValue:
        raise InvalidValue(_("Devices: a whole number from 1 to %(hi)s.", hi=MAX_DEVICES)) from None
    return v


def _batches(rows: list[dict]) -> list[dict]:
    """Vouchers by batch, newest batch first."""
    by: dict[int, list[dict]] = {}
    for r in rows:
        by.setdefault(r["batch"], []).append(r)
    return [{"batch": b, "rows": by[b], "created": format_datetime(by[b][0].get("created"))}
            for b in sorted(by, reverse=True)]


@bp.route("/vouchers", methods=["GET", "POST"])
@login_required
def vouchers():
    form, error, status = dict(VOUCHER_DEFAULTS), None, 200
    if request.method == "POST":
        form = {k: request.form.get(k, "") for k in VOUCHER_FIELDS}
        try:
            v = validate_vouchers(request.form)
            made = owner().create_vouchers(v["count"], v["data"], v["valid"], v["devices"])
        except (InvalidValue, BackendError) as e:
            error, status = str(e), 400
        else:
            flash(ngettext("Made %(num)s voucher.", "Made %(num)s vouchers.", len(made)))
            return redirect(url_for("admin.vouchers", made=made[0]["batch"] if made else None), 303)
    rows = [voucher_row(v) for v in owner().vouchers()]
    made = request.args.get("made", type=int)
    return render_template("admin/vouchers.html", batches=_batches(rows), form=form, error=error,
                           made=made, nvouchers=len(rows)), status


@bp.route("/vouchers/<code>/revoke", methods=["POST"])
@login_required
def revoke_voucher(code):
    try:
        code = parse_code(code)
        owner().revoke_voucher(code)
    except (InvalidValue, BackendError) as e:
        flash(str(e))
        return redirect(url_for("admin.vouchers"), 303)
    flash(_("Voucher %(code)s revoked.", code=code))
    return redirect(url_for("admin.vouchers"), 303)


@bp.route("/vouchers/print/<int:batch>")
@login_required
def print_vouchers(batch):
    rows = [voucher_row(v) for v in owner().vouchers() if v.get("batch") == batch]
    if not rows:
        abort(404)
    base = portal_base()
    for r in rows:
        r["url"] = f"{base}/signin?voucher={r['code']}"
    return render_template("admin/vouchers_print.html", rows=rows, batch=batch, portal=base)


@bp.route("/vouchers.csv")
@login_required
def export_vouchers():
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    cols = ("code", "batch", "state", "bytes", "used", "remaining", "valid_seconds", "devices",
            "devices_used", "created", "first_used", "expires", "revoked")
    w.writerow(cols)
    for v in owner().vouchers():
        w.writerow([csv_cell(v.get(k)) for k in cols])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="hotspot-vouchers.csv"'})


# Jinja helpers the admin templates use
bp.add_app_template_filter(lambda v: format_size(v) if v is not None else "–", "size_or_dash")
bp.add_app_template_filter(lambda v: format_rate(v) if v is not None else "–", "rate_or_dash")

# The data plan's and the alerts' pages live on this blueprint too (imported last: they use it).
from hotspot.portal import plan_pages  # noqa: E402, F401, I001

# Usage history (its JSON endpoints, and history_view for web/templates/_history.html).
from hotspot.portal import history_pages  # noqa: E402, F401, I001
