"""The shared store: an index kept in PostgreSQL with pgvector, one collection per indexed root.

:class:`PgCatalog` implements the :class:`~.base.Catalog` protocol (lexical search with
PostgreSQL's full-text search: ``tsvector`` + GIN, ranked by BM25 computed in SQL) and
:class:`.postgres_vectors.PgVectors` the :class:`~.base.VectorIndex` one (pgvector, cosine;
exact while a collection is small, HNSW above :data:`.postgres_schema.HNSW_MIN_PASSAGES`;
files' mean vectors for ``similar`` in ``semsearch_files.centroid``), so the search
pipeline and the indexing writer run over it unchanged. A reader may open several
collections at once (of one model): their paths are then shown as ``collection/path``.
A reader holds one committed state (REPEATABLE READ) until :meth:`PgCatalog.refresh`;
PostgreSQL's MVCC means it never blocks a writer.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadInputError, IndexNotFoundError
from ..settings import Settings
from .base import FileRecord, LexicalPass, PassageRecord
from .postgres_schema import (
    BM25_SQL,
    CEILING_SQL,
    connect,
    has_schema,
    mask,
    register_vectors,
)
from .postgres_vectors import PgCatalogVectors
from .postgres_writes import PgWrites
from .sqlite import MAX_QUERY_WORDS, query_words


@dataclass(frozen=True)
class CollectionRow:
    """A collection's row: its id, name, the root it indexes, and its settings."""

    id: int
    name: str
    root: Path
    settings: Settings


def read_collections(conn: Any, names: Sequence[str] | None) -> list[CollectionRow]:
    """The named collections (None: all of them), in the order asked (else by name)."""
    rows = conn.execute("SELECT id, name, root, settings FROM semsearch_collections WHERE name NOT LIKE '%%~%%' "
                        "ORDER BY name").fetchall() if has_schema(conn) else []
    found = {r[1]: CollectionRow(r[0], r[1], Path(r[2]), Settings.from_record(r[3])) for r in rows}
    if names is None:
        return list(found.values())
    return [found[n] for n in dict.fromkeys(names) if n in found]


def _name(value: bytes) -> str:
    return os.fsdecode(bytes(value))


class PgCatalog(PgCatalogVectors, PgWrites):
    """Collections of an index in PostgreSQL, read (and, with one collection, written) as one catalog.

    Args:
        conn: an open connection (pgvector types registered).
        where: the store's URL with any password masked (for messages).
        collections: what this catalog covers; a writer has exactly one.
    """

    defers_vectors = False  # passages are stored with their vectors (no progressive indexing here yet)

    def __init__(self, conn: Any, where: str, collections: Sequence[CollectionRow], snapshot: bool = False) -> None:
        self._conn = conn
        self.where = where
        self.collections = list(collections)
        self._ids = [c.id for c in collections]
        self._by_id = {c.id: c for c in collections}
        self._prefixed = len(collections) > 1
        self._snapshot = snapshot
        self._lock = threading.RLock()
        first = collections[0]
        self.root = first.root if not self._prefixed else Path("/")
        self.index_dir = f"{where} collection {', '.join(c.name for c in collections)}"
        self.settings = first.settings
        for other in collections[1:]:
            if (other.settings.model, other.settings.dimension) != (first.settings.model, first.settings.dimension):
                raise BadInputError(f"collections {first.name} and {other.name} use different models "
                                    f"({first.settings.model}, {other.settings.model}); query them one at a time")

    @classmethod
    def open(cls, url: str, names: Sequence[str] | None, snapshot: bool = True) -> PgCatalog:
        """Open collections ``names`` (None: every collection) of the store at ``url``.

        Raises:
            IndexNotFoundError: a collection (or the store's tables) is not there.
        """
        conn = connect(url, snapshot=snapshot)
        try:
            collections = read_collections(conn, names)
            missing = [n for n in names or () if n not in {c.name for c in collections}]
            if missing or not collections:
                what = f"collection {missing[0]}" if missing else "collection"
                raise IndexNotFoundError(f"no {what} in {mask(url)} yet; run `semsearch index ROOT --store URL"
                                         f"{' --collection ' + missing[0] if missing else ''}`")
            register_vectors(conn)
            return cls(conn, mask(url), collections, snapshot)
        except BaseException:
            conn.close()
            raise

    # -- paths: a collection's own, or ``collection/path`` when several are open --

    def _show(self, collection: int, path: bytes) -> str:
        rel = _name(path)
        return f"{self._by_id[collection].name}/{rel}" if self._prefixed else rel

    def _split(self, path: str) -> tuple[int, bytes] | None:
        if not self._prefixed:
            return self._ids[0], os.fsencode(path)
        name, _, rel = path.partition("/")
        found = [c.id for c in self.collections if c.name == name]
        return (found[0], os.fsencode(rel)) if found else None

    # -- reading ----------------------------------------------------------------

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            rows: list[Any] = self._conn.execute(sql, params).fetchall()
            return rows

    @property
    def generation(self) -> int:
        return int(self._rows("SELECT sum(generation) FROM semsearch_collections WHERE id = ANY(%s)",
                              (self._ids,))[0][0] or 0)

    @property
    def created(self) -> float:
        return float(self._rows("SELECT min(created) FROM semsearch_collections WHERE id = ANY(%s)",
                                (self._ids,))[0][0])

    @property
    def updated(self) -> float:
        return float(self._rows("SELECT max(updated) FROM semsearch_collections WHERE id = ANY(%s)",
                                (self._ids,))[0][0])

    def _file(self, r: Sequence[Any]) -> FileRecord:
        return FileRecord(r[0], self._show(r[6], r[1]), r[2], r[3], r[4], r[5])

    def files(self) -> dict[str, FileRecord]:
        rows = self._rows("SELECT id, path, size, mtime_ns, digest, skipped, collection FROM semsearch_files "
                          "WHERE collection = ANY(%s)", (self._ids,))
        return {f.path: f for f in map(self._file, rows)}

    def file(self, path: str) -> FileRecord | None:
        key = self._split(path)
        rows = [] if key is None else self._rows(
            "SELECT id, path, size, mtime_ns, digest, skipped, collection FROM semsearch_files "
            "WHERE collection = %s AND path = %s", key)
        return self._file(rows[0]) if rows else None

    def count_files(self) -> int:
        return int(self._rows("SELECT count(*) FROM semsearch_files WHERE collection = ANY(%s) AND skipped IS NULL",
                              (self._ids,))[0][0])

    def count_passages(self) -> int:
        return int(self._rows("SELECT count(*) FROM semsearch_passages WHERE collection = ANY(%s)", (self._ids,))[0][0])

    def disk_bytes(self) -> int:
        """The bytes the collections' passages take in their table (indexes not counted)."""
        return int(self._rows("SELECT coalesce(sum(pg_column_size(p.*)), 0) FROM semsearch_passages p "
                              "WHERE collection = ANY(%s)", (self._ids,))[0][0])

    def check_integrity(self) -> None:
        """The server keeps its own pages checked (data checksums, amcheck): read every passage once."""
        self._rows("SELECT count(*) FROM semsearch_passages WHERE collection = ANY(%s) AND embedding IS NOT NULL",
                   (self._ids,))

    def passages(self, ids: Sequence[int]) -> dict[int, PassageRecord]:
        rows = self._rows("SELECT p.id, f.path, p.ordinal, p.start_line, p.end_line, p.text, p.collection "
                          "FROM semsearch_passages p JOIN semsearch_files f ON f.id = p.file_id "
                          "WHERE p.id = ANY(%s) AND p.collection = ANY(%s)", ([int(i) for i in ids], self._ids))
        return {r[0]: PassageRecord(r[0], self._show(r[6], r[1]), *r[2:6]) for r in rows}

    def passage_ids(self, paths: Iterable[str]) -> list[int]:
        keys = [k for k in map(self._split, paths) if k is not None]
        rows = self._rows("SELECT p.id FROM semsearch_passages p JOIN semsearch_files f ON f.id = p.file_id "
                          "JOIN unnest(%s::int[], %s::bytea[]) AS k(c, path) ON f.collection = k.c AND f.path = k.path",
                          ([k[0] for k in keys], [k[1] for k in keys]))
        return [r[0] for r in rows]

    def lexical(self, text: str, limit: int, allowed: Collection[int] | None = None) -> list[tuple[int, float]]:
        """The ``limit`` passages that best match any word of ``text``, best first, as (passage
        id, BM25 score: see :data:`.postgres_schema.BM25_SQL`); only ``allowed`` ids if given."""
        words = query_words(text)  # \w only: no quote or backslash reaches the SQL text
        if not words or limit <= 0 or (allowed is not None and not allowed):
            return []
        only = "" if allowed is None else "AND p.id = ANY(%s)"
        params: list[Any] = [" ".join(words), self._ids, self._ids, self._ids]
        params += [] if allowed is None else [sorted(int(i) for i in allowed)]
        rows = self._rows(BM25_SQL.format(only=only, kept=MAX_QUERY_WORDS), [*params, limit])
        return [(r[0], float(r[1])) for r in rows]

    def lexical_ceiling(self, text: str) -> float:
        """The largest score :meth:`lexical` could give any passage for ``text`` here
        (:data:`.postgres_schema.CEILING_SQL`); 0 if it has no word."""
        words = query_words(text)  # \w only: no quote or backslash reaches the SQL text
        if not words:
            return 0.0
        return float(self._rows(CEILING_SQL, [" ".join(words), self._ids, self._ids])[0][0])

    def lexical_pass(self, text: str, limit: int, allowed: Collection[int] | None = None,
                     also: Collection[int] = ()) -> LexicalPass:
        """:meth:`lexical`, the scores of the ``also`` passages holding a query word, and
        :meth:`lexical_ceiling` (three statements: the server ranks each)."""
        ranked = self.lexical(text, limit, allowed)
        scores = dict(ranked)
        asked = [int(i) for i in also if int(i) not in scores]
        if asked:
            scores.update(self.lexical(text, len(asked), asked))
        return LexicalPass(ranked, scores, self.lexical_ceiling(text))

    def refresh(self) -> bool:
        """Move a reader to the latest commit; True if the collections changed."""
        with self._lock:
            before = self.generation
            if self._snapshot:
                self._conn.rollback()
            rows = self._rows("SELECT settings FROM semsearch_collections WHERE id = %s", (self._ids[0],))
            if rows:
                self.settings = Settings.from_record(rows[0][0])
            return self.generation != before

    def close(self) -> None:
        with self._lock:
            self._conn.close()
