"""A full disk is a condition to report, not a crash: ENOSPC (or a full quota) from the
OS, and SQLite's "database or disk is full", become one :class:`DiskFullError` that names
the file system. Every write semsearch makes is a transaction or a temp file renamed into
place (removed if the write fails), so what was committed before stays as it was."""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import DiskFullError

_FULL = (errno.ENOSPC, errno.EDQUOT)


def mount_point(path: Path) -> Path:
    """The mount point of the file system that holds ``path``."""
    path = Path(os.path.abspath(path))
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path


def _is_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in _FULL:
        return True
    return isinstance(exc, sqlite3.OperationalError) and (
        getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL" or "database or disk is full" in str(exc))


@contextmanager
def disk_full_is_reported(folder: Path, what: str = "the index keeps its last complete commit") -> Iterator[None]:
    """Turn a full disk met while writing under ``folder`` into :class:`DiskFullError`."""
    try:
        yield
    except (OSError, sqlite3.OperationalError) as exc:
        if not _is_full(exc):
            raise
        raise DiskFullError(f"no space left on the file system at {mount_point(folder)}; {what}: free some space, "
                            "then run the same command again") from exc
