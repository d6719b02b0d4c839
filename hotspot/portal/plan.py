"""The owner's page for the uplink's data plan: /admin/plan (its cycle, its guard, a top-up).

The plan's forms take their fields from the options' declarations, and check each with the config's own
rules before hotspotd is asked (hotspot/portal/option_fields.py), so a bad value gets a one-line 400 and
nothing is written; hotspotd checks the whole file again before it replaces it.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from hotspot.core.contract import BackendError
from hotspot.core.units import InvalidValue, parse_size
from hotspot.portal import option_fields
from hotspot.portal.carrier_text import carrier_facts
from hotspot.portal.i18n import _, format_size
from hotspot.portal.owner import login_required, owner
from hotspot.portal.plan_text import modem_facts, plan_summary

FORMS = {"cycle": "plan-cycle", "guard": "plan-guard"}  # the form's name in the page -> in the declarations

bp = Blueprint("plan", __name__, url_prefix="/admin")


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
                           modem=modem_facts(found.get("modem")), error=error, where=where, topup=topup,
                           carrier=carrier_facts(found.get("carrier")))
    return page, status


@bp.route("/plan", methods=["GET", "POST"])
@login_required
def page():
    if request.method == "GET":
        return render_plan()
    try:
        owner().set_settings(validate_plan(request.form))
    except (InvalidValue, BackendError) as e:
        return render_plan(str(e), request.form.get("form"), 400)
    flash(_("Plan settings saved."))
    return redirect(url_for("plan.page"), 303)


@bp.route("/plan/topup", methods=["POST"])
@login_required
def topup():
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
    return redirect(url_for("plan.page"), 303)
