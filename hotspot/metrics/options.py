"""The metrics textfile: where hotspotd writes its Prometheus text for node-exporter's textfile
collector, and how often."""

from __future__ import annotations

from hotspot.core.config import Bad, Option, optional_path, ranged

HEADING = "The owner's access"


def textfile_path(v: str) -> str | None:
    """An absolute path ending in .prom (the collector reads /var/prometheus/*.prom), or '' for none."""
    path = optional_path(v)
    if path is not None and (not path.endswith(".prom") or path.endswith("/.prom")):
        raise Bad(f"'{v}' is not a file name ending in .prom (the textfile collector reads only those)")
    return path


OPTIONS = (
    Option("metrics_textfile", textfile_path, None, "A file hotspotd writes /metrics' text to; '' for none.",
           "A file hotspotd writes the text of /metrics to, for OpenWrt's prometheus-node-exporter-lua, "
           "whose textfile collector serves /var/prometheus/*.prom (e.g. '/var/prometheus/hotspot.prom'; "
           "/var is in RAM). Replaced whole, 0644, never through a link; '' for none.", heading=HEADING),
    Option("metrics_textfile_interval", ranged(1, 3600, "a whole number of seconds between 1 and 3600"), 15,
           "Seconds between writes of the metrics textfile.", heading=HEADING, joined=True),
)
