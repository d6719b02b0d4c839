"""A portal whose user cannot read the code (a clone in a private directory, as a new user tries it):
hotspotd says so in one line, with the path and the fix, keeps counting, and starts the portal once
the path is opened."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from lab.hotspotd import Hotspotd
from tests.lab.conftest import register

REPO = Path(__file__).resolve().parents[3]


def test_a_portal_its_user_cannot_read_is_one_line_and_counting_goes_on(lab):
    private = Path(lab.dir) / "clone"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    for part in ("hotspot", "nft", "web"):
        shutil.copytree(REPO / part, private / part, ignore=shutil.ignore_patterns("__pycache__"))
    d = Hotspotd(lab)
    user = d.config.portal_user
    # The system's interpreter (with Flask and gunicorn from Debian) and this copy of the package only:
    # the venv's editable install would find the repository's own copy.
    d.python = "/usr/bin/python3"
    d.extra_env = {"PYTHONPATH": str(private), "PYTHONSAFEPATH": "1"}
    d.start()
    register(lab, d, "c1")

    line = lab.wait_for(lambda: [x for x in d.log().splitlines() if "portal: user" in x], 15,
                        "hotspotd to say why the portal cannot start")
    assert line == [f"hotspotd[{d.proc.pid}]: ERROR: portal: user {user} cannot read {private}: "
                    f"Permission denied; make the path readable (chmod o+rx {private}) or install the "
                    f"package"], d.log()[-2000:]

    # Counting goes on, and the line is not repeated while hotspotd tries again.
    lab.iperf("c1", bytes=2_000_000, reverse=True)
    lab.wait_for(lambda: d.client(lab.clients["c1"].mac)["bytes_total"] >= 2_000_000, 10, "the bytes counted")
    time.sleep(3)  # a few retries of the back-off
    log = d.log()
    assert log.count("portal: user") == 1 and "Traceback" not in log, log[-2000:]
    assert d.portal_pids() == []
    assert d.ctl("status").stdout.startswith("daemon:    running")

    # The owner does as it says: the next try starts the portal.
    private.chmod(0o755)
    d.wait_portal(timeout=60)
    assert "Traceback" not in d.log()
