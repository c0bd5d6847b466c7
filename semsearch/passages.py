"""A passage of an indexed file by line range, read safely: what a server or an agent
may read is an indexed file inside the indexed folder, and a bounded amount of it.

A path is refused when it leads out of the root (``../``, an absolute path elsewhere,
a symbolic link whose target is outside), when the index does not hold it (hidden
files such as ``.env``, ignored files and ``.semsearch/`` itself are never indexed),
or when it is not a regular file. The race that remains: a folder on the way swapped
for a link between the check and the read, by someone who can write the root.
"""

from __future__ import annotations

import os
import posixpath
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import defaults
from .corpus import FileEntry, read_document
from .errors import BadInputError, NotFoundError, OutsideRootError
from .records import Skipped

if TYPE_CHECKING:
    from .index import Index

MAX_LINES = 400  # lines one fetch returns at most
MAX_CHARS = 64_000  # characters one fetch returns at most


@dataclass(frozen=True)
class Passage:
    """Lines ``start_line``..``end_line`` (1-based, inclusive) of an indexed file."""

    root: Path
    path: str  # relative to root
    start_line: int
    end_line: int
    total_lines: int
    truncated: bool  # fewer lines than asked for, to stay within the bounds
    text: str

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["root"] = str(self.root)
        return data


def relative_path(root: Path, path: str) -> str:
    """``path`` (relative to ``root``, or absolute inside it) as a root-relative POSIX path.

    Raises:
        OutsideRootError: the path leads out of the root.
        BadInputError: it is empty or holds a NUL byte.
    """
    if not path or "\x00" in path:
        raise BadInputError("give the path of an indexed file, relative to the indexed folder")
    joined = posixpath.normpath(posixpath.join(root.as_posix(), path.replace(os.sep, "/")))
    base = root.as_posix().rstrip("/")
    if not joined.startswith(base + "/"):
        raise OutsideRootError(f"{path} is outside the indexed folder {root}; only files inside it can be read")
    return joined[len(base) + 1 :]


def read_passage(index: Index, path: str, start_line: int = 1, end_line: int | None = None) -> Passage:
    """Lines ``start_line``..``end_line`` of the indexed file ``path`` (to its end when
    ``end_line`` is None), at most ``MAX_LINES`` lines and ``MAX_CHARS`` characters.

    Raises:
        BadInputError: a bad line range; OutsideRootError: the path leads out of the root;
        NotFoundError: the index holds no such file, or it is gone.
    """
    if start_line < 1 or (end_line is not None and end_line < start_line):
        raise BadInputError("lines are numbered from 1, and end_line must not be before start_line")
    rel, real = indexed_file(index, path)
    text = _read_text(real, rel)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if start_line > len(lines):
        raise BadInputError(f"{rel} has {len(lines)} lines; start_line {start_line} is past its end")
    last = min(end_line or len(lines), len(lines), start_line + MAX_LINES - 1)
    chosen: list[str] = []
    size = 0
    for line in lines[start_line - 1 : last]:
        if size + len(line) + 1 > MAX_CHARS and chosen:
            break
        chosen.append(line[:MAX_CHARS])
        size += len(line) + 1
    shown_end = start_line + len(chosen) - 1
    truncated = shown_end < min(end_line or len(lines), len(lines))
    return Passage(index.root, rel, start_line, shown_end, len(lines), truncated, "\n".join(chosen))


def indexed_file(index: Index, path: str) -> tuple[str, Path]:
    """The root-relative path of the indexed file ``path``, and where it really is.

    Raises:
        OutsideRootError: the path leads out of the root, or is a link to outside it.
        NotFoundError: the index holds no such file.
    """
    root = index.root
    rel = relative_path(root, path)
    record = index.store.catalog.file(rel)
    if record is None or record.skipped is not None:
        raise NotFoundError(f"{rel} is not an indexed file of {root}; search first, then use a path from the results")
    real = os.path.realpath(root / rel)
    if not real.startswith(os.path.realpath(root).rstrip("/") + "/"):
        raise OutsideRootError(f"{rel} is a link to a place outside the indexed folder; it cannot be read")
    return rel, Path(real)


def _read_text(real: Path, rel: str) -> str:
    """The decoded text of the file at ``real`` (never through a link in its last step)."""
    gone = NotFoundError(f"{rel} is no longer there (or not readable); the index will catch up on its next update")
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        raise gone from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise gone
        if st.st_size > defaults.MAX_FILE_SIZE * 4:
            raise BadInputError(f"{rel} is too large to fetch ({st.st_size / 1e6:.0f} MB)")
        data = fh.read()
    doc = read_document(FileEntry(rel, real, st.st_size, st.st_mtime_ns), data)
    if isinstance(doc, Skipped):
        raise NotFoundError(f"{rel} is no longer text ({doc.reason})")
    return doc.text
