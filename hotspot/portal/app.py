"""The portal's application factory: create_app builds the Flask app around a Backend, installs the
request rules (request.py), the language (i18n.py) and the error pages (errors.py), and registers every
page module's blueprint.

The portal runs as an unprivileged gunicorn worker on the LAN; everything it shows or changes it asks of
hotspotd through the Backend (hotspotd.py: the socket's client), so the app itself holds no state but the
signed session cookie: a CSRF token, the language and, for the owner, the session token hotspotd issued
at login, which goes with every owner's operation for hotspotd to check. The key that signs the cookie
comes from hotspotd and makes no one admin.
"""

from __future__ import annotations

import secrets
import time

import flask
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from hotspot.core.contract import Backend
from hotspot.core.parts import web_dir
from hotspot.portal import (
    admin,
    alerts,
    captive,
    client,
    errors,
    esim,
    ghost,
    history,
    i18n,
    metrics,
    own_limits,
    plan,
    request,
    selfserve,
    vouchers,
)

# The page modules, each with its blueprint. The captive catch-all (a before_app_request) runs after
# the request rules, as it always has: the order here is the order of the hooks.
PAGES = (captive, client, admin, vouchers, plan, esim, alerts, history, ghost, metrics, selfserve,
         own_limits)


def create_app(backend: Backend, *, testing: bool = False, **overrides) -> Flask:
    """Build the portal around `backend`; `overrides` go into app.config last (tests, screenshots)."""
    web = web_dir()
    app = Flask(
        __name__,
        template_folder=str(web / "templates"),
        static_folder=str(web / "static"),
        static_url_path="/static",
    )
    ps = backend.portal_settings()
    app.session_interface = PortSessions()
    app.config.from_mapping(
        # hotspotd's key for this run: every worker, and a worker gunicorn brings back, shares it, so a
        # form made by one is accepted by another
        SECRET_KEY=bytes.fromhex(ps["cookie_key"]) if ps.get("cookie_key") else secrets.token_bytes(32),
        TESTING=testing,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        MAX_CONTENT_LENGTH=16 * 1024,
        MAX_FORM_MEMORY_SIZE=16 * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
        WEB_DIR=str(web),
    )
    app.config.update(overrides)
    app.json.sort_keys = False
    app.extensions["hotspot.backend"] = backend
    app.extensions["hotspot.portal_settings"] = ps
    app.extensions["hotspot.portal_settings_at"] = time.monotonic()

    i18n.init_app(app)
    request.init_app(app)
    for page in PAGES:
        app.register_blueprint(page.bp)
    errors.init_app(app)
    return app


class PortSessions(SecureCookieSessionInterface):
    """The session cookie of the port the request came in on: over HTTPS Secure, with a name of its
    own, over plain HTTP neither. The plain HTTP portal (captive sign-in, the guests' pages) must keep
    its cookie too, and could not overwrite a Secure one. request.is_secure is the port's (the worker
    sets wsgi.url_scheme from the listener, never from a header)."""

    def get_cookie_name(self, app: Flask) -> str:
        return SECURE_COOKIE if flask.request.is_secure else PLAIN_COOKIE

    def get_cookie_secure(self, app: Flask) -> bool:
        return flask.request.is_secure


SECURE_COOKIE, PLAIN_COOKIE = "__Host-hotspot", "hotspot"
