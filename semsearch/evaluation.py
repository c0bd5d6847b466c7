"""Measure retrieval quality on a BEIR-layout dataset: ``semsearch eval``.

A dataset folder holds ``corpus.jsonl`` (``_id``, ``title``, ``text``),
``queries.jsonl`` (``_id``, ``text``) and ``qrels/<split>.tsv`` (query id, document
id, graded relevance, after a header line). The corpus is written out as one text
file per document (title, blank line, text) and indexed by the product's own
``sync``, so the numbers measure semsearch as users run it. That index is cached,
keyed by the corpus and the settings that shape an index, and reused by later runs.

Metrics follow trec_eval (as BEIR reports them): nDCG@10 with linear gains,
Recall@100, MRR@10, averaged over the queries that have relevance judgements.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence
from urllib.parse import quote, unquote

from . import defaults
from .api import Index
from .embedding import EmbedderFactory, resolve_model
from .errors import BadInputError
from .indexer import IndexReport, Progress, sync
from .search import MODES, check_mode

DOCS_DIR = "docs"
_COMPLETE = ".complete"  # written once every document file is in place (hidden: the walk skips it)

# Relevance judgements: query id -> document id -> grade (0: judged not relevant).
Qrels = Mapping[str, Mapping[str, int]]


@dataclass(frozen=True)
class Dataset:
    """A BEIR-layout dataset, read into memory."""

    path: Path
    corpus_digest: str
    corpus: dict[str, tuple[str, str]]  # id -> (title, text)
    queries: dict[str, str]  # the split's judged queries only, in file order
    qrels: dict[str, dict[str, int]]


@dataclass(frozen=True)
class Scores:
    """The three measures, averaged over queries."""

    ndcg_at_10: float
    recall_at_100: float
    mrr_at_10: float


@dataclass
class ModeResult:
    """One retrieval mode's scores on the dataset, and how long its queries took."""

    mode: str
    scores: Scores
    queries: int
    seconds: float


@dataclass
class EvalReport:
    """What ``semsearch eval`` measured."""

    dataset: str
    split: str
    model_id: str
    backend: str
    documents: int
    index_dir: Path
    index_seconds: float
    index_reused: bool
    passages_embedded: int  # by this run (0 when the cached index was reused)
    results: list[ModeResult] = field(default_factory=list)


def _read_jsonl(path: Path) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except FileNotFoundError:
        raise BadInputError(f"{path} is missing; a BEIR dataset folder holds corpus.jsonl, queries.jsonl and qrels/") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"cannot read {path}: {exc}") from exc


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``query-id  corpus-id  score`` rows (tab-separated, after a header line)."""
    qrels: dict[str, dict[str, int]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BadInputError(f"cannot read relevance judgements {path}: {exc.strerror or exc}; check --split") from None
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split("\t")
        try:
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
        except (IndexError, ValueError):
            raise BadInputError(f"{path}:{number} is not `query-id<TAB>corpus-id<TAB>score`") from None
    return qrels


def load_dataset(path: Path, split: str = "test") -> Dataset:
    """Read a BEIR-layout dataset folder: the corpus, and the split's judged queries.

    Raises:
        BadInputError: a file is missing or malformed, or no judged query has text.
    """
    path = Path(path).expanduser()
    if not path.is_dir():
        raise BadInputError(f"{path} is not a folder; give a BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/)")
    corpus_file = path / "corpus.jsonl"
    rows = _read_jsonl(corpus_file)
    try:
        corpus = {str(r["_id"]): (r.get("title") or "", r.get("text") or "") for r in rows}
        all_queries = {str(r["_id"]): r["text"] for r in _read_jsonl(path / "queries.jsonl")}
    except (KeyError, TypeError) as exc:
        raise BadInputError(f"{path}: every corpus and query line needs `_id` and `text` ({exc})") from None
    qrels = {q: docs for q, docs in read_qrels(path / "qrels" / f"{split}.tsv").items() if any(docs.values())}
    queries = {q: all_queries[q] for q in all_queries if q in qrels}
    if not queries:
        raise BadInputError(f"no query in {path / 'queries.jsonl'} has a judgement in qrels/{split}.tsv")
    digest = hashlib.sha256(corpus_file.read_bytes()).hexdigest()
    return Dataset(path, digest, corpus, queries, {q: qrels[q] for q in queries})


def doc_filename(doc_id: str) -> str:
    """A document id as a safe, reversible file name (never hidden, never a path)."""
    name = quote(doc_id, safe="")
    return ("%2E" + name[1:] if name.startswith(".") else name) + ".txt"


def doc_id(path: str) -> str:
    """The document id of an indexed file (inverse of :func:`doc_filename`)."""
    return unquote(path.rsplit("/", 1)[-1].removesuffix(".txt"))


def index_key(dataset: Dataset, settings: Mapping[str, object]) -> str:
    """The cache key of an evaluation index: the corpus, the schema, and every setting
    that shapes an index (whatever the caller passes, so a new setting joins the key)."""
    data = {"corpus": dataset.corpus_digest, "schema": defaults.SCHEMA_VERSION, "settings": dict(settings)}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def prepare_index(
    dataset: Dataset,
    settings: Mapping[str, object],
    *,
    cache: Path | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    embedder_factory: EmbedderFactory | None = None,
    **sync_options: object,
) -> tuple[Path, IndexReport]:
    """Build, or bring up to date, the cached index of ``dataset``'s corpus.

    Args:
        dataset: the dataset.
        settings: the ``sync`` arguments that shape the index (model, chunking...);
            they are passed to ``sync`` and make up the cache key.
        cache: the cache folder (default :func:`semsearch.defaults.cache_dir`).
        sync_options: other ``sync`` arguments (batch size, device) that do not.

    Returns:
        The indexed folder, and the ``sync`` report (nothing added when reused).
    """
    root = (cache or defaults.cache_dir()) / f"{dataset.path.name}-{index_key(dataset, settings)}"
    docs = root / DOCS_DIR
    if not (docs / _COMPLETE).is_file():
        docs.mkdir(parents=True, exist_ok=True)
        for did, (title, text) in dataset.corpus.items():
            body = f"{title}\n\n{text}" if title and text else title or text
            (docs / doc_filename(did)).write_text(body + "\n", encoding="utf-8")
        (docs / _COMPLETE).touch()
    report = sync(docs, on_progress=on_progress, embedder_factory=embedder_factory, **settings, **sync_options)  # type: ignore[arg-type]
    return docs, report


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
) -> list[ModeResult]:
    """Run the dataset's judged queries (the first ``limit``) in each mode and score them.

    Args:
        on_query: called as (mode, queries done, queries total).
    """
    if limit is not None and limit < 1:
        raise BadInputError("--limit must be at least 1")
    queries = list(dataset.queries.items())[:limit]
    results = []
    with Index(index_root, device=device, embedder_factory=embedder_factory) as index:
        index.load_model()  # before the clock starts
        for mode in modes:
            started = time.perf_counter()
            runs: dict[str, list[str]] = {}
            for done, (qid, text) in enumerate(queries):
                if on_query:
                    on_query(mode, done, len(queries))
                hits = index.query(text, top_k=101, mode=mode, query_prompt=query_prompt)
                ranking = [doc_id(h.path) for h in hits]
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
    model: str | None = None,
    settings: Mapping[str, object] | None = None,
    modes: Sequence[str] = MODES,
    limit: int | None = None,
    ignore_identical_ids: bool = False,
    query_prompt: str | None = None,
    cache: Path | None = None,
    on_index_progress: Callable[[Progress], None] | None = None,
    on_query: Callable[[str, int, int], None] | None = None,
    batch_size: int = defaults.BATCH_SIZE,
    device: str | None = None,
    embedder_factory: EmbedderFactory | None = None,
) -> EvalReport:
    """``semsearch eval``: index the dataset's corpus (or reuse the cached index), run
    its judged queries in each mode, and score them against the relevance judgements."""
    for mode in modes:
        check_mode(mode)
    dataset = load_dataset(path, split)
    shaping = {"model": resolve_model(model or defaults.DEFAULT_MODEL).model_id, **(settings or {})}
    started = time.perf_counter()
    root, report = prepare_index(dataset, shaping, cache=cache, on_progress=on_index_progress,
                                 embedder_factory=embedder_factory, batch_size=batch_size, device=device)
    index_seconds = time.perf_counter() - started
    results = evaluate(dataset, root, modes=modes, limit=limit, ignore_identical_ids=ignore_identical_ids,
                       query_prompt=query_prompt, on_query=on_query, device=device, embedder_factory=embedder_factory)
    return EvalReport(dataset.path.name, split, report.model_id, report.backend, report.files, root.parent,
                      index_seconds, not report.added, report.passages_embedded, results)


# -- metrics ---------------------------------------------------------------


def ndcg(ranking: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    """Normalised discounted cumulative gain at ``k``, linear gains (as trec_eval)."""
    dcg = sum(judged.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranking[:k]) if judged.get(d, 0) > 0)
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall(ranking: Sequence[str], judged: Mapping[str, int], k: int = 100) -> float:
    """The share of relevant documents found in the first ``k``."""
    relevant = {d for d, g in judged.items() if g > 0}
    return len(relevant.intersection(ranking[:k])) / len(relevant) if relevant else 0.0


def reciprocal_rank(ranking: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    """1 / the rank of the first relevant document in the first ``k``, else 0."""
    for i, d in enumerate(ranking[:k]):
        if judged.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def score_runs(runs: Mapping[str, Sequence[str]], qrels: Qrels) -> Scores:
    """Mean nDCG@10, Recall@100 and MRR@10 over the judged queries in ``runs``."""
    judged = [q for q in runs if q in qrels]
    if not judged:
        return Scores(0.0, 0.0, 0.0)

    def mean(metric: Callable[[Sequence[str], Mapping[str, int]], float]) -> float:
        return sum(metric(runs[q], qrels[q]) for q in judged) / len(judged)

    return Scores(mean(ndcg), mean(recall), mean(reciprocal_rank))
