"""hotspot.core.files: what root writes goes only where no other user can change the path."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hotspot.core.files import UnsafePath, own_dir, private_file, read_trusted, write_atomic

ROOT = os.geteuid() == 0
OTHER = 65534  # nobody
# Another user's files need root to make: without root these tests are skipped, but never in CI.
needs_root = pytest.mark.skipif(not ROOT and not os.environ.get("CI"), reason="needs root")


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_own_dir_makes_missing_parents_and_the_directory_with_its_exact_mode(tmp_path):
    old = os.umask(0o077)
    try:
        real = own_dir(tmp_path / "a" / "b" / "run", 0o711, "run_dir")
    finally:
        os.umask(old)
    assert real == str(tmp_path / "a" / "b" / "run")
    assert (_mode(tmp_path / "a"), _mode(real)) == (0o755, 0o711)  # whatever the umask: the portal passes
    assert own_dir(real, 0o700) == real and _mode(real) == 0o711  # an existing one is left as it is


def test_own_dir_follows_roots_own_links(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "var").symlink_to(tmp_path / "real")  # /var/run -> /run, as on Debian
    assert own_dir(tmp_path / "var" / "run", 0o711) == str(tmp_path / "real" / "run")


@needs_root
def test_a_path_through_another_users_link_or_directory_is_refused(tmp_path):
    (tmp_path / "real").mkdir()
    link = tmp_path / "var"
    link.symlink_to(tmp_path / "real")
    os.lchown(link, OTHER, OTHER)
    with pytest.raises(UnsafePath, match=f"run_dir {link}/run: {link} is a link of uid {OTHER}'s"):
        own_dir(link / "run", 0o711, "run_dir")
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, OTHER, OTHER)
    with pytest.raises(UnsafePath, match=f"{theirs} belongs to uid {OTHER}, so another user could replace"):
        own_dir(theirs / "run", 0o711, "run_dir")
    assert not (tmp_path / "real" / "run").exists() and not (theirs / "run").exists()


def test_a_directory_open_to_others_is_refused_unless_sticky(tmp_path):
    public = tmp_path / "public"
    public.mkdir()
    public.chmod(0o777)
    with pytest.raises(UnsafePath, match="is writable by other users \\(mode 0777\\)"):
        own_dir(public / "run", 0o711)
    public.chmod(0o1777)  # as /tmp: others cannot move our directory away
    assert _mode(own_dir(public / "run", 0o711)) == 0o711


def test_write_atomic_keeps_mode_and_owner_and_leaves_nothing_behind(tmp_path):
    path = tmp_path / "config"
    path.write_text("old\n")
    path.chmod(0o640)
    if ROOT:
        os.chown(path, OTHER, OTHER)
    owner = (path.stat().st_uid, path.stat().st_gid)
    write_atomic(path, "new\n")
    assert path.read_text() == "new\n" and _mode(path) == 0o640
    assert (path.stat().st_uid, path.stat().st_gid) == owner
    write_atomic(path, "newer\n", 0o600, keep=False)
    assert _mode(path) == 0o600
    assert os.listdir(tmp_path) == ["config"]


def test_a_check_that_refuses_leaves_the_old_file(tmp_path):
    path = tmp_path / "config"
    path.write_text("old\n")
    seen = []

    def check(tmp: str) -> None:
        seen.append(Path(tmp).read_text())
        raise ValueError("no")

    with pytest.raises(ValueError):
        write_atomic(path, "new\n", check=check)
    assert seen == ["new\n"] and path.read_text() == "old\n" and os.listdir(tmp_path) == ["config"]


def test_private_file_makes_a_file_root_only_and_never_follows_a_link(tmp_path):
    path = tmp_path / "db"
    old = os.umask(0o022)
    try:
        private_file(path)
    finally:
        os.umask(old)
    assert _mode(path) == 0o600
    path.chmod(0o644)
    private_file(path)
    assert _mode(path) == 0o600
    victim = tmp_path / "victim"
    victim.write_text("x")
    victim.chmod(0o644)
    (tmp_path / "link").symlink_to(victim)
    with pytest.raises(OSError):
        private_file(tmp_path / "link")
    assert _mode(victim) == 0o644


@needs_root
def test_read_trusted_refuses_what_another_user_could_have_swapped(tmp_path):
    key = tmp_path / "key.pem"
    key.write_text("secret")
    assert read_trusted(key) == b"secret"
    drop = tmp_path / "drop"
    drop.mkdir()
    os.chown(drop, OTHER, OTHER)
    (drop / "key.pem").symlink_to(key)
    os.lchown(drop / "key.pem", OTHER, OTHER)
    with pytest.raises(UnsafePath, match=f"tls_key {drop}/key.pem: {drop} belongs to uid {OTHER}"):
        read_trusted(drop / "key.pem", "tls_key")
