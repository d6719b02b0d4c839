"""hotspotd's metrics textfile: the text of /metrics, replaced whole every metrics_textfile_interval
seconds (a poll step), for node-exporter's textfile collector. The collector runs as root and reads
the file by name, so root writes it only in a directory no other user can change (made 0755 if
missing), through a new file renamed over the old: a link someone put at the name is replaced, never
followed."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from hotspot.core.files import own_dir, write_atomic
from hotspot.metrics.exposition import render

MODE = 0o644  # the collector (root) reads it; so may anyone: it holds what /metrics serves


def write_textfile(path: str, text: str) -> None:
    """Replace `path` with `text`: readers see the old file or the new one, never a half."""
    directory = own_dir(os.path.dirname(path), 0o755, "metrics_textfile's directory")
    write_atomic(os.path.join(directory, os.path.basename(path)), text, MODE, keep=False)


class Textfile:
    """The poll step: writes when the option is set and its interval has passed."""

    def __init__(self, core, metrics: Callable[[], dict]) -> None:
        self.core, self.metrics = core, metrics
        self.due = 0.0  # time.monotonic() of the next write

    def step(self) -> None:
        cfg = self.core.cfg
        if cfg.metrics_textfile is None or time.monotonic() < self.due:
            return
        self.due = time.monotonic() + cfg.metrics_textfile_interval
        write_textfile(cfg.metrics_textfile, render(self.metrics()))
