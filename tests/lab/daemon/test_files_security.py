"""Root never acts by path where another user can write, and files keep their secrets: the portal's
user (or any other user) plants symbolic links wherever hotspotd writes, before and while it starts,
and nothing they point at changes; every file with usage, sessions or secrets is root's alone."""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import sys
import time
from pathlib import Path

from lab.hotspotd import Hotspotd
from tests.lab.conftest import register
from tests.lab.portal.test_portal import _lab_ca

TLS_PORT = 8443

# Run as another user: plant a symbolic link to `victim` at each path (made beside it, then renamed
# over it, so a file already there is replaced too), again and again until `until`; print the paths
# where a link was planted at least once.
PLANT = r"""
import os, sys, time
victim, until, paths = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
planted = set()
while True:
    for p in paths:
        try:
            os.symlink(victim, p + ".plant")
            os.rename(p + ".plant", p)
            planted.add(p)
        except OSError:
            pass
    if time.time() >= until:
        break
    time.sleep(0.002)
print("\n".join(sorted(planted)))
"""


def _as(user: str, *argv: str, **kw) -> subprocess.Popen:
    pw = pwd.getpwnam(user)

    def drop() -> None:
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)

    return subprocess.Popen(argv, preexec_fn=drop, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd="/", **kw)


def _plant(user: str, victim: Path, paths: list[Path], seconds: float = 0.0) -> subprocess.Popen:
    return _as(user, sys.executable, "-I", "-c", PLANT, str(victim), str(time.time() + seconds),
               *map(str, paths))


def _planted(p: subprocess.Popen) -> list[str]:
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    return out.split()


def _victim(directory: Path) -> tuple[Path, tuple]:
    """A root-only file, and what must stay as it is: owner, mode and content."""
    victim = directory / "victim"
    victim.write_text("root's own file\n")
    victim.chmod(0o600)
    return victim, _fingerprint(victim)


def _fingerprint(path: Path) -> tuple:
    st = os.lstat(path)
    content = sorted(os.listdir(path)) if stat.S_ISDIR(st.st_mode) else path.read_bytes()
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), content


def _tree(*roots: str) -> list[Path]:
    found = []
    for root in roots:
        for parent, dirs, files in os.walk(root):
            found += [Path(parent, n) for n in dirs + files]
    return found


def _open_to(user: str, paths: list[Path]) -> list[str]:
    """The paths `user` owns, and the directories it (or anyone but root) may write in."""
    uid = pwd.getpwnam(user).pw_uid
    bad = []
    for p in paths:
        st = os.lstat(p)
        if st.st_uid == uid:
            bad.append(f"{p} is owned by {user}")
        elif stat.S_ISDIR(st.st_mode) and st.st_mode & 0o022:
            bad.append(f"{p} is writable by others ({stat.S_IMODE(st.st_mode):04o})")
    return bad


def _https_up(lab) -> bool:
    return lab.curl("c1", f"https://{lab.router4}:{TLS_PORT}/api/captive", "-k", "-o", "/dev/null",
                    check=False, timeout=2).returncode == 0


def test_the_portal_user_can_plant_nothing_where_hotspotd_writes(lab, start_hotspotd):
    pki = _lab_ca(Path(lab.dir))
    d = start_hotspotd(tls_cert=pki["cert"], tls_key=pki["key"], tls_port=TLS_PORT)
    user = d.config.portal_user
    register(lab, d, "c1")
    d.ctl("passwd", input="owner-secret-1\n")
    lab.wait_for(lambda: _https_up(lab), 30, "the HTTPS portal")
    d.stop()  # commits to flash: state_dir has every file it will have
    written = _tree(d.config.run_dir, d.config.state_dir)
    assert _open_to(user, [Path(d.config.run_dir), Path(d.config.state_dir), *written]) == []

    # Every path hotspotd wrote, the names it writes at start and their temporary files: the portal's
    # user plants a link at each, before hotspotd starts and all the while it starts and serves HTTPS.
    run, state = Path(d.config.run_dir), Path(d.config.state_dir)
    names = [run / n for n in ("hotspotd.pid", "hotspotd.sock", "portal.pid", "tls-portal.pid", "hotspot.db",
                               "hotspot.db-wal", "hotspot.db-shm", "dns.db", "tls", "tls/portal.pem",
                               "tls/portal.key")]
    names += [state / n for n in ("hotspot.db", "hotspot.tmp", "admin.passwd", "admin.tmp", "portal.key",
                                  "portal.tmp")]
    targets = sorted(set(written) | set(names))
    victim, before = _victim(Path(lab.dir))
    planter = _plant(user, victim, targets, seconds=12)
    d.start()
    lab.wait_for(lambda: _https_up(lab), 30, "the HTTPS portal again")
    d.ctl("passwd", input="owner-secret-2\n")
    assert _planted(planter) == [], "the portal's user could plant links where hotspotd writes"
    d.stop()
    assert _fingerprint(victim) == before
    assert _open_to(user, _tree(d.config.run_dir, d.config.state_dir)) == []


def test_a_run_dir_or_state_dir_another_user_made_first_is_refused(lab):
    # run_dir and state_dir in a directory every user may write to (sticky, as /tmp is)
    public = Path(lab.dir) / "public"
    public.mkdir(mode=0o1777)
    public.chmod(0o1777)
    d = Hotspotd(lab, run_dir=str(public / "run"), state_dir=str(public / "state"))
    user = d.config.portal_user
    victim_dir = Path(lab.dir) / "victim-dir"
    victim_dir.mkdir(mode=0o700)
    (victim_dir / "keep").write_text("root's\n")
    victim, before = _victim(Path(lab.dir))
    dir_before = _fingerprint(victim_dir)

    def refused(what: str, path: Path) -> None:
        d.start(wait=False)
        assert d.proc.wait(timeout=30) != 0, f"hotspotd started with a {what} {path}"
        lines = [line for line in d.log().splitlines()[-5:] if str(path) in line]
        assert lines and "ERROR" in lines[-1], d.log()[-1000:]
        p = d.ctl("status", check=False)
        assert p.returncode != 0 and p.stdout == ""
        assert len(p.stderr.splitlines()) == 1 and str(path) in p.stderr, p.stderr
        assert _fingerprint(victim_dir) == dir_before and _fingerprint(victim) == before

    for name in ("run", "state"):
        path = public / name
        # a link to a directory of root's, made by the other user before hotspotd first ran
        assert _planted(_plant(user, victim_dir, [path])) == [str(path)]
        refused("link as", path)
        path.unlink()
        # a directory of the other user's own, where it could later plant links
        assert _as(user, "mkdir", str(path)).wait() == 0
        refused("directory of another user's as", path)
        path.rmdir()

    d.start()
    assert _fingerprint(victim_dir) == dir_before
    for path, mode in ((public / "run", 0o711), (public / "state", 0o700)):
        st = os.lstat(path)
        assert stat.S_ISDIR(st.st_mode) and st.st_uid == 0 and stat.S_IMODE(st.st_mode) == mode, path
    d.stop()


def _private_files(*roots: str) -> list[str]:
    """Regular files anyone but root may read or write."""
    found = []
    for p in _tree(*roots):
        st = os.lstat(p)
        if stat.S_ISREG(st.st_mode) and (st.st_uid != 0 or stat.S_IMODE(st.st_mode) & 0o077):
            found.append(f"{p} {st.st_uid} {stat.S_IMODE(st.st_mode):04o}")
    return found


def test_every_file_with_usage_sessions_or_secrets_is_root_only(lab, start_hotspotd):
    d = start_hotspotd(dns_snoop=True)
    register(lab, d, "c1")
    d.ctl("passwd", input="owner-secret-1\n")
    d.wait_portal()
    run, state = Path(d.config.run_dir), Path(d.config.state_dir)
    lab.wait_for(lambda: (run / "dns.db").exists(), 20, "the names file")
    names = {p.name for p in _tree(str(run), str(state))}
    assert names >= {"hotspot.db", "hotspot.db-wal", "hotspot.db-shm", "dns.db", "admin.passwd"}
    assert "portal.key" not in names  # the portal's cookie key lives in hotspotd's memory only
    assert _private_files(str(run), str(state)) == []
    d.stop()  # commits the working copy to flash
    assert (state / "hotspot.db").exists()
    assert stat.S_IMODE(run.stat().st_mode) == 0o711  # the portal's user passes through to the socket
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert _private_files(str(run), str(state)) == []
