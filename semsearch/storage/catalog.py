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
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..defaults import CATALOG_NAME, READABLE_SCHEMAS, SCHEMA_VERSION
from ..errors import CorruptIndexError, IndexNotFoundError
from ..settings import Settings
from . import codec
from .base import FileRecord, PassageRecord
from .catalog_lexical import CatalogLexical
from .catalog_vectors import CatalogVectors
from .catalog_writes import CatalogWrites
from .layout import CREATING, index_state
from .retired import RETIRED_SCHEMA, RetiredPassages
from .safety import open_private, private_dir
from .sqlite import (
    FILE_COLUMNS,
    PROGRESSIVE_SCHEMA,
    SCHEMA,
    check_readable,
    file_record,
    name_param,
    passage_record,
    rebuild_hint,
    schema_error,
)


class SqliteCatalog(CatalogWrites, RetiredPassages, CatalogVectors, CatalogLexical):
    """An open catalog. Use :meth:`create` or :meth:`open`, then :meth:`close`."""

    defers_vectors = True

    def __init__(self, index_dir: Path, conn: sqlite3.Connection, snapshot: bool = False) -> None:
        self.index_dir = index_dir
        self.root = index_dir.parent
        self._conn = conn
        self._snapshot = snapshot
        self._lock = threading.RLock()
        self.settings = self._read_settings()
        self.schema = int(self._meta("schema_version", int))
        self.codec = codec.INT8 if self.schema >= 3 else codec.FLOAT32  # schema 2: float32
        self._counted: tuple[int, int] | None = None  # (generation, passages)

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
        conn.executescript(SCHEMA + PROGRESSIVE_SCHEMA + RETIRED_SCHEMA)
        now = str(time.time())
        generation = str(time.time_ns())
        meta = {
            "schema_version": str(SCHEMA_VERSION),
            "settings": json.dumps(settings.to_record()),
            # Counted from the clock, so a replacement catalog never shares a generation
            # with the vectors.faiss of the index it replaces.
            "generation": generation,
            "changes_since": generation,  # the change journal is complete from here
            "created": now,
            "updated": now,
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
        check_readable(index_dir)
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
        if version is None or version[0] not in [str(v) for v in READABLE_SCHEMAS]:
            conn.close()
            raise schema_error(index_dir, None if version is None else version[0])
        try:
            return cls(index_dir, conn, snapshot)
        except CorruptIndexError:
            conn.close()
            raise
        except (sqlite3.DatabaseError, KeyError, ValueError, TypeError) as exc:
            conn.close()
            raise CorruptIndexError(f"index catalog {catalog} is damaged ({exc}); {rebuild}") from exc

    def check_integrity(self) -> None:
        """Read every page of the catalog (SQLite's quick_check).

        Raises:
            CorruptIndexError: it found damage.
        """
        rows = self._rows("PRAGMA quick_check")
        if [tuple(r) for r in rows] != [("ok",)]:
            raise self.damaged("; ".join(str(r[0]) for r in rows[:3]))

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

    def _meta(self, key: str, kind: type = str) -> Any:
        value = self._meta_or_none(key)
        if value is None:
            raise self.damaged(f"meta key {key!r} missing")
        try:
            return kind(value)
        except (TypeError, ValueError) as exc:
            raise self.damaged(f"meta {key} is {str(value)[:40]!r}") from exc

    def _meta_or_none(self, key: str) -> Any:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def damaged(self, what: str) -> CorruptIndexError:
        """The error for a catalog found damaged (``what``), with the advice that fits."""
        return CorruptIndexError(f"index catalog {self.index_dir / CATALOG_NAME} is damaged ({what}); "
                                 f"{rebuild_hint(self.index_dir)}")

    def note(self, key: str) -> str | None:
        """A note recorded with :meth:`set_meta`, or None."""
        rows = self._rows("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def _read_settings(self) -> Settings:
        try:
            return Settings.from_record(json.loads(self._meta("settings")))
        except (ValueError, TypeError, AttributeError) as exc:
            raise self.damaged(f"its settings: {exc}") from exc

    @property
    def generation(self) -> int:
        return int(self._meta("generation", int))

    @property
    def created(self) -> float:
        return float(self._meta("created", float))

    @property
    def updated(self) -> float:
        return float(self._meta("updated", float))

    def _file(self, row: Sequence[Any]) -> FileRecord:
        try:
            return file_record(row)
        except TypeError as exc:
            raise self.damaged(f"a file record: {exc}") from exc

    def _passage(self, row: Sequence[Any]) -> PassageRecord:
        try:
            return passage_record(row)
        except TypeError as exc:
            raise self.damaged(f"a passage record: {exc}") from exc

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
        records = (self._file(r) for r in self._rows(f"SELECT {FILE_COLUMNS} FROM files"))
        return {r.path: r for r in records}

    def file(self, path: str) -> FileRecord | None:
        """One file's record, or None if the catalog does not know it."""
        rows = self._rows(f"SELECT {FILE_COLUMNS} FROM files WHERE path = ?", (name_param(path),))
        return self._file(rows[0]) if rows else None

    def count_files(self) -> int:
        """Files indexed (skipped ones not counted)."""
        return int(self._rows("SELECT count(*) FROM files WHERE skipped IS NULL")[0][0])

    def count_passages(self) -> int:
        """Passages indexed, embedded or not (counting a million rows takes a while: once per generation)."""
        with self._lock:
            generation = self.generation
            if self._counted is None or self._counted[0] != generation:
                self._counted = (generation, int(self._rows("SELECT count(*) FROM chunks")[0][0]))
            return self._counted[1]

    def disk_bytes(self) -> int:
        """The index folder's size: its regular files (one an ``index`` run renames or
        deletes meanwhile is not counted)."""
        total = 0
        with os.scandir(self.index_dir) as entries:
            for entry in entries:
                try:
                    if entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
                except FileNotFoundError:
                    continue
        return total

    def passages(self, ids: Sequence[int]) -> dict[int, PassageRecord]:
        """Passages by id (ids not found are absent from the result)."""
        rows = self._in_batches("SELECT c.id, f.path, c.ordinal, c.start_line, c.end_line, c.text FROM chunks c "
                                "JOIN files f ON f.id = c.file_id WHERE c.id IN ({})", [int(i) for i in ids])
        return {r[0]: self._passage(r) for r in rows}

    def passage_ids(self, paths: Iterable[str]) -> list[int]:
        """The ids of every passage of these files."""
        rows = self._in_batches("SELECT c.id FROM chunks c JOIN files f ON f.id = c.file_id WHERE f.path IN ({})",
                                [name_param(p) for p in paths])
        return [r[0] for r in rows]
