"""Prometheus text exposition for fleet monitoring: an admin session or the bearer token may read it,
both checked by hotspotd (the portal never holds the token). The text is hotspot.metrics.exposition's."""

from __future__ import annotations

from flask import Blueprint, Response, request, session

from hotspot.core.contract import NotAdmin
from hotspot.metrics.exposition import escape_label, render
from hotspot.portal.request import backend

__all__ = ["bp", "escape_label", "render"]

bp = Blueprint("metrics", __name__)


@bp.route("/metrics")
def metrics():
    auth = request.headers.get("Authorization", "")
    token = auth[7:].strip() if auth.startswith("Bearer ") else None
    admin = session.get("admin")
    try:
        found = backend().metrics(session=admin if isinstance(admin, str) else None, token=token or None)
    except NotAdmin:
        return Response("unauthorized\n", 401, {"WWW-Authenticate": 'Bearer realm="hotspot"'},
                        mimetype="text/plain")
    return Response(render(found), mimetype="text/plain; version=0.0.4")
