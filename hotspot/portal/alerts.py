"""The owner's page for alerts: the alert points fired, the delivery log, the channels configured and
a test message through one of them (/admin/alerts)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from hotspot.core.contract import BackendError
from hotspot.portal.i18n import _, format_datetime, format_size
from hotspot.portal.owner import login_required, owner

bp = Blueprint("alerts", __name__, url_prefix="/admin")
CHANNELS = ("webhook", "email", "sms")


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
def page():
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
    return redirect(url_for("alerts.page"), 303)
