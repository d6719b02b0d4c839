"""gunicorn's entry point, `hotspot.portal.wsgi:app`; HOTSPOT_SOCKET names hotspotd's socket."""

from __future__ import annotations

import os

from hotspot.portal.app import create_app
from hotspot.portal.hotspotd import IpcBackend

app = create_app(IpcBackend(os.environ["HOTSPOT_SOCKET"]))
