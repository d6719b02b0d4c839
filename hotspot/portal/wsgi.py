"""gunicorn's entry point, `hotspot.portal.wsgi:app`; HOTSPOT_SOCKET names hotspotd's socket."""

from __future__ import annotations

import os

from hotspot.portal.app import create_app


def _backend():
    from hotspot.portal.hotspotd import (
        IpcBackend,  # imported here: only the served app needs the socket client
    )

    return IpcBackend(os.environ["HOTSPOT_SOCKET"])


app = create_app(_backend())
