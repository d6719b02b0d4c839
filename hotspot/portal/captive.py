"""Captive portal: RFC 8908 state, the sign-in page, OS probes and the catch-all for redirected requests.

The kernel sends an unadmitted client's plain HTTP to the portal whatever site it asked for, so any request
whose Host is not the portal is answered with a redirect to the sign-in page that keeps the original URL.
The OS connectivity probes never read "success" while the client is still captive, which is what makes
phones open their captive-portal sheet.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from flask import Blueprint, abort, jsonify, redirect, render_template, request

from hotspot.core.contract import BackendError, NotAClient, VoucherRefused
from hotspot.portal.client_text import client_text
from hotspot.portal.i18n import _
from hotspot.portal.request import backend, is_portal_host, portal_base, settings

bp = Blueprint("captive", __name__)

MAX_URL = 2000
STOPPED = ("blocked", "paused", "cap_block", "voucher_used", "plan_block",
           "plan_stop", "own_limit")  # admitted, no traffic goes out
BY_VOUCHER = ("cap_block", "voucher_used")  # of those, what a new voucher code ends
VOUCHER = re.compile(r"[A-Za-z0-9-]{4,32}")

# Probe paths and what each OS expects once it is online.
_APPLE = "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"
PROBES = {
    "/hotspot-detect.html": ("text/html", _APPLE),
    "/library/test/success.html": ("text/html", _APPLE),
    "/generate_204": (None, ""),
    "/gen_204": (None, ""),
    "/connecttest.txt": ("text/plain", "Microsoft Connect Test"),
    "/ncsi.txt": ("text/plain", "Microsoft NCSI"),
    "/canonical.html": (
        "text/html",
        '<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>',
    ),
    "/success.txt": ("text/plain", "success\n"),
}


def safe_url(url: str | None) -> str | None:
    """`url` if it is an absolute http(s) URL fit to send a browser back to, else None (no open redirect)."""
    if not url or len(url) > MAX_URL or any(c in url for c in "\\\r\n\t ") or not url.isprintable():
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        return None
    try:
        parts.port  # noqa: B018 -- raises for a port that cannot be
    except ValueError:
        return None
    return url


def signin_url(kept: str | None) -> str:
    url = portal_base() + "/signin"
    return url + "?url=" + quote(kept, safe="") if kept else url


def _original_url() -> str | None:
    path = request.full_path if request.query_string else request.path
    return safe_url(f"http://{request.host}{path}")


@bp.before_app_request
def catch_foreign_host():
    """A request for another site reached us because the kernel redirected it: send it to sign in."""
    if request.endpoint == "static" and is_portal_host():
        return None
    if not is_portal_host():
        return redirect(signin_url(_original_url()), 302)
    return None


def _captive_state(ip: str) -> dict:
    try:
        return backend().captive(ip)
    except NotAClient:
        # Not known yet (a device that just joined): captive whenever sign-in is required.
        return {"captive": settings().get("auth", "none") != "none", "seconds_remaining": None,
                "bytes_remaining": None, "can_extend": False}


@bp.route("/api/captive")
def api_captive():
    """RFC 8908 captive portal API."""
    st = _captive_state(request.remote_addr)
    body = {"captive": bool(st.get("captive")), "user-portal-url": portal_base() + "/"}
    venue = settings().get("venue")
    body["venue-info-url"] = venue if safe_url(venue) else portal_base() + "/"
    if st.get("seconds_remaining") is not None:
        body["seconds-remaining"] = int(st["seconds_remaining"])
    if st.get("bytes_remaining") is not None:
        body["bytes-remaining"] = int(st["bytes_remaining"])
    body["can-extend-session"] = bool(st.get("can_extend"))
    resp = jsonify(body)
    resp.mimetype = "application/captive+json"
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


def _probe(path: str):
    if _captive_state(request.remote_addr).get("captive"):
        return redirect(signin_url(None), 302)
    mimetype, body = PROBES[path]
    if mimetype is None:
        return "", 204
    return body, 200, {"Content-Type": f"{mimetype}; charset=utf-8"}


for _path in PROBES:
    bp.add_url_rule(_path, "probe" + _path.replace("/", "_").replace(".", "_"), lambda p=_path: _probe(p))


def voucher_code() -> str | None:
    """The code a voucher's QR code put in the sign-in link (`?voucher=`), to fill in the form."""
    code = (request.values.get("voucher") or "").strip()
    return code.upper() if VOUCHER.fullmatch(code) else None


def refusal(e: VoucherRefused) -> str:
    """Why a voucher was refused, in the reader's language."""
    return {
        "invalid": _("That voucher code is not valid."),
        "revoked": _("This voucher has been revoked."),
        "expired": _("This voucher has expired."),
        "used_up": _("This voucher's data is used up."),
        "devices": _("This voucher is already in use on as many devices as it allows."),
        "radius_unreachable": _("The sign-in server does not answer; please try again later."),
        "radius_denied": _("The user name or password was not accepted."),
    }.get(e.reason, str(e))


def render_signin(me: dict, error: str | None = None, status: int = 200):
    kept = safe_url(request.values.get("url"))
    return render_template("signin.html", me=me, text=client_text(me), kept=kept, error=error,
                           voucher_code=voucher_code()), status


@bp.route("/signin", methods=["GET", "POST"])
def signin():
    """The terms (click) or voucher form; once admitted, back to the page the client first asked for."""
    ip = request.remote_addr
    try:
        me = backend().me(ip)
    except NotAClient:
        return render_template("not_client.html"), 200
    kept = safe_url(request.values.get("url"))
    if request.method == "GET":
        if me.get("reason") == "ask":  # held at its ask point: the page that asks (own_limits.ask)
            return redirect(portal_base() + "/ask" + ("?url=" + quote(kept, safe="") if kept else ""), 302)
        if me.get("reason") in STOPPED and not (me.get("auth") == "voucher" and me["reason"] in BY_VOUCHER):
            # Blocked or out of data: the kernel sent its HTTP here; its own page says why (and,
            # with vouchers, takes a new code).
            return redirect(portal_base() + "/", 302)
        if me.get("admitted") and me.get("reason") != "not_admitted" and kept:
            return render_template("connected.html", me=me, kept=kept)
        return render_signin(me)
    auth = me.get("auth") or settings().get("auth", "none")
    if auth == "radius":
        return radius_signin(ip, me, kept)
    voucher = None
    if auth == "voucher" or "voucher" in request.form:
        voucher = request.form.get("voucher", "").strip().replace(" ", "")
        if not VOUCHER.fullmatch(voucher):
            return render_signin(me, _("A voucher code is 4 to 32 letters, digits or dashes."), 400)
    elif auth == "click":
        if request.form.get("accept") != "yes":
            return render_signin(me, _("Please accept the terms to continue."), 400)
    else:
        abort(400, description=_("No sign-in is needed on this hotspot."))
    try:
        backend().admit(ip, voucher=voucher) if voucher else backend().admit(ip)
    except NotAClient:
        return render_template("not_client.html"), 200
    except VoucherRefused as e:
        return render_signin(me, refusal(e), 403)
    except BackendError as e:
        return render_signin(me, str(e), 403)
    return redirect(kept or portal_base() + "/", 303)


def radius_signin(ip: str, me: dict, kept: str | None):
    """A user name and password the RADIUS server checks; its Reply-Message is shown either way."""
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    if not username or not password:
        return render_signin(me, _("Please enter your user name and password."), 400)
    try:
        view = backend().radius_signin(ip, username, password)
    except NotAClient:
        return render_template("not_client.html"), 200
    except VoucherRefused as e:
        return render_signin(me, str(e) if e.reason == "radius_reject" else refusal(e), 403)
    except BackendError as e:
        return render_signin(me, str(e), 403)
    return render_template("connected.html", me=view, kept=kept or portal_base() + "/",
                           reply_message=view.get("radius_message"))
