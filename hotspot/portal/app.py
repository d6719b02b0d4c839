"""The portal: a Flask application factory and its blueprints.

The portal runs as an unprivileged gunicorn worker on the LAN; everything it shows or changes it asks of
hotspotd through a Backend (`backend.py`), so the app itself holds no state but the signed session cookie:
a CSRF token, the language and, for the owner, the session token hotspotd issued at login, which goes
with every owner's operation for hotspotd to check. The key that signs the cookie comes from hotspotd and
makes no one admin.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, redirect, request, session

from hotspot.contract import OPS
from hotspot.core.contract import ADMIN, METRICS, Backend, BackendError


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


def https_only():
    """With TLS configured, the admin UI is HTTPS only: plain HTTP /admin* (any method: a password
    sent in the clear is not acted on) goes to the same path on the HTTPS portal."""
    if request.is_secure or not settings().get("tls"):
        return None
    admin = request.path == "/admin" or request.path.startswith("/admin/")
    if not admin or not is_portal_host():
        return None  # another site's request the kernel sent here: the captive catch-all's
    base = settings().get("portal_url") or ""
    if not base.startswith("https://"):
        host = urlsplit("//" + request.host).hostname or ""
        host = f"[{host}]" if ":" in host else host
        port = settings().get("tls_port") or 443
        base = f"https://{host}" + ("" if port == 443 else f":{port}")
    query = "?" + request.query_string.decode("latin-1") if request.query_string else ""
    return redirect(base.rstrip("/") + request.path + query, 302)


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
    tls = os.environ.get("HOTSPOT_TLS") == "1"  # hotspotd sets it for the process that serves HTTPS
    app.config.from_mapping(
        # hotspotd's key for this run: both portal processes and every worker share it, so a form
        # made by one is accepted by another
        SECRET_KEY=bytes.fromhex(ps["cookie_key"]) if ps.get("cookie_key") else secrets.token_bytes(32),
        TESTING=testing,
        # Secure, and a name of its own, only in the HTTPS process: the plain HTTP portal (captive
        # sign-in, the guests' pages) must keep its cookies too, and cannot overwrite a Secure one.
        SESSION_COOKIE_NAME="__Host-hotspot" if tls else "hotspot",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=tls,
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
    app.before_request(https_only)
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
        if request.is_secure:
            resp.headers["Strict-Transport-Security"] = "max-age=31536000"
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
