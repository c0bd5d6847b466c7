"""The local store: ``<root>/.semsearch/`` with the SQLite catalog and ``vectors.faiss``.

The vector file is a cache of the catalog's vectors for fast search, stamped with
the catalog's generation; when the stamps differ (a run was interrupted between the
two writes), or the file is damaged, it is rebuilt from the catalog, without re-embedding.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from ..defaults import FAISS_NAME
from ..settings import Settings
from .base import VectorIndex
from .catalog import SqliteCatalog
from .layout import running_writer
from .vectors import DamagedVectorsError, FlatIndex, read_header

log = logging.getLogger(__name__)


class LocalStore:
    """A catalog and its vector index, kept consistent by generation.

    Args:
        catalog: the open catalog.
    """

    def __init__(self, catalog: SqliteCatalog) -> None:
        self.catalog = catalog
        self.index_dir = catalog.index_dir
        self.root = catalog.root
        self._vectors: VectorIndex | None = None
        self._vectors_generation: int | None = None
        self._lock = threading.RLock()

    @classmethod
    def open(cls, index_dir: Path, snapshot: bool = False) -> LocalStore:
        """Open the index in ``index_dir`` (see :meth:`SqliteCatalog.open`)."""
        return cls(SqliteCatalog.open(index_dir, snapshot))

    @classmethod
    def create(cls, index_dir: Path, settings: Settings) -> LocalStore:
        """Create a new, empty index in ``index_dir``."""
        return cls(SqliteCatalog.create(index_dir, settings))

    @property
    def _path(self) -> Path:
        return self.index_dir / FAISS_NAME

    def vectors_current(self) -> bool:
        """True when ``vectors.faiss`` is a regular file written for the catalog's generation."""
        header = read_header(self._path)
        return header is not None and header.generation == self.catalog.generation

    def vectors_problem(self) -> str | None:
        """None when ``vectors.faiss`` is current and its whole content matches its
        checksum (it reads the file: for ``index`` and ``info --check``); else what is wrong."""
        if not self.vectors_current():
            return "missing or out of date"
        return FlatIndex.verify(self._path)

    def vectors(self) -> VectorIndex:
        """The vector index of every passage, current with the catalog (loaded once per
        generation; a missing, stale or damaged file is rebuilt in memory, with a notice)."""
        with self._lock:
            generation = self.catalog.generation
            if self._vectors is None or self._vectors_generation != generation:
                self._vectors = _Checked(self, self._load())
                self._vectors_generation = generation
            return self._vectors

    def _load(self) -> FlatIndex:
        dimension = self.catalog.settings.dimension
        if self.vectors_current():
            try:
                return FlatIndex.load(self._path, dimension, self.catalog.count_passages(),
                                      self.catalog.passage_vectors)
            except OSError as exc:
                log.warning("%s was unreadable (%s); rebuilt it from the catalog", FAISS_NAME, exc.strerror or exc)
            except DamagedVectorsError as exc:
                log.warning("%s was damaged (%s); rebuilt it from the catalog (`semsearch index %s` rewrites it)",
                            FAISS_NAME, exc, self.root)
        elif running_writer(self.index_dir):
            # Normal while `index` runs: it writes the file when it is done.
            log.warning("index in progress: searching the %d files committed so far", self.catalog.count_files())
        elif os.path.lexists(self._path):
            log.warning("%s was out of date; rebuilt it from the catalog", FAISS_NAME)
        elif self.catalog.count_passages():
            log.warning("%s was missing; rebuilt it from the catalog", FAISS_NAME)
        return self._build()

    def _build(self) -> FlatIndex:
        index = FlatIndex(self.catalog.settings.dimension)
        index.add(*self.catalog.all_vectors())
        return index

    def _rebuilt_after(self, damage: DamagedVectorsError) -> VectorIndex:
        """A search met a score no unit vectors give: the file was damaged in a way the
        checks on loading did not see. Search the catalog's own vectors instead."""
        with self._lock:
            log.warning("%s is damaged (%s); rebuilt it from the catalog (`semsearch index %s` rewrites it)",
                        FAISS_NAME, damage, self.root)
            self._vectors = _Checked(self, self._build(), from_catalog=True)
            return self._vectors

    def write_vectors(self) -> None:
        """Write ``vectors.faiss`` for the catalog's current generation."""
        self._build().save(self._path, self.catalog.generation)

    def refresh(self) -> bool:
        """See the latest commit (readers); True if the index changed."""
        return self.catalog.refresh()

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Checked:
    """The vector index as searches see it: a search that meets an impossible score
    (damage the cheap checks on loading missed) is answered from the catalog's vectors."""

    def __init__(self, store: LocalStore, index: FlatIndex, from_catalog: bool = False) -> None:
        self._store = store
        self._index = index
        self._from_catalog = from_catalog
        self.dimension = index.dimension

    def __len__(self) -> int:
        return len(self._index)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._index.add(ids, vectors)

    def remove(self, ids: Sequence[int]) -> None:
        self._index.remove(ids)

    def search(self, vector: np.ndarray, k: int, allowed: Collection[int] | None = None) -> list[tuple[int, float]]:
        try:
            return self._index.search(vector, k, allowed)
        except DamagedVectorsError as exc:
            if self._from_catalog:  # the catalog's own vectors are not unit vectors
                raise self._store.catalog.damaged(f"its stored vectors give {exc}") from exc
            return self._store._rebuilt_after(exc).search(vector, k, allowed)
