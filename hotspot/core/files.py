"""Files root writes, made so that no other user can turn root's write into an act on a path of theirs.

Root acts by path only inside directories no other user can change. `own_dir` makes such a directory
(run_dir, state_dir), or refuses one that is not: a link, another user's, writable by others, or on a
path another user could re-point. Inside it, `private_file` makes or mends a file only root may read
(a SQLite database and its -wal and -shm), and `write_atomic` replaces a file in one step: a new file
with a unique name (O_EXCL|O_NOFOLLOW: never a file or link someone put there), its mode and owner
set on the descriptor, fsync, rename over the old one. `read_trusted` reads a file root was given by
path (the TLS key) only if no other user could have put something else there.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

FIX = "give hotspot a directory only root can change"
RUN_DIR_MODE = 0o711  # run_dir: the portal's user passes through to hotspotd's socket, lists nothing
STATE_DIR_MODE = 0o700


class UnsafePath(OSError):
    """A path root will not act on; str() is one line that names it and says what to do."""

    def __str__(self) -> str:
        return str(self.args[0])


def _trusted(st: os.stat_result) -> bool:
    return st.st_uid in (0, os.geteuid())


def _open_to_others(st: os.stat_result) -> bool:
    """Another user may add, remove or rename entries (a sticky directory keeps others' entries)."""
    return bool(st.st_mode & 0o022) and not st.st_mode & stat.S_ISVTX


def _resolve(path: str, what: str) -> str:
    """`path` with its links followed, checking on the way that only root could have set any of it:
    every directory before the last component is root's and not open to others, every link is
    root's. The last component itself may be missing; it is the caller's to check."""
    parts = list(Path(os.path.abspath(path)).parts[1:])
    current, hops = "/", 0
    while parts:
        name = parts.pop(0)
        if name in ("", "."):
            continue
        if name == "..":
            current = os.path.dirname(current)
            continue
        st = os.stat(current)
        if not _trusted(st) or _open_to_others(st):
            whose = f"belongs to uid {st.st_uid}" if not _trusted(st) else \
                f"is writable by other users (mode {stat.S_IMODE(st.st_mode):04o})"
            raise UnsafePath(f"{what} {path}: {current} {whose}, so another user could replace what is "
                             f"in it; {FIX}")
        nxt = os.path.join(current, name)
        try:
            st = os.lstat(nxt)
        except FileNotFoundError:
            return os.path.join(nxt, *parts)
        if stat.S_ISLNK(st.st_mode):
            if not _trusted(st):
                raise UnsafePath(f"{what} {path}: {nxt} is a link of uid {st.st_uid}'s; {FIX}")
            hops += 1
            if hops > 40:
                raise UnsafePath(f"{what} {path}: too many links")
            target = os.readlink(nxt)
            parts = list(Path(target).parts) + parts
            if os.path.isabs(target):
                parts, current = parts[1:], "/"
            continue
        current = nxt
    return current


def own_dir(path: str | os.PathLike, mode: int, what: str = "directory") -> str:
    """`path` as a directory only root may change: made with `mode` (and missing parents 0755) if it
    is missing, else checked and left as it is. Returns its real path; UnsafePath if it is a link
    another user made, another user's, writable by others, or on a path another user could change."""
    path = os.fspath(path)
    real = _resolve(path, what)
    if not os.path.isdir(os.path.dirname(real)):
        own_dir(os.path.dirname(real), 0o755, what)  # each missing parent made and checked the same way
        real = _resolve(path, what)
    try:
        os.mkdir(real, mode)
        made = True
    except FileExistsError:
        made = False
    try:
        fd = os.open(real, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as e:
        raise UnsafePath(f"{what} {path}: not a directory root made ({e.strerror}); {FIX}") from None
    try:
        st = os.fstat(fd)
        if not _trusted(st):
            raise UnsafePath(f"{what} {path} belongs to uid {st.st_uid}, not root: another user could put "
                             f"links in it; remove it (hotspot makes it) or {FIX}")
        if made:
            os.fchmod(fd, mode)  # exactly `mode`, whatever the umask
        elif st.st_mode & 0o022:
            raise UnsafePath(f"{what} {path} is writable by other users (mode "
                             f"{stat.S_IMODE(st.st_mode):04o}): they could put links in it; {FIX}")
    finally:
        os.close(fd)
    return real


def private_file(path: str | os.PathLike, mode: int = 0o600) -> None:
    """Make `path` a regular file with no more than `mode` (root's own: 0600), creating it empty if it
    is missing: then SQLite, which opens by path and gives the -wal and -shm files the mode of the
    database, makes none readable by others, whatever the umask of the command that made it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePath(f"{path} is not a regular file")
        if stat.S_IMODE(st.st_mode) & ~mode:
            os.fchmod(fd, stat.S_IMODE(st.st_mode) & mode)
    finally:
        os.close(fd)


def mend_private(path: str | os.PathLike, mode: int = 0o600) -> None:
    """`private_file` for a file that may or may not be there (a database's -wal and -shm): one left
    readable by others is made private; a missing one is not made."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) & ~mode:
            os.fchmod(fd, stat.S_IMODE(st.st_mode) & mode)
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike, data: bytes | str, mode: int = 0o600, *, keep: bool = True,
                 check: Callable[[str], object] | None = None) -> None:
    """Replace `path` with `data` in one step, readers see the old file or the new one. The new file
    gets `mode`, or with `keep` the mode, owner and group of the file it replaces (a 0600 config with
    passwords stays 0600). Never writes through a link: the temporary file is new, its name unique.
    `check(temporary path)` may look at the new file first; what it raises leaves `path` as it was."""
    path = os.fspath(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    directory = os.path.dirname(os.path.abspath(path))
    owner = None
    if keep:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            pass
        else:
            if stat.S_ISREG(st.st_mode):
                mode, owner = stat.S_IMODE(st.st_mode), (st.st_uid, st.st_gid)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if owner and owner != (os.geteuid(), os.getegid()):
                os.fchown(f.fileno(), *owner)
            os.fchmod(f.fileno(), mode)  # after fchown, which may clear set-id bits
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if check is not None:
            check(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    sync_dir(directory)


def temp_path(path: str | os.PathLike, mode: int = 0o600) -> str:
    """A new empty file beside `path` with a unique name and `mode`, for a writer that needs a path
    (SQLite's backup): made with O_EXCL|O_NOFOLLOW, so no link or file someone left is used."""
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)),
                               prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return tmp


def sync_dir(directory: str | os.PathLike) -> None:
    """fsync a directory: a rename in it is on flash once this returns."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_trusted(path: str | os.PathLike, what: str = "file") -> bytes:
    """The content of a file root was told to read (the TLS key it hands to the portal), only if no
    other user could have put something else at that path: a link to another of root's files."""
    path = os.fspath(path)
    real = _resolve(path, what)
    fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise UnsafePath(f"{what} {path} is not a regular file")
        return f.read()
