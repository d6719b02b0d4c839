"""The small core every capability stands on: settings, the database, the clock, files root writes."""
