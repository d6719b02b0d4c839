from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hotspot.core.store import DB_NAME, Store

MAC = "aa:bb:cc:dd:ee:01"
HOUR = 1_700_000_000 // 3600 * 3600


@pytest.fixture
def store(cfg):
    s = Store.open(cfg.run_dir, cfg.state_dir)
    yield s
    s.close()


def test_open_creates_run_dir_and_empty_database(cfg):
    s = Store.open(cfg.run_dir, cfg.state_dir)
    try:
        assert (Path(cfg.run_dir) / DB_NAME).is_file()
        assert s.clients() == []
        assert not (Path(cfg.state_dir) / DB_NAME).exists()  # flash is written only by commit_to
    finally:
        s.close()


def test_open_restores_from_state_dir_when_run_copy_is_missing(cfg):
    s = Store.open(cfg.run_dir, cfg.state_dir)
    with s.transaction():
        c = s.add_client(MAC, 1000.0, hostname="phone", ips=["192.168.1.10"], cap=2_000_000_000)
        s.update(c.id, period_up=123, period_down=456)
        s.set("period_start", 42)
    s.commit_to(cfg.state_dir)
    s.close()
    for f in Path(cfg.run_dir).iterdir():  # a reboot: RAM is gone
        f.unlink()

    s = Store.open(cfg.run_dir, cfg.state_dir)
    try:
        got = s.client(MAC)
        assert got is not None
        assert (got.id, got.hostname, got.ips, got.cap) == (2, "phone", ["192.168.1.10"], 2_000_000_000)
        assert (got.period_up, got.period_down) == (123, 456)
        assert s.get("period_start") == "42"
    finally:
        s.close()


def test_open_prefers_the_run_copy_when_it_exists(cfg):
    s = Store.open(cfg.run_dir, cfg.state_dir)
    with s.transaction():
        s.add_client(MAC, 1.0)
    s.commit_to(cfg.state_dir)
    with s.transaction():
        s.add_client("aa:bb:cc:dd:ee:02", 2.0)  # newer than flash, still in RAM
    s.close()
    s = Store.open(cfg.run_dir, cfg.state_dir)
    try:
        assert [c.mac for c in s.clients()] == [MAC, "aa:bb:cc:dd:ee:02"]
    finally:
        s.close()


def test_commit_to_writes_a_consistent_copy_readable_by_sqlite(store, cfg):
    with store.transaction():
        c = store.add_client(MAC, 1.0)
        store.record([(c.id, 10, 20, 10, 20)], HOUR, 5.0)
    stale = Path(cfg.state_dir)
    stale.mkdir(parents=True, exist_ok=True)
    (stale / "hotspot.tmp").write_bytes(b"left over by a power cut")

    target = store.commit_to(cfg.state_dir)

    assert target == Path(cfg.state_dir) / DB_NAME
    assert sorted(p.name for p in stale.iterdir()) == [DB_NAME]  # no temp file, no -wal/-shm beside it
    db = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert db.execute("SELECT mac, period_up, period_down FROM clients").fetchall() == [(MAC, 10, 20)]
        assert db.execute("SELECT client, hour, up, down FROM usage").fetchall() == [(c.id, HOUR, 10, 20)]
    finally:
        db.close()


def test_commit_to_replaces_the_previous_copy(store, cfg):
    with store.transaction():
        store.add_client(MAC, 1.0)
    first = store.commit_to(cfg.state_dir)
    with store.transaction():
        store.add_client("aa:bb:cc:dd:ee:02", 2.0)
    second = store.commit_to(cfg.state_dir)
    assert first == second
    db = sqlite3.connect(str(second))
    try:
        assert db.execute("SELECT COUNT(*) FROM clients").fetchone() == (2,)
    finally:
        db.close()


def test_add_client_allocates_the_lowest_free_id_from_2(store):
    ids = [store.add_client(f"aa:bb:cc:dd:ee:{i:02x}", 1.0).id for i in range(1, 5)]
    assert ids == [2, 3, 4, 5]
    for c in store.clients_by_id([2, 4]):
        store.forget_client(c)
    assert store.add_client("aa:bb:cc:dd:ee:10", 1.0).id == 2
    assert store.add_client("aa:bb:cc:dd:ee:11", 1.0).id == 4
    assert store.add_client("aa:bb:cc:dd:ee:12", 1.0).id == 6
    assert [c.id for c in store.clients()] == [2, 3, 4, 5, 6]


def test_add_client_stores_fields_and_first_seen(store):
    c = store.add_client(MAC, 1234.5, hostname="laptop", ips=["10.0.0.2", "fd00::2"], cap=500)
    got = store.client(MAC)
    assert got == c
    assert (got.first_seen, got.last_seen, got.cap, got.topup, got.rate, got.blocked) == (
        1234.5, 1234.5, 500, 0, None, False)
    assert got.ips == ["10.0.0.2", "fd00::2"]


def test_add_client_rejects_a_mac_twice(store):
    store.add_client(MAC, 1.0)
    with pytest.raises(sqlite3.IntegrityError):
        store.add_client(MAC, 2.0)


def test_record_adds_deltas_to_period_totals_and_hourly_buckets(store):
    a = store.add_client(MAC, 1.0)
    b = store.add_client("aa:bb:cc:dd:ee:02", 1.0)
    store.record([(a.id, 100, 1000, 100, 1000), (b.id, 0, 0, 7, 9)], HOUR, 50.0)
    store.record([(a.id, 5, 50, 105, 1050)], HOUR, 60.0)  # same hour: the bucket adds up
    store.record([(a.id, 1, 2, 106, 1052)], HOUR + 3600, 3700.0)

    got = store.client(MAC)
    assert (got.period_up, got.period_down) == (106, 1052)
    assert (got.seen_up, got.seen_down) == (106, 1052)
    assert got.last_seen == 3700.0
    assert store.history(a.id) == [(HOUR, 105, 1050), (HOUR + 3600, 1, 2)]
    assert store.history(a.id, since=HOUR + 1) == [(HOUR + 3600, 1, 2)]
    assert store.history(a.id, until=HOUR + 3600) == [(HOUR, 105, 1050)]

    idle = store.client("aa:bb:cc:dd:ee:02")
    assert (idle.period_up, idle.period_down) == (0, 0)
    assert (idle.seen_up, idle.seen_down) == (7, 9)  # the kernel value is stored even with no traffic
    assert idle.last_seen == 1.0  # no bytes: not "seen"
    assert store.history(b.id) == []  # and no empty bucket


def test_hour_totals_add_up_and_down_in_sql_for_a_client_and_the_plan(store):
    """What the forecaster and the client page read: (hour, up + down), plain tuples, in [since, until)."""
    a = store.add_client(MAC, 1.0)
    b = store.add_client("aa:bb:cc:dd:ee:02", 1.0)
    store.record([(a.id, 100, 1000, 100, 1000), (b.id, 7, 9, 7, 9)], HOUR, 50.0)
    store.record([(a.id, 1, 2, 101, 1002)], HOUR + 3600, 3700.0)
    store.record([(a.id, 3, 4, 104, 1006)], HOUR + 7200, 7300.0)
    got = store.hour_totals(a.id, HOUR, HOUR + 7200)
    assert got == [(HOUR, 1100), (HOUR + 3600, 3)] and all(type(r) is tuple for r in got)
    assert store.hour_totals(b.id, 0, 2**62) == [(HOUR, 16)]
    assert store.hour_totals(None, HOUR, 2**62) == [(HOUR, 1116), (HOUR + 3600, 3), (HOUR + 7200, 7)]
    assert store.hour_totals(a.id, HOUR + 1, HOUR + 3600) == []


def test_reset_seen_zeroes_only_the_kernel_baselines(store):
    a = store.add_client(MAC, 1.0)
    store.record([(a.id, 10, 20, 10, 20)], HOUR, 2.0)
    store.reset_seen()
    got = store.client(MAC)
    assert (got.seen_up, got.seen_down, got.period_up, got.period_down) == (0, 0, 10, 20)


def test_new_period_zeroes_totals_and_topups_but_keeps_history_and_policy(store):
    a = store.add_client(MAC, 1.0, cap=1000)
    store.update(a.id, topup=500, rate=256000, blocked=True)
    store.record([(a.id, 300, 400, 300, 400)], HOUR, 2.0)
    store.new_period()
    got = store.client(MAC)
    assert (got.period_up, got.period_down, got.topup) == (0, 0, 0)
    assert (got.cap, got.rate, got.blocked) == (1000, 256000, True)
    assert (got.seen_up, got.seen_down) == (300, 400)  # kernel counters are never reset
    assert store.history(a.id) == [(HOUR, 300, 400)]


def test_update_rejects_unknown_fields(store):
    a = store.add_client(MAC, 1.0)
    with pytest.raises(ValueError, match="not a client field"):
        store.update(a.id, mac="aa:bb:cc:dd:ee:99")
    assert store.client(MAC).mac == MAC


def test_transaction_commits_on_success(store, cfg):
    with store.transaction():
        store.add_client(MAC, 1.0)
    other = Store(Path(cfg.run_dir) / DB_NAME)  # a second connection, like the CLI next to the daemon
    try:
        assert [c.mac for c in other.clients()] == [MAC]
    finally:
        other.close()


def test_transaction_rolls_back_on_exception(store):
    a = store.add_client(MAC, 1.0, cap=100)
    with pytest.raises(RuntimeError, match="nft refused"), store.transaction():
        store.update(a.id, cap=999, blocked=True)
        store.add_client("aa:bb:cc:dd:ee:02", 2.0)
        store.set("k", "v")
        raise RuntimeError("nft refused")
    assert store.client(MAC).cap == 100
    assert store.client(MAC).blocked is False
    assert store.client("aa:bb:cc:dd:ee:02") is None
    assert store.get("k") is None
    with store.transaction():  # and the connection is usable again
        store.set("k", "w")
    assert store.get("k") == "w"


def test_meta_get_set(store):
    assert store.get("missing") is None
    assert store.get("missing", "d") == "d"
    store.set("n", 12.5)
    store.set("n", 13)
    assert store.get("n") == "13"


def test_an_older_database_gains_the_admission_columns(cfg):
    Path(cfg.run_dir).mkdir(parents=True)
    db = sqlite3.connect(str(Path(cfg.run_dir) / DB_NAME))
    db.executescript("""
        CREATE TABLE clients (id INTEGER PRIMARY KEY, mac TEXT NOT NULL UNIQUE, hostname TEXT,
            ips TEXT NOT NULL DEFAULT '[]', first_seen REAL NOT NULL, last_seen REAL NOT NULL, cap INTEGER,
            topup INTEGER NOT NULL DEFAULT 0, rate INTEGER, blocked INTEGER NOT NULL DEFAULT 0,
            period_up INTEGER NOT NULL DEFAULT 0, period_down INTEGER NOT NULL DEFAULT 0,
            seen_up INTEGER NOT NULL DEFAULT 0, seen_down INTEGER NOT NULL DEFAULT 0);
        INSERT INTO clients (id, mac, first_seen, last_seen, cap) VALUES (2, 'aa:bb:cc:dd:ee:01', 1, 1, 5);
    """)
    db.commit()
    db.close()
    s = Store.open(cfg.run_dir, cfg.state_dir)
    try:
        c = s.client(MAC)
        assert (c.cap, c.admitted_until, c.admitted_at) == (5, None, None)
        s.update(c.id, admitted_until=100.0, admitted_at=50.0)
        assert s.client(MAC).admitted_until == 100.0
    finally:
        s.close()
    Store(Path(cfg.run_dir) / DB_NAME).close()  # opening again adds nothing twice


def test_expired_sessions(store):
    with store.transaction():
        a = store.add_client("aa:bb:cc:dd:ee:01", 0.0)  # admitted until 100
        b = store.add_client("aa:bb:cc:dd:ee:02", 0.0)  # admitted until 1000, last byte at 60
        c = store.add_client("aa:bb:cc:dd:ee:03", 0.0)  # admitted at 90, long idle before that
        store.add_client("aa:bb:cc:dd:ee:04", 0.0)  # not admitted
        store.update(a.id, admitted_until=100.0, admitted_at=0.0, last_seen=99.0)
        store.update(b.id, admitted_until=1000.0, admitted_at=10.0, last_seen=60.0)
        store.update(c.id, admitted_until=1000.0, admitted_at=90.0, last_seen=5.0)
    assert store.expired(99.0, idle=None) == []
    assert store.expired(100.0, idle=None) == ["aa:bb:cc:dd:ee:01"]
    assert store.expired(99.0, idle=40) == []  # b: idle since 60; c: admitted at 90, idle from there
    assert store.expired(99.0, idle=39) == ["aa:bb:cc:dd:ee:02"]
    assert store.expired(100.0, idle=39) == ["aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02"]
    assert store.expired(119.0, idle=30) == ["aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02"]
    assert store.expired(120.0, idle=30) == ["aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02", "aa:bb:cc:dd:ee:03"]


def test_near_cap(store):
    with store.transaction():
        for i, (cap, topup, used) in enumerate([(None, 0, 10**9), (1000, 0, 10), (1000, 0, 995),
                                                (1000, 500, 1200), (1000, 0, 5000)]):
            c = store.add_client(f"aa:bb:cc:dd:ee:{i:02x}", 0.0, cap=cap, topup=topup)
            store.update(c.id, period_down=used)
    assert [c.mac[-2:] for c in store.near_cap(10)] == ["02", "04"]
    assert [c.mac[-2:] for c in store.near_cap(300)] == ["02", "03", "04"]
    assert [c.id for c in store.clients_by_id([3, 5])] == [3, 5] and store.clients_by_id([]) == []


@pytest.fixture
def umask022():
    import os

    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return Path(path).stat().st_mode & 0o777


def test_every_copy_of_the_database_is_root_only_whatever_the_umask(cfg, umask022):
    s = Store.open(cfg.run_dir, cfg.state_dir)
    with s.transaction():
        s.add_client(MAC, 1000.0)
    s.commit_to(cfg.state_dir)
    run, state = Path(cfg.run_dir), Path(cfg.state_dir)
    assert (_mode(run), _mode(state)) == (0o711, 0o700)
    for name in (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm"):
        assert _mode(run / name) == 0o600, name
    assert _mode(state / DB_NAME) == 0o600
    s.close()
    for f in run.iterdir():  # a reboot: the working copy comes back from flash, root's alone too
        f.unlink()
    s = Store.open(cfg.run_dir, cfg.state_dir)
    assert [c.mac for c in s.clients()] == [MAC] and _mode(run / DB_NAME) == 0o600
    s.close()


def test_a_database_left_readable_is_made_root_only_at_open(cfg):
    Store.open(cfg.run_dir, cfg.state_dir).close()
    path = Path(cfg.run_dir) / DB_NAME
    path.chmod(0o644)
    s = Store.open(cfg.run_dir, cfg.state_dir)
    assert _mode(path) == 0o600
    s.close()


def test_commit_never_writes_through_a_link_planted_at_its_temporary_file(cfg, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    s = Store.open(cfg.run_dir, cfg.state_dir)
    s.commit_to(cfg.state_dir)
    (Path(cfg.state_dir) / "hotspot.tmp").symlink_to(victim)
    s.commit_to(cfg.state_dir)
    assert victim.read_text() == "untouched\n"
    s.close()


@pytest.mark.parametrize("which", ["run_dir", "state_dir"])
def test_a_run_dir_or_state_dir_another_user_could_change_is_refused(cfg, tmp_path, which):
    import os

    path = Path(getattr(cfg, which))
    path.mkdir(mode=0o777)
    path.chmod(0o777)  # any user could plant links in it
    with pytest.raises(OSError, match=f"{which} {path} is writable by other users"):
        Store.open(cfg.run_dir, cfg.state_dir)
    assert list(path.iterdir()) == []
    path.rmdir()
    if os.geteuid() != 0:
        return  # links and directories of another user's need root to make
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    path.symlink_to(elsewhere)
    os.lchown(path, 65534, 65534)  # another user's link to a directory of root's
    with pytest.raises(OSError, match=f"{which} {path}: {path} is a link of uid 65534"):
        Store.open(cfg.run_dir, cfg.state_dir)
    assert list(elsewhere.iterdir()) == [] and _mode(elsewhere) == 0o700
    path.unlink()
    path.mkdir(mode=0o700)
    os.chown(path, 65534, 65534)  # another user's directory
    with pytest.raises(OSError, match=f"{which} {path} belongs to uid 65534"):
        Store.open(cfg.run_dir, cfg.state_dir)
    assert list(path.iterdir()) == []


# -- devices not registered yet: their bytes, credited once ----------------------------------------

UP, DOWN = (MAC, "up"), ("10.0.0.2", "down")


def test_unregistered_readings_add_what_each_element_counted_since_the_last(store):
    with store.transaction():
        assert store.add_unregistered({UP: 1000, DOWN: 5000}) == 6000
        assert store.add_unregistered({UP: 1500, DOWN: 5000}) == 500
    assert store.unregistered() == {UP: (1500, 1500), DOWN: (5000, 5000)}


def test_credit_moves_the_bytes_into_the_client_once(store):
    with store.transaction():
        c = store.add_client(MAC, 1000.0, ips=["10.0.0.2"])
        store.add_unregistered({UP: 1000, DOWN: 5000})
        assert store.credit(c.id, [UP, DOWN], HOUR, 1001.0) == (1000, 5000)
        assert store.credit(c.id, [UP, DOWN], HOUR, 1002.0) == (0, 0)  # nothing twice
    c = store.client(MAC)
    assert (c.period_up, c.period_down) == (1000, 5000)
    assert store.history(c.id) == [(HOUR, 1000, 5000)]
    assert store.plan_history() == [(HOUR, 1000, 5000)]
    assert store.unregistered() == {UP: (0, 1000), DOWN: (0, 5000)}  # the elements' counters, still seen


def test_a_crash_after_the_credit_and_before_the_elements_went_doubles_nothing(cfg):
    """The credit and the counter values it took are in one transaction: a new process that reads the
    same elements again (they were not deleted yet) credits only what they counted since."""
    s = Store.open(cfg.run_dir, cfg.state_dir)
    with s.transaction():
        c = s.add_client(MAC, 1000.0)
        s.add_unregistered({UP: 1000})
        s.credit(c.id, [UP], HOUR, 1001.0)
    s.close()  # kill -9: the kernel element is still there, and counted on a little
    s = Store.open(cfg.run_dir, cfg.state_dir)
    try:
        with s.transaction():
            s.add_unregistered({UP: 1200})
            assert s.credit(c.id, [UP], HOUR, 1002.0) == (200, 0)
        assert s.client(MAC).period_up == 1200
    finally:
        s.close()


def test_a_crash_before_the_credit_loses_nothing(cfg):
    s = Store.open(cfg.run_dir, cfg.state_dir)
    with s.transaction():
        s.add_unregistered({UP: 1000})
    try:
        with s.transaction():
            c = s.add_client(MAC, 1000.0)
            s.credit(c.id, [UP], HOUR, 1001.0)
            raise RuntimeError("killed")
    except RuntimeError:
        pass
    with s.transaction():
        s.add_unregistered({UP: 1100})
        c = s.add_client(MAC, 1000.0)
        assert s.credit(c.id, [UP], HOUR, 1002.0) == (1100, 0)
    s.close()


def test_an_element_that_went_counts_again_from_zero(store):
    with store.transaction():
        store.add_unregistered({UP: 1000, DOWN: 300})
        c = store.add_client(MAC, 1000.0)
        store.credit(c.id, [UP], HOUR, 1001.0)
        # both elements are gone: the credited row goes, the other keeps its bytes, seen nothing
        store.add_unregistered({})
        assert store.unregistered() == {DOWN: (300, 0)}
        assert store.add_unregistered({DOWN: 50}) == 50  # made again: all it holds is new
        assert store.unregistered() == {DOWN: (350, 50)}


def test_a_rebuilt_table_keeps_the_uncredited_bytes_and_forgets_the_counters(store):
    with store.transaction():
        store.add_unregistered({UP: 1000, DOWN: 300})
        c = store.add_client(MAC, 1000.0)
        store.credit(c.id, [UP], HOUR, 1001.0)
        store.reset_seen()
    assert store.unregistered() == {DOWN: (300, 0)}


def test_forgotten_rows_are_only_those_credited(store):
    with store.transaction():
        store.add_unregistered({UP: 1000, DOWN: 300})
        c = store.add_client(MAC, 1000.0)
        store.credit(c.id, [UP], HOUR, 1001.0)
        store.forget_unregistered([UP, DOWN])
    assert store.unregistered() == {DOWN: (300, 300)}


def test_an_element_belongs_to_the_client_with_its_mac_or_its_address(store):
    with store.transaction():
        c = store.add_client(MAC, 1000.0, ips=["10.0.0.2", "2001:db8::2"])
        store.add_client("aa:bb:cc:dd:ee:02", 1000.0, ips=["10.0.0.20"])
    assert store.owner(MAC, "up").id == c.id
    assert store.owner("2001:db8::2", "down").id == c.id
    assert store.owner("10.0.0.2", "down").id == c.id  # not 10.0.0.20's client: the whole address
    assert store.owner("10.0.0.3", "down") is None
    assert store.owner("aa:bb:cc:dd:ee:03", "up") is None
