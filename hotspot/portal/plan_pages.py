"""The owner's pages for the uplink's data plan and its alerts: /admin/plan and /admin/alerts.

They sit on the admin blueprint (its login and CSRF rules). The plan's forms take their fields from the
options' declarations, and check each with the config's own rules (hotspot/portal/option_fields.py).
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from hotspot.core.units import InvalidValue, parse_size
from hotspot.portal import option_fields
from hotspot.portal.admin import bp, login_required
from hotspot.portal.app import owner
from hotspot.portal.backend import BackendError
from hotspot.portal.i18n import _, format_datetime, format_size
from hotspot.portal.views import modem_facts, plan_summary

FORMS = {"cycle": "plan-cycle", "guard": "plan-guard"}  # the form's name in the page -> in the declarations
CHANNELS = ("webhook", "email", "sms")


def validate_plan(form) -> dict[str, str]:
    """The values of one Plan form ("cycle" or "guard"), each checked as the config file would be;
    InvalidValue names the first bad field. A pass length left empty keeps the one set."""
    declared = FORMS.get(form.get("form", ""))
    if declared is None:
        raise InvalidValue(_("Unknown form."))
    values = option_fields.posted(declared, form)
    if not values.get("plan_pass_length", "-"):
        del values["plan_pass_length"]
    return option_fields.checked(values)


def render_plan(error: str | None = None, where: str | None = None, status: int = 200):
    """The Plan page; after a refused form, its error next to that form and the values as typed."""
    found = owner().plan()
    s = owner().settings()
    if error and where in FORMS:
        s = {**s, **{o.name: request.form.get(o.name, "") for o in option_fields.fields_of(FORMS[where])}}
    topup = request.form.get("size", "") if where == "topup" else ""
    page = render_template("admin/plan.html", p=plan_summary(found.get("plan") or {}), s=s,
                           f=option_fields.fields(*FORMS.values(), values=s),
                           uplink=found.get("uplink") or [], exempt=found.get("exempt") or [],
                           modem=modem_facts(found.get("modem")), error=error, where=where, topup=topup)
    return page, status


@bp.route("/plan", methods=["GET", "POST"])
@login_required
def plan_page():
    if request.method == "GET":
        return render_plan()
    try:
        owner().set_settings(validate_plan(request.form))
    except (InvalidValue, BackendError) as e:
        return render_plan(str(e), request.form.get("form"), 400)
    flash(_("Plan settings saved."))
    return redirect(url_for("admin.plan_page"), 303)


@bp.route("/plan/topup", methods=["POST"])
@login_required
def plan_topup():
    """Add data to this cycle (an add-on bought from the carrier): the guard's points move up at once."""
    size = (request.form.get("size") or "").strip()
    try:
        n = parse_size(size)
        owner().plan_topup(size)
    except InvalidValue:
        return render_plan(_("Top-up: a size such as 500MB or 2GB."), "topup", 400)
    except BackendError as e:
        return render_plan(str(e), "topup", 400)
    flash(_("Added %(size)s to this cycle.", size=format_size(n)))
    return redirect(url_for("admin.plan_page"), 303)


# -- alerts --------------------------------------------------------------------------------------------


def channel_label(name: str) -> str:
    return {"webhook": _("Webhook"), "email": _("Email"), "sms": _("SMS")}.get(name, name)


def delivery_label(status: str) -> str:
    return {"pending": _("Waiting"), "sent": _("Sent"), "failed": _("Failed")}.get(status, status)


def alert_row(a: dict) -> dict:
    """One fired alert as the Alerts page shows it."""
    plan = a.get("kind") == "plan"
    return {
        **a,
        "fired_text": format_datetime(a.get("fired")),
        "who": _("Data plan") if plan else a.get("name") or a.get("subject"),
        "mac": None if plan else a.get("subject"),
        "point_text": f"{a.get('point')}%",
        "usage_text": f"{format_size(a.get('used'))} / {format_size(a.get('allowance'))}",
        "tone": "bad" if (a.get("point") or 0) >= 100 else "warn",
    }


def delivery_row(d: dict) -> dict:
    """One delivery of the outbox's log as the Alerts page shows it."""
    status = d.get("status")
    return {
        **d,
        "created_text": format_datetime(d.get("created")),
        "channel_text": channel_label(d.get("channel")),
        "status_text": delivery_label(status),
        "tone": {"sent": "good", "pending": "warn"}.get(status, "bad"),
        "result": d.get("receipt") if status == "sent" else d.get("last_error") or "",
        "next_text": format_datetime(d["next_try"]) if d.get("next_try") else None,
        "sent_text": format_datetime(d["sent_at"]) if d.get("sent_at") else None,
    }


def render_alerts(error: str | None = None, channel: str | None = None, status: int = 200):
    found = owner().alerts()
    channels = [{**c, "label": channel_label(c.get("name"))} for c in found.get("channels") or []]
    return render_template("admin/alerts.html", alerts=[alert_row(a) for a in found.get("alerts") or []],
                           deliveries=[delivery_row(d) for d in found.get("deliveries") or []],
                           channels=channels, error=error, error_channel=channel), status


@bp.route("/alerts")
@login_required
def alerts_page():
    return render_alerts()


@bp.route("/alerts/test", methods=["POST"])
@login_required
def test_channel():
    """Send a test message through one channel now; its receipt, or why it failed, in one line."""
    channel = request.form.get("channel", "")
    if channel not in CHANNELS:
        return render_alerts(_("Unknown channel."), None, 400)
    try:
        result = owner().test_channel(channel)
    except BackendError as e:
        return render_alerts(str(e), channel, 502)  # the receiver (or the modem) failed, not the form
    flash(_("Test sent through %(channel)s: %(receipt)s", channel=channel_label(channel),
            receipt=result.get("receipt") or "OK"))
    return redirect(url_for("admin.alerts_page"), 303)
