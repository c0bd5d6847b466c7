"""The library's front door: ``Index`` opens an index and answers questions about it.

Everything the command line does can be done from Python::

    from semsearch import Index, sync
    sync("notes")                       # create or update notes/.semsearch
    with Index("notes") as index:
        hits = index.query("rotate logs")   # [Hit(rank, score, path, start_line, end_line, text)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from . import defaults
from .embedding import EmbedderFactory, default_factory
from .indexer import plan
from .search import Hit, Searcher
from .store import Store, damaged_catalog_is_reported, find_index_dir


@dataclass(frozen=True)
class IndexInfo:
    """What ``semsearch info`` reports."""

    root: Path
    index_dir: Path
    model_id: str
    backend: str
    dimension: int
    chunk_tokens: int
    overlap: int
    include: list[str]
    exclude: list[str]
    files: int
    passages: int
    size_bytes: int
    created: float
    updated: float
    stale_new: list[str] = field(default_factory=list)
    stale_changed: list[str] = field(default_factory=list)
    stale_removed: list[str] = field(default_factory=list)

    @property
    def stale(self) -> int:
        return len(self.stale_new) + len(self.stale_changed) + len(self.stale_removed)


class Index:
    """An index on disk, found at ``location`` or in a folder above it.

    Args:
        location: the indexed folder, its ``.semsearch`` folder, or any folder below it.
        model: if given, must be the index's model (a guard against mix-ups).
        device: torch device for the model.
        batch_size: passages per forward pass when embedding on the fly.
        embedder_factory: makes the embedder (tests pass a small fake).

    Raises:
        IndexNotFoundError, CorruptIndexError, SettingsMismatchError.
    """

    def __init__(
        self,
        location: Path | str = ".",
        *,
        model: str | None = None,
        device: str | None = None,
        batch_size: int = defaults.BATCH_SIZE,
        embedder_factory: EmbedderFactory | None = None,
    ) -> None:
        self.index_dir = find_index_dir(Path(location))
        # One committed state for the whole session, even while `index` writes a new one.
        self.store = Store.open(self.index_dir, snapshot=True)
        factory = embedder_factory or default_factory(device, batch_size)
        try:
            self._searcher = Searcher(self.store, factory, model)
        except BaseException:
            self.store.close()
            raise

    @property
    def root(self) -> Path:
        return self.store.root

    @property
    def notices(self) -> list[str]:
        """Things worth telling the user that were not errors (e.g. a repaired cache)."""
        return self.store.notices

    def query(
        self,
        text: str,
        *,
        mode: str = defaults.MODE,
        top_k: int = defaults.TOP_K,
        min_score: float | None = None,
        path_glob: Sequence[str] = (),
        per_file: int | None = defaults.PER_FILE,
        query_prompt: str | None = None,
    ) -> list[Hit]:
        """Passages matching ``text`` by meaning and words, best first (see :meth:`Searcher.query`)."""
        with damaged_catalog_is_reported(self.index_dir):
            return self._searcher.query(text, mode=mode, top_k=top_k, min_score=min_score, path_glob=path_glob,
                                        per_file=per_file, query_prompt=query_prompt)

    def load_model(self) -> None:
        """Load the index's model now rather than on the first query (to time queries alone)."""
        self._searcher.embedder  # noqa: B018 - loading is the property's side effect

    def similar(
        self,
        path: Path | str | None = None,
        *,
        text: str | None = None,
        top_k: int = defaults.TOP_K,
        min_score: float | None = None,
        path_glob: Sequence[str] = (),
    ) -> list[Hit]:
        """Files most like the file at ``path``, or like ``text``, best first."""
        options = dict(top_k=top_k, min_score=min_score, path_glob=path_glob)
        if path is None and text is None:
            raise TypeError("similar() needs a path or text")
        with damaged_catalog_is_reported(self.index_dir):
            if text is not None:
                return self._searcher.similar_to_text(text, **options)
            return self._searcher.similar_to_file(Path(path), **options)

    def info(self) -> IndexInfo:
        """Settings, sizes, and which files changed since the last index (by stat)."""
        with damaged_catalog_is_reported(self.index_dir):
            return self._info()

    def _info(self) -> IndexInfo:
        store, settings = self.store, self.store.settings
        known = store.files()
        work = plan(store.root, known, settings.include, settings.exclude, 2**63, settings.follow_symlinks)
        return IndexInfo(
            root=store.root,
            index_dir=store.index_dir,
            model_id=settings.model_id,
            backend=settings.backend,
            dimension=settings.dimension,
            chunk_tokens=settings.chunk_tokens,
            overlap=settings.overlap,
            include=settings.include,
            exclude=settings.exclude,
            files=store.count_files(),
            passages=store.count_passages(),
            size_bytes=store.disk_bytes(),
            created=store.created,
            updated=store.updated,
            stale_new=[e.path for e in work.to_read if e.path not in known],
            stale_changed=[e.path for e in work.to_read if e.path in known],
            stale_removed=work.removed,
        )

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Index":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
