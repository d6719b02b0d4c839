"""Fixtures of the real-LuCI tests: the lab (tests/lab), the browser (tests/browser) and OpenWrt's
ubusd, rpcd and uhttpd with LuCI's JavaScript (lab/luci.py), from HOTSPOT_OPENWRT_HOST (docs/luci.md).
None of OpenWrt's pieces is in this repository."""

from __future__ import annotations

import pytest

from lab.luci import Login, LuciRouter, pieces
from tests.browser.conftest import browse  # noqa: F401 (the browser fixture)
from tests.lab.conftest import _lab_session, lab, start_hotspotd  # noqa: F401 (the lab fixtures)

# LuCI's owner with no more than LuCI's base and the app: read and write
OWNER = Login("root", "owner-password", read=("unauthenticated", "luci-base", "luci-app-hotspot"),
              write=("luci-base", "luci-app-hotspot"))
VIEWER = Login("viewer", "viewer-password", read=("unauthenticated", "luci-base", "luci-app-hotspot"),
               write=("luci-base",))
OTHER = Login("other", "other-password", read=("unauthenticated", "luci-base"), write=("luci-base",))


@pytest.fixture(scope="session")
def openwrt_host():
    host = pieces()
    if host is None:
        pytest.fail("set HOTSPOT_OPENWRT_HOST to OpenWrt's ubusd, rpcd and uhttpd built for this machine "
                    "and a LuCI tree (see docs/luci.md)", pytrace=False)
    return host


@pytest.fixture
def luci_router(lab, openwrt_host):  # noqa: F811 (the lab fixtures)
    """hotspotd and the real LuCI in the lab's router; hotspotd asks that rpcd through its ubus socket."""
    from lab.hotspotd import Hotspotd

    router = LuciRouter(lab, openwrt_host, [OWNER, VIEWER, OTHER])
    d = Hotspotd(lab, plan_quota=20 * 10**9, ubus_socket=str(router.socket))
    router.adopt(d)
    router.start()
    d.start()
    router.hotspotd = d
    yield router
    if d.proc and d.proc.poll() is None:
        d.stop()
    router.close()
