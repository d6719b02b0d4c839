"""gunicorn's settings for the portal (`-c python:hotspot.portal.gunicorn_settings`): its log lines look
like hotspotd's, one per event, no timestamp (procd/logd add their own), on the stderr it shares. It
imports nothing, so gunicorn's master never imports Flask (only its worker needs it)."""

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": {"format": "hotspot-portal[%(process)d]: %(levelname)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "line",
                            "stream": "ext://sys.stderr"}},
    "loggers": {
        "gunicorn.error": {"level": "WARNING", "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
    },
    "root": {"level": "WARNING", "handlers": ["stderr"]},
}

# gunicorn 25 and later run a control server (a thread and a Unix socket under $HOME for `gunicornc`)
# in the master: the portal's user has no home to put it in, and hotspotd alone steers the portal.
# Older gunicorn ignores the name.
control_socket_disable = True
