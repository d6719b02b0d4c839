"""`make demo` (python -m hotspot.lab.demo) runs; its policy shows in the final table, nothing is left."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_and_cleans_up():
    p = subprocess.run([sys.executable, "-m", "hotspot.lab.demo", "--seconds", "12"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    out = p.stdout
    assert p.returncode == 0, f"exit {p.returncode}\n{out[-3000:]}\n{p.stderr[-3000:]}"
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
