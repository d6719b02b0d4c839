"""Fixtures shared by every test suite (Flask-tutorial style: small factories, one per resource)."""

from __future__ import annotations

import pytest

from hotspot.config import Config, dump


class Clock:
    """A wall clock that tests set by hand (Hotspot(cfg, clock=...))."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def without_kernel(monkeypatch, addresses: dict[str, str]) -> None:
    """A house's client lookups with no router under them: `addresses` ({ip: mac}) stand for the
    kernel's neighbour table, and there is no kernel table to read a client's counters from."""
    from hotspot.clients import keeper as clients_keeper
    from hotspot.kernel.dumps import NftError

    def no_table(*_args, **_kw):
        raise NftError("no table")

    monkeypatch.setattr(clients_keeper, "mac_of", lambda ip, _dev: addresses.get(ip))
    monkeypatch.setattr(clients_keeper, "client_counters", no_table)


# Interface names that exist nowhere, so nothing a unit test does can reach a real device.
NO_LAN, NO_WAN = "hs-nolan0", "hs-nowan0"


@pytest.fixture
def cfg(tmp_path) -> Config:
    """A Config whose state_dir (flash), run_dir (RAM) and lease file are under tmp_path."""
    return Config(
        lan_device=NO_LAN,
        wan_device=(NO_WAN,),
        state_dir=str(tmp_path / "state"),
        run_dir=str(tmp_path / "run"),
        leases_file=str(tmp_path / "dhcp.leases"),
        path=str(tmp_path / "hotspot"),
    )


@pytest.fixture
def cfg_file(cfg) -> str:
    """`cfg` written as a UCI file (at cfg.path), for `-c FILE`."""
    with open(cfg.path, "w") as f:
        f.write(dump(cfg))
    return cfg.path


# -- the portal (Flask tutorial style: app and client fixtures on an in-memory backend) -----------------


@pytest.fixture
def backend():
    """The FakeBackend the `app` fixture serves; tests reconfigure it before the first request."""
    from tests.portal_fake import FakeBackend

    return FakeBackend()


@pytest.fixture
def app(backend):
    from hotspot.portal.app import create_app

    return create_app(backend, testing=True)


@pytest.fixture
def client(app):
    return app.test_client()
