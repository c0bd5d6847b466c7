"""The index on disk: ``<root>/.semsearch/{catalog.sqlite, vectors.faiss, lock}``.

``catalog.sqlite`` is the source of truth: settings (``meta``), files, passages
with their text and vectors. ``vectors.faiss`` is a cache of the passage vectors
for fast search, stamped with the catalog's generation; when the stamps differ
(a run was interrupted between the two writes) it is rebuilt from the catalog.
One writer at a time (``folder.writer_lock``).
The catalog is in WAL mode and readers hold one read transaction for their whole
session, so a query during an ``index`` run sees one committed state throughout and
never blocks the writer. Everything in ``.semsearch/`` is owner-only: it holds the
text of every note.
"""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np

from .defaults import CATALOG_NAME, FAISS_NAME, INDEX_DIR_NAME, LOCK_NAME, SCHEMA_VERSION
from .embedding import mean_vector
from .errors import CorruptIndexError, IndexNotFoundError, SettingsMismatchError
from .folder import open_private, private_dir

if TYPE_CHECKING:
    import faiss

    from .chunking import Chunk
    from .corpus import Document

_FAISS_MAGIC = b"SEMSFAI1"
_CREATING = ".creating"  # suffix of a catalog being created (and of its -wal/-shm files)
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    digest TEXT NOT NULL,
    skipped TEXT,  -- why the file is not indexed (binary, too large...), else NULL
    centroid BLOB
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX chunks_file ON chunks(file_id);
-- Lexical search: an external-content FTS5 index over the passage text, kept in step
-- by triggers, so every write path (put, delete, cascade) updates it in the same
-- transaction as the passages themselves. Porter stemming: "rotating" finds "rotate".
CREATE VIRTUAL TABLE chunks_fts USING fts5(
    text, content='chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
"""


@dataclass(frozen=True)
class IndexSettings:
    """What an index was built with; a later run must agree or rebuild."""

    model_id: str
    dimension: int
    chunk_tokens: int
    overlap: int
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    backend: str = "torch"  # what made the vectors; queries use the same
    follow_symlinks: bool = False

    def check_dimension(self, dimension: int, root: Path) -> None:
        """Refuse an embedder whose vectors are not the size this index holds.

        Raises:
            SettingsMismatchError: the model changed under its name.
        """
        if dimension != self.dimension:
            raise SettingsMismatchError(
                f"model {self.model_id} now gives {dimension}-dimensional vectors, the index holds "
                f"{self.dimension}; rebuild with `semsearch index {root} --rebuild`"
            )


_FILE_COLUMNS = "id, path, size, mtime_ns, digest, skipped"  # in FileRecord's field order


@dataclass(frozen=True)
class FileRecord:
    """A file as last seen by ``index``: indexed, or skipped for a lasting reason."""

    id: int
    path: str
    size: int
    mtime_ns: int
    digest: str
    skipped: str | None

    def same_stat(self, size: int, mtime_ns: int) -> bool:
        """Whether a file with this size and mtime is, by the cheap test, unchanged."""
        return (self.size, self.mtime_ns) == (size, mtime_ns)


@dataclass(frozen=True)
class PassageRecord:
    """A stored passage, without its vector."""

    id: int
    path: str
    ordinal: int
    start_line: int
    end_line: int
    text: str


def find_index_dir(start: Path) -> Path:
    """The ``.semsearch`` folder for ``start``: given directly, at it, or up the tree.

    Raises:
        IndexNotFoundError: none there, nor in any parent folder.
    """
    start = start.expanduser().resolve()
    if start.name == INDEX_DIR_NAME and start.is_dir():
        return start
    for folder in [start, *start.parents]:
        candidate = folder / INDEX_DIR_NAME
        if candidate.is_dir():
            return candidate
    raise IndexNotFoundError(f"no index found at or above {start}; run `semsearch index PATH` first")


def index_state(index_dir: Path) -> str:
    """``present`` (a catalog is there), ``absent`` (nothing, or only our lock and
    leftovers of an interrupted creation), or ``foreign`` (something else is there)."""
    if (index_dir / CATALOG_NAME).is_file():
        return "present"
    if not index_dir.is_dir() or all(p.name == LOCK_NAME or _CREATING in p.name for p in index_dir.iterdir()):
        return "absent"
    return "foreign"


def _rebuild_hint(index_dir: Path) -> str:
    return f"rebuild it with `semsearch index {index_dir.parent} --rebuild`"


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    name = getattr(exc, "sqlite_errorname", "")
    text = str(exc)
    return name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or "malformed" in text or "not a database" in text


@contextmanager
def damaged_catalog_is_reported(index_dir: Path) -> Iterator[None]:
    """Turn SQLite's errors on a damaged catalog (met while reading it, not only at open)
    into :class:`CorruptIndexError`, whose message names the fix."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if not _is_corruption(exc):
            raise
        raise CorruptIndexError(
            f"index catalog {index_dir / CATALOG_NAME} is damaged ({exc}); {_rebuild_hint(index_dir)}"
        ) from exc


def _blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


class Store:
    """An open index. Use :meth:`create` or :meth:`open`, then :meth:`close`."""

    def __init__(self, index_dir: Path, conn: sqlite3.Connection) -> None:
        self.index_dir = index_dir
        self.root = index_dir.parent
        self._conn = conn
        self.notices: list[str] = []
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
            conn = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)
        else:
            conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 30000")
        return conn

    @classmethod
    def create(cls, index_dir: Path, settings: IndexSettings) -> "Store":
        """Create a new, empty index in ``index_dir`` (which must not hold one)."""
        private_dir(index_dir, owner_only=True)  # the catalog holds the text of every note
        final = index_dir / CATALOG_NAME
        tmp = index_dir / (CATALOG_NAME + _CREATING)
        for leftover in index_dir.glob(tmp.name + "*"):  # a stale -wal must never meet a new catalog
            leftover.unlink()
        os.close(open_private(tmp, new=True))  # SQLite gives its -wal and -shm files the catalog's mode
        conn = cls._connect(tmp)
        conn.execute("PRAGMA journal_mode = WAL")  # recorded in the file: readers never block the writer
        conn.executescript(_SCHEMA)
        now = str(time.time())
        meta = {
            "schema_version": str(SCHEMA_VERSION),
            "settings": json.dumps(asdict(settings)),
            # Counted from the clock, so a replacement catalog never shares a generation
            # with the vectors.faiss of the index it replaces.
            "generation": str(time.time_ns()),
            "created": now,
            "updated": now,
        }
        conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        conn.close()
        os.replace(tmp, final)  # a half-created catalog is never seen under its real name
        return cls.open(index_dir)

    @classmethod
    def open(cls, index_dir: Path, snapshot: bool = False) -> "Store":
        """Open an existing index.

        Args:
            index_dir: the ``.semsearch`` folder.
            snapshot: read one committed state for as long as the store is open
                (for readers; a writer committing meanwhile is not seen, nor blocked).

        Raises:
            IndexNotFoundError: ``index_dir`` holds no catalog.
            CorruptIndexError: the catalog is unreadable, foreign, or from another schema version.
        """
        catalog = index_dir / CATALOG_NAME
        rebuild = _rebuild_hint(index_dir)
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
            return cls(index_dir, conn)
        except (sqlite3.DatabaseError, KeyError, ValueError, TypeError) as exc:
            conn.close()
            raise CorruptIndexError(f"index catalog {catalog} is damaged ({exc}); {rebuild}") from exc

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta ----------------------------------------------------------------

    def _meta(self, key: str) -> str:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(f"meta key {key!r} missing")
        return row[0]

    def _read_settings(self) -> IndexSettings:
        return IndexSettings(**json.loads(self._meta("settings")))

    @property
    def generation(self) -> int:
        return int(self._meta("generation"))

    @property
    def created(self) -> float:
        return float(self._meta("created"))

    @property
    def updated(self) -> float:
        return float(self._meta("updated"))

    def set_filters(self, include: Sequence[str], exclude: Sequence[str], follow_symlinks: bool) -> None:
        """Record the include/exclude globs and link choice later runs reuse (inside a transaction)."""
        settings = IndexSettings(**{**asdict(self.settings), "include": list(include), "exclude": list(exclude),
                                    "follow_symlinks": follow_symlinks})
        self._conn.execute("UPDATE meta SET value = ? WHERE key = 'settings'", (json.dumps(asdict(settings)),))
        self.settings = settings

    # -- reading -------------------------------------------------------------

    def files(self) -> dict[str, FileRecord]:
        rows = self._conn.execute(f"SELECT {_FILE_COLUMNS} FROM files")
        return {r[1]: FileRecord(*r) for r in rows}

    def file(self, path: str) -> FileRecord | None:
        """One file's record, or None if the catalog does not know it."""
        row = self._conn.execute(f"SELECT {_FILE_COLUMNS} FROM files WHERE path = ?", (path,)).fetchone()
        return FileRecord(*row) if row else None

    def count_files(self) -> int:
        """Files indexed (skipped ones not counted)."""
        return self._conn.execute("SELECT count(*) FROM files WHERE skipped IS NULL").fetchone()[0]

    def count_passages(self) -> int:
        return self._conn.execute("SELECT count(*) FROM chunks").fetchone()[0]

    def disk_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.index_dir.iterdir() if p.is_file())

    def passages(self, ids: Sequence[int]) -> dict[int, PassageRecord]:
        """Passages by id (ids not found are absent from the result)."""
        out: dict[int, PassageRecord] = {}
        ids = [int(i) for i in ids]
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            rows = self._conn.execute(
                "SELECT c.id, f.path, c.ordinal, c.start_line, c.end_line, c.text FROM chunks c "
                f"JOIN files f ON f.id = c.file_id WHERE c.id IN ({','.join('?' * len(part))})",
                part,
            )
            out.update((r[0], PassageRecord(*r)) for r in rows)
        return out

    def lexical(self, match: str, limit: int) -> list[tuple[int, float]]:
        """The ``limit`` passages that best match an FTS5 ``match`` expression, best
        first, as (passage id, BM25 score; higher is better)."""
        rows = self._conn.execute(
            "SELECT rowid, -bm25(chunks_fts) AS score FROM chunks_fts WHERE chunks_fts MATCH ? "
            "ORDER BY score DESC, rowid LIMIT ?",
            (match, limit),
        )
        return [(r[0], r[1]) for r in rows]

    def file_vectors(self, path: str) -> tuple[list[int], np.ndarray]:
        """The passage ids and vectors of one indexed file (empty if it has none)."""
        rows = self._conn.execute(
            "SELECT c.id, c.vector FROM chunks c JOIN files f ON f.id = c.file_id WHERE f.path = ? ORDER BY c.ordinal",
            (path,),
        ).fetchall()
        return [r[0] for r in rows], self._matrix(r[1] for r in rows)

    def centroids(self) -> tuple[list[str], np.ndarray]:
        """Every file that has passages, with its unit-length mean passage vector."""
        rows = self._conn.execute("SELECT path, centroid FROM files WHERE centroid IS NOT NULL ORDER BY path").fetchall()
        return [r[0] for r in rows], self._matrix(r[1] for r in rows)

    def _matrix(self, blobs: Iterator[bytes]) -> np.ndarray:
        data = b"".join(blobs)
        return np.frombuffer(data, dtype=np.float32).reshape(-1, self.settings.dimension)

    # -- the faiss cache -----------------------------------------------------

    def vector_index(self) -> "faiss.Index":
        """The faiss index of all passages (ids = passage ids), current with the catalog.

        A missing or stale ``vectors.faiss`` is rebuilt in memory from the catalog's
        stored vectors (no re-embedding), with a notice in :attr:`notices`.
        """
        import faiss

        path = self.index_dir / FAISS_NAME
        if self.vector_file_current():
            try:
                return faiss.deserialize_index(np.frombuffer(path.read_bytes(), dtype=np.uint8, offset=16))
            except (OSError, RuntimeError) as exc:
                self.notices.append(f"{FAISS_NAME} was unreadable ({exc}); rebuilt it from the catalog")
        elif path.exists():
            self.notices.append(f"{FAISS_NAME} was out of date; rebuilt it from the catalog")
        elif self.count_passages():
            self.notices.append(f"{FAISS_NAME} was missing; rebuilt it from the catalog")
        return self._build_vector_index()

    def vector_file_current(self) -> bool:
        """True when ``vectors.faiss`` exists and carries the catalog's generation."""
        try:
            with open(self.index_dir / FAISS_NAME, "rb") as fh:
                head = fh.read(16)
        except OSError:
            return False
        return len(head) == 16 and head[:8] == _FAISS_MAGIC and struct.unpack("<Q", head[8:])[0] == self.generation

    def _build_vector_index(self) -> "faiss.Index":
        import faiss

        index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.settings.dimension))
        rows = self._conn.execute("SELECT id, vector FROM chunks ORDER BY id").fetchall()
        if rows:
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            index.add_with_ids(self._matrix(r[1] for r in rows), ids)
        return index

    def write_vector_index(self) -> None:
        """Write ``vectors.faiss`` for the current generation (temp file, then rename)."""
        import faiss

        index = self._build_vector_index()
        path = self.index_dir / FAISS_NAME
        for leftover in self.index_dir.glob(FAISS_NAME + ".*.tmp"):  # from a writer that was killed
            leftover.unlink(missing_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        with open(open_private(tmp, new=True), "wb") as fh:
            fh.write(_FAISS_MAGIC + struct.pack("<Q", self.generation))
            fh.write(faiss.serialize_index(index).tobytes())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    # -- writing -------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together, with a new generation, or not at all."""
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

    def put_file(self, doc: "Document", chunks: Sequence["Chunk"], vectors: np.ndarray) -> None:
        """Insert or replace a file and its passages (inside a transaction)."""
        self.delete_file(doc.path)
        centroid = _blob(mean_vector(vectors)) if len(chunks) else None
        cur = self._conn.execute(
            "INSERT INTO files (path, size, mtime_ns, digest, centroid) VALUES (?, ?, ?, ?, ?)",
            (doc.path, doc.size, doc.mtime_ns, doc.digest, centroid),
        )
        file_id = cur.lastrowid
        self._conn.executemany(
            "INSERT INTO chunks (file_id, ordinal, start_line, end_line, text, vector) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (file_id, i, c.start_line, c.end_line, c.text, _blob(v))
                for i, (c, v) in enumerate(zip(chunks, vectors))
            ],
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
