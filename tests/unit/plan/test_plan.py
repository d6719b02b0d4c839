"""The data plan without a kernel: cycles in the carrier's zone, guard points, alerts once per point and
period, the report's schedule and figures, and their config options."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from hotspot.alerts import outbox, reports
from hotspot.alerts import points as alerts
from hotspot.config import Config, ConfigError, dump, load
from hotspot.house import House
from hotspot.plan import model as plan
from hotspot.plan.model import Threshold
from tests.conftest import Clock

GB = 10**9
MAC, OTHER = "aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02"


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


# -- cycles -----------------------------------------------------------------------------------------


def test_monthly_cycle_in_the_carriers_zone_from_its_hour():
    cfg = Config(plan_period="monthly", plan_period_start=15, plan_start_hour=6, plan_timezone="Asia/Tokyo")
    # 2026-11-15 05:59 in Tokyo is still the cycle that began on 15 October at 06:00 Tokyo time
    now = datetime(2026, 11, 14, 20, 59, tzinfo=timezone.utc).timestamp()
    start, end = plan.cycle(now, cfg)
    assert datetime.fromtimestamp(start, timezone.utc) == datetime(2026, 10, 14, 21, 0, tzinfo=timezone.utc)
    assert datetime.fromtimestamp(end, timezone.utc) == datetime(2026, 11, 14, 21, 0, tzinfo=timezone.utc)
    assert plan.cycle(end, cfg)[0] == end


def test_fixed_offsets_weekly_and_daily_cycles():
    cfg = Config(plan_period="weekly", plan_period_start=1, plan_timezone="UTC+8")
    start, end = plan.cycle(datetime(2026, 11, 25, tzinfo=timezone.utc).timestamp(), cfg)
    assert datetime.fromtimestamp(start, timezone.utc) == datetime(2026, 11, 22, 16, 0, tzinfo=timezone.utc)
    assert end - start == 7 * 86400
    day = plan.cycle(datetime(2026, 11, 25, 3, tzinfo=timezone.utc).timestamp(),
                     Config(plan_period="daily", plan_timezone="UTC-05:30", plan_start_hour=2))
    assert datetime.fromtimestamp(day[0], timezone.utc) == datetime(2026, 11, 24, 7, 30, tzinfo=timezone.utc)


def test_a_pass_runs_once_from_its_activation():
    cfg = Config(plan_period="pass", plan_pass_length=7 * 86400)
    assert plan.cycle(1e9, cfg) is None
    assert plan.cycle(1e9, cfg, activated=5e8) == (5e8, 5e8 + 7 * 86400)
    assert plan.cycle(1e9, cfg.replace(plan_activated=4e8), activated=5e8) == (4e8, 4e8 + 7 * 86400)


@pytest.mark.parametrize("bad", ["Mars/Olympus", "UTC+15", "../etc/passwd", "UTC+8; rm"])
def test_bad_time_zones_are_refused(bad):
    with pytest.raises(ValueError):
        plan.timezone_of(bad)


# -- guard and alert points -------------------------------------------------------------------------


def test_guard_points_percent_or_bytes_and_stricter_while_roaming():
    cfg = Config(plan_quota=10 * GB, plan_throttle_at=Threshold(percent=90.0),
                 plan_block_at=Threshold(percent=100.0), plan_stop_at=Threshold(bytes=12 * GB),
                 roaming_block_at=Threshold(percent=50.0))
    assert plan.guard_limits(cfg, 11 * GB) == {"throttle": int(9.9 * GB), "block": 11 * GB, "stop": 12 * GB}
    roaming = plan.guard_limits(cfg, 10 * GB, roaming=True)
    assert roaming == {"throttle": 9 * GB, "block": 5 * GB, "stop": 12 * GB}
    limits = plan.guard_limits(cfg, 10 * GB)
    assert [plan.guard_state(u, limits) for u in (0, 9 * GB, 10 * GB, 12 * GB)] == [
        "ok", "throttle", "block", "stop"]


def test_alert_points_fire_once_each_lowest_first():
    assert plan.crossed(96, 100, (80, 95, 100), set()) == [80, 95]
    assert plan.crossed(96, 100, (80, 95, 100), {80, 95}) == []
    assert plan.crossed(100, 100, (80, 95, 100), {80, 95}) == [100]
    assert plan.crossed(10**12, None, (80,), set()) == []


# -- config -----------------------------------------------------------------------------------------


def test_plan_options_round_trip(tmp_path):
    cfg = Config(plan_quota=20 * GB, plan_period="pass", plan_pass_length=30 * 86400,
                 plan_activated=ts("2026-11-28 14:00"), plan_timezone="UTC+8", plan_start_hour=6,
                 plan_throttle_at=Threshold(percent=90.0), plan_block_at=Threshold(bytes=19 * GB),
                 plan_exempt=(MAC,), unmetered_device=("eth1",), alert_at=(50, 100), alert_clients=False,
                 alert_webhook="https://example.com/hook", alert_email=("me@example.com",),
                 alert_sms=("+491701234567",), smtp_host="mail.example.com", report="weekly", modem=False)
    path = tmp_path / "hotspot"
    path.write_text(dump(cfg))
    assert load(path) == cfg


@pytest.mark.parametrize("line, reason", [
    ("option plan_block_at '90%'", "90% of what? set plan_quota"),
    ("option plan_stop_at 'lots'", "'lots'"),
    ("list plan_exempt 'nope'", "'nope'"),
    ("list unmetered_device 'wwan0'", "'wwan0' is also a wan_device"),
    ("option alert_at '80 120'", "'120' is not a percentage"),
    ("option alert_webhook 'ftp://x'", "alert_webhook"),
    ("option plan_timezone 'Mars/Base'", "unknown time zone"),
    ("option plan_period_start '9'", "plan_period_start"),
])
def test_bad_plan_options_are_one_line_each(tmp_path, line, reason):
    period = "option plan_period 'weekly'\n" if "period_start" in line else ""
    path = tmp_path / "hotspot"
    path.write_text(f"config hotspot 'main'\n\t{period}{line}\n")
    with pytest.raises(ConfigError) as e:
        load(path)
    assert len(e.value.errors) == 1 and reason in e.value.errors[0], e.value.errors


# -- the plan's state in the service (no kernel) ------------------------------------------------------


@pytest.fixture
def hs(cfg):
    clock = Clock(ts("2026-11-20 12:00"))
    h = House(cfg.replace(plan_quota=10 * GB, plan_block_at=Threshold(percent=100.0), alert_at=(80, 100),
                            plan_exempt=(OTHER,)), clock=clock)
    with h.store.transaction():
        for mac in (MAC, OTHER):
            h.store.add_client(mac, clock.now, cap=GB)
    h.clock_ = clock
    yield h
    h.close()


def test_plan_bytes_topups_and_a_new_cycle(hs):
    assert hs.plan.rollover_step() is False  # the first cycle starts
    with hs.store.transaction():
        hs.plan.add(4 * GB, hs.clock())
    p = hs.plan.view_now()
    assert (p["used"], p["left"], p["percent"]) == (4 * GB, 6 * GB, 40.0)
    hs.plan.topup_plan(GB)
    assert hs.plan.view_now()["allowance"] == 11 * GB
    hs.clock_.now = ts("2026-12-01 00:00")
    assert hs.plan.rollover_step() is True
    p = hs.plan.view_now()
    assert (p["used"], p["topup"], p["cycle_start"][:10]) == (0, 0, "2026-12-01")


def test_the_guard_holds_back_all_but_the_exempt(hs):
    with hs.store.transaction():
        hs.plan.add(10 * GB, hs.clock())
    views = {c["mac"]: c for c in hs.clients.views()}
    mine = views[MAC]
    assert (mine["state"], mine["plan_guard"], mine["remaining"]) == ("capped", "block", 0)
    assert views[OTHER]["state"] == "ok" and views[OTHER]["plan_guard"] is None


def test_alerts_fire_once_per_point_and_period_and_queue_their_messages(hs):
    hs.plan.rollover_step()
    with hs.store.transaction():
        hs.plan.add(8 * GB, hs.clock())
        hs.store.update(hs.store.client(MAC).id, period_down=GB)
    fired = hs.alerts.fire(["webhook"])
    assert sorted(f"{m.data['event']}{m.data['point']}" for m in fired) == [
        "client100", "client80", "plan80"]
    assert hs.alerts.fire(["webhook"]) == []
    queued = outbox.log_entries(hs.store.db)
    assert len(queued) == 3 and {d["channel"] for d in queued} == {"webhook"}
    assert "aa:bb:cc:dd:ee:01" in fired[0].text + fired[1].text + fired[2].text
    # a new plan cycle: the plan's points fire again, once
    hs.clock_.now = ts("2026-12-01 00:01")
    hs.plan.rollover_step()
    with hs.store.transaction():
        hs.plan.add(9 * GB, hs.clock())
    assert [m.data["point"] for m in hs.alerts.fire([])] == [80]
    assert len(alerts.recent(hs.store.db)) == 4


# -- reports ------------------------------------------------------------------------------------------


def test_report_times():
    now = ts("2026-11-25 09:30")  # a Wednesday
    assert datetime.fromtimestamp(reports.next_time(now, "daily", 8)) == datetime(2026, 11, 26, 8)
    assert datetime.fromtimestamp(reports.next_time(now, "weekly", 8)) == datetime(2026, 11, 30, 8)
    assert reports.span(ts("2026-11-30 08:00"), "weekly") == (ts("2026-11-23 08:00"), ts("2026-11-30 08:00"))


def test_the_report_goes_out_once_at_its_time_with_the_figures(hs):
    hs.cfg = hs.cfg.replace(report="daily", report_hour=8, venue="Van 1")
    hs.uplink.info = {"operator_name": "Example Mobile", "roaming": False, "access_technologies": ["lte"],
                     "signal_quality": 71, "rsrp": -95.0}  # as hotspotd's modem thread leaves it
    hs.plan.rollover_step()
    mac_id = hs.store.client(MAC).id
    with hs.store.transaction():
        hs.store.record([(mac_id, 10**8, 2 * 10**9, 0, 0), (0, 10**6, 4 * 10**6, 0, 0)],
                        int(ts("2026-11-20 13:00")), hs.clock())
        hs.plan.add(2 * 10**9, hs.clock())
    assert hs.alerts.report_if_due(["email"]) is False  # schedules the first one: tomorrow 08:00
    hs.clock_.now = ts("2026-11-21 08:00")
    assert hs.alerts.report_if_due(["email"]) is True
    assert hs.alerts.report_if_due(["email"]) is False
    (row,) = outbox.log_entries(hs.store.db)
    assert row["kind"] == "report" and "Van 1" in row["subject"]
    message = outbox.load_message(hs.store.db.execute("SELECT message_json FROM deliveries").fetchone()[0])
    assert message.data["top_clients"][0]["mac"] == MAC and message.data["router_bytes"] == 5 * 10**6
    assert message.images and "cid:" in message.html
    assert "Example Mobile" in message.text and "LTE" in message.text


def test_a_pass_ends_and_a_new_one_starts_from_zero(cfg):
    clock = Clock(ts("2026-11-20 12:00"))
    h = House(cfg.replace(plan_quota=5 * GB, plan_period="pass", plan_pass_length=7 * 86400,
                            plan_block_at=Threshold(percent=100.0)), clock=clock)
    try:
        h.plan.rollover_step()
        assert h.plan.view_now()["cycle_start"] is None  # not activated yet: it starts at its first byte
        with h.store.transaction():
            h.plan.add(GB, clock.now)
        p = h.plan.view_now()
        assert p["cycle_start"][:16] == "2026-11-20T12:00" and p["cycle_end"][:10] == "2026-11-27"
        clock.now = ts("2026-11-27 12:00")
        assert h.plan.rollover_step() is False  # a pass does not renew...
        p = h.plan.view_now()
        assert p["expired"] and (p["allowance"], p["left"], p["guard"]["state"]) == (GB, 0, "block")
        # ...the owner buys a new one
        h.set_config(h.cfg.replace(plan_activated=ts("2026-11-27 13:00")))
        clock.now = ts("2026-11-27 13:30")
        p = h.plan.view_now()
        assert (p["used"], p["expired"], p["allowance"], p["guard"]["state"]) == (0, False, 5 * GB, "ok")
    finally:
        h.close()
