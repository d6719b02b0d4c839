"""The owner's options beyond the admin login: the token a monitoring server reads /metrics with."""

from __future__ import annotations

from hotspot.core.config import Option, token

HEADING = "The owner's access"

OPTIONS = (
    Option("metrics_token", token, None, "A bearer token for /metrics without the admin login.",
           "A bearer token that lets a monitoring server read /metrics without the admin login "
           "('Authorization: Bearer TOKEN'), 16 to 256 characters; empty for none (admin login only).",
           heading=HEADING),
)
