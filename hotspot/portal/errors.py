"""Error answers: a one-line message, as JSON for the APIs and as a small page for people."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from hotspot.core.contract import NotAdmin
from hotspot.portal.i18n import _
from hotspot.portal.owner import not_logged_in


def _message(e: HTTPException) -> str:
    if e.code == 400 and e.description == "csrf":
        return _("This form has expired. Go back, reload the page and try again.")
    if e.code == 413:
        return _("That request is too large.")
    if e.code == 404:
        return e.description if e.description and "URL" not in e.description else _("Page not found.")
    if e.code == 405:
        return _("That method is not allowed here.")
    if e.code == 400:
        return e.description if e.description and "browser" not in e.description else _("Bad request.")
    return e.name


def init_app(app: Flask) -> None:
    @app.errorhandler(NotAdmin)
    def _not_admin(_e: NotAdmin):
        """hotspotd did not accept the admin session (ended, expired, a new password): log in again."""
        return not_logged_in()

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException):
        msg = _message(e)
        api = request.path.startswith(("/api/", "/admin/api/"))
        if api or request.accept_mimetypes.best == "application/json":
            return jsonify(error=msg), e.code
        return render_template("error.html", code=e.code, message=msg), e.code
