"""Devices that leave: client_retention, `hotspotctl forget`, and ids that are given again."""

from __future__ import annotations

from hotspot.service import Hotspot
from tests.conftest import Clock

DAY = 86400
START = 1_700_000_000.0


def macs(first: int, n: int) -> list[str]:
    return [f"02:aa:{i >> 24 & 255:02x}:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}"
            for i in range(first, first + n)]


def test_a_shop_s_year_of_new_macs_never_runs_out_of_ids(cfg):
    """33,000 phones with random MACs, each seen once, over 99 days: ids end at 32,766 (the tc class
    space and the conntrack mark's bits), so without retention registration stops for good."""
    clock = Clock(START)
    hs = Hotspot(cfg, clock=clock)  # the default client_retention: 90 days without traffic
    retain = getattr(hs, "retain", None)  # hotspotd's poll step (none before retention existed)
    try:
        for batch in range(33):
            found = {m: {"ips": [], "hostname": None} for m in macs(batch * 1000, 1000)}
            new = hs.register(found)
            assert len(new) == 1000, f"day {batch * 3}: {len(new)} of 1000 new devices registered"
            clock.now += 3 * DAY
            while retain and retain():
                pass
        assert max(c.id for c in hs.store.clients()) <= 32766
    finally:
        hs.close()
