"""The owner's page for the uplink's data plans: /admin/plan (each SIM's plan; the one chosen: its cycle,
its guard; the plan in force: a top-up, the carrier's figure).

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
from hotspot.portal.i18n import _, format_datetime, format_size
from hotspot.portal.owner import login_required, owner
from hotspot.portal.plan_text import cycle_label, modem_facts, plan_summary

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


def chosen(plans: list[dict], sim: str | None) -> dict:
    """The plan the page edits: the SIM named (?sim= or the form's), else the one in force."""
    for p in plans:
        if sim is not None and (p["iccid"] or "") == sim:
            return p
    return next((p for p in plans if p["active"]), plans[0] if plans else {"iccid": None, "active": True})


def sim_rows(plans: list[dict]) -> list[dict]:
    """The SIMs' plans as the page lists them."""
    return [{**p, "sim": p["iccid"] or "", "used_text": format_size(p["used"]),
             "allowance_text": format_size(p["allowance"]) if p["allowance"] else _("No quota"),
             "cycle_text": cycle_label(p["cycle"]),
             "seen_text": format_datetime(p["last_seen"]) if p["last_seen"] else "–",
             "type_text": {"esim": _("eSIM"), "physical": _("SIM")}.get(p["sim_type"] or "", _("SIM"))}
            for p in plans if p["iccid"]]


def calibration_rows(plan: dict) -> list[dict]:
    return [{**c, "at_text": format_datetime(c["at"]), "theirs_text": format_size(c["theirs"]),
             "ours_text": format_size(c["ours"]),
             "gap_text": ("+" if c["gap"] >= 0 else "−") + format_size(abs(c["gap"])),
             "source_text": {"owner": _("you"), "ussd": _("USSD"), "sms": _("SMS")}.get(c["source"],
                                                                                          c["source"])}
            for c in plan.get("calibrations") or []]


def render_plan(error: str | None = None, where: str | None = None, status: int = 200):
    """The Plan page; after a refused form, its error next to that form and the values as typed."""
    found = owner().plan()
    plans = found.get("plans") or []
    editing = chosen(plans, request.values.get("sim"))
    s = {**owner().settings(), **(editing.get("settings") or {})}
    if error and where in FORMS:
        s = {**s, **{o.name: request.form.get(o.name, "") for o in option_fields.fields_of(FORMS[where])}}
    topup = request.form.get("size", "") if where == "topup" else ""
    page = render_template("admin/plan.html", p=plan_summary(found.get("plan") or {}), s=s,
                           f=option_fields.fields(*FORMS.values(), values=s),
                           uplink=found.get("uplink") or [], exempt=found.get("exempt") or [],
                           modem=modem_facts(found.get("modem")), error=error, where=where, topup=topup,
                           sims=sim_rows(plans), editing={**editing, "sim": editing.get("iccid") or ""},
                           calibrations=calibration_rows(found.get("plan") or {}),
                           used_form={k: request.form.get(k, "") for k in ("used", "at")} if where == "used"
                           else {}, esim=esim_listing(),
                           carrier=carrier_facts(found.get("carrier")))
    return page, status


def esim_listing() -> dict | None:
    """The eSIM's profiles (their forms: hotspot/portal/esim.py), or None without lpac: no section."""
    try:
        found = owner().esim()
    except BackendError as e:  # hotspotd busy or gone: the rest of the page still shows
        return {"available": True, "eid": None, "profiles": [], "error": str(e)}
    return found if found.get("available") else None


@bp.route("/plan", methods=["GET", "POST"])
@login_required
def page():
    if request.method == "GET":
        return render_plan()
    sim = request.form.get("sim", "")
    try:
        owner().plan_set(sim, validate_plan(request.form))
    except (InvalidValue, BackendError) as e:
        return render_plan(str(e), request.form.get("form"), 400)
    flash(_("Plan settings saved."))
    return redirect(url_for("plan.page", sim=sim or None), 303)


@bp.route("/plan/name", methods=["POST"])
@login_required
def name():
    """Name a SIM's plan ("Home", "Japan pass"), so the owner knows them apart."""
    sim = request.form.get("sim", "")
    try:
        owner().plan_name(sim, (request.form.get("name") or "")[:64])
    except BackendError as e:
        return render_plan(str(e), "name", 400)
    flash(_("Plan name saved."))
    return redirect(url_for("plan.page", sim=sim or None), 303)


@bp.route("/plan/used", methods=["POST"])
@login_required
def used():
    """The carrier's own figure for this cycle (its app, its website, its SMS): the plan counts on from it."""
    size, at = (request.form.get("used") or "").strip(), (request.form.get("at") or "").strip()
    try:
        parse_size(size)
        owner().plan_calibrate(size, at or None)
    except InvalidValue:
        return render_plan(_("The carrier's figure: a size such as 3.2GB."), "used", 400)
    except BackendError as e:
        return render_plan(str(e), "used", 400)
    flash(_("This cycle's use is now the carrier's %(size)s.", size=format_size(parse_size(size))))
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
