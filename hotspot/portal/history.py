"""Usage history in the portal: the JSON endpoints (a client's own, named by its source address as
everywhere in the portal; the owner's for any client or the plan) and `history_view(subject)`, which
web/templates/_history.html calls to build its card (history_card.py)."""

from __future__ import annotations

import time

from flask import Blueprint, abort, current_app, jsonify, request

from hotspot.core.contract import BackendError, NotAClient
from hotspot.core.units import InvalidValue, parse_mac
from hotspot.portal.history_card import history_card
from hotspot.portal.i18n import _, get_locale
from hotspot.portal.owner import login_required, owner
from hotspot.portal.request import backend

bp = Blueprint("history", __name__)


def _fetcher(subject: str):
    if subject == "me":
        ip = request.remote_addr  # never a header: the source address is the identity
        return lambda by, since, until: backend().me_history(ip, by, since, until)
    return lambda by, since, until: owner().history(subject, by, since, until)


CARD_SECONDS = 30  # a card is made again at most this often per device, range and language


@bp.app_template_global()
def history_view(subject: str) -> dict:
    """The history card of `subject`: "me" (the requesting device), a client's MAC or "plan".
    Three history queries make a card, each a round trip to hotspotd with hundreds of buckets, while
    the card changes by the hour: a page refreshed every few seconds reuses it for CARD_SECONDS
    (the usage figures above it stay live)."""
    who = request.remote_addr if subject == "me" else subject
    key = (who, tuple(sorted(request.args.items(multi=True))), get_locale())
    now = time.monotonic()
    cards = current_app.extensions.setdefault("history_cards", {})  # this app's (a test makes many)
    hit = cards.get(key)
    if hit and now - hit[0] < CARD_SECONDS:
        return hit[1]
    card = history_card(_fetcher(subject), request.args)
    if len(cards) >= 512:
        cards.clear()
    cards[key] = (now, card)
    return card


def _answer(subject: str):
    by = request.args.get("by", "day")
    try:
        return jsonify(_fetcher(subject)(by, request.args.get("from"), request.args.get("to")))
    except NotAClient:
        return jsonify(error=_("This device is not a client of this hotspot.")), 404
    except BackendError as e:
        return jsonify(error=str(e)), 400


@bp.route("/api/me/history")
def api_me():
    """?by=hour|day|month&from=DATE&to=DATE (YYYY-MM-DD or ISO 8601, `to` not included)."""
    return _answer("me")


@bp.route("/admin/api/history/<subject>")
@login_required
def api_owner(subject):
    """As /api/me/history for a client (its MAC) or the plan ("plan")."""
    if subject != "plan":
        try:
            subject = parse_mac(subject)
        except InvalidValue:
            abort(404)
    return _answer(subject)
