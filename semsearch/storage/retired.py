"""Passages kept for reuse: a file whose content the catalog has seen costs no embedding.

Content is known by its digest. A new or changed file whose bytes match an indexed file
(a copy, or a move: the old path is still there until the run's last commit) or a file
removed in the last weeks (deleted, or left out by a filter that is later undone) takes
the stored passages and vectors instead of being chunked and embedded again. The chunking
and the model are fixed for the life of an index, so the same bytes give the same passages.

Removed files' passages wait in the ``retired`` table, made on first need by a writer (an
index made before it existed gains it then), for ``RETIRED_DAYS`` and never more than the
index's live passages.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .base import NewPassage
from .sqlite import name_param

RETIRED_DAYS = 30

RETIRED_SCHEMA = """
CREATE TABLE IF NOT EXISTS retired (
    id INTEGER PRIMARY KEY,
    digest TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL,
    retired REAL NOT NULL  -- when its file left the index
);
CREATE INDEX IF NOT EXISTS retired_digest ON retired(digest);
CREATE INDEX IF NOT EXISTS files_digest ON files(digest);
"""


class RetiredPassages:
    """The reuse half of :class:`~semsearch.storage.catalog.SqliteCatalog` (writers only)."""

    _conn: sqlite3.Connection

    if TYPE_CHECKING:  # provided by the catalog
        def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...
        def _decode(self, blobs: Any) -> np.ndarray: ...
        def delete_file(self, path: str) -> None: ...

    def prepare_reuse(self) -> None:
        """Make the reuse tables if this index has none yet (inside a transaction)."""
        for statement in RETIRED_SCHEMA.split(";"):
            if statement.strip():
                self._conn.execute(statement)

    def stored_passages(self, digest: str) -> list[NewPassage] | None:
        """The passages (with vectors) of content with this digest, if the catalog holds them:
        an indexed file's, else a recently removed file's; None if it holds neither."""
        rows = self._rows(
            "SELECT c.start_line, c.end_line, c.text, c.vector FROM chunks c WHERE c.file_id = "
            "(SELECT id FROM files WHERE digest = ? AND skipped IS NULL AND centroid IS NOT NULL LIMIT 1) "
            "ORDER BY c.ordinal", (digest,))
        if not rows and self._has_retired():
            rows = self._rows("SELECT start_line, end_line, text, vector FROM retired WHERE digest = ? "
                              "GROUP BY ordinal ORDER BY ordinal", (digest,))
        if not rows:
            return None
        vectors = self._decode(r[3] for r in rows)  # in the catalog's codec, as its passages
        return [NewPassage(r[0], r[1], r[2], v) for r, v in zip(rows, vectors, strict=True)]

    def retire_file(self, path: str) -> None:
        """Forget a file, keeping its passages for reuse a while (inside a transaction)."""
        self._conn.execute(
            "INSERT INTO retired (digest, ordinal, start_line, end_line, text, vector, retired) "
            "SELECT f.digest, c.ordinal, c.start_line, c.end_line, c.text, c.vector, ? FROM chunks c "
            "JOIN files f ON f.id = c.file_id WHERE f.path = ? AND f.centroid IS NOT NULL "  # fully embedded
            "AND NOT EXISTS (SELECT 1 FROM files g WHERE g.digest = f.digest AND g.id != f.id)",  # still indexed
            (time.time(), name_param(path)))
        self.delete_file(path)

    def unretire(self, digest: str) -> None:
        """Passages taken back into the index are no longer kept aside (inside a transaction)."""
        self._conn.execute("DELETE FROM retired WHERE digest = ?", (digest,))

    def purge_retired(self, keep: int) -> None:
        """Drop passages kept longer than ``RETIRED_DAYS``, then the oldest beyond ``keep``
        (inside a transaction)."""
        self._conn.execute("DELETE FROM retired WHERE retired < ?", (time.time() - RETIRED_DAYS * 86400,))
        self._conn.execute("DELETE FROM retired WHERE id NOT IN (SELECT id FROM retired ORDER BY retired DESC, id "
                           "DESC LIMIT ?)", (max(0, keep),))

    def _has_retired(self) -> bool:
        return bool(self._rows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'retired'"))
