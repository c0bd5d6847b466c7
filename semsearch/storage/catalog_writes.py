"""Writing the catalog: every change inside one transaction that commits with a new
generation, or not at all. A mixin of :class:`.catalog.SqliteCatalog` (one connection,
behind its lock)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from ..embedders.base import mean_vector
from ..settings import Settings
from . import codec as codecs
from .base import NewPassage
from .sqlite import name_param


class CatalogWrites:
    """The writing half of the catalog."""

    _conn: sqlite3.Connection
    _lock: threading.RLock
    settings: Settings
    codec: str

    def set_settings(self, settings: Settings) -> None:
        """Record new settings (inside a transaction): the filters later runs reuse."""
        self._conn.execute("UPDATE meta SET value = ? WHERE key = 'settings'", (json.dumps(settings.to_record()),))
        self.settings = Settings.from_record(settings.to_record())

    def set_meta(self, key: str, value: str | None) -> None:
        """Record (or, with None, forget) a note about the index (inside a transaction)."""
        if value is None:
            self._conn.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together, with a new generation, or not at all."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
                self._conn.execute("UPDATE meta SET value = ? WHERE key = 'updated'", (str(time.time()),))
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:  # Ctrl-C may land just after COMMIT returned
                    self._conn.execute("ROLLBACK")
                raise

    def _maintain(self, statements: Sequence[tuple[str, Sequence[object]]]) -> None:
        """Bookkeeping writes in one transaction that keeps the generation (they change
        no passage, so what readers hold stays current)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    self._conn.execute(sql, params)
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def put_file(self, path: str, size: int, mtime_ns: int, digest: str, passages: Sequence[NewPassage]) -> None:
        """Insert or replace a file and its passages (inside a transaction). Passages
        without a vector are stored with an empty one, for :meth:`set_vectors` to fill in."""
        self.delete_file(path)
        embedded = bool(passages) and all(p.vector is not None for p in passages)
        blobs: list[bytes] = [b""] * len(passages)
        centroid = None
        if embedded:
            vectors = np.stack([p.vector for p in passages])  # type: ignore[misc]
            blobs = codecs.encode(vectors, self.codec)
            centroid = codecs.encode(mean_vector(vectors), self.codec)[0]
        cur = self._conn.execute(
            "INSERT INTO files (path, size, mtime_ns, digest, centroid) VALUES (?, ?, ?, ?, ?)",
            (name_param(path), size, mtime_ns, digest, centroid),
        )
        file_id = cur.lastrowid
        self._conn.executemany(
            "INSERT INTO chunks (file_id, ordinal, start_line, end_line, text, vector) VALUES (?, ?, ?, ?, ?, ?)",
            [(file_id, i, p.start_line, p.end_line, p.text, blob)
             for i, (p, blob) in enumerate(zip(passages, blobs, strict=True))],
        )

    def set_vectors(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Fill in the vectors of passages stored without one; a file whose passages all
        have theirs now gets its mean vector (inside a transaction)."""
        blobs = codecs.encode(vectors, self.codec)
        self._conn.executemany("UPDATE chunks SET vector = ? WHERE id = ? AND vector = x''",
                               zip(blobs, (int(i) for i in ids), strict=True))
        ids_json = json.dumps([int(i) for i in ids])
        done = self._conn.execute(
            "SELECT DISTINCT file_id FROM chunks WHERE id IN (SELECT value FROM json_each(?)) AND file_id NOT IN "
            "(SELECT file_id FROM chunks WHERE vector = x'')", (ids_json,)).fetchall()
        for (file_id,) in done:
            rows = self._conn.execute("SELECT vector FROM chunks WHERE file_id = ?", (file_id,)).fetchall()
            mean = mean_vector(codecs.decode([r[0] for r in rows], self.settings.dimension, self.codec))
            self._conn.execute("UPDATE files SET centroid = ? WHERE id = ?", (codecs.encode(mean, self.codec)[0],
                                                                              file_id))

    def put_skipped(self, path: str, size: int, mtime_ns: int, digest: str, reason: str) -> None:
        """Remember a file that is not indexed, so an unchanged one costs only a stat (inside a transaction)."""
        self.delete_file(path)
        self._conn.execute(
            "INSERT INTO files (path, size, mtime_ns, digest, skipped) VALUES (?, ?, ?, ?, ?)",
            (name_param(path), size, mtime_ns, digest, reason),
        )

    def touch_file(self, path: str, size: int, mtime_ns: int) -> None:
        """Record a new stat for a file whose content did not change (inside a transaction)."""
        self._conn.execute("UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?", (size, mtime_ns, name_param(path)))

    def delete_file(self, path: str) -> None:
        """Forget a file and its passages (inside a transaction)."""
        self._conn.execute("DELETE FROM files WHERE path = ?", (name_param(path),))
