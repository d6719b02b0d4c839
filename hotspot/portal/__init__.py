"""The portal: a Flask application that asks hotspotd for everything over its socket.

app.py          the factory: create_app(backend) registers every blueprint below
request.py      what every page asks of the request: backend(), settings(), portal_base(), CSRF
owner.py        what every owner's page stands on: login_required, owner(), CSV exports
hotspotd.py     the Backend the served app uses: the socket's client, made from hotspot/contract.py
pages, each with its blueprint: captive.py (sign-in, OS probes, the catch-all), client.py (a device's
                own page), admin.py (login, dashboard, clients, settings), vouchers.py, plan.py,
                alerts.py, history.py (its JSON and the card's template global), ghost.py, metrics.py
words:          client_text.py, plan_text.py, forecast_text.py, history_card.py; i18n.py; errors.py
gunicorn:       wsgi.py, worker.py, gunicorn_settings.py

hotspotctl imports hotspotd.py (to end the admin sessions), so this package imports nothing itself:
Flask loads only in the portal's own processes.
"""
