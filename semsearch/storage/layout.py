"""The index folder as a whole: where it is, one writer at a time, and swapping a
rebuilt index in. All of this works on folders, files and processes, not on the
catalog's contents; every write goes through :mod:`.safety`.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..defaults import CATALOG_NAME, ENDPOINT_NAME, FAISS_NAME, INDEX_DIR_NAME, LOCK_NAME
from ..errors import IndexLockedError, IndexNotFoundError
from .safety import check_own, open_private, private_dir

CREATING = ".creating"  # suffix of a catalog being created (and of its -wal/-shm files)
GITIGNORE = ".gitignore"  # in the index folder, holding "*": git leaves the index alone, as it does .pytest_cache


def find_index_dir(start: Path) -> Path:
    """The ``.semsearch`` folder for ``start``: given directly, at it, or up the tree.

    Raises:
        IndexNotFoundError: none there, nor in any parent folder.
    """
    start = start.expanduser().resolve()
    if start.name == INDEX_DIR_NAME and start.is_dir():
        return start
    for folder in [start, *start.parents]:
        candidate = folder / INDEX_DIR_NAME
        if candidate.is_dir():
            return candidate
    raise IndexNotFoundError(f"no index found at or above {start}; run `semsearch index PATH` first")


def enclosing_root(folder: Path) -> Path | None:
    """The nearest folder strictly above ``folder`` that holds an index, if any."""
    for parent in Path(folder).expanduser().resolve().parents:
        if index_state(parent / INDEX_DIR_NAME) == "present":
            return parent
    return None


def index_state(index_dir: Path) -> str:
    """``present`` (a catalog is there), ``absent`` (nothing, or only our lock and
    leftovers of an interrupted creation), or ``foreign`` (something else is there)."""
    if (index_dir / CATALOG_NAME).is_file():
        return "present"
    if not index_dir.is_dir() or all(p.name in (LOCK_NAME, GITIGNORE) or CREATING in p.name
                                     for p in index_dir.iterdir()):
        return "absent"
    return "foreign"


def stray_entries(index_dir: Path) -> list[str]:
    """The names in ``index_dir`` that semsearch does not make (sorted): a folder that holds
    any is not recognisably ours, and is never replaced or deleted."""
    try:
        names = sorted(os.listdir(index_dir))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [n for n in names if not _OURS.fullmatch(n)]


# What semsearch makes in an index folder: the catalog and SQLite's files beside it, the
# vector files (storage/local.py), the lock, its .gitignore, a running server's endpoint, and the
# temporary files of a catalog or vector file being written.
VECTOR_FILES = (FAISS_NAME, "vectors.delta", "files.faiss", "files.delta")
_OURS = re.compile(rf"(?:{re.escape(CATALOG_NAME)}(?:{re.escape(CREATING)})?(?:-wal|-shm|-journal)?"
                   rf"|(?:{'|'.join(map(re.escape, VECTOR_FILES))})(?:\.\d+\.tmp)?"
                   rf"|{re.escape(LOCK_NAME)}|{re.escape(GITIGNORE)}|{re.escape(ENDPOINT_NAME)})")


def building_dir(root: Path) -> Path:
    """Where ``--rebuild`` builds the new index, beside the live one (the walk skips it)."""
    return root / (INDEX_DIR_NAME + ".building")


@contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """Exclusive advisory lock on ``index_dir/lock``, which records the holder's pid.

    The OS releases the lock when its holder exits or is killed, so a lock left by a
    dead process is simply taken over. ``index_dir`` is created if absent, with a
    ``.gitignore`` that keeps it out of git.

    Raises:
        IndexLockedError: another live process holds it.
        UnsafeFolderError: ``index_dir`` or its lock is a link, or someone else's.
    """
    import fcntl

    private_dir(index_dir)
    ignored_by_git(index_dir)
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


def running_writer(index_dir: Path) -> int | None:
    """The pid of an ``index`` run writing this index now, if there seems to be one: the pid
    its lock records, if that process is alive. Only looks: it never takes the lock (that
    could make a starting writer fail), so a pid reused since is taken for a writer."""
    try:
        fd = os.open(index_dir / LOCK_NAME, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        pid = int(os.pread(fd, 32, 0).decode(errors="replace").strip() or 0)
    except ValueError:
        return None
    finally:
        os.close(fd)
    if pid <= 0 or pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, someone else's
    return pid


def ignored_by_git(index_dir: Path) -> None:
    """Put a ``.gitignore`` holding ``*`` in the index folder (as ``.pytest_cache`` and
    ``.venv`` have), so that ``git add -A`` in a notes repository never commits the index:
    it holds the text of every note. Written through :func:`open_private`, never through a link.

    Raises:
        UnsafeFolderError: the ``.gitignore`` there is a link, not a file, or someone else's.
    """
    fd = open_private(index_dir / GITIGNORE)
    try:
        if os.pread(fd, 16, 0) != b"*\n":
            os.ftruncate(fd, 0)
            os.pwrite(fd, b"*\n", 0)
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
    spare = swap_dir(a)
    check_own(spare, folder=True)
    os.rename(a, spare)
    os.rename(b, a)  # a kill between these renames is undone or finished by finish_swap
    os.rename(spare, b)


def swap_dir(a: Path) -> Path:
    """The spare name the three-rename swap moves ``a`` through."""
    return a.with_name(a.name + ".swap")


def finish_swap(index_dir: Path, building: Path) -> None:
    """Finish a three-rename swap (:func:`exchange_folders` without ``renameat2``) that a
    kill interrupted: ``.semsearch.swap`` holds the old index; if ``.semsearch`` is gone
    the complete new one is still in ``building`` and is moved in; then the old one is
    deleted. With nothing to move in, the old index is put back.

    Raises:
        UnsafeFolderError: one of the three is a link, not a folder, or someone else's.
    """
    import shutil

    spare = swap_dir(index_dir)
    if not check_own(spare, folder=True):
        return
    if stray_entries(spare):
        return  # not what our swap left there: never ours to delete
    if not check_own(index_dir, folder=True) or index_state(index_dir) == "absent":
        if check_own(index_dir, folder=True):
            shutil.rmtree(index_dir)  # at most a lock, made by a run that found no index
        if check_own(building, folder=True) and index_state(building) == "present":
            os.rename(building, index_dir)  # the swap's second step
        else:
            os.rename(spare, index_dir)  # nothing to move in: the old index stays
            return
    shutil.rmtree(spare)  # the old index, replaced
