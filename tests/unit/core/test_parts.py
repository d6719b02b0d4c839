"""hotspot.core.parts: which optional parts this Python can run, as hotspotd says it and status shows it."""

from __future__ import annotations

import pytest

from hotspot.core import parts


@pytest.fixture
def fake_parts(monkeypatch):
    monkeypatch.setattr(parts, "PARTS", {
        "portal": ("hotspot-portal", "the client pages", ("json", "no_such_module_xyz", "hotspot.nope.wsgi")),
        "dns_snooper": ("hotspot-snoop", "app categories", ("hotspot.core.units",)),
    })
    parts.missing.cache_clear()
    yield
    parts.missing.cache_clear()


def test_a_part_with_a_module_missing_is_off_and_says_which(fake_parts):
    assert parts.report() == {
        "portal": {"installed": False, "package": "hotspot-portal",
                   "missing": ["no_such_module_xyz", "hotspot.nope.wsgi"]},
        "dns_snooper": {"installed": True, "package": "hotspot-snoop", "missing": []},
    }
    assert parts.why_off("portal") == ("portal off: hotspot-portal is not installed (the client pages; "
                                       "no module no_such_module_xyz, hotspot.nope.wsgi)")


def test_here_every_part_is_installed():
    """The development machine has Flask and gunicorn: both parts run in the lab."""
    parts.missing.cache_clear()
    assert all(p["installed"] for p in parts.report().values())


def test_share_dir_follows_the_environment(monkeypatch):
    monkeypatch.delenv("HOTSPOT_SHARE", raising=False)
    assert str(parts.share_dir()) == "/usr/share/hotspot"
    monkeypatch.setenv("HOTSPOT_SHARE", "/tmp/stage/usr/share/hotspot")
    assert str(parts.share_dir()) == "/tmp/stage/usr/share/hotspot"
