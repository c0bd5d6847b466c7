"""``semsearch eval``: index a BEIR dataset's corpus with the product's own ``sync``, run
its judged queries in each mode, and score them.

The corpus is written out as one text file per document (title, blank line, text) and
indexed as users index their notes, so the numbers measure semsearch as it runs. That
index is cached, keyed by the corpus and the settings that shape an index, and reused.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import defaults
from ..embedders import EmbedderFactory, resolve_model
from ..errors import BadInputError
from ..index import Index
from ..indexing import sync
from ..records import EvalReport, IndexReport, ModeResult, Progress
from ..search import MODES, Reranker, check_mode
from ..settings import SHAPE, names, resolve
from ..storage import disk_full_is_reported, open_private, private_dir
from .beir import Dataset, doc_filename, doc_id, load_dataset
from .metrics import score_runs

DOCS_DIR = "docs"
_COMPLETE = ".complete"  # written once every document file is in place (hidden: the walk skips it)


def index_key(dataset: Dataset, shaping: Mapping[str, object]) -> str:
    """The cache key of an evaluation index: the corpus, the schema, and every setting
    that shapes an index."""
    data = {"corpus": dataset.corpus_digest, "schema": defaults.SCHEMA_VERSION, "settings": dict(shaping)}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def shaping_settings(flags: Mapping[str, Any]) -> dict[str, object]:
    """The settings that shape an evaluation index: the model (resolved), the backend,
    and any other index-shaping setting the caller gave."""
    settings = resolve(flags)
    shaping: dict[str, object] = {"model": resolve_model(settings.model).model_id, "backend": settings.backend}
    shaping.update({name: flags[name] for name in names(SHAPE) if name not in shaping and flags.get(name) is not None})
    return shaping


def prepare_index(
    dataset: Dataset,
    flags: Mapping[str, Any],
    *,
    cache: Path | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    embedder_factory: EmbedderFactory | None = None,
    store: str | None = None,
) -> tuple[Path, IndexReport]:
    """Build, or bring up to date, the cached index of ``dataset``'s corpus.

    Args:
        dataset: the dataset.
        flags: settings by name, as for :func:`semsearch.sync`; the ones that shape
            the index make up the cache key.
        cache: the cache folder (default :func:`semsearch.defaults.cache_dir`).
        store: a shared store's URL: the index is kept there (collection :func:`eval_collection`).

    Returns:
        The indexed folder, and the ``sync`` report (nothing added when reused).
    """
    shaping = shaping_settings(flags)
    root = (cache or defaults.cache_dir()) / f"{dataset.path.name}-{index_key(dataset, shaping)}"
    docs = root / DOCS_DIR
    # The corpus may be private: its copy is owner-only (folders 0700, files 0600), and
    # never written through a link or into someone else's folder.
    root.parent.mkdir(parents=True, exist_ok=True)
    private_dir(root, owner_only=True)
    private_dir(docs, owner_only=True)
    if not (docs / _COMPLETE).is_file():
        with disk_full_is_reported(docs, "the dataset's copy is incomplete (the next run completes it)"):
            for did, (title, text) in dataset.corpus.items():
                body = f"{title}\n\n{text}" if title and text else title or text
                _write_private(docs / doc_filename(did), body + "\n")
            _write_private(docs / _COMPLETE, "")
    if store is not None:
        from ..indexing.shared import sync_shared

        return docs, sync_shared(docs, store, collection=eval_collection(docs), on_progress=on_progress,
                                 embedder_factory=embedder_factory, **{**flags, **shaping})
    report = sync(docs, on_progress=on_progress, embedder_factory=embedder_factory, **{**flags, **shaping})
    return docs, report


def eval_collection(docs: Path) -> str:
    """The shared store's collection of a cached evaluation index (its folder's name: dataset and key)."""
    return "eval-" + docs.parent.name


def _write_private(path: Path, text: str) -> None:
    with open(open_private(path), "w", encoding="utf-8", errors="replace") as fh:
        fh.truncate()
        fh.write(text)


def evaluate(
    dataset: Dataset,
    index_root: Path,
    *,
    modes: Sequence[str] = MODES,
    limit: int | None = None,
    ignore_identical_ids: bool = False,
    query_prompt: str | None = None,
    on_query: Callable[[str, int, int], None] | None = None,
    device: str | None = None,
    embedder_factory: EmbedderFactory | None = None,
    store: str | None = None,
    rerank: Reranker | None = None,
) -> list[ModeResult]:
    """Run the dataset's judged queries (the first ``limit``) in each mode and score them.

    Args:
        on_query: called as (mode, queries done, queries total).
        rerank: re-orders each query's candidates (``eval --rerank``).
    """
    if limit is not None and limit < 1:
        raise BadInputError("--limit must be at least 1")
    queries = list(dataset.queries.items())[:limit]
    ids = {doc_filename(d): d for d in dataset.corpus}  # from file name back to id (long ids are hashed)
    results = []
    shared = None
    if store is not None:
        from ..storage.postgres_store import PgStore

        shared = PgStore.open(store, [eval_collection(index_root)])
    with Index(index_root, device=device, embedder_factory=embedder_factory, store=shared) as index:
        index.load_model()  # before the clock starts
        for mode in modes:
            started = time.perf_counter()
            runs: dict[str, list[str]] = {}
            for done, (qid, text) in enumerate(queries):
                if on_query:
                    on_query(mode, done, len(queries))
                # A ranking, scored whole: no floor.
                hits = index.query(text, top_k=101, mode=mode, min_score=-math.inf, query_prompt=query_prompt,
                                   rerank=rerank)
                ranking = [ids.get(h.path.rsplit("/", 1)[-1], doc_id(h.path)) for h in hits]
                if ignore_identical_ids:
                    ranking = [d for d in ranking if d != qid]
                runs[qid] = ranking[:100]
            seconds = time.perf_counter() - started
            if on_query:
                on_query(mode, len(queries), len(queries))
            results.append(ModeResult(mode, score_runs(runs, dataset.qrels), len(queries), seconds))
    return results


def run_eval(
    path: Path,
    *,
    split: str = "test",
    modes: Sequence[str] = MODES,
    limit: int | None = None,
    ignore_identical_ids: bool = False,
    query_prompt: str | None = None,
    cache: Path | None = None,
    on_index_progress: Callable[[Progress], None] | None = None,
    on_query: Callable[[str, int, int], None] | None = None,
    embedder_factory: EmbedderFactory | None = None,
    store: str | None = None,
    rerank: Reranker | None = None,
    **flags: Any,
) -> EvalReport:
    """``semsearch eval``: index the dataset's corpus (or reuse the cached index), run
    its judged queries in each mode, and score them against the relevance judgements.

    Args:
        flags: settings by name, as for :func:`semsearch.sync` (model, backend,
            chunk_tokens, batch_size, device...).
        store: a shared store's URL (``postgresql://``) to keep the index in, instead of the cache folder.
        rerank: re-orders each query's candidates (a local cross-encoder: ``eval --rerank``).
    """
    for mode in modes:
        check_mode(mode)
    dataset = load_dataset(path, split)
    started = time.perf_counter()
    root, report = prepare_index(dataset, flags, cache=cache, on_progress=on_index_progress,
                                 embedder_factory=embedder_factory, store=store)
    index_seconds = time.perf_counter() - started
    results = evaluate(dataset, root, modes=modes, limit=limit, ignore_identical_ids=ignore_identical_ids,
                       query_prompt=query_prompt, on_query=on_query, device=flags.get("device"),
                       embedder_factory=embedder_factory, store=store, rerank=rerank)
    return EvalReport(dataset.path.name, split, report.model_id, report.backend, report.files, root.parent,
                      index_seconds, not report.added, report.passages_embedded, results)


