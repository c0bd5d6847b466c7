"""The shared store as the index lifecycle and the ``Index`` facade use it: a PostgreSQL
catalog and its vectors (the local store's counterpart), collections by name, and the
writer's session (schema, per-collection advisory lock).

``--rebuild`` builds the new index as a hidden collection (``NAME~rebuild``) beside the
live one, which answers until the new one replaces it in one transaction; an interrupted
rebuild is resumed by the next ``--rebuild`` with the same settings.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import BadInputError
from ..settings import Settings
from .postgres import CollectionRow, PgCatalog
from .postgres_schema import (
    HNSW_MIN_PASSAGES,
    collection_lock,
    connect,
    create_schema,
    has_hnsw,
    hnsw_index_sql,
    mask,
    register_vectors,
)
from .postgres_vectors import PgVectors

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
BUILDING = "~rebuild"  # suffix of the hidden collection a --rebuild fills


def check_collection_name(name: str) -> str:
    """``name`` if it can name a collection, else a one-line error."""
    if not _NAME.fullmatch(name):
        raise BadInputError(f"--collection {name!r} is not a collection name; use letters, digits, '.', '_' and "
                            "'-' (at most 100, starting with a letter or digit)")
    return name


def collection_for(root: Path) -> str:
    """The default collection of an indexed folder: its name, made a valid collection name."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", root.name).strip("-._")[:100]
    return name or "root"


class PgStore:
    """A catalog in PostgreSQL and its vector search, with the local store's interface."""

    def __init__(self, catalog: PgCatalog) -> None:
        self.catalog = catalog
        self.root = catalog.root
        self.index_dir = catalog.index_dir
        self._indexes: dict[str, PgVectors] = {}

    @classmethod
    def open(cls, url: str, names: Sequence[str] | None = None, snapshot: bool = True) -> PgStore:
        """Open collections ``names`` (None: all) of the store at ``url`` for reading."""
        return cls(PgCatalog.open(url, names, snapshot))

    @property
    def prefixed(self) -> bool:
        """Whether paths are ``collection/path`` (several collections open)."""
        return len(self.catalog.collections) > 1

    def vectors(self) -> PgVectors:
        """The passages' vectors, searched in the server."""
        return self._index("passages")

    def file_index(self) -> PgVectors:
        """The files' mean vectors (``semsearch_files.centroid``), for ``similar``."""
        return self._index("files")

    def _index(self, source: str) -> PgVectors:
        if source not in self._indexes:
            self._indexes[source] = PgVectors(self.catalog, source)
        return self._indexes[source]

    def describe(self) -> str:
        """The passages' vector search in words (``--vector-index`` is the local store's choice)."""
        with self.catalog._lock:
            ready = [bool(has_hnsw(self.catalog._conn, cid)) for cid in self.catalog._ids]
        if not any(ready):
            return "pgvector: exact (cosine)"
        kind = "HNSW" if all(ready) else "HNSW where a collection has one, else exact"
        return f"pgvector: {kind} (cosine; exact under a path filter)"

    def vectors_current(self) -> bool:
        return True  # the vectors are in the catalog's own rows

    def vectors_problem(self) -> str | None:
        """None, unless the collection is large enough for an HNSW index and lacks a valid one."""
        if self.catalog.count_passages() < HNSW_MIN_PASSAGES:
            return None
        with self.catalog._lock:
            ready = has_hnsw(self.catalog._conn, self.catalog._ids[0])
        return None if ready else "without its HNSW index"

    def write_vectors(self) -> None:
        """Make the HNSW index once the collection is large enough (a failed build is made again)."""
        if self.vectors_problem() is None:
            return
        cid, dimension = self.catalog._ids[0], self.catalog.settings.dimension
        with self.catalog._lock:
            conn = self.catalog._conn
            if has_hnsw(conn, cid) is None:
                conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS semsearch_hnsw_{int(cid)}")
            conn.execute(hnsw_index_sql(cid, dimension))

    def refresh(self) -> bool:
        return self.catalog.refresh()

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> PgStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WriterSession:
    """One writer's connection to the store, holding the lock of one collection."""

    def __init__(self, conn: Any, url: str, name: str) -> None:
        self.conn = conn
        self.where = mask(url)
        self.name = name

    def find(self, name: str) -> CollectionRow | None:
        row = self.conn.execute("SELECT id, name, root, settings FROM semsearch_collections WHERE name = %s",
                                (name,)).fetchone()
        return None if row is None else CollectionRow(row[0], row[1], Path(row[2]), Settings.from_record(row[3]))

    def create(self, name: str, root: Path, settings: Settings) -> CollectionRow:
        now = time.time()
        row = self.conn.execute(
            "INSERT INTO semsearch_collections (name, root, settings, created, updated) "
            "VALUES (%s, %s, %s::jsonb, %s, %s) RETURNING id", (name, str(root), json.dumps(settings.to_record()),
                                                              now, now)).fetchone()
        return CollectionRow(row[0], name, root, settings)

    def drop(self, name: str) -> None:
        self.conn.execute("DELETE FROM semsearch_collections WHERE name = %s", (name,))

    def store(self, collection: CollectionRow) -> PgStore:
        """The collection as a store this session writes (closing it leaves the session open)."""
        return PgStore(_Borrowed(self.conn, self.where, [collection]))

    def swap_in(self, building: str) -> None:
        """The rebuilt collection replaces the live one, in one transaction."""
        with self.conn.transaction():
            self.drop(self.name)
            self.conn.execute("UPDATE semsearch_collections SET name = %s WHERE name = %s", (self.name, building))


class _Borrowed(PgCatalog):
    """A catalog on the writer session's connection, which outlives it."""

    def close(self) -> None:
        pass


@contextmanager
def writing(url: str, name: str) -> Iterator[WriterSession]:
    """A writer's session on collection ``name`` of the store at ``url`` (the tables made if
    the database has none): one writer per collection at a time, any number on others.

    Raises:
        IndexLockedError: another writer holds the collection.
    """
    conn = connect(url)
    try:
        create_schema(conn)
        register_vectors(conn)
        with collection_lock(conn, name, mask(url)):
            yield WriterSession(conn, url, name)
    finally:
        conn.close()
