"""Hybrid ranking: each candidate scored by both retrievers, then mixed on absolute scales.

A passage found by only one list gets its real score from the other one (its cosine from
the vector index, its BM25 from the lexical index), never a 0 for being absent; the mix
does not depend on the query's best passage, so one query's scores compare with another's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .. import defaults
from ..storage import VectorIndex

Ranked = list[tuple[int, float]]  # (passage id, score), best first
Legs = dict[int, tuple[float | None, float | None]]  # passage id → (cosine, BM25), raw


def complete_legs(
    dense: Ranked, lexical: Ranked, fetch: int, vector: np.ndarray, vectors: VectorIndex
) -> tuple[dict[int, float], dict[int, float]]:
    """Every candidate with both scores: (cosine by id, BM25 by id).

    Args:
        dense: the passages nearest the query's ``vector``, with their cosine.
        lexical: every passage holding a word of the query, with its BM25 (a passage not
            in it holds none: its BM25 is 0, its true score); its first ones are candidates.
        fetch: how many of ``lexical`` are candidates.

    A lexical candidate gets its cosine from ``vectors``; one the vector index does not hold
    (it should) is left out."""
    every_bm25 = dict(lexical)
    cosine = dict(dense)
    need = [pid for pid, _ in lexical[:fetch] if pid not in cosine]
    if need:
        cosine.update(vectors.search(vector, len(need), need))
    return cosine, {pid: every_bm25.get(pid, 0.0) for pid in cosine}


def mix(cosine: float, bm25: float) -> float:
    """``w * cosine + (1 - w) * bm25 / (bm25 + k)``: BM25 saturates (0 → 0, k → 0.5, ∞ → 1),
    so a single rare word cannot swamp the meaning (w = ``defaults.HYBRID_DENSE_WEIGHT``,
    k = ``defaults.HYBRID_BM25_HALF``, chosen on SciFact train, BENCHMARKS.md)."""
    w, half = defaults.HYBRID_DENSE_WEIGHT, defaults.HYBRID_BM25_HALF
    return w * cosine + (1 - w) * bm25 / (bm25 + half)


def fuse(cosine: dict[int, float], bm25: dict[int, float], scale: Callable[[float], float] | None = None) -> Ranked:
    """The candidates by their :func:`mix`, best first, each mapped through ``scale``
    (a calibration) when given."""
    mixed = sorted(((pid, mix(c, bm25.get(pid, 0.0))) for pid, c in cosine.items()), key=lambda x: (-x[1], x[0]))
    return mixed if scale is None else [(pid, scale(m)) for pid, m in mixed]


__all__: Sequence[str] = ("Legs", "Ranked", "complete_legs", "fuse", "mix")
