"""`python -m hotspot.cli`: hotspotctl."""

from hotspot.cli import run

run()
