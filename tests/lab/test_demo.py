"""`make demo` (python -m lab.demo) runs; its policy shows in the final table, nothing is left."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def test_demo_runs_shows_the_portal_on_localhost_and_cleans_up():
    p = subprocess.Popen([sys.executable, "-m", "lab.demo", "--seconds", "15"], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in p.stdout:
        lines.append(line)
        if "admin UI" in line:
            break
    banner = "".join(lines)
    macs = dict(re.findall(r"^  (phone|laptop|tablet) +\S+ +((?:[0-9a-f]{2}:){5}[0-9a-f]{2})", banner, re.M))
    pages = dict(re.findall(r"^  (phone|laptop|tablet) page +(http://127\.0\.0\.1:\d+)/", banner, re.M))
    admin = re.search(r"admin UI +(\S+) +password: (\S+)", banner)
    try:
        assert set(pages) == set(macs) == {"phone", "laptop", "tablet"}, banner
        for name, url in pages.items():  # each localhost port shows that client its own page
            assert json.loads(_get(url + "/api/me"))["mac"] == macs[name]
        assert "<form" in _get(admin.group(1)), "the admin UI's login page"
        assert len(admin.group(2)) >= 8
    finally:
        rest, err = p.communicate(timeout=120)
    out = banner + rest
    assert p.returncode == 0, f"exit {p.returncode}\n{out[-3000:]}\n{err[-3000:]}"
    lab = re.search(r"\b(hs[0-9a-f]{6})-router\b", out).group(1)

    final = out.split("Final usage (hotspotctl clients):\n", 1)[1].splitlines()
    header = final[0].split()
    assert header[:4] == ["MAC", "HOSTNAME", "IP", "STATE"], final[0]
    rows = [row.split() for row in final[1:] if re.match(r"([0-9a-f]{2}:){5}[0-9a-f]{2} ", row)]
    states = {row[1]: row[3] for row in rows}
    assert states == {"phone": "capped", "laptop": "throttled", "tablet": "ok"}, "\n".join(final)

    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert not [line for line in netns.splitlines() if line.startswith(f"{lab}-")], netns
    assert not Path(f"/run/hotspot-lab/{lab}.json").exists()
