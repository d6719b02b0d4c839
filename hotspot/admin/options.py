"""The owner's options beyond the admin login: the token a monitoring server reads /metrics with, and
the ubus socket through which rpcd vouches for an owner logged into LuCI."""

from __future__ import annotations

from hotspot.core.config import Option, optional_path, token

HEADING = "The owner's access"

OPTIONS = (
    Option("metrics_token", token, None, "A bearer token for /metrics without the admin login.",
           "A bearer token that lets a monitoring server read /metrics without the admin login "
           "('Authorization: Bearer TOKEN'), 16 to 256 characters; empty for none (admin login only).",
           heading=HEADING),
    Option("ubus_socket", optional_path, None, "The ubus socket rpcd answers on; none: ubus's default.",
           "The ubus socket through which hotspotd asks rpcd whether a LuCI session may open the admin UI "
           "(LuCI's 'Open the full admin UI'); '' for ubus's default.", heading=HEADING),
)
