from __future__ import annotations

import threading

from hotspot.admin.auth import (
    LoginLimiter,
    Sessions,
    check_new_password,
    hash_password,
    set_password,
    stored_hash,
    verify_password,
)


def test_hash_is_salted_and_verifies():
    a, b = hash_password("correct horse"), hash_password("correct horse")
    assert a != b and a.startswith("scrypt$")
    assert verify_password("correct horse", a) and verify_password("correct horse", b)
    assert not verify_password("correct hors", a)
    assert not verify_password("x", "garbage") and not verify_password("x", "md5$1$2$3$00$00")


def test_new_password_rules():
    assert check_new_password("12345678") is None
    assert "8 to 128" in check_new_password("1234567")
    assert "8 to 128" in check_new_password("x" * 129)
    assert "printable" in check_new_password("abcdefgh\n")


def test_limiter_slows_one_address_and_forgets_on_success():
    now = [0.0]
    lim = LoginLimiter(free=3, first=1.0, longest=8.0, remember=2, clock=lambda: now[0])
    for _ in range(3):
        assert lim.wait("a") == 0
        lim.failed("a")
    lim.failed("a")  # 4th failure: 2 s
    assert lim.wait("a") == 2.0 and lim.wait("b") == 0  # another address is not slowed
    for _ in range(10):
        lim.failed("a")
    assert lim.wait("a") == 8.0  # capped
    now[0] = 8.0
    assert lim.wait("a") == 0
    lim.succeeded("a")
    assert "a" not in lim.failures
    for ip in "bcd":
        lim.failed(ip)
    assert list(lim.failures) == ["c", "d"]  # bounded memory, oldest forgotten


# -- the limiter's keys, its ceiling for everyone, and its check-and-count in one step ------------------


def test_a_device_is_named_by_its_address_its_mac_and_its_64():
    from hotspot.admin.auth import login_keys

    assert login_keys("10.0.0.2", "aa:bb:cc:dd:ee:01") == ["ip 10.0.0.2", "mac aa:bb:cc:dd:ee:01"]
    assert login_keys("2001:db8:1:2::99", None) == ["ip 2001:db8:1:2::99", "net 2001:db8:1:2::/64"]
    assert login_keys("::ffff:10.0.0.2", None) == ["ip ::ffff:10.0.0.2"]


def test_every_key_of_a_device_and_everyone_together_are_slowed():
    now = [100.0]
    lim = LoginLimiter(free=2, first=1.0, longest=8.0, everyone=5, clock=lambda: now[0])
    phone = ["ip 10.0.0.2", "mac aa:bb:cc:dd:ee:01"]
    assert lim.attempt(phone) == 0 and lim.attempt(phone) == 0
    assert lim.attempt(phone) == 1.0  # its free tries are used: it waits, and this try is not counted
    # the same device from another address is the same device (its MAC)
    assert lim.attempt(["ip 10.0.0.77", "mac aa:bb:cc:dd:ee:01"]) == 1.0
    # another device is not slowed by it...
    assert lim.attempt(["ip 10.0.0.3", "mac aa:bb:cc:dd:ee:02"]) == 0
    for i in range(2):  # ...until everyone together passed the ceiling
        assert lim.attempt([f"ip 10.0.1.{i}"]) == 0
    assert lim.attempt(["ip 10.0.2.1"]) == 1.0
    now[0] += 1.0
    assert lim.attempt(["ip 10.0.2.1"]) == 0
    assert lim.attempt(["ip 10.0.2.2"]) == 2.0  # the delay for everyone grows too
    # the right password forgives the device and takes its try off everyone's count
    lim.succeeded(["ip 10.0.2.1"])
    assert lim.all[0] == 5 and "ip 10.0.2.1" not in lim.failures


def test_tries_that_arrive_together_are_checked_and_counted_in_one_step():
    lim = LoginLimiter(free=5)
    keys = ["ip 10.0.0.2", "mac aa:bb:cc:dd:ee:01"]
    for _ in range(4):  # one free try left
        assert lim.attempt(keys) == 0
    start, allowed = threading.Barrier(8), []

    def one():
        start.wait()
        if lim.attempt(keys) == 0:
            allowed.append(1)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(allowed) == 1


# -- sessions -------------------------------------------------------------------------------------------


def test_a_session_is_a_random_token_hotspotd_keeps_only_the_hash_of(tmp_path):
    set_password(str(tmp_path), "correct horse")
    s = Sessions(str(tmp_path))
    token = s.issue(stored_hash(str(tmp_path)))
    assert len(token) >= 40 and s.valid(token)
    assert token not in repr(s._open) and not s.valid(token[:-1] + "x") and not s.valid(None)
    assert s.issue(stored_hash(str(tmp_path))) != token


def test_a_session_ends_idle_after_12_hours_and_at_most_7_days_after_login(tmp_path):
    set_password(str(tmp_path), "correct horse")
    now = [0.0]
    s = Sessions(str(tmp_path), clock=lambda: now[0])
    idle = s.issue(stored_hash(str(tmp_path)))
    busy = s.issue(stored_hash(str(tmp_path)))
    for _ in range(14):  # used every 12 hours less a minute: kept, for a week
        now[0] += 12 * 3600 - 60
        assert s.valid(busy)
    assert not s.valid(idle)
    now[0] = 7 * 86400 + 1
    assert not s.valid(busy)


def test_logout_and_a_new_password_end_every_session_at_once(tmp_path):
    state = str(tmp_path)
    set_password(state, "correct horse")
    s = Sessions(state)
    a, b = s.issue(stored_hash(state)), s.issue(stored_hash(state))
    assert s.end_all() == 2 and not s.valid(a) and not s.valid(b)
    c = s.issue(stored_hash(state))
    set_password(state, "correct horse")  # hotspotctl passwd, even the same password: a new hash
    assert not s.valid(c)
    d = s.issue(stored_hash(state))
    (tmp_path / "admin.passwd").unlink()  # no password at all: no session
    assert not s.valid(d)


# -- hotspotd's login: one hash at a time -------------------------------------------------------------


def test_hotspotd_computes_one_password_hash_at_a_time(cfg, monkeypatch):
    """Eight logins at once from eight devices (none slowed by the limiter): the scrypt hashes (16 MiB
    each) run one after another, never side by side, and each login still gets its answer."""
    from hotspot.admin import auth as admin_auth
    from hotspot.admin import keeper as admin_keeper
    from hotspot.house import House

    hs = House(cfg)
    set_password(cfg.state_dir, "correct horse")
    api = hs.answers()
    running, most = [0], [0]
    real = admin_auth.verify_password
    guard = threading.Lock()

    def counted(password, stored):
        with guard:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            return real(password, stored)
        finally:
            with guard:
                running[0] -= 1

    monkeypatch.setattr(admin_auth, "verify_password", counted)
    monkeypatch.setattr(admin_keeper, "mac_of", lambda ip, dev: None)
    start, answers = threading.Barrier(8), []

    def login(i):
        start.wait()
        answers.append(api.login(f"10.0.0.{i + 2}", "correct horse" if i % 2 else "wrong horse"))

    threads = [threading.Thread(target=login, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    hs.close()
    assert most[0] == 1
    assert sorted(a is None for a in answers) == [False] * 4 + [True] * 4
    assert all(api.session_valid(a) for a in answers if a)


def test_set_password_never_writes_through_a_planted_link_and_keeps_state_dir_root_only(tmp_path):
    import os

    from hotspot.admin.auth import PASSWORD_FILE, set_password, stored_hash

    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    state = tmp_path / "state"
    old = os.umask(0o022)
    try:
        set_password(str(state), "first-password")
        for name in ("admin.tmp", f"{PASSWORD_FILE}.tmp", ".admin.passwd.tmp"):
            (state / name).symlink_to(victim)
        set_password(str(state), "second-password")
    finally:
        os.umask(old)
    assert victim.read_text() == "untouched\n"
    assert verify_password("second-password", stored_hash(str(state)))
    assert (state.stat().st_mode & 0o777, (state / PASSWORD_FILE).stat().st_mode & 0o777) == (0o700, 0o600)
