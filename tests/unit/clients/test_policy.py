from __future__ import annotations

import pytest

from hotspot.clients import policy
from hotspot.core.store import Client
from hotspot.kernel.rules import ClientElements
from hotspot.kernel.tc import MAX_CLIENT_ID, class_id

MAC = "aa:bb:cc:dd:ee:01"
GB = 10**9


def client(**kw) -> Client:
    return Client(**{"id": 7, "mac": MAC, **kw})


@pytest.fixture
def throttle_cfg(cfg):
    return cfg.replace(after_cap="throttle", after_cap_rate=256_000)


# -- state ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({}, "ok"),
        ({"cap": GB}, "ok"),
        ({"cap": GB, "period_up": 800_000_000}, "warned"),
        ({"cap": GB, "period_down": GB}, "capped"),
        ({"rate": 1_000_000}, "throttled"),
        ({"rate": 1_000_000, "cap": GB, "period_up": 900_000_000}, "throttled"),  # throttled beats warned
        ({"rate": 1_000_000, "cap": GB, "period_up": GB}, "capped"),  # capped beats throttled
        ({"blocked": True}, "blocked"),
        ({"blocked": True, "cap": GB, "period_up": 2 * GB, "rate": 8000}, "blocked"),  # blocked beats all
        ({"cap": 0}, "capped"),  # a cap of 0: capped from the first byte
    ],
)
def test_state_precedence_with_after_cap_block(cfg, fields, expected):
    assert policy.state(client(**fields), cfg) == expected


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"cap": GB, "period_up": GB}, "throttled"),  # over the cap: throttled, not capped
        ({"cap": GB, "period_up": GB, "rate": 1_000_000}, "throttled"),
        ({"cap": GB, "period_up": GB, "blocked": True}, "blocked"),
        ({"cap": GB, "period_up": 800_000_000}, "warned"),
    ],
)
def test_state_with_after_cap_throttle(throttle_cfg, fields, expected):
    assert policy.state(client(**fields), throttle_cfg) == expected


def test_every_state_is_listed():
    assert set(policy.STATES) == {"ok", "warned", "capped", "throttled", "blocked"}


@pytest.mark.parametrize(
    "warn_at, used, expected",
    [(80, 799, "ok"), (80, 800, "warned"), (80, 999, "warned"), (80, 1000, "capped"),
     (1, 9, "ok"), (1, 10, "warned"), (100, 999, "ok"), (100, 1000, "capped")],
)
def test_warn_at_threshold(cfg, warn_at, used, expected):
    c = client(cap=1000, period_up=used // 2, period_down=used - used // 2)
    assert policy.state(c, cfg.replace(warn_at=warn_at)) == expected


def test_warn_at_uses_the_cap_with_topup(cfg):
    c = client(cap=1000, topup=1000, period_down=1000)  # 50 % of 2000
    assert policy.state(c, cfg) == "ok"
    assert policy.state(client(cap=1000, topup=1000, period_down=1600), cfg) == "warned"


# -- caps ----------------------------------------------------------------------------------------


def test_effective_cap_adds_topup():
    assert policy.effective_cap(client()) is None
    assert policy.effective_cap(client(topup=500)) is None  # a top-up without a cap is no cap
    assert policy.effective_cap(client(cap=GB)) == GB
    assert policy.effective_cap(client(cap=GB, topup=500 * 10**6)) == 1_500_000_000
    assert policy.effective_cap(client(cap=0, topup=10)) == 10


def test_over_cap_is_at_or_beyond_the_effective_cap():
    assert not policy.over_cap(client())
    assert not policy.over_cap(client(cap=100, period_up=99))
    assert policy.over_cap(client(cap=100, period_up=60, period_down=40))
    assert not policy.over_cap(client(cap=100, topup=50, period_up=149))
    assert policy.over_cap(client(cap=100, topup=50, period_up=150))


def test_topup_lifts_a_capped_client(cfg):
    c = client(cap=1000, period_down=1000)
    assert policy.state(c, cfg) == "capped"
    assert policy.state(client(cap=1000, topup=4000, period_down=1000), cfg) == "ok"


# -- rates ---------------------------------------------------------------------------------------


def test_after_cap_rate_is_none_when_blocking(cfg):
    assert policy.after_cap_rate(client(cap=GB), cfg) is None
    assert policy.after_cap_rate(client(cap=GB, rate=1_000_000), cfg) is None


def test_after_cap_rate_needs_a_cap(throttle_cfg):
    assert policy.after_cap_rate(client(), throttle_cfg) is None
    assert policy.after_cap_rate(client(rate=1_000_000), throttle_cfg) is None


@pytest.mark.parametrize(
    "manual, expected",
    [(None, 256_000), (1_000_000, 256_000), (64_000, 64_000), (256_000, 256_000)],
)
def test_after_cap_rate_is_the_lower_of_after_cap_rate_and_the_manual_rate(throttle_cfg, manual, expected):
    assert policy.after_cap_rate(client(cap=GB, rate=manual), throttle_cfg) == expected


def test_rate_limit_in_force(cfg, throttle_cfg):
    assert policy.rate_limit(client(), cfg) is None
    assert policy.rate_limit(client(rate=2_000_000), cfg) == 2_000_000
    under = client(cap=GB, period_up=10, rate=2_000_000)
    over = client(cap=GB, period_up=GB, rate=2_000_000)
    assert policy.rate_limit(under, throttle_cfg) == 2_000_000  # the manual rate until the cap
    assert policy.rate_limit(over, throttle_cfg) == 256_000  # then the after-cap rate
    assert policy.rate_limit(client(cap=GB, period_up=GB), throttle_cfg) == 256_000
    assert policy.rate_limit(client(cap=GB, period_up=GB, rate=64_000), throttle_cfg) == 64_000


# -- kernel elements -----------------------------------------------------------------------------


def test_elements_of_a_plain_client(cfg):
    assert policy.elements(client(period_up=5, period_down=6), cfg) == ClientElements(
        id=7, mac=MAC, quota=None, used=11, blocked=False, shape=None, shape_capped=None)


def test_elements_of_a_capped_throttled_blocked_client(cfg):
    c = client(cap=GB, topup=100, period_up=10, period_down=20, rate=1_000_000, blocked=True)
    assert policy.elements(c, cfg) == ClientElements(
        id=7, mac=MAC, quota=GB + 100, used=30, blocked=True, shape="1:e", shape_capped=None, portal=True,
        shape_rate=c.rate)


def test_elements_pre_install_the_after_cap_class(throttle_cfg):
    # Under the cap, the after-cap class is already in the kernel, so the switch needs no poll.
    e = policy.elements(client(cap=GB, period_up=1), throttle_cfg)
    assert (e.quota, e.shape, e.shape_capped) == (GB, None, "1:f")
    e = policy.elements(client(period_up=1), throttle_cfg)  # no cap: nothing to switch to
    assert (e.quota, e.shape, e.shape_capped) == (None, None, None)


def test_elements_used_override(cfg):
    c = client(cap=GB, period_up=10, period_down=20)
    assert policy.elements(c, cfg, used=12345).used == 12345
    assert policy.elements(c, cfg, used=0).used == 0


def test_shaping_names_both_classes(cfg, throttle_cfg):
    c = client(cap=GB, rate=1_000_000)
    assert policy.shaping(c, cfg) == {"1:e": 1_000_000, "1:f": None}
    assert policy.shaping(c, throttle_cfg) == {"1:e": 1_000_000, "1:f": 256_000}
    assert policy.shaping(client(), cfg) == {"1:e": None, "1:f": None}


# -- class ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cid, capped, expected",
    [(2, False, "1:4"), (2, True, "1:5"), (7, False, "1:e"), (7, True, "1:f"), (8, False, "1:10"),
     (MAX_CLIENT_ID, False, "1:fffe"), (MAX_CLIENT_ID, True, "1:ffff")],
)
def test_class_id(cid, capped, expected):
    assert class_id(cid, capped=capped) == expected


def test_class_ids_are_unique_per_client_and_fit_in_16_bits():
    seen = set()
    for cid in range(2, MAX_CLIENT_ID + 1):
        for capped in (False, True):
            major, minor = class_id(cid, capped).split(":")
            assert major == "1" and 0 < int(minor, 16) <= 0xFFFF
            seen.add(minor)
    assert len(seen) == 2 * (MAX_CLIENT_ID - 1)


@pytest.mark.parametrize("cid", [0, 1, MAX_CLIENT_ID + 1, -3])
def test_class_id_out_of_range(cid):
    with pytest.raises(ValueError, match="out of range"):
        class_id(cid)


# -- captive gate ----------------------------------------------------------------------------------


@pytest.fixture
def click_cfg(cfg):
    return cfg.replace(auth="click")


@pytest.mark.parametrize("auth", ["click", "voucher"])
def test_not_admitted_is_gated_and_its_http_goes_to_the_portal(cfg, auth):
    e = policy.elements(client(), cfg.replace(auth=auth))
    assert (e.gated, e.portal) == (True, True)
    assert not policy.admitted(client(), cfg.replace(auth=auth))


def test_admitted_passes(click_cfg):
    c = client(admitted_until=2e9, admitted_at=1e9)
    assert policy.admitted(c, click_cfg)
    e = policy.elements(c, click_cfg)
    assert (e.gated, e.portal) == (False, False)


def test_auth_none_admits_everyone(cfg):
    assert policy.admitted(client(), cfg)
    e = policy.elements(client(), cfg)
    assert (e.gated, e.portal) == (False, False)


@pytest.mark.parametrize("auth", ["none", "click"])
def test_blocked_or_capped_http_goes_to_the_portal_in_every_mode(cfg, auth):
    cfg = cfg.replace(auth=auth)
    admitted = {"admitted_until": 2e9}
    assert policy.to_portal(client(blocked=True, **admitted), cfg)
    assert policy.to_portal(client(cap=GB, period_down=GB, **admitted), cfg)
    # the quota used up (it also counts the packet it dropped) before the database knows
    assert policy.to_portal(client(cap=GB, period_down=GB - 100, **admitted), cfg, quota_used=GB + 1400)
    assert not policy.to_portal(client(cap=GB, period_down=GB - 100, **admitted), cfg, quota_used=GB - 100)
    assert not policy.to_portal(client(cap=GB, **admitted), cfg)
    # blocked and capped stay gated the way they were: drop, or the quota
    e = policy.elements(client(cap=GB, period_down=GB, **admitted), cfg)
    assert (e.gated, e.portal, e.quota) == (False, True, GB)


def test_a_throttled_capped_client_browses(throttle_cfg):
    """after_cap throttle: the client is slowed, not cut off, so its HTTP goes where it was going."""
    assert not policy.to_portal(client(cap=GB, period_down=2 * GB), throttle_cfg)
