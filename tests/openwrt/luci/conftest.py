"""Fixtures of the real-LuCI tests: the lab (tests/lab), the browser (tests/browser) and OpenWrt's
ubusd, rpcd and uhttpd with LuCI's JavaScript, from HOTSPOT_OPENWRT_HOST (see docs/luci.md):
  prefix/   ubusd, rpcd, uhttpd and ubus with their libraries (libubox, libubus, libuci), built for
            this machine from OpenWrt's sources
  rpcd/     rpcd's source tree (its unauthenticated.json)
  luci/     a LuCI tree (modules/luci-base, themes/luci-theme-bootstrap)
None of it is in this repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.conftest import browse  # noqa: F401 (the browser fixture)
from tests.lab.conftest import _lab_session, lab, start_hotspotd  # noqa: F401 (the lab fixtures)
from tests.openwrt.luci.router import Login, LuciRouter

OWNER = Login("root", "owner-password")  # LuCI's full owner: luci-base and the app, read and write
VIEWER = Login("viewer", "viewer-password", read=("unauthenticated", "luci-base", "luci-app-hotspot"),
               write=("luci-base",))
OTHER = Login("other", "other-password", read=("unauthenticated", "luci-base"), write=("luci-base",))


@pytest.fixture(scope="session")
def openwrt_host() -> Path:
    where = os.environ.get("HOTSPOT_OPENWRT_HOST")
    if not where or not (Path(where) / "prefix/sbin/rpcd").exists():
        pytest.fail("set HOTSPOT_OPENWRT_HOST to OpenWrt's ubusd, rpcd and uhttpd built for this machine "
                    "and a LuCI tree (see docs/luci.md)", pytrace=False)
    return Path(where)


@pytest.fixture
def luci_router(lab, start_hotspotd, openwrt_host):  # noqa: F811 (the lab fixtures)
    """hotspotd and the real LuCI in the lab's router; hotspotd asks that rpcd through its ubus socket."""
    host = openwrt_host
    router = LuciRouter(lab, host / "prefix", host / "luci", host / "rpcd/unauthenticated.json",
                        [OWNER, VIEWER, OTHER])
    from lab.hotspotd import Hotspotd

    d = Hotspotd(lab, plan_quota=20 * 10**9, ubus_socket=str(router.socket))
    d.extra_env = {"PATH": f"{host / 'prefix/bin'}:{os.environ['PATH']}",
                   "LD_LIBRARY_PATH": str(host / "prefix/lib")}
    router.adopt(d)
    router.start()
    d.start()
    router.hotspotd = d
    yield router
    if d.proc and d.proc.poll() is None:
        d.stop()
    router.close()
