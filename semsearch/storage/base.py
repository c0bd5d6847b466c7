"""The storage protocols: a catalog (files, passages, settings, lexical search) and a
vector index (passage vectors, searched by inner product). The local store implements
them with SQLite + FTS5 and faiss; another store (PostgreSQL) can implement them too.
No faiss or SQLite type crosses these interfaces.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ..settings import Settings


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


@dataclass(frozen=True)
class NewPassage:
    """A passage to store: where it is in its file, its text and its vector (None: to be
    embedded later, see :meth:`Catalog.set_vectors`)."""

    start_line: int
    end_line: int
    text: str
    vector: np.ndarray | None


@dataclass(frozen=True)
class LexicalPass:
    """One lexical search: what :meth:`Catalog.lexical_pass` finds for a query."""

    ranked: list[tuple[int, float]]  # the best passages, best first, as (passage id, BM25)
    scores: dict[int, float]  # the BM25 of each ranked and each asked-for passage holding a word
    ceiling: float  # the largest BM25 any passage could get for the query here; 0 if no word


class Catalog(Protocol):
    """The source of truth: settings, files, passages (text and vectors), lexical search."""

    root: Path
    settings: Settings
    # True: passages can be committed with their text alone and their vectors filled in
    # later (progressive indexing); False: every passage is stored with its vector.
    defers_vectors: bool

    @property
    def generation(self) -> int: ...
    @property
    def created(self) -> float: ...
    @property
    def updated(self) -> float: ...

    def files(self) -> dict[str, FileRecord]: ...
    def file(self, path: str) -> FileRecord | None: ...
    def count_files(self) -> int: ...
    def count_passages(self) -> int: ...
    def disk_bytes(self) -> int: ...
    def passages(self, ids: Sequence[int]) -> dict[int, PassageRecord]: ...
    def passage_ids(self, paths: Iterable[str]) -> list[int]: ...
    def ids_matching(self, path_globs: Sequence[str], source: str = "passages") -> set[int] | None: ...
    def lexical(self, text: str, limit: int, allowed: Collection[int] | None = None) -> list[tuple[int, float]]: ...
    def lexical_pass(self, text: str, limit: int, allowed: Collection[int] | None = None,
                     also: Collection[int] = ()) -> LexicalPass:
        """The ``limit`` best passages for ``text`` by BM25 (only ``allowed`` ids, if given),
        the BM25 of the ``also`` passages too (absent: holds no query word), and the query's
        ceiling, in one search."""
        ...
    def file_vectors(self, path: str) -> tuple[list[int], np.ndarray]: ...
    def centroid(self, path: str) -> np.ndarray | None: ...
    def file_paths(self, ids: Sequence[int]) -> dict[int, str]: ...
    def file_ids(self, paths: Sequence[str]) -> dict[str, int]: ...
    # Vectors of "passages" (by passage id) or "files" (mean vectors, by file id), for
    # vector indexes: counted, by id, all in batches, a sample, and what changed since a generation.
    def count_vectors(self, source: str) -> int: ...
    def vectors_of(self, source: str, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]: ...
    def iter_vectors(self, source: str, batch: int = 65_536) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...
    def sample_vectors(self, source: str, n: int) -> np.ndarray: ...
    def changes_since(self, source: str, generation: int) -> np.ndarray | None: ...
    def forget_changes(self, before: int) -> None: ...
    # Progressive indexing: passages committed without a vector, found and filled in later.
    def count_unembedded(self) -> int: ...
    def unembedded(self, after: int, limit: int) -> list[tuple[int, str]]: ...
    def set_vectors(self, ids: Sequence[int], vectors: np.ndarray) -> None: ...

    def transaction(self) -> AbstractContextManager[None]: ...
    def set_settings(self, settings: Settings) -> None: ...
    def put_file(self, path: str, size: int, mtime_ns: int, digest: str, passages: Sequence[NewPassage]) -> None: ...
    def put_skipped(self, path: str, size: int, mtime_ns: int, digest: str, reason: str) -> None: ...
    def touch_file(self, path: str, size: int, mtime_ns: int) -> None: ...
    def delete_file(self, path: str) -> None: ...
    # Reuse of stored vectors for content seen before (see storage/retired.py).
    def prepare_reuse(self) -> None: ...
    def stored_passages(self, digest: str) -> list[NewPassage] | None: ...
    def retire_file(self, path: str) -> None: ...
    def unretire(self, digest: str) -> None: ...
    def purge_retired(self, keep: int) -> None: ...
    def refresh(self) -> bool: ...
    def close(self) -> None: ...


class VectorIndex(Protocol):
    """Vectors by id (passages, or files' mean vectors), searched by inner product
    (cosine on unit vectors). Approximate indexes still return exactly ``k`` results
    (or every allowed one, if fewer)."""

    dimension: int

    def __len__(self) -> int: ...
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...
    def remove(self, ids: Sequence[int]) -> None: ...
    def search(self, vector: np.ndarray, k: int, allowed: Collection[int] | None = None) -> list[tuple[int, float]]:
        """The ``k`` nearest passages to ``vector`` (among ``allowed`` ids, if given),
        best first, as (passage id, inner product)."""
        ...
