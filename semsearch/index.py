"""The library's front door: ``Index`` opens an index and answers questions about it.

Everything the command line does can be done from Python::

    from semsearch import Index, sync
    sync("notes")                       # create or update notes/.semsearch
    with Index("notes") as index:
        hits = index.query("rotate logs")   # [Hit(rank, score, path, start_line, end_line, text)]

An ``Index`` reads one committed state until :meth:`Index.refresh`, is safe to use from
several threads, and changes nothing outside itself (no environment, thread pools or
loggers): a long-lived process (a server, a watcher) holds one and refreshes it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import defaults
from .embedders import Embedder, EmbedderFactory, default_factory, resolve_model
from .errors import CorruptIndexError, SettingsMismatchError
from .indexing import plan
from .records import ContextBlock, Hit, IndexInfo, Similarity
from .search import (
    QueryOptions,
    Reranker,
    build_context,
    check_query,
    run_query,
    similar_to_file,
    similar_to_text,
    similarity,
)
from .search.calibration import calibration_for
from .search.neighbours import lines_around
from .settings import Settings, check_dimension
from .storage import LocalStore, damaged_catalog_is_reported, find_index_dir

log = logging.getLogger(__name__)


class Index:
    """An index on disk, found at ``location`` or in a folder above it.

    Args:
        location: the indexed folder, its ``.semsearch`` folder, or any folder below it.
        model: if given, must be the index's model (a guard against mix-ups).
        device: torch device for the model.
        batch_size: passages per forward pass when embedding on the fly.
        embedder_factory: makes the embedder (tests pass a small fake).
        store: an open shared store to read instead of a folder's index (``location`` is then unused).

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
        store: Any = None,
    ) -> None:
        # One committed state until refresh(), even while `index` writes a new one.
        # A shared store (storage/postgres_store.PgStore, opened by the caller) replaces the folder's.
        self.index_dir = store.index_dir if store is not None else find_index_dir(Path(location))
        self.store = store if store is not None else LocalStore.open(self.index_dir, snapshot=True)
        self._factory = embedder_factory or default_factory(device, batch_size)
        self._embedder: Embedder | None = None
        self._lock = threading.RLock()
        self._told: int | None = None  # the generation whose unembedded passages were told of
        recorded = self.settings.model
        if model is not None and resolve_model(model).model_id != recorded:
            self.store.close()
            raise SettingsMismatchError(
                f"this index was built with {recorded}; query it without --model, or re-index with "
                f"`semsearch index {self.root} --model {model} --rebuild`"
            )

    @property
    def root(self) -> Path:
        return self.store.root

    @property
    def settings(self) -> Settings:
        """What the index was built with."""
        return self.store.catalog.settings

    @property
    def generation(self) -> int:
        """The committed state this index reads; it changes with every commit."""
        return self.store.catalog.generation

    def refresh(self) -> bool:
        """See the latest committed state; True if the index changed since the last look."""
        with self._lock, damaged_catalog_is_reported(self.index_dir):
            return self.store.refresh()

    def embedder(self) -> Embedder:
        """The index's model, loaded on first need (once, whichever thread asks)."""
        with self._lock:
            if self._embedder is None:
                settings = self.settings
                embedder = self._factory(resolve_model(settings.model), settings.backend)
                check_dimension(settings, embedder.dimension, self.root)
                self._embedder = embedder
            return self._embedder

    def load_model(self) -> None:
        """Load the index's model now rather than on the first query (to time queries alone)."""
        self.embedder()

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
        rerank: Reranker | None = None,
    ) -> list[Hit]:
        """The passages that best match ``text``, best first.

        Args:
            text: what to look for, in plain words.
            mode: ``dense`` (meaning: cosine similarity of embeddings), ``lexical``
                (words: BM25 over the passages), or ``hybrid`` (both, fused).
            top_k: how many results (rows) to return at most.
            min_score: leave out results scoring below this (in the mode's score); None: the
                default floor (hybrid mode with a calibrated model, else none); 0: no floor.
            path_glob: keep only files matching one of these globs.
            per_file: at most this many passages per file; None for no limit.
            query_prompt: text put before the query when embedding it; None for
                the model's own query prompt, if it declares one.
            rerank: re-orders the candidates before they are grouped per file (e.g.
                ``semsearch.search.rerank.CrossEncoderReranker.load(folder)``); ``min_score``
                then applies to its scores, and there is no default floor.
        """
        options = QueryOptions(mode, top_k, min_score, tuple(path_glob), per_file, query_prompt)
        check_query(text, options)
        # The model runs outside the lock: other threads' queries go on meanwhile.
        vector = self.embedder().embed_query(text, prompt=query_prompt) if mode != "lexical" else None
        with self._lock, damaged_catalog_is_reported(self.index_dir):
            if mode != "lexical":
                self._tell_embedding()
            return run_query(text, options, self.store.catalog, self.store.vectors, vector, rerank)

    def _tell_embedding(self) -> None:
        """A notice (once per committed state) while passages are still without a vector."""
        catalog = self.store.catalog
        if self._told == catalog.generation:
            return
        self._told = catalog.generation
        waiting = catalog.count_unembedded()
        if waiting:
            total = catalog.count_passages()
            log.warning("dense: %s of %s passages embedded so far; the others are found by their words only "
                        "(`semsearch index %s` embeds the rest)", f"{total - waiting:,}", f"{total:,}", self.root)

    def context(
        self,
        text: str,
        *,
        max_tokens: int = defaults.CONTEXT_TOKENS,
        cite: Callable[[str], str] | None = None,
        **query: Any,
    ) -> ContextBlock:
        """The best passages for ``text`` as one prompt-ready block (``query --format context``).

        Args:
            text: what to look for, in plain words.
            max_tokens: the most tokens the block may hold, counted with this index's model's tokenizer.
            cite: how a path (relative to the indexed folder) is shown in a citation; default as is.
            query: the options of :meth:`query` (mode, top_k, path_glob, per_file...): which results
                the block is made from.

        Returns:
            The block: ``text`` is what to hand to a language model; ``passages`` what it shows.
        """
        hits = self.query(text, **query)
        token_spans = self.embedder().token_spans
        with self._lock, damaged_catalog_is_reported(self.index_dir):
            return build_context(text, hits, self.store.catalog, token_spans, max_tokens, cite=cite)

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
        if path is None and text is None:
            raise TypeError("similar() needs a path or text")
        with self._lock, damaged_catalog_is_reported(self.index_dir):
            self._tell_embedding()  # only files whose passages all have their vectors have a mean vector
            catalog = self.store.catalog
            if text is not None:
                return similar_to_text(text, catalog, self.store.file_index, self.embedder, top_k=top_k,
                                       min_score=min_score, path_glob=path_glob)
            return similar_to_file(Path(path or ""), catalog, self.store.file_index, self.embedder, top_k=top_k,
                                   min_score=min_score, path_glob=path_glob)

    def similarity(self, a: Path | str, b: Path | str, *, pairs: int = 0,
                   names: Sequence[str | None] = (None, None)) -> Similarity:
        """How alike two files (``Path``) or texts (``str``) are: the cosine of their mean vectors,
        with this index's model; a file the index holds unchanged uses its stored vectors.

        Args:
            pairs: also find up to this many best-matching passage pairs.
            names: how to call each side in the result (default: the path, or "text").
        """
        with self._lock, damaged_catalog_is_reported(self.index_dir):
            return similarity(a, b, self.embedder, self.settings, self.store.catalog, pairs=pairs, names=names)

    def info(self) -> IndexInfo:
        """Settings, sizes, and which files changed since the last index (by stat)."""
        with self._lock, damaged_catalog_is_reported(self.index_dir):
            catalog = self.store.catalog
            settings = catalog.settings
            calibration = calibration_for(settings)
            floor = calibration.floor if calibration is not None else None
            # A shared store's folder may be on another machine: stale files are told only where it is here.
            here = isinstance(self.store, LocalStore) or (self.root.is_dir() and not self.store.prefixed)
            work = plan(self.root, catalog.files(), settings.include, settings.exclude, 2**63,
                        settings.follow_symlinks) if here else None
            return IndexInfo(
                root=self.root,
                index_dir=self.index_dir,
                settings=settings,
                files=catalog.count_files(),
                passages=catalog.count_passages(),
                unembedded=catalog.count_unembedded(),
                size_bytes=catalog.disk_bytes(),
                created=catalog.created,
                updated=catalog.updated,
                stale_new=work.new() if work is not None else [],
                stale_changed=work.changed() if work is not None else [],
                stale_removed=work.removed if work is not None else [],
                vector_index=self.store.describe(),
                calibrated_on=calibration.fitted_on if calibration is not None else None,
                default_floor=floor.score if floor is not None else None,
                default_floor_standout=floor.standout if floor is not None else None,
            )

    def lines_around(self, hit: Hit, lines: int) -> tuple[list[str], list[str]]:
        """Up to ``lines`` lines before and after ``hit`` in its file, read from the file
        when it is as it was indexed; none when it changed since (the passage alone stands)."""
        if getattr(self.store, "prefixed", False):  # several collections of a shared store: no one folder
            return [], []
        with self._lock, damaged_catalog_is_reported(self.index_dir):
            record = self.store.catalog.file(hit.path)
        return lines_around(self.root, record, hit, lines)

    def check(self) -> None:
        """Read the whole index and check it: the catalog page by page, and ``vectors.faiss``
        against its checksum (``info --check``).

        Raises:
            CorruptIndexError: what is damaged, and what to do about it.
        """
        with self._lock, damaged_catalog_is_reported(self.index_dir):
            self.store.catalog.check_integrity()
            problem = self.store.vectors_problem()
        if problem is not None:
            raise CorruptIndexError(f"{self.index_dir / defaults.FAISS_NAME} is {problem}; run `semsearch index "
                                    f"{self.root}` to rewrite it from the catalog (nothing is embedded again)")

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
