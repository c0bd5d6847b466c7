"""The index folder as a whole: one writer at a time, and swapping a rebuilt index in.

Both work on folders and processes, not on the catalog's contents (that is ``store``).
"""

from __future__ import annotations

import errno
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .defaults import LOCK_NAME
from .errors import IndexLockedError


@contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """Exclusive advisory lock on ``index_dir/lock``, which records the holder's pid.

    The OS releases the lock when its holder exits or is killed, so a lock left by a
    dead process is simply taken over.

    Raises:
        IndexLockedError: another live process holds it.
    """
    import fcntl

    index_dir.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(index_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
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
    a crash leaves one or the other complete under each name; elsewhere, two renames."""
    import ctypes
    import ctypes.util

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
    os.rename(a, spare)
    os.rename(b, a)
    os.rename(spare, b)
