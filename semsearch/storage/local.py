"""The local store: ``<root>/.semsearch/`` with the SQLite catalog and ``vectors.faiss``.

The vector file is a cache of the catalog's vectors for fast search, stamped with
the catalog's generation; when the stamps differ (a run was interrupted between the
two writes) it is rebuilt from the catalog, without re-embedding.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from ..defaults import FAISS_NAME
from ..settings import Settings
from .base import VectorIndex
from .catalog import SqliteCatalog
from .vectors import FlatIndex

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
        """True when ``vectors.faiss`` exists and carries the catalog's generation."""
        return FlatIndex.stamp(self._path) == self.catalog.generation

    def vectors(self) -> VectorIndex:
        """The vector index of every passage, current with the catalog (loaded once per
        generation; a missing or stale file is rebuilt in memory, with a notice)."""
        with self._lock:
            generation = self.catalog.generation
            if self._vectors is None or self._vectors_generation != generation:
                self._vectors = self._load()
                self._vectors_generation = generation
            return self._vectors

    def _load(self) -> VectorIndex:
        dimension = self.catalog.settings.dimension
        if self.vectors_current():
            try:
                return FlatIndex.load(self._path, dimension)
            except (OSError, RuntimeError) as exc:
                log.warning("%s was unreadable (%s); rebuilt it from the catalog", FAISS_NAME, exc)
        elif self._path.exists():
            log.warning("%s was out of date; rebuilt it from the catalog", FAISS_NAME)
        elif self.catalog.count_passages():
            log.warning("%s was missing; rebuilt it from the catalog", FAISS_NAME)
        return self._build()

    def _build(self) -> FlatIndex:
        index = FlatIndex(self.catalog.settings.dimension)
        index.add(*self.catalog.all_vectors())
        return index

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
