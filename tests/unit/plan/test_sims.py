"""A plan per SIM, through the real house without a kernel: the first SIM takes over the plan counted so
far, a new one gets the template from zero and the owner an alert, a switch files nothing of one plan
in another, settings and top-ups of a plan not in force, calibration, the roaming allowance, bad input."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from hotspot.core.config import ConfigError
from hotspot.core.units import InvalidValue, check_iccid
from hotspot.house import House
from hotspot.plan import calibration
from hotspot.plan.model import Threshold
from tests.conftest import Clock

GB, MB = 10**9, 10**6
HOME, PASS = "8944110000000000016", "89860012345678901238"


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@pytest.fixture
def hs(cfg):
    clock = Clock(ts("2026-12-05 12:00"))
    cfg = cfg.replace(plan_quota=20 * GB, plan_block_at=Threshold(percent=100.0), alert_at=(80,),
                      alert_webhook="http://127.0.0.1:9/hook")
    h = House(cfg, clock=clock)
    h.plan.rollover_step()
    yield h
    h.close()


def use(h, nbytes: int) -> None:
    with h.store.transaction():
        h.plan.add(nbytes, h.clock())


def queued(h) -> list[dict]:
    rows = h.store.db.execute("SELECT kind, message_json FROM deliveries ORDER BY id").fetchall()
    return [{"kind": k, **json.loads(m)} for k, m in rows]


def test_the_iccids_in_this_file_are_valid():
    assert check_iccid(HOME) == HOME and check_iccid(PASS) == PASS


def test_without_a_modem_the_one_plan_goes_on(hs):
    use(hs, 3 * GB)
    (p,) = hs.plans()
    assert (p["iccid"], p["active"], p["used"], p["quota"]) == (None, True, 3 * GB, 20 * GB)


def test_the_first_sim_takes_over_the_plan_counted_so_far(hs):
    use(hs, 3 * GB)
    assert hs.use_sim(HOME, "Home Mobile", "physical") is False  # no switch: it is the same plan
    (p,) = hs.plans()
    assert (p["iccid"], p["active"], p["used"], p["operator"]) == (HOME, True, 3 * GB, "Home Mobile")
    (alert,) = queued(hs)
    assert alert["kind"] == "sim" and HOME in alert["subject"] and alert["data"]["adopted"] is True
    hs.use_sim(HOME, "Home Mobile", "physical")
    assert len(queued(hs)) == 1  # once


def test_a_new_sim_gets_the_template_from_zero_and_nothing_crosses(hs):
    hs.use_sim(HOME)
    use(hs, 5 * GB)
    assert hs.use_sim(PASS, "China Mobile", "esim") is True
    assert hs.plan.active_iccid() == PASS and hs.plan.used() == 0
    assert hs.cfg.plan_quota == 20 * GB  # the template: the config's plan options
    use(hs, 1 * GB)
    hs.use_sim(HOME)
    assert hs.plan.used() == 5 * GB
    by = {p["iccid"]: p for p in hs.plans()}
    assert (by[HOME]["used"], by[PASS]["used"], by[HOME]["active"], by[PASS]["active"]) == (
        5 * GB, 1 * GB, True, False)
    alerts = [a for a in queued(hs) if a["kind"] == "sim"]
    assert [a["data"]["adopted"] for a in alerts] == [True, False]
    assert "China Mobile" in alerts[1]["subject"]


def test_each_sim_has_its_own_settings_in_force_when_it_is_in_use(hs):
    hs.use_sim(HOME)
    hs.use_sim(PASS)
    hs.set_plan(PASS, {"plan_quota": "5GB", "plan_period": "pass", "plan_pass_length": "7d"})
    assert (hs.cfg.plan_quota, hs.cfg.plan_period) == (5 * GB, "pass")
    hs.use_sim(HOME)
    assert (hs.cfg.plan_quota, hs.cfg.plan_period) == (20 * GB, "monthly")
    hs.set_plan(PASS, {"plan_quota": "6GB"})  # a plan not in force: the one in force is untouched
    assert hs.cfg.plan_quota == 20 * GB
    assert {p["iccid"]: p["quota"] for p in hs.plans()}[PASS] == 6 * GB


def test_a_bad_setting_for_a_sim_changes_nothing(hs):
    hs.use_sim(HOME)
    with pytest.raises(ConfigError) as e:
        hs.set_plan(HOME, {"plan_block_at": "lots"})
    assert "plan_block_at" in e.value.errors[0]
    with pytest.raises(ConfigError):
        hs.set_plan(HOME, {"plan_quota": "none", "plan_block_at": "90%"})  # 90 % of no quota
    assert hs.cfg.plan_quota == 20 * GB and hs.cfg.plan_block_at == Threshold(percent=100.0)


def test_a_top_up_for_a_plan_not_in_force(hs):
    hs.use_sim(HOME)
    hs.use_sim(PASS)
    hs.sims.topup(HOME, 2 * GB)
    assert hs.plan.topup() == 0
    hs.use_sim(HOME)
    assert hs.plan.topup() == 2 * GB


def test_sims_are_named_and_checked(hs):
    hs.use_sim(HOME)
    hs.sims.name(HOME, "Home")
    assert hs.plans()[0]["name"] == "Home"
    for bad in ("8944110000000000017", "12345", "8944x10000000000017", ""):
        with pytest.raises(InvalidValue):
            hs.sims.resolve(bad)
    with pytest.raises(InvalidValue):
        hs.sims.resolve(PASS)  # valid, but never seen here
    with pytest.raises(InvalidValue):
        hs.sims.name(HOME, "x" * 41)


def test_calibration_sets_the_cycle_to_the_carriers_figure_plus_what_came_since(hs):
    hs.use_sim(HOME)
    use(hs, 2 * GB)
    view = hs.plan.calibrate(7 * GB, source="owner")
    assert view["used"] == 7 * GB and hs.plan.used() == 7 * GB
    (c,) = view["calibrations"]
    assert (c["theirs"], c["ours"], c["gap"], c["source"]) == (7 * GB, 2 * GB, 5 * GB, "owner")


def test_calibration_at_a_past_moment_adds_the_hours_since():
    hours = [(3600 * 10, 600 * MB), (3600 * 11, 100 * MB), (3600 * 12, 50 * MB)]
    # at 10:30: half of the 10 o'clock hour, then the whole of 11 and what there is of 12
    assert calibration.counted_since(hours, 3600 * 10.5, 3600 * 12.5) == 300 * MB + 100 * MB + 50 * MB
    assert calibration.counted_since(hours, 3600 * 13, 3600 * 13) == 0


@pytest.mark.parametrize("theirs, at, why", [
    (-1, None, "negative"), (GB, ts("2026-12-06 12:00"), "future"), (GB, ts("2026-11-20 12:00"), "before")])
def test_a_calibration_that_cannot_be_changes_nothing(hs, theirs, at, why):
    use(hs, GB)
    with pytest.raises(ValueError, match=why):
        hs.plan.calibrate(theirs, at)
    assert hs.plan.used() == GB


def test_a_roaming_allowance_counts_only_roaming_bytes(hs):
    hs.set_config(hs.base_cfg.replace(roaming_quota=GB, roaming_block_at=Threshold(percent=100.0)))
    use(hs, 3 * GB)
    with hs.store.transaction():
        hs.plan.set_roaming(True)
    use(hs, 400 * MB)
    assert hs.plan.roaming_used() == 400 * MB and hs.plan.used() == 3 * GB + 400 * MB
    assert hs.plan.limits()["block"] == GB and hs.plan.left_for(False) == 600 * MB
    with hs.store.transaction():
        hs.plan.set_roaming(False)
    assert hs.plan.limits()["block"] == 20 * GB


def test_roaming_days_are_marked_in_the_plans_history_and_calendar(hs):
    from datetime import date

    from hotspot.portal.history_card import history_card

    hs.clock.now = ts("2026-12-03 20:00")
    with hs.store.transaction():
        hs.plan.set_roaming(True)
    hs.clock.now = ts("2026-12-05 08:00")
    with hs.store.transaction():
        hs.plan.set_roaming(False)
    found = hs.history.query("plan", "day", "2026-12-01", "2026-12-07")
    assert [(s["from"][:13], s["to"][:13]) for s in found["roaming"]] == [("2026-12-03T20", "2026-12-05T08")]

    def fetch(by, since, until):
        return hs.history.query("plan", by, since, until)
    from hotspot.portal.app import create_app
    from tests.portal_fake import FakeBackend

    with create_app(FakeBackend(), testing=True).test_request_context("/"):
        card = history_card(fetch, {"month": "2026-12"}, today=date(2026, 12, 5))
    marked = [d["num"] for week in card["calendar"]["weeks"] for d in week if d["roaming"]]
    assert marked == [3, 4, 5] and card["roaming"]
