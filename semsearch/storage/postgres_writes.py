"""Writing a PostgreSQL collection: every change inside one transaction that commits with
the collection's next generation, or not at all; and the passages kept for reuse (see
:mod:`.retired`: content seen before costs no embedding). A mixin of
:class:`.postgres.PgCatalog` opened on exactly one collection (one connection, behind its lock)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..embedders.base import mean_vector
from ..settings import Settings
from .base import NewPassage
from .postgres_schema import vector_value
from .retired import RETIRED_DAYS


def _text(text: str) -> str:
    return text.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL


class PgWrites:
    """The writing half of the PostgreSQL catalog."""

    _conn: Any
    _lock: threading.RLock
    _ids: list[int]
    settings: Settings

    @property
    def _cid(self) -> int:
        return self._ids[0]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together, with a new generation, or not at all."""
        with self._lock, self._conn.transaction():
            yield
            self._conn.execute("UPDATE semsearch_collections SET generation = generation + 1, updated = %s "
                               "WHERE id = %s", (time.time(), self._cid))

    def set_settings(self, settings: Settings) -> None:
        from psycopg.types.json import Jsonb

        self._conn.execute("UPDATE semsearch_collections SET settings = %s WHERE id = %s",
                           (Jsonb(settings.to_record()), self._cid))
        self.settings = Settings.from_record(settings.to_record())

    def put_file(self, path: str, size: int, mtime_ns: int, digest: str, passages: Sequence[NewPassage]) -> None:
        self.delete_file(path)
        centroid = mean_vector(np.stack([p.vector for p in passages])) if passages else None  # type: ignore[misc]
        row = self._conn.execute(
            "INSERT INTO semsearch_files (collection, path, size, mtime_ns, digest, centroid) "
            "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (self._cid, os.fsencode(path), size, mtime_ns, digest, centroid)).fetchone()
        with self._conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO semsearch_passages (collection, file_id, ordinal, start_line, end_line, text, embedding) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [(self._cid, row[0], i, p.start_line, p.end_line, _text(p.text),
                  np.asarray(p.vector, dtype=np.float32)) for i, p in enumerate(passages)])

    def put_skipped(self, path: str, size: int, mtime_ns: int, digest: str, reason: str) -> None:
        self.delete_file(path)
        self._conn.execute("INSERT INTO semsearch_files (collection, path, size, mtime_ns, digest, skipped) "
                           "VALUES (%s, %s, %s, %s, %s, %s)", (self._cid, os.fsencode(path), size, mtime_ns,
                                                               digest, reason))

    def touch_file(self, path: str, size: int, mtime_ns: int) -> None:
        self._conn.execute("UPDATE semsearch_files SET size = %s, mtime_ns = %s WHERE collection = %s AND path = %s",
                           (size, mtime_ns, self._cid, os.fsencode(path)))

    def delete_file(self, path: str) -> None:
        self._conn.execute("DELETE FROM semsearch_files WHERE collection = %s AND path = %s",
                           (self._cid, os.fsencode(path)))

    # -- reuse of content seen before --------------------------------------------

    def prepare_reuse(self) -> None:
        """The reuse table is part of the schema: nothing to make."""

    def stored_passages(self, digest: str) -> list[NewPassage] | None:
        with self._lock:
            rows = self._conn.execute(
                "SELECT start_line, end_line, text, embedding FROM semsearch_passages WHERE file_id = "
                "(SELECT id FROM semsearch_files WHERE collection = %s AND digest = %s AND skipped IS NULL "
                "AND centroid IS NOT NULL LIMIT 1) ORDER BY ordinal", (self._cid, digest)).fetchall()
            if not rows:
                rows = self._conn.execute(
                    "SELECT DISTINCT ON (ordinal) start_line, end_line, text, embedding FROM semsearch_retired "
                    "WHERE collection = %s AND digest = %s ORDER BY ordinal", (self._cid, digest)).fetchall()
        if not rows:
            return None
        return [NewPassage(r[0], r[1], r[2], vector_value(r[3])) for r in rows]

    def retire_file(self, path: str) -> None:
        self._conn.execute(
            "INSERT INTO semsearch_retired (collection, digest, ordinal, start_line, end_line, text, embedding, "
            "retired) SELECT f.collection, f.digest, p.ordinal, p.start_line, p.end_line, p.text, p.embedding, %s "
            "FROM semsearch_passages p JOIN semsearch_files f ON f.id = p.file_id "
            "WHERE f.collection = %s AND f.path = %s AND NOT EXISTS (SELECT 1 FROM semsearch_files g "
            "WHERE g.collection = f.collection AND g.digest = f.digest AND g.id != f.id)",
            (time.time(), self._cid, os.fsencode(path)))
        self.delete_file(path)

    def unretire(self, digest: str) -> None:
        self._conn.execute("DELETE FROM semsearch_retired WHERE collection = %s AND digest = %s", (self._cid, digest))

    def purge_retired(self, keep: int) -> None:
        self._conn.execute("DELETE FROM semsearch_retired WHERE collection = %s AND retired < %s",
                           (self._cid, time.time() - RETIRED_DAYS * 86400))
        self._conn.execute("DELETE FROM semsearch_retired WHERE collection = %s AND id NOT IN (SELECT id FROM "
                           "semsearch_retired WHERE collection = %s ORDER BY retired DESC, id DESC LIMIT %s)",
                           (self._cid, self._cid, max(0, keep)))
