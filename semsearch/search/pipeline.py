"""The query pipeline: candidates → [rerank] → group per file → threshold → top-k.

Three ways to rank passages, each with its own score:

- ``dense``: cosine similarity of the query's and passage's embeddings, -1..1.
- ``lexical``: BM25 over the passage text (SQLite FTS5), 0 and up; the query's words
  are quoted one by one, so any text is a valid query, and any word may match.
- ``hybrid``: every candidate of either list scored by both (no zeros for being absent),
  mixed on absolute scales (:func:`~semsearch.search.fuse.mix`), then, for a model with a
  calibration (:mod:`.calibration`), mapped to an estimated probability of relevance, 0..1,
  comparable across queries and indexes; uncalibrated, the mix itself.

A query that gives no ``min_score`` gets the calibration's default floor in hybrid mode
(none for the other modes, or for an uncalibrated model); ``min_score=0`` turns it off.

With a reranker (:mod:`.rerank`), its scores order the candidates and ``min_score`` applies
to them (no default floor: a reranker's scale is its own); each hit keeps the mode's score
and carries the reranker's in ``rerank``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .. import defaults
from ..errors import BadInputError
from ..records import Hit
from ..storage import Catalog, PassageRecord, VectorIndex
from .calibration import Floor, default_floor, standout
from .fuse import Legs, Ranked
from .retrieve import MODES, allowed_ids, candidates


class Reranker(Protocol):
    """Re-scores candidate passages for a query (e.g. a cross-encoder), best first."""

    def rerank(self, query: str, passages: Sequence[PassageRecord]) -> list[tuple[int, float]]: ...


@dataclass(frozen=True)
class QueryOptions:
    """What a query asks for besides its text."""

    mode: str = defaults.MODE
    top_k: int = defaults.TOP_K
    min_score: float | None = None
    path_glob: Sequence[str] = ()
    per_file: int | None = defaults.PER_FILE
    query_prompt: str | None = None

    def check(self) -> None:
        """Raise BadInputError for an option out of range."""
        check_mode(self.mode)
        check_limits(self.top_k, self.per_file)


def check_query(text: str, options: QueryOptions) -> None:
    """Raise BadInputError for an empty query or an option out of range."""
    options.check()
    if not text.strip():
        raise BadInputError("the query is empty; say what you are looking for")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # bytes that were not UTF-8 (argv or a file, decoded with surrogate escapes)
        raise BadInputError("the query is not valid UTF-8 text; give it in UTF-8") from None


def run_query(
    text: str,
    options: QueryOptions,
    catalog: Catalog,
    vectors: Callable[[], VectorIndex],
    vector: np.ndarray | None,
    reranker: Reranker | None = None,
) -> list[Hit]:
    """The passages that best match ``text``, best first.

    Args:
        text: what to look for, in plain words.
        options: mode, how many, thresholds and filters.
        catalog: where passages and their text are.
        vectors: gives the vector index (asked only when the mode needs it).
        vector: the query's unit vector (None in lexical mode).
        reranker: re-scores the candidates before they are grouped, if given.
    """
    check_query(text, options)
    mode = options.mode
    allowed = allowed_ids(catalog, options.path_glob)
    index = vectors() if mode != "lexical" else None
    total = catalog.count_passages() if allowed is None else len(allowed)
    fetch = min(total, max(50, options.top_k * (options.per_file or 1) * 4))
    floor = Floor(options.min_score) if options.min_score is not None else None
    if floor is None and reranker is None:
        floor = default_floor(mode, catalog.settings)
    # Grouping per file can drop many candidates: widen the search until enough pass.
    while True:
        ranked, legs = candidates(mode, text, vector, catalog, index, fetch, allowed)
        rows = catalog.passages([pid for pid, _ in ranked])
        retrieved = None
        if reranker is not None:
            retrieved = dict(ranked)
            ranked = reranker.rerank(text, [rows[pid] for pid, _ in ranked if pid in rows])
        hits, floor_reached = select(ranked, rows, options, floor, legs, retrieved)
        all_matches = mode == "lexical" and len(ranked) < fetch  # no more passages hold a query word
        if len(hits) >= options.top_k or floor_reached or all_matches or fetch >= total:
            return hits
        fetch = min(total, fetch * 4)


def select(ranked: Ranked, rows: dict[int, PassageRecord], options: QueryOptions, floor: Floor | None = None,
           legs: Legs | None = None, retrieved: dict[int, float] | None = None) -> tuple[list[Hit], bool]:
    """Group per file, apply the floor, keep the first ``top_k``; and whether the score
    floor was reached (so a wider search cannot add any: the floor's stand-out, if any, is
    the query's nearest passage, always a candidate). ``legs``: each passage's raw cosine
    and BM25, carried into its hit. ``retrieved``: the mode's scores, when ``ranked`` holds a reranker's (each hit then
    shows the mode's score, and the reranker's beside it)."""
    hits: list[Hit] = []
    per: dict[str, int] = {}
    reached = False
    nearest = standing_out(rows, legs or {}, floor.standout) if floor is not None and floor.standout else None
    for pid, score in ranked:
        if floor is not None and score < floor.score:
            reached = True  # ranked by score: nothing further can pass but the stand-out
            if pid != nearest:
                if nearest is None:
                    break
                continue
        row = rows.get(pid)
        if row is None:
            continue
        if options.per_file is not None and per.get(row.path, 0) >= options.per_file:
            continue
        per[row.path] = per.get(row.path, 0) + 1
        dense, lexical = (legs or {}).get(pid, (None, None))
        shown, rerank = (score, None) if retrieved is None else (retrieved.get(pid, score), score)
        hits.append(Hit(len(hits) + 1, shown, row.path, row.start_line, row.end_line, row.text, dense, lexical,
                        rerank))
        if len(hits) == options.top_k:
            break
    return hits, reached


def check_mode(mode: str) -> None:
    """Raise BadInputError unless ``mode`` is one of :data:`MODES`."""
    if mode not in MODES:
        raise BadInputError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")


def check_limits(top_k: int, per_file: int | None) -> None:
    """Raise BadInputError unless the result limits are at least 1."""
    if top_k < 1:
        raise BadInputError("--top-k must be at least 1")
    if per_file is not None and per_file < 1:
        raise BadInputError("--per-file must be at least 1")


def standing_out(rows: dict[int, PassageRecord], legs: Legs, least: float) -> int | None:
    """The passage nearest the query by meaning, if its file stands out from the next
    nearest files' by at least ``least`` (:func:`.calibration.standout`); else None."""
    best: dict[str, tuple[float, int]] = {}
    for pid, (cosine, _) in legs.items():
        row = rows.get(pid)
        if cosine is not None and row is not None and cosine > best.get(row.path, (-2.0, 0))[0]:
            best[row.path] = (cosine, pid)
    if not best:
        return None
    top = max(best.values())
    return top[1] if standout([c for c, _ in best.values()]) >= least else None
