"""The storage protocols: a catalog (files, passages, settings, lexical search) and a
vector index (passage vectors, searched by inner product). The local store implements
them with SQLite + FTS5 and faiss; another store (PostgreSQL) can implement them too.
No faiss or SQLite type crosses these interfaces.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
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
    """A passage to store: where it is in its file, its text and its vector."""

    start_line: int
    end_line: int
    text: str
    vector: np.ndarray


class Catalog(Protocol):
    """The source of truth: settings, files, passages (text and vectors), lexical search."""

    root: Path
    settings: Settings

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
    def lexical(self, text: str, limit: int, allowed: Collection[int] | None = None) -> list[tuple[int, float]]: ...
    def lexical_ceiling(self, text: str) -> float: ...
    def file_vectors(self, path: str) -> tuple[list[int], np.ndarray]: ...
    def centroids(self) -> tuple[list[str], np.ndarray]: ...
    def passage_vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]: ...
    def all_vectors(self) -> tuple[np.ndarray, np.ndarray]: ...

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
    """Passage vectors by passage id, searched by inner product (cosine on unit vectors)."""

    dimension: int

    def __len__(self) -> int: ...
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...
    def remove(self, ids: Sequence[int]) -> None: ...
    def search(self, vector: np.ndarray, k: int, allowed: Collection[int] | None = None) -> list[tuple[int, float]]:
        """The ``k`` nearest passages to ``vector`` (among ``allowed`` ids, if given),
        best first, as (passage id, inner product)."""
        ...
