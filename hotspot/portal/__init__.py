"""The portal: a Flask application (app.py: the factory and its helpers; client, captive, admin and
metrics blueprints) that asks hotspotd for everything through a Backend (backend.py).

This package is imported by hotspotd too (for backend.py's errors), so it imports nothing heavy
itself: Flask loads only in the portal's own processes.
"""


def create_app(*args, **kwargs):
    """See app.create_app."""
    from hotspot.portal.app import create_app as make

    return make(*args, **kwargs)
