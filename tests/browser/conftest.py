"""Browser tests: Debian's headless Chromium, run inside a lab client's namespace (so the portal sees
that client), against the real hotspotd and its portal. Screenshots go to $HOTSPOT_ARTIFACTS/browser
(default .artifacts/browser), one per step that asks for it; a failing step leaves one too."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.lab.conftest import _lab_session, lab, start_hotspotd, web  # noqa: F401 (the lab fixtures)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("HOTSPOT_ARTIFACTS", ROOT / ".artifacts")) / "browser"
SESSION = Path(__file__).with_name("session.py")
PHONE, DESKTOP = (390, 844), (1280, 900)


@pytest.fixture
def browse(request):
    """browse(client, steps, lang=, size=, name=, mobile=) -> the results of the steps (see session.py);
    `mobile`: emulate a phone's screen (CSS media queries on the device's width)."""
    the_lab = request.getfixturevalue("lab")

    def run(client: str, steps: list[dict], *, lang: str = "en-US", size=PHONE, name: str = "plan",
            mobile: bool = False) -> list:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        plan = ARTIFACTS / f"{request.node.name}-{name}.json"
        plan.write_text(json.dumps({"lang": lang, "width": size[0], "height": size[1], "mobile": mobile,
                                    "steps": steps}))
        p = the_lab.run(the_lab.clients[client].ns, sys.executable, str(SESSION), str(plan), timeout=180,
                        check=False)
        if p.returncode:
            pytest.fail(f"the browser session failed ({p.returncode}): {p.stderr[-2000:]}")
        results = json.loads(p.stdout.strip().splitlines()[-1])
        if results and isinstance(results[-1], dict) and "error" in results[-1]:
            pytest.fail(f"{name}: {results[-1]['error']} (screenshot: {plan.with_suffix('.failed.png')})")
        return results

    return run


def shot(request, name: str) -> dict:
    return {"shot": str(ARTIFACTS / f"{request.node.name}-{name}.png")}
