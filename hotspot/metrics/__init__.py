"""Metrics for a fleet: the Prometheus text of hotspotd's figures (exposition.py), served by the portal
at /metrics and, for routers that already run OpenWrt's prometheus-node-exporter-lua, written by
hotspotd to a textfile its collector reads (textfile.py, options.py)."""
