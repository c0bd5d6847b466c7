"""The PostgreSQL catalog's vectors (the counterpart of the local catalog's
:mod:`.catalog_vectors`) and their search, :class:`PgVectors`: passages, or the files'
mean vectors that ``similar`` ranks files by.

Passages keep their vector in ``semsearch_passages.embedding``; files their unit-length
mean passage vector in ``semsearch_files.centroid``, written with the file's passages in
the same transaction. A search reads these rows themselves (pgvector), so no vector file
lags behind the catalog and nothing needs to catch up: the store keeps no change journal,
:meth:`PgCatalogVectors.changes_since` answers None and ``forget_changes`` does nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..ignore import compile_globs
from ..settings import Settings
from .postgres_schema import HNSW_EF_SEARCH_MAX, has_hnsw, vector_value

# Where each kind of vector lives: table, column, and which rows hold one.
SOURCES = {
    "passages": ("semsearch_passages", "embedding", ""),
    "files": ("semsearch_files", "centroid", "AND centroid IS NOT NULL"),
}


class PgCatalogVectors:
    """Vector reads of :class:`~semsearch.storage.postgres.PgCatalog` (a mixin)."""

    settings: Settings
    _conn: Any
    _lock: threading.RLock
    _ids: list[int]

    if TYPE_CHECKING:  # provided by the catalog
        def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...
        def _show(self, collection: int, path: bytes) -> str: ...
        def _split(self, path: str) -> tuple[int, bytes] | None: ...

    def _matrix(self, values: Iterable[Any]) -> np.ndarray:
        rows = [vector_value(v) for v in values]
        return np.stack(rows) if rows else np.zeros((0, self.settings.dimension), np.float32)

    def file_vectors(self, path: str) -> tuple[list[int], np.ndarray]:
        """The passage ids and vectors of one indexed file (empty if it has none)."""
        key = self._split(path)
        rows = [] if key is None else self._rows(
            "SELECT p.id, p.embedding FROM semsearch_passages p JOIN semsearch_files f ON f.id = p.file_id "
            "WHERE f.collection = %s AND f.path = %s ORDER BY p.ordinal", key)
        return [r[0] for r in rows], self._matrix(r[1] for r in rows)

    def centroid(self, path: str) -> np.ndarray | None:
        """A file's unit-length mean passage vector (None if it has no passages)."""
        key = self._split(path)
        rows = [] if key is None else self._rows(
            "SELECT centroid FROM semsearch_files WHERE collection = %s AND path = %s AND centroid IS NOT NULL", key)
        return vector_value(rows[0][0]) if rows else None

    def file_paths(self, ids: Sequence[int]) -> dict[int, str]:
        """Paths of files by id (``collection/path`` when several collections are open)."""
        rows = self._rows("SELECT id, path, collection FROM semsearch_files WHERE id = ANY(%s) "
                          "AND collection = ANY(%s)", ([int(i) for i in ids], self._ids))
        return {r[0]: self._show(r[2], r[1]) for r in rows}

    def file_ids(self, paths: Sequence[str]) -> dict[str, int]:
        """Ids of files by path."""
        keys = [k for k in map(self._split, paths) if k is not None]
        rows = self._rows("SELECT f.id, f.path, f.collection FROM semsearch_files f JOIN unnest(%s::int[], "
                          "%s::bytea[]) AS k(c, path) ON f.collection = k.c AND f.path = k.path",
                          ([k[0] for k in keys], [k[1] for k in keys]))
        return {self._show(r[2], r[1]): r[0] for r in rows}

    def ids_matching(self, path_globs: Sequence[str], source: str = "passages") -> set[int] | None:
        """The ids of the passages (or files) of the indexed files whose path (as shown:
        ``collection/path`` when several collections are open) matches any of ``path_globs``;
        None when there is no filter."""
        keep = compile_globs(path_globs)
        if keep is None:
            return None
        rows = self._rows("SELECT id, path, collection FROM semsearch_files WHERE collection = ANY(%s) "
                          "AND skipped IS NULL", (self._ids,))
        files = sorted(r[0] for r in rows if keep.match_file(self._show(r[2], r[1])))
        if source == "files":
            return set(files)
        return {r[0] for r in self._rows("SELECT id FROM semsearch_passages WHERE file_id = ANY(%s)", (files,))}

    def count_vectors(self, source: str) -> int:
        """How many vectors ``source`` (``passages`` or ``files``) holds."""
        table, _, only = SOURCES[source]
        return int(self._rows(f"SELECT count(*) FROM {table} WHERE collection = ANY(%s) {only}", (self._ids,))[0][0])

    def vectors_of(self, source: str, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The (ids, vectors) of those of ``ids`` that ``source`` holds, by id."""
        table, column, only = SOURCES[source]
        rows = self._rows(f"SELECT id, {column} FROM {table} WHERE id = ANY(%s) AND collection = ANY(%s) {only} "
                          "ORDER BY id", ([int(i) for i in ids], self._ids))
        return np.fromiter((r[0] for r in rows), np.int64, len(rows)), self._matrix(r[1] for r in rows)

    def iter_vectors(self, source: str, batch: int = 65_536) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every (ids, vectors) of ``source``, by id, ``batch`` at a time (memory stays bounded)."""
        table, column, only = SOURCES[source]
        last = -1
        while True:
            rows = self._rows(f"SELECT id, {column} FROM {table} WHERE collection = ANY(%s) AND id > %s {only} "
                              "ORDER BY id LIMIT %s", (self._ids, last, batch))
            if not rows:
                return
            last = rows[-1][0]
            yield np.fromiter((r[0] for r in rows), np.int64, len(rows)), self._matrix(r[1] for r in rows)

    def sample_vectors(self, source: str, n: int) -> np.ndarray:
        """Up to ``n`` vectors of ``source``, an arbitrary but repeatable pick (by a hash of their ids)."""
        table, column, only = SOURCES[source]
        rows = self._rows(f"SELECT {column} FROM {table} WHERE collection = ANY(%s) {only} "
                          "ORDER BY md5(id::text) LIMIT %s", (self._ids, max(0, n)))
        return self._matrix(r[0] for r in rows)

    def changes_since(self, source: str, generation: int) -> np.ndarray | None:
        """None: this store keeps no change journal (searches read the rows themselves)."""
        return None

    def forget_changes(self, before: int) -> None:
        """Nothing to forget: this store keeps no change journal."""

    # A collection stores every passage with its vector (``defers_vectors`` is False):
    # a run embeds each batch before committing it, so nothing is ever left to embed.
    def count_unembedded(self) -> int:
        return 0

    def unembedded(self, after: int, limit: int) -> list[tuple[int, str]]:
        return []

    def set_vectors(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        raise NotImplementedError("a PostgreSQL collection stores each passage with its vector")


class PgVectors:
    """The collections' vectors of ``source`` (passages, or files' mean vectors) in
    pgvector, searched by cosine similarity."""

    def __init__(self, catalog: Any, source: str = "passages") -> None:
        self._catalog = catalog  # a PgCatalog
        self._source = source
        self.dimension = catalog.settings.dimension

    def __len__(self) -> int:
        return int(self._catalog.count_vectors(self._source))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        raise NotImplementedError("vectors are added with their passages, through the catalog")

    def remove(self, ids: Sequence[int]) -> None:
        raise NotImplementedError("vectors are removed with their passages, through the catalog")

    def approximate(self, collection: int, k: int, allowed: Collection[int] | None) -> bool:
        """Whether a search of ``collection`` goes through its HNSW index: passages only, ``k``
        within its reach, and no filter (a filter is a short list: exact is cheap)."""
        return (self._source == "passages" and allowed is None and k <= HNSW_EF_SEARCH_MAX
                and bool(has_hnsw(self._catalog._conn, collection)))

    def search(self, vector: np.ndarray, k: int, allowed: Collection[int] | None = None) -> list[tuple[int, float]]:
        """The ``k`` nearest (among ``allowed`` ids, if given), best first, as (id, cosine);
        exact unless :meth:`approximate`."""
        if k <= 0 or (allowed is not None and not allowed):
            return []
        catalog, dim = self._catalog, int(self.dimension)
        table, column, present = SOURCES[self._source]
        query = np.asarray(vector, dtype=np.float32)
        distance = f"({column}::vector({dim}) <=> %s::vector({dim}))"
        only = "" if allowed is None else "AND id = ANY(%s) "
        chosen = [] if allowed is None else [sorted(int(i) for i in allowed)]
        found: list[tuple[int, float]] = []
        with catalog._lock:
            conn = catalog._conn
            for cid in catalog._ids:
                approximate = self.approximate(cid, k, allowed)
                if approximate:
                    conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", (str(max(64, k)),))
                order = distance if approximate else f"{distance} + 0"  # + 0: not the index's expression, so exact
                rows = conn.execute(f"SELECT id, 1 - {distance} FROM {table} WHERE collection = %s {present} "
                                    f"{only}ORDER BY {order}, id LIMIT %s", [query, cid, *chosen, query, k]).fetchall()
                found += [(r[0], float(r[1])) for r in rows]
        found.sort(key=lambda item: (-item[1], item[0]))
        return found[:k]
