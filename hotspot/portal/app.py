"""The portal: a Flask application factory and its blueprints.

The portal runs as an unprivileged gunicorn worker on the LAN; everything it shows or changes it asks of
hotspotd through a Backend (`backend.py`), so the app itself holds no state but the signed session cookie.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, request, session

from hotspot.portal.backend import Backend, BackendError


def web_dir() -> Path:
    """Templates, static files and translations: $HOTSPOT_WEB, else the repo's web/, else the package's."""
    env = os.environ.get("HOTSPOT_WEB")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parent.parent.parent / "web"
    if (repo / "templates").is_dir():
        return repo
    return Path("/usr/share/hotspot/web")  # installed layout (openwrt/)


def backend() -> Backend:
    """The Backend of the running app."""
    return current_app.extensions["hotspot.backend"]


def settings() -> dict:
    """portal_settings(), asked again at most every 10 s so a changed auth mode or venue shows up soon."""
    ext = current_app.extensions
    if time.monotonic() - ext["hotspot.portal_settings_at"] > 10:
        ext["hotspot.portal_settings_at"] = time.monotonic()
        try:
            ext["hotspot.portal_settings"] = backend().portal_settings()
        except BackendError:
            pass  # keep the last answer; the page that needs hotspotd will say it is not answering
    return ext["hotspot.portal_settings"]


def portal_base() -> str:
    """The URL clients reach the portal at, e.g. 'http://192.168.1.1:8080' (no trailing slash)."""
    url = settings().get("portal_url")
    if url:
        return url.rstrip("/")
    return f"{request.scheme}://{request.host}"


def is_portal_host() -> bool:
    """True when the request was addressed to the portal itself, not to a site whose plain HTTP the
    kernel redirected here: its Host names one of the router's own addresses or names (any port: a
    forwarded port reaches the portal too)."""
    hosts = settings().get("portal_hosts")
    if not hosts and not settings().get("portal_url"):
        return True
    if not hosts:
        hosts = [urlsplit(portal_base()).hostname or ""]
    try:
        got = (urlsplit("//" + request.host).hostname or "").lower()
    except ValueError:
        return False
    return got in {h.lower() for h in hosts}


def csrf_token() -> str:
    """This session's CSRF token, made on first use; every form and JS POST carries it."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(24)
    return token


def _check_csrf() -> None:
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    sent = request.form.get("csrf") or request.headers.get("X-CSRF-Token") or ""
    want = session.get("csrf") or ""
    if not want or not secrets.compare_digest(sent, want):
        abort(400, description="csrf")


def create_app(backend: Backend, *, testing: bool = False, **overrides) -> Flask:
    """Build the portal around `backend`; `overrides` go into app.config last (tests, screenshots)."""
    from hotspot.portal import admin, captive, client, ghost_pages, i18n, metrics

    web = web_dir()
    app = Flask(
        __name__,
        template_folder=str(web / "templates"),
        static_folder=str(web / "static"),
        static_url_path="/static",
    )
    ps = backend.portal_settings()
    app.config.from_mapping(
        SECRET_KEY=bytes.fromhex(ps["secret"]) if ps.get("secret") else secrets.token_bytes(32),
        TESTING=testing,
        SESSION_COOKIE_NAME="hotspot",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        # Secure only in the process that serves HTTPS (hotspotd sets HOTSPOT_TLS for it): the plain
        # HTTP portal (captive sign-in, admin on the LAN address) must keep its cookies too.
        SESSION_COOKIE_SECURE=os.environ.get("HOTSPOT_TLS") == "1",
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
    app.before_request(_check_csrf)
    app.jinja_env.globals.update(csrf_token=csrf_token)
    app.context_processor(lambda: {"venue": settings().get("venue"),
                                   "retention": settings().get("retention")})  # what is kept, how long

    @app.after_request
    def _headers(resp):
        """Nothing here is cacheable or frameable, and no script runs but our own file."""
        resp.headers.setdefault("Cache-Control", "no-store")
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self' http: https:"
        )
        return resp

    for bp in (captive.bp, client.bp, admin.bp, metrics.bp, ghost_pages.bp):
        app.register_blueprint(bp)
    from hotspot.portal import errors

    errors.init_app(app)
    return app
