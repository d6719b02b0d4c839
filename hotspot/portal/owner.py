"""What every owner's page stands on: the guard (login_required), the Backend as the logged-in owner
(owner()), and the CSV its exports write.

The session token in the cookie is only a claim: hotspotd issued it at a login it checked, and checks
it again with every owner's operation (NotAdmin when it has ended, which errors.py answers like a
missing one: back to the login).
"""

from __future__ import annotations

import csv
import io
from functools import wraps
from urllib.parse import urlencode

from flask import Response, jsonify, redirect, request, session, url_for

from hotspot.contract import OPS
from hotspot.core.contract import ADMIN, METRICS, Backend
from hotspot.portal.i18n import _, local_path
from hotspot.portal.request import backend


class AsOwner:
    """The Backend as the logged-in owner: each owner's operation carries this session's token."""

    def __init__(self, b: Backend, token) -> None:
        self._backend, self._token = b, token

    def __getattr__(self, name: str):
        method, op = getattr(self._backend, name), OPS.get(name)
        if op is not None and op.who in (ADMIN, METRICS):
            return lambda *args, **kw: method(*args, session=self._token, **kw)
        return method


def owner() -> AsOwner:
    """The Backend for the owner's pages: hotspotd checks the session token with every call."""
    return AsOwner(backend(), session.get("admin"))


def login_required(view):
    """Without an admin session token: 401 JSON for the API, else a redirect to the login page."""

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
    if request.method == "GET" and request.path.startswith("/admin/"):
        # an alert's link lands there after login (re-encoded: nothing the request said but a path of ours)
        query = urlencode(list(request.args.items(multi=True)))
        session["after_login"] = local_path(request.path) + (f"?{query}" if query else "")
    return redirect(url_for("admin.login"))


def after_login() -> str:
    """Where a login goes: the owner's page that sent to it (kept in the signed cookie by
    not_logged_in, so only a path of ours), else the dashboard."""
    path = session.pop("after_login", None)
    if isinstance(path, str) and path.startswith("/admin/") and not path.startswith(("//", "/\\")) \
            and "\\" not in path and len(path) < 512:
        return path
    return url_for("admin.dashboard")


def csv_cell(value) -> str:
    """A cell a spreadsheet shows as text: formulas (= + - @, tab, CR) are defused with a leading quote."""
    s = "" if value is None else str(value)
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


def csv_download(filename: str, columns: tuple[str, ...], rows) -> Response:
    """`rows` (dicts) as a CSV attachment with a header line of `columns`, every cell defused."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(columns)
    for row in rows:
        w.writerow([csv_cell(row.get(k)) for k in columns])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
