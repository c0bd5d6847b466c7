"""Find passages by meaning and by words (``query``), and files like a given one (``similar``).

Three ways to rank passages, each with its own score:

- ``dense``: cosine similarity of the query's and passage's embeddings (unit vectors,
  faiss inner product), -1..1.
- ``lexical``: BM25 over the passage text (SQLite FTS5), 0 and up; the query's words
  are quoted one by one, so any text is a valid query, and any word may match.
- ``hybrid``: both lists fused (:func:`fuse`), 0..1, relative to the query's best passages.

A file's vector for ``similar`` is the normalised mean of its passages'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pathspec

from . import defaults
from .chunking import chunk_text
from .corpus import FileEntry, Skipped, compile_globs, read_document
from .embedding import EmbedderFactory, EmbedderLike, mean_vector, resolve_model
from .errors import BadInputError, SettingsMismatchError
from .store import Store

if TYPE_CHECKING:
    import faiss

MODES = ("dense", "lexical", "hybrid")
_WORD = re.compile(r"\w+")
# FTS5 parses a long OR chain recursively; a query's first words are plenty to rank by.
_MAX_QUERY_WORDS = 64


@dataclass(frozen=True)
class Hit:
    """One result: a passage of a file and how well it matches."""

    rank: int
    score: float
    path: str
    start_line: int
    end_line: int
    text: str


class Searcher:
    """Answers queries against an open index, loading its model once, on first need.

    Args:
        store: the open index.
        embedder_factory: makes the embedder for the index's model.
        model: if given, must name the index's own model (a guard, not a switch).
    """

    def __init__(self, store: Store, embedder_factory: EmbedderFactory, model: str | None = None) -> None:
        self.store = store
        self._factory = embedder_factory
        self._embedder: EmbedderLike | None = None
        self._vectors: "faiss.Index | None" = None
        recorded = store.settings.model_id
        if model is not None and resolve_model(model).model_id != recorded:
            raise SettingsMismatchError(
                f"this index was built with {recorded}; query it without --model, or re-index with "
                f"`semsearch index {store.root} --model {model} --rebuild`"
            )

    @property
    def embedder(self) -> EmbedderLike:
        if self._embedder is None:
            settings = self.store.settings
            embedder = self._factory(resolve_model(settings.model_id), settings.backend)
            settings.check_dimension(embedder.dimension, self.store.root)
            self.store.notices += embedder.notices
            self._embedder = embedder
        return self._embedder

    def query(
        self,
        text: str,
        *,
        mode: str = defaults.MODE,
        top_k: int = 10,
        min_score: float | None = None,
        path_glob: Sequence[str] = (),
        per_file: int | None = 1,
        query_prompt: str | None = None,
    ) -> list[Hit]:
        """The passages that best match ``text``, best first.

        Args:
            text: what to look for, in plain words.
            mode: ``dense`` (meaning: cosine similarity of embeddings), ``lexical``
                (words: BM25 over the passages), or ``hybrid`` (both, fused).
            top_k: how many results (rows) to return at most.
            min_score: leave out results scoring below this (in the mode's score).
            path_glob: keep only files matching one of these globs.
            per_file: at most this many passages per file; None for no limit.
            query_prompt: text put before the query when embedding it; None for
                the model's own query prompt, if it declares one.
        """
        check_mode(mode)
        if not text.strip():
            raise BadInputError("the query is empty; say what you are looking for")
        _check_limits(top_k, per_file)
        keep = compile_globs(path_glob)
        vector = self.embedder.embed_query(text, prompt=query_prompt) if mode != "lexical" else None
        total = self.store.count_passages()
        fetch = min(total, max(50, top_k * (per_file or 1) * 4))
        # Filters can reject many candidates: widen the search until enough pass.
        while True:
            ranked = self._ranked(mode, text, vector, fetch)
            hits, floor_reached = self._collect(ranked, top_k, min_score, keep, per_file)
            all_matches = mode == "lexical" and len(ranked) < fetch  # no more passages hold a query word
            if len(hits) >= top_k or floor_reached or all_matches or fetch >= total:
                return hits
            fetch = min(total, fetch * 4)

    def _ranked(self, mode: str, text: str, vector: np.ndarray | None, fetch: int) -> list[tuple[int, float]]:
        """Up to ``fetch`` passages per retriever as (passage id, score), best first."""
        if fetch == 0:
            return []
        lexical = self.store.lexical(match, fetch) if mode != "dense" and (match := fts_query(text)) else []
        if mode == "lexical":
            return lexical
        scores, ids = self._vector_index().search(vector.reshape(1, -1), fetch)  # type: ignore[union-attr]
        dense = [(int(i), float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]
        return dense if mode == "dense" else fuse(dense, lexical)

    def _collect(
        self,
        ranked: list[tuple[int, float]],
        top_k: int,
        min_score: float | None,
        keep: pathspec.GitIgnoreSpec | None,
        per_file: int | None,
    ) -> tuple[list[Hit], bool]:
        """The first ``top_k`` hits among ranked passages, and whether the score floor
        was reached (so a wider search cannot add any)."""
        rows = self.store.passages([pid for pid, _ in ranked])
        hits: list[Hit] = []
        per: dict[str, int] = {}
        for pid, score in ranked:
            if min_score is not None and score < min_score:
                return hits, True  # ranked by score: nothing further can pass
            row = rows.get(pid)
            if row is None or (keep is not None and not keep.match_file(row.path)):
                continue
            if per_file is not None and per.get(row.path, 0) >= per_file:
                continue
            per[row.path] = per.get(row.path, 0) + 1
            hits.append(Hit(len(hits) + 1, score, row.path, row.start_line, row.end_line, row.text))
            if len(hits) == top_k:
                break
        return hits, False

    def similar_to_file(self, path: Path, **options: object) -> list[Hit]:
        """Files most like the file at ``path`` (itself excluded).

        An indexed file uses its stored vectors; any other text file is embedded now.
        """
        path = Path(path).expanduser()
        if not path.is_file():
            raise BadInputError(f"{path} is not a file; give a text file, or - to read text from stdin")
        absolute = path.resolve()
        try:
            rel = absolute.relative_to(self.store.root).as_posix()
        except ValueError:
            rel = None
        paths, centroids = self.store.centroids()
        stat = absolute.stat()
        record = self.store.file(rel) if rel in paths else None
        if record is not None and record.same_stat(stat.st_size, stat.st_mtime_ns):
            return self._rank_files(centroids[paths.index(rel)], paths, centroids, exclude=rel, **options)
        doc = read_document(FileEntry(rel or str(absolute), absolute, stat.st_size, stat.st_mtime_ns))
        if isinstance(doc, Skipped):
            raise BadInputError(f"{path} cannot be compared: {doc.reason}")
        return self._rank_files(self._text_vector(doc.text, str(path)), paths, centroids, exclude=rel, **options)

    def similar_to_text(self, text: str, **options: object) -> list[Hit]:
        """Files most like a piece of text."""
        return self._rank_files(self._text_vector(text, "the text"), *self.store.centroids(), exclude=None, **options)

    def _text_vector(self, text: str, what: str) -> np.ndarray:
        settings = self.store.settings
        chunks = chunk_text(text, self.embedder.token_spans, settings.chunk_tokens, settings.overlap)
        if not chunks:
            raise BadInputError(f"{what} is empty; there is nothing to compare")
        return mean_vector(self.embedder.embed_documents([c.text for c in chunks]))

    def _rank_files(
        self,
        vector: np.ndarray,
        paths: list[str],
        centroids: np.ndarray,
        *,
        exclude: str | None,
        top_k: int = 10,
        min_score: float | None = None,
        path_glob: Sequence[str] = (),
    ) -> list[Hit]:
        _check_limits(top_k, 1)
        keep = compile_globs(path_glob)
        scores = centroids @ vector if len(paths) else np.zeros(0, np.float32)
        hits: list[Hit] = []
        for i in np.argsort(-scores, kind="stable"):
            path, score = paths[i], float(scores[i])
            if path == exclude or (keep is not None and not keep.match_file(path)):
                continue
            if (min_score is not None and score < min_score) or len(hits) == top_k:
                break
            hits.append(self._best_passage(len(hits) + 1, score, path, vector))
        return hits

    def _best_passage(self, rank: int, score: float, path: str, vector: np.ndarray) -> Hit:
        """The passage of ``path`` that is closest to ``vector``, to show with the file."""
        ids, vectors = self.store.file_vectors(path)
        best = ids[int(np.argmax(vectors @ vector))]
        row = self.store.passages([best])[best]
        return Hit(rank, score, path, row.start_line, row.end_line, row.text)

    def _vector_index(self) -> "faiss.Index":
        if self._vectors is None:
            import faiss

            self._vectors = self.store.vector_index()
            # One query at a time runs faster on one thread than fanned out by OpenMP
            # (a million passages: 153 ms against 215 ms on 2 cores; BENCHMARKS.md), and
            # leaves the other core to the model's runtime.
            faiss.omp_set_num_threads(1)
        return self._vectors


def fts_query(text: str) -> str | None:
    """Any text as a valid FTS5 query: each distinct word quoted (so ``AND``, ``*``,
    ``-`` or ``"`` are plain text), any of them may match. None if there is no word."""
    words = list(dict.fromkeys(w.lower() for w in _WORD.findall(text)))[:_MAX_QUERY_WORDS]
    return " OR ".join(f'"{w}"' for w in words) or None  # a word never holds a quote


def fuse(dense: list[tuple[int, float]], lexical: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Hybrid ranking of (passage id, score) lists, best first.

    Each list's scores are divided by its best, so each retriever's top passage scores
    1, then mixed: ``w * dense + (1 - w) * lexical`` (w = ``defaults.HYBRID_DENSE_WEIGHT``;
    a passage absent from a list scores 0 there). The result is 0..1, 1 only for a
    passage that is first in both lists, and does not depend on how deep the lists go.
    Chosen over reciprocal rank fusion and min-max scaling by measurement (BENCHMARKS.md).
    """
    w = defaults.HYBRID_DENSE_WEIGHT
    scores: dict[int, float] = {}
    for weight, ranked in ((w, dense), (1 - w, lexical)):
        best = ranked[0][1] if ranked and ranked[0][1] > 0 else 1.0
        for pid, score in ranked:
            scores[pid] = scores.get(pid, 0.0) + weight * score / best
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def check_mode(mode: str) -> None:
    """Raise BadInputError unless ``mode`` is one of :data:`MODES`."""
    if mode not in MODES:
        raise BadInputError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")


def _check_limits(top_k: int, per_file: int | None) -> None:
    if top_k < 1:
        raise BadInputError("--top-k must be at least 1")
    if per_file is not None and per_file < 1:
        raise BadInputError("--per-file must be at least 1")

