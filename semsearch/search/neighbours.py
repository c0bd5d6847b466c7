"""The lines around a passage in its file (``-C``), read only from a file that is as it was indexed."""

from __future__ import annotations

import os
from pathlib import Path

from ..corpus import FileEntry, read_document
from ..records import Hit, Skipped
from ..storage import FileRecord


def lines_around(root: Path, record: FileRecord | None, hit: Hit, n: int) -> tuple[list[str], list[str]]:
    """Up to ``n`` lines before and after ``hit`` in its file; none when the file changed
    since it was indexed (its lines would no longer be the passage's neighbours) or is gone.

    Args:
        root: the indexed folder.
        record: the catalog's record of the hit's file.
        hit: the passage.
        n: how many lines on each side.
    """
    if n <= 0 or record is None or record.skipped:
        return [], []
    path = root / hit.path
    try:
        st = os.stat(path)
    except OSError:
        return [], []
    if not record.same_stat(st.st_size, st.st_mtime_ns):
        return [], []
    doc = read_document(FileEntry(hit.path, path, st.st_size, st.st_mtime_ns))
    if isinstance(doc, Skipped) or doc.digest != record.digest:  # unreadable now, or rewritten in place
        return [], []
    lines = doc.text.split("\n")
    return lines[max(0, hit.start_line - 1 - n): hit.start_line - 1], lines[hit.end_line: hit.end_line + n]
