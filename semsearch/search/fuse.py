"""Hybrid ranking: each candidate scored by both retrievers, then mixed on absolute scales.

A passage found by only one list gets its real score from the other one (its cosine from
the vector index, its BM25 from the lexical index), never a 0 for being absent; the mix
does not depend on the query's best passage, so one query's scores compare with another's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .. import defaults
from ..storage import LexicalPass, VectorIndex

Ranked = list[tuple[int, float]]  # (passage id, score), best first
Legs = dict[int, tuple[float | None, float | None]]  # passage id → (cosine, BM25), raw


def complete_legs(
    dense: Ranked, lexical: LexicalPass, vector: np.ndarray, vectors: VectorIndex
) -> tuple[dict[int, float | None], dict[int, float]]:
    """Every candidate with both scores: (cosine by id, BM25 by id).

    Args:
        dense: the passages nearest the query's ``vector``, with their cosine.
        lexical: the lexical candidates (``ranked``) and the BM25 of every passage of either
            list that holds a query word (``scores``: one absent holds none, its BM25 is 0,
            its true score).

    A lexical candidate gets its cosine from ``vectors``; one the vector index does not hold
    (not embedded yet, while ``index`` embeds) has no dense leg: its cosine is None."""
    cosine: dict[int, float | None] = dict(dense)
    need = [pid for pid, _ in lexical.ranked if pid not in cosine]
    if need:
        cosine.update(vectors.search(vector, len(need), need))
        cosine.update((pid, None) for pid in need if pid not in cosine)
    return cosine, {pid: lexical.scores.get(pid, 0.0) for pid in cosine}


def lexical_share(bm25: float, ceiling: float) -> float:
    """A passage's BM25 as the share of the query's ``ceiling`` (the largest BM25 any
    passage could get for it in this index: ``LexicalPass.ceiling``), in 0..1. BM25's
    own scale grows with the corpus (its IDF); this share does not, and it does not depend
    on which passages the query happens to find (0 when the query has no word)."""
    return min(max(bm25 / ceiling, 0.0), 1.0) if ceiling > 0 else 0.0


def mix(cosine: float, share: float) -> float:
    """``w * cosine + (1 - w) * share``, ``share`` a :func:`lexical_share`: both legs on
    0..1 scales that mean the same in every index and for every query (w =
    ``defaults.HYBRID_DENSE_WEIGHT``, chosen on SciFact train, BENCHMARKS.md)."""
    w = defaults.HYBRID_DENSE_WEIGHT
    return w * cosine + (1 - w) * share


def fuse(
    cosine: dict[int, float | None], bm25: dict[int, float], ceiling: float,
    scale: Callable[[float], float] | None = None,
) -> Ranked:
    """The candidates by their :func:`mix` (BM25 as a share of the query's ``ceiling``; a
    passage without a vector has no dense leg, its cosine counts as 0), best first, each
    mapped through ``scale`` (a calibration) when given."""
    mixed = sorted(((pid, mix(c or 0.0, lexical_share(bm25.get(pid, 0.0), ceiling))) for pid, c in cosine.items()),
                   key=lambda x: (-x[1], x[0]))
    return mixed if scale is None else [(pid, scale(m)) for pid, m in mixed]


__all__: Sequence[str] = ("Legs", "Ranked", "complete_legs", "fuse", "lexical_share", "mix")
