"""The client's own usage page and its JSON, both named only by the request's source address."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, request, url_for

from hotspot.core.contract import NotAClient
from hotspot.portal.captive import render_signin
from hotspot.portal.client_text import client_text
from hotspot.portal.i18n import _
from hotspot.portal.request import backend

bp = Blueprint("client", __name__)


@bp.route("/")
def index():
    """Usage, cap, state and charts; the sign-in form instead while the client is captive."""
    try:
        me = backend().me(request.remote_addr)  # never a header: the source address is the identity
    except NotAClient:
        return render_template("not_client.html"), 200
    if me.get("reason") == "not_admitted":
        return render_signin(me)
    if me.get("reason") == "ask":  # held at its ask point: the page that asks (own_limits.ask)
        return redirect(url_for("own_limits.ask"), 303)
    return render_template("client.html", me=me, text=client_text(me))


@bp.route("/update-guard", methods=["POST"])
def update_guard():
    """The device switches the update guard on or off for itself (never for another: its address
    names it)."""
    try:
        backend().set_update_guard(request.remote_addr, request.form.get("on") == "1")
    except NotAClient:
        return render_template("not_client.html"), 200
    return redirect(url_for("client.index") + "#apps", 303)


@bp.route("/api/me")
def api_me():
    """The backend's client view plus `text`: the page's strings, formatted in the reader's language."""
    try:
        me = backend().me(request.remote_addr)
    except NotAClient:
        return jsonify(error=_("This device is not a client of this hotspot.")), 404
    body = dict(me)
    body["text"] = client_text(me)
    return jsonify(body)
