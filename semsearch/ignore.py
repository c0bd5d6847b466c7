"""Which files the walk leaves out: gitignore-style globs from the command line and from
``.gitignore`` / ``.semsearchignore`` files, and reading any file without trusting it.

An ignore file is a file like any other in the folder: it may be a link to ``/dev/zero``,
a FIFO, or hold a line git accepts and pathspec does not (``bin\\``, ``!``, ``[z-a]``). It
is read only if it is a regular file (a link is followed to one), up to a size cap;
a line that cannot be used is skipped with a notice naming the file and the line. A bad
glob given on the command line is a bad input.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path

import pathspec

from .errors import BadInputError

log = logging.getLogger(__name__)

IGNORE_FILES = (".gitignore", ".semsearchignore")
MAX_IGNORE_FILE = 1_000_000  # bytes: far above any real ignore file, far below trouble


class TooLargeError(OSError):
    """A file grew past the size it may be read to."""


def read_bounded(path: Path | str, limit: int, *, follow_symlinks: bool = True) -> bytes:
    """At most ``limit`` bytes of the regular file at ``path``, whatever it does meanwhile.

    Opened without blocking (a FIFO swapped in must not hang us) and checked to be a
    regular file through its descriptor; at most ``limit + 1`` bytes are read.

    Raises:
        TooLargeError: it holds more than ``limit`` bytes (it may have grown since a stat).
        OSError: it cannot be opened or read, or is not a regular file (``EINVAL``).
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(22, "not a regular file", str(path))
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(limit + 1 - size, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise TooLargeError(27, f"larger than {limit} bytes", str(path))
    return b"".join(chunks)


def _pattern_error(pattern: str) -> str | None:
    """Why pathspec cannot use ``pattern``, or None if it can."""
    try:
        pathspec.GitIgnoreSpec.from_lines([pattern])
    except (ValueError, re.error) as exc:
        return str(exc)
    return None


def compile_globs(patterns: Sequence[str], option: str = "--path") -> pathspec.GitIgnoreSpec | None:
    """Compile gitignore-style globs (``*.md``, ``notes/**``); None when there are none.

    Raises:
        BadInputError: a glob pathspec cannot use (named with its ``option``).
    """
    patterns = [p for p in patterns if p.strip()]
    for pattern in patterns:
        problem = _pattern_error(pattern)
        if problem is not None:
            raise BadInputError(f"{option} {pattern!r} is not a glob semsearch can use ({problem}); "
                                "fix it, e.g. '*.md' or 'notes/'")
    return pathspec.GitIgnoreSpec.from_lines(patterns) if patterns else None


def read_ignore_spec(directory: Path) -> pathspec.GitIgnoreSpec | None:
    """The rules of ``directory``'s ignore files (None if it has none); what cannot be read
    or used is skipped with a notice."""
    lines: list[str] = []
    for name in IGNORE_FILES:
        path = directory / name
        try:
            data = read_bounded(path, MAX_IGNORE_FILE)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("%s was not read (%s); its rules are not applied", path, exc.strerror or exc)
            continue
        rules = data.decode("utf-8", errors="replace").splitlines()
        if _pattern_error_of_all(rules) is None:
            lines += rules
            continue
        for number, line in enumerate(rules, start=1):  # find, and leave out, the lines that cannot be used
            problem = _pattern_error(line)
            if problem is None:
                lines.append(line)
            else:
                log.warning("%s line %d: %r is not a rule semsearch can use (%s); skipped it", path, number, line,
                            problem)
    return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None


def _pattern_error_of_all(lines: Sequence[str]) -> str | None:
    try:
        pathspec.GitIgnoreSpec.from_lines(lines)
    except (ValueError, re.error) as exc:
        return str(exc)
    return None
