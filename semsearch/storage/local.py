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
from pathlib import Path

from ..settings import Settings
from .catalog import SqliteCatalog
from .segmented import SegmentedIndex
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
        self._loaded: dict[str, tuple[int, SegmentedIndex]] = {}  # source -> (generation, index)
        self._lock = threading.RLock()

    @classmethod
    def open(cls, index_dir: Path, snapshot: bool = False) -> "LocalStore":
        """Open the index in ``index_dir`` (see :meth:`SqliteCatalog.open`)."""
        return cls(SqliteCatalog.open(index_dir, snapshot))

    @classmethod
    def create(cls, index_dir: Path, settings: Settings) -> "LocalStore":
        """Create a new, empty index in ``index_dir``."""
        return cls(SqliteCatalog.create(index_dir, settings))

    def vectors_current(self) -> bool:
        """True when both vector indexes' files hold the catalog's generation."""
        generation = self.catalog.generation
        return all(files.generation() == generation for files in self._files.values())

    def vectors(self) -> SegmentedIndex:
        """The passages' vector index, current with the catalog."""
        return self._index("passages")

    def file_index(self) -> SegmentedIndex:
        """The files' vector index (their mean passage vectors, by file id), current with the catalog."""
        return self._index("files")

    def _index(self, source: str) -> SegmentedIndex:
        """Loaded once; after a commit, caught up in memory when the journal allows."""
        with self._lock:
            generation = self.catalog.generation
            held = self._loaded.get(source)
            if held is not None and held[0] == generation:
                return held[1]
            if held is not None and held[0] < generation:
                touched = self.catalog.changes_since(source, held[0])
                if touched is not None:
                    index = held[1].copy()
                    catch_up(index, self.catalog, source, touched)
                    self._loaded[source] = (generation, index)
                    return index
            index = self._load(source, generation)
            self._loaded[source] = (generation, index)
            return index

    def _load(self, source: str, generation: int) -> SegmentedIndex:
        files = self._files[source]
        try:
            loaded = files.load(self.catalog, generation)
        except UNREADABLE as exc:
            loaded = f"unreadable ({str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__})"
        if not isinstance(loaded, str):
            return loaded[0]
        new_in_schema_3 = source == "files" and self.catalog.schema < 3  # nothing was lost: say nothing
        if self.catalog.count_vectors(source) and not new_in_schema_3:
            log.warning("%s was %s; rebuilt it from the catalog", files.main.name, loaded)
        return files.build(self.catalog, self.catalog.settings.vector_index)

    def write_vectors(self) -> None:
        """Bring both vector indexes' files to the catalog's generation (see
        :meth:`VectorFiles.update`), then forget the journal they no longer need."""
        generation = self.catalog.generation
        for files in self._files.values():
            files.update(self.catalog, generation, self.catalog.settings.vector_index)
        self.catalog.forget_changes(generation)

    def describe(self) -> str:
        """The passages' vector index in words, e.g. ``flat (exact, float16 codes)``."""
        index = self.vectors()
        shape = index.shape
        kind = shape.describe() if shape is not None else "flat (empty)"
        return f"{self.catalog.settings.vector_index}: {kind}" if self.catalog.settings.vector_index == "auto" else kind

    def refresh(self) -> bool:
        """See the latest commit (readers); True if the index changed."""
        return self.catalog.refresh()

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> "LocalStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
