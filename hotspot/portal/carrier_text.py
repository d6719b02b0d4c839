"""The carrier's last reading in the owner's words, for the Plan page (hotspot.carrier.keeper's record)."""

from __future__ import annotations

from hotspot.carrier.keeper import why_text
from hotspot.portal.i18n import _, format_size

KINDS = {"used": "used", "left": "left"}


def carrier_facts(record) -> dict | None:
    """{"amount": "3.2 GB used" or None, "source": "USSD *100#" | "SMS 10086", "at", "taken", "why": the
    reason in the page's language, "text"}; None without a reading."""
    if not isinstance(record, dict):
        return None
    amount = record.get("amount")
    kind = record.get("kind")
    what = None
    if isinstance(amount, int) and kind in KINDS:
        what = _("%(size)s used", size=format_size(amount)) if kind == "used" else \
            _("%(size)s left", size=format_size(amount))
    source = "USSD" if record.get("source") == "ussd" else _("SMS")
    why = None
    if not record.get("taken"):
        try:
            why = _(str(record.get("why"))) % {k: str(v) for k, v in (record.get("why_args") or {}).items()}
        except (KeyError, TypeError, ValueError):
            why = why_text(record)
    return {"amount": what, "source": f"{source} {record.get('from') or ''}".strip(), "at": record.get("at"),
            "taken": bool(record.get("taken")), "why": why, "text": str(record.get("text") or "")}
