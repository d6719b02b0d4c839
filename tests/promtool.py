"""Prometheus' own tools for the tests: `promtool check metrics` on exposition text, and the text read
back as series, the way a scrape sees it."""

from __future__ import annotations

import re
import shutil
import subprocess

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$")


def promtool_check(text: str) -> None:
    """Fails with promtool's complaints unless the text passes `promtool check metrics` (Debian's
    prometheus package, which `make setup` installs: a missing promtool fails too)."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: make setup installs Debian's prometheus"
    p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, f"promtool check metrics: {(p.stdout + p.stderr).strip()}"


def samples(text: str) -> dict[str, float]:
    """Each sample line as `name{labels}` -> value."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            m = _SAMPLE.match(line)
            assert m, f"not a sample line: {line!r}"
            found[m[1]] = float(m[2])
    return found
