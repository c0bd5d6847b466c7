"""The local store: ``<root>/.semsearch/`` with the SQLite catalog and two vector indexes.

``vectors.faiss`` (+ ``vectors.delta``) index the passages, ``files.faiss`` (+
``files.delta``) the files' mean vectors for ``similar``. Both are caches of the
catalog's vectors, stamped with the catalog's generation (:mod:`.vector_files`): a run
interrupted between the catalog's commit and the vector files' update leaves them older,
and whoever opens them next catches up through the catalog's change journal, reading only
what changed; files that are missing, damaged or too old are rebuilt from the catalog,
without re-embedding.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from ..settings import Settings
from .catalog import SqliteCatalog
from .layout import running_writer
from .segmented import SegmentedIndex
from .vecfile import DamagedVectorsError
from .vector_files import UNREADABLE, VectorFiles, catch_up

log = logging.getLogger(__name__)


class LocalStore:
    """A catalog and its vector indexes, kept consistent by generation.

    Args:
        catalog: the open catalog.
    """

    def __init__(self, catalog: SqliteCatalog) -> None:
        self.catalog = catalog
        self.index_dir = catalog.index_dir
        self.root = catalog.root
        self._files = {"passages": VectorFiles(self.index_dir, "vectors", "passages"),
                       "files": VectorFiles(self.index_dir, "files", "files")}
        self._loaded: dict[str, tuple[int, _Checked]] = {}  # source -> (generation, index)
        self._lock = threading.RLock()

    @classmethod
    def open(cls, index_dir: Path, snapshot: bool = False) -> LocalStore:
        """Open the index in ``index_dir`` (see :meth:`SqliteCatalog.open`)."""
        return cls(SqliteCatalog.open(index_dir, snapshot))

    @classmethod
    def create(cls, index_dir: Path, settings: Settings) -> LocalStore:
        """Create a new, empty index in ``index_dir``."""
        return cls(SqliteCatalog.create(index_dir, settings))

    def vectors_current(self) -> bool:
        """True when both vector indexes' files hold the catalog's generation."""
        generation = self.catalog.generation
        return all(files.generation() == generation for files in self._files.values())

    def vectors_problem(self) -> str | None:
        """None when the vector files are current and whole (their checksums read
        through: for ``info --check``); else what is wrong."""
        if not self.vectors_current():
            return "missing or out of date"
        for source, files in self._files.items():
            problem = files.problem()
            if problem is not None:
                return problem if source == "passages" else f"{problem} in {files.main.name}"
        return None

    def vectors(self) -> _Checked:
        """The passages' vector index, current with the catalog."""
        return self._index("passages")

    def file_index(self) -> _Checked:
        """The files' vector index (their mean passage vectors, by file id), current with the catalog."""
        return self._index("files")

    def _index(self, source: str) -> _Checked:
        """Loaded once; after a commit, caught up in memory when the journal allows."""
        with self._lock:
            generation = self.catalog.generation
            held = self._loaded.get(source)
            if held is not None and held[0] == generation:
                return held[1]
            index = None
            if held is not None and held[0] < generation and not held[1].from_catalog:
                touched = self.catalog.changes_since(source, held[0])
                if touched is not None:
                    index = held[1].index.copy()
                    catch_up(index, self.catalog, source, touched)
            checked = _Checked(self, source, index if index is not None else self._load(source, generation))
            self._loaded[source] = (generation, checked)
            return checked

    def _load(self, source: str, generation: int) -> SegmentedIndex:
        files = self._files[source]
        try:
            loaded = files.load(self.catalog, generation)
        except UNREADABLE as exc:
            loaded = f"damaged ({str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__})"
        if not isinstance(loaded, str):
            return loaded[0]
        if loaded.startswith("damaged"):
            log.warning("%s was %s; rebuilt it from the catalog (`semsearch index %s` rewrites it)",
                        files.main.name, loaded, self.root)
        elif running_writer(self.index_dir):  # normal while `index` runs: it writes the files when done
            if source == "passages":
                log.warning("index in progress: searching the %d files committed so far", self.catalog.count_files())
        elif self.catalog.count_unembedded():
            pass  # an interrupted run left passages to embed: Index.query says how many, and what to run
        elif self.catalog.count_vectors(source) and not (source == "files" and self.catalog.schema < 3):
            log.warning("%s was %s; rebuilt it from the catalog", files.main.name, loaded)  # schema 2 had no files.*
        return files.build(self.catalog, self.catalog.settings.vector_index)

    def _rebuilt_after(self, source: str, damage: DamagedVectorsError) -> _Checked:
        """A search met a score no unit vectors give: the file was damaged in a way the
        checks on loading did not see. Search the catalog's own vectors instead."""
        with self._lock:
            files = self._files[source]
            log.warning("%s is damaged (%s); rebuilt it from the catalog (`semsearch index %s` rewrites it)",
                        files.main.name, damage, self.root)
            checked = _Checked(self, source, files.build(self.catalog, self.catalog.settings.vector_index),
                               from_catalog=True)
            self._loaded[source] = (self.catalog.generation, checked)
            return checked

    def write_vectors(self) -> None:
        """Bring both vector indexes' files to the catalog's generation (see
        :meth:`VectorFiles.update`), then forget the journal they no longer need."""
        generation = self.catalog.generation
        for files in self._files.values():
            files.update(self.catalog, generation, self.catalog.settings.vector_index)
        self.catalog.forget_changes(generation)

    def describe(self) -> str:
        """The passages' vector index in words, e.g. ``auto: flat (exact, float16 codes)``."""
        shape = self.vectors().index.shape
        kind = shape.describe() if shape is not None else "flat (empty)"
        requested = self.catalog.settings.vector_index
        return f"auto: {kind}" if requested == "auto" else kind

    def refresh(self) -> bool:
        """See the latest commit (readers); True if the index changed."""
        return self.catalog.refresh()

    def close(self) -> None:
        """Close the catalog and let go of the vector indexes (their memory maps hold the
        files open: a read-only medium could not be unmounted while they lived)."""
        with self._lock:
            self._loaded.clear()
        self.catalog.close()

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Checked:
    """A vector index as searches see it: a search that meets an impossible score (damage
    the cheap checks on loading missed) is answered from the catalog's vectors instead."""

    def __init__(self, store: LocalStore, source: str, index: SegmentedIndex, from_catalog: bool = False) -> None:
        self._store = store
        self._source = source
        self.index = index
        self.from_catalog = from_catalog
        self.dimension = index.dimension

    def __len__(self) -> int:
        return len(self.index)

    def __getattr__(self, name: str) -> object:  # shape, main, delta_ids, tombstones: the index's
        return getattr(self.index, name)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.index.add(ids, vectors)

    def remove(self, ids: Sequence[int]) -> None:
        self.index.remove(ids)

    def search(self, vector: np.ndarray, k: int, allowed: Collection[int] | None = None) -> list[tuple[int, float]]:
        try:
            return self.index.search(vector, k, allowed)
        except DamagedVectorsError as exc:
            if self.from_catalog:  # the catalog's own vectors are not unit vectors
                raise self._store.catalog.damaged(f"its stored vectors give {exc}") from exc
            return self._store._rebuilt_after(self._source, exc).search(vector, k, allowed)
