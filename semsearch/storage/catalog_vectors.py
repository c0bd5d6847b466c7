"""The catalog's vectors: read by id, by file, in batches, and what changed since a generation.

Passages keep their vector in ``chunks.vector`` and files their mean vector in
``files.centroid``, both in the catalog's codec (:mod:`.codec`). Every insert and delete
of either is journaled in ``changes`` by triggers, in the same transaction, with the
generation it was made at; so a vector index stamped with generation G catches up by
reading only what changed since G, never every vector. ``meta.changes_since`` says how
far back the journal reaches (a writer forgets what every vector file has taken in).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..ignore import compile_globs
from . import codec
from .sqlite import name_param, name_value

# Where each kind of vector lives, and its kind number in the journal.
SOURCES = {
    "passages": ("chunks", "vector", "AND vector != x''", 0),  # x'': not embedded yet
    "files": ("files", "centroid", "AND centroid IS NOT NULL", 1),
}


class CatalogVectors:
    """Vector reads and the change journal of :class:`~semsearch.storage.catalog.SqliteCatalog`."""

    codec: str
    schema: int
    settings: Any

    if TYPE_CHECKING:  # provided by the catalog
        def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...
        def _in_batches(self, sql: str, values: Sequence[Any]) -> list[Any]: ...
        def _meta_or_none(self, key: str) -> Any: ...
        def _maintain(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None: ...
        def damaged(self, what: str) -> Exception: ...

    def _decode(self, blobs: Any) -> np.ndarray:
        """Stored vectors as one matrix; a blob of the wrong size is damage."""
        blobs = list(blobs)
        size = codec.size(self.settings.dimension, self.codec)
        if any(not isinstance(b, bytes) or len(b) != size for b in blobs):
            raise self.damaged(f"a stored vector is not {size} bytes "
                               f"({self.codec}, {self.settings.dimension} dimensions)")
        matrix = codec.decode(blobs, self.settings.dimension, self.codec)
        if not np.isfinite(matrix).all():
            raise self.damaged("a stored vector holds a number that is not finite")
        return matrix

    def file_vectors(self, path: str) -> tuple[list[int], np.ndarray]:
        """The passage ids and vectors of one indexed file (empty if it has none; only
        those embedded so far while ``index`` embeds)."""
        rows = self._rows("SELECT c.id, c.vector FROM chunks c JOIN files f ON f.id = c.file_id WHERE f.path = ? "
                          "AND c.vector != x'' ORDER BY c.ordinal", (name_param(path),))
        return [r[0] for r in rows], self._decode(r[1] for r in rows)

    def centroid(self, path: str) -> np.ndarray | None:
        """A file's unit-length mean passage vector (None if it has no passages)."""
        rows = self._rows("SELECT centroid FROM files WHERE path = ? AND centroid IS NOT NULL", (name_param(path),))
        return self._decode([rows[0][0]])[0] if rows else None

    def file_paths(self, ids: Sequence[int]) -> dict[int, str]:
        """Paths of files by id."""
        rows = self._in_batches("SELECT id, path FROM files WHERE id IN ({})", [int(i) for i in ids])
        return {r[0]: name_value(r[1]) for r in rows}

    def file_ids(self, paths: Sequence[str]) -> dict[str, int]:
        """Ids of files by path."""
        rows = self._in_batches("SELECT id, path FROM files WHERE path IN ({})", [name_param(p) for p in paths])
        return {name_value(r[1]): r[0] for r in rows}

    def ids_matching(self, path_globs: Sequence[str], source: str = "passages") -> set[int] | None:
        """The ids of the passages (or files) of the indexed files matching any of
        ``path_globs``; None when there is no filter. Globs anchored in a folder
        (``notes/*.md``) read only that folder's rows."""
        keep = compile_globs(path_globs)
        if keep is None:
            return None
        prefixes = _folder_prefixes(path_globs)
        if prefixes is None:
            rows = self._rows("SELECT id, path FROM files WHERE skipped IS NULL")
        else:
            rows = []
            for prefix in prefixes:  # "a/b/" .. "a/b0": every path under a/b/, as text and as bytes
                for low, high in ((prefix, prefix[:-1] + "0"), (os.fsencode(prefix), os.fsencode(prefix[:-1] + "0"))):
                    rows += self._rows("SELECT id, path FROM files WHERE skipped IS NULL AND path >= ? AND path < ?",
                                       (low, high))
        files = sorted({r[0] for r in rows if keep.match_file(name_value(r[1]))})
        if source == "files":
            return set(files)
        return {r[0] for r in self._in_batches("SELECT id FROM chunks WHERE file_id IN ({})", files)}

    def count_vectors(self, source: str) -> int:
        """How many vectors ``source`` (``passages`` or ``files``) holds."""
        table, _, only, _ = SOURCES[source]
        return int(self._rows(f"SELECT count(*) FROM {table} WHERE 1 {only}")[0][0])

    def count_unembedded(self) -> int:
        """Passages whose text is committed but not yet their vector (an ``index`` run embeds them)."""
        if self.schema < 4:  # every passage of an older schema has its vector
            return 0
        return int(self._rows("SELECT count(*) FROM chunks WHERE vector = x''")[0][0])

    def unembedded(self, after: int, limit: int) -> list[tuple[int, str]]:
        """Up to ``limit`` (id, text) of passages still without a vector, by id, after id ``after``."""
        return [(r[0], r[1]) for r in self._rows("SELECT id, text FROM chunks WHERE vector = x'' AND id > ? "
                                                  "ORDER BY id LIMIT ?", (after, limit))]

    def vectors_of(self, source: str, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The (ids, vectors) of those of ``ids`` that ``source`` holds, by id."""
        table, column, only, _ = SOURCES[source]
        rows = sorted(self._in_batches(f"SELECT id, {column} FROM {table} WHERE id IN ({{}}) {only}",
                                       [int(i) for i in ids]))
        return np.fromiter((r[0] for r in rows), np.int64, len(rows)), self._decode(r[1] for r in rows)

    def iter_vectors(self, source: str, batch: int = 65_536) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every (ids, vectors) of ``source``, by id, ``batch`` at a time (memory stays bounded)."""
        table, column, only, _ = SOURCES[source]
        last = -1
        while True:
            rows = self._rows(f"SELECT id, {column} FROM {table} WHERE id > ? {only} ORDER BY id LIMIT ?",
                              (last, batch))
            if not rows:
                return
            last = rows[-1][0]
            yield np.fromiter((r[0] for r in rows), np.int64, len(rows)), self._decode(r[1] for r in rows)

    def sample_vectors(self, source: str, n: int) -> np.ndarray:
        """Up to ``n`` vectors of ``source`` drawn at random (the same draw for the same ids)."""
        table, _, only, _ = SOURCES[source]
        ids = np.fromiter((r[0] for r in self._rows(f"SELECT id FROM {table} WHERE 1 {only}")), np.int64)
        if len(ids) > n:
            ids = np.sort(np.random.default_rng(len(ids)).choice(ids, n, replace=False))
        return self.vectors_of(source, ids.tolist())[1]

    def changes_since(self, source: str, generation: int) -> np.ndarray | None:
        """The ids of ``source`` inserted or deleted since ``generation`` (sorted), or None
        if the journal does not reach back that far (then only a full read will do)."""
        since = self._meta_or_none("changes_since")
        if since is None or generation < int(since):
            return None
        kind = SOURCES[source][3]
        rows = self._rows("SELECT DISTINCT id FROM changes WHERE kind = ? AND generation >= ?", (kind, generation))
        return np.sort(np.fromiter((r[0] for r in rows), np.int64, len(rows)))

    def forget_changes(self, before: int) -> None:
        """Drop the journal before ``before`` (every vector file holds it). Changes no
        passage, so the generation stays (readers keep their vectors)."""
        since = self._meta_or_none("changes_since")
        if since is None or before <= int(since):
            return
        self._maintain([("DELETE FROM changes WHERE generation < ?", (before,)),
                        ("UPDATE meta SET value = ? WHERE key = 'changes_since'", (str(before),))])


def _folder_prefixes(path_globs: Sequence[str]) -> list[str] | None:
    """The folders (``"notes/"``) that hold every path some glob can match, or None if a
    glob can match anywhere. A gitignore-style glob with a slash before its end is
    anchored at the root; its literal part up to the last slash before a wildcard is a folder."""
    prefixes = []
    for glob in (g.strip() for g in path_globs):
        if not glob or glob.startswith(("#", "!")):  # a negation only removes paths
            continue
        body = glob.removeprefix("/")
        if "/" not in body.rstrip("/"):
            return None
        literal = body
        for i, char in enumerate(body):
            if char in "*?[\\":
                literal = body[:i]
                break
        folder = literal[: literal.rfind("/") + 1]
        if not folder:
            return None
        prefixes.append(folder)
    return sorted(set(prefixes))
