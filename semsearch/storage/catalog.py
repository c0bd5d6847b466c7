"""The catalog: ``<root>/.semsearch/catalog.sqlite``, the source of truth.

Settings (``meta``), files, passages with their text and vectors, and an FTS5 index
of the passage text kept in step by triggers. The catalog is in WAL mode; a reader
opened with ``snapshot=True`` holds one read transaction, so a query during an
``index`` run sees one committed state and never blocks the writer, until
:meth:`SqliteCatalog.refresh` moves it to the latest commit. One connection serves
every thread, behind a lock. Everything is owner-only: it holds the text of every note.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..defaults import CATALOG_NAME, SCHEMA_VERSION
from ..embedders.base import mean_vector
from ..errors import CorruptIndexError, IndexNotFoundError
from ..settings import Settings
from .base import FileRecord, NewPassage, PassageRecord
from .layout import CREATING, index_state
from .safety import open_private, private_dir
from .sqlite import FILE_COLUMNS, SCHEMA, fts_query, rebuild_hint


def _blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


class SqliteCatalog:
    """An open catalog. Use :meth:`create` or :meth:`open`, then :meth:`close`."""

    def __init__(self, index_dir: Path, conn: sqlite3.Connection, snapshot: bool = False) -> None:
        self.index_dir = index_dir
        self.root = index_dir.parent
        self._conn = conn
        self._snapshot = snapshot
        self._lock = threading.RLock()
        self.settings = self._read_settings()

    # -- opening -------------------------------------------------------------

    @staticmethod
    def _connect(path: Path, read_only: bool = False) -> sqlite3.Connection:
        """``read_only``: for a reader that cannot write the folder (someone else's index).
        SQLite's WAL readers share a ``-shm`` file they must be able to create; such a
        reader cannot, so it reads the catalog as a file that does not change (an ``index``
        run by its owner at that moment may make a query fail; run it again)."""
        if read_only:
            uri = f"{path.absolute().as_uri()}?mode=ro&immutable=1"
            conn = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None, check_same_thread=False)
        else:
            conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 30000")
        return conn

    @classmethod
    def create(cls, index_dir: Path, settings: Settings) -> SqliteCatalog:
        """Create a new, empty catalog in ``index_dir`` (which must not hold one)."""
        private_dir(index_dir, owner_only=True)  # the catalog holds the text of every note
        final = index_dir / CATALOG_NAME
        tmp = index_dir / (CATALOG_NAME + CREATING)
        for leftover in index_dir.glob(tmp.name + "*"):  # a stale -wal must never meet a new catalog
            leftover.unlink()
        os.close(open_private(tmp, new=True))  # SQLite gives its -wal and -shm files the catalog's mode
        conn = cls._connect(tmp)
        conn.execute("PRAGMA journal_mode = WAL")  # recorded in the file: readers never block the writer
        conn.executescript(SCHEMA)
        now = str(time.time())
        meta = {
            "schema_version": str(SCHEMA_VERSION),
            "settings": json.dumps(settings.to_record()),
            # Counted from the clock, so a replacement catalog never shares a generation
            # with the vectors.faiss of the index it replaces.
            "generation": str(time.time_ns()),
            "created": now, "updated": now,
        }
        conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        conn.close()
        os.replace(tmp, final)  # a half-created catalog is never seen under its real name
        return cls.open(index_dir)

    @classmethod
    def open(cls, index_dir: Path, snapshot: bool = False) -> SqliteCatalog:
        """Open an existing catalog.

        Args:
            index_dir: the ``.semsearch`` folder.
            snapshot: read one committed state until :meth:`refresh` (for readers; a
                writer committing meanwhile is not seen, nor blocked).

        Raises:
            IndexNotFoundError: ``index_dir`` holds no catalog.
            CorruptIndexError: the catalog is unreadable, foreign, or from another schema version.
        """
        catalog = index_dir / CATALOG_NAME
        rebuild = rebuild_hint(index_dir)
        if not catalog.is_file():
            if index_state(index_dir) == "foreign":
                raise CorruptIndexError(f"{index_dir} is not a semsearch index (no {CATALOG_NAME}); {rebuild}")
            raise IndexNotFoundError(f"no index yet in {index_dir.parent}; run `semsearch index {index_dir.parent}`")
        try:
            conn = cls._connect(catalog, read_only=snapshot and not os.access(index_dir, os.W_OK))
            if snapshot:
                conn.execute("BEGIN")  # the first read below pins the snapshot
            version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise CorruptIndexError(f"index catalog {catalog} is unreadable ({exc}); {rebuild}") from exc
        if version is None or version[0] != str(SCHEMA_VERSION):
            conn.close()
            found = "none" if version is None else version[0]
            raise CorruptIndexError(
                f"index at {index_dir} has schema version {found}, this semsearch reads {SCHEMA_VERSION}; {rebuild}"
            )
        try:
            return cls(index_dir, conn, snapshot)
        except (sqlite3.DatabaseError, KeyError, ValueError, TypeError) as exc:
            conn.close()
            raise CorruptIndexError(f"index catalog {catalog} is damaged ({exc}); {rebuild}") from exc

    def refresh(self) -> bool:
        """Move a snapshot reader to the latest commit; True if the catalog changed."""
        with self._lock:
            before = self.generation
            if self._snapshot:
                self._conn.execute("ROLLBACK")
                self._conn.execute("BEGIN")
            self.settings = self._read_settings()
            return self.generation != before

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SqliteCatalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta ----------------------------------------------------------------

    def _meta(self, key: str) -> str:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", (key,))
        if not rows:
            raise KeyError(f"meta key {key!r} missing")
        return str(rows[0][0])

    def _read_settings(self) -> Settings:
        return Settings.from_record(json.loads(self._meta("settings")))

    @property
    def generation(self) -> int:
        return int(self._meta("generation"))

    @property
    def created(self) -> float:
        return float(self._meta("created"))

    @property
    def updated(self) -> float:
        return float(self._meta("updated"))

    def set_settings(self, settings: Settings) -> None:
        """Record new settings (inside a transaction): the filters later runs reuse."""
        self._conn.execute("UPDATE meta SET value = ? WHERE key = 'settings'", (json.dumps(settings.to_record()),))
        self.settings = Settings.from_record(settings.to_record())

    # -- reading (each call under the lock: one connection serves every thread) --

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _in_batches(self, sql: str, values: Sequence[Any]) -> list[Any]:
        """``sql`` (with ``{}`` for a list of placeholders) over ``values``, 500 at a time."""
        rows: list[Any] = []
        for i in range(0, len(values), 500):
            part = values[i : i + 500]
            rows += self._rows(sql.format(",".join("?" * len(part))), part)
        return rows

    def files(self) -> dict[str, FileRecord]:
        return {r[1]: FileRecord(*r) for r in self._rows(f"SELECT {FILE_COLUMNS} FROM files")}

    def file(self, path: str) -> FileRecord | None:
        """One file's record, or None if the catalog does not know it."""
        rows = self._rows(f"SELECT {FILE_COLUMNS} FROM files WHERE path = ?", (path,))
        return FileRecord(*rows[0]) if rows else None

    def count_files(self) -> int:
        """Files indexed (skipped ones not counted)."""
        return int(self._rows("SELECT count(*) FROM files WHERE skipped IS NULL")[0][0])

    def count_passages(self) -> int:
        return int(self._rows("SELECT count(*) FROM chunks")[0][0])

    def disk_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.index_dir.iterdir() if p.is_file())

    def passages(self, ids: Sequence[int]) -> dict[int, PassageRecord]:
        """Passages by id (ids not found are absent from the result)."""
        rows = self._in_batches("SELECT c.id, f.path, c.ordinal, c.start_line, c.end_line, c.text FROM chunks c "
                                "JOIN files f ON f.id = c.file_id WHERE c.id IN ({})", [int(i) for i in ids])
        return {r[0]: PassageRecord(*r) for r in rows}

    def passage_ids(self, paths: Iterable[str]) -> list[int]:
        """The ids of every passage of these files."""
        rows = self._in_batches("SELECT c.id FROM chunks c JOIN files f ON f.id = c.file_id WHERE f.path IN ({})",
                                list(paths))
        return [r[0] for r in rows]

    def lexical(self, text: str, limit: int, allowed: Collection[int] | None = None) -> list[tuple[int, float]]:
        """The ``limit`` passages that best match any word of ``text`` (BM25), best
        first, as (passage id, score; higher is better); only ``allowed`` ids if given."""
        match = fts_query(text)
        if match is None or limit <= 0 or (allowed is not None and not allowed):
            return []
        only = "" if allowed is None else "AND rowid IN (SELECT value FROM json_each(?)) "
        params: list[Any] = [match] + ([] if allowed is None else [json.dumps(sorted(int(i) for i in allowed))])
        rows = self._rows("SELECT rowid, -bm25(chunks_fts) AS score FROM chunks_fts WHERE chunks_fts MATCH ? "
                          f"{only}ORDER BY score DESC, rowid LIMIT ?", [*params, limit])
        return [(r[0], r[1]) for r in rows]

    def file_vectors(self, path: str) -> tuple[list[int], np.ndarray]:
        """The passage ids and vectors of one indexed file (empty if it has none)."""
        rows = self._rows("SELECT c.id, c.vector FROM chunks c JOIN files f ON f.id = c.file_id WHERE f.path = ? "
                          "ORDER BY c.ordinal", (path,))
        return [r[0] for r in rows], self._matrix(r[1] for r in rows)

    def centroids(self) -> tuple[list[str], np.ndarray]:
        """Every file that has passages, with its unit-length mean passage vector."""
        rows = self._rows("SELECT path, centroid FROM files WHERE centroid IS NOT NULL ORDER BY path")
        return [r[0] for r in rows], self._matrix(r[1] for r in rows)

    def all_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Every passage's id and vector, by id."""
        rows = self._rows("SELECT id, vector FROM chunks ORDER BY id")
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)), self._matrix(r[1] for r in rows)

    def _matrix(self, blobs: Iterable[bytes]) -> np.ndarray:
        data = b"".join(blobs)
        return np.frombuffer(data, dtype=np.float32).reshape(-1, self.settings.dimension)

    # -- writing -------------------------------------------------------------

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

    def put_file(self, path: str, size: int, mtime_ns: int, digest: str, passages: Sequence[NewPassage]) -> None:
        """Insert or replace a file and its passages (inside a transaction)."""
        self.delete_file(path)
        centroid = _blob(mean_vector(np.stack([p.vector for p in passages]))) if passages else None
        cur = self._conn.execute(
            "INSERT INTO files (path, size, mtime_ns, digest, centroid) VALUES (?, ?, ?, ?, ?)",
            (path, size, mtime_ns, digest, centroid),
        )
        file_id = cur.lastrowid
        self._conn.executemany(
            "INSERT INTO chunks (file_id, ordinal, start_line, end_line, text, vector) VALUES (?, ?, ?, ?, ?, ?)",
            [(file_id, i, p.start_line, p.end_line, p.text, _blob(p.vector)) for i, p in enumerate(passages)],
        )

    def put_skipped(self, path: str, size: int, mtime_ns: int, digest: str, reason: str) -> None:
        """Remember a file that is not indexed, so an unchanged one costs only a stat (inside a transaction)."""
        self.delete_file(path)
        self._conn.execute(
            "INSERT INTO files (path, size, mtime_ns, digest, skipped) VALUES (?, ?, ?, ?, ?)",
            (path, size, mtime_ns, digest, reason),
        )

    def touch_file(self, path: str, size: int, mtime_ns: int) -> None:
        """Record a new stat for a file whose content did not change (inside a transaction)."""
        self._conn.execute("UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?", (size, mtime_ns, path))

    def delete_file(self, path: str) -> None:
        """Forget a file and its passages (inside a transaction)."""
        self._conn.execute("DELETE FROM files WHERE path = ?", (path,))
