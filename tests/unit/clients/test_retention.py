"""Devices that leave: client_retention, `hotspotctl forget`, and ids that are given again."""

from __future__ import annotations

import pytest

from hotspot.clients import retention
from hotspot.clients.keeper import NotFound
from hotspot.config import Config, ConfigError, dump, load
from hotspot.core.store import Store
from hotspot.house import House
from tests.conftest import Clock

DAY = 86400
START = 1_700_000_000.0


@pytest.fixture
def write_config(tmp_path):
    def write(text: str) -> str:
        path = tmp_path / "hotspot"
        path.write_text(text)
        return str(path)
    return write


def macs(first: int, n: int) -> list[str]:
    return [f"02:aa:{i >> 24 & 255:02x}:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}"
            for i in range(first, first + n)]


def test_a_shop_s_year_of_new_macs_never_runs_out_of_ids(cfg):
    """33,000 phones with random MACs, each seen once, over 99 days: ids end at 32,766 (the tc class
    space and the conntrack mark's bits), so without retention registration stops for good."""
    clock = Clock(START)
    hs = House(cfg, clock=clock)  # the default client_retention: 90 days without traffic
    try:
        for batch in range(33):
            found = {m: {"ips": [], "hostname": None} for m in macs(batch * 1000, 1000)}
            new = hs.counting.register(found)
            assert len(new) == 1000, f"day {batch * 3}: {len(new)} of 1000 new devices registered"
            clock.now += 3 * DAY
            while hs.forgetting.retain():  # hotspotd's poll step, in bounded steps
                pass
        assert max(c.id for c in hs.store.clients()) <= 32766
    finally:
        hs.close()


# -- the rule (pure) --------------------------------------------------------------------------------

def idle(cid: int, days: float, used: int = 0, blocked: bool = False, mac: str | None = None) -> tuple:
    return (cid, mac or macs(cid, 1)[0], START - days * DAY, used, blocked)


def test_due_picks_the_devices_idle_past_the_retention_longest_idle_first():
    rows = [idle(2, 10), idle(3, 91), idle(4, 200), idle(5, 90.01), idle(6, 89.99)]
    assert [c.id for c in retention.due(rows, START, 90 * DAY)] == [4, 3, 5]
    assert [c.id for c in retention.due(rows, START, 90 * DAY, limit=2)] == [4, 3]
    assert retention.due(rows, START, None) == []  # 'none': kept for ever


def test_due_keeps_a_device_with_bytes_this_period_a_blocked_one_and_the_owners():
    """Forgetting a device that used part of its cap this period would give it a fresh cap when it
    comes back: it stays until the period's rollover zeroes its bytes."""
    owner = "02:00:00:00:00:99"
    rows = [idle(2, 100, used=1), idle(3, 100, blocked=True), idle(4, 100, mac=owner), idle(5, 100)]
    assert [c.id for c in retention.due(rows, START, 90 * DAY, exempt=(owner,))] == [5]
    found = {c[0]: retention.kept(retention.Candidate(*c), (owner,)) for c in rows}
    assert found == {2: "it has bytes this period", 3: "the owner blocked it", 4: "it is in plan_exempt",
                     5: None}


# -- the config option -------------------------------------------------------------------------------

@pytest.mark.parametrize("text, seconds", [("90d", 90 * DAY), ("12w", 84 * DAY), ("1h", 3600), ("none", None),
                                           ("0", None), ("NONE", None)])
def test_client_retention_takes_a_duration_or_none(write_config, text, seconds):
    cfg = load(write_config(f"config hotspot 'main'\n\toption client_retention '{text}'\n"))
    assert cfg.client_retention == seconds
    assert load(write_config(dump(cfg))).client_retention == seconds


@pytest.mark.parametrize("text", ["forever", "30m", "-1d", "400d", "90d; flush", "1.5d"])
def test_client_retention_refuses_what_is_not_a_duration_of_an_hour_or_more(write_config, text):
    with pytest.raises(ConfigError) as e:
        load(write_config(f"config hotspot 'main'\n\toption client_retention '{text}'\n"))
    assert len(e.value.errors) == 1 and "option client_retention" in e.value.errors[0]


def test_the_default_is_90_days():
    assert Config().client_retention == 90 * DAY


# -- the store ---------------------------------------------------------------------------------------

@pytest.fixture
def store(cfg):
    s = Store.open(cfg.run_dir, cfg.state_dir)
    yield s
    s.close()


def test_an_id_asked_from_further_up_leaves_the_lower_ones_free(store):
    assert store.add_client(macs(0, 1)[0], START, first_id=100).id == 100
    assert [store.add_client(m, START).id for m in macs(1, 2)] == [2, 3]


def test_a_forgotten_id_is_given_again_lowest_first(store):
    ids = [store.add_client(m, START).id for m in macs(0, 5)]
    assert ids == [2, 3, 4, 5, 6]
    for cid in (5, 3):
        store.forget_client(store.clients_by_id([cid])[0])
    assert store.id_high() == 6
    assert [store.add_client(m, START).id for m in macs(10, 3)] == [3, 5, 7]
    store.forget_client(store.clients_by_id([7])[0])  # the top id: still given once
    assert store.id_high() == 7
    assert store.add_client(macs(20, 1)[0], START).id == 7


# -- the service ---------------------------------------------------------------------------------------

@pytest.fixture
def hs(cfg):
    clock = Clock(START)
    h = House(cfg.replace(default_cap=5_000_000), clock=clock)
    h.clock_ = clock
    yield h
    h.close()


def found(*ms: str) -> dict:
    return {m: {"ips": [], "hostname": "phone"} for m in ms}


def test_forget_erases_the_device_and_keeps_its_bytes_in_the_plan(hs):
    a, b = macs(0, 2)
    hs.counting.register(found(a, b))
    hs.clients.set_cap(a, 9_000_000_000)
    ida = hs.clients.find(a).id
    hour = int(START // 3600 * 3600)
    with hs.store.transaction():
        hs.store.record([(ida, 1000, 9000, 0, 0), (hs.clients.find(b).id, 5, 5, 0, 0)], hour, START)
        hs.plan.add(10_010, START)
    plan = hs.history.query("plan", "hour", since=hour, until=hour + 3600)["rows"]
    used = hs.plan.view_now()["used"]

    done = hs.forgetting.forget_device(a)

    assert done == {"mac": a, "id": ida, "forgotten": True, "bytes_total": 10_000,
                    "last_seen": done["last_seen"], "rows_erased": 1}
    with pytest.raises(NotFound):
        hs.clients.find(a)
    assert hs.history.query("plan", "hour", since=hour, until=hour + 3600)["rows"] == plan
    assert plan[0]["bytes_total"] == 10_010 and hs.plan.view_now()["used"] == used
    hs.clock_.now += 60
    (back,) = hs.counting.register(found(a))  # it comes back: a new device with the default cap
    assert (back.id, back.cap, back.first_seen, back.period_total) == (ida, 5_000_000, START + 60, 0)
    assert hs.history.query(a, "hour", since=hour, until=hour + 3600)["rows"] == []


def test_forget_an_unknown_device_changes_nothing(hs):
    hs.counting.register(found(*macs(0, 2)))
    before = hs.store.clients()
    with pytest.raises(NotFound):
        hs.forgetting.forget_device(macs(5, 1)[0])
    assert hs.store.clients() == before and hs.store.get("forgotten") is None


def test_retain_forgets_in_bounded_steps_only_what_the_rule_says(hs):
    old, busy, blocked = macs(0, 30), macs(100, 1)[0], macs(200, 1)[0]
    hs.counting.register(found(*old, busy, blocked))
    hs.clients.block(blocked)
    with hs.store.transaction():
        hs.store.record([(hs.clients.find(busy).id, 1, 1, 1, 1)], int(START // 3600 * 3600), START)
    hs.clock_.now += 89 * DAY
    assert hs.forgetting.retain() == []
    hs.clock_.now += 2 * DAY
    first = hs.forgetting.retain()
    assert len(first) == retention.STEP and all(d["forgotten"] for d in first)
    assert [d["mac"] for d in first + hs.forgetting.retain()] == old  # the longest idle first (here: by id)
    assert hs.forgetting.retain() == []
    assert sorted(c.mac for c in hs.store.clients()) == sorted([busy, blocked])


def test_retain_trusts_no_clock_that_went_back_and_none_keeps_everyone(hs, cfg):
    hs.counting.register(found(*macs(0, 3)))
    with hs.store.transaction():
        hs.store.set("last_good", START + 400 * DAY)  # the clock is far behind what we trusted
    hs.clock_.now += 100 * DAY
    assert hs.forgetting.retain() == []
    hs.cfg = hs.cfg.replace(client_retention=None)
    hs.clock_.now += 400 * DAY
    assert hs.forgetting.retain() == [] and len(hs.store.clients()) == 3


def test_the_report_still_adds_up_to_the_plan_after_a_device_is_forgotten(hs):
    from hotspot.alerts import reports

    a, b = macs(0, 2)
    hs.counting.register(found(a, b))
    hour = int(START // 3600 * 3600)
    with hs.store.transaction():
        ida, idb = hs.clients.find(a).id, hs.clients.find(b).id
        hs.store.record([(ida, 100, 200, 0, 0), (idb, 10, 20, 0, 0)], hour, START)
    hs.forgetting.forget_device(a)
    data = reports.gather(hs.store.db, hs.cfg, start=hour, end=hour + DAY, names={},
                          plan={"start": None, "allowance": None, "used": 0})
    assert data["range_bytes"] == 330 and sum(u + d for _day, u, d in data["days"]) == 330


def test_the_socket_s_forget_op_refuses_bad_input_in_one_line_and_says_how_long_things_are_kept(hs, tmp_path):
    from hotspot.contract import OPS
    from hotspot.core.contract import BackendError

    a = macs(0, 1)[0]
    hs.counting.register(found(a))
    api = hs.answers()
    assert "forget" in OPS
    for bad in ("zz:zz", None, 5, "02:aa:00:00:00:01; flush ruleset"):
        with pytest.raises(BackendError) as e:
            api.forget(bad)
        assert "\n" not in str(e.value)
    with pytest.raises(BackendError, match="unknown client"):
        api.forget(macs(9, 1)[0])
    assert len(hs.store.clients()) == 1
    assert api.forget(a.upper())["mac"] == a and hs.store.clients() == []
    hs.cfg = hs.cfg.replace(client_retention=36 * 3600, history_hourly_days=7)
    assert api.portal_settings()["retention"] == {"client_days": 2, "hourly_days": 7, "daily_months": 13}


def test_hotspotd_notices_a_forget_made_by_another_process(hs, cfg):
    a, b = macs(0, 2)
    hs.counting.register(found(a, b))
    assert hs.forgetting.notice_forgotten() is None
    cli = House(hs.cfg, clock=hs.clock)  # hotspotctl forget, beside hotspotd
    try:
        cli.forgetting.forget_device(a)
    finally:
        cli.close()
    assert hs.forgetting.notice_forgotten() == {hs.clients.find(b).id}
    assert hs.forgetting.notice_forgotten() is None  # once


def test_a_voucher_keeps_the_bytes_of_a_device_forgotten(hs):
    hs.cfg = hs.cfg.replace(auth="voucher")
    a, b = macs(0, 2)
    hs.counting.register(found(a, b))
    (v,) = hs.captive.make_vouchers(1, 1_000_000_000, 86400, 2)
    for mac in (a, b):
        hs.captive.redeem(mac, v["code"])
    with hs.store.transaction():
        hs.store.add_voucher_used({hs.clients.find(a).voucher: 300_000})
    hs.forgetting.forget_device(a)
    after = hs.captive.voucher(v["code"])
    assert (after["used"], after["devices_used"]) == (300_000, 1)
    hs.clock_.now += 60
    hs.counting.register(found(a))  # back: a new device, not on the voucher; it may redeem it again
    assert hs.clients.find(a).voucher is None
    assert hs.captive.redeem(a, v["code"])["voucher"] == v["code"]


def test_forget_erases_every_row_that_names_it_and_nothing_of_the_plan(hs):
    from hotspot.alerts import outbox
    from hotspot.alerts import points as alerts
    from hotspot.alerts.message import Message
    from hotspot.ghost import watch as ghost_watch

    store = hs.store
    hs.counting.register(found(*macs(0, 2)))
    a, b = (store.client(m) for m in macs(0, 2))
    hour = int(START // 3600 * 3600)
    store.record([(a.id, 100, 900, 100, 900), (b.id, 7, 7, 7, 7)], hour, START)
    db = store.db
    for cid in (a.id, b.id):
        db.execute("INSERT INTO usage_days VALUES (?, 20240101, 5, 5)", (cid,))
        db.execute("INSERT INTO usage_months VALUES (?, 202312, 6, 6)", (cid,))
        db.execute("INSERT INTO app_usage VALUES (?, 0, 'video', 1, 2)", (cid,))
        db.execute("INSERT INTO app_seen VALUES (?, 'video', 1, 2)", (cid,))
        db.execute("INSERT INTO blocked_dests (client, addr, name, created) "
                   "VALUES (?, '192.0.2.1', NULL, 0)", (cid,))
    db.execute("INSERT INTO usage_days VALUES (-1, 20240101, 50, 50)")
    ghost_watch.schema(db)
    alerts.schema(db)
    for c in (a, b):
        db.execute("INSERT INTO ghost_events (client, mac, kind, start, end, up, down, fired) "
                   "VALUES (?, ?, 'idle', 0, 1, 1, 1, 1)", (c.id, c.mac))
        db.execute("INSERT INTO alerts (kind, subject, period, point, fired, used, allowance) "
                   "VALUES ('client', ?, 0, 80, 0, 8, 10)", (c.mac,))
        for kind in ("alert", "ghost", "report"):
            message = Message(subject="s", text=f"{c.mac} used 80%", data={"mac": c.mac})
            outbox.enqueue(db, message, ["webhook"], kind=kind, now=START)
    plan_before = [tuple(r) for r in db.execute("SELECT * FROM usage_plan")]

    erased = hs.forgetting.forget_device(a.mac)["rows_erased"]

    assert store.client(a.mac) is None and store.client(b.mac) is not None
    for table in ("usage", "usage_days", "usage_months", "app_usage", "app_seen", "blocked_dests",
                  "ghost_events"):
        left = {r[0] for r in db.execute(f"SELECT client FROM {table}")}
        assert a.id not in left and b.id in left, table
    assert [r[0] for r in db.execute("SELECT subject FROM alerts")] == [b.mac]
    kept = db.execute("SELECT kind, message_json FROM deliveries").fetchall()
    assert sorted(k for k, _ in kept) == ["alert", "ghost", "report", "report"]  # its report stays
    assert all(b.mac in m for k, m in kept if k != "report")
    assert [tuple(r) for r in db.execute("SELECT * FROM usage_plan")] == plan_before == [(hour, 107, 907)]
    assert [tuple(r) for r in db.execute("SELECT up FROM usage_days WHERE client = -1")] == [(50,)]
    assert erased == 10  # its hour, day, month, app day, app reading, destination, event, alert, 2 deliveries
