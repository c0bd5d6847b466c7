"""Writing safely in an index folder: never through a symbolic link, never into a folder
or file that belongs to someone else.

Whatever semsearch writes in an index folder goes through :func:`check_index_location`,
:func:`private_dir` and :func:`open_private` (a cloned repository, or another user's
folder indexed by root, could otherwise aim the writes at any file). Reading needs none
of this: an index someone else owns can be queried where its permissions allow.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from ..defaults import CATALOG_NAME
from ..errors import UnsafeFolderError


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
        raise UnsafeFolderError(f"{path} is not {kind}; semsearch will not write into it: move it away, then run "
                                "this again")
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
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
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
