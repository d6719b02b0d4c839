from __future__ import annotations

from hotspot.admin_auth import LoginLimiter, check_new_password, hash_password, verify_password


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


def test_set_password_never_writes_through_a_planted_link_and_keeps_state_dir_root_only(tmp_path):
    import os

    from hotspot.admin_auth import PASSWORD_FILE, set_password, stored_hash

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
