"""Hybrid ranking: each candidate scored by both retrievers, then mixed on absolute scales.

A passage found by only one list gets its real score from the other one (its cosine from
the vector index, its BM25 from the lexical index), never a 0 for being absent; the mix
does not depend on the query's best passage, so one query's scores compare with another's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .. import defaults
from ..storage import Catalog, VectorIndex

Ranked = list[tuple[int, float]]  # (passage id, score), best first
Legs = dict[int, tuple[float | None, float | None]]  # passage id → (cosine, BM25), raw


def complete_legs(
    dense: Ranked, lexical: Ranked, text: str, vector: np.ndarray, catalog: Catalog, vectors: VectorIndex
) -> tuple[dict[int, float], dict[int, float]]:
    """Every candidate of either list with both scores: (cosine by id, BM25 by id).

    A passage holding none of the query's words has BM25 0 (its true score); one the vector
    index does not hold (it should) is left out."""
    cosine = dict(dense)
    bm25 = dict(lexical)
    need = [pid for pid in bm25 if pid not in cosine]
    if need:
        cosine.update(vectors.search(vector, len(need), need))
    need = [pid for pid in cosine if pid not in bm25]
    if need:
        bm25.update(catalog.lexical(text, len(need), need))
    return cosine, {pid: bm25.get(pid, 0.0) for pid in cosine}


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
