"""The check hotspotd makes as the portal's user before it starts gunicorn: the first path out of the
user's reach, and the fix, in one line."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest

from hotspot.daemon.portal import PortalProcess

needs_root = pytest.mark.skipif(os.geteuid() != 0 and not os.environ.get("CI"), reason="needs root")


@pytest.fixture
def base():
    """A directory the portal's user may pass through (pytest's own tmp_path is root's alone)."""
    d = Path(tempfile.mkdtemp(prefix="hotspot-probe-"))
    d.chmod(0o711)
    yield d
    shutil.rmtree(d)


@needs_root
def test_a_socket_in_a_closed_run_dir_names_the_directory_to_open(base):
    run = base / "run"
    run.mkdir(mode=0o700)
    p = PortalProcess(user="nobody", binds=[], socket_path=str(run / "hotspotd.sock"), run_dir=str(run))
    assert p.probe(pwd.getpwnam("nobody"), {}) == (
        f"user nobody cannot reach {run}/hotspotd.sock: Permission denied; let it pass (chmod o+x {run}) "
        f"or set run_dir to a directory it can pass")
    run.chmod(0o711)
    (run / "hotspotd.sock").touch()
    assert p.probe(pwd.getpwnam("nobody"), {}) is None


@needs_root
def test_missing_templates_say_install_the_package(base):
    p = PortalProcess(user="nobody", binds=[], socket_path=str(base / "hotspotd.sock"), run_dir=str(base))
    (base / "hotspotd.sock").touch()
    assert p.probe(pwd.getpwnam("nobody"), {"HOTSPOT_WEB": str(base / "web")}) == (
        f"user nobody cannot read {base}/web/templates: No such file or directory; install the package")
