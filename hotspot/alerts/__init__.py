"""Alerts and reports: the points that fire, the durable outbox, the channels, the report email."""
