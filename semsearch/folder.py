"""The index folder as a whole: where it may be written, one writer at a time, and
swapping a rebuilt index in.

All work on folders, files and processes, not on the catalog's contents (that is ``store``).
Whatever semsearch writes in an index folder goes through :func:`check_index_location`,
:func:`private_dir` and :func:`open_private`: never through a symbolic link, never into a
folder or file that belongs to someone else (a cloned repository, or another user's folder
indexed by root, could otherwise aim the writes at any file). Reading needs none of this:
an index someone else owns can be queried where its permissions allow.
"""

from __future__ import annotations

import errno
import os
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .defaults import CATALOG_NAME, LOCK_NAME
from .errors import IndexLockedError, UnsafeFolderError


def _owner(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _check(path: Path, st: os.stat_result, folder: bool) -> None:
    """Refuse ``path`` (as ``lstat`` or ``fstat`` found it) unless it is the user's own
    real folder (``folder``) or regular file, with no other name."""
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeFolderError(
            f"{path} is a symbolic link; semsearch will not write through it: remove it, then run this again"
        )
    if not (stat.S_ISDIR(st.st_mode) if folder else stat.S_ISREG(st.st_mode)):
        kind = "a folder" if folder else "a regular file"
        raise UnsafeFolderError(f"{path} is not {kind}; semsearch will not write into it: move it away, then run this again")
    if st.st_uid != os.geteuid():
        raise UnsafeFolderError(
            f"{path} belongs to {_owner(st.st_uid)}, not to you; semsearch will not write into it: "
            "remove it, or run this as its owner"
        )
    if not folder and st.st_nlink > 1:
        raise UnsafeFolderError(
            f"{path} has other names (hard links); semsearch will not write into it: remove it, then run this again"
        )


def check_own(path: Path, folder: bool) -> bool:
    """Whether ``path`` exists; if it does, it must be the user's own real folder
    (``folder``) or regular file: a link (looked at, never followed) or someone else's is refused.

    Raises:
        UnsafeFolderError: it is a link, another kind of thing, or someone else's.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    _check(path, st, folder)
    return True


def check_index_location(index_dir: Path, *beside: Path) -> None:
    """Before an index is written: ``index_dir`` and the working folders ``beside`` it are
    absent or the user's own real folders, and the catalog in it (which SQLite opens by
    name, following links) and its WAL files are absent or the user's own regular files.

    Raises:
        UnsafeFolderError: one of them is a link, not a folder (or file), or someone else's.
    """
    for folder in (index_dir, *beside):
        check_own(folder, folder=True)
    if index_dir.is_dir():  # not a link: checked just above
        for name in (CATALOG_NAME, CATALOG_NAME + "-wal", CATALOG_NAME + "-shm"):
            check_own(index_dir / name, folder=False)


def private_dir(path: Path, owner_only: bool = False) -> None:
    """Create the folder ``path`` owner-only if absent; an existing one must be the user's
    own real folder, and with ``owner_only`` it is made owner-only too (through a
    descriptor, so never through a link).

    Raises:
        UnsafeFolderError: ``path`` is a link, not a folder, or someone else's.
    """
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        check_own(path, folder=True)  # says what is there instead (a link, a file)
        raise
    try:
        _check(path, os.fstat(fd), folder=True)
        if owner_only:
            os.fchmod(fd, 0o700)
    finally:
        os.close(fd)


def open_private(path: Path, new: bool = False) -> int:
    """Open ``path`` in an index folder for reading and writing, owner-only, never
    through a link: ``new`` creates it (failing if anything is there); otherwise it is
    created, or must be the user's own regular file with no other name. Nothing is
    written or truncated before that is checked. Returns the open descriptor.

    Raises:
        UnsafeFolderError: ``path`` is a link, not a regular file, or someone else's.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_EXCL if new else 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError:
        check_own(path, folder=False)  # says what is there instead (a link, a folder)
        raise
    try:
        _check(path, os.fstat(fd), folder=False)
        os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to a file that already existed
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """Exclusive advisory lock on ``index_dir/lock``, which records the holder's pid.

    The OS releases the lock when its holder exits or is killed, so a lock left by a
    dead process is simply taken over. ``index_dir`` is created if absent.

    Raises:
        IndexLockedError: another live process holds it.
        UnsafeFolderError: ``index_dir`` or its lock is a link, or someone else's.
    """
    import fcntl

    private_dir(index_dir)
    fd = open_private(index_dir / LOCK_NAME)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise IndexLockedError(
                f"another index is running on {index_dir.parent} (pid {holder}); "
                "wait for it to finish, then run this again"
            ) from None
        pid = str(os.getpid()).encode()
        os.pwrite(fd, pid, 0)  # over the dead holder's pid, then cut what is left of it
        os.ftruncate(fd, len(pid))
        yield
    finally:
        os.close(fd)


def exchange_folders(a: Path, b: Path) -> None:
    """Swap two folders' names in one step where the OS can (Linux ``renameat2``), so
    a crash leaves one or the other complete under each name; elsewhere, three renames
    through ``a.swap``. All must be the user's own real folders (or absent, the spare).

    Raises:
        UnsafeFolderError: one of them is a link, not a folder, or someone else's.
    """
    import ctypes
    import ctypes.util

    check_own(a, folder=True)
    check_own(b, folder=True)

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        renameat2 = None
    if renameat2 is not None:
        at_fdcwd, rename_exchange = -100, 2
        if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):  # else: unsupported here, fall back
            raise OSError(err, os.strerror(err), str(a))
    spare = a.with_name(a.name + ".swap")
    check_own(spare, folder=True)
    os.rename(a, spare)
    os.rename(b, a)
    os.rename(spare, b)
