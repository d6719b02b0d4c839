"""The owner's vouchers: make a batch, revoke one, print a batch with its QR codes, export them all
(/admin/vouchers...). Like every admin form, the values are checked here with hotspotd's own parsers
before it is asked, so a bad one gets a one-line 400 and nothing is made.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from hotspot.captive.vouchers import MAX_BATCH, MAX_DEVICES, parse_code, parse_count
from hotspot.core.contract import BackendError
from hotspot.core.units import InvalidValue, parse_cap, parse_duration
from hotspot.portal.i18n import _, format_datetime, format_size, ngettext
from hotspot.portal.owner import csv_download, login_required, owner
from hotspot.portal.request import portal_base

bp = Blueprint("vouchers", __name__, url_prefix="/admin")

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
def page():
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
            return redirect(url_for("vouchers.page", made=made[0]["batch"] if made else None), 303)
    rows = [voucher_row(v) for v in owner().vouchers()]
    made = request.args.get("made", type=int)
    return render_template("admin/vouchers.html", batches=_batches(rows), form=form, error=error,
                           made=made, nvouchers=len(rows)), status


@bp.route("/vouchers/<code>/revoke", methods=["POST"])
@login_required
def revoke(code):
    try:
        code = parse_code(code)
        owner().revoke_voucher(code)
    except (InvalidValue, BackendError) as e:
        flash(str(e))
        return redirect(url_for("vouchers.page"), 303)
    flash(_("Voucher %(code)s revoked.", code=code))
    return redirect(url_for("vouchers.page"), 303)


@bp.route("/vouchers/print/<int:batch>")
@login_required
def print_batch(batch):
    rows = [voucher_row(v) for v in owner().vouchers() if v.get("batch") == batch]
    if not rows:
        abort(404)
    base = portal_base()
    for r in rows:
        r["url"] = f"{base}/signin?voucher={r['code']}"
    return render_template("admin/vouchers_print.html", rows=rows, batch=batch, portal=base)


@bp.route("/vouchers.csv")
@login_required
def export_csv():
    cols = ("code", "batch", "state", "bytes", "used", "remaining", "valid_seconds", "devices",
            "devices_used", "created", "first_used", "expires", "revoked")
    return csv_download("hotspot-vouchers.csv", cols, owner().vouchers())
