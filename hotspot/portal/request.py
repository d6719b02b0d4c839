"""What every page of the portal asks about the request it serves: hotspotd's Backend, the portal's
settings, the portal's own address, whether the request was meant for it, its CSRF token; and the
rules every request meets (CSRF, HTTPS for the admin UI, the security headers), installed by init_app.

Nothing here is state: the Backend and the last portal_settings() live in the app's extensions, put
there by the factory (app.py).
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, redirect, request, session

from hotspot.core.contract import Backend, BackendError


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


def wants_json() -> bool:
    """The page's script asked (Accept: application/json), not a form posted by the browser."""
    return request.accept_mimetypes.best == "application/json"


def csrf_token() -> str:
    """This session's CSRF token, made on first use; every form and JS POST carries it."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(24)
    return token


# Posted from elsewhere with a credential of their own that hotspotd checks: LuCI's session id.
CSRF_FREE = frozenset({"admin.from_luci"})


def check_csrf() -> None:
    """Every state-changing request carries this session's CSRF token (a form field or a header)."""
    if request.method not in ("POST", "PUT", "PATCH", "DELETE") or request.endpoint in CSRF_FREE:
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


def security_headers(resp):
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


def init_app(app: Flask) -> None:
    """Every request: HTTPS for the admin UI, then the CSRF check; every answer: the security headers.
    Every template: csrf_token(), the venue and what is kept how long (the privacy note)."""
    app.before_request(https_only)
    app.before_request(check_csrf)
    app.after_request(security_headers)
    app.jinja_env.globals.update(csrf_token=csrf_token)
    app.context_processor(lambda: {"venue": settings().get("venue"),
                                   "retention": settings().get("retention")})
